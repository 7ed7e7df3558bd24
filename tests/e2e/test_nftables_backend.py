"""The nftables backend in the lab's gateway: real kernel, real traffic from the WAN host.

The backend runs in the gateway's namespace through nft_driver.py; the LAN client listens, the WAN
host connects to the gateway's WAN address. A connection the gateway does not forward is refused by
the gateway itself; one that a firewall drops times out.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from igd.backends import libnftables
from igd.backends.libnftables import LibnftablesError, Nftables
from igd.backends.nftables import NftablesBackend
from igd.core.nat import NatError
from tests.e2e.nft_driver import ADDON, Backend
from tests.lab import LAN_INTERFACE, WAN_GATEWAY, WAN_INTERFACE, Host, Lab, wait_for_output

SECOND_PEER = "203.0.113.3"  # a second address of the WAN host, for RemoteHost mappings

TCP_SERVER = """
import socket
server = socket.create_server(("0.0.0.0", 8000))
server.settimeout(120)
print("listening", flush=True)
for _ in range(20):
    connection, peer = server.accept()
    connection.sendall(b"hello from the LAN")
    print("peer", peer[0], flush=True)
    connection.close()
"""

UDP_SERVER = """
import socket, sys
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(("0.0.0.0", int(sys.argv[1])))
server.settimeout(120)
print("listening", flush=True)
for _ in range(50):
    data, peer = server.recvfrom(100)
    print("peer", peer[0], peer[1], data.decode(), flush=True)
    try:
        server.sendto(b"echo " + data, peer)
    except OSError:  # a peer the WAN host has no route to
        pass
"""

TCP_CONNECT = """
import socket, sys
host, port, source, source_port = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
try:
    with socket.create_connection((host, port), 3, (source, source_port)) as connection:
        print(connection.recv(100).decode())
except OSError as error:
    print(type(error).__name__)
"""

UDP_SEND = """
import socket, sys
host, port, source_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
    sender.bind(("0.0.0.0", source_port))
    sender.settimeout(2)
    sender.sendto(b"ping", (host, port))
    try:
        print(sender.recv(100).decode())
    except TimeoutError:
        print("no reply")
"""


@contextlib.contextmanager
def running_backend(lab: Lab) -> Iterator[Backend]:
    backend = Backend(lab.gateway.namespace, WAN_INTERFACE, LAN_INTERFACE)
    try:
        backend.call("start")
        yield backend
    finally:
        backend.close()


@pytest.fixture
def backend(netlab: Lab) -> Iterator[Backend]:
    with running_backend(netlab) as started:
        yield started


def mapping(protocol: str, port: int, client: str, internal: int, remote: str = "") -> list[Any]:
    return [protocol, port, client, internal, remote]


def listen(lab: Lab, host: Host, script: str, *arguments: str) -> subprocess.Popen[str]:
    listener = lab.start(host, sys.executable, "-c", script, *arguments)
    wait_for_output(listener, ["listening"])
    return listener


def connect(lab: Lab, port: int, source: str = "0.0.0.0", source_port: int = 0) -> str:
    """What the WAN host gets from a TCP connection to the gateway's WAN address."""
    arguments = (WAN_GATEWAY, str(port), source, str(source_port))
    return lab.run(lab.wan, sys.executable, "-c", TCP_CONNECT, *arguments).stdout.strip()


def send_udp(lab: Lab, host: Host, target: str, port: int, source_port: int = 0) -> str:
    arguments = (target, str(port), str(source_port))
    return lab.run(host, sys.executable, "-c", UDP_SEND, *arguments).stdout.strip()


def test_tcp_and_udp_reach_the_lan_client_through_mappings(netlab: Lab, backend: Backend) -> None:
    client = netlab.lan[0]
    tcp_listener = listen(netlab, client, TCP_SERVER)
    udp_listener = listen(netlab, client, UDP_SERVER, "8001")
    backend.call(
        "apply",
        add=[
            mapping("TCP", 18000, client.address, 8000),
            mapping("UDP", 18001, client.address, 8001),
        ],
    )

    assert connect(netlab, 18000) == "hello from the LAN"
    assert "peer 203.0.113.2" in wait_for_output(tcp_listener, ["peer"])
    assert send_udp(netlab, netlab.wan, WAN_GATEWAY, 18001) == "echo ping"
    assert "peer 203.0.113.2" in wait_for_output(udp_listener, ["peer"])
    assert connect(netlab, 18001) == "ConnectionRefusedError"  # UDP mapping, TCP not forwarded


