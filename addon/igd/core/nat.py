"""What the mapping core asks of a NAT backend.

The core owns the rules and the lease clock; a backend only makes the kernel forward (or stop
forwarding) what the core decided. A change is acknowledged to a client only after `apply` returns,
and `apply` is all-or-nothing: a refused change leaves both the kernel and the table as they were.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

TCP = "TCP"
UDP = "UDP"
MAX_PORT = 65535


@dataclass(frozen=True, slots=True, order=True)
class Redirect:
    """One forwarding rule as the kernel sees it: no lease, no description, no owner."""

    protocol: str  # TCP or UDP
    external_port: int
    internal_client: str  # dotted IPv4 address on the LAN
    internal_port: int
    remote_host: str = ""  # dotted IPv4 WAN peer, "" for any


class NatError(Exception):
    """The kernel refused a change; nothing of it was applied."""


def check_redirect(redirect: Redirect) -> None:
    """Refuse what a kernel tool would misread: nft and iptables resolve a bad address by DNS.

    The core never makes such a redirect; a backend checks anyway, being the last step before
    the kernel.
    """
    if redirect.protocol not in (TCP, UDP):
        raise NatError(f"unsupported protocol {redirect.protocol!r} in {redirect}")
    for address in filter(None, (redirect.internal_client, redirect.remote_host)):
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            raise NatError(f"not an IPv4 address: {address!r} in {redirect}") from None
    if not all(0 < port <= MAX_PORT for port in (redirect.external_port, redirect.internal_port)):
        raise NatError(f"port out of range in {redirect}")


class NatBackend(Protocol):
    """The kernel side of the mapping table; implementations: memory, nftables, iptables."""

    name: str

    async def start(self) -> None:
        """Create the backend's own table or chains (idempotent; keeps existing rules)."""

    async def stop(self) -> None:
        """Release resources; the rules stay so that a restart can reconcile them."""

    async def apply(self, add: Sequence[Redirect] = (), remove: Sequence[Redirect] = ()) -> None:
        """Remove then add the given rules in one atomic step; raise NatError if refused."""

    async def list(self) -> list[Redirect]:
        """Every rule the backend's own table holds now."""

    async def set_forwarding(self, enabled: bool) -> None:
        """Gate all inbound forwarding from the WAN (connection terminated or restored)."""
