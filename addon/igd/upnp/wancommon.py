"""WANCommonInterfaceConfig:1 on the WANDevice: link properties, counters, EnabledForInternet.

miniupnpc accepts a device as an IGD only when its description has this service, and Home
Assistant's `upnp` integration reads its counters (igd2-device.md 1.1, 7).

No `from __future__ import annotations` here: async-upnp-client compares the handlers'
annotations with Python types when it builds the service.
"""

from collections.abc import Awaitable, Callable
from typing import ClassVar

from async_upnp_client.server import callable_action, create_event_var, create_state_var

from igd.core import connection_actions
from igd.core.connection import ConnectionModel
from igd.core.records import Caller
from igd.core.wan_interface import CommonInterfaceConfig, InterfaceCounters
from igd.upnp.service import ActionResult, ArgumentValue, GatewayService

WAN_COMMON_INTERFACE_CONFIG = "urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1"
WAN_COMMON_INTERFACE_CONFIG_ID = "urn:upnp-org:serviceId:WANCommonIFC1"

# Evented variables get no defaultValue: async-upnp-client would start an event task
# while building the service (outside any event loop).
WAN_COMMON_STATE_VARIABLES = {
    "WANAccessType": create_state_var("string", allowed=["DSL", "POTS", "Cable", "Ethernet"]),
    "Layer1UpstreamMaxBitRate": create_state_var("ui4"),
    "Layer1DownstreamMaxBitRate": create_state_var("ui4"),
    "PhysicalLinkStatus": create_event_var("string", allowed=["Up", "Down"]),
    "TotalBytesSent": create_state_var("ui4"),
    "TotalBytesReceived": create_state_var("ui4"),
    "TotalPacketsSent": create_state_var("ui4"),
    "TotalPacketsReceived": create_state_var("ui4"),
    "EnabledForInternet": create_event_var("boolean"),
}


type CounterSource = Callable[[], Awaitable[InterfaceCounters]]
"""The WAN interface's counters now, as ui4 (the WAN watcher's, igd.wan)."""


class WanCommonInterfaceConfigService(GatewayService):
    """The service; a device tree subclasses it with its URLs and the core objects below."""

    INTERFACE: ClassVar[CommonInterfaceConfig]
    CONNECTION: ClassVar[ConnectionModel]
    COUNTERS: ClassVar[CounterSource]

    # The standard's action order, without the optional actions we do not offer
    # (GetMaximumActiveConnections, GetActiveConnection, GetWANAccessProvider).
    ACTION_ORDER = (
        "SetEnabledForInternet",
        "GetEnabledForInternet",
        "GetCommonLinkProperties",
        "GetTotalBytesSent",
        "GetTotalBytesReceived",
        "GetTotalPacketsSent",
        "GetTotalPacketsReceived",
    )
    STATE_VARIABLE_DEFINITIONS = WAN_COMMON_STATE_VARIABLES

    def evented_values(self) -> dict[str, ArgumentValue]:
        return {
            "PhysicalLinkStatus": self.INTERFACE.physical_link_status.value,
            "EnabledForInternet": self.INTERFACE.enabled_for_internet,
        }

    @callable_action(
        name="SetEnabledForInternet",
        in_args={"NewEnabledForInternet": "EnabledForInternet"},
        out_args={},
    )
    async def set_enabled_for_internet(
        self, *, caller: Caller, NewEnabledForInternet: bool
    ) -> ActionResult:
        await connection_actions.set_enabled_for_internet(
            self.CONNECTION, NewEnabledForInternet, authorized=caller.authorized
        )
        return {}

    @callable_action(
        name="GetEnabledForInternet",
        in_args={},
        out_args={"NewEnabledForInternet": "EnabledForInternet"},
    )
    async def get_enabled_for_internet(self, *, caller: Caller) -> ActionResult:
        return {"NewEnabledForInternet": self.INTERFACE.enabled_for_internet}

    @callable_action(
        name="GetCommonLinkProperties",
        in_args={},
        out_args={
            "NewWANAccessType": "WANAccessType",
            "NewLayer1UpstreamMaxBitRate": "Layer1UpstreamMaxBitRate",
            "NewLayer1DownstreamMaxBitRate": "Layer1DownstreamMaxBitRate",
            "NewPhysicalLinkStatus": "PhysicalLinkStatus",
        },
    )
    async def get_common_link_properties(self, *, caller: Caller) -> ActionResult:
        link = self.INTERFACE.common_link_properties()
        return {
            "NewWANAccessType": link.wan_access_type,
            "NewLayer1UpstreamMaxBitRate": link.layer1_upstream_max_bit_rate,
            "NewLayer1DownstreamMaxBitRate": link.layer1_downstream_max_bit_rate,
            "NewPhysicalLinkStatus": link.physical_link_status.value,
        }

    @callable_action(
        name="GetTotalBytesSent", in_args={}, out_args={"NewTotalBytesSent": "TotalBytesSent"}
    )
    async def get_total_bytes_sent(self, *, caller: Caller) -> ActionResult:
        return {"NewTotalBytesSent": (await type(self).COUNTERS()).bytes_sent}

    @callable_action(
        name="GetTotalBytesReceived",
        in_args={},
        out_args={"NewTotalBytesReceived": "TotalBytesReceived"},
    )
    async def get_total_bytes_received(self, *, caller: Caller) -> ActionResult:
        return {"NewTotalBytesReceived": (await type(self).COUNTERS()).bytes_received}

    @callable_action(
        name="GetTotalPacketsSent",
        in_args={},
        out_args={"NewTotalPacketsSent": "TotalPacketsSent"},
    )
    async def get_total_packets_sent(self, *, caller: Caller) -> ActionResult:
        return {"NewTotalPacketsSent": (await type(self).COUNTERS()).packets_sent}

    @callable_action(
        name="GetTotalPacketsReceived",
        in_args={},
        out_args={"NewTotalPacketsReceived": "TotalPacketsReceived"},
    )
    async def get_total_packets_received(self, *, caller: Caller) -> ActionResult:
        return {"NewTotalPacketsReceived": (await type(self).COUNTERS()).packets_received}
