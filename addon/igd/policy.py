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

from igd.core.arguments import MAX_LEASE_DURATION
from igd.core.mappings import MappingTable

if TYPE_CHECKING:
    from igd.core.nat import NatBackend
    from igd.core.records import Caller, Permissions

SSH_PORT = 22
HOME_ASSISTANT_PORT = 8123


@dataclass(frozen=True, slots=True)
class LanPermissions:
    """The core's `Permissions` hook built from the options and the LAN interfaces.

    `own_addresses` are refused as InternalClient unless `loopback_demo` (memory backend on `lo`,
    where nothing is forwarded and the only client is the host itself).
    """

    external_ports: tuple[int, int]
    networks: tuple[IPv4Network, ...]
    own_addresses: frozenset[IPv4Address]
    reserved_ports: frozenset[int]
    loopback_demo: bool = False

    def allows(self, external_port: int, internal_client: str, internal_port: int) -> bool:
        low, high = self.external_ports
        if not low <= external_port <= high or external_port in self.reserved_ports:
            return False
        if not 1 <= internal_port <= 65535:
            return False
        try:
            client = IPv4Address(internal_client)
        except ValueError:
            return False
        if client in self.own_addresses and not self.loopback_demo:
            return False
        return any(
            client in network
            and (network.prefixlen >= 31 or client not in (network[0], network[-1]))
            for network in self.networks
        )


def reserved_host_ports(http_port: int) -> frozenset[int]:
    """External ports never mapped: the host's SSH, Home Assistant and our own HTTP port."""
    return frozenset({SSH_PORT, HOME_ASSISTANT_PORT, http_port} - {0})


@dataclass(frozen=True, slots=True)
class LeaseLimits:
    """The options' lease bounds: a requested lease is raised to `shortest`, cut to `longest`.

    A lease of 0 asks for the longest one (WANIPConnection:2 2.3.16 makes it 604800); a lease
    above the standard's maximum is left alone so that the core refuses it with 601.
    """

    shortest: int
    longest: int

    def granted(self, requested: int) -> int:
        if requested > MAX_LEASE_DURATION:
            return requested
        if requested == 0:
            return self.longest
        return min(max(requested, self.shortest), self.longest)


class LeaseLimitedTable(MappingTable):
    """The mapping table with the configured lease bounds applied to every add."""

    def __init__(
        self, backend: NatBackend, *, leases: LeaseLimits, permissions: Permissions
    ) -> None:
        super().__init__(backend, permissions=permissions)
        self._leases = leases

    async def add_port_mapping(
        self,
        caller: Caller,
        *,
        remote_host: str,
        external_port: int,
        protocol: str,
        internal_port: int,
        internal_client: str,
        enabled: bool,
        description: str,
        lease_duration: int,
    ) -> None:
        await super().add_port_mapping(
            caller,
            remote_host=remote_host,
            external_port=external_port,
            protocol=protocol,
            internal_port=internal_port,
            internal_client=internal_client,
            enabled=enabled,
            description=description,
            lease_duration=self._leases.granted(lease_duration),
        )

    async def add_any_port_mapping(
        self,
        caller: Caller,
        *,
        remote_host: str,
        external_port: int,
        protocol: str,
        internal_port: int,
        internal_client: str,
        enabled: bool,
        description: str,
        lease_duration: int,
    ) -> int:
        return await super().add_any_port_mapping(
            caller,
            remote_host=remote_host,
            external_port=external_port,
            protocol=protocol,
            internal_port=internal_port,
            internal_client=internal_client,
            enabled=enabled,
            description=description,
            lease_duration=self._leases.granted(lease_duration),
        )
