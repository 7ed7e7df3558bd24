"""The table's entries and every lookup the actions need, without scanning the table to add.

By key (ExternalPort, Protocol) for adds, deletes and GetSpecific; by creation index for
GetGeneric (a Fenwick tree, O(log n)); by internal client for restricted callers' filtered view
and the per-client limit; by expiry time for the lease clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from igd.core.errors import NO_SUCH_ENTRY_IN_ARRAY, UpnpError
from igd.core.expiry import ExpiryQueue
from igd.core.order import CreationOrder
from igd.core.records import Entry, MappingKey


class MappingIndex:
    """Entries in creation order; replacing an entry keeps its place."""

    def __init__(self) -> None:
        self._entries: dict[MappingKey, Entry] = {}  # dict order is creation order
        self._order = CreationOrder[MappingKey]()
        self._by_client: dict[str, dict[MappingKey, None]] = {}  # each in creation order
        self._dynamic_per_client: Counter[str] = Counter()
        self._expiry = ExpiryQueue[MappingKey]()
        self._version = 0  # changes with every insert, replace and remove

    @property
    def version(self) -> int:
        """A number that differs after any change: a reader's position is valid while it holds."""
        return self._version

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())

    def get(self, key: MappingKey) -> Entry | None:
        return self._entries.get(key)

    def lookup(self, remote_host: str, external_port: int, protocol: str) -> Entry:
        """The entry of exactly this triple, else 714; "" matches only a wildcard RemoteHost."""
        entry = self._entries.get((external_port, protocol))
        if entry is None or entry.remote_host != remote_host:
            raise UpnpError(NO_SUCH_ENTRY_IN_ARRAY)
        return entry

    def at(self, index: int) -> Entry:
        """The entry at 0-based creation index (IndexError when out of range)."""
        return self._entries[self._order.at(index)]

    def of_client(self, internal_client: str) -> Iterator[Entry]:
        """The entries of one internal client, in creation order."""
        for key in self._by_client.get(internal_client, {}):
            yield self._entries[key]

    def dynamic_count(self, internal_client: str) -> int:
        """How many leased (not static) entries point at this internal client."""
        return self._dynamic_per_client[internal_client]

    def in_range(self, start_port: int, end_port: int, protocol: str) -> list[Entry]:
        """Entries of `protocol` with start <= ExternalPort <= end, by external port."""
        if end_port - start_port < len(self._entries):
            found = (
                self._entries.get((port, protocol)) for port in range(start_port, end_port + 1)
            )
            return [entry for entry in found if entry is not None]
        return sorted(
            (
                entry
                for entry in self._entries.values()
                if entry.protocol == protocol and start_port <= entry.external_port <= end_port
            ),
            key=lambda entry: entry.external_port,
        )

    def insert(self, entry: Entry) -> None:
        """Add a new entry at the end of the creation order."""
        key = entry.key
        self._version += 1
        self._entries[key] = entry
        self._order.append(key)
        self._by_client.setdefault(entry.internal_client, {})[key] = None
        if entry.expires_at is not None:
            self._dynamic_per_client[entry.internal_client] += 1
            self._expiry.set(key, entry.expires_at)

    def replace(self, entry: Entry) -> None:
        """Put a new version of a leased entry (same key and client) in the old one's place."""
        assert entry.expires_at is not None  # static entries are never overwritten
        self._version += 1
        self._entries[entry.key] = entry
        self._expiry.set(entry.key, entry.expires_at)

    def remove(self, entry: Entry) -> None:
        key = entry.key
        self._version += 1
        del self._entries[key]
        self._order.remove(key)
        own = self._by_client[entry.internal_client]
        del own[key]
        if not own:
            del self._by_client[entry.internal_client]
        if entry.expires_at is not None:
            self._dynamic_per_client[entry.internal_client] -= 1
            if not self._dynamic_per_client[entry.internal_client]:
                del self._dynamic_per_client[entry.internal_client]
            self._expiry.discard(key)

    def next_expiry(self) -> float | None:
        return self._expiry.next()

    def take_due(self, now: float) -> list[Entry]:
        """Entries whose lease ended by `now`; they leave the lease clock (not the table).

        Put one back on the clock with `replace` if it cannot be removed after all.
        """
        return [self._entries[key] for key, _ in self._expiry.pop_due(now)]
