"""The descriptions and SCPDs, read back the way control points read them (async-upnp-client)."""

from __future__ import annotations

from dataclasses import astuple

import pytest
from async_upnp_client.client import UpnpDevice, UpnpService
from async_upnp_client.client_factory import UpnpFactory

from igd.upnp.devices import device_udns
from tests.daemon.upnp_support import (
    DEVICE_UUID,
    SERIAL,
    DocumentRequester,
    Gateway,
    build_gateway,
)

LOCATION = "http://192.168.50.1:5000"
IGD = "urn:schemas-upnp-org:device:InternetGatewayDevice"
WAN_DEVICE = "urn:schemas-upnp-org:device:WANDevice"
WAN_CONNECTION_DEVICE = "urn:schemas-upnp-org:device:WANConnectionDevice"
WAN_IP_CONNECTION = "urn:schemas-upnp-org:service:WANIPConnection"
WAN_COMMON = "urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1"
LAYER3 = "urn:schemas-upnp-org:service:Layer3Forwarding:1"
KEY = ["NewRemoteHost", "NewExternalPort", "NewProtocol"]
ENTRY = [
    "NewInternalPort",
    "NewInternalClient",
    "NewEnabled",
    "NewPortMappingDescription",
    "NewLeaseDuration",
]
RANGE = ["NewStartPort", "NewEndPort", "NewProtocol", "NewManage"]
# Table 10 of WANIPConnection:2 (5.6): action, in-arguments, out-arguments, in this order.
V2_ACTIONS: list[tuple[str, list[str], list[str]]] = [
    ("SetConnectionType", ["NewConnectionType"], []),
    ("GetConnectionTypeInfo", [], ["NewConnectionType", "NewPossibleConnectionTypes"]),
    ("RequestConnection", [], []),
    ("RequestTermination", [], []),
    ("ForceTermination", [], []),
    ("SetAutoDisconnectTime", ["NewAutoDisconnectTime"], []),
    ("SetIdleDisconnectTime", ["NewIdleDisconnectTime"], []),
    ("SetWarnDisconnectDelay", ["NewWarnDisconnectDelay"], []),
    ("GetStatusInfo", [], ["NewConnectionStatus", "NewLastConnectionError", "NewUptime"]),
    ("GetAutoDisconnectTime", [], ["NewAutoDisconnectTime"]),
    ("GetIdleDisconnectTime", [], ["NewIdleDisconnectTime"]),
    ("GetWarnDisconnectDelay", [], ["NewWarnDisconnectDelay"]),
    ("GetNATRSIPStatus", [], ["NewRSIPAvailable", "NewNATEnabled"]),
    ("GetGenericPortMappingEntry", ["NewPortMappingIndex"], KEY + ENTRY),
    ("GetSpecificPortMappingEntry", KEY, ENTRY),
    ("AddPortMapping", KEY + ENTRY[:2] + ["NewEnabled", *ENTRY[3:]], []),
    ("AddAnyPortMapping", KEY + ENTRY, ["NewReservedPort"]),
    ("DeletePortMapping", KEY, []),
    ("DeletePortMappingRange", RANGE, []),
    ("GetExternalIPAddress", [], ["NewExternalIPAddress"]),
    ("GetListOfPortMappings", [*RANGE, "NewNumberOfPorts"], ["NewPortListing"]),
]
V2_ONLY = {"AddAnyPortMapping", "DeletePortMappingRange", "GetListOfPortMappings"}
# Related state variables that are not simply the argument name without "New" (5.6).
RELATED = {
    "NewPortMappingIndex": "PortMappingNumberOfEntries",
    "NewNumberOfPorts": "PortMappingNumberOfEntries",
    "NewStartPort": "ExternalPort",
    "NewEndPort": "ExternalPort",
    "NewReservedPort": "ExternalPort",
    "NewManage": "A_ARG_TYPE_Manage",
    "NewPortListing": "A_ARG_TYPE_PortListing",
    "NewProtocol": "PortMappingProtocol",
    "NewEnabled": "PortMappingEnabled",
    "NewLeaseDuration": "PortMappingLeaseDuration",
    "NewPortMappingDescription": "PortMappingDescription",
}
EVENTED_V2 = [
    "PossibleConnectionTypes",
    "ConnectionStatus",
    "ExternalIPAddress",
    "PortMappingNumberOfEntries",
    "SystemUpdateID",
]


@pytest.fixture
async def gateway() -> Gateway:
    return await build_gateway()


async def read_device(gateway: Gateway, path: str, *, v1_view: bool = False) -> UpnpDevice:
    factory = UpnpFactory(DocumentRequester(gateway.devices, v1_view=v1_view))
    return await factory.async_create_device(LOCATION + path)


def wan_ip_connection(root: UpnpDevice, version: int) -> UpnpService:
    service = root.find_service(f"{WAN_IP_CONNECTION}:{version}")
    assert service is not None
    return service


def action_table(service: UpnpService) -> list[tuple[str, list[str], list[str]]]:
    return [
        (
            action.name,
            [argument.name for argument in action.in_arguments()],
            [argument.name for argument in action.out_arguments()],
        )
        for action in service.actions.values()
    ]


