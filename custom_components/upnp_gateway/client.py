"""The gateway as a client sees it: IGD:1 and IGD:2 through async-upnp-client.

The `IgdDevice` profile is used for status, traffic counters and eventing. The port-mapping actions
are called through `service.action(...)` directly: the profile lacks the IGD:2 ones and mangles two
arguments of AddPortMapping (a lease sent as `timedelta.seconds` loses whole days, and the remote
host wildcard goes out as "0.0.0.0" instead of the empty string of WANIPConnection:2 Table 11).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import aiohttp
from async_upnp_client.aiohttp import AiohttpSessionRequester
from async_upnp_client.client_factory import UpnpFactory
from async_upnp_client.exceptions import UpnpActionError, UpnpCommunicationError, UpnpError
from async_upnp_client.profiles.igd import IgdDevice, IgdStateItem

from .const import IGD_DEVICE_TYPES, WAN_IP_CONNECTION_TYPES, WAN_PPP_CONNECTION_TYPE
from .errors import error_name
from .listing import parse_port_listing
from .models import GatewayStatus, PortMapping

if TYPE_CHECKING:
    from collections.abc import Mapping

    from async_upnp_client.client import UpnpDevice, UpnpService
    from async_upnp_client.event_handler import UpnpEventHandler

REQUEST_TIMEOUT: Final = 10  # seconds per HTTP request
PROTOCOLS: Final = ("TCP", "UDP")  # PortMappingProtocol's allowed values (WANIPConnection:2 2.3.5)
MAX_PORT: Final = 65535
SPECIFIED_ARRAY_INDEX_INVALID: Final = 713  # end of GetGenericPortMappingEntry's table (2.4.14)
PORT_MAPPING_NOT_FOUND: Final = 730  # GetListOfPortMappings with nothing in range (2.4.21)
MAX_GENERIC_ENTRIES: Final = 4096  # bound on the v1 walk, against a gateway that never says 713

UNREACHABLE: Final = (UpnpCommunicationError, aiohttp.ClientError, TimeoutError)
STATUS_ITEMS: Final = frozenset(IgdStateItem) - {IgdStateItem.PORT_MAPPING_NUMBER_OF_ENTRIES}


class GatewayError(Exception):
    """The gateway could not be used; subclasses say how."""


class GatewayUnreachableError(GatewayError):
    """No answer, or no valid answer, from the gateway's HTTP server."""


class NotAnIgdError(GatewayError):
    """The description is not an InternetGatewayDevice with a connection service."""


class ActionUnsupportedError(GatewayError):
    """The gateway's connection service lacks this action (an IGD:2 action on an IGD:1 device)."""

    def __init__(self, action: str) -> None:
        super().__init__(f"{action} is not offered by this gateway")
        self.action = action


class ActionRefusedError(GatewayError):
    """The gateway answered the action with a UPnP error (a SOAP fault)."""

    def __init__(self, action: str, code: int) -> None:
        self.action = action
        self.code = code
        self.name = error_name(code)
        super().__init__(f"{action} refused: {code} {self.name}")


def _value(value: object) -> Any:
    return None if isinstance(value, BaseException) else value


