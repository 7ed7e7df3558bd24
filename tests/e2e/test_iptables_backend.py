"""The iptables backend in the lab's gateway: real kernel, real traffic from the WAN host.

The same cases as the nftables backend's (test_nftables_backend.py, whose traffic helpers these
use), each run with `iptables` (iptables-nft on Debian) and with `iptables-legacy` where its
restore is installed. The backend runs in the gateway's namespace through nft_driver.py.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from igd.backends.iptables import IptablesBackend
from igd.core.nat import NatError
from tests.e2e.nft_driver import ADDON, Backend
from tests.e2e.test_nftables_backend import (
    SECOND_PEER,
    TCP_SERVER,
    UDP_SERVER,
    connect,
    listen,
    mapping,
    send_udp,
)
from tests.lab import LAN_INTERFACE, WAN_GATEWAY, WAN_INTERFACE, Lab, wait_for_output

COMMANDS = [
    pytest.param("iptables", id="iptables-nft"),
    pytest.param(
        "iptables-legacy",
        marks=pytest.mark.skipif(
            shutil.which("iptables-legacy-restore") is None,
            reason="iptables-legacy-restore is not installed",
        ),
    ),
]


@pytest.fixture(params=COMMANDS)
def command(request: pytest.FixtureRequest) -> str:
    """The iptables flavour under test; the lab's own iptables calls use the same one."""
    return str(request.param)


@contextlib.contextmanager
def running_backend(lab: Lab, command: str) -> Iterator[Backend]:
    backend = Backend(lab.gateway.namespace, WAN_INTERFACE, LAN_INTERFACE, iptables=command)
    try:
        backend.call("start")
        yield backend
    finally:
        backend.close()


@pytest.fixture
def backend(netlab: Lab, command: str) -> Iterator[Backend]:
    with running_backend(netlab, command) as started:
        yield started


def iptables(lab: Lab, command: str, *arguments: str) -> str:
    return lab.run(lab.gateway, command, *arguments).stdout


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


def test_remote_host_mapping_wins_for_its_peer_only(
    netlab: Lab, backend: Backend, command: str
) -> None:
    client = netlab.lan[0]
    netlab.run(netlab.wan, "ip", "addr", "add", f"{SECOND_PEER}/24", "dev", "eth0")
    wildcard_server = listen(netlab, client, UDP_SERVER, "8001")
    listen(netlab, client, TCP_SERVER)
    backend.call(
        "apply",
        add=[
            mapping("TCP", 18000, client.address, 8000, SECOND_PEER),
            mapping("UDP", 18001, client.address, 8001),  # the wildcard, applied first
        ],
    )
    backend.call("apply", add=[mapping("UDP", 18001, client.address, 8002, SECOND_PEER)])

    assert connect(netlab, 18000, source=SECOND_PEER) == "hello from the LAN"
    assert connect(netlab, 18000, source=netlab.wan.address) == "ConnectionRefusedError"
    assert send_udp(netlab, netlab.wan, WAN_GATEWAY, 18001) == "echo ping"
    assert f"peer {netlab.wan.address}" in wait_for_output(wildcard_server, ["peer"])
    nat = iptables(netlab, command, "-t", "nat", "-S", "UPNPGW-PREROUTING")
    specific = nat.index(f"-s {SECOND_PEER}/32")
    assert specific < nat.index(f"--to-destination {client.address}:8001")


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


@pytest.mark.parametrize(
    ("table", "chain"), [("filter", "UPNPGW-FLOWS"), ("nat", "UPNPGW-PREROUTING")]
)
def test_a_table_refusing_its_part_undoes_the_other_tables_part(
    netlab: Lab, backend: Backend, command: str, table: str, chain: str
) -> None:
    """iptables-restore commits nat, then filter: a refused filter part leaves the nat part in,
    unless apply puts it back. Someone emptying one of our chains makes the kernel refuse."""
    client = netlab.lan[0]
    listen(netlab, client, TCP_SERVER)
    listen(netlab, client, UDP_SERVER, "8001")
    rules = [
        mapping("TCP", 18000, client.address, 8000),
        mapping("UDP", 18001, client.address, 8001),
    ]
    backend.call("apply", add=rules)
    iptables(netlab, command, "-t", table, "-F", chain)

    with pytest.raises(NatError, match="iptables"):
        backend.call("apply", remove=rules[:1], add=[mapping("TCP", 18002, client.address, 8000)])

    assert backend.call("list") == sorted(rules)
    assert connect(netlab, 18000) == "hello from the LAN"
    assert send_udp(netlab, netlab.wan, WAN_GATEWAY, 18001) == "echo ping"
    assert connect(netlab, 18002) == "ConnectionRefusedError"
    backend.call("apply", remove=rules[:1])  # the chains are whole again: the retry goes in
    assert backend.call("list") == rules[1:]


def test_list_returns_what_was_applied(backend: Backend) -> None:
    applied = [
        mapping("UDP", 3074, "192.168.50.10", 3074),
        mapping("TCP", 443, "192.168.50.11", 8443, SECOND_PEER),
        mapping("TCP", 80, "192.168.50.10", 8080),
    ]
    backend.call("apply", add=applied)

    assert backend.call("list") == sorted(applied)


