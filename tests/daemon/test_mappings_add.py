"""AddPortMapping (5.6.16): values, precedence (5.6.0b), R1/R2, conflicts, overwrite, kernel."""

from __future__ import annotations

import pytest

from igd.backends.memory import MemoryBackend
from igd.core.arguments import MappingArguments
from igd.core.mappings import MappingView
from igd.core.nat import Redirect
from tests.daemon.mapping_support import (
    CONSOLE,
    LAPTOP,
    TRUSTED,
    PortRules,
    error_code,
    make_rig,
    mapping_args,
)


async def test_added_mapping_is_visible_forwarded_counted_and_evented() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(
        CONSOLE, **mapping_args(CONSOLE, external_port=6000, internal_port=7000)
    )

    view = rig.table.get_specific_port_mapping_entry(
        CONSOLE, remote_host="", external_port=6000, protocol="TCP"
    )
    assert view == MappingView("", 6000, "TCP", 7000, "192.168.50.10", True, "test", 3600)
    assert await rig.kernel() == [Redirect("TCP", 6000, "192.168.50.10", 7000)]
    assert rig.table.number_of_entries == 1
    assert rig.table.system_update_id == 2
    [change] = rig.changes
    assert (change.system_update_id, change.number_of_entries) == (2, 1)
    assert change.added == (view,)
    assert change.removed == change.expired == change.updated == ()


@pytest.mark.parametrize(("given", "stored"), [("tcp", "TCP"), ("Udp", "UDP")])
async def test_protocol_is_matched_case_insensitively_and_stored_upper_case(
    given: str, stored: str
) -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, protocol=given))
    assert rig.table.mappings()[0].protocol == stored


@pytest.mark.parametrize(
    "overrides",
    [
        {"protocol": "SCTP"},
        {"protocol": ""},
        {"lease_duration": 604801},
        {"lease_duration": -1},
        {"external_port": 65536},
        {"internal_port": -1},
    ],
)
async def test_values_out_of_range_are_601(overrides: dict[str, object]) -> None:
    rig = make_rig()
    args = {**mapping_args(CONSOLE), **overrides}
    assert await error_code(rig.table.add_port_mapping(CONSOLE, **args)) == 601  # type: ignore[arg-type]
    assert rig.table.number_of_entries == 0


async def test_lease_zero_becomes_one_week() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, lease_duration=0))
    assert rig.table.mappings()[0].lease_duration == 604800


async def test_longest_lease_is_accepted() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, lease_duration=604800))
    assert rig.table.mappings()[0].lease_duration == 604800


@pytest.mark.parametrize("client", ["", "*"])
async def test_wildcard_internal_client_is_715(client: str) -> None:
    rig = make_rig()
    args = mapping_args(TRUSTED, internal_client=client)
    assert await error_code(rig.table.add_port_mapping(TRUSTED, **args)) == 715


async def test_wildcard_external_port_is_716() -> None:
    rig = make_rig()
    args = mapping_args(TRUSTED, external_port=0)
    assert await error_code(rig.table.add_port_mapping(TRUSTED, **args)) == 716