class GatewayClient:
    """One gateway: its description, its connection service, and the mapping actions."""

    def __init__(self, device: UpnpDevice, igd: IgdDevice, connection: UpnpService) -> None:
        self.device = device
        self.igd = igd
        self.connection = connection

    @property
    def location(self) -> str:
        """The description URL the gateway was read from: the config entry's URL."""
        return self.device.device_url

    @property
    def udn(self) -> str:
        """The root device's UDN: the config entry's unique id."""
        return self.device.udn

    @property
    def igd_version(self) -> int:
        """1 or 2, from the root device type."""
        return 2 if self.device.device_type.endswith(":2") else 1

    def supports(self, action: str) -> bool:
        """Whether the connection service lists this action in its SCPD."""
        return self.connection.has_action(action)

    async def async_status(self, *, force_poll: bool) -> GatewayStatus:
        """Status, external address and counters; the evented ones from events unless forced."""
        try:
            state = await self.igd.async_get_traffic_and_status_data(
                set(STATUS_ITEMS), force_poll=force_poll
            )
        except (UpnpError, aiohttp.ClientError, TimeoutError) as error:
            raise GatewayUnreachableError(str(error)) from error
        # The profile hands back each failed call as a value: a silent gateway is one whose
        # polled values are all connection failures (evented ones are kept from before).
        polled = (state.bytes_received, state.external_ip_address, state.connection_status)
        failures = [value for value in polled if isinstance(value, UNREACHABLE)]
        if failures:
            raise GatewayUnreachableError(repr(failures[0]))
        return GatewayStatus(
            connection_status=_value(state.connection_status),
            external_ip=_value(state.external_ip_address),
            uptime=_value(state.uptime),
            bytes_received=_value(state.bytes_received),
            bytes_sent=_value(state.bytes_sent),
            packets_received=_value(state.packets_received),
            packets_sent=_value(state.packets_sent),
            kib_per_sec_received=state.kibibytes_per_sec_received,
            kib_per_sec_sent=state.kibibytes_per_sec_sent,
            packets_per_sec_received=state.packets_per_sec_received,
            packets_per_sec_sent=state.packets_per_sec_sent,
        )

    async def async_list_port_mappings(self) -> list[PortMapping]:
        """Every mapping: GetListOfPortMappings where offered, else the generic-entry walk."""
        if not self.supports("GetListOfPortMappings"):
            return await self._async_walk_generic_entries()
        mappings: list[PortMapping] = []
        for protocol in PROTOCOLS:
            try:
                result = await self._async_call(
                    "GetListOfPortMappings",
                    NewStartPort=0,
                    NewEndPort=MAX_PORT,
                    NewProtocol=protocol,
                    NewManage=True,
                    NewNumberOfPorts=0,  # 0 = all of them (2.4.21)
                )
            except ActionRefusedError as error:
                if error.code == PORT_MAPPING_NOT_FOUND:
                    continue
                raise
            try:
                mappings += parse_port_listing(str(result["NewPortListing"]))
            except ValueError as error:
                raise GatewayUnreachableError(f"GetListOfPortMappings: {error}") from error
        return mappings

    async def _async_walk_generic_entries(self) -> list[PortMapping]:
        mappings: list[PortMapping] = []
        for index in range(MAX_GENERIC_ENTRIES):
            try:
                entry = await self._async_call(
                    "GetGenericPortMappingEntry", NewPortMappingIndex=index
                )
            except ActionRefusedError as error:
                if error.code == SPECIFIED_ARRAY_INDEX_INVALID:
                    break
                raise
            mappings.append(
                PortMapping(
                    remote_host=str(entry["NewRemoteHost"] or ""),
                    external_port=int(entry["NewExternalPort"]),
                    protocol=str(entry["NewProtocol"]),
                    internal_port=int(entry["NewInternalPort"]),
                    internal_client=str(entry["NewInternalClient"]),
                    enabled=bool(entry["NewEnabled"]),
                    description=str(entry["NewPortMappingDescription"] or ""),
                    lease_duration=int(entry["NewLeaseDuration"]),
                )
            )
        return mappings

    async def async_add_port_mapping(self, mapping: PortMapping) -> None:
        """AddPortMapping with every argument as given (lease in whole seconds)."""
        await self._async_call("AddPortMapping", **_add_arguments(mapping))

    async def async_add_any_port_mapping(self, mapping: PortMapping) -> int:
        """AddAnyPortMapping (IGD:2): the external port the gateway reserved."""
        result = await self._async_call("AddAnyPortMapping", **_add_arguments(mapping))
        return int(result["NewReservedPort"])

    async def async_delete_port_mapping(
        self, remote_host: str, external_port: int, protocol: str
    ) -> None:
        """DeletePortMapping of one key."""
        await self._async_call(
            "DeletePortMapping",
            NewRemoteHost=remote_host,
            NewExternalPort=external_port,
            NewProtocol=protocol,
        )

    async def async_delete_port_mapping_range(
        self, start_port: int, end_port: int, protocol: str, *, manage: bool
    ) -> None:
        """DeletePortMappingRange (IGD:2)."""
        await self._async_call(
            "DeletePortMappingRange",
            NewStartPort=start_port,
            NewEndPort=end_port,
            NewProtocol=protocol,
            NewManage=manage,
        )

    async def _async_call(self, action: str, **arguments: Any) -> Mapping[str, Any]:
        if not self.supports(action):
            raise ActionUnsupportedError(action)
        try:
            return await self.connection.action(action).async_call(**arguments)
        except UpnpActionError as error:
            raise ActionRefusedError(action, error.error_code or 0) from error
        except (UpnpError, aiohttp.ClientError, TimeoutError) as error:
            raise GatewayUnreachableError(f"{action}: {error!r}") from error


def _add_arguments(mapping: PortMapping) -> dict[str, Any]:
    return {
        "NewRemoteHost": mapping.remote_host,
        "NewExternalPort": mapping.external_port,
        "NewProtocol": mapping.protocol,
        "NewInternalPort": mapping.internal_port,
        "NewInternalClient": mapping.internal_client,
        "NewEnabled": mapping.enabled,
        "NewPortMappingDescription": mapping.description,
        "NewLeaseDuration": mapping.lease_duration,
    }


def _connection_service(device: UpnpDevice) -> UpnpService | None:
    services = {service.service_type: service for service in device.all_services}
    for service_type in (*WAN_IP_CONNECTION_TYPES, WAN_PPP_CONNECTION_TYPE):
        if service_type in services:
            return services[service_type]
    return None


async def async_connect(
    session: aiohttp.ClientSession, location: str, event_handler: UpnpEventHandler | None = None
) -> GatewayClient:
    """Read the description and the SCPDs at `location`; raise NotAnIgdError or unreachable."""
    try:
        device = await UpnpFactory(requester_for(session), non_strict=True).async_create_device(
            location
        )
    except UpnpCommunicationError as error:
        raise GatewayUnreachableError(f"{location}: {error!r}") from error
    except (UpnpError, aiohttp.ClientError, TimeoutError, ValueError) as error:
        raise NotAnIgdError(f"{location}: {error!r}") from error
    connection = _connection_service(device)
    if device.device_type not in IGD_DEVICE_TYPES or connection is None:
        raise NotAnIgdError(f"{location}: {device.device_type} has no WAN connection service")
    return GatewayClient(device, IgdDevice(device, event_handler), connection)


def requester_for(session: aiohttp.ClientSession) -> AiohttpSessionRequester:
    """The requester the notify server uses to answer and to subscribe."""
    return AiohttpSessionRequester(session, with_sleep=True, timeout=REQUEST_TIMEOUT)
