"""Restoring a saved table at start, and answers that wait for the journal (igd.core.commits)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network

import pytest

from igd.backends.memory import MemoryBackend
from igd.core.errors import ACTION_FAILED, NO_SUCH_ENTRY_IN_ARRAY, SPECIFIED_ARRAY_INDEX_INVALID
from igd.core.journal import JournalError, RestoreReport
from igd.core.mappings import MappingTable
from igd.core.nat import NatError, Redirect
from igd.core.records import Entry
from igd.permissions import PermissionRules, default_rules
from igd.policy import GatewayPolicy, LanPermissions
from tests.daemon.mapping_support import (
    CONSOLE,
    LAPTOP,
    TRUSTED,
    PortRules,
    VirtualClock,
    error_code,
    make_rig,
    mapping_args,
    read_error_code,
)

NOW = 1000.0  # VirtualClock's start


def saved(
    port: int, *, client: str = CONSOLE.address, left: float | None = 600.0, enabled: bool = True
) -> Entry:
    """An entry as the store hands it back: `left` seconds of lease on the table's clock."""
    return Entry(
        remote_host="",
        external_port=port,
        protocol="TCP",
        internal_port=port,
        internal_client=client,
        enabled=enabled,
        description=f"saved {port}",
        expires_at=None if left is None else NOW + left,
    )


async def test_restored_entries_keep_their_order_and_remaining_leases() -> None:
    rig = make_rig()
    report = await rig.table.restore([saved(7000, left=90.5), saved(6000), saved(8000, left=30)])

    assert report == RestoreReport(restored=3, expired=0, refused=0, rules_added=3, rules_removed=0)
    walk = [rig.table.get_generic_port_mapping_entry(TRUSTED, i) for i in range(3)]
    assert [(view.external_port, view.lease_duration) for view in walk] == [
        (7000, 91),
        (6000, 600),
        (8000, 30),
    ]
    assert read_error_code(lambda: rig.table.get_generic_port_mapping_entry(TRUSTED, 3)) == (
        SPECIFIED_ARRAY_INDEX_INVALID
    )
    assert [rule.external_port for rule in await rig.kernel()] == [6000, 7000, 8000]


async def test_restore_changes_the_kernel_only_where_it_differs() -> None:
    backend = MemoryBackend()
    kept, stale = saved(6000).redirect(), Redirect("UDP", 6001, "192.168.50.99", 6001)
    moved = Redirect("TCP", 6002, CONSOLE.address, 9999)  # same port, other internal port
    await backend.apply(add=[kept, stale, moved])
    rig = make_rig(backend=backend)

    report = await rig.table.restore([saved(6000), saved(6002), saved(6003)])

    assert (report.rules_added, report.rules_removed) == (2, 2)  # 6002 replaced, 6003 new
    assert await rig.kernel() == sorted([kept, saved(6002).redirect(), saved(6003).redirect()])


async def test_an_empty_store_clears_our_kernel_table() -> None:
    backend = MemoryBackend()
    await backend.apply(add=[saved(6000).redirect(), saved(6001).redirect()])
    rig = make_rig(backend=backend)

    report = await rig.table.restore([])

    assert report == RestoreReport(0, 0, 0, 0, 2)
    assert await rig.kernel() == []


async def test_leases_that_ended_while_stopped_are_left_out() -> None:
    backend = MemoryBackend()
    await backend.apply(add=[saved(6000).redirect()])  # its rule outlived the daemon
    rig = make_rig(backend=backend)

    report = await rig.table.restore([saved(6000, left=0), saved(6001, left=-3600), saved(6002)])

    assert (report.restored, report.expired, report.rules_removed) == (1, 2, 1)
    assert [view.external_port for view in rig.table.mappings()] == [6002]
    assert await rig.kernel() == [saved(6002).redirect()]


async def test_what_the_rules_and_limits_refuse_now_is_left_out() -> None:
    rig = make_rig(permissions=PortRules(range(6000, 7000)), max_mappings=3, max_per_client=2)

    report = await rig.table.restore(
        [
            saved(6000),
            saved(6000, client=LAPTOP.address),  # the same key twice: the first wins
            saved(7500),  # outside the allowed ports now
            saved(6001),
            saved(6002),  # a third for CONSOLE: over its limit
            saved(6003, client=LAPTOP.address),
            saved(6004, client="192.168.50.12"),  # a fourth mapping: over the global limit
        ]
    )

    assert (report.restored, report.refused) == (3, 4)
    assert [(view.external_port, view.internal_client) for view in rig.table.mappings()] == [
        (6000, CONSOLE.address),
        (6001, CONSOLE.address),
        (6003, LAPTOP.address),
    ]


