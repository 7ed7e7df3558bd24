"""The lease store: the mapping table and the connection settings, kept across restarts.

One JSON Lines file in the data folder: a header (format version, connection settings), then one
line per leased mapping with its lease end as wall-clock time, so the time left survives a
restart. Later changes are appended: a mapping line again (an overwrite keeps its place), a
`removed` line, a `connection` line; so a change costs one short write whatever the table's size.
When the appended lines outgrow the table, the file is compacted: rewritten whole, atomically
(temporary file, fsync, rename, fsync of the folder). A reader keeps the last state each line
gives, and drops a last line that a power cut left unfinished.

A change is acknowledged once its line is written to the kernel: that survives the daemon's crash
or `kill -9`. The fsync that makes it survive a power cut follows within SYNC_DELAY, shared by
every change of that second (an fsync per change would cost milliseconds on each add: clients
renew their mappings anyway, so a power cut may lose at most the last second of changes).
Changes that arrive while a write is under way go together into the next one (a group commit).
Static mappings are not kept: they come from the configuration at every start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from igd.core.arguments import MAX_LEASE_DURATION, check_mapping_request
from igd.core.connection_values import ConnectionSettings
from igd.core.errors import UpnpError
from igd.core.journal import JournalError
from igd.core.records import Entry, MappingKey, TableChange
from igd.core.wan_interface import UI4_MAX
from igd.heap import release_free_heap

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from igd.core.connection import ConnectionModel
    from igd.core.mappings import MappingTable

LOG = logging.getLogger(__name__)

STORE_FILE = "leases.jsonl"
STORE_VERSION = 1  # the header's "version"; a file of another version is set aside, not guessed at
SET_ASIDE_SUFFIX = ".corrupt"
CLOCK_SLACK = (
    1.0  # seconds the wall clock may move against the monotonic one before lines are redone
)
_TIMER_SETTINGS = ("auto_disconnect_time", "idle_disconnect_time", "warn_disconnect_delay")
SYNC_DELAY = 1.0  # seconds from a change's write to its fsync
COMPACT_AFTER = 1000  # appended lines tolerated beyond twice the table's own before a rewrite


@dataclass(frozen=True, slots=True)
class SavedState:
    """What the last run saved: mappings (leases on the table's clock, ended ones included)."""

    entries: tuple[Entry, ...] = ()
    settings: ConnectionSettings | None = None  # None when nothing was saved


class LeaseStore:
    """The store in `data_dir`: `load` once at start, then `watch` the table and the connection.

    It is the table's journal: `durable()` returns once every change made so far is on disk.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock` is the mapping table's; `wall_clock` the one lease ends are saved in."""
        self.path = data_dir / STORE_FILE
        self.writes = 0  # files written so far
        self._clock = clock
        self._wall_clock = wall_clock
        self._table: MappingTable | None = None
        self._settings: Callable[[], ConnectionSettings] = ConnectionSettings
        self._changes = 0  # changes seen
        self._saved = 0  # changes on disk
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._offset = math.nan  # wall clock minus table clock the lines are made with
        self._pending: list[str] = []  # lines to append at the next write
        self._appended = 0  # lines appended since the file was last written whole
        self._compact = True  # the next write rewrites the file whole
        self._syncer: asyncio.Task[None] | None = None

    def load(self) -> SavedState:
        """The saved state; an unreadable file is logged, set aside, and read as empty."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return SavedState()
        except (OSError, ValueError) as error:
            return self._set_aside(f"cannot read it: {error}")
        try:
            return self._parse(text)
        except (ValueError, TypeError, KeyError, UpnpError) as error:
            return self._set_aside(str(error))

    def watch(self, table: MappingTable, connection: ConnectionModel) -> None:
        """Save `table` and the connection's settings from now on, after each of their changes."""
        self._table = table
        self._settings = lambda: connection.settings
        self._offset = self._wall_clock() - self._clock()
        table.add_listener(self._table_changed)
        connection.add_settings_listener(self._settings_changed)

    def changed(self) -> None:
        """Something to save changed: save soon, with whatever else changes meanwhile."""
        self._changes += 1
        self._start_writer()

    async def durable(self) -> None:
        """Return once every change seen so far is on disk; JournalError if it cannot be saved."""
        target = self._changes
        if self._saved >= target:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((target, waiter))
        self._start_writer()  # in case the last save failed and nothing changed since
        await waiter

    async def close(self) -> None:
        """Finish saving (or fail to, logged) what changed; the daemon is stopping."""
        if self._writer is not None:
            await self._writer
        if self._saved < self._changes:
            await self._save_pending()
        if self._syncer is not None:
            self._syncer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._syncer
        if self.path.exists():
            await asyncio.to_thread(sync_file, self.path)

    def _start_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(
                self._save_pending(), name="lease store"
            )

    async def _save_pending(self) -> None:
        """Save until nothing is pending; after a failure, fail every waiter and stop."""
        while self._saved < self._changes:
            target = self._changes
            whole = self._whole_file_due()
            data = self._document() if whole else "".join(f"{line}\n" for line in self._pending)
            appended = len(self._pending)
            self._pending = []
            try:
                if whole:
                    await asyncio.to_thread(replace_file, self.path, data.encode())
                else:  # a write into the page cache: less than a hand-over to a thread costs
                    append_file(self.path, data.encode())
            except OSError as error:
                LOG.error("cannot save the mappings to %s: %s", self.path, error)
                self._compact = True  # what was lost is in the next whole file
                failure = JournalError(f"cannot write {self.path.name}: {error.strerror or error}")
                self._settle(self._changes, failure)
                return
            if whole:
                self._compact, self._appended = False, 0
                del data  # a line per mapping: megabytes the heap may give back now
                release_free_heap()
            else:
                self._appended += appended
                self._sync_soon()
            self.writes += 1
            self._saved = target
            self._settle(target)

    def _whole_file_due(self) -> bool:
        """Rewrite the file whole: first save, after a failure, a clock change, or much appended."""
        offset = self._wall_clock() - self._clock()
        if not abs(offset - self._offset) <= CLOCK_SLACK:  # the wall clock was set
            self._offset = offset
            self._compact = True
        entries = 0 if self._table is None else self._table.number_of_entries
        return self._compact or self._appended > COMPACT_AFTER + 2 * entries

    def _sync_soon(self) -> None:
        if self._syncer is None or self._syncer.done():
            self._syncer = asyncio.get_running_loop().create_task(self._sync(), name="fsync")

    async def _sync(self) -> None:
        await asyncio.sleep(SYNC_DELAY)
        try:
            await asyncio.to_thread(sync_file, self.path)
        except OSError as error:
            LOG.error("cannot flush %s to disk: %s", self.path, error)
            self._compact = True

    def _settle(self, up_to: int, failure: JournalError | None = None) -> None:
        """Answer the waiters for changes up to `up_to`: saved, or `failure`."""
        waiting = []
        for target, waiter in self._waiters:
            if target > up_to:
                waiting.append((target, waiter))
            elif not waiter.done():  # a caller that went away has cancelled its waiter
                if failure is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(failure)
        self._waiters = waiting

    def _table_changed(self, change: TableChange) -> None:
        """Append the lines of the mappings this change touched (a reader keeps the last one).

        A removed static mapping (it reports a lease of 0) was never saved, so it needs no line.
        """
        leased = [view for view in change.removed if view.lease_duration]
        for view in (*leased, *change.expired):
            removed = {"external_port": view.external_port, "protocol": view.protocol}
            self._pending.append(json.dumps({"removed": removed}))
        for view in (*change.added, *change.updated):
            entry = self._table.entry(view.external_port, view.protocol) if self._table else None
            if entry is not None and entry.expires_at is not None:  # static ones are not kept
                self._pending.append(self._line(entry))
        self.changed()

    def _settings_changed(self, settings: ConnectionSettings) -> None:
        self._pending.append(json.dumps({"connection": asdict(settings)}))
        self.changed()

    def _document(self) -> str:
        """The whole file now: a fresh header, then a line per leased mapping in the table's order.

        Made from the table each time rather than kept: 10,000 lines would hold 2 MB.
        """
        header = {"version": STORE_VERSION, "connection": asdict(self._settings())}
        entries = self._table.entries() if self._table is not None else []
        lines = (self._line(entry) for entry in entries if not entry.static)
        return "\n".join([json.dumps(header), *lines, ""])

    def _line(self, entry: Entry) -> str:
        assert entry.expires_at is not None  # static entries are not saved
        return json.dumps(
            {
                "remote_host": entry.remote_host,
                "external_port": entry.external_port,
                "protocol": entry.protocol,
                "internal_port": entry.internal_port,
                "internal_client": entry.internal_client,
                "enabled": entry.enabled,
                "description": entry.description,
                "expires_at": round(entry.expires_at + self._offset, 3),
            }
        )

    def _parse(self, text: str) -> SavedState:
        lines = text.splitlines()
        if not lines:
            raise ValueError("the file is empty")
        header = _object(json.loads(lines[0]), "header")
        if header.get("version") != STORE_VERSION:
            raise ValueError(f"format version {header.get('version')!r}, not {STORE_VERSION}")
        settings = _settings(_object(header["connection"], "connection"))
        wall_now, now = self._wall_clock(), self._clock()
        entries: dict[MappingKey, Entry] = {}
        unfinished = not text.endswith("\n")  # the last append was cut by a power loss
        for number, line in enumerate(lines[1:], start=2):
            try:
                saved = _object(json.loads(line), "line")
                if "removed" in saved:
                    removed = _object(saved["removed"], "removed mapping")
                    key = (_typed(removed, "external_port", int), _typed(removed, "protocol", str))
                    entries.pop(key, None)
                elif "connection" in saved:
                    settings = _settings(_object(saved["connection"], "connection"))
                else:
                    entry = _entry(saved, now + _remaining(saved, wall_now))
                    entries[entry.key] = entry  # an overwrite keeps its place
            except (ValueError, TypeError, KeyError, UpnpError) as error:
                if unfinished and number == len(lines):
                    LOG.warning("%s: dropping its unfinished last line", self.path)
                    break
                raise ValueError(f"line {number}: {error}") from error
        return SavedState(entries=tuple(entries.values()), settings=settings)

    def _set_aside(self, problem: str) -> SavedState:
        aside = self.path.with_name(self.path.name + SET_ASIDE_SUFFIX)
        try:
            self.path.replace(aside)
            kept = f"kept as {aside}"
        except OSError as error:
            kept = f"could not be set aside: {error}"
        LOG.error(
            "saved mappings in %s are unusable (%s); %s. Starting with no mappings",
            self.path,
            problem,
            kept,
        )
        return SavedState()


def append_file(path: Path, data: bytes) -> None:
    """Append `data` to `path` (in the kernel's hands once this returns; flushed by sync_file)."""
    with path.open("ab") as file:
        file.write(data)


def sync_file(path: Path) -> None:
    """Flush `path` to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def replace_file(path: Path, data: bytes) -> None:
    """Replace `path` by `data` so that a crash at any moment leaves the old or the new file."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with temporary.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)  # the rename itself must survive a power cut
    finally:
        os.close(folder)


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"the {what} is not a JSON object")
    return value


