"""The iptables backend in the lab's gateway: what only it does (test_backend_traffic.py has the
cases every backend passes, with traffic).

Each case runs with `iptables` (iptables-nft on Debian) and with `iptables-legacy` where its
restore is installed. The backend runs in the gateway's namespace through nft_driver.py.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from igd.backends.iptables import IptablesBackend
from igd.core.nat import NatError
from tests.e2e.backend_support import (
    IPTABLES_COMMANDS,
    forward_tcp_and_udp,
    mapping,
    running_backend,
)
from tests.e2e.nft_driver import ADDON, Backend
from tests.e2e.traffic_support import SECOND_PEER, connect, listen, send_udp
from tests.lab import WAN_GATEWAY, WAN_INTERFACE, Lab, wait_for_output


@pytest.fixture(params=IPTABLES_COMMANDS)
def command(request: pytest.FixtureRequest) -> str:
    """The iptables flavour under test; the lab's own iptables calls use the same one."""
    return str(request.param)


@pytest.fixture
def backend(netlab: Lab, command: str) -> Iterator[Backend]:
    with running_backend(netlab, command) as started:
        yield started


def iptables(lab: Lab, command: str, *arguments: str) -> str:
    return lab.run(lab.gateway, command, *arguments).stdout


def test_remote_host_mapping_wins_for_its_peer_only(
    netlab: Lab, backend: Backend, command: str
) -> None:
    client = netlab.lan[0]
    netlab.run(netlab.wan, "ip", "addr", "add", f"{SECOND_PEER}/24", "dev", "eth0")
    wildcard_server = listen(netlab, client, 8001, "udp")
    listen(netlab, client, 8000, "tcp")
    backend.call(
        "apply",
        add=[
            mapping("TCP", 18000, client.address, 8000, SECOND_PEER),
            mapping("UDP", 18001, client.address, 8001),  # the wildcard, applied first
        ],
    )
    backend.call("apply", add=[mapping("UDP", 18001, client.address, 8002, SECOND_PEER)])

    assert connect(netlab, 18000, source=SECOND_PEER) == "hello over TCP"
    assert connect(netlab, 18000, source=netlab.wan.address) == "ConnectionRefusedError"
    assert send_udp(netlab, netlab.wan, WAN_GATEWAY, 18001) == "echo ping"
    assert f"udp from {netlab.wan.address}" in wait_for_output(wildcard_server, ["udp from"])
    nat = iptables(netlab, command, "-t", "nat", "-S", "UPNPGW-PREROUTING")
    specific = nat.index(f"-s {SECOND_PEER}/32")
    assert specific < nat.index(f"--to-destination {client.address}:8001")


@pytest.mark.parametrize(
    ("table", "chain"), [("filter", "UPNPGW-FLOWS"), ("nat", "UPNPGW-PREROUTING")]
)
def test_a_table_refusing_its_part_undoes_the_other_tables_part(
    netlab: Lab, backend: Backend, command: str, table: str, chain: str
) -> None:
    """iptables-restore commits nat, then filter: a refused filter part leaves the nat part in,
    unless apply puts it back. Someone emptying one of our chains makes the kernel refuse."""
    client = netlab.lan[0]
    rules = forward_tcp_and_udp(netlab, backend)
    iptables(netlab, command, "-t", table, "-F", chain)

    with pytest.raises(NatError, match="iptables"):
        backend.call("apply", remove=rules[:1], add=[mapping("TCP", 18002, client.address, 8000)])

    assert backend.call("list") == sorted(rules)
    assert connect(netlab, 18000) == "hello over TCP"
    assert send_udp(netlab, netlab.wan, WAN_GATEWAY, 18001) == "echo ping"
    assert connect(netlab, 18002) == "ConnectionRefusedError"
    backend.call("apply", remove=rules[:1])  # the chains are whole again: the retry goes in
    assert backend.call("list") == rules[1:]


def test_applying_a_mapping_twice_keeps_one_rule(
    netlab: Lab, backend: Backend, command: str
) -> None:
    rule = mapping("TCP", 18000, "192.168.50.10", 8000)
    backend.call("apply", add=[rule])

    backend.call("apply", add=[rule, rule])

    assert backend.call("list") == [rule]
    assert iptables(netlab, command, "-S", "UPNPGW-FLOWS").count("--ctorigdstport 18000") == 1


def test_mappings_forward_through_a_host_firewall_that_drops_forwarding(
    netlab: Lab, command: str
) -> None:
    client = netlab.lan[0]
    listen(netlab, client, 8000, "tcp")
    # someone else's port forward, which their own firewall must allow
    their_forward = f"-p tcp --dport 18500 -j DNAT --to-destination {client.address}:8000"
    iptables(netlab, command, "-t", "nat", "-A", "PREROUTING", *their_forward.split())
    assert connect(netlab, 18500) == "hello over TCP"
    iptables(netlab, command, "-P", "FORWARD", "DROP")  # as Docker does
    assert connect(netlab, 18500) == "TimeoutError"

    with running_backend(netlab, command) as backend:
        backend.call("apply", add=[mapping("TCP", 18000, client.address, 8000)])
        assert connect(netlab, 18000) == "hello over TCP"
        assert connect(netlab, 18500) == "TimeoutError"
        assert (
            iptables(netlab, command, "-S", "FORWARD").splitlines()[1]
            == "-A FORWARD -j UPNPGW-FORWARD"
        )

        backend.call("stop")

        assert "UPNPGW" not in iptables(netlab, command, "-S", "FORWARD")
        assert connect(netlab, 18000) == "TimeoutError"


def test_start_again_and_restart_keep_mappings_and_one_hook_each(netlab: Lab, command: str) -> None:
    client = netlab.lan[0]
    listen(netlab, client, 8000, "tcp")
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
        assert connect(netlab, 18000) == "hello over TCP"  # forwarding on after a start
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
