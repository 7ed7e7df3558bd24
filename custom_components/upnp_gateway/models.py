"""What the integration knows about a gateway: its mappings and its status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime


@dataclass(frozen=True, slots=True)
class PortMapping:
    """One entry of the gateway's port-mapping table; `lease_duration` is what remains (s)."""

    remote_host: str
    external_port: int
    protocol: str
    internal_port: int
    internal_client: str
    enabled: bool
    description: str
    lease_duration: int

    @property
    def key(self) -> str:
        """The table's key (RemoteHost, ExternalPort, PortMappingProtocol) as one string."""
        return f"{self.protocol}_{self.external_port}_{self.remote_host or '*'}"


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    """What the status actions and the WANCommonInterfaceConfig counters say right now."""

    connection_status: str | None
    external_ip: str | None
    uptime: int | None
    bytes_received: int | None
    bytes_sent: int | None
    packets_received: int | None
    packets_sent: int | None
    kib_per_sec_received: float | None
    kib_per_sec_sent: float | None
    packets_per_sec_received: float | None
    packets_per_sec_sent: float | None


@dataclass(frozen=True, slots=True)
class TrackedMapping:
    """A mapping as last seen, with the moment its lease ends (None: a static mapping)."""

    mapping: PortMapping
    lease_expiry: datetime | None


@dataclass(frozen=True, slots=True)
class GatewayData:
    """Everything the entities show: the status and the mappings by `PortMapping.key`."""

    status: GatewayStatus
    mappings: dict[str, TrackedMapping]
