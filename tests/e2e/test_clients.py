"""Real client libraries of both kinds against the gateway's default options (igd2-device.md 7.1b).

IGD:1-only clients (miniupnpc's `upnpc`, npm's nat-upnp) and IGD:2-only clients (libp2p's
@achingbrain/nat-port-mapper, Go's goupnp, async-upnp-client driven as one) each find the root
device they understand, map a TCP and a UDP port that the WAN host reaches through nftables, and
delete them; a mapping made through one face is listed and deleted through the other, and evented
on both. The libraries are in tests/clients/ (`npm ci --prefix tests/clients`; goupnp is Debian's
golang-github-huin-goupnp-dev, its driver built by go_client_build; scripts/setup installs both).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.e2e.gateway_support import (
    BASE,
    WAIT,
    kernel_redirects,
    start_daemon,
    subscribe_wanipconnection,
)
from tests.e2e.go_client_build import build_go_client
from tests.e2e.traffic_support import LISTENER, TCP_CONNECTOR, UDP_SENDER
from tests.lab import WAN_GATEWAY, Host, Lab, output_lines, wait_for_output

CLIENTS = Path(__file__).parents[1] / "clients"
IGD2_DESCRIPTION = f"{BASE}/rootDesc.xml"
IGD1_DESCRIPTION = f"{BASE}/igd1/rootDesc.xml"
PORT = 18000  # the LAN client's listener, mapped as the same external port
LEASE = 3600


class Client(Protocol):
    """What the tests ask of every client library, whatever its own API."""

    name: str

    def find(self) -> list[str]:
        """The description URLs of the gateway(s) the library settled on."""
        ...

    def map(self, protocol: str) -> int:
        """Map this host's PORT for `protocol`; the external port the gateway gave."""
        ...

    def unmap(self, protocol: str) -> None: ...


class LineClient:
    """A library behind the line protocol of tests/clients/session.mjs, in a LAN namespace."""

    def __init__(self, name: str, host: Host, *command: str) -> None:
        self.name = name
        self.host = host
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", host.namespace, *command, host.address],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=CLIENTS,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )

    def ask(self, *words: object) -> Any:
        """Send one command; its result, or AssertionError with the library's error."""
        assert self.process.stdin is not None
        self.process.stdin.write(" ".join(str(word) for word in words) + "\n")
        self.process.stdin.flush()
        for line in output_lines(self.process, timeout=WAIT):
            if line.startswith("{"):  # libraries may log lines of their own
                answer = json.loads(line)
                if "error" in answer:
                    raise AssertionError(f"{self.name} {words}: {answer['error']}")
                return answer["ok"]
        raise AssertionError(f"{self.name} {words}: no answer within {WAIT}s")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


class NatUpnp(LineClient):
    """npm nat-upnp: IGD:1 only (InternetGatewayDevice:1 search, WANIPConnection:1)."""

    def __init__(self, host: Host) -> None:
        super().__init__("nat-upnp", host, "node", "nat_upnp.mjs")

    def find(self) -> list[str]:
        return [self.ask("find")]

    def map(self, protocol: str) -> int:
        self.ask("map", PORT, PORT, protocol, LEASE)
        return PORT

    def unmap(self, protocol: str) -> None:
        self.ask("unmap", PORT, protocol)

    def listed(self) -> set[tuple[str, int, str]]:
        return {(m["protocol"], m["externalPort"], m["internalHost"]) for m in self.ask("list")}


class NatPortMapper(LineClient):
    """npm @achingbrain/nat-port-mapper (libp2p): IGD:2 only, AddAnyPortMapping.

    It deletes every mapping of a local port with an empty NewProtocol, so `unmap` of one
    protocol removes both (wanipconnection.py); the tests count on the gateway reading it so.
    """

    def __init__(self, host: Host) -> None:
        super().__init__("@achingbrain/nat-port-mapper", host, "node", "nat_port_mapper.mjs")

    def find(self) -> list[str]:
        return [self.ask("find")]

    def map(self, protocol: str) -> int:
        return int(self.ask("map", PORT, protocol))

    def unmap(self, protocol: str) -> None:
        if protocol == "TCP":  # one call, empty protocol: both go
            self.ask("unmap", PORT)


class Igd2PortCommands(LineClient):
    """The map, unmap and list commands of async_upnp_igd2.py and goupnp_igd2 (tests/clients)."""

    def map(self, protocol: str) -> int:
        return int(self.ask("map", PORT, PORT, protocol, LEASE))

    def unmap(self, protocol: str) -> None:
        self.ask("unmap", PORT, protocol)

    def listed(self) -> set[tuple[str, int, str]]:
        return {(m["protocol"], m["externalPort"], m["internalHost"]) for m in self.ask("list")}


