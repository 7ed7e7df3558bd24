"""AddAnyPortMapping (5.6.17): Figure 4, the port choice, limits and refusals."""

from __future__ import annotations

import random

import pytest

from igd.backends.memory import MemoryBackend
from igd.core.arguments import MappingArguments
from igd.core.mappings import MappingTable
from igd.core.nat import Redirect
from tests.daemon.mapping_support import (
    CONSOLE,
    LAPTOP,
    TRUSTED,
    PortRules,
    VirtualClock,
    error_code,
    make_rig,
    mapping_args,
)


async def test_free_port_is_reserved_as_requested() -> None:  # prplOS UPNPIGD_0039/0041
    rig = make_rig()
    args = mapping_args(
        CONSOLE, external_port=23456, internal_port=12345, remote_host="198.51.100.7"
    )
    assert await rig.table.add_any_port_mapping(CONSOLE, **args) == 23456
    assert await rig.kernel() == [Redirect("TCP", 23456, "192.168.50.10", 12345, "198.51.100.7")]
    assert rig.changes[-1].added[0].external_port == 23456


async def test_taken_ports_yield_neighbours_alternately_above_and_below() -> None:
    rig = make_rig()
    reserved = [
        await rig.table.add_any_port_mapping(
            TRUSTED, **mapping_args(TRUSTED, external_port=6000, internal_client=f"192.168.50.{n}")
        )
        for n in range(20, 25)
    ]
    assert reserved == [6000, 6001, 5999, 6002, 5998]


@pytest.mark.parametrize(
    "second",
    [
        mapping_args(LAPTOP),  # other client, same RemoteHost (the row the standard omits)
        mapping_args(LAPTOP, remote_host="198.51.100.7"),  # other client, other RemoteHost
        mapping_args(CONSOLE, remote_host="198.51.100.7"),  # Ours: same client, other RemoteHost
    ],
)
async def test_port_held_by_another_owner_yields_another_port(second: MappingArguments) -> None:
    rig = make_rig()
    await rig.table.add_any_port_mapping(TRUSTED, **mapping_args(CONSOLE))
    assert await rig.table.add_any_port_mapping(TRUSTED, **second) == 5001
    assert rig.table.number_of_entries == 2


async def test_same_client_port_and_peer_is_updated_not_duplicated() -> None:
    rig = make_rig()
    await rig.table.add_any_port_mapping(CONSOLE, **mapping_args(CONSOLE, lease_duration=100))
    rig.clock.advance(50)
    again = mapping_args(CONSOLE, internal_port=7000, lease_duration=200)
    assert await rig.table.add_any_port_mapping(CONSOLE, **again) == 5000
    [view] = rig.table.mappings()
    assert (view.internal_port, view.lease_duration) == (7000, 200)
    assert rig.changes[-1].updated == (view,)


async def test_static_mapping_and_ports_in_use_are_skipped() -> None:
    rig = make_rig(port_in_use=lambda port, protocol: (port, protocol) == (5001, "UDP"))
    await rig.table.add_static(
        external_port=5000, protocol="UDP", internal_port=5000, internal_client=CONSOLE.address
    )
    args = mapping_args(CONSOLE, protocol="UDP")
    assert await rig.table.add_any_port_mapping(CONSOLE, **args) == 4999
    assert rig.table.get_generic_port_mapping_entry(TRUSTED, 0).lease_duration == 0


async def test_external_port_zero_starts_at_a_random_port() -> None:
    table = MappingTable(MemoryBackend(), VirtualClock(), rng=random.Random(7))
    expected = random.Random(7).randint(1024, 65535)
    args = mapping_args(TRUSTED, external_port=0)
    assert await table.add_any_port_mapping(TRUSTED, **args) == expected


async def test_external_port_zero_never_makes_a_wildcard_mapping() -> None:
    rig = make_rig()
    for _ in range(20):
        port = await rig.table.add_any_port_mapping(
            CONSOLE, **mapping_args(CONSOLE, external_port=0)
        )
        assert 1024 <= port <= 65535
    assert rig.table.number_of_entries == 20
    assert all(view.external_port != 0 for view in rig.table.mappings())


async def test_restricted_caller_gets_no_port_below_1024() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(TRUSTED, **mapping_args(TRUSTED, external_port=1024))
    await rig.table.add_port_mapping(TRUSTED, **mapping_args(TRUSTED, external_port=1025))
    args = mapping_args(CONSOLE, external_port=1024)
    assert await rig.table.add_any_port_mapping(CONSOLE, **args) == 1026


async def test_authorized_caller_may_get_a_port_below_1024() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(TRUSTED, **mapping_args(TRUSTED, external_port=1))
    args = mapping_args(TRUSTED, external_port=1, internal_client=CONSOLE.address)
    assert await rig.table.add_any_port_mapping(TRUSTED, **args) == 2


