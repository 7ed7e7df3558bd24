"""The lab itself: a DNAT rule in the gateway forwards a WAN connection to a LAN listener."""

from __future__ import annotations

import sys

from tests.lab import LAN_INTERFACE, WAN_GATEWAY, WAN_INTERFACE, Lab, wait_for_output

LISTENER = """
import socket
server = socket.create_server(("0.0.0.0", 8000))
print("listening", flush=True)
connection, peer = server.accept()
connection.sendall(b"hello from the LAN")
print("peer", peer[0], flush=True)
connection.close()
"""

CONNECTOR = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as connection:
    print(connection.recv(100).decode())
"""


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
    listener = netlab.start(client, sys.executable, "-c", LISTENER)
    wait_for_output(listener, ["listening"])

    answer = netlab.run(netlab.wan, sys.executable, "-c", CONNECTOR, WAN_GATEWAY, "18000")

    assert answer.stdout.strip() == "hello from the LAN"
    assert "peer 203.0.113.2" in wait_for_output(listener, ["peer"])


def test_lan_client_cannot_be_reached_without_a_rule(netlab: Lab) -> None:
    client = netlab.lan[0]
    listener = netlab.start(client, sys.executable, "-c", LISTENER)
    wait_for_output(listener, ["listening"])

    answer = netlab.run(
        netlab.wan, sys.executable, "-c", CONNECTOR, WAN_GATEWAY, "18000", check=False
    )

    assert answer.returncode != 0
    assert "refused" in answer.stderr.lower()


def test_lan_client_reaches_gateway_on_its_bridge(netlab: Lab) -> None:
    gateway_lan = netlab.run(netlab.gateway, "ip", "-4", "-o", "addr", "show", LAN_INTERFACE)
    assert "192.168.50.1/24" in gateway_lan.stdout
    netlab.run(netlab.lan[0], "ping", "-c", "1", "-W", "2", "192.168.50.1")
