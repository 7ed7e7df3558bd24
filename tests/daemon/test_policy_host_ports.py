"""Ports the host uses by other means (729): its listening sockets and foreign forwarding rules.

The sockets are real (this process's, asked of the kernel by sock_diag and read from /proc/net,
its fallback); the nftables listing is what
`nft -j list table` printed for rules made with nft 1.0.6 and iptables-nft 1.8.9 (the lab's
e2e tests check the same against a live kernel).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from igd import host_ports
from igd.host_ports import (
    SOCKET_TABLES,
    HostPorts,
    HostPortsSnapshot,
    forwarded_ports,
    listening_ports,
    proc_listening_ports,
)
from igd.socket_diag import TCP_LISTEN_STATE, SocketDiag

type Reader = Callable[[], frozenset[tuple[int, str]]]


def _from_proc() -> frozenset[tuple[int, str]]:
    return frozenset().union(*(proc_listening_ports(name) for name in SOCKET_TABLES))


READERS = pytest.mark.parametrize("read", [listening_ports, _from_proc], ids=["diag", "proc"])


def _dport(protocol: str, right: Any, op: str = "==") -> dict[str, Any]:
    return {
        "match": {
            "op": op,
            "left": {"payload": {"protocol": protocol, "field": "dport"}},
            "right": right,
        }
    }


def _rule(chain: str, *expressions: dict[str, Any]) -> dict[str, Any]:
    return {"rule": {"family": "ip", "table": "nat", "chain": chain, "expr": list(expressions)}}


L4PROTO_TCP = {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}
L4PROTO_BOTH = {
    "match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": {"set": ["tcp", "udp"]}}
}
DNAT = {"dnat": {"family": "ip", "addr": "192.168.50.10"}}
XT_DNAT = {"xt": {"type": "target", "name": "DNAT"}}
COUNTER = {"counter": {"packets": 0, "bytes": 0}}
LISTING = [
    {"table": {"family": "ip", "name": "nat", "handle": 1}},
    # iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT …
    _rule("PREROUTING", _dport("tcp", 8080), COUNTER, XT_DNAT),
    # Docker: -A DOCKER ! -i docker0 -p udp -m udp --dport 9000:9002 -j DNAT …
    _rule("DOCKER", _dport("udp", {"range": [9000, 9002]}), COUNTER, XT_DNAT),
    # -p tcp -m multiport --dports 7000,7001 -j REDIRECT: the ports are in the xt match
    _rule(
        "PREROUTING",
        L4PROTO_TCP,
        {"xt": {"type": "match", "name": "multiport"}},
        {"xt": {"type": "target", "name": "REDIRECT"}},
    ),
    # nft: tcp dport { 4000, 4100-4102 } dnat ip to …
    _rule("pre", _dport("tcp", {"set": [4000, {"range": [4100, 4102]}]}), DNAT),
    # nft: meta l4proto { tcp, udp } th dport 5555 dnat ip to …
    _rule("pre", L4PROTO_BOTH, _dport("th", 5555), DNAT),
    # nft: udp dport != 6000 dnat …: every port but one, no claim on a port
    _rule("pre", _dport("udp", 6000, op="!="), DNAT),
    # nft: tcp dport 6100 redirect to :80
    _rule("pre", _dport("tcp", 6100), {"redirect": {"port": 80}}),
    # a filter rule on a port forwards nothing
    _rule("input", _dport("tcp", 6200), {"accept": None}),
    # the iptables backend's own chain
    _rule("UPNPGW-PREROUTING", _dport("tcp", 6300), XT_DNAT),
]


def test_forwarding_rules_of_others_name_their_ports() -> None:
    found = forwarded_ports(LISTING, own_chains=frozenset({"UPNPGW-PREROUTING"}))

    assert sorted(found) == [
        ("TCP", 4000, 4000),
        ("TCP", 4100, 4102),
        ("TCP", 5555, 5555),
        ("TCP", 6100, 6100),
        ("TCP", 8080, 8080),
        ("UDP", 5555, 5555),
        ("UDP", 9000, 9002),
    ]


def test_our_own_chains_count_when_not_named_ours() -> None:
    assert ("TCP", 6300, 6300) in forwarded_ports(LISTING)


@pytest.mark.parametrize(
    ("port", "protocol", "held"),
    [
        (9001, "UDP", True),
        (9001, "TCP", False),
        (9003, "UDP", False),
        (22, "TCP", True),
        (22, "UDP", False),
    ],
)
def test_a_snapshot_holds_listeners_and_forwarded_ranges(
    port: int, protocol: str, held: bool
) -> None:
    snapshot = HostPortsSnapshot(frozenset({(22, "TCP")}), (("UDP", 9000, 9002),))

    assert snapshot.holds(port, protocol) is held


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for each in opened:
        each.close()


def _bound(opened: list[socket.socket], kind: int, address: str) -> int:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, kind)
    opened.append(sock)
    sock.bind((address, 0))
    if kind == socket.SOCK_STREAM:
        sock.listen()
    return int(sock.getsockname()[1])


@READERS
def test_listening_sockets_count_on_any_address_but_loopback(
    sockets: list[socket.socket], read: Reader
) -> None:
    tcp_any = _bound(sockets, socket.SOCK_STREAM, "0.0.0.0")
    udp_any = _bound(sockets, socket.SOCK_DGRAM, "0.0.0.0")
    tcp_loopback = _bound(sockets, socket.SOCK_STREAM, "127.0.0.1")
    udp_loopback = _bound(sockets, socket.SOCK_DGRAM, "127.0.0.1")
    connected = _bound(sockets, socket.SOCK_DGRAM, "0.0.0.0")
    sockets[-1].connect(("127.0.0.1", udp_loopback))  # a client socket, not a server's
    client = socket.create_connection(("127.0.0.1", tcp_loopback))
    sockets.append(client)

    found = read()

    assert (tcp_any, "TCP") in found
    assert (udp_any, "UDP") in found
    assert (tcp_loopback, "TCP") not in found
    assert (udp_loopback, "UDP") not in found
    assert (connected, "UDP") not in found
    assert (client.getsockname()[1], "TCP") not in found


@READERS
def test_ipv6_listeners_count_too(sockets: list[socket.socket], read: Reader) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    try:
        dual = _bound(sockets, socket.SOCK_STREAM, "::")
        loopback = _bound(sockets, socket.SOCK_STREAM, "::1")
    except OSError as error:
        pytest.skip(f"no IPv6 sockets here: {error}")

    found = read()

    assert (dual, "TCP") in found
    assert (loopback, "TCP") not in found


async def test_refresh_sees_a_listener_opened_after_the_last_read(
    sockets: list[socket.socket],
) -> None:
    host_ports = HostPorts()
    try:
        await host_ports.refresh()
        port = _bound(sockets, socket.SOCK_STREAM, "0.0.0.0")
        before = host_ports.in_use(port, "TCP")
        await host_ports.refresh()
        after = host_ports.in_use(port, "TCP")
    finally:
        host_ports.close()

    assert (before, after) == (False, True)


def test_a_protocol_without_sock_diag_is_refused_by_the_kernel() -> None:
    unassigned_protocol = 254  # RFC 3692's experimental number: no kernel diag handler
    with SocketDiag() as diag, pytest.raises(FileNotFoundError):  # ENOENT
        list(diag.bound_local_ends(socket.AF_INET, unassigned_protocol, TCP_LISTEN_STATE))


class _NoSocketDiag(SocketDiag):
    """A kernel without sock_diag (some containers): the socket cannot be made."""

    def __init__(self) -> None:
        super().__init__()
        if self._sock is not None:
            self._sock.close()
        self._sock, self._error = None, OSError(errno.EPROTONOSUPPORT, "no sock_diag")


def test_without_sock_diag_the_listeners_are_read_from_proc(
    sockets: list[socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(host_ports, "SocketDiag", _NoSocketDiag)
    tcp_any = _bound(sockets, socket.SOCK_STREAM, "0.0.0.0")
    udp_loopback = _bound(sockets, socket.SOCK_DGRAM, "127.0.0.1")

    found = listening_ports()

    assert (tcp_any, "TCP") in found
    assert (udp_loopback, "UDP") not in found
