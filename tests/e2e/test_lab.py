"""The lab itself: a DNAT rule in the gateway forwards a WAN connection to a LAN listener."""

from __future__ import annotations

from tests.e2e.traffic_support import connect, listen
from tests.lab import LAN_INTERFACE, WAN_INTERFACE, Lab, wait_for_output


def test_wan_host_reaches_lan_listener_through_dnat(netlab: Lab) -> None:
    client = netlab.lan[0]
    netlab.run(
        netlab.gateway,
        "nft",
        "-f",
        "-",
        input_text=f"""
table ip labtest {{
  chain prerouting {{
    type nat hook prerouting priority dstnat;
    iifname "{WAN_INTERFACE}" tcp dport 18000 dnat to {client.address}:8000
  }}
}}
""",
    )
    listener = listen(netlab, client, 8000, "tcp")

    answer = connect(netlab, 18000)

    assert answer == "hello over TCP"
    assert "tcp from 203.0.113.2" in wait_for_output(listener, ["tcp from"])


def test_lan_client_cannot_be_reached_without_a_rule(netlab: Lab) -> None:
    client = netlab.lan[0]
    listen(netlab, client, 8000, "tcp")

    assert connect(netlab, 18000) == "ConnectionRefusedError"


def test_lan_client_reaches_gateway_on_its_bridge(netlab: Lab) -> None:
    gateway_lan = netlab.run(netlab.gateway, "ip", "-4", "-o", "addr", "show", LAN_INTERFACE)
    assert "192.168.50.1/24" in gateway_lan.stdout
    netlab.run(netlab.lan[0], "ping", "-c", "1", "-W", "2", "192.168.50.1")
