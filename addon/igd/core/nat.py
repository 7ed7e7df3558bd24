"""What the mapping core asks of a NAT backend.

The core owns the rules and the lease clock; a backend only makes the kernel forward (or stop
forwarding) what the core decided. A change is acknowledged to a client only after `apply` returns,
and `apply` is all-or-nothing: a refused change leaves both the kernel and the table as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

TCP = "TCP"
UDP = "UDP"


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