def test_remote_host_mapping_admits_only_that_peer(netlab: Lab, backend: Backend) -> None:
    client = netlab.lan[0]
    netlab.run(netlab.wan, "ip", "addr", "add", f"{SECOND_PEER}/24", "dev", "eth0")
    listen(netlab, client, TCP_SERVER)
    backend.call("apply", add=[mapping("TCP", 18000, client.address, 8000, SECOND_PEER)])

    assert connect(netlab, 18000, source=SECOND_PEER) == "hello from the LAN"
    assert connect(netlab, 18000, source=netlab.wan.address) == "ConnectionRefusedError"


def test_removing_a_mapping_stops_new_and_ongoing_traffic(netlab: Lab, backend: Backend) -> None:
    client = netlab.lan[0]
    listen(netlab, client, TCP_SERVER)
    listen(netlab, client, UDP_SERVER, "8001")
    rules = [
        mapping("TCP", 18000, client.address, 8000),
        mapping("UDP", 18001, client.address, 8001),
    ]
    backend.call("apply", add=rules)
    assert send_udp(netlab, netlab.wan, WAN_GATEWAY, 18001, source_port=40000) == "echo ping"

    backend.call("apply", remove=rules)

    assert connect(netlab, 18000) == "ConnectionRefusedError"
    # Same addresses and ports: the kernel's conntrack entry is still there, and no longer used.
    assert send_udp(netlab, netlab.wan, WAN_GATEWAY, 18001, source_port=40000) == "no reply"
    assert backend.call("list") == []


def test_replacing_a_mapping_in_one_apply_moves_its_traffic(netlab: Lab, backend: Backend) -> None:
    client = netlab.lan[0]
    listen(netlab, client, UDP_SERVER, "8002")
    old = mapping("UDP", 18001, client.address, 8001)
    new = mapping("UDP", 18001, client.address, 8002)
    backend.call("apply", add=[old])

    backend.call("apply", add=[new], remove=[old])

    assert send_udp(netlab, netlab.wan, WAN_GATEWAY, 18001) == "echo ping"
    assert backend.call("list") == [new]


@pytest.mark.parametrize(
    ("add", "remove"),
    [
        (
            [mapping("UDP", 18002, "192.168.50.10", 8002)],
            [mapping("TCP", 19999, "192.168.50.10", 1)],
        ),
        ([mapping("TCP", 18000, "192.168.50.11", 8000)], []),  # port held by another client
        ([mapping("TCP", 18002, "192.168.50.256", 8000)], []),
        ([mapping("TCP", 70000, "192.168.50.10", 8000)], []),
        ([mapping("TCP", 18002, "192.168.50.10", 8000, "example.org")], []),
        ([mapping("SCTP", 18002, "192.168.50.10", 8000)], []),
    ],
    ids=["remove-missing", "conflict", "bad-client", "bad-port", "bad-remote", "bad-protocol"],
)
def test_refused_change_raises_and_changes_nothing(
    netlab: Lab, backend: Backend, add: list[Any], remove: list[Any]
) -> None:
    client = netlab.lan[0]
    listen(netlab, client, TCP_SERVER)
    listen(netlab, client, UDP_SERVER, "8002")
    before = [mapping("TCP", 18000, client.address, 8000)]
    backend.call("apply", add=before)

    with pytest.raises(NatError):
        backend.call("apply", add=add, remove=remove)

    assert backend.call("list") == before
    assert connect(netlab, 18000) == "hello from the LAN"
    assert send_udp(netlab, netlab.wan, WAN_GATEWAY, 18002) == "no reply"


