"""When each lease ends, so the daemon sleeps until the next one instead of scanning the table.

A heap with lazy deletion: renewing or deleting a mapping leaves its old heap entry behind, and
an entry counts only while it matches the key's current expiry time. The heap is rebuilt when
stale entries outnumber live ones, so it stays O(n) in size and every operation O(log n).
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable

_SLACK = 64


class ExpiryQueue[K: Hashable]:
    """Expiry times by key; `pop_due` hands out the keys whose time has come."""

    def __init__(self) -> None:
        self._when: dict[K, float] = {}
        self._heap: list[tuple[float, int, K]] = []
        self._pushes = 0  # tie-breaker, so keys themselves are never compared

    def __len__(self) -> int:
        return len(self._when)

    def set(self, key: K, when: float) -> None:
        """Set (or move) the expiry time of `key`."""
        if self._when.get(key) == when:
            return
        self._when[key] = when
        self._pushes += 1
        heapq.heappush(self._heap, (when, self._pushes, key))
        if len(self._heap) > 2 * len(self._when) + _SLACK:
            self._rebuild()

    def discard(self, key: K) -> None:
        """Forget `key` (no error if it has no expiry time)."""
        self._when.pop(key, None)

    def next(self) -> float | None:
        """The earliest expiry time, or None when nothing expires."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[tuple[K, float]]:
        """Remove and return every (key, time) with time <= now, earliest first."""
        due: list[tuple[K, float]] = []
        self._drop_stale()
        while self._heap and self._heap[0][0] <= now:
            when, _, key = heapq.heappop(self._heap)
            del self._when[key]
            due.append((key, when))
            self._drop_stale()
        return due

    def _rebuild(self) -> None:
        """One heap entry per key, the current one."""
        self._heap = [(when, n, key) for n, (key, when) in enumerate(self._when.items())]
        heapq.heapify(self._heap)
        self._pushes = len(self._heap)

    def _drop_stale(self) -> None:
        while self._heap and self._when.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
