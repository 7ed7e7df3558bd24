"""The daemon in the lab's gateway, driven by real clients from the LAN, proven from the WAN.

`upnp-gateway --backend nftables` runs in the gateway namespace; `upnpc` (miniupnpc) and
async-upnp-client's `upnp-client` run on the LAN client; the WAN host connects through the
mappings. upnpc needs `-i` here: it treats the lab's 203.0.113.1 (RFC 5737) as not connected.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.gateway_support import (
    DESCRIPTION,
    HTTP_PORT,
    TABLE,
    WAIT,
    start_daemon,
    subscribe_wanipconnection,
)
from tests.e2e.traffic_support import connect, listen, send_udp
from tests.lab import LAN_GATEWAY, WAN_GATEWAY, Lab, wait_for_output


@dataclass
class Running:
    """The lab with the daemon up in its gateway."""

    lab: Lab
    daemon: subprocess.Popen[str]

    def upnpc(self, *args: str) -> str:
        done = self.lab.run(self.lab.lan[0], "upnpc", "-i", *args, timeout=WAIT)
        return done.stdout

    def kernel_table(self) -> str:
        return self.lab.run(self.lab.gateway, "nft", "list", "table", "ip", TABLE).stdout


@pytest.fixture
def gateway(netlab: Lab, tmp_path: Path) -> Running:
    return Running(netlab, start_daemon(netlab, tmp_path))


def _until(condition: object, what: str) -> None:
    """Poll `condition()` (bounded by WAIT) until it is true."""
    assert callable(condition)
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT}s: {what}")
        time.sleep(0.2)


def test_upnpc_sees_a_connected_gateway(gateway: Running) -> None:
    status = gateway.upnpc("-s")

    # miniupnpc calls an IGD whose external address is in a documentation range "not connected?"
    # and goes on because of -i (DESIGN.md, Test lab); what counts is the status the gateway gives
    assert f"IGD : http://{LAN_GATEWAY}:{HTTP_PORT}/ctl/IPConn" in status
    assert "Status : Connected" in status
    assert f"ExternalIPAddress = {WAN_GATEWAY}" in status


def test_a_mapping_carries_tcp_and_udp_from_the_wan_until_deleted(gateway: Running) -> None:
    lab = gateway.lab
    client = lab.lan[0]
    listener = listen(lab, client, 8000)

    added_tcp = gateway.upnpc("-e", "test", "-a", client.address, "8000", "18000", "TCP")
    gateway.upnpc("-e", "test", "-a", client.address, "8000", "18000", "UDP")
    answer = connect(lab, 18000)
    tcp_seen = wait_for_output(listener, ["tcp from"])
    send_udp(lab, lab.wan, WAN_GATEWAY, 18000)
    udp_seen = wait_for_output(listener, ["udp from"])
    listed = gateway.upnpc("-l")

    assert "is redirected to internal" in added_tcp
    assert answer == "hello over TCP"
    assert f"tcp from {lab.wan.address}" in tcp_seen
    assert f"udp from {lab.wan.address}" in udp_seen
    assert f"TCP 18000->{client.address}:8000  'test'" in listed
    assert f"UDP 18000->{client.address}:8000  'test'" in listed

    gateway.upnpc("-d", "18000", "TCP")

    assert connect(lab, 18000) == "ConnectionRefusedError"
    assert "TCP 18000" not in gateway.upnpc("-l")


def test_a_short_lease_leaves_the_kernel_when_it_ends(gateway: Running) -> None:
    client = gateway.lab.lan[0]

    gateway.upnpc("-e", "x", "-a", client.address, "8001", "18001", "TCP", "2")

    assert "18001" in gateway.kernel_table()
    _until(lambda: "18001" not in gateway.kernel_table(), "the 2 s lease removed from nftables")
    assert "18001" not in gateway.upnpc("-l")


def test_upnp_client_receives_the_system_update_id_event(gateway: Running) -> None:
    lab = gateway.lab
    client = lab.lan[0]
    subscriber = subscribe_wanipconnection(lab, client, DESCRIPTION)
    initial = wait_for_output(subscriber, ["SystemUpdateID"], timeout=WAIT)

    gateway.upnpc("-e", "test", "-a", client.address, "8000", "18000", "TCP")
    after_add = wait_for_output(subscriber, ["SystemUpdateID"], timeout=WAIT)

    first = _event_values(initial)
    second = _event_values(after_add)
    assert first["PortMappingNumberOfEntries"] == 0
    assert second["PortMappingNumberOfEntries"] == 1
    assert second["SystemUpdateID"] == first["SystemUpdateID"] + 1


def _event_values(output: str) -> dict[str, int]:
    """The numbers of the last event line upnp-client printed (one JSON object a line)."""
    line = [text for text in output.splitlines() if "SystemUpdateID" in text][-1]
    event = json.loads(line)
    values = event["state_variables"]
    return {name: int(values[name]) for name in ("PortMappingNumberOfEntries", "SystemUpdateID")}


def test_sigterm_stops_the_daemon_cleanly(gateway: Running) -> None:
    gateway.daemon.terminate()

    assert gateway.daemon.wait(timeout=WAIT) == 0