class AsyncUpnpIgd2(Igd2PortCommands):
    """PyPI async-upnp-client, driven as an IGD:2-only client (tests/clients/async_upnp_igd2.py)."""

    def __init__(self, host: Host) -> None:
        script = str(CLIENTS / "async_upnp_igd2.py")
        super().__init__("async-upnp-client (IGD:2)", host, sys.executable, script)

    def find(self) -> list[str]:
        return [self.ask("find")]


class GoupnpIgd2(Igd2PortCommands):
    """Go's github.com/huin/goupnp: IGD:2 only (WANIPConnection:2 search, AddAnyPortMapping)."""

    def __init__(self, host: Host, binary: Path) -> None:
        super().__init__("goupnp", host, str(binary))

    def find(self) -> list[str]:
        return list(self.ask("find"))  # every service its search found, not only the first


class Upnpc:
    """Debian's miniupnpc `upnpc`: searches the v1 types only (igd2-device.md 7)."""

    name = "upnpc"

    def __init__(self, lab: Lab, host: Host) -> None:
        self.lab, self.host = lab, host

    def run(self, *arguments: str) -> str:
        # -i: the lab's 203.0.113.1 is a documentation address, "not connected" to miniupnpc
        return self.lab.run(self.host, "upnpc", "-i", *arguments, timeout=WAIT).stdout

    def find(self) -> list[str]:
        output = self.run("-s")
        assert "Status : Connected" in output, output
        return [
            line.split("desc:", 1)[1].strip() for line in output.splitlines() if "desc:" in line
        ]

    def map(self, protocol: str) -> int:
        added = self.run("-e", "upnpc", "-a", self.host.address, str(PORT), str(PORT), protocol)
        assert "is redirected to internal" in added, added
        return PORT

    def unmap(self, protocol: str) -> None:
        self.run("-d", str(PORT), protocol)

    def listed(self) -> set[tuple[str, int, str]]:
        found = set()
        for line in self.run("-l").splitlines():
            words = line.split()
            if len(words) >= 3 and words[1] in ("TCP", "UDP") and "->" in words[2]:
                external, internal = words[2].split("->")
                found.add((words[1], int(external), internal.split(":")[0]))
        return found


@pytest.fixture
def node_clients() -> None:
    """Skip (in CI: fail) when the npm client libraries are not installed."""
    if (CLIENTS / "node_modules").is_dir():
        return
    reason = "npm client libraries missing: npm ci --prefix tests/clients"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def goupnp_igd2() -> Path:
    """The goupnp driver, built from Debian's Go source; fails when that is not installed."""
    return build_go_client(CLIENTS / "goupnp_igd2" / "main.go", "github.com/huin/goupnp")


@pytest.fixture
def gateway(netlab: Lab, tmp_path: Path) -> Lab:
    """The daemon with the default options (both faces announced), nftables backend."""
    start_daemon(netlab, tmp_path)
    return netlab


