"""The nftables backend in the lab's gateway: what only it does (test_backend_traffic.py has the
cases every backend passes, with traffic).

The backend runs in the gateway's namespace through nft_driver.py; the LAN client listens, the WAN
host connects to the gateway's WAN address. A connection the gateway does not forward is refused by
the gateway itself; one that a firewall drops times out.
"""

from __future__ import annotations

import ctypes.util
import sys
from collections.abc import Iterator

import pytest

from igd.backends import libnftables
from igd.backends.libnftables import LibnftablesError, Nftables
from igd.backends.nftables import NftablesBackend
from igd.core.nat import NatError
from tests.e2e.backend_support import mapping, running_backend
from tests.e2e.nft_driver import ADDON, Backend
from tests.e2e.traffic_support import SECOND_PEER, connect, listen
from tests.lab import LAN_INTERFACE, WAN_INTERFACE, Lab


@pytest.fixture
def backend(netlab: Lab) -> Iterator[Backend]:
    with running_backend(netlab) as started:
        yield started


def test_remote_host_mapping_admits_only_that_peer(netlab: Lab, backend: Backend) -> None:
    client = netlab.lan[0]
    netlab.run(netlab.wan, "ip", "addr", "add", f"{SECOND_PEER}/24", "dev", "eth0")
    listen(netlab, client, 8000, "tcp")
    backend.call("apply", add=[mapping("TCP", 18000, client.address, 8000, SECOND_PEER)])

    assert connect(netlab, 18000, source=SECOND_PEER) == "hello over TCP"
    assert connect(netlab, 18000, source=netlab.wan.address) == "ConnectionRefusedError"


def test_mappings_forward_through_a_host_firewall_that_drops_forwarding(netlab: Lab) -> None:
    client = netlab.lan[0]
    listen(netlab, client, 8000, "tcp")
    their_port_forward = f"""
table ip theirs {{
  chain prerouting {{
    type nat hook prerouting priority dstnat;
    tcp dport 18500 dnat to {client.address}:8000
  }}
}}
"""  # someone else's, which their own firewall must allow
    netlab.run(netlab.gateway, "nft", "-f", "-", input_text=their_port_forward)
    assert connect(netlab, 18500) == "hello over TCP"
    netlab.run(netlab.gateway, "iptables", "-P", "FORWARD", "DROP")  # as Docker does
    assert connect(netlab, 18500) == "TimeoutError"

    with running_backend(netlab) as backend:
        backend.call("apply", add=[mapping("TCP", 18000, client.address, 8000)])
        assert connect(netlab, 18000) == "hello over TCP"
        assert connect(netlab, 18500) == "TimeoutError"
        rules = netlab.run(netlab.gateway, "iptables", "-S", "FORWARD").stdout
        assert "-m mark --mark 0x2000/0x2000 -m comment --comment upnp_gateway -j ACCEPT" in rules
        netlab.run(netlab.gateway, "iptables", "-A", "FORWARD", "-i", "eth9", "-j", "ACCEPT")

        backend.call("stop")

        assert "upnp_gateway" not in netlab.run(netlab.gateway, "iptables", "-S").stdout
        assert connect(netlab, 18000) == "TimeoutError"


def test_start_again_and_restart_keep_mappings_and_one_firewall_hook(netlab: Lab) -> None:
    client = netlab.lan[0]
    listen(netlab, client, 8000, "tcp")
    netlab.run(netlab.gateway, "iptables", "-P", "FORWARD", "DROP")
    rules = [mapping("TCP", 18000, client.address, 8000)]
    with running_backend(netlab) as backend:
        backend.call("apply", add=rules)
        backend.call("start")
        assert backend.call("list") == rules
        backend.call("stop")

    with running_backend(netlab) as restarted:
        assert restarted.call("list") == rules
        assert connect(netlab, 18000) == "hello over TCP"
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
