"""DeletePortMapping (5.6.18) and DeletePortMappingRange (5.6.19)."""

from __future__ import annotations

import pytest

from igd.core.mappings import Caller
from igd.core.nat import Redirect
from tests.daemon.mapping_support import (
    CONSOLE,
    LAPTOP,
    TRUSTED,
    Rig,
    error_code,
    make_rig,
    mapping_args,
    read_error_code,
)


async def _add(
    rig: Rig, owner: str, port: int, *, protocol: str = "TCP", internal_port: int = 0
) -> None:
    """A mapping made by the trusted CP for `owner`."""
    args = mapping_args(
        TRUSTED,
        internal_client=owner,
        external_port=port,
        internal_port=internal_port or port,
        protocol=protocol,
    )
    await rig.table.add_port_mapping(TRUSTED, **args)


def _ports(rig: Rig) -> list[tuple[int, str]]:
    return [(view.external_port, view.protocol) for view in rig.table.mappings()]


async def test_deleted_mapping_is_gone_everywhere_and_evented() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, remote_host="198.51.100.7"))
    view = rig.table.mappings()[0]
    await rig.table.delete_port_mapping(
        CONSOLE, remote_host="198.51.100.7", external_port=5000, protocol="tcp"
    )
    assert rig.table.number_of_entries == 0
    assert await rig.kernel() == []
    assert read_error_code(lambda: rig.table.get_generic_port_mapping_entry(TRUSTED, 0)) == 713
    [_, change] = rig.changes
    assert (change.system_update_id, change.number_of_entries) == (3, 0)
    assert change.removed == (view,)


async def test_deleting_compacts_the_index() -> None:  # prplOS UPNPIGD_0036
    rig = make_rig()
    for port in (5000, 5001, 5002, 5003):
        await _add(rig, CONSOLE.address, port)
    await rig.table.delete_port_mapping(TRUSTED, remote_host="", external_port=5001, protocol="TCP")
    walk = [rig.table.get_generic_port_mapping_entry(TRUSTED, i).external_port for i in range(3)]
    assert walk == [5000, 5002, 5003]


@pytest.mark.parametrize(
    ("remote_host", "external_port", "protocol"),
    [
        ("", 5001, "TCP"),  # no such port
        ("", 5000, "UDP"),  # no such protocol
        ("198.51.100.7", 5000, "TCP"),  # the entry is for any peer, not this one
        ("", 0, "TCP"),  # Ours: 714 for the wildcard port
    ],
)
async def test_no_such_entry_is_714(remote_host: str, external_port: int, protocol: str) -> None:
    rig = make_rig()
    await _add(rig, CONSOLE.address, 5000)
    action = rig.table.delete_port_mapping(
        TRUSTED, remote_host=remote_host, external_port=external_port, protocol=protocol
    )
    assert await error_code(action) == 714
    assert rig.table.number_of_entries == 1


async def test_specific_peer_entry_is_not_deleted_by_the_wildcard() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, remote_host="198.51.100.7"))
    action = rig.table.delete_port_mapping(
        CONSOLE, remote_host="*", external_port=5000, protocol="TCP"
    )
    assert await error_code(action) == 714


@pytest.mark.parametrize(
    ("remote_host", "external_port", "protocol", "code"),
    [
        ("", 5000, "ESP", 601),
        ("", 65536, "TCP", 601),
        ("example", 5000, "TCP", 600),
        ("example", 5000, "ESP", 601),  # 601 before 600
    ],
)
async def test_bad_values(remote_host: str, external_port: int, protocol: str, code: int) -> None:
    rig = make_rig()
    action = rig.table.delete_port_mapping(
        TRUSTED, remote_host=remote_host, external_port=external_port, protocol=protocol
    )
    assert await error_code(action) == code


@pytest.mark.parametrize("external_port", [0, 80, 1023])
async def test_r3_restricted_caller_names_ports_from_1024(external_port: int) -> None:
    rig = make_rig()
    await _add(rig, CONSOLE.address, 80)
    action = rig.table.delete_port_mapping(
        CONSOLE, remote_host="", external_port=external_port, protocol="TCP"
    )
    assert await error_code(action) == 606


