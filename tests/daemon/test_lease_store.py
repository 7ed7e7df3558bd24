"""The lease store: what a restart keeps, what a crash or a bad file cannot break."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from igd.backends.memory import MemoryBackend
from igd.core.connection import ConnectionModel
from igd.core.connection_values import ConnectionSettings
from igd.core.mappings import MappingTable
from igd.lease_store import (
    COMPACT_AFTER,
    SET_ASIDE_SUFFIX,
    STORE_FILE,
    STORE_VERSION,
    LeaseStore,
    SavedState,
)
from tests.daemon.mapping_support import CONSOLE, TRUSTED, VirtualClock, mapping_args

WALL_START = 1_800_000_000.0  # the wall clock when a rig starts


@dataclass
class StoreRig:
    """A table and a connection saved by a store, on a virtual table clock and wall clock."""

    store: LeaseStore
    table: MappingTable
    connection: ConnectionModel
    clock: VirtualClock
    wall: VirtualClock

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.wall.advance(seconds)


async def _forwarding(_enabled: bool) -> None:
    """The connection's forwarding gate (no kernel here)."""


def make_store_rig(folder: Path, *, clock_start: float = 1000.0) -> StoreRig:
    clock, wall = VirtualClock(clock_start), VirtualClock(WALL_START)
    store = LeaseStore(folder, clock=clock, wall_clock=wall)
    table = MappingTable(MemoryBackend(), clock, journal=store)
    connection = ConnectionModel(clock=clock, forwarding=_forwarding)
    store.watch(table, connection)
    return StoreRig(store, table, connection, clock, wall)


def reopen(folder: Path, wall_now: float, *, clock_start: float = 50.0) -> SavedState:
    """Load the store as a restarted daemon would: its table clock starts anew."""
    store = LeaseStore(folder, clock=VirtualClock(clock_start), wall_clock=VirtualClock(wall_now))
    return store.load()


async def add(rig: StoreRig, port: int, lease: int = 3600, description: str = "test") -> None:
    args = mapping_args(
        TRUSTED,
        external_port=port,
        internal_client=CONSOLE.address,
        lease_duration=lease,
        description=description,
    )
    await rig.table.add_port_mapping(TRUSTED, **args)


def saved_lines(folder: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (folder / STORE_FILE).read_text().splitlines()]


# ---- what a restart keeps --------------------------------------------------------------------


async def test_an_acknowledged_add_is_already_on_disk(tmp_path: Path) -> None:
    rig = make_store_rig(tmp_path)

    await add(rig, 6000, description="console")

    header, mapping = saved_lines(tmp_path)
    assert header["version"] == STORE_VERSION
    assert mapping == {
        "remote_host": "",
        "external_port": 6000,
        "protocol": "TCP",
        "internal_port": 5000,
        "internal_client": CONSOLE.address,
        "enabled": True,
        "description": "console",
        "expires_at": WALL_START + 3600,
    }


async def test_mappings_come_back_in_order_with_the_time_left(tmp_path: Path) -> None:
    rig = make_store_rig(tmp_path)
    for port in (7000, 6000, 8000):
        await add(rig, port, lease=1000)
    rig.advance(400)
    await add(rig, 6000, lease=100)  # renewed in place: same position, shorter lease
    await rig.table.delete_port_mapping(TRUSTED, remote_host="", external_port=8000, protocol="TCP")

    state = reopen(tmp_path, wall_now=WALL_START + 400 + 250)  # down for 250 s

    assert [(entry.external_port, entry.expires_at) for entry in state.entries] == [
        (7000, 50 + 1000 - 650),
        (6000, 50 + 500 - 650),  # ended while the daemon was down
    ]


async def test_connection_settings_are_kept(tmp_path: Path) -> None:
    rig = make_store_rig(tmp_path)
    settings = ConnectionSettings(auto_disconnect_time=3600, warn_disconnect_delay=30)

    rig.connection.store_settings(settings)
    await rig.connection.enable_for_internet(False)
    await rig.store.durable()

    assert reopen(tmp_path, WALL_START).settings == ConnectionSettings(
        auto_disconnect_time=3600, warn_disconnect_delay=30, enabled_for_internet=False
    )


