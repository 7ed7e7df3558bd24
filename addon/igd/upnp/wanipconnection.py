"""WANIPConnection:1 and :2 on the WANConnectionDevice: SOAP arguments to the core and back.

Every rule lives in the core (MappingTable, ConnectionModel); a handler only renames arguments
and results. v2 is v1 plus three actions and three state variables (wanipconnection2.md 5.2), so
the v1 view's service is the base class and the v2 one adds what is new.

No `from __future__ import annotations` here: async-upnp-client compares the handlers'
annotations with Python types when it builds the service.
"""

from collections.abc import Awaitable, Callable, Mapping
from typing import ClassVar

from async_upnp_client.server import callable_action

from igd.core import connection_actions
from igd.core.arguments import MappingArguments
from igd.core.connection import ConnectionModel
from igd.core.errors import ACTION_NOT_AUTHORIZED, NO_SUCH_ENTRY_IN_ARRAY, UpnpError
from igd.core.mappings import MappingTable
from igd.core.nat import TCP, UDP
from igd.core.records import Caller, MappingView
from igd.upnp.portlisting import port_listing
from igd.upnp.service import ActionResult, ArgumentValue, GatewayService
from igd.upnp.wanipconnection_scpd import (
    ADD_ARGUMENTS,
    ADD_DEFAULTS,
    ENTRY_RESULTS,
    KEY_ARGUMENTS,
    V1_STATE_VARIABLES,
    V2_STATE_VARIABLES,
    WAN_IP_CONNECTION_1_ACTIONS,
    WAN_IP_CONNECTION_2_ACTIONS,
)

WAN_IP_CONNECTION_1 = "urn:schemas-upnp-org:service:WANIPConnection:1"
WAN_IP_CONNECTION_2 = "urn:schemas-upnp-org:service:WANIPConnection:2"
WAN_IP_CONNECTION_ID = "urn:upnp-org:serviceId:WANIPConn1"  # kept for :2 (5.1)


def _entry_result(view: MappingView) -> ActionResult:
    return {
        "NewInternalPort": view.internal_port,
        "NewInternalClient": view.internal_client,
        "NewEnabled": view.enabled,
        "NewPortMappingDescription": view.description,
        "NewLeaseDuration": view.lease_duration,
    }


async def _delete_own_on_both_protocols(
    table: MappingTable, caller: Caller, *, remote_host: str, external_port: int
) -> None:
    """DeletePortMapping with an empty NewProtocol: the caller's own TCP and UDP entries.

    igd2-device.md 7.1b. The standard knows no empty protocol (our core answers 601; 402 would
    do too), and miniupnpd reads it as TCP. libp2p's nat-port-mapper deletes every mapping of a
    port this way, TCP and UDP alike, and ignores the error: with either reading a mapping it
    asked to remove stays open until its lease ends (an hour or more). Deleting the caller's own
    entries on that port, both protocols, is what it means and touches no one else's: an entry
    goes only if its InternalClient is the caller's address, even for a trusted control point,
    and each delete still passes the core's rules. Nothing there: 714; only others' entries: 606.
    """
    deleted = refused = False
    for protocol in (TCP, UDP):
        try:
            view = table.get_specific_port_mapping_entry(
                caller, remote_host=remote_host, external_port=external_port, protocol=protocol
            )
        except UpnpError as error:
            if error.code == ACTION_NOT_AUTHORIZED:
                refused = True
            elif error.code != NO_SUCH_ENTRY_IN_ARRAY:
                raise
            continue
        if view.internal_client != caller.address:
            refused = True
            continue
        await table.delete_port_mapping(
            caller, remote_host=remote_host, external_port=external_port, protocol=protocol
        )
        deleted = True
    if not deleted:
        raise UpnpError(ACTION_NOT_AUTHORIZED if refused else NO_SUCH_ENTRY_IN_ARRAY)


type _AddMapping = Callable[[MappingTable, Caller, MappingArguments], Awaitable[ActionResult]]
type _ActionHandler = Callable[..., Awaitable[ActionResult]]


