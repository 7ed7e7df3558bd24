"""Layer3Forwarding:1 on the root device: which connection LAN hosts use (igd2-device.md 1.2).

The gateway has one connection, so DefaultConnectionService is fixed per device tree; Set accepts
only that value (miniupnpd accepts and ignores anything unless built strict).

No `from __future__ import annotations` here: async-upnp-client compares the handlers'
annotations with Python types when it builds the service.
"""

from typing import ClassVar

from async_upnp_client.server import callable_action, create_event_var

from igd.upnp.service import ActionResult, ArgumentValue, GatewayService
from igd.upnp.soap import ActionError

LAYER3_FORWARDING = "urn:schemas-upnp-org:service:Layer3Forwarding:1"
LAYER3_FORWARDING_ID = "urn:upnp-org:serviceId:L3Forwarding1"
# Errors of SetDefaultConnectionService (Layer3Forwarding:1 2.4.1)
INVALID_DEVICE_UUID = 720
INVALID_SERVICE_ID = 721
INVALID_CONN_SERVICE_SELECTION = 723

# Evented variables get no defaultValue: async-upnp-client would start an event task while
# building the service (outside any event loop).
LAYER3_STATE_VARIABLES = {"DefaultConnectionService": create_event_var("string")}


def default_connection_service(
    connection_device_udn: str, device_version: int, service_id: str
) -> str:
    """`<UDN>:WANConnectionDevice:<v>,<serviceId>` as Layer3Forwarding:1 writes it."""
    return f"{connection_device_udn}:WANConnectionDevice:{device_version},{service_id}"


class Layer3ForwardingService(GatewayService):
    """The service; a device tree subclasses it with its URLs and DEFAULT_CONNECTION_SERVICE."""

    DEFAULT_CONNECTION_SERVICE: ClassVar[str]
    ACTION_ORDER = ("SetDefaultConnectionService", "GetDefaultConnectionService")
    STATE_VARIABLE_DEFINITIONS = LAYER3_STATE_VARIABLES

    def evented_values(self) -> dict[str, ArgumentValue]:
        return {"DefaultConnectionService": self.DEFAULT_CONNECTION_SERVICE}

    @callable_action(
        name="SetDefaultConnectionService",
        in_args={"NewDefaultConnectionService": "DefaultConnectionService"},
        out_args={},
    )
    async def set_default_connection_service(
        self, *, caller: object, NewDefaultConnectionService: str
    ) -> ActionResult:
        """Accept only the connection we have: 720/721/723 name what is wrong with the value."""
        ours_device, _, ours_service = self.DEFAULT_CONNECTION_SERVICE.partition(",")
        ours_udn = ours_device.split(":WANConnectionDevice:")[0]
        device, _, service = NewDefaultConnectionService.strip().partition(",")
        if not device.startswith(f"{ours_udn}:"):
            raise ActionError(INVALID_DEVICE_UUID, "InvalidDeviceUUID")
        if service != ours_service:
            raise ActionError(INVALID_SERVICE_ID, "InvalidServiceID")
        if device != ours_device:
            raise ActionError(INVALID_CONN_SERVICE_SELECTION, "InvalidConnServiceSelection")
        return {}

    @callable_action(
        name="GetDefaultConnectionService",
        in_args={},
        out_args={"NewDefaultConnectionService": "DefaultConnectionService"},
    )
    async def get_default_connection_service(self, *, caller: object) -> ActionResult:
        return {"NewDefaultConnectionService": self.DEFAULT_CONNECTION_SERVICE}