async def test_internal_port_zero_is_732() -> None:
    rig = make_rig()
    args = mapping_args(TRUSTED, internal_port=0)
    assert await error_code(rig.table.add_port_mapping(TRUSTED, **args)) == 732


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        # 601 comes before the wildcard refusals
        ({"protocol": "ICMP", "internal_client": ""}, 601),
        # wildcard refusals come before malformed addresses
        ({"remote_host": "example", "internal_client": ""}, 715),
        ({"remote_host": "example", "external_port": 0}, 716),
        ({"internal_client": "printer.lan", "internal_port": 0}, 732),
        # ... and before authorization: prplOS, InternalPort 0 -> 732 even for a restricted CP
        ({"internal_client": "192.168.50.99", "internal_port": 0}, 732),
        # malformed addresses come before authorization
        ({"internal_client": "192.168.50.99", "remote_host": "example"}, 600),
    ],
)
async def test_error_precedence(overrides: dict[str, object], code: int) -> None:
    rig = make_rig()
    args = {**mapping_args(CONSOLE), **overrides}
    assert await error_code(rig.table.add_port_mapping(CONSOLE, **args)) == code  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "overrides",
    [
        {"remote_host": "example"},  # prplOS UPNPIGD_0039
        {"remote_host": "198.51.100"},
        {"remote_host": " 198.51.100.7"},
        {"internal_client": "printer.lan"},
        {"internal_client": "192.168.050.010"},
        {"internal_client": "::1"},
        {"internal_client": "255.255.255.255", "protocol": "TCP"},  # broadcast is for UDP
    ],
)
async def test_malformed_addresses_are_600(overrides: dict[str, object]) -> None:
    rig = make_rig()
    args = {**mapping_args(TRUSTED), **overrides}
    assert await error_code(rig.table.add_port_mapping(TRUSTED, **args)) == 600  # type: ignore[arg-type]


async def test_udp_broadcast_client_is_for_authorized_callers_only() -> None:
    rig = make_rig()
    broadcast = mapping_args(TRUSTED, protocol="UDP", internal_client="255.255.255.255")
    await rig.table.add_port_mapping(TRUSTED, **broadcast)
    assert rig.table.mappings()[0].internal_client == "255.255.255.255"
    restricted = mapping_args(CONSOLE, protocol="UDP", internal_client="255.255.255.255")
    restricted["external_port"] = 5001
    assert await error_code(rig.table.add_port_mapping(CONSOLE, **restricted)) == 606


@pytest.mark.parametrize("remote_host", ["", "*", "198.51.100.7"])
async def test_remote_host_wildcard_or_ipv4_is_accepted(remote_host: str) -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, remote_host=remote_host))
    stored = "" if remote_host == "*" else remote_host
    assert rig.table.mappings()[0].remote_host == stored
    view = rig.table.get_specific_port_mapping_entry(
        CONSOLE, remote_host=remote_host, external_port=5000, protocol="TCP"
    )
    assert view.remote_host == stored


async def test_r1_restricted_caller_maps_only_to_itself() -> None:
    rig = make_rig()
    args = mapping_args(CONSOLE, internal_client=LAPTOP.address)
    assert await error_code(rig.table.add_port_mapping(CONSOLE, **args)) == 606
    # a trusted control point maps for other hosts (3-box model)
    await rig.table.add_port_mapping(
        TRUSTED, **mapping_args(TRUSTED, internal_client="192.168.50.10")
    )
    assert rig.table.mappings()[0].internal_client == "192.168.50.10"


@pytest.mark.parametrize(
    ("external_port", "internal_port"), [(80, 8080), (8080, 1), (8080, 1023), (1023, 1024)]
)
async def test_r2_restricted_caller_uses_ports_from_1024(
    external_port: int, internal_port: int
) -> None:
    rig = make_rig()
    args = mapping_args(CONSOLE, external_port=external_port, internal_port=internal_port)
    assert await error_code(rig.table.add_port_mapping(CONSOLE, **args)) == 606
    await rig.table.add_port_mapping(
        TRUSTED, **mapping_args(TRUSTED, external_port=external_port, internal_port=internal_port)
    )
    assert rig.table.number_of_entries == 1


async def test_internal_port_may_differ_from_external_port() -> None:  # prplOS UPNPIGD_0041
    rig = make_rig()
    args = mapping_args(CONSOLE, external_port=23456, internal_port=12345)
    await rig.table.add_port_mapping(CONSOLE, **args)
    assert await rig.kernel() == [Redirect("TCP", 23456, "192.168.50.10", 12345)]


async def test_authorization_comes_before_conflicts() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(LAPTOP, **mapping_args(LAPTOP))
    other = mapping_args(CONSOLE, internal_client="192.168.50.99")
    assert await error_code(rig.table.add_port_mapping(CONSOLE, **other)) == 606


