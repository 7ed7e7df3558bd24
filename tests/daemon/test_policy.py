"""Permission rules and the LAN policy: what may be mapped where, and the reason when not."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from igd.__main__ import options_from_argv
from igd.options import OptionsError, parse_options
from igd.permissions import (
    PermissionRuleError,
    PermissionRules,
    default_rules,
    parse_rule,
)
from igd.policy import LanPermissions

LAN = IPv4Network("192.168.50.0/24")
GATEWAY = IPv4Address("192.168.50.1")
CONSOLE = "192.168.50.10"


def _policy(*rules: str, demo: bool = False) -> LanPermissions:
    networks = (IPv4Network("127.0.0.0/8"),) if demo else (LAN,)
    return LanPermissions(
        external_ports=(1024, 65535),
        networks=networks,
        own_addresses=frozenset({IPv4Address("127.0.0.1") if demo else GATEWAY}),
        reserved_ports=frozenset({5000, 8123}),
        rules=PermissionRules(tuple(map(parse_rule, rules)) if rules else default_rules(networks)),
        loopback_demo=demo,
    )


@pytest.mark.parametrize(
    ("text", "written"),
    [
        (
            "allow 1024-65535 192.168.0.0/24 1024-65535",
            "allow 1024-65535 192.168.0.0/24 1024-65535",
        ),
        ("deny 0-65535 0.0.0.0/0 0-65535", "deny 0-65535 0.0.0.0/0 0-65535"),
        ("allow 22 192.168.1.5 22", "allow 22 192.168.1.5/32 22"),  # no mask: one host
        ("allow 80 192.168.1.0/255.255.255.0 80-81", "allow 80 192.168.1.0/24 80-81"),
        ("ALLOW  8000  192.168.1.7/24\t8000", "allow 8000 192.168.1.0/24 8000"),  # masked
    ],
)
def test_miniupnpd_rules_are_read(text: str, written: str) -> None:
    assert parse_rule(text).text == written


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("allow 1024-65535 192.168.0.0/24", "is not 'allow|deny EXTERNAL-PORTS"),
        ("allow 1024 192.168.0.0/24 1024 ^game", "no description pattern"),
        ("permit 1024 192.168.0.0/24 1024", "must start with allow or deny, not 'permit'"),
        ("allow 70000 192.168.0.0/24 1024", "external ports '70000'"),
        ("allow 2000-1000 192.168.0.0/24 1024", "low end first"),
        ("allow 1024 192.168.0.0/24 1024-", "internal ports '1024-'"),
        ("allow 1024 192.168.0.300/24 1024", "address '192.168.0.300/24'"),
        ("allow 1024 lan 1024", "address 'lan'"),
        ("", "is not 'allow|deny"),
    ],
)
def test_a_bad_rule_is_refused_with_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(PermissionRuleError) as raised:
        parse_rule(text)

    assert message in str(raised.value)


def test_the_first_matching_rule_decides() -> None:
    rules = PermissionRules(
        (
            parse_rule("deny 3389 0.0.0.0/0 0-65535"),
            parse_rule("allow 1024-65535 192.168.50.0/24 1024-65535"),
            parse_rule("deny 0-65535 0.0.0.0/0 0-65535"),
        )
    )
    console = IPv4Address(CONSOLE)

    assert rules.decide(3389, console, 3389).allowed is False
    assert rules.decide(3389, console, 3389).reason == (
        "permission rule 1 'deny 3389 0.0.0.0/0 0-65535' denies"
    )
    assert rules.decide(8080, console, 8080).allowed is True
    assert rules.decide(8080, console, 80).reason == (
        "permission rule 3 'deny 0-65535 0.0.0.0/0 0-65535' denies"
    )


def test_no_matching_rule_is_a_refusal() -> None:
    rules = PermissionRules((parse_rule("allow 2000-3000 192.168.50.0/24 2000-3000"),))

    decision = rules.decide(4000, IPv4Address(CONSOLE), 4000)

    assert decision.allowed is False
    assert decision.reason == "no permission rule matches (denied)"


@pytest.mark.parametrize(
    ("external", "client", "internal", "allowed"),
    [
        (1024, CONSOLE, 1024, True),
        (65535, CONSOLE, 65535, True),
        (1023, CONSOLE, 8000, False),
        (8000, CONSOLE, 1023, True),
        (8000, CONSOLE, 80, True),
        (8000, "192.168.51.10", 8000, False),
    ],
)
def test_default_rules_allow_external_ports_from_1024_inside_the_lan(
    external: int, client: str, internal: int, allowed: bool
) -> None:
    assert _policy().allows(external, client, internal) is allowed


@pytest.mark.parametrize(
    ("client", "reason"),
    [
        ("0.0.0.0", "InternalClient 0.0.0.0 is the unspecified address"),
        ("255.255.255.255", "InternalClient 255.255.255.255 is the broadcast address"),
        ("239.255.255.250", "InternalClient 239.255.255.250 is a multicast address"),
        ("127.0.0.1", "InternalClient 127.0.0.1 is a loopback address"),
        ("192.168.50.1", "InternalClient 192.168.50.1 is the gateway itself"),
        ("192.168.50.255", "is the network or broadcast address of 192.168.50.0/24"),
        ("192.168.50.0", "is the network or broadcast address of 192.168.50.0/24"),
        ("8.8.8.8", "InternalClient 8.8.8.8 is not on a LAN subnet (192.168.50.0/24)"),
        ("203.0.113.1", "is not on a LAN subnet"),
        ("example.com", "InternalClient 'example.com' is not an IPv4 address"),
    ],
)
def test_where_a_mapping_may_not_point(client: str, reason: str) -> None:
    decision = _policy("allow 0-65535 0.0.0.0/0 0-65535").decide(8000, client, 8000)

    assert decision.allowed is False
    assert reason in decision.reason


@pytest.mark.parametrize(
    ("port", "reason"),
    [
        (80, "external port 80 is outside 1024-65535"),
        (8123, "external port 8123 is one of the host's own"),
        (5000, "external port 5000 is one of the host's own"),
    ],
)
def test_ports_outside_the_range_or_the_hosts_own_are_refused_whatever_the_rules(
    port: int, reason: str
) -> None:
    decision = _policy("allow 0-65535 0.0.0.0/0 0-65535").decide(port, CONSOLE, 8000)

    assert (decision.allowed, decision.reason) == (False, reason)


def test_the_loopback_demo_may_map_to_the_host_itself() -> None:
    assert _policy(demo=True).allows(8000, "127.0.0.1", 8000) is True
    assert _policy(demo=True).allows(8000, "127.0.0.2", 8000) is True
    assert _policy(demo=True).allows(8000, "0.0.0.0", 8000) is False


def test_options_take_rules_and_report_a_bad_one_by_position() -> None:
    options = parse_options({"permission_rules": ["deny 0-65535 0.0.0.0/0 0-65535"]})

    with pytest.raises(OptionsError) as raised:
        parse_options({"permission_rules": ["allow 1024 192.168.0.0/24 1024", "allow 1024"]})

    assert options.permission_rules == (parse_rule("deny 0-65535 0.0.0.0/0 0-65535"),)
    assert str(raised.value).startswith("permission_rules.1: 'allow 1024' is not 'allow|deny")


def test_default_options_trust_the_gateway_host_and_use_the_default_rules() -> None:
    options = parse_options({})

    assert options.trust_gateway_host is True
    assert options.permission_rules == ()


def test_the_command_line_repeats_permission_rules_in_order() -> None:
    options = options_from_argv(
        [
            "--permission-rule",
            "allow 6000 192.168.1.0/24 6000",
            "--permission-rule",
            "deny 0-65535 0.0.0.0/0 0-65535",
            "--no-trust-gateway-host",
        ]
    )

    assert [rule.text for rule in options.permission_rules] == [
        "allow 6000 192.168.1.0/24 6000",
        "deny 0-65535 0.0.0.0/0 0-65535",
    ]
    assert options.trust_gateway_host is False


def test_a_bad_rule_on_the_command_line_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        options_from_argv(["--permission-rule", "allow everything"])

    error = capsys.readouterr().err
    assert exited.value.code == 2
    assert error.count("\n") == 1
    assert "permission_rules.0: 'allow everything' is not 'allow|deny" in error
