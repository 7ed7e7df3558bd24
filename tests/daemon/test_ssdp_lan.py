"""Which interface and which senders SSDP serves, read from this host's real interfaces."""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv4Network

import pytest

from igd.upnp.lan_interface import LanInterface, LanInterfaceError, lan_interface
from igd.upnp.ssdp import SsdpError, SsdpFace, SsdpServer
from igd.upnp.ssdp_messages import SsdpTarget

LAN = LanInterface(
    name="lan0",
    index=7,
    address=IPv4Address("192.168.50.1"),
    network=IPv4Network("192.168.50.0/24"),
)


def test_loopback_is_read_from_the_kernel() -> None:
    loopback = lan_interface("lo")

    assert loopback.index == socket.if_nametoindex("lo")
    assert loopback.address == IPv4Address("127.0.0.1")
    assert loopback.network == IPv4Network("127.0.0.0/8")


@pytest.mark.parametrize("name", ["", "missing0", "a/b", "x" * 16, "lo\0"])
def test_unknown_or_invalid_interface_is_an_error(name: str) -> None:
    with pytest.raises(LanInterfaceError):
        lan_interface(name)


@pytest.mark.parametrize(
    ("peer", "served"),
    [
        ("192.168.50.10", True),
        ("192.168.50.1", True),  # Home Assistant on the gateway host itself
        ("::ffff:192.168.50.10", True),
        ("192.168.51.10", False),
        ("203.0.113.2", False),
        ("192.168.50.255", False),  # the subnet's broadcast address
        ("192.168.50.0", False),
        ("239.255.255.250", False),
        ("0.0.0.0", False),
        ("fd00::10", False),
        ("not an address", False),
    ],
)
def test_only_hosts_of_the_lan_subnet_are_served(peer: str, served: bool) -> None:
    assert LAN.serves(peer) is served


async def test_server_start_fails_on_a_missing_interface() -> None:
    face = SsdpFace(targets=(SsdpTarget("upnp:rootdevice", "uuid:x::upnp:rootdevice"),),
                    location=lambda lan: f"http://{lan.address}/")  # fmt: skip
    server = SsdpServer(
        interfaces=["missing0"], faces=[face], boot_id=1, config_id=1, server="test/1"
    )

    with pytest.raises(SsdpError, match="missing0"):
        await server.start()
    assert server.interfaces == ()
    await server.stop()  # stopping a server that never started is harmless