async def test_permission_rules_refuse_with_606_even_trusted_callers() -> None:
    rules = PortRules(range(1024, 2000))
    rig = make_rig(permissions=rules)
    args = mapping_args(TRUSTED, external_port=5000, internal_port=5001)
    assert await error_code(rig.table.add_port_mapping(TRUSTED, **args)) == 606
    assert rules.calls == [(5000, "192.168.50.2", 5001)]
    await rig.table.add_port_mapping(TRUSTED, **mapping_args(TRUSTED, external_port=1500))
    assert rig.table.number_of_entries == 1


@pytest.mark.parametrize(
    "second",
    [
        mapping_args(LAPTOP),  # other client, same RemoteHost
        mapping_args(LAPTOP, remote_host="198.51.100.7"),  # other client, other RemoteHost
        mapping_args(CONSOLE, remote_host="198.51.100.7"),  # Ours: same client, other RemoteHost
    ],
)
async def test_port_held_for_another_client_or_peer_is_718(second: MappingArguments) -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(TRUSTED, **mapping_args(CONSOLE))
    assert await error_code(rig.table.add_port_mapping(TRUSTED, **second)) == 718
    assert rig.table.mappings()[0].internal_client == "192.168.50.10"
    assert len(rig.changes) == 1


async def test_same_port_with_other_protocol_is_independent() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, protocol="TCP"))
    await rig.table.add_port_mapping(LAPTOP, **mapping_args(LAPTOP, protocol="UDP"))
    assert [view.internal_client for view in rig.table.mappings()] == [
        "192.168.50.10",
        "192.168.50.11",
    ]


async def test_port_of_a_static_mapping_is_729() -> None:
    rig = make_rig()
    await rig.table.add_static(
        external_port=5000, protocol="TCP", internal_port=22, internal_client="192.168.50.10"
    )
    args = mapping_args(TRUSTED, internal_client="192.168.50.10")
    assert await error_code(rig.table.add_port_mapping(TRUSTED, **args)) == 729


async def test_port_in_use_on_the_gateway_is_729() -> None:
    asked: list[tuple[int, str]] = []

    def port_in_use(port: int, protocol: str) -> bool:
        asked.append((port, protocol))
        return port == 8123

    rig = make_rig(port_in_use=port_in_use)
    args = mapping_args(CONSOLE, external_port=8123, protocol="tcp")
    assert await error_code(rig.table.add_port_mapping(CONSOLE, **args)) == 729
    assert asked == [(8123, "TCP")]
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, external_port=8124))
    assert rig.table.number_of_entries == 1


async def test_global_limit_is_728() -> None:
    rig = make_rig(max_mappings=2)
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, external_port=5000))
    await rig.table.add_port_mapping(LAPTOP, **mapping_args(LAPTOP, external_port=5001))
    args = mapping_args(TRUSTED, external_port=5002)
    assert await error_code(rig.table.add_port_mapping(TRUSTED, **args)) == 728


async def test_per_client_limit_is_728_and_counts_leased_mappings_only() -> None:
    rig = make_rig(max_per_client=2)
    await rig.table.add_static(
        external_port=22, protocol="TCP", internal_port=22, internal_client=CONSOLE.address
    )
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, external_port=5000))
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, external_port=5001))
    third = mapping_args(CONSOLE, external_port=5002)
    assert await error_code(rig.table.add_port_mapping(CONSOLE, **third)) == 728
    await rig.table.add_port_mapping(LAPTOP, **mapping_args(LAPTOP, external_port=5003))
    # freeing one of its own makes room again
    await rig.table.delete_port_mapping(CONSOLE, remote_host="", external_port=5000, protocol="TCP")
    await rig.table.add_port_mapping(CONSOLE, **third)
    assert rig.table.number_of_entries == 4


async def test_overwrite_at_the_limit_is_allowed() -> None:
    rig = make_rig(max_mappings=1, max_per_client=1)
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE))
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, internal_port=6000))
    assert rig.table.mappings()[0].internal_port == 6000