def _add_action(name: str, out_args: Mapping[str, str], add: _AddMapping) -> _ActionHandler:
    """The handler of AddPortMapping or AddAnyPortMapping: the in-arguments of 5.6.16 to `add`.

    async-upnp-client reads each in-argument's type from the handler's own annotations, so both
    actions share this one handler, built with the action's name and what it answers.
    """

    async def handler(
        service: "WanIpConnection1Service",
        *,
        caller: Caller,
        NewRemoteHost: str,
        NewExternalPort: int,
        NewProtocol: str,
        NewInternalPort: int,
        NewInternalClient: str,
        NewEnabled: bool,
        NewPortMappingDescription: str,
        NewLeaseDuration: int,
    ) -> ActionResult:
        arguments = MappingArguments(
            remote_host=NewRemoteHost,
            external_port=NewExternalPort,
            protocol=NewProtocol,
            internal_port=NewInternalPort,
            internal_client=NewInternalClient,
            enabled=NewEnabled,
            description=NewPortMappingDescription,
            lease_duration=NewLeaseDuration,
        )
        return await add(service.MAPPINGS, caller, arguments)

    declare = callable_action(name, in_args=ADD_ARGUMENTS, out_args=out_args)
    action: _ActionHandler = declare(handler)  # the library's decorator is untyped
    return action


async def _add_port_mapping(
    table: MappingTable, caller: Caller, arguments: MappingArguments
) -> ActionResult:
    await table.add_port_mapping(caller, **arguments)
    return {}


async def _add_any_port_mapping(
    table: MappingTable, caller: Caller, arguments: MappingArguments
) -> ActionResult:
    return {"NewReservedPort": await table.add_any_port_mapping(caller, **arguments)}


