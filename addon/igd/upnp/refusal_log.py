"""Every refusal in the log, with its source, but never a flood (security-notes.md 4).

A host on the LAN can send thousands of refused requests a second; the log shows the first few of
each source in a window, then one line saying the rest of that window is held back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from igd.core.errors import (
    ACTION_NOT_AUTHORIZED,
    CONFLICT_IN_MAPPING_ENTRY,
    CONFLICT_WITH_OTHER_MECHANISMS,
    NO_PORT_MAPS_AVAILABLE,
)

WINDOW = 60.0  # seconds
LINES_PER_SOURCE = 5  # per window
MAX_TRACKED_SOURCES = 1024  # per window; sources beyond are not logged
# The action errors that are a refusal by policy, limits or conflicts (a user asks "why not?"),
# as opposed to the ordinary answers of a lookup (713 ends every listing walk).
POLICY_REFUSALS = frozenset(
    {
        ACTION_NOT_AUTHORIZED,
        CONFLICT_IN_MAPPING_ENTRY,
        NO_PORT_MAPS_AVAILABLE,
        CONFLICT_WITH_OTHER_MECHANISMS,
    }
)


class RefusalLog:
    """Logs refusals at INFO, at most LINES_PER_SOURCE per source and WINDOW."""

    def __init__(self, logger: logging.Logger, clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._clock = clock
        self._window_start = clock()
        self._lines: dict[str, int] = {}

    def refused(self, source: str, message: str, *args: object) -> None:
        """Log `message % args` for `source` unless its share of this window is used up."""
        now = self._clock()
        if now - self._window_start >= WINDOW:
            self._window_start, self._lines = now, {}
        lines = self._lines.get(source)
        if lines is None and len(self._lines) >= MAX_TRACKED_SOURCES:
            return
        lines = (lines or 0) + 1
        self._lines[source] = lines
        if lines <= LINES_PER_SOURCE:
            self._logger.info(message, *args)
        elif lines == LINES_PER_SOURCE + 1:
            self._logger.info(
                "further refusals for %s are not logged for %d s", source, int(WINDOW)
            )
