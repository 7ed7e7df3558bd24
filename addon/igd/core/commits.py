"""How a change of the mapping table is committed, whichever action makes it.

Kernel first, then the table, then one change event; the caller is answered only after that and,
when the table keeps a journal (the lease store), once the journal holds the change. The rules
that decide whether a change may happen live in igd.core.mappings, above this.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace

from igd.core.arguments import MappingRequest
from igd.core.errors import ACTION_FAILED, UpnpError
from igd.core.events import ChangeEvents, ChangeListener
from igd.core.journal import Journal, JournalError
from igd.core.nat import NatBackend, NatError, Redirect
from igd.core.reads import MappingTableReader
from igd.core.records import Entry, kernel_rules


class CommittingTable(MappingTableReader):
    """The table's writes: one at a time, each in the kernel before the table, then evented."""

    def __init__(
        self,
        backend: NatBackend,
        clock: Callable[[], float],
        *,
        expose_all_mappings: bool,
        journal: Journal | None,
    ) -> None:
        super().__init__(clock, expose_all_mappings=expose_all_mappings)
        self._backend = backend
        self._journal = journal
        self._lock = asyncio.Lock()
        self._events = ChangeEvents()

    @property
    def system_update_id(self) -> int:
        """SystemUpdateID [2.3.23]."""
        return self._events.system_update_id

    def add_listener(self, callback: ChangeListener) -> Callable[[], None]:
        """Call `callback` after every change event; returns a function that stops it."""
        return self._events.add_listener(callback)

    @contextlib.asynccontextmanager
    async def _changing(self) -> AsyncIterator[None]:
        """Hold the lock for a change; once released, wait until the journal holds the change.

        Waiting outside the lock lets the journal write the changes of many callers at once.
        A change the journal cannot save stays made (the kernel forwards it) but its caller gets
        501, so no client is told of a change a restart could lose; it may simply try again.
        """
        async with self._lock:
            yield
        if self._journal is not None:
            try:
                await self._journal.durable()
            except JournalError as err:
                raise UpnpError(ACTION_FAILED, f"change not saved: {err}") from err

    async def _create(self, request: MappingRequest, port: int, *, static: bool = False) -> None:
        entry = Entry.of_request(request, port, expires_at=None)
        await self._apply(add=kernel_rules([entry]))
        now = self._clock()  # the lease runs from the moment the kernel has the rule
        if not static:
            entry = replace(entry, expires_at=now + request.lease_duration)
        self._entries.insert(entry)
        self._events.publish(len(self._entries), added=(entry.view(now),))

    async def _overwrite(self, existing: Entry, request: MappingRequest) -> None:
        """New InternalPort, description, enabled flag and lease (from now), in the same place."""
        entry = replace(
            existing,
            internal_port=request.internal_port,
            enabled=request.enabled,
            description=request.description,
        )
        old_rules, new_rules = kernel_rules([existing]), kernel_rules([entry])
        if old_rules != new_rules:  # a pure renewal leaves the kernel alone
            await self._apply(add=new_rules, remove=old_rules)
        now = self._clock()
        entry = replace(entry, expires_at=now + request.lease_duration)
        self._entries.replace(entry)
        # Ours: a renewal is an update too, +1 (as igd2-for-linux)
        self._events.publish(len(self._entries), updated=(entry.view(now),))

    async def _delete(self, entries: list[Entry]) -> None:
        await self._apply(remove=kernel_rules(entries))
        now = self._clock()
        for entry in entries:
            self._entries.remove(entry)
        self._events.publish(
            len(self._entries), removed=tuple(entry.view(now) for entry in entries)
        )

    async def _apply(self, add: Sequence[Redirect] = (), remove: Sequence[Redirect] = ()) -> None:
        """Make the change in the kernel; a refusal is 501 with nothing changed (5.6.0b step 10)."""
        if not add and not remove:
            return
        try:
            await self._backend.apply(add=add, remove=remove)
        except NatError as err:
            raise UpnpError(ACTION_FAILED, f"NAT backend refused: {err}") from err

    async def _reconcile(self, entries: Sequence[Entry]) -> tuple[int, int]:
        """Put `entries` into the empty table after making the kernel hold exactly their rules.

        One backend change adds what the kernel lacks and removes what the entries lack; a rule
        held as it should be is left alone. Returns (rules added, rules removed); on NatError
        the table stays empty and the kernel as it was.
        """
        wanted, held = set(kernel_rules(entries)), set(await self._backend.list())
        add, remove = sorted(wanted - held), sorted(held - wanted)
        if add or remove:
            await self._backend.apply(add=add, remove=remove)
        for entry in entries:
            self._entries.insert(entry)
        return len(add), len(remove)