class WanIpConnection1Service(GatewayService):
    """WANIPConnection:1 (the v1 view); a device tree subclasses it with URLs and the core."""

    MAPPINGS: ClassVar[MappingTable]
    CONNECTION: ClassVar[ConnectionModel]

    ACTION_ORDER = WAN_IP_CONNECTION_1_ACTIONS
    STATE_VARIABLE_DEFINITIONS = V1_STATE_VARIABLES
    LENIENT_DEFAULTS: ClassVar[Mapping[str, Mapping[str, str]]] = {
        "AddPortMapping": ADD_DEFAULTS,
        "AddAnyPortMapping": ADD_DEFAULTS,
    }

    def evented_values(self) -> dict[str, ArgumentValue]:
        return {
            **self.CONNECTION.evented_variables(),
            "PortMappingNumberOfEntries": self.MAPPINGS.number_of_entries,
            "SystemUpdateID": self.MAPPINGS.system_update_id,
        }

    # ---- the connection (5.6.1-5.6.13) -----------------------------------------------------

    @callable_action(
        name="SetConnectionType", in_args={"NewConnectionType": "ConnectionType"}, out_args={}
    )
    async def set_connection_type(self, *, caller: Caller, NewConnectionType: str) -> ActionResult:
        connection_actions.set_connection_type(
            self.CONNECTION, NewConnectionType, authorized=caller.authorized
        )
        return {}

    @callable_action(
        name="GetConnectionTypeInfo",
        in_args={},
        out_args={
            "NewConnectionType": "ConnectionType",
            "NewPossibleConnectionTypes": "PossibleConnectionTypes",
        },
    )
    async def get_connection_type_info(self, *, caller: Caller) -> ActionResult:
        connection_type, possible = self.CONNECTION.connection_type_info()
        return {"NewConnectionType": connection_type, "NewPossibleConnectionTypes": possible}

    @callable_action(name="RequestConnection", in_args={}, out_args={})
    async def request_connection(self, *, caller: Caller) -> ActionResult:
        await connection_actions.request_connection(self.CONNECTION, authorized=caller.authorized)
        return {}

    @callable_action(name="RequestTermination", in_args={}, out_args={})
    async def request_termination(self, *, caller: Caller) -> ActionResult:
        await connection_actions.request_termination(self.CONNECTION, authorized=caller.authorized)
        return {}

    @callable_action(name="ForceTermination", in_args={}, out_args={})
    async def force_termination(self, *, caller: Caller) -> ActionResult:
        await connection_actions.force_termination(self.CONNECTION, authorized=caller.authorized)
        return {}

    @callable_action(
        name="SetAutoDisconnectTime",
        in_args={"NewAutoDisconnectTime": "AutoDisconnectTime"},
        out_args={},
    )
    async def set_auto_disconnect_time(
        self, *, caller: Caller, NewAutoDisconnectTime: int
    ) -> ActionResult:
        connection_actions.set_auto_disconnect_time(
            self.CONNECTION, NewAutoDisconnectTime, authorized=caller.authorized
        )
        return {}

    @callable_action(
        name="SetIdleDisconnectTime",
        in_args={"NewIdleDisconnectTime": "IdleDisconnectTime"},
        out_args={},
    )
    async def set_idle_disconnect_time(
        self, *, caller: Caller, NewIdleDisconnectTime: int
    ) -> ActionResult:
        connection_actions.set_idle_disconnect_time(
            self.CONNECTION, NewIdleDisconnectTime, authorized=caller.authorized
        )
        return {}

    @callable_action(
        name="SetWarnDisconnectDelay",
        in_args={"NewWarnDisconnectDelay": "WarnDisconnectDelay"},
        out_args={},
    )
    async def set_warn_disconnect_delay(
        self, *, caller: Caller, NewWarnDisconnectDelay: int
    ) -> ActionResult:
        connection_actions.set_warn_disconnect_delay(
            self.CONNECTION, NewWarnDisconnectDelay, authorized=caller.authorized
        )
        return {}

    @callable_action(
        name="GetStatusInfo",
        in_args={},
        out_args={
            "NewConnectionStatus": "ConnectionStatus",
            "NewLastConnectionError": "LastConnectionError",
            "NewUptime": "Uptime",
        },
    )
    async def get_status_info(self, *, caller: Caller) -> ActionResult:
        status, last_error, uptime = self.CONNECTION.status_info()
        return {
            "NewConnectionStatus": status.value,
            "NewLastConnectionError": last_error.value,
            "NewUptime": uptime,
        }

    @callable_action(
        name="GetAutoDisconnectTime",
        in_args={},
        out_args={"NewAutoDisconnectTime": "AutoDisconnectTime"},
    )
    async def get_auto_disconnect_time(self, *, caller: Caller) -> ActionResult:
        return {"NewAutoDisconnectTime": self.CONNECTION.settings.auto_disconnect_time}

    @callable_action(
        name="GetIdleDisconnectTime",
        in_args={},
        out_args={"NewIdleDisconnectTime": "IdleDisconnectTime"},
    )
    async def get_idle_disconnect_time(self, *, caller: Caller) -> ActionResult:
        return {"NewIdleDisconnectTime": self.CONNECTION.settings.idle_disconnect_time}

    @callable_action(
        name="GetWarnDisconnectDelay",
        in_args={},
        out_args={"NewWarnDisconnectDelay": "WarnDisconnectDelay"},
    )
    async def get_warn_disconnect_delay(self, *, caller: Caller) -> ActionResult:
        return {"NewWarnDisconnectDelay": self.CONNECTION.settings.warn_disconnect_delay}

    @callable_action(
        name="GetNATRSIPStatus",
        in_args={},
        out_args={"NewRSIPAvailable": "RSIPAvailable", "NewNATEnabled": "NATEnabled"},
    )
    async def get_nat_rsip_status(self, *, caller: Caller) -> ActionResult:
        rsip_available, nat_enabled = self.CONNECTION.nat_rsip_status()
        return {"NewRSIPAvailable": rsip_available, "NewNATEnabled": nat_enabled}

    @callable_action(
        name="GetExternalIPAddress",
        in_args={},
        out_args={"NewExternalIPAddress": "ExternalIPAddress"},
    )
    async def get_external_ip_address(self, *, caller: Caller) -> ActionResult:
        return {"NewExternalIPAddress": self.CONNECTION.external_ip_address}

    # ---- the port-mapping table (5.6.14-5.6.18) --------------------------------------------

    @callable_action(
        name="GetGenericPortMappingEntry",
        in_args={"NewPortMappingIndex": "PortMappingNumberOfEntries"},
        out_args={**KEY_ARGUMENTS, **ENTRY_RESULTS},
    )
    async def get_generic_port_mapping_entry(
        self, *, caller: Caller, NewPortMappingIndex: int
    ) -> ActionResult:
        view = self.MAPPINGS.get_generic_port_mapping_entry(caller, NewPortMappingIndex)
        return {
            "NewRemoteHost": view.remote_host,
            "NewExternalPort": view.external_port,
            "NewProtocol": view.protocol,
            **_entry_result(view),
        }

    @callable_action(
        name="GetSpecificPortMappingEntry", in_args=KEY_ARGUMENTS, out_args=ENTRY_RESULTS
    )
    async def get_specific_port_mapping_entry(
        self, *, caller: Caller, NewRemoteHost: str, NewExternalPort: int, NewProtocol: str
    ) -> ActionResult:
        view = self.MAPPINGS.get_specific_port_mapping_entry(
            caller, remote_host=NewRemoteHost, external_port=NewExternalPort, protocol=NewProtocol
        )
        return _entry_result(view)

    add_port_mapping = _add_action("AddPortMapping", {}, _add_port_mapping)

    @callable_action(name="DeletePortMapping", in_args=KEY_ARGUMENTS, out_args={})
    async def delete_port_mapping(
        self, *, caller: Caller, NewRemoteHost: str, NewExternalPort: int, NewProtocol: str
    ) -> ActionResult:
        if not NewProtocol:
            await _delete_own_on_both_protocols(
                self.MAPPINGS, caller, remote_host=NewRemoteHost, external_port=NewExternalPort
            )
            return {}
        await self.MAPPINGS.delete_port_mapping(
            caller, remote_host=NewRemoteHost, external_port=NewExternalPort, protocol=NewProtocol
        )
        return {}