@pytest.fixture
def clients(gateway: Lab, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Every client library on the LAN client, ended after the test."""
    host = gateway.lan[0]
    started: list[LineClient] = []

    def line_client(kind: Callable[[Host], LineClient]) -> LineClient:
        client = kind(host)
        started.append(client)
        return client

    def goupnp(host: Host) -> LineClient:  # built only when a test asks for it
        return GoupnpIgd2(host, request.getfixturevalue("goupnp_igd2"))

    made: dict[str, Any] = {"upnpc": Upnpc(gateway, host)}
    made["nat-upnp"] = lambda: line_client(NatUpnp)
    made["nat-port-mapper"] = lambda: line_client(NatPortMapper)
    made["async-upnp-client"] = lambda: line_client(AsyncUpnpIgd2)
    made["goupnp"] = lambda: line_client(goupnp)
    yield made
    for client in started:
        client.close()


def _client(clients: dict[str, Any], name: str) -> Any:
    made = clients[name]
    return made() if callable(made) else made


IGD1_ONLY = ["upnpc", "nat-upnp"]
IGD2_ONLY = ["nat-port-mapper", "goupnp", "async-upnp-client"]


@pytest.mark.parametrize("name", IGD1_ONLY)
def test_an_igd1_client_finds_the_igd1_device(
    node_clients: None, clients: dict[str, Any], name: str
) -> None:
    client = _client(clients, name)

    assert client.find() == [IGD1_DESCRIPTION]


@pytest.mark.parametrize("name", IGD2_ONLY)
def test_an_igd2_client_finds_the_igd2_device(
    node_clients: None, clients: dict[str, Any], name: str
) -> None:
    client = _client(clients, name)

    assert client.find() == [IGD2_DESCRIPTION]


def _wan_reaches(lab: Lab, listener: subprocess.Popen[str]) -> tuple[bool, bool]:
    """Whether the WAN host reaches the LAN listener through the mapping, by TCP and by UDP."""
    tcp = lab.run(lab.wan, sys.executable, "-c", TCP_CONNECTOR, WAN_GATEWAY, str(PORT), check=False)
    lab.run(lab.wan, sys.executable, "-c", UDP_SENDER, WAN_GATEWAY, str(PORT))
    try:
        wait_for_output(listener, ["udp from"], timeout=3)
        udp = True
    except TimeoutError:
        udp = False
    return tcp.stdout.strip() == "hello over TCP", udp


@pytest.mark.parametrize("name", IGD1_ONLY + IGD2_ONLY)
def test_a_client_maps_tcp_and_udp_that_the_wan_reaches_then_deletes_them(
    node_clients: None, gateway: Lab, clients: dict[str, Any], name: str
) -> None:
    client = _client(clients, name)
    lan = gateway.lan[0]
    listener = gateway.start(lan, sys.executable, "-c", LISTENER, str(PORT))
    wait_for_output(listener, ["listening"])

    ports = {protocol: client.map(protocol) for protocol in ("TCP", "UDP")}
    reached = _wan_reaches(gateway, listener)
    in_kernel = kernel_redirects(gateway)
    for protocol in ("TCP", "UDP"):
        client.unmap(protocol)

    assert ports == {"TCP": PORT, "UDP": PORT}
    assert reached == (True, True)
    assert {("TCP", PORT, lan.address, PORT), ("UDP", PORT, lan.address, PORT)} <= in_kernel
    assert kernel_redirects(gateway) == set()
    assert _wan_reaches(gateway, listener) == (False, False)


@pytest.mark.parametrize("name", ["goupnp", "async-upnp-client"])
def test_a_mapping_made_through_igd1_is_listed_and_deleted_through_igd2(
    node_clients: None, clients: dict[str, Any], name: str
) -> None:
    igd1, igd2 = _client(clients, "nat-upnp"), _client(clients, name)
    address = igd1.host.address

    igd1.map("UDP")
    seen_by_igd2 = igd2.listed()
    igd2.unmap("UDP")

    assert seen_by_igd2 == {("UDP", PORT, address)}
    assert igd1.listed() == set()


@pytest.mark.parametrize("name", ["nat-port-mapper", "goupnp"])
def test_a_mapping_made_through_igd2_is_listed_through_igd1(
    node_clients: None, clients: dict[str, Any], name: str
) -> None:
    igd2, upnpc = _client(clients, name), _client(clients, "upnpc")
    address = upnpc.host.address

    igd2.map("TCP")
    igd2.map("UDP")
    seen_by_upnpc = upnpc.listed()
    seen_by_nat_upnp = _client(clients, "nat-upnp").listed()
    for protocol in ("TCP", "UDP"):
        igd2.unmap(protocol)

    assert seen_by_upnpc == {("TCP", PORT, address), ("UDP", PORT, address)}
    assert seen_by_nat_upnp == seen_by_upnpc
    assert upnpc.listed() == set()


def _entries_evented(output: str) -> tuple[int, int | None]:
    """(PortMappingNumberOfEntries, SystemUpdateID or None in v1) of the last event printed."""
    line = [text for text in output.splitlines() if "PortMappingNumberOfEntries" in text][-1]
    values = json.loads(line)["state_variables"]
    update_id = values.get("SystemUpdateID")  # WANIPConnection:2 only
    return int(values["PortMappingNumberOfEntries"]), None if update_id is None else int(update_id)


def test_a_mapping_is_evented_on_both_faces_and_counted_once(
    gateway: Lab, clients: dict[str, Any]
) -> None:
    lan = gateway.lan[0]
    subscribers = [
        subscribe_wanipconnection(gateway, lan, description)
        for description in (IGD2_DESCRIPTION, IGD1_DESCRIPTION)
    ]
    needle = ["PortMappingNumberOfEntries"]
    initial = [_entries_evented(wait_for_output(s, needle, WAIT)) for s in subscribers]

    clients["upnpc"].map("TCP")
    after = [_entries_evented(wait_for_output(s, needle, WAIT)) for s in subscribers]

    (igd2_entries, igd2_update_id), (igd1_entries, _) = initial
    assert (igd2_entries, igd1_entries) == (0, 0)
    assert igd2_update_id is not None
    assert after == [(1, igd2_update_id + 1), (1, None)]