async def test_r5_restricted_caller_deletes_only_its_own_unprivileged_entries() -> None:
    rig = make_rig()
    await _add(rig, LAPTOP.address, 5000)
    await _add(rig, CONSOLE.address, 5001, internal_port=22)
    await _add(rig, CONSOLE.address, 5002)
    for port in (5000, 5001):
        action = rig.table.delete_port_mapping(
            CONSOLE, remote_host="", external_port=port, protocol="TCP"
        )
        assert await error_code(action) == 606
    await rig.table.delete_port_mapping(CONSOLE, remote_host="", external_port=5002, protocol="TCP")
    assert _ports(rig) == [(5000, "TCP"), (5001, "TCP")]


async def test_static_mapping_is_read_only_for_upnp() -> None:
    rig = make_rig()
    await rig.table.add_static(
        external_port=5000, protocol="TCP", internal_port=5000, internal_client=CONSOLE.address
    )
    for caller in (TRUSTED, CONSOLE):
        action = rig.table.delete_port_mapping(
            caller, remote_host="", external_port=5000, protocol="TCP"
        )
        assert await error_code(action) == 606
    assert rig.table.number_of_entries == 1


async def test_kernel_refusal_is_501_and_keeps_the_entry() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE))
    await rig.backend.apply(remove=await rig.kernel())  # the kernel lost it behind our back
    action = rig.table.delete_port_mapping(
        CONSOLE, remote_host="", external_port=5000, protocol="TCP"
    )
    assert await error_code(action) == 501
    assert rig.table.number_of_entries == 1
    assert len(rig.changes) == 1


async def test_disabled_mapping_is_deleted_without_a_kernel_rule() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, enabled=False))
    await rig.table.delete_port_mapping(CONSOLE, remote_host="", external_port=5000, protocol="TCP")
    assert rig.table.number_of_entries == 0


# ---- DeletePortMappingRange ----------------------------------------------------------------


async def test_range_delete_with_manage_removes_everything_of_the_range_in_one_event() -> None:
    rig = make_rig()
    for owner, port in [(CONSOLE.address, 5000), (LAPTOP.address, 5001), (CONSOLE.address, 6000)]:
        await _add(rig, owner, port)
    await _add(rig, LAPTOP.address, 5002, protocol="UDP")
    before = rig.table.system_update_id

    await rig.table.delete_port_mapping_range(
        TRUSTED, start_port=5000, end_port=5999, protocol="TCP", manage=True
    )
    assert _ports(rig) == [(6000, "TCP"), (5002, "UDP")]
    assert await rig.kernel() == [
        Redirect("TCP", 6000, "192.168.50.10", 6000),
        Redirect("UDP", 5002, "192.168.50.11", 5002),
    ]
    assert rig.table.system_update_id == before + 1
    change = rig.changes[-1]
    assert [view.external_port for view in change.removed] == [5000, 5001]
    assert change.number_of_entries == 2


async def test_range_delete_without_manage_removes_the_callers_own_only() -> None:
    rig = make_rig()
    await _add(rig, TRUSTED.address, 5000)
    await _add(rig, LAPTOP.address, 5001)
    await rig.table.delete_port_mapping_range(
        TRUSTED, start_port=1, end_port=65535, protocol="TCP", manage=False
    )
    assert _ports(rig) == [(5001, "TCP")]


async def test_r6_restricted_caller_manage_is_ignored() -> None:
    rig = make_rig()
    await _add(rig, CONSOLE.address, 5000)
    await _add(rig, LAPTOP.address, 5001)
    await rig.table.delete_port_mapping_range(
        CONSOLE, start_port=1024, end_port=65535, protocol="TCP", manage=True
    )
    assert _ports(rig) == [(5001, "TCP")]


