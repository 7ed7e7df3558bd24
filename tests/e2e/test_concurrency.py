"""32 control points adding and deleting at once leave table, lease store and kernel identical.

Each client has its own address on the LAN client's link and runs its operations in order, all
clients at the same time, over one shared pool of external ports (so they collide). Afterwards
the table (as a trusted control point lists it), the lease store's file and the kernel's map
must hold exactly what the clients' own successes say.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from igd.lease_store import LeaseStore
from tests.e2e.gateway_support import CONTROL, WAIT, kernel_redirects, start_daemon
from tests.lab import Lab

DRIVER = str(Path(__file__).with_name("concurrency_driver.py"))
CLIENTS = 32
OPERATIONS = 100  # per client: 3200 in all
FIRST_ADDRESS = "192.168.50.100"
SEED = 20261125


def _stored(data_dir: Path) -> list[list[object]]:
    """What the lease store would restore, read as a restarted daemon reads it."""
    return sorted(
        [entry.protocol, entry.external_port, entry.internal_client, entry.internal_port]
        for entry in LeaseStore(data_dir).load().entries
    )


def test_concurrent_clients_leave_table_store_and_kernel_identical(
    netlab: Lab, tmp_path: Path
) -> None:
    start_daemon(netlab, tmp_path, "--log-level", "WARNING")
    client = netlab.lan[0]
    for number in range(CLIENTS):
        address = f"192.168.50.{100 + number}/24"
        netlab.run(client, "ip", "addr", "add", address, "dev", "eth0")

    ran = netlab.run(
        client,
        *(sys.executable, DRIVER, "run", CONTROL, FIRST_ADDRESS),
        *(str(CLIENTS), str(OPERATIONS), str(SEED)),
        timeout=20 * WAIT,
    )
    report = json.loads(ran.stdout)
    listed = json.loads(netlab.run(netlab.gateway, sys.executable, DRIVER, "list", CONTROL).stdout)
    print(f"concurrency: {report['operations']} operations, {len(report['held'])} mappings held")
    print(f"concurrency: answers {report['answers']}")

    held = report["held"]
    assert report["operations"] == CLIENTS * OPERATIONS
    assert report["unexpected"] == []
    assert listed == held
    assert _stored(tmp_path) == held
    assert sorted(map(list, kernel_redirects(netlab))) == held
    assert any("718" in answer for answer in report["answers"])  # the clients did collide
