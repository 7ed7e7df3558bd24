"""The read actions of the mapping table (5.6.14, 5.6.15, 5.6.21).

Reads never wait for the table's lock: the table changes only between two awaits, so each read
sees one consistent state. Leases are reported as the seconds left at the moment of the read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice

from igd.core import restrictions
from igd.core.arguments import check_port_range, check_protocol, check_remote_host, check_ui2
from igd.core.errors import (
    ACTION_NOT_AUTHORIZED,
    PORT_MAPPING_NOT_FOUND,
    SPECIFIED_ARRAY_INDEX_INVALID,
    UpnpError,
)
from igd.core.index import MappingIndex
from igd.core.records import Caller, Entry, MappingView

MAX_WALKS = 64  # restricted callers whose walk position is kept


@dataclass(slots=True)
class _Walk:
    """Where a restricted caller's GetGeneric walk stands, while the table is unchanged."""

    version: int
    next_index: int
    rest: Iterator[Entry]


class MappingTableReader:
    """The table's entries as callers may read them."""

    def __init__(self, clock: Callable[[], float], *, expose_all_mappings: bool) -> None:
        self._clock = clock
        self._expose_all = expose_all_mappings
        self._entries = MappingIndex()
        # A restricted caller's index counts in its own filtered view, which has no index of its
        # own: a walk 0, 1, 2... goes on from where the last call stopped instead of from 0.
        self._walks: dict[str, _Walk] = {}

    @property
    def number_of_entries(self) -> int:
        """PortMappingNumberOfEntries: every entry, static and disabled ones included [2.3.14]."""
        return len(self._entries)

    def mappings(self) -> list[MappingView]:
        """The whole table in creation order."""
        now = self._clock()
        return [entry.view(now) for entry in self._entries]

    def entries(self) -> list[Entry]:
        """Every entry as kept, its lease an end time on the table's clock (for the lease store)."""
        return list(self._entries)

    def entry(self, external_port: int, protocol: str) -> Entry | None:
        """The entry of (ExternalPort, Protocol) as kept, or None (for the lease store)."""
        return self._entries.get((external_port, protocol))

    def next_expiry(self) -> float | None:
        """Clock time at which the next lease ends, None when no lease runs."""
        return self._entries.next_expiry()

    def get_generic_port_mapping_entry(self, caller: Caller, index: int) -> MappingView:
        """GetGenericPortMappingEntry by 0-based index in creation order (713 past the end).

        Ours: a restricted caller sees a filtered view, its own R5 entries with ExternalPort
        >= 1024 only, so a walk until 713 lists exactly what it may read (5.6.0).
        """
        caller = self._reading(caller)
        now = self._clock()
        if index < 0:
            raise UpnpError(SPECIFIED_ARRAY_INDEX_INVALID)
        if caller.authorized:
            try:
                return self._entries.at(index).view(now)
            except IndexError:
                raise UpnpError(SPECIFIED_ARRAY_INDEX_INVALID) from None
        found = self._own_entry_at(caller, index)
        if found is None:
            raise UpnpError(SPECIFIED_ARRAY_INDEX_INVALID)
        return found.view(now)

    def get_specific_port_mapping_entry(
        self, caller: Caller, *, remote_host: str, external_port: int, protocol: str
    ) -> MappingView:
        """GetSpecificPortMappingEntry of exactly (RemoteHost, ExternalPort, Protocol)."""
        caller = self._reading(caller)
        protocol = check_protocol(protocol)
        check_ui2(external_port)
        remote_host = check_remote_host(remote_host)
        restrictions.check_port_argument(caller, external_port)  # R3
        entry = self._entries.lookup(remote_host, external_port, protocol)
        if not restrictions.owns(caller, entry):  # R5
            raise UpnpError(ACTION_NOT_AUTHORIZED, "R5: not the caller's entry")
        return entry.view(self._clock())

    def get_list_of_port_mappings(
        self,
        caller: Caller,
        *,
        start_port: int,
        end_port: int,
        protocol: str,
        manage: bool,
        number_of_ports: int,
    ) -> list[MappingView]:
        """GetListOfPortMappings: entries of the range by external port, NumberOfPorts 0 = all.

        Entries the caller may not read are skipped; 730 when nothing is left.
        """
        caller = self._reading(caller)
        protocol = check_protocol(protocol)
        check_port_range(start_port, end_port)
        check_ui2(number_of_ports)
        restrictions.check_port_argument(caller, start_port)  # R4
        manage = restrictions.effective_manage(caller, manage)  # R6
        now = self._clock()
        chosen = (
            entry.view(now)
            for entry in self._entries.in_range(start_port, end_port, protocol)
            if (manage or entry.internal_client == caller.address)
            and restrictions.owns(caller, entry)  # R5
        )
        listing = list(islice(chosen, number_of_ports or None))
        if not listing:
            raise UpnpError(PORT_MAPPING_NOT_FOUND)
        return listing

    def _own_entry_at(self, caller: Caller, index: int) -> Entry | None:
        """The `index`-th entry of a restricted caller's view, R5 and ExternalPort >= 1024."""
        walk = self._walks.pop(caller.address, None)
        if walk is None or walk.version != self._entries.version or walk.next_index > index:
            own = (
                entry
                for entry in self._entries.of_client(caller.address)
                if restrictions.owns(caller, entry)
                and entry.external_port >= restrictions.MIN_UNPRIVILEGED_PORT
            )
            walk = _Walk(self._entries.version, 0, own)
        found = next(islice(walk.rest, index - walk.next_index, None), None)
        if found is not None:
            walk.next_index = index + 1
            self._walks[caller.address] = walk
            if len(self._walks) > MAX_WALKS:
                del self._walks[next(iter(self._walks))]  # the longest unused
        return found

    def _reading(self, caller: Caller) -> Caller:
        """With `expose_all_mappings`, every caller reads as an authorized one (miniupnpd's way)."""
        if self._expose_all and not caller.authorized:
            return Caller(address=caller.address, authorized=True)
        return caller