async def test_same_client_overwrites_in_place() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, external_port=5000))
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, external_port=5001))
    rig.clock.advance(600)
    overwrite = mapping_args(
        CONSOLE, external_port=5000, internal_port=6000, description="new", lease_duration=100
    )
    await rig.table.add_port_mapping(CONSOLE, **overwrite)

    first = rig.table.get_generic_port_mapping_entry(TRUSTED, 0)  # keeps its place
    assert first == MappingView("", 5000, "TCP", 6000, "192.168.50.10", True, "new", 100)
    assert rig.table.number_of_entries == 2
    assert await rig.kernel() == [
        Redirect("TCP", 5000, "192.168.50.10", 6000),
        Redirect("TCP", 5001, "192.168.50.10", 5000),
    ]
    assert rig.changes[-1].updated == (first,)
    assert rig.changes[-1].added == ()
    assert rig.table.system_update_id == 4


async def test_renewal_counts_as_a_change_and_restarts_the_lease() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, lease_duration=1000))
    rig.clock.advance(900)
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, lease_duration=1000))
    assert rig.table.mappings()[0].lease_duration == 1000
    assert rig.table.system_update_id == 3


async def test_renewal_and_port_change_work_on_a_full_kernel() -> None:
    rig = make_rig(backend=MemoryBackend(capacity=1))
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE))
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE))
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, internal_port=6000))
    assert await rig.kernel() == [Redirect("TCP", 5000, "192.168.50.10", 6000)]


async def test_restricted_caller_cannot_overwrite_its_privileged_entry() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(TRUSTED, **mapping_args(CONSOLE, internal_port=80))
    args = mapping_args(CONSOLE, internal_port=8080)
    assert await error_code(rig.table.add_port_mapping(CONSOLE, **args)) == 606
    assert rig.table.mappings()[0].internal_port == 80


async def test_disabled_mapping_is_listed_but_has_no_kernel_rule() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, enabled=False))
    assert rig.table.mappings()[0].enabled is False
    assert rig.table.number_of_entries == 1
    assert await rig.kernel() == []

    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, enabled=True))
    assert await rig.kernel() == [Redirect("TCP", 5000, "192.168.50.10", 5000)]
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, enabled=False))
    assert await rig.kernel() == []
    assert rig.table.system_update_id == 4


async def test_kernel_refusal_is_501_and_changes_nothing() -> None:
    rig = make_rig(backend=MemoryBackend(capacity=1))
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, external_port=5000))
    second = mapping_args(CONSOLE, external_port=5001)
    assert await error_code(rig.table.add_port_mapping(CONSOLE, **second)) == 501
    assert rig.table.number_of_entries == 1
    assert rig.table.system_update_id == 2
    assert len(rig.changes) == 1


async def test_kernel_refusal_of_an_overwrite_keeps_the_old_entry() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE))
    [rule] = await rig.kernel()
    await rig.backend.apply(remove=[rule])  # the kernel lost it behind our back
    change = mapping_args(CONSOLE, internal_port=6000, description="changed")
    assert await error_code(rig.table.add_port_mapping(CONSOLE, **change)) == 501
    assert rig.table.mappings()[0].internal_port == 5000
    assert rig.table.mappings()[0].description == "test"


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Transmission\tat\n192.168.50.23", "Transmissionat192.168.50.23"),
        ("bell\x07 and del\x7f and c1\x85", "bell and del and c1"),
        ("<b>console & voice</b>", "<b>console & voice</b>"),  # escaping is the front-end's job
        ("x" * 300, "x" * 256),
        ("é" * 200, "é" * 128),  # 256 bytes exactly
        ("a" + "é" * 200, "a" + "é" * 127),  # a character is never cut in two
        ("lone \ud800 surrogate \ufffe", "lone  surrogate "),
    ],
)
async def test_description_is_cleaned_and_truncated(given: str, stored: str) -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, description=given))
    description = rig.table.mappings()[0].description
    assert description == stored
    assert len(description.encode("utf-8")) <= 256
