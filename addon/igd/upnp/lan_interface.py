"""The LAN interfaces the UPnP front-end serves: kernel index, IPv4 address and subnet.

SSDP needs the index to join the multicast group on that interface only, the address for LOCATION
and the subnet to ignore senders that are not on that LAN. Read with the kernel's own ioctls, so
nothing beyond the standard library is needed.
"""

from __future__ import annotations

import fcntl
import socket
import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Address, ip_address

# <linux/sockios.h>
SIOCGIFADDR = 0x8915
SIOCGIFNETMASK = 0x891B
IFNAMSIZ = 16  # <net/if.h>, including the terminating NUL


class LanInterfaceError(OSError):
    """The interface does not exist, or has no IPv4 address."""


@dataclass(frozen=True)
class LanInterface:
    """One LAN interface as the kernel reports it right now."""

    name: str
    index: int
    address: IPv4Address
    network: IPv4Network

    def serves(self, peer: str) -> bool:
        """Whether `peer` (an address as sockets report it) is a host on this LAN."""
        try:
            parsed = ip_address(peer)
        except ValueError:
            return False
        if isinstance(parsed, IPv6Address):
            mapped = parsed.ipv4_mapped
            if mapped is None:
                return False
            parsed = mapped
        # a /31 or /32 has no network or broadcast address (RFC 3021)
        edges = (
            ()
            if self.network.prefixlen >= 31
            else (
                self.network.network_address,
                self.network.broadcast_address,
            )
        )
        return parsed in self.network and parsed not in edges


def _ioctl_ipv4(probe: socket.socket, request: int, name: str) -> IPv4Address:
    ifreq = struct.pack(f"{IFNAMSIZ}s16x", name.encode())
    answer = fcntl.ioctl(probe.fileno(), request, ifreq)
    # struct ifreq: the name, then a struct sockaddr_in (family, port, address)
    return IPv4Address(answer[IFNAMSIZ + 4 : IFNAMSIZ + 8])


def lan_interface(name: str) -> LanInterface:
    """Look up a LAN interface by name (raises LanInterfaceError)."""
    if not name or len(name.encode()) >= IFNAMSIZ or "/" in name or "\0" in name:
        raise LanInterfaceError(f"not an interface name: {name!r}")
    try:
        index = socket.if_nametoindex(name)
    except OSError as error:
        raise LanInterfaceError(f"no interface {name!r}") from error
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            address = _ioctl_ipv4(probe, SIOCGIFADDR, name)
            netmask = _ioctl_ipv4(probe, SIOCGIFNETMASK, name)
        except OSError as error:
            raise LanInterfaceError(f"interface {name!r} has no IPv4 address") from error
    network = IPv4Interface(f"{address}/{netmask}").network
    return LanInterface(name=name, index=index, address=address, network=network)
