"""The WAN watcher in the lab's gateway: the kernel's link, address and route drive the status."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.lab import WAN_GATEWAY, WAN_HOST, WAN_INTERFACE, Lab, output_lines

DRIVER = Path(__file__).with_name("wan_watcher_driver.py")
WAIT = 5.0  # seconds: a bound for events that arrive in milliseconds

type State = dict[str, Any]


def start_watcher(lab: Lab, interface: str = WAN_INTERFACE, *extra: str) -> subprocess.Popen[str]:
    return lab.start(lab.gateway, sys.executable, str(DRIVER), interface, *extra)


def wait_for(process: subprocess.Popen[str], wanted: Callable[[State], bool]) -> State:
    """The first state line the driver prints from now on that satisfies `wanted`."""
    seen: list[str] = []
    for text in output_lines(process, WAIT):
        seen.append(text)
        state: State = json.loads(text) if text.startswith("{") else {}
        if state and wanted(state):
            return state
    raise AssertionError("no such state; the driver printed:\n" + "\n".join(seen))


def status(name: str, **fields: Any) -> Callable[[State], bool]:
    return lambda state: state["status"] == name and all(state[k] == v for k, v in fields.items())


def gateway_ip(lab: Lab, *args: str) -> None:
    lab.run(lab.gateway, "ip", *args)


def test_connected_at_start_with_the_wan_address(netlab: Lab) -> None:
    watcher = start_watcher(netlab)

    state = wait_for(watcher, status("Connected"))

    assert state["external_ip"] == WAN_GATEWAY
    assert state["error"] == "ERROR_NONE"
    assert state["physical"] == "Up"


def test_link_down_disconnects_and_link_up_with_its_route_reconnects(netlab: Lab) -> None:
    watcher = start_watcher(netlab)
    wait_for(watcher, status("Connected"))

    gateway_ip(netlab, "link", "set", WAN_INTERFACE, "down")
    down = wait_for(watcher, status("Disconnected", physical="Down"))

    assert (down["error"], down["external_ip"]) == ("ERROR_NO_CARRIER", "")

    gateway_ip(netlab, "link", "set", WAN_INTERFACE, "up")
    gateway_ip(netlab, "route", "add", "default", "via", WAN_HOST)  # the kernel flushed it
    up = wait_for(watcher, status("Connected"))

    assert (up["error"], up["external_ip"], up["physical"]) == ("ERROR_NONE", WAN_GATEWAY, "Up")


def test_the_external_address_follows_the_interface(netlab: Lab) -> None:
    watcher = start_watcher(netlab)
    wait_for(watcher, status("Connected"))

    gateway_ip(netlab, "addr", "add", "198.51.100.1/24", "dev", WAN_INTERFACE)
    gateway_ip(netlab, "addr", "del", f"{WAN_GATEWAY}/24", "dev", WAN_INTERFACE)
    assert wait_for(watcher, status("Connected"))["external_ip"] == "198.51.100.1"

    gateway_ip(netlab, "addr", "flush", "dev", WAN_INTERFACE)
    lost = wait_for(watcher, status("Disconnected"))
    assert (lost["error"], lost["external_ip"]) == ("ERROR_ISP_DISCONNECT", "")

    gateway_ip(netlab, "addr", "add", f"{WAN_GATEWAY}/24", "dev", WAN_INTERFACE)
    gateway_ip(netlab, "route", "replace", "default", "via", WAN_HOST)
    assert wait_for(watcher, status("Connected"))["external_ip"] == WAN_GATEWAY


def test_removing_the_default_route_disconnects(netlab: Lab) -> None:
    watcher = start_watcher(netlab)
    wait_for(watcher, status("Connected"))

    gateway_ip(netlab, "route", "del", "default")

    state = wait_for(watcher, status("Disconnected"))
    assert (state["error"], state["physical"]) == ("ERROR_ISP_DISCONNECT", "Up")
    gateway_ip(netlab, "route", "add", "default", "via", WAN_HOST)
    wait_for(watcher, status("Connected", external_ip=WAN_GATEWAY))


def test_counters_grow_with_traffic(netlab: Lab) -> None:
    watcher = start_watcher(netlab)
    before = wait_for(watcher, lambda state: "counters" in state)["counters"]

    netlab.run(netlab.gateway, "ping", "-c", "3", "-i", "0.2", "-W", "2", WAN_HOST)

    def grown(state: State) -> bool:
        counters = state.get("counters")
        return counters is not None and all(
            counters[name] >= before[name] + 3 * least
            for name, least in (  # three echoes, three replies, each 84 bytes of IP
                ("packets_sent", 1),
                ("packets_received", 1),
                ("bytes_sent", 84),
                ("bytes_received", 84),
            )
        )

    assert wait_for(watcher, grown)["status"] == "Connected"


def test_a_missing_interface_is_unconfigured_until_it_appears(netlab: Lab) -> None:
    watcher = start_watcher(netlab, "wan1")
    absent = wait_for(watcher, lambda state: "counters" in state)
    assert (absent["status"], absent["physical"]) == ("Unconfigured", "Down")
    assert absent["counters"]["packets_sent"] == 0

    gateway_ip(netlab, "link", "add", "wan1", "type", "veth", "peer", "name", "wan1peer")
    gateway_ip(netlab, "addr", "add", "198.51.100.1/24", "dev", "wan1")
    gateway_ip(netlab, "link", "set", "wan1peer", "up")
    gateway_ip(netlab, "link", "set", "wan1", "up")
    wait_for(watcher, status("Disconnected"))  # no default route through it yet
    gateway_ip(netlab, "route", "replace", "default", "dev", "wan1")

    assert wait_for(watcher, status("Connected"))["external_ip"] == "198.51.100.1"


def test_termination_cuts_forwarding_and_request_connection_restores_it(netlab: Lab) -> None:
    watcher = start_watcher(netlab)
    wait_for(watcher, status("Connected"))

    watcher.send_signal(signal.SIGUSR1)
    ended = wait_for(watcher, lambda state: state.get("action") == "ForceTermination")

    assert (ended["result"], ended["status"], ended["forwarding"]) == ("ok", "Disconnected", False)
    assert "state UP" in netlab.run(netlab.gateway, "ip", "link", "show", WAN_INTERFACE).stdout
    watcher.send_signal(signal.SIGUSR2)
    again = wait_for(watcher, lambda state: state.get("action") == "RequestConnection")
    assert (again["result"], again["status"], again["forwarding"]) == ("ok", "Connected", True)


def test_with_link_control_termination_takes_the_link_down_and_connection_up(
    netlab: Lab,
) -> None:
    watcher = start_watcher(netlab, WAN_INTERFACE, "--link-control")
    wait_for(watcher, status("Connected"))

    watcher.send_signal(signal.SIGUSR1)
    ended = wait_for(watcher, lambda state: state.get("action") == "ForceTermination")
    assert (ended["result"], ended["error"]) == ("ok", "ERROR_FORCED_DISCONNECT")
    assert "state DOWN" in netlab.run(netlab.gateway, "ip", "link", "show", WAN_INTERFACE).stdout

    watcher.send_signal(signal.SIGUSR2)
    wait_for(watcher, status("Connecting"))
    wait_for(watcher, lambda state: state["physical"] == "Up")
    gateway_ip(netlab, "route", "add", "default", "via", WAN_HOST)  # what a DHCP client would do
    done = wait_for(watcher, lambda state: state.get("action") == "RequestConnection")

    assert (done["result"], done["status"], done["external_ip"]) == ("ok", "Connected", WAN_GATEWAY)
