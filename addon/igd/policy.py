"""The gateway's own policy over the mapping core: where a mapping may point, and lease bounds.

The core applies the standard's rules (R1-R6 for restricted control points); this adds what the
add-on's options and security-notes.md 4 ask for, for every caller, trusted or not: the external
port inside the configured range and never one of the host's own services, the internal client a
host of a LAN and not the gateway itself (UPnProxy, A4). A refusal here is 606.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv4Network
from typing import TYPE_CHECKING

from igd.core.arguments import MAX_LEASE_DURATION, check_mapping_request
from igd.core.errors import ACTION_NOT_AUTHORIZED, UpnpError
from igd.core.mappings import DEFAULT_MAX_MAPPINGS, DEFAULT_MAX_PER_CLIENT, MappingTable
from igd.permissions import Decision, PermissionRules

if TYPE_CHECKING:
    from collections.abc import Iterable

    from igd.core.journal import Journal, RestoreReport
    from igd.core.nat import NatBackend
    from igd.core.records import Caller, Entry
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
    """The mapping table behind the gateway's policy: lease bounds, then LanPermissions.

    The policy is checked before the core is touched, once the arguments are known good, so a
    refusal names the check or rule that decided (the core's own check then agrees).
    """

    def __init__(
        self,
        backend: NatBackend,
        *,
        leases: LeaseLimits,
        permissions: LanPermissions,
        max_mappings: int = DEFAULT_MAX_MAPPINGS,
        max_per_client: int = DEFAULT_MAX_PER_CLIENT,
        host_ports: HostPorts | None = None,
        journal: Journal | None = None,
    ) -> None:
        """`host_ports`: ports the host uses otherwise (729), read afresh before each add."""
        super().__init__(
            backend,
            permissions=permissions,
            max_mappings=max_mappings,
            max_per_client=max_per_client,
            port_in_use=None if host_ports is None else host_ports.in_use,
            journal=journal,
        )
        self._leases = leases
        self._policy = permissions
        self._host_ports = host_ports

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
        request = check_mapping_request(  # the argument errors come first (5.6.0b steps 1-5)
            remote_host=remote_host,
            external_port=external_port,
            protocol=protocol,
            internal_port=internal_port,
            internal_client=internal_client,
            enabled=enabled,
            description=description,
            lease_duration=lease_duration,
            any_port=False,
        )
        decision = self._policy.decide(
            request.external_port, request.internal_client, request.internal_port
        )
        if not decision.allowed:
            raise UpnpError(ACTION_NOT_AUTHORIZED, decision.reason)
        await self._read_host_ports()
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
        # The port is the core's to choose among those the rules allow; the address is ours.
        refusal = self._policy.internal_client_refusal(internal_client)
        if refusal is not None and internal_client not in ("", "*"):  # 715 comes first
            check_mapping_request(
                remote_host=remote_host,
                external_port=external_port,
                protocol=protocol,
                internal_port=internal_port,
                internal_client=internal_client,
                enabled=enabled,
                description=description,
                lease_duration=lease_duration,
                any_port=True,
            )
            raise UpnpError(ACTION_NOT_AUTHORIZED, refusal)
        await self._read_host_ports()
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

    async def restore(self, entries: Iterable[Entry]) -> RestoreReport:
        """As the core restores, with the host's ports read afresh and leases cut to the longest."""
        await self._read_host_ports()
        latest = self._clock() + self._leases.longest
        return await super().restore(
            entry
            if entry.expires_at is None or entry.expires_at <= latest
            else replace(entry, expires_at=latest)
            for entry in entries
        )

    async def _read_host_ports(self) -> None:
        if self._host_ports is not None:
            await self._host_ports.refresh()