async def test_nothing_saved_yet_is_an_empty_state(tmp_path: Path) -> None:
    assert reopen(tmp_path, WALL_START) == SavedState(entries=(), settings=None)


async def test_static_mappings_are_not_saved(tmp_path: Path) -> None:
    rig = make_store_rig(tmp_path)
    await rig.table.add_static(
        external_port=22, protocol="TCP", internal_port=22, internal_client=CONSOLE.address
    )
    await add(rig, 6000)

    assert [entry.external_port for entry in reopen(tmp_path, WALL_START).entries] == [6000]


async def test_a_clock_set_back_gives_no_more_than_the_longest_lease(tmp_path: Path) -> None:
    rig = make_store_rig(tmp_path)
    await add(rig, 6000, lease=604800)

    state = reopen(tmp_path, wall_now=WALL_START - 30 * 86400, clock_start=0.0)

    assert state.entries[0].expires_at == 604800


async def test_lease_ends_follow_a_wall_clock_that_was_set(tmp_path: Path) -> None:
    rig = make_store_rig(tmp_path)
    await add(rig, 6000, lease=3600)

    rig.wall.advance(7200)  # NTP stepped the clock; the leases still have an hour to run
    await add(rig, 6001, lease=3600)

    assert [line["expires_at"] for line in saved_lines(tmp_path)[1:]] == [
        WALL_START + 7200 + 3600,
        WALL_START + 7200 + 3600,
    ]


async def test_concurrent_adds_share_writes(tmp_path: Path) -> None:
    rig = make_store_rig(tmp_path)

    await asyncio.gather(*(add(rig, port) for port in range(6000, 6060)))

    assert len(reopen(tmp_path, WALL_START).entries) == 60
    assert rig.store.writes <= 2  # a group commit, not a write per mapping


async def test_close_saves_what_changed_without_a_waiting_caller(tmp_path: Path) -> None:
    rig = make_store_rig(tmp_path)
    await add(rig, 6000, lease=10)
    rig.advance(10)

    await rig.table.expire_due()  # no client waits for an expiry
    await rig.store.close()

    assert reopen(tmp_path, WALL_START + 10).entries == ()


async def test_a_caller_that_went_away_does_not_stop_the_others(tmp_path: Path) -> None:
    rig = make_store_rig(tmp_path)
    leaving = asyncio.create_task(add(rig, 6000))
    staying = asyncio.create_task(add(rig, 6001))
    for _ in range(3):  # bounded: both commit and wait for the same write
        await asyncio.sleep(0)
    leaving.cancel()

    await staying

    assert [entry.external_port for entry in reopen(tmp_path, WALL_START).entries] == [6000, 6001]


# ---- a failed write ----------------------------------------------------------------------------

# The child process caps the size of files it may write (RLIMIT_FSIZE) just above the store's
# current size: the kernel then refuses the next save part-way through, as a full disk would.
FAILING_WRITE = """
import asyncio, resource, signal, sys
from pathlib import Path
from igd.backends.memory import MemoryBackend
from igd.core.connection import ConnectionModel
from igd.core.errors import UpnpError
from igd.core.mappings import Caller, MappingTable
from igd.lease_store import LeaseStore

async def forwarding(enabled):
    pass

async def main(folder):
    store = LeaseStore(folder)
    table = MappingTable(MemoryBackend(), journal=store)
    store.watch(table, ConnectionModel(clock=lambda: 0.0, forwarding=forwarding))
    caller = Caller("192.168.50.10", authorized=False)
    args = dict(remote_host="", protocol="TCP", internal_port=6000, internal_client=caller.address,
                enabled=True, lease_duration=3600)
    await table.add_port_mapping(caller, external_port=6000, description="kept", **args)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limit = store.path.stat().st_size + 64
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        await table.add_port_mapping(caller, external_port=6001, description="x" * 200, **args)
    except UpnpError as error:
        print("refused", error.code, table.number_of_entries)

asyncio.run(main(Path(sys.argv[1])))
"""