async def test_r5_restricted_caller_range_skips_what_it_may_not_delete() -> None:
    rig = make_rig()
    await _add(rig, CONSOLE.address, 5000, internal_port=22)
    await _add(rig, CONSOLE.address, 5001)
    await rig.table.add_static(
        external_port=5002, protocol="TCP", internal_port=5002, internal_client=CONSOLE.address
    )
    await rig.table.delete_port_mapping_range(
        CONSOLE, start_port=5000, end_port=5002, protocol="TCP", manage=False
    )
    assert _ports(rig) == [(5000, "TCP"), (5002, "TCP")]


async def test_range_with_only_undeletable_entries_is_606() -> None:
    rig = make_rig()
    await _add(rig, CONSOLE.address, 5000, internal_port=22)
    await rig.table.add_static(
        external_port=5001, protocol="TCP", internal_port=5001, internal_client=CONSOLE.address
    )
    action = rig.table.delete_port_mapping_range(
        CONSOLE, start_port=5000, end_port=5001, protocol="TCP", manage=False
    )
    assert await error_code(action) == 606
    trusted = rig.table.delete_port_mapping_range(
        TRUSTED, start_port=5001, end_port=5001, protocol="TCP", manage=True
    )
    assert await error_code(trusted) == 606
    assert rig.table.number_of_entries == 2


@pytest.mark.parametrize(
    ("caller", "start_port", "end_port", "protocol"),
    [
        (TRUSTED, 6000, 7000, "TCP"),  # nothing in the range
        (TRUSTED, 5000, 5000, "UDP"),  # nothing of that protocol
        (CONSOLE, 5000, 5000, "TCP"),  # only someone else's entry
    ],
)
async def test_range_without_candidates_is_730(
    caller: Caller, start_port: int, end_port: int, protocol: str
) -> None:
    rig = make_rig()
    await _add(rig, LAPTOP.address, 5000)
    action = rig.table.delete_port_mapping_range(
        caller, start_port=start_port, end_port=end_port, protocol=protocol, manage=True
    )
    assert await error_code(action) == 730


@pytest.mark.parametrize(
    ("start_port", "end_port", "protocol", "code"),
    [
        (6000, 5000, "TCP", 733),
        (1, 65536, "TCP", 601),
        (-1, 5, "TCP", 601),
        (1, 5, "IGMP", 601),
        (6000, 5000, "IGMP", 601),  # 601 before 733
    ],
)
async def test_range_bad_values(start_port: int, end_port: int, protocol: str, code: int) -> None:
    rig = make_rig()
    action = rig.table.delete_port_mapping_range(
        TRUSTED, start_port=start_port, end_port=end_port, protocol=protocol, manage=True
    )
    assert await error_code(action) == code


@pytest.mark.parametrize(("start_port", "end_port"), [(1, 65535), (1023, 2000), (80, 80)])
async def test_r4_restricted_caller_ranges_start_at_1024(start_port: int, end_port: int) -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, external_port=1500))
    action = rig.table.delete_port_mapping_range(
        CONSOLE, start_port=start_port, end_port=end_port, protocol="TCP", manage=False
    )
    assert await error_code(action) == 606
    assert rig.table.number_of_entries == 1


async def test_range_delete_is_atomic_when_the_kernel_refuses() -> None:
    rig = make_rig()
    for port in (5000, 5001, 5002):
        await _add(rig, CONSOLE.address, port)
    await rig.backend.apply(remove=[Redirect("TCP", 5001, "192.168.50.10", 5001)])
    action = rig.table.delete_port_mapping_range(
        TRUSTED, start_port=5000, end_port=5002, protocol="TCP", manage=True
    )
    assert await error_code(action) == 501
    assert rig.table.number_of_entries == 3
    assert len(await rig.kernel()) == 2


async def test_narrow_range_over_a_large_table() -> None:
    rig = make_rig()
    for port in range(5000, 5010):
        await _add(rig, CONSOLE.address, port)
    await rig.table.delete_port_mapping_range(
        TRUSTED, start_port=5003, end_port=5004, protocol="TCP", manage=True
    )
    assert [port for port, _ in _ports(rig)] == [5000, 5001, 5002, 5005, 5006, 5007, 5008, 5009]
