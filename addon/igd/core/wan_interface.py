"""The WAN interface as the kernel reports it, and the WANCommonInterfaceConfig:1 figures.

The watcher (igd.wan) turns netlink answers into a `WanLinkState` and `InterfaceCounters`; the
connection model and `CommonInterfaceConfig` read only these, so neither needs a kernel to test.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from igd.core.evented import EventedVariables

if TYPE_CHECKING:
    from igd.core.connection import ConnectionModel
    from igd.core.connection_values import ConnectionSettings
    from igd.core.evented import VariablesListener

UI4_MODULUS = 2**32  # ui4 is 0..4294967295 (UDA data types, spec 4.2); counters wrap to 0
UI4_MAX = UI4_MODULUS - 1
WAN_ACCESS_TYPE = "Ethernet"  # WANAccessType [igd2-device.md 1.1]; Ours: the host's WAN is a NIC

# Names of the evented variables of WANCommonInterfaceConfig:1 (igd2-device.md 1.1)
PHYSICAL_LINK_STATUS = "PhysicalLinkStatus"
ENABLED_FOR_INTERNET = "EnabledForInternet"


class PhysicalLinkStatus(StrEnum):
    """PhysicalLinkStatus values (igd2-device.md 1.1); we send only the REQUIRED two."""

    UP = "Up"
    DOWN = "Down"


@dataclass(frozen=True, slots=True)
class WanLinkState:
    """The WAN interface at one moment; the default value is "no such interface"."""

    present: bool = False
    carrier: bool = False  # administratively up and the lower layer has carrier
    address: str = ""  # primary IPv4 address, "" when it has none
    address_since: float | None = None  # clock time the address was set, when the kernel knows
    default_route: bool = False  # a default IPv4 route of the main table leaves through it
    speed_bps: int | None = None  # link speed, when the driver reports one

    @property
    def ready(self) -> bool:
        """Whether traffic can reach the Internet through it: our "Connected" (spec 5.4)."""
        return self.present and self.carrier and bool(self.address) and self.default_route


@dataclass(frozen=True, slots=True)
class InterfaceCounters:
    """TotalBytes/PacketsSent/Received: kernel counters seen as ui4, wrapping at 2**32."""

    bytes_sent: int
    bytes_received: int
    packets_sent: int
    packets_received: int

    @classmethod
    def from_kernel(
        cls, tx_bytes: int, rx_bytes: int, tx_packets: int, rx_packets: int
    ) -> InterfaceCounters:
        """Sent is what the WAN interface transmitted towards the ISP, received what came in."""
        return cls(
            tx_bytes % UI4_MODULUS,
            rx_bytes % UI4_MODULUS,
            tx_packets % UI4_MODULUS,
            rx_packets % UI4_MODULUS,
        )


@dataclass(frozen=True, slots=True)
class CommonLinkProperties:
    """The answer of GetCommonLinkProperties, in its argument order."""

    wan_access_type: str
    layer1_upstream_max_bit_rate: int
    layer1_downstream_max_bit_rate: int
    physical_link_status: PhysicalLinkStatus


class CommonInterfaceConfig:
    """WANCommonInterfaceConfig:1 over the WAN interface.

    EnabledForInternet belongs to the connection (set it with
    `connection_actions.set_enabled_for_internet`); it is evented here, where the standard puts it.

    Bit rates come from the configuration when given (the ISP's rates are what users expect),
    else from the link speed, else 0; the ui4 type caps them at 4294967295 bit/s.
    """

    def __init__(
        self,
        connection: ConnectionModel,
        *,
        upstream_bps: int | None = None,
        downstream_bps: int | None = None,
    ) -> None:
        for rate in (upstream_bps, downstream_bps):
            if rate is not None and not 0 <= rate <= UI4_MAX:
                raise ValueError(f"a bit rate must be a ui4, got {rate}")
        self._connection = connection
        self._upstream = upstream_bps
        self._downstream = downstream_bps
        self._link = WanLinkState()
        self._evented = EventedVariables(self.evented_variables)
        connection.add_settings_listener(self._settings_changed)

    @property
    def physical_link_status(self) -> PhysicalLinkStatus:
        return PhysicalLinkStatus.UP if self._link.carrier else PhysicalLinkStatus.DOWN

    def common_link_properties(self) -> CommonLinkProperties:
        speed = min(self._link.speed_bps or 0, UI4_MAX)
        return CommonLinkProperties(
            WAN_ACCESS_TYPE,
            speed if self._upstream is None else self._upstream,
            speed if self._downstream is None else self._downstream,
            self.physical_link_status,
        )

    @property
    def enabled_for_internet(self) -> bool:
        return self._connection.settings.enabled_for_internet

    def evented_variables(self) -> dict[str, str]:
        """Every evented variable with its wire value, for the initial event."""
        return {
            PHYSICAL_LINK_STATUS: self.physical_link_status.value,
            ENABLED_FOR_INTERNET: "1" if self.enabled_for_internet else "0",
        }

    def add_listener(self, listener: VariablesListener) -> None:
        """Call `listener` with the evented variables that changed, as they change."""
        self._evented.add_listener(listener)

    def observe(self, link: WanLinkState) -> None:
        """Take the kernel's latest view of the interface."""
        self._link = link
        self._evented.publish()

    def _settings_changed(self, _settings: ConnectionSettings) -> None:
        self._evented.publish()