def test_a_failed_save_leaves_the_old_file_and_is_not_acknowledged(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FAILING_WRITE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert done.stdout.split() == ["refused", "501", "2"]  # 501; the table still holds it
    assert "cannot save the mappings" in done.stderr
    state = reopen(tmp_path, WALL_START)
    assert [entry.description for entry in state.entries] == ["kept"]
    assert sorted(path.name for path in tmp_path.iterdir()) == [STORE_FILE]  # no temp left


# ---- a bad file ------------------------------------------------------------------------------

SETTINGS: dict[str, object] = {
    "auto_disconnect_time": 0,
    "idle_disconnect_time": 0,
    "warn_disconnect_delay": 0,
    "enabled_for_internet": True,
}
GOOD_HEADER = {"version": STORE_VERSION, "connection": SETTINGS}
GOOD_MAPPING = {
    "remote_host": "",
    "external_port": 6000,
    "protocol": "TCP",
    "internal_port": 6000,
    "internal_client": CONSOLE.address,
    "enabled": True,
    "description": "console",
    "expires_at": WALL_START + 60,
}


def _lines(*objects: object) -> str:
    return "".join(json.dumps(each) + "\n" for each in objects)


def _with(**changes: object) -> dict[str, object]:
    return {**GOOD_MAPPING, **changes}


BAD_FILES = {
    "empty": "",
    "not JSON": "{\x00garbage",
    "a torn header": _lines(GOOD_HEADER)[:20],
    "header not an object": _lines([1, 2]),
    "newer version": _lines({**GOOD_HEADER, "version": STORE_VERSION + 1}),
    "no version": _lines({"connection": SETTINGS}),
    "no settings": _lines({"version": STORE_VERSION}),
    "timer not a ui4": _lines(
        {**GOOD_HEADER, "connection": {**SETTINGS, "auto_disconnect_time": -1}}
    ),
    "flag not a boolean": _lines(
        {**GOOD_HEADER, "connection": {**SETTINGS, "enabled_for_internet": 1}}
    ),
    "mapping not an object": _lines(GOOD_HEADER, "6000"),
    "missing field": _lines(
        GOOD_HEADER, {k: v for k, v in GOOD_MAPPING.items() if k != "protocol"}
    ),
    "port as text": _lines(GOOD_HEADER, _with(external_port="6000")),
    "port as boolean": _lines(GOOD_HEADER, _with(internal_port=True)),
    "port out of range": _lines(GOOD_HEADER, _with(external_port=70000)),
    "wildcard port": _lines(GOOD_HEADER, _with(external_port=0)),
    "unknown protocol": _lines(GOOD_HEADER, _with(protocol="SCTP")),
    "address not IPv4": _lines(GOOD_HEADER, _with(internal_client="console.lan")),
    "expiry not a number": _lines(GOOD_HEADER, _with(expires_at="soon")),
    "expiry not finite": _lines(GOOD_HEADER, _with(expires_at=float("nan"))),
    "a broken line before the last": _lines(GOOD_HEADER, GOOD_MAPPING)[:-20]
    + "\n"
    + _lines(GOOD_MAPPING),
}


@pytest.mark.parametrize("content", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_file_is_set_aside_and_the_daemon_starts_empty(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / STORE_FILE
    path.write_text(content)

    with caplog.at_level(logging.ERROR, logger="igd.lease_store"):
        state = reopen(tmp_path, WALL_START)

    assert state == SavedState()
    assert not path.exists()
    assert (tmp_path / (STORE_FILE + SET_ASIDE_SUFFIX)).read_text() == content  # kept to look at
    assert "Starting with no mappings" in caplog.text


def test_the_set_aside_file_names_the_problem(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / STORE_FILE).write_text(BAD_FILES["newer version"])

    with caplog.at_level(logging.ERROR, logger="igd.lease_store"):
        reopen(tmp_path, WALL_START)

    assert f"format version {STORE_VERSION + 1}" in caplog.text


def test_an_unreadable_store_is_set_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / STORE_FILE).mkdir()  # a folder where the file should be: reading it fails

    with caplog.at_level(logging.ERROR, logger="igd.lease_store"):
        state = reopen(tmp_path, WALL_START)

    assert state == SavedState()
    assert (tmp_path / (STORE_FILE + SET_ASIDE_SUFFIX)).is_dir()
    assert "cannot read it" in caplog.text


def test_a_good_file_written_by_hand_is_read(tmp_path: Path) -> None:
    (tmp_path / STORE_FILE).write_text(_lines(GOOD_HEADER, GOOD_MAPPING, _with(external_port=6001)))

    state = reopen(tmp_path, WALL_START, clock_start=0.0)

    assert [(entry.external_port, entry.expires_at) for entry in state.entries] == [
        (6000, 60),
        (6001, 60),
    ]


async def test_after_a_bad_file_the_next_save_writes_a_good_one(tmp_path: Path) -> None:
    (tmp_path / STORE_FILE).write_text("garbage")
    reopen(tmp_path, WALL_START)
    rig = make_store_rig(tmp_path)

    await add(rig, 6000)

    assert [entry.external_port for entry in reopen(tmp_path, WALL_START).entries] == [6000]


# ---- the journal: appended changes, compaction, an append cut by a power loss ----------------


async def test_changes_are_appended_and_read_back_in_the_tables_order(tmp_path: Path) -> None:
    rig = make_store_rig(tmp_path)
    for port in (6000, 6001, 6002):
        await add(rig, port)
    await add(rig, 6000, description="renewed")  # an overwrite keeps its place
    await rig.table.delete_port_mapping(TRUSTED, remote_host="", external_port=6001, protocol="TCP")

    lines = saved_lines(tmp_path)
    state = reopen(tmp_path, WALL_START)

    assert len(lines) == 1 + 5  # the header, then one line a change: nothing rewritten
    assert lines[-1] == {"removed": {"external_port": 6001, "protocol": "TCP"}}
    assert [(e.external_port, e.description) for e in state.entries] == [
        (6000, "renewed"),
        (6002, "test"),
    ]


async def test_the_file_is_rewritten_whole_once_appends_outgrow_the_table(
    tmp_path: Path,
) -> None:
    rig = make_store_rig(tmp_path)
    for _ in range(COMPACT_AFTER // 2 + 2):
        await add(rig, 6000)
        await rig.table.delete_port_mapping(
            TRUSTED, remote_host="", external_port=6000, protocol="TCP"
        )
    await add(rig, 6001)

    assert len(saved_lines(tmp_path)) < COMPACT_AFTER // 2
    assert [e.external_port for e in reopen(tmp_path, WALL_START).entries] == [6001]


async def test_connection_settings_changes_are_appended(tmp_path: Path) -> None:
    rig = make_store_rig(tmp_path)
    await add(rig, 6000)
    rig.connection.store_settings(ConnectionSettings(auto_disconnect_time=600))
    await rig.store.durable()

    assert saved_lines(tmp_path)[-1]["connection"]["auto_disconnect_time"] == 600  # type: ignore[index]
    assert reopen(tmp_path, WALL_START).settings == ConnectionSettings(auto_disconnect_time=600)


def test_an_append_cut_by_a_power_loss_loses_only_that_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / STORE_FILE).write_text(
        _lines(GOOD_HEADER, GOOD_MAPPING) + json.dumps(_with(external_port=6001))[:-20]
    )

    with caplog.at_level(logging.WARNING, logger="igd.lease_store"):
        state = reopen(tmp_path, WALL_START)

    assert [e.external_port for e in state.entries] == [6000]
    assert "unfinished last line" in caplog.text
