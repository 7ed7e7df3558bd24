"""Leases in virtual time, change events, SystemUpdateID, static mappings, serialization."""

from __future__ import annotations

import asyncio
import logging

import pytest

from igd.core.mappings import MappingTable, TableChange, next_system_update_id
from igd.core.nat import NatError, Redirect
from tests.daemon.mapping_support import (
    CONSOLE,
    LAPTOP,
    TRUSTED,
    GatedBackend,
    VirtualClock,
    error_code,
    make_rig,
    mapping_args,
    read_error_code,
)

# ---- leases ----------------------------------------------------------------------------------


async def test_remaining_lease_counts_down() -> None:  # 5.5.6: 1500 s, read 500 s later
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, lease_duration=1500))
    rig.clock.advance(500)
    assert rig.table.mappings()[0].lease_duration == 1000
    rig.clock.advance(0.25)
    assert rig.table.mappings()[0].lease_duration == 1000  # whole seconds, rounded up


async def test_lease_counts_down_while_disabled_and_expires() -> None:
    rig = make_rig()
    args = mapping_args(CONSOLE, enabled=False, lease_duration=100)
    await rig.table.add_port_mapping(CONSOLE, **args)
    rig.clock.advance(60)
    assert rig.table.mappings()[0].lease_duration == 40
    rig.clock.advance(40)
    await rig.table.expire_due()
    assert rig.table.number_of_entries == 0


async def test_dynamic_mapping_never_reports_zero_left() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, lease_duration=10))
    rig.clock.advance(10.5)  # ended, but the timer has not run yet
    assert rig.table.mappings()[0].lease_duration == 1


async def test_expiry_removes_the_mapping_with_one_event() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, lease_duration=100))
    await rig.table.add_port_mapping(
        LAPTOP, **mapping_args(LAPTOP, external_port=5001, lease_duration=100)
    )
    await rig.table.add_port_mapping(
        LAPTOP, **mapping_args(LAPTOP, external_port=5002, lease_duration=101)
    )
    rig.clock.advance(99.9)
    await rig.table.expire_due()
    assert rig.table.number_of_entries == 3
    assert len(rig.changes) == 3

    rig.clock.advance(0.1)
    await rig.table.expire_due()
    assert [view.external_port for view in rig.table.mappings()] == [5002]
    assert await rig.kernel() == [Redirect("TCP", 5002, "192.168.50.11", 5000)]
    change = rig.changes[-1]
    assert (change.system_update_id, change.number_of_entries) == (5, 1)
    assert [(view.external_port, view.lease_duration) for view in change.expired] == [
        (5000, 0),
        (5001, 0),
    ]
    assert change.added == change.removed == change.updated == ()
    assert read_error_code(lambda: rig.table.get_generic_port_mapping_entry(TRUSTED, 1)) == 713


async def test_next_expiry_follows_adds_renewals_and_deletes() -> None:
    rig = make_rig()
    start = rig.clock.now
    assert rig.table.next_expiry() is None
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, lease_duration=300))
    await rig.table.add_port_mapping(
        LAPTOP, **mapping_args(LAPTOP, external_port=5001, lease_duration=200)
    )
    assert rig.table.next_expiry() == start + 200
    await rig.table.add_port_mapping(
        LAPTOP, **mapping_args(LAPTOP, external_port=5001, lease_duration=400)
    )
    assert rig.table.next_expiry() == start + 300
    await rig.table.delete_port_mapping(CONSOLE, remote_host="", external_port=5000, protocol="TCP")
    assert rig.table.next_expiry() == start + 400
    await rig.table.delete_port_mapping(LAPTOP, remote_host="", external_port=5001, protocol="TCP")
    assert rig.table.next_expiry() is None


async def test_renewal_postpones_expiry() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, lease_duration=100))
    rig.clock.advance(90)
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, lease_duration=100))
    rig.clock.advance(20)
    await rig.table.expire_due()
    assert rig.table.number_of_entries == 1
    rig.clock.advance(80)
    await rig.table.expire_due()
    assert rig.table.number_of_entries == 0


async def test_expiry_refused_by_the_kernel_keeps_the_mapping_due() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, lease_duration=100))
    [rule] = await rig.kernel()
    await rig.backend.apply(remove=[rule])  # the kernel lost it behind our back
    rig.clock.advance(100)
    with pytest.raises(NatError):
        await rig.table.expire_due()
    assert rig.table.number_of_entries == 1
    assert rig.table.next_expiry() == rig.clock.now
    assert len(rig.changes) == 1

    await rig.backend.apply(add=[rule])  # reconciled: the retry succeeds
    await rig.table.expire_due()
    assert rig.table.number_of_entries == 0
    assert rig.table.next_expiry() is None


async def test_many_renewals_keep_expiry_exact() -> None:
    rig = make_rig()
    for lease in range(1, 500):
        await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, lease_duration=lease))
    assert rig.table.next_expiry() == rig.clock.now + 499


# ---- events and SystemUpdateID ---------------------------------------------------------------


def test_system_update_id_starts_at_1_and_wraps_to_0() -> None:
    rig = make_rig()
    assert rig.table.system_update_id == 1
    assert next_system_update_id(1) == 2
    assert next_system_update_id(4294967294) == 4294967295
    assert next_system_update_id(4294967295) == 0


async def test_failed_actions_change_nothing() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE))
    await error_code(rig.table.add_port_mapping(LAPTOP, **mapping_args(LAPTOP)))
    await error_code(
        rig.table.delete_port_mapping(CONSOLE, remote_host="", external_port=5001, protocol="TCP")
    )
    await rig.table.expire_due()
    assert rig.table.system_update_id == 2
    assert len(rig.changes) == 1