def test_list_returns_what_was_applied(backend: Backend) -> None:
    applied = [
        mapping("UDP", 3074, "192.168.50.10", 3074),
        mapping("TCP", 443, "192.168.50.11", 8443, SECOND_PEER),
        mapping("TCP", 80, "192.168.50.10", 8080),
    ]
    backend.call("apply", add=applied)

    assert backend.call("list") == sorted(applied)


def test_a_thousand_mappings_in_batches_are_listed(backend: Backend) -> None:
    applied = [
        mapping("TCP" if n % 2 else "UDP", 20000 + n, f"192.168.50.{10 + n % 100}", 1024 + n)
        for n in range(1000)
    ]
    for start in range(0, 1000, 100):
        backend.call("apply", add=applied[start : start + 100])

    assert backend.call("list") == sorted(applied)


def test_outbound_traffic_leaves_from_the_external_port(netlab: Lab, backend: Backend) -> None:
    """Port-triggering symmetry (5.6.16); the lowest ExternalPort wins where two share a client."""
    client = netlab.lan[0]
    seen = listen(netlab, netlab.wan, UDP_SERVER, "9000")
    backend.call(
        "apply",
        add=[
            mapping("UDP", 18005, client.address, 8001),
            mapping("UDP", 18003, client.address, 8001),
        ],
    )

    send_udp(netlab, client, netlab.wan.address, 9000, source_port=8001)
    assert f"peer {WAN_GATEWAY} 18003 ping" in wait_for_output(seen, ["peer"])
    send_udp(netlab, client, netlab.wan.address, 9000, source_port=8009)
    assert f"peer {client.address} 8009 ping" in wait_for_output(seen, ["peer"])

    backend.call("apply", remove=[mapping("UDP", 18003, client.address, 8001)])
    seen = listen(netlab, netlab.wan, UDP_SERVER, "9001")  # a new flow; the old one keeps 18003
    send_udp(netlab, client, netlab.wan.address, 9001, source_port=8001)
    assert f"peer {WAN_GATEWAY} 18005 ping" in wait_for_output(seen, ["peer"])


def test_mappings_forward_through_a_host_firewall_that_drops_forwarding(netlab: Lab) -> None:
    client = netlab.lan[0]
    listen(netlab, client, TCP_SERVER)
    their_port_forward = f"""
table ip theirs {{
  chain prerouting {{
    type nat hook prerouting priority dstnat;
    tcp dport 18500 dnat to {client.address}:8000
  }}
}}
"""  # someone else's, which their own firewall must allow
    netlab.run(netlab.gateway, "nft", "-f", "-", input_text=their_port_forward)
    assert connect(netlab, 18500) == "hello from the LAN"
    netlab.run(netlab.gateway, "iptables", "-P", "FORWARD", "DROP")  # as Docker does
    assert connect(netlab, 18500) == "TimeoutError"

    with running_backend(netlab) as backend:
        backend.call("apply", add=[mapping("TCP", 18000, client.address, 8000)])
        assert connect(netlab, 18000) == "hello from the LAN"
        assert connect(netlab, 18500) == "TimeoutError"
        rules = netlab.run(netlab.gateway, "iptables", "-S", "FORWARD").stdout
        assert "-m mark --mark 0x2000/0x2000 -m comment --comment upnp_gateway -j ACCEPT" in rules
        netlab.run(netlab.gateway, "iptables", "-A", "FORWARD", "-i", "eth9", "-j", "ACCEPT")

        backend.call("stop")

        assert "upnp_gateway" not in netlab.run(netlab.gateway, "iptables", "-S").stdout
        assert connect(netlab, 18000) == "TimeoutError"


def test_set_forwarding_gates_inbound_traffic_and_keeps_mappings(
    netlab: Lab, backend: Backend
) -> None:
    client = netlab.lan[0]
    listen(netlab, client, TCP_SERVER)
    listen(netlab, client, UDP_SERVER, "8001")
    rules = [
        mapping("TCP", 18000, client.address, 8000),
        mapping("UDP", 18001, client.address, 8001),
    ]
    backend.call("apply", add=rules)
    assert send_udp(netlab, netlab.wan, WAN_GATEWAY, 18001, source_port=40000) == "echo ping"

    backend.call("set_forwarding", enabled=False)

    assert connect(netlab, 18000) == "TimeoutError"
    assert send_udp(netlab, netlab.wan, WAN_GATEWAY, 18001, source_port=40000) == "no reply"
    assert backend.call("list") == sorted(rules)

    backend.call("set_forwarding", enabled=True)

    assert connect(netlab, 18000) == "hello from the LAN"
    assert send_udp(netlab, netlab.wan, WAN_GATEWAY, 18001, source_port=40000) == "echo ping"


