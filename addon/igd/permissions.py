"""Ordered allow/deny permission rules on where a mapping may point (wanipconnection2.md 5.6.0).

The format is miniupnpd's (`upnppermissions.c`), so a rule from an existing miniupnpd.conf works:

    allow|deny  EXTERNAL-PORTS  INTERNAL-ADDRESS[/BITS or /NETMASK]  INTERNAL-PORTS

e.g. `allow 1024-65535 192.168.0.0/24 1024-65535`. Rules are tried in order, the first that
matches decides; when none matches the mapping is refused (Ours: miniupnpd accepts then, we are
stricter, as security-notes.md A6 asks). miniupnpd's optional fifth field, a pattern on the
description, is not supported: a rule with it is refused rather than silently widened.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

MAX_PORT = 65535
# Ours (security-notes.md 4): without configured rules, ports from 1024 up inside the LAN subnets
DEFAULT_LOWEST_PORT = 1024

_PORTS = re.compile(r"(\d{1,5})(?:-(\d{1,5}))?")
_VERDICTS = {"allow": True, "deny": False}


class PermissionRuleError(ValueError):
    """A rule that cannot be read; the message names the field and shows the expected form."""


@dataclass(frozen=True, slots=True)
class PermissionRule:
    """One `allow`/`deny` rule; `text` is the rule in its normalized written form."""

    allow: bool
    external_ports: tuple[int, int]
    internal_network: IPv4Network
    internal_ports: tuple[int, int]

    @property
    def text(self) -> str:
        def ports(low: int, high: int) -> str:
            return str(low) if low == high else f"{low}-{high}"

        verdict = "allow" if self.allow else "deny"
        return (
            f"{verdict} {ports(*self.external_ports)} {self.internal_network} "
            f"{ports(*self.internal_ports)}"
        )

    def matches(self, external_port: int, internal_client: IPv4Address, internal_port: int) -> bool:
        low, high = self.external_ports
        internal_low, internal_high = self.internal_ports
        return (
            low <= external_port <= high
            and internal_low <= internal_port <= internal_high
            and internal_client in self.internal_network
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """What the rules decided, and why, in words for the log."""

    allowed: bool
    reason: str


def _port_range(field: str, text: str, rule: str) -> tuple[int, int]:
    match = _PORTS.fullmatch(text)
    if match is None:
        raise PermissionRuleError(
            f"{field} {text!r} in {rule!r} is not a port or a range like 1024-65535"
        )
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if not low <= high <= MAX_PORT:
        raise PermissionRuleError(
            f"{field} {text!r} in {rule!r} must lie within 0-{MAX_PORT}, low end first"
        )
    return low, high


def parse_rule(text: str) -> PermissionRule:
    """A rule from its written form; PermissionRuleError says what is wrong with it."""
    fields = text.split()
    if len(fields) != 4:
        raise PermissionRuleError(
            f"{text!r} is not 'allow|deny EXTERNAL-PORTS ADDRESS/BITS INTERNAL-PORTS' "
            "(e.g. 'allow 1024-65535 192.168.0.0/24 1024-65535'; no description pattern)"
        )
    verdict, external, address, internal = fields
    if verdict.lower() not in _VERDICTS:
        raise PermissionRuleError(f"{text!r} must start with allow or deny, not {verdict!r}")
    try:
        # miniupnpd masks the address with the prefix, so 192.168.0.7/24 means 192.168.0.0/24
        network = IPv4Network(address, strict=False)
    except ValueError:
        raise PermissionRuleError(
            f"address {address!r} in {text!r} is not IPv4 with an optional /bits or /netmask"
        ) from None
    return PermissionRule(
        allow=_VERDICTS[verdict.lower()],
        external_ports=_port_range("external ports", external, text),
        internal_network=network,
        internal_ports=_port_range("internal ports", internal, text),
    )


def default_rules(networks: Iterable[IPv4Network]) -> tuple[PermissionRule, ...]:
    """The rules without configuration: external ports 1024-65535 to any port in each LAN subnet.

    Internal ports below 1024 stay closed to restricted control points by the core's R2; the
    trusted ones (Home Assistant) may point a mapping at a LAN web server's port 80.
    """
    external = (DEFAULT_LOWEST_PORT, MAX_PORT)
    return tuple(PermissionRule(True, external, network, (1, MAX_PORT)) for network in networks)


@dataclass(frozen=True, slots=True)
class PermissionRules:
    """The rules in order; `decide` gives the first match's verdict, deny when none matches."""

    rules: tuple[PermissionRule, ...]

    def decide(
        self, external_port: int, internal_client: IPv4Address, internal_port: int
    ) -> Decision:
        for number, rule in enumerate(self.rules, start=1):
            if rule.matches(external_port, internal_client, internal_port):
                verdict = "allows" if rule.allow else "denies"
                return Decision(rule.allow, f"permission rule {number} {rule.text!r} {verdict}")
        return Decision(False, "no permission rule matches (denied)")