async def test_listener_can_be_removed() -> None:
    rig = make_rig()
    seen: list[TableChange] = []
    remove = rig.table.add_listener(seen.append)
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE))
    remove()
    remove()  # harmless twice
    await rig.table.delete_port_mapping(CONSOLE, remote_host="", external_port=5000, protocol="TCP")
    assert [change.system_update_id for change in seen] == [2]
    assert [change.system_update_id for change in rig.changes] == [2, 3]


async def test_failing_listener_neither_undoes_the_change_nor_silences_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = make_rig()

    def broken(change: TableChange) -> None:
        raise RuntimeError("listener bug")

    rig.table.add_listener(broken)
    seen: list[TableChange] = []
    rig.table.add_listener(seen.append)
    with caplog.at_level(logging.ERROR):
        await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE))
    assert rig.table.number_of_entries == 1
    assert len(seen) == len(rig.changes) == 1
    assert "listener failed" in caplog.text


# ---- static (out-of-band) mappings -----------------------------------------------------------


async def test_static_mapping_has_no_lease_and_never_expires() -> None:
    rig = make_rig()
    await rig.table.add_static(
        external_port=2222,
        protocol="tcp",
        internal_port=22,
        internal_client="192.168.50.10",
        description="ssh to the NAS",
    )
    [view] = rig.table.mappings()
    assert (view.lease_duration, view.description, view.protocol) == (0, "ssh to the NAS", "TCP")
    assert await rig.kernel() == [Redirect("TCP", 2222, "192.168.50.10", 22)]
    assert rig.changes[-1].added == (view,)
    assert rig.table.next_expiry() is None
    rig.clock.advance(10 * 604800)
    await rig.table.expire_due()
    assert rig.table.number_of_entries == 1


async def test_disabled_static_mapping_has_no_kernel_rule() -> None:
    rig = make_rig()
    await rig.table.add_static(
        external_port=2222,
        protocol="UDP",
        internal_port=22,
        internal_client="192.168.50.10",
        remote_host="198.51.100.7",
        enabled=False,
    )
    assert await rig.kernel() == []
    assert rig.table.mappings()[0].remote_host == "198.51.100.7"


async def test_static_mapping_conflicts() -> None:
    rig = make_rig(port_in_use=lambda port, protocol: port == 8123)
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE))
    taken = rig.table.add_static(
        external_port=5000, protocol="TCP", internal_port=1, internal_client="192.168.50.3"
    )
    assert await error_code(taken) == 718
    in_use = rig.table.add_static(
        external_port=8123, protocol="TCP", internal_port=1, internal_client="192.168.50.3"
    )
    assert await error_code(in_use) == 729
    bad = rig.table.add_static(
        external_port=0, protocol="TCP", internal_port=1, internal_client="192.168.50.3"
    )
    assert await error_code(bad) == 716
    assert rig.table.number_of_entries == 1


async def test_remove_static() -> None:
    rig = make_rig()
    await rig.table.add_static(
        external_port=2222, protocol="TCP", internal_port=22, internal_client="192.168.50.10"
    )
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE))
    dynamic = rig.table.remove_static(external_port=5000, protocol="TCP")
    assert await error_code(dynamic) == 714
    missing = rig.table.remove_static(external_port=2223, protocol="TCP")
    assert await error_code(missing) == 714
    await rig.table.remove_static(external_port=2222, protocol="tcp", remote_host="*")
    assert [view.external_port for view in rig.table.mappings()] == [5000]
    assert await rig.kernel() == [Redirect("TCP", 5000, "192.168.50.10", 5000)]
    assert len(rig.changes[-1].removed) == 1


# ---- serialization and commit-after-kernel ---------------------------------------------------


async def test_mapping_is_visible_only_once_the_kernel_has_it() -> None:
    backend = GatedBackend()
    table = MappingTable(backend, VirtualClock())
    adding = asyncio.create_task(table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE)))
    await backend.entered.wait()
    assert table.number_of_entries == 0
    assert (
        read_error_code(
            lambda: table.get_specific_port_mapping_entry(
                CONSOLE, remote_host="", external_port=5000, protocol="TCP"
            )
        )
        == 714
    )
    backend.gate.set()
    await adding
    assert table.number_of_entries == 1


async def test_concurrent_requests_for_one_port_are_serialized() -> None:
    backend = GatedBackend()
    table = MappingTable(backend, VirtualClock())
    clients = [f"192.168.50.{n}" for n in range(20, 30)]
    requests = [
        table.add_port_mapping(TRUSTED, **mapping_args(TRUSTED, internal_client=client))
        for client in clients
    ]
    backend.gate.set()
    results = await asyncio.gather(*requests, return_exceptions=True)
    assert results[0] is None
    assert all(getattr(result, "code", None) == 718 for result in results[1:])
    assert table.mappings()[0].internal_client == clients[0]
    assert await backend.list() == [Redirect("TCP", 5000, clients[0], 5000)]


async def test_concurrent_add_any_requests_get_distinct_ports() -> None:
    backend = GatedBackend()
    table = MappingTable(backend, VirtualClock())
    requests = [
        table.add_any_port_mapping(
            TRUSTED, **mapping_args(TRUSTED, internal_client=f"192.168.50.{n}")
        )
        for n in range(20, 30)
    ]
    backend.gate.set()
    ports = await asyncio.gather(*requests)
    assert sorted(ports) == list(range(4996, 5006))
    assert len(await backend.list()) == 10