async def test_a_port_taken_by_the_host_is_left_out() -> None:
    rig = make_rig(port_in_use=lambda port, protocol: (port, protocol) == (6001, "TCP"))

    report = await rig.table.restore([saved(6000), saved(6001)])

    assert (report.restored, report.refused) == (1, 1)


async def test_a_disabled_entry_comes_back_without_a_rule() -> None:
    rig = make_rig()

    await rig.table.restore([saved(6000, enabled=False), saved(6001)])

    assert [view.enabled for view in rig.table.mappings()] == [False, True]
    assert await rig.kernel() == [saved(6001).redirect()]


async def test_restored_mappings_behave_as_any_other() -> None:
    rig = make_rig()
    await rig.table.restore([saved(6000, left=100), saved(6001, left=500)])
    system_update_id = rig.table.system_update_id

    rig.clock.advance(100)
    await rig.table.expire_due()
    await rig.table.delete_port_mapping(CONSOLE, remote_host="", external_port=6001, protocol="TCP")

    assert rig.changes[0].system_update_id == system_update_id + 1  # restore sent no event
    assert [len(change.expired) for change in rig.changes] == [1, 0]
    assert rig.table.mappings() == []
    assert await rig.kernel() == []


async def test_restore_needs_an_empty_table() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE))

    with pytest.raises(RuntimeError):
        await rig.table.restore([saved(6000)])


async def test_a_kernel_refusal_leaves_table_and_kernel_as_they_were() -> None:
    backend = MemoryBackend(capacity=1)
    await backend.apply(add=[Redirect("UDP", 6100, "192.168.50.99", 6100)])
    rig = make_rig(backend=backend)

    with pytest.raises(NatError):
        await rig.table.restore([saved(6000), saved(6001)])

    assert rig.table.mappings() == []
    assert await rig.kernel() == [Redirect("UDP", 6100, "192.168.50.99", 6100)]


async def test_the_gateway_cuts_restored_leases_to_its_longest_and_applies_its_policy() -> None:
    networks = (IPv4Network("192.168.50.0/24"),)
    permissions = LanPermissions(
        external_ports=(1024, 65535),
        networks=networks,
        own_addresses=frozenset({IPv4Address("192.168.50.1")}),
        reserved_ports=frozenset({8123}),
        rules=PermissionRules(default_rules(networks)),
    )
    table = MappingTable(
        MemoryBackend(),
        permissions=permissions,
        # max_lease was lowered since the save
        policy=GatewayPolicy(permissions, shortest_lease=1, longest_lease=3600),
    )
    now = time.monotonic()
    long_lease = replace(saved(6000), expires_at=now + 7 * 86400)
    to_the_gateway = replace(saved(6001, client="192.168.50.1"), expires_at=now + 60)

    report = await table.restore([long_lease, to_the_gateway])

    assert (report.restored, report.refused) == (1, 1)
    [restored] = table.mappings()
    assert 3000 < restored.lease_duration <= 3600


# ---- answers wait for the journal -----------------------------------------------------------


class GatedJournal:
    """A journal whose writes finish when the test says so (a slow disk)."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.waiting = 0

    async def durable(self) -> None:
        self.waiting += 1
        await self.gate.wait()


class FullDiskJournal:
    """A journal that cannot write."""

    async def durable(self) -> None:
        raise JournalError("no space left on device")


async def test_an_add_is_answered_only_once_the_journal_holds_it() -> None:
    journal = GatedJournal()
    table = MappingTable(MemoryBackend(), VirtualClock(), journal=journal)
    first = asyncio.create_task(table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE)))
    second = asyncio.create_task(
        table.add_port_mapping(LAPTOP, **mapping_args(LAPTOP, external_port=5001))
    )
    for _ in range(10):  # bounded: let both run as far as they can
        await asyncio.sleep(0)

    # both committed (the lock is not held while waiting), neither answered yet
    assert journal.waiting == 2
    assert table.number_of_entries == 2
    assert not first.done() and not second.done()
    journal.gate.set()
    await asyncio.gather(first, second)


async def test_a_change_the_journal_cannot_save_is_501_and_stays() -> None:
    table = MappingTable(MemoryBackend(), VirtualClock(), journal=FullDiskJournal())

    code = await error_code(table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE)))

    assert code == ACTION_FAILED
    # the kernel forwards it and a retry by the client simply renews it
    assert table.number_of_entries == 1


async def test_refused_actions_do_not_wait_for_the_journal() -> None:
    journal = GatedJournal()
    table = MappingTable(MemoryBackend(), VirtualClock(), journal=journal)

    code = await error_code(
        table.delete_port_mapping(CONSOLE, remote_host="", external_port=5000, protocol="TCP")
    )

    assert code == NO_SUCH_ENTRY_IN_ARRAY
    assert journal.waiting == 0