async def test_igd2_tree_has_the_standard_devices_and_services(gateway: Gateway) -> None:
    root = await read_device(gateway, "/rootDesc.xml")
    udns = device_udns(DEVICE_UUID, 2)
    assert root.device_type == f"{IGD}:2"
    assert root.udn == f"uuid:{DEVICE_UUID}" == udns.root
    assert [s.service_type for s in root.services.values()] == [LAYER3]
    (wan,) = root.embedded_devices.values()
    assert (wan.device_type, wan.udn) == (f"{WAN_DEVICE}:2", udns.wan)
    assert [s.service_type for s in wan.services.values()] == [WAN_COMMON]
    (connection,) = wan.embedded_devices.values()
    assert (connection.device_type, connection.udn) == (
        f"{WAN_CONNECTION_DEVICE}:2",
        udns.connection,
    )
    assert [s.service_type for s in connection.services.values()] == [f"{WAN_IP_CONNECTION}:2"]
    assert root.manufacturer == "UPnP Gateway"
    assert root.serial_number == SERIAL
    assert root.presentation_url is not None


async def test_wanipconnection2_scpd_lists_the_21_actions_in_table_order(gateway: Gateway) -> None:
    service = wan_ip_connection(await read_device(gateway, "/rootDesc.xml"), 2)
    assert action_table(service) == V2_ACTIONS
    for action in service.actions.values():
        for argument in action.arguments:
            expected = RELATED.get(argument.name, argument.name.removeprefix("New"))
            assert argument.related_state_variable.name == expected, (action.name, argument.name)


async def test_wanipconnection2_state_variables(gateway: Gateway) -> None:
    service = wan_ip_connection(await read_device(gateway, "/rootDesc.xml"), 2)
    variables = service.state_variables
    assert len(variables) == 23
    assert [name for name, v in variables.items() if v.send_events] == EVENTED_V2
    assert variables["NATEnabled"].data_type == "boolean"
    assert variables["PortMappingNumberOfEntries"].data_type == "ui2"
    assert variables["SystemUpdateID"].data_type == "ui4"
    assert variables["PortMappingProtocol"].allowed_values == {"TCP", "UDP"}
    lease = variables["PortMappingLeaseDuration"]
    assert (lease.min_value, lease.max_value, lease.default_value) == (0, 604800, 3600)
    internal_port = variables["InternalPort"]
    assert (internal_port.min_value, internal_port.max_value) == (1, 65535)
    assert "Connected" in variables["ConnectionStatus"].allowed_values


async def test_igd1_device_is_a_v1_tree_with_its_own_udns(gateway: Gateway) -> None:
    root = await read_device(gateway, "/igd1/rootDesc.xml")
    udns = device_udns(DEVICE_UUID, 1)
    assert root.device_type == f"{IGD}:1"
    assert [d.udn for d in root.all_devices] == [udns.root, udns.wan, udns.connection]
    assert {d.device_type for d in root.all_devices} == {
        f"{IGD}:1",
        f"{WAN_DEVICE}:1",
        f"{WAN_CONNECTION_DEVICE}:1",
    }
    assert not set(astuple(udns)) & set(astuple(device_udns(DEVICE_UUID, 2)))
    service = wan_ip_connection(root, 1)
    assert action_table(service) == [row for row in V2_ACTIONS if row[0] not in V2_ONLY]
    assert not {"SystemUpdateID", "A_ARG_TYPE_Manage", "A_ARG_TYPE_PortListing"} & set(
        service.state_variables
    )
    assert root.find_service(WAN_COMMON) is not None  # miniupnpc needs it to call it an IGD


async def test_v1_view_keeps_the_igd2_udns_with_v1_types(gateway: Gateway) -> None:
    root = await read_device(gateway, "/rootDesc.xml", v1_view=True)
    udns = device_udns(DEVICE_UUID, 2)
    assert [(d.device_type, d.udn) for d in root.all_devices] == [
        (f"{IGD}:1", udns.root),
        (f"{WAN_DEVICE}:1", udns.wan),
        (f"{WAN_CONNECTION_DEVICE}:1", udns.connection),
    ]
    assert "AddAnyPortMapping" not in wan_ip_connection(root, 1).actions


async def test_other_services_scpds(gateway: Gateway) -> None:
    root = await read_device(gateway, "/rootDesc.xml")
    common = root.find_service(WAN_COMMON)
    assert common is not None
    assert action_table(common)[2] == (
        "GetCommonLinkProperties",
        [],
        [
            "NewWANAccessType",
            "NewLayer1UpstreamMaxBitRate",
            "NewLayer1DownstreamMaxBitRate",
            "NewPhysicalLinkStatus",
        ],
    )
    assert {"GetTotalBytesSent", "GetTotalBytesReceived", "GetTotalPacketsSent"} <= set(
        common.actions
    )
    assert common.state_variables["PhysicalLinkStatus"].send_events
    layer3 = root.find_service(LAYER3)
    assert layer3 is not None
    assert action_table(layer3) == [
        ("SetDefaultConnectionService", ["NewDefaultConnectionService"], []),
        ("GetDefaultConnectionService", [], ["NewDefaultConnectionService"]),
    ]


async def test_default_connection_service_names_each_trees_own_connection(gateway: Gateway) -> None:
    devices = gateway.devices
    c2 = device_udns(DEVICE_UUID, 2).connection
    c1 = device_udns(DEVICE_UUID, 1).connection
    service_id = "urn:upnp-org:serviceId:WANIPConn1"
    assert devices.igd2.layer3.event_properties() == [
        ("DefaultConnectionService", f"{c2}:WANConnectionDevice:2,{service_id}")
    ]
    assert devices.igd1.layer3.event_properties() == [
        ("DefaultConnectionService", f"{c1}:WANConnectionDevice:1,{service_id}")
    ]
    assert devices.igd2_v1_view.layer3.event_properties() == [
        ("DefaultConnectionService", f"{c2}:WANConnectionDevice:1,{service_id}")
    ]
