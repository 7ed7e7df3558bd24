"""Change events of the mapping table and the SystemUpdateID that counts them (5.4, 5.5).

One event per action, however many mappings it touched (a range delete is +1), so a front-end
sends one NOTIFY carrying both PortMappingNumberOfEntries and SystemUpdateID.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from igd.core.records import MappingView, TableChange

_LOGGER = logging.getLogger(__name__)

UI4_MAX = 4294967295  # SystemUpdateID is a ui4 [2.3.23]; Ours: it wraps to 0
INITIAL_SYSTEM_UPDATE_ID = 1  # Ours: 1 at every daemon start, not persisted (5.4)

type ChangeListener = Callable[[TableChange], None]


def next_system_update_id(current: int) -> int:
    """SystemUpdateID after one more change event: +1, wrapping 4294967295 to 0 (5.4, Ours)."""
    return 0 if current >= UI4_MAX else current + 1


class ChangeEvents:
    """Counts change events and hands each one to every listener."""

    def __init__(self) -> None:
        self._listeners: list[ChangeListener] = []
        self.system_update_id = INITIAL_SYSTEM_UPDATE_ID

    def add_listener(self, callback: ChangeListener) -> Callable[[], None]:
        """Call `callback` after every change event; returns a function that stops it."""
        self._listeners.append(callback)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(callback)

        return remove

    def publish(
        self,
        number_of_entries: int,
        *,
        added: tuple[MappingView, ...] = (),
        removed: tuple[MappingView, ...] = (),
        expired: tuple[MappingView, ...] = (),
        updated: tuple[MappingView, ...] = (),
    ) -> None:
        """Count one committed change and tell every listener about it."""
        self.system_update_id = next_system_update_id(self.system_update_id)
        change = TableChange(
            system_update_id=self.system_update_id,
            number_of_entries=number_of_entries,
            added=added,
            removed=removed,
            expired=expired,
            updated=updated,
        )
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:  # a broken listener must not undo a committed change
                _LOGGER.exception("mapping table listener failed")
