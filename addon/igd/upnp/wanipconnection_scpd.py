"""WANIPConnection:1 and :2 as their SCPDs declare them: actions, arguments, state variables.

Kept apart from the handlers (wanipconnection.py) so that the standard's tables read as tables.
"""

from async_upnp_client.server import create_event_var, create_state_var

# The 21 actions in the order of Table 10 (5.6); the SCPD lists them so (6).
WAN_IP_CONNECTION_2_ACTIONS = (
    "SetConnectionType",
    "GetConnectionTypeInfo",
    "RequestConnection",
    "RequestTermination",
    "ForceTermination",
    "SetAutoDisconnectTime",
    "SetIdleDisconnectTime",
    "SetWarnDisconnectDelay",
    "GetStatusInfo",
    "GetAutoDisconnectTime",
    "GetIdleDisconnectTime",
    "GetWarnDisconnectDelay",
    "GetNATRSIPStatus",
    "GetGenericPortMappingEntry",
    "GetSpecificPortMappingEntry",
    "AddPortMapping",
    "AddAnyPortMapping",
    "DeletePortMapping",
    "DeletePortMappingRange",
    "GetExternalIPAddress",
    "GetListOfPortMappings",
)
V2_ONLY_ACTIONS = ("AddAnyPortMapping", "DeletePortMappingRange", "GetListOfPortMappings")
WAN_IP_CONNECTION_1_ACTIONS = tuple(
    name for name in WAN_IP_CONNECTION_2_ACTIONS if name not in V2_ONLY_ACTIONS
)

# In-arguments of AddPortMapping/AddAnyPortMapping (5.6.16) and what a missing one means
# (5.6.0b step 1: leniency kept for real clients, as miniupnpd).
ADD_ARGUMENTS = {
    "NewRemoteHost": "RemoteHost",
    "NewExternalPort": "ExternalPort",
    "NewProtocol": "PortMappingProtocol",
    "NewInternalPort": "InternalPort",
    "NewInternalClient": "InternalClient",
    "NewEnabled": "PortMappingEnabled",
    "NewPortMappingDescription": "PortMappingDescription",
    "NewLeaseDuration": "PortMappingLeaseDuration",
}
ADD_DEFAULTS = {
    "NewRemoteHost": "",
    "NewEnabled": "1",
    "NewPortMappingDescription": "",
    "NewLeaseDuration": "0",
}
KEY_ARGUMENTS = {
    "NewRemoteHost": "RemoteHost",
    "NewExternalPort": "ExternalPort",
    "NewProtocol": "PortMappingProtocol",
}
ENTRY_RESULTS = {
    "NewInternalPort": "InternalPort",
    "NewInternalClient": "InternalClient",
    "NewEnabled": "PortMappingEnabled",
    "NewPortMappingDescription": "PortMappingDescription",
    "NewLeaseDuration": "PortMappingLeaseDuration",
}

# Table 2 (5.4) in its order. Evented variables get no defaultValue: async-upnp-client would
# start an event task while building the service (outside any event loop).
V1_STATE_VARIABLES = {
    "ConnectionType": create_state_var(
        "string", allowed=["Unconfigured", "IP_Routed", "IP_Bridged"], default="IP_Routed"
    ),
    "PossibleConnectionTypes": create_event_var("string"),
    "ConnectionStatus": create_event_var(
        "string",
        allowed=[
            "Unconfigured",
            "Connecting",
            "Connected",
            "PendingDisconnect",
            "Disconnecting",
            "Disconnected",
        ],
    ),
    "Uptime": create_state_var("ui4"),
    "LastConnectionError": create_state_var(
        "string",
        allowed=[
            "ERROR_NONE",
            "ERROR_COMMAND_ABORTED",
            "ERROR_NOT_ENABLED_FOR_INTERNET",
            "ERROR_ISP_DISCONNECT",
            "ERROR_USER_DISCONNECT",
            "ERROR_IDLE_DISCONNECT",
            "ERROR_FORCED_DISCONNECT",
            "ERROR_NO_CARRIER",
            "ERROR_IP_CONFIGURATION",
            "ERROR_UNKNOWN",
        ],
        default="ERROR_NONE",
    ),
    "AutoDisconnectTime": create_state_var("ui4", default="0"),
    "IdleDisconnectTime": create_state_var("ui4", default="0"),
    "WarnDisconnectDelay": create_state_var("ui4", default="0"),
    "RSIPAvailable": create_state_var("boolean", default="0"),
    "NATEnabled": create_state_var("boolean", default="1"),
    "ExternalIPAddress": create_event_var("string"),
    "PortMappingNumberOfEntries": create_event_var("ui2"),
    "PortMappingEnabled": create_state_var("boolean"),
    "PortMappingLeaseDuration": create_state_var(
        "ui4", allowed_range={"min": "0", "max": "604800"}, default="3600"
    ),
    "RemoteHost": create_state_var("string"),
    "ExternalPort": create_state_var("ui2"),
    "InternalPort": create_state_var("ui2", allowed_range={"min": "1", "max": "65535"}),
    "PortMappingProtocol": create_state_var("string", allowed=["TCP", "UDP"]),
    "InternalClient": create_state_var("string"),
    "PortMappingDescription": create_state_var("string"),
}
V2_STATE_VARIABLES = {
    **V1_STATE_VARIABLES,
    "SystemUpdateID": create_event_var("ui4"),
    "A_ARG_TYPE_Manage": create_state_var("boolean"),
    "A_ARG_TYPE_PortListing": create_state_var("string"),
}