async def test_top_of_the_port_range_continues_downwards() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(TRUSTED, **mapping_args(TRUSTED, external_port=65535))
    args = mapping_args(CONSOLE, external_port=65535)
    assert await rig.table.add_any_port_mapping(CONSOLE, **args) == 65534


@pytest.mark.parametrize(("external_port", "internal_port"), [(80, 8080), (8080, 443)])
async def test_r2_restricted_caller_requests_ports_from_1024(
    external_port: int, internal_port: int
) -> None:
    rig = make_rig()
    args = mapping_args(CONSOLE, external_port=external_port, internal_port=internal_port)
    assert await error_code(rig.table.add_any_port_mapping(CONSOLE, **args)) == 606


async def test_r1_restricted_caller_maps_only_to_itself() -> None:
    rig = make_rig()
    args = mapping_args(CONSOLE, internal_client=LAPTOP.address)
    assert await error_code(rig.table.add_any_port_mapping(CONSOLE, **args)) == 606


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"internal_client": ""}, 715),  # prplOS UPNPIGD_0039
        ({"internal_port": 0}, 732),
        ({"remote_host": "example"}, 600),
        ({"protocol": "GRE"}, 601),
        ({"lease_duration": 604801}, 601),
    ],
)
async def test_value_errors(overrides: dict[str, object], code: int) -> None:
    rig = make_rig()
    args = {**mapping_args(CONSOLE), **overrides}
    assert await error_code(rig.table.add_any_port_mapping(CONSOLE, **args)) == code  # type: ignore[arg-type]


async def test_lease_zero_becomes_one_week() -> None:  # prplOS UPNPIGD_0050: > 600000
    rig = make_rig()
    await rig.table.add_any_port_mapping(CONSOLE, **mapping_args(CONSOLE, lease_duration=0))
    assert rig.table.mappings()[0].lease_duration == 604800


async def test_permission_rules_steer_the_choice() -> None:
    rig = make_rig(permissions=PortRules(range(7000, 7011)))
    args = mapping_args(CONSOLE, external_port=6000)
    assert await rig.table.add_any_port_mapping(CONSOLE, **args) == 7000
    assert (
        await rig.table.add_any_port_mapping(LAPTOP, **mapping_args(LAPTOP, external_port=7005))
        == 7005
    )


async def test_permission_rules_denying_the_new_internal_port_move_the_mapping() -> None:
    rules = PortRules(range(1024, 65536))
    rig = make_rig(permissions=rules)
    await rig.table.add_any_port_mapping(CONSOLE, **mapping_args(CONSOLE))
    rules.internal_ports = range(6000, 6001)
    rules.allowed = (range(5001, 65536),)
    args = mapping_args(CONSOLE, internal_port=6000)
    assert await rig.table.add_any_port_mapping(CONSOLE, **args) == 5001
    assert rig.table.number_of_entries == 2


async def test_no_permitted_port_at_all_is_606() -> None:
    rig = make_rig(permissions=PortRules(range(7000, 7011), internal_ports=range(0)))
    assert await error_code(rig.table.add_any_port_mapping(CONSOLE, **mapping_args(CONSOLE))) == 606


async def test_every_permitted_port_taken_is_728() -> None:
    rig = make_rig(permissions=PortRules(range(7000, 7002)))
    for peer in ("198.51.100.7", "198.51.100.8"):
        args = mapping_args(CONSOLE, external_port=7000, remote_host=peer)
        await rig.table.add_any_port_mapping(CONSOLE, **args)
    args = mapping_args(LAPTOP, external_port=7000)
    assert await error_code(rig.table.add_any_port_mapping(LAPTOP, **args)) == 728


async def test_limits_are_728() -> None:
    rig = make_rig(max_mappings=3, max_per_client=2)
    for _ in range(2):
        await rig.table.add_any_port_mapping(CONSOLE, **mapping_args(CONSOLE, external_port=0))
    assert await error_code(rig.table.add_any_port_mapping(CONSOLE, **mapping_args(CONSOLE))) == 728
    await rig.table.add_any_port_mapping(LAPTOP, **mapping_args(LAPTOP, external_port=0))
    assert await error_code(rig.table.add_any_port_mapping(TRUSTED, **mapping_args(TRUSTED))) == 728


async def test_restricted_caller_does_not_update_its_privileged_entry() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(TRUSTED, **mapping_args(CONSOLE, internal_port=80))
    args = mapping_args(CONSOLE, internal_port=8080)
    assert await rig.table.add_any_port_mapping(CONSOLE, **args) == 5001
    assert rig.table.get_generic_port_mapping_entry(TRUSTED, 0).internal_port == 80


async def test_kernel_refusal_is_501() -> None:
    rig = make_rig(backend=MemoryBackend(capacity=0))
    assert await error_code(rig.table.add_any_port_mapping(CONSOLE, **mapping_args(CONSOLE))) == 501
    assert rig.table.number_of_entries == 0
    assert rig.changes == []