class WanIpConnection2Service(WanIpConnection1Service):
    """WANIPConnection:2: v1 plus AddAnyPortMapping, DeletePortMappingRange and the listing."""

    ACTION_ORDER = WAN_IP_CONNECTION_2_ACTIONS
    STATE_VARIABLE_DEFINITIONS = V2_STATE_VARIABLES

    add_any_port_mapping = _add_action(
        "AddAnyPortMapping", {"NewReservedPort": "ExternalPort"}, _add_any_port_mapping
    )

    @callable_action(
        name="DeletePortMappingRange",
        in_args={
            "NewStartPort": "ExternalPort",
            "NewEndPort": "ExternalPort",
            "NewProtocol": "PortMappingProtocol",
            "NewManage": "A_ARG_TYPE_Manage",
        },
        out_args={},
    )
    async def delete_port_mapping_range(
        self,
        *,
        caller: Caller,
        NewStartPort: int,
        NewEndPort: int,
        NewProtocol: str,
        NewManage: bool,
    ) -> ActionResult:
        await self.MAPPINGS.delete_port_mapping_range(
            caller,
            start_port=NewStartPort,
            end_port=NewEndPort,
            protocol=NewProtocol,
            manage=NewManage,
        )
        return {}

    @callable_action(
        name="GetListOfPortMappings",
        in_args={
            "NewStartPort": "ExternalPort",
            "NewEndPort": "ExternalPort",
            "NewProtocol": "PortMappingProtocol",
            "NewManage": "A_ARG_TYPE_Manage",
            "NewNumberOfPorts": "PortMappingNumberOfEntries",
        },
        out_args={"NewPortListing": "A_ARG_TYPE_PortListing"},
    )
    async def get_list_of_port_mappings(
        self,
        *,
        caller: Caller,
        NewStartPort: int,
        NewEndPort: int,
        NewProtocol: str,
        NewManage: bool,
        NewNumberOfPorts: int,
    ) -> ActionResult:
        listing = self.MAPPINGS.get_list_of_port_mappings(
            caller,
            start_port=NewStartPort,
            end_port=NewEndPort,
            protocol=NewProtocol,
            manage=NewManage,
            number_of_ports=NewNumberOfPorts,
        )
        return {"NewPortListing": port_listing(listing)}
