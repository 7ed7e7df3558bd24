"""The gateway's own policy over the mapping core: where a mapping may point, and lease bounds.

The core applies the standard's rules (R1-R6 for restricted control points); this adds what the
add-on's options and security-notes.md 4 ask for, for every caller, trusted or not: the external
port inside the configured range and never one of the host's own services, the internal client a
host of a LAN and not the gateway itself (UPnProxy, A4). A refusal here is 606.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING

from igd.permissions import Decision, PermissionRules

if TYPE_CHECKING:
    from igd.core.arguments import MappingRequest
    from igd.host_ports import HostPorts

SSH_PORT = 22
HOME_ASSISTANT_PORT = 8123
LIMITED_BROADCAST = IPv4Address("255.255.255.255")  # RFC 919


@dataclass(frozen=True, slots=True)
class LanPermissions:
    """The core's `Permissions` hook built from the options and the LAN interfaces.

    Checked in this order, the first refusal giving the reason: the internal client (a host of a
    LAN subnet; never the gateway, loopback, multicast, broadcast or 0.0.0.0), the external port
    (inside `external_ports`, not one of `reserved_ports`), then the permission rules.
    `own_addresses` and loopback are allowed only with `loopback_demo` (memory backend on `lo`,
    where nothing is forwarded and the only client is the host itself).
    """

    external_ports: tuple[int, int]
    networks: tuple[IPv4Network, ...]
    own_addresses: frozenset[IPv4Address]
    reserved_ports: frozenset[int]
    rules: PermissionRules
    loopback_demo: bool = False

    def allows(self, external_port: int, internal_client: str, internal_port: int) -> bool:
        return self.decide(external_port, internal_client, internal_port).allowed

    def decide(self, external_port: int, internal_client: str, internal_port: int) -> Decision:
        """Whether this mapping may exist, and the reason for the log."""
        refusal = self.internal_client_refusal(internal_client)
        if refusal is not None:
            return Decision(False, refusal)
        low, high = self.external_ports
        if not low <= external_port <= high:
            return Decision(False, f"external port {external_port} is outside {low}-{high}")
        if external_port in self.reserved_ports:
            return Decision(False, f"external port {external_port} is one of the host's own")
        return self.rules.decide(external_port, IPv4Address(internal_client), internal_port)

    def internal_client_refusal(self, internal_client: str) -> str | None:
        """Why a mapping may not point at this address (security-notes.md A4), or None."""
        try:
            client = IPv4Address(internal_client)
        except ValueError:
            return f"InternalClient {internal_client!r} is not an IPv4 address"
        kind = _special_kind(client)
        if kind is not None and not (self.loopback_demo and client.is_loopback):
            return f"InternalClient {client} is {kind}"
        if client in self.own_addresses and not self.loopback_demo:
            return f"InternalClient {client} is the gateway itself"
        for network in self.networks:
            if client not in network:
                continue
            if network.prefixlen < 31 and client in (network[0], network[-1]):
                return f"InternalClient {client} is the network or broadcast address of {network}"
            return None
        subnets = ", ".join(str(network) for network in self.networks)
        return f"InternalClient {client} is not on a LAN subnet ({subnets})"


def _special_kind(address: IPv4Address) -> str | None:
    """What kind of address no mapping may point at, or None for an ordinary one."""
    if address.is_unspecified:
        return "the unspecified address"
    if address == LIMITED_BROADCAST:
        return "the broadcast address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_loopback:
        return "a loopback address"
    return None


def reserved_host_ports(http_port: int) -> frozenset[int]:
    """External ports never mapped: the host's SSH, Home Assistant and our own HTTP port."""
    return frozenset({SSH_PORT, HOME_ASSISTANT_PORT, http_port} - {0})


@dataclass(frozen=True, slots=True)
class GatewayPolicy:
    """The core's `MappingPolicy` hook: LanPermissions' reasons and the options' lease bounds.

    A lease is raised to `shortest_lease` and cut to `longest_lease`. `host_ports` (ports the host
    uses otherwise, 729, the core's `port_in_use`) are read afresh before each add and restore.
    """

    permissions: LanPermissions
    shortest_lease: int
    longest_lease: int
    host_ports: HostPorts | None = None

    async def refresh(self) -> None:
        if self.host_ports is not None:
            await self.host_ports.refresh()

    def refusal(self, request: MappingRequest, *, any_port: bool) -> str | None:
        if any_port:  # the port is the core's to choose among those the rules allow
            return self.permissions.internal_client_refusal(request.internal_client)
        decision = self.permissions.decide(
            request.external_port, request.internal_client, request.internal_port
        )
        return None if decision.allowed else decision.reason

    def granted_lease(self, requested: int) -> int:
        return min(max(requested, self.shortest_lease), self.longest_lease)
