"""What every kernel backend does in the lab's gateway: real kernel, real traffic from the WAN host.

Each case runs with the nftables backend and with the iptables one, through `iptables`
(iptables-nft on Debian) and `iptables-legacy` where its restore is installed; what only one
backend does is in test_nftables_backend.py and test_iptables_backend.py. The LAN client
listens, the WAN host connects to the gateway's WAN address. A connection the gateway does not
forward is refused by the gateway itself; one that a firewall drops times out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from igd.core.nat import NatError
from tests.e2e.backend_support import (
    IPTABLES_COMMANDS,
    forward_tcp_and_udp,
    mapping,
    running_backend,
)
from tests.e2e.nft_driver import Backend
from tests.e2e.traffic_support import SECOND_PEER, connect, listen, send_udp
from tests.lab import WAN_GATEWAY, Lab, wait_for_output


@pytest.fixture(params=[pytest.param(None, id="nftables"), *IPTABLES_COMMANDS])
def iptables(request: pytest.FixtureRequest) -> str | None:
    """The iptables command of the backend under test; None for the nftables backend."""
    command: str | None = request.param
    return command


@pytest.fixture
def backend(netlab: Lab, iptables: str | None) -> Iterator[Backend]:
    with running_backend(netlab, iptables) as started:
        yield started


def test_tcp_and_udp_reach_the_lan_client_through_mappings(netlab: Lab, backend: Backend) -> None:
    client = netlab.lan[0]
    tcp_listener = listen(netlab, client, 8000, "tcp")
    udp_listener = listen(netlab, client, 8001, "udp")
    backend.call(
        "apply",
        add=[
            mapping("TCP", 18000, client.address, 8000),
            mapping("UDP", 18001, client.address, 8001),
        ],
    )

    assert connect(netlab, 18000) == "hello over TCP"
    assert "tcp from 203.0.113.2" in wait_for_output(tcp_listener, ["tcp from"])
    assert send_udp(netlab, netlab.wan, WAN_GATEWAY, 18001) == "echo ping"
    assert "udp from 203.0.113.2" in wait_for_output(udp_listener, ["udp from"])
    assert connect(netlab, 18001) == "ConnectionRefusedError"  # UDP mapping, TCP not forwarded


def test_removing_a_mapping_stops_new_and_ongoing_traffic(netlab: Lab, backend: Backend) -> None:
    rules = forward_tcp_and_udp(netlab, backend)
    assert send_udp(netlab, netlab.wan, WAN_GATEWAY, 18001, source_port=40000) == "echo ping"

    backend.call("apply", remove=rules)

    assert connect(netlab, 18000) == "ConnectionRefusedError"
    # Same addresses and ports: the kernel's conntrack entry is still there, and no longer used.
    assert send_udp(netlab, netlab.wan, WAN_GATEWAY, 18001, source_port=40000) == "no reply"
    assert backend.call("list") == []


def test_replacing_a_mapping_in_one_apply_moves_its_traffic(netlab: Lab, backend: Backend) -> None:
    client = netlab.lan[0]
    listen(netlab, client, 8002, "udp")
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
    listen(netlab, client, 8000, "tcp")
    listen(netlab, client, 8002, "udp")
    before = [mapping("TCP", 18000, client.address, 8000)]
    backend.call("apply", add=before)

    with pytest.raises(NatError):
        backend.call("apply", add=add, remove=remove)

    assert backend.call("list") == before
    assert connect(netlab, 18000) == "hello over TCP"
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
    seen = listen(netlab, netlab.wan, 9000, "udp")
    backend.call(
        "apply",
        add=[
            mapping("UDP", 18005, client.address, 8001),
            mapping("UDP", 18003, client.address, 8001),
        ],
    )

    send_udp(netlab, client, netlab.wan.address, 9000, source_port=8001)
    assert f"udp from {WAN_GATEWAY} 18003 ping" in wait_for_output(seen, ["udp from"])
    send_udp(netlab, client, netlab.wan.address, 9000, source_port=8009)
    assert f"udp from {client.address} 8009 ping" in wait_for_output(seen, ["udp from"])

    backend.call("apply", remove=[mapping("UDP", 18003, client.address, 8001)])
    seen = listen(netlab, netlab.wan, 9001, "udp")  # a new flow; the old one keeps 18003
    send_udp(netlab, client, netlab.wan.address, 9001, source_port=8001)
    assert f"udp from {WAN_GATEWAY} 18005 ping" in wait_for_output(seen, ["udp from"])


def test_set_forwarding_gates_inbound_traffic_and_keeps_mappings(
    netlab: Lab, backend: Backend
) -> None:
    rules = forward_tcp_and_udp(netlab, backend)
    assert send_udp(netlab, netlab.wan, WAN_GATEWAY, 18001, source_port=40000) == "echo ping"

    backend.call("set_forwarding", enabled=False)

    assert connect(netlab, 18000) == "TimeoutError"
    assert send_udp(netlab, netlab.wan, WAN_GATEWAY, 18001, source_port=40000) == "no reply"
    assert backend.call("list") == sorted(rules)

    backend.call("set_forwarding", enabled=True)

    assert connect(netlab, 18000) == "hello over TCP"
    assert send_udp(netlab, netlab.wan, WAN_GATEWAY, 18001, source_port=40000) == "echo ping"


def test_measure_apply_times(
    backend: Backend, iptables: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
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
    began = time.perf_counter()
    backend.call("apply", remove=[mapping("UDP", 30000, "192.168.50.10", 1024)])
    one_of_11000_seconds = time.perf_counter() - began

    assert len(listed) == 11000
    name = iptables or "nftables"
    with capsys.disabled():
        print(
            f"\n{name}: 1,000 single-mapping transactions {single_seconds:.2f} s; "
            f"10,000 in one batch {batch_seconds:.2f} s; listing 11,000 {list_seconds:.2f} s; "
            f"removing one of 11,000 {one_of_11000_seconds:.2f} s"
        )
