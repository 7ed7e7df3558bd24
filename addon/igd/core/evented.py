"""Tell listeners which evented state variables changed, with their wire values.

A service's model calls `publish()` after each change; listeners (the GENA front-end) get only the
variables whose value differs from what they were last told, so one action that changes two
variables makes one call, and a change that is undone before `publish()` makes none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

type VariablesListener = Callable[[Mapping[str, str]], None]


class EventedVariables:
    """The last published values of one service's evented variables, read through `read`."""

    def __init__(self, read: Callable[[], dict[str, str]]) -> None:
        self._read = read
        self._published = read()
        self._listeners: list[VariablesListener] = []

    def add_listener(self, listener: VariablesListener) -> None:
        self._listeners.append(listener)

    def publish(self) -> None:
        current = self._read()
        changed = {name: value for name, value in current.items() if self._published[name] != value}
        self._published = current
        if changed:
            for listener in self._listeners:
                listener(changed)
