"""Restarts lose nothing (security-notes.md A17): kill -9 in the middle of a burst, start again.

The daemon runs with nftables in the lab's gateway; a LAN client (trusted, so it may map to
several hosts) fires AddPortMapping calls many at a time and records which were answered 200.
The daemon is killed by PID, without warning, while they are in flight, then started again on the
same data folder: every acknowledged mapping must be back, in the table and in the kernel, and the
kernel must hold nothing the table does not.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.e2e.gateway_support import (
    CONTROL,
    WAIT,
    kernel_redirects,
    mapping,
    soap,
    start_daemon,
)
from tests.lab import Host, Lab, output_lines

REPOSITORY = str(Path(__file__).resolve().parents[2])
BURST = 200  # AddPortMapping calls
WORKERS = 16  # of them in flight at once
KILL_AFTER = 40  # acknowledged adds before the kill
FIRST_PORT = 20000
# Four hosts of the LAN, 50 mappings each: under the per-client limit of 64
INTERNAL_CLIENTS = [f"192.168.50.{host}" for host in (20, 21, 22, 23)]
SHORT_LEASE = 3  # seconds: ends while the daemon is down
_LEASE = re.compile(r"<NewLeaseDuration>(\d+)</NewLeaseDuration>")

type Redirect = tuple[str, int, str, int]  # protocol, external port, internal client and port


def _burst_tool(*arguments: str) -> list[str]:
    """The command line of tests/e2e/mapping_burst.py, with the repository importable."""
    return [
        "env",
        f"PYTHONPATH={REPOSITORY}",
        sys.executable,
        "-m",
        "tests.e2e.mapping_burst",
        *arguments,
    ]


def _walk(lab: Lab, client: Host) -> list[list[Any]]:
    done = lab.run(client, *_burst_tool("walk", CONTROL), timeout=WAIT)
    answer = json.loads(done.stdout)
    assert answer["ended_with"] == 713  # SpecifiedArrayIndexInvalid: past the last entry
    entries: list[list[Any]] = answer["entries"]
    return entries


def _kill(daemon: subprocess.Popen[str]) -> None:
    """kill -9 by PID: no SIGTERM handler, no last save, the kernel table left as it is."""
    os.kill(daemon.pid, signal.SIGKILL)
    daemon.wait(timeout=WAIT)


def test_kill_9_during_a_burst_of_adds_loses_no_acknowledged_mapping(
    netlab: Lab, tmp_path: Path
) -> None:
    client = netlab.lan[0]
    trusted = ("--trusted-control-point", client.address)
    daemon = start_daemon(netlab, tmp_path, *trusted)
    burst = netlab.start(
        client,
        *_burst_tool("burst", CONTROL, str(FIRST_PORT), str(BURST), str(WORKERS)),
        *INTERNAL_CLIENTS,
    )
    acknowledged: set[int] = set()
    failed: set[int] = set()

    def record(line: str) -> None:
        outcome, port, *_ = line.split()
        (acknowledged if outcome == "ok" else failed).add(int(port))

    for line in output_lines(burst, timeout=WAIT):
        record(line)
        if len(acknowledged) >= KILL_AFTER:
            break
    _kill(daemon)
    for line in output_lines(burst, timeout=WAIT):  # the rest fail: nobody answers any more
        record(line)
    burst.wait(timeout=WAIT)
    left_in_kernel = {port for _, port, _, _ in kernel_redirects(netlab)}

    start_daemon(netlab, tmp_path, *trusted)
    table = _walk(netlab, client)
    kernel = kernel_redirects(netlab)

    present = {port for port, *_ in table}
    in_table: set[Redirect] = {
        (protocol, port, host, internal) for port, protocol, host, internal, _ in table
    }
    orphans = kernel - in_table
    print(
        f"burst {BURST}: acknowledged {len(acknowledged)}, failed {len(failed)}, "
        f"in the kernel at the kill {len(left_in_kernel)}; after restart: present "
        f"{len(present)} ({len(present - acknowledged)} never acknowledged), "
        f"orphans {len(orphans)}, missing from the kernel {len(in_table - kernel)}"
    )
    assert len(acknowledged) + len(failed) == BURST
    assert KILL_AFTER <= len(acknowledged) < BURST  # the kill came in the middle
    assert acknowledged <= left_in_kernel  # acknowledged only once the kernel had it
    assert acknowledged <= present  # and once it was saved
    assert kernel == in_table  # no orphan holes, nothing missing


def _lease(lab: Lab, client: Host, port: int) -> dict[str, Any]:
    return soap(
        lab,
        client,
        "GetSpecificPortMappingEntry",
        NewRemoteHost="",
        NewExternalPort=port,
        NewProtocol="TCP",
    )


def test_leases_keep_running_while_the_daemon_is_down(netlab: Lab, tmp_path: Path) -> None:
    client = netlab.lan[0]
    daemon = start_daemon(netlab, tmp_path)
    short = {**mapping(client.address, 21000), "NewLeaseDuration": SHORT_LEASE}
    assert soap(netlab, client, "AddPortMapping", **short)["status"] == 200
    assert soap(netlab, client, "AddPortMapping", **mapping(client.address, 21001))["status"] == 200
    before = int(_LEASE.findall(_lease(netlab, client, 21001)["body"])[0])

    _kill(daemon)
    in_kernel = {port for _, port, _, _ in kernel_redirects(netlab)}
    time.sleep(SHORT_LEASE + 1)  # the short lease ends while nothing runs
    start_daemon(netlab, tmp_path)

    assert in_kernel == {21000, 21001}  # both rules outlived the daemon
    assert _lease(netlab, client, 21000)["error"] == 714  # NoSuchEntryInArray
    after = int(_LEASE.findall(_lease(netlab, client, 21001)["body"])[0])
    assert 0 < after <= before - (SHORT_LEASE + 1)  # the time down counted
    assert {port for _, port, _, _ in kernel_redirects(netlab)} == {21001}