def test_start_again_and_restart_keep_mappings_and_one_firewall_hook(netlab: Lab) -> None:
    client = netlab.lan[0]
    listen(netlab, client, TCP_SERVER)
    netlab.run(netlab.gateway, "iptables", "-P", "FORWARD", "DROP")
    rules = [mapping("TCP", 18000, client.address, 8000)]
    with running_backend(netlab) as backend:
        backend.call("apply", add=rules)
        backend.call("start")
        assert backend.call("list") == rules
        backend.call("stop")

    with running_backend(netlab) as restarted:
        assert restarted.call("list") == rules
        assert connect(netlab, 18000) == "hello from the LAN"
        hooks = netlab.run(netlab.gateway, "iptables", "-S", "FORWARD").stdout
        assert hooks.count("upnp_gateway") == 1


def test_backend_used_before_start_says_so(netlab: Lab) -> None:
    backend = Backend(netlab.gateway.namespace, WAN_INTERFACE, LAN_INTERFACE)
    try:
        with pytest.raises(RuntimeError, match="before start"):
            backend.call("list")
    finally:
        backend.close()


UNPRIVILEGED_START = """
import asyncio
from igd.backends.nftables import NftablesBackend
from igd.core.nat import NatError
try:
    asyncio.run(NftablesBackend("wan0", ["lan0"]).start())
except NatError as error:
    print("NatError", error)
"""


def test_start_without_net_admin_is_a_nat_error(netlab: Lab) -> None:
    without_net_admin = ("setpriv", "--bounding-set=-net_admin")  # as a container may be
    python = ("env", f"PYTHONPATH={ADDON}", sys.executable, "-c", UNPRIVILEGED_START)

    answer = netlab.run(netlab.gateway, *without_net_admin, *python).stdout

    assert answer.startswith("NatError")
    assert "Operation not permitted" in answer


def test_table_name_must_be_a_plain_identifier() -> None:
    with pytest.raises(ValueError, match="table name"):
        NftablesBackend(WAN_INTERFACE, [LAN_INTERFACE], table="upnp gateway; flush ruleset")


async def test_missing_libnftables_is_a_clear_nat_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(libnftables, "SONAME", "libnftables-not-installed.so.0")

    with pytest.raises(NatError, match="libnftables is not installed"):
        await NftablesBackend(WAN_INTERFACE, [LAN_INTERFACE]).start()


def test_closed_context_refuses_commands() -> None:
    context = Nftables()
    context.close()

    with pytest.raises(LibnftablesError, match="closed"):
        context.run([{"list": {"tables": None}}])


def test_measure_apply_times(backend: Backend, capsys: pytest.CaptureFixture[str]) -> None:
    """Not a test of speed: prints how long 1,000 single and 10,000 batched changes take."""
    singles = [mapping("TCP", 20000 + n, "192.168.50.10", 20000 + n) for n in range(1000)]
    batch = [
        mapping("UDP", 30000 + n, f"192.168.50.{10 + n % 200}", 1024 + n) for n in range(10000)
    ]

    single_seconds = backend.call("apply_each", add=singles)
    began = time.perf_counter()
    backend.call("apply", add=batch)
    batch_seconds = time.perf_counter() - began
    began = time.perf_counter()
    listed = backend.call("list")
    list_seconds = time.perf_counter() - began

    assert len(listed) == 11000
    with capsys.disabled():
        print(
            f"\nnftables: 1,000 single-mapping transactions {single_seconds:.2f} s; "
            f"10,000 in one batch {batch_seconds:.2f} s; listing 11,000 {list_seconds:.2f} s"
        )