def test_applying_a_mapping_twice_keeps_one_rule(
    netlab: Lab, backend: Backend, command: str
) -> None:
    rule = mapping("TCP", 18000, "192.168.50.10", 8000)
    backend.call("apply", add=[rule])

    backend.call("apply", add=[rule, rule])

    assert backend.call("list") == [rule]
    assert iptables(netlab, command, "-S", "UPNPGW-FLOWS").count("--ctorigdstport 18000") == 1


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


def test_mappings_forward_through_a_host_firewall_that_drops_forwarding(
    netlab: Lab, command: str
) -> None:
    client = netlab.lan[0]
    listen(netlab, client, TCP_SERVER)
    # someone else's port forward, which their own firewall must allow
    their_forward = f"-p tcp --dport 18500 -j DNAT --to-destination {client.address}:8000"
    iptables(netlab, command, "-t", "nat", "-A", "PREROUTING", *their_forward.split())
    assert connect(netlab, 18500) == "hello from the LAN"
    iptables(netlab, command, "-P", "FORWARD", "DROP")  # as Docker does
    assert connect(netlab, 18500) == "TimeoutError"

    with running_backend(netlab, command) as backend:
        backend.call("apply", add=[mapping("TCP", 18000, client.address, 8000)])
        assert connect(netlab, 18000) == "hello from the LAN"
        assert connect(netlab, 18500) == "TimeoutError"
        assert (
            iptables(netlab, command, "-S", "FORWARD").splitlines()[1]
            == "-A FORWARD -j UPNPGW-FORWARD"
        )

        backend.call("stop")

        assert "UPNPGW" not in iptables(netlab, command, "-S", "FORWARD")
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


def test_start_again_and_restart_keep_mappings_and_one_hook_each(netlab: Lab, command: str) -> None:
    client = netlab.lan[0]
    listen(netlab, client, TCP_SERVER)
    iptables(netlab, command, "-P", "FORWARD", "DROP")
    rules = [mapping("TCP", 18000, client.address, 8000)]
    with running_backend(netlab, command) as backend:
        backend.call("apply", add=rules)
        backend.call("set_forwarding", enabled=False)
        backend.call("start")
        assert backend.call("list") == rules
        backend.call("stop")
    iptables(netlab, command, "-F", "UPNPGW-FLOWS")  # rules only start can rebuild
    iptables(netlab, command, "-I", "FORWARD", "1", "-i", "eth9", "-j", "DROP")

    with running_backend(netlab, command) as restarted:
        assert restarted.call("list") == rules
        assert connect(netlab, 18000) == "hello from the LAN"  # forwarding on after a start
        built_in = ("-A FORWARD ", "-A PREROUTING ", "-A POSTROUTING ")
        rules_now = iptables(netlab, command, "-S") + iptables(netlab, command, "-t", "nat", "-S")
        hooks = [line for line in rules_now.splitlines() if line.startswith(built_in)]
        assert [line.split()[-1] for line in hooks] == [
            "UPNPGW-FORWARD",
            "DROP",  # theirs, inserted first while we were stopped, now after ours
            "UPNPGW-PREROUTING",
            "UPNPGW-POSTROUTING",
        ]


def test_backend_used_before_start_says_so(netlab: Lab) -> None:
    backend = Backend(netlab.gateway.namespace, WAN_INTERFACE, iptables="iptables")
    try:
        for op, fields in (("list", {}), ("apply", {}), ("set_forwarding", {"enabled": True})):
            with pytest.raises(RuntimeError, match="before start"):
                backend.call(op, **fields)
        backend.call("stop")  # nothing to stop: no error
    finally:
        backend.close()


UNPRIVILEGED_START = """
import asyncio, sys
from igd.backends.iptables import IptablesBackend
from igd.core.nat import NatError
try:
    asyncio.run(IptablesBackend("wan0", sys.argv[1]).start())
except NatError as error:
    print("NatError", error)
"""


def test_start_without_net_admin_is_a_nat_error(netlab: Lab, command: str) -> None:
    without_net_admin = ("setpriv", "--bounding-set=-net_admin")  # as a container may be
    python = ("env", f"PYTHONPATH={ADDON}", sys.executable, "-c", UNPRIVILEGED_START, command)

    answer = netlab.run(netlab.gateway, *without_net_admin, *python).stdout

    # iptables-nft says "Permission denied", iptables-legacy "unable to initialize table 'nat'"
    assert answer.startswith(f"NatError {command}-")


async def test_missing_iptables_is_a_clear_nat_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no iptables-save to run

    with pytest.raises(NatError, match="iptables-save is not installed"):
        await IptablesBackend(WAN_INTERFACE).start()


def test_command_must_be_an_iptables_flavour() -> None:
    with pytest.raises(ValueError, match="iptables-legacy"):
        IptablesBackend(WAN_INTERFACE, command="iptables; reboot")


@pytest.mark.parametrize("name", ["wan0\n-F FORWARD", "wan 0", "", "a" * 16])
def test_wan_interface_must_be_an_interface_name(name: str) -> None:
    with pytest.raises(ValueError, match="interface name"):
        IptablesBackend(name)


def test_measure_apply_times(
    backend: Backend, command: str, capsys: pytest.CaptureFixture[str]
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
    with capsys.disabled():
        print(
            f"\n{command}: 1,000 single-mapping transactions {single_seconds:.2f} s; "
            f"10,000 in one batch {batch_seconds:.2f} s; listing 11,000 {list_seconds:.2f} s; "
            f"removing one of 11,000 {one_of_11000_seconds:.2f} s"
        )