def _typed[T](saved: dict[str, Any], name: str, kind: type[T]) -> T:
    value = saved[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{name} is not {kind.__name__}: {value!r}")
    return value


def _settings(saved: dict[str, Any]) -> ConnectionSettings:
    timers = {name: _typed(saved, name, int) for name in _TIMER_SETTINGS}
    if not all(0 <= seconds <= UI4_MAX for seconds in timers.values()):
        raise ValueError(f"a disconnect timer is not a ui4: {timers}")
    return ConnectionSettings(
        **timers, enabled_for_internet=_typed(saved, "enabled_for_internet", bool)
    )


def _remaining(saved: dict[str, Any], wall_now: float) -> float:
    """Seconds left of a saved lease, at most the longest lease (a clock set back does no more)."""
    expires_at = saved["expires_at"]
    if isinstance(expires_at, bool) or not isinstance(expires_at, int | float):
        raise TypeError(f"expires_at is not a number: {expires_at!r}")
    if not math.isfinite(expires_at):
        raise ValueError(f"expires_at is not finite: {expires_at!r}")
    return min(expires_at - wall_now, MAX_LEASE_DURATION)


def _entry(saved: dict[str, Any], expires_at: float) -> Entry:
    """A saved mapping, checked as AddPortMapping checks its arguments."""
    request = check_mapping_request(
        remote_host=_typed(saved, "remote_host", str),
        external_port=_typed(saved, "external_port", int),
        protocol=_typed(saved, "protocol", str),
        internal_port=_typed(saved, "internal_port", int),
        internal_client=_typed(saved, "internal_client", str),
        enabled=_typed(saved, "enabled", bool),
        description=_typed(saved, "description", str),
        lease_duration=0,
        any_port=False,
    )
    return Entry.of_request(request, request.external_port, expires_at)
