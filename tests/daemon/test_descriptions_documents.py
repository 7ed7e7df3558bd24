"""The documents as bytes: UDA 1.1 form, configId, SSDP targets and the per-client v1 view."""

from __future__ import annotations

import uuid
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeElementTree
import pytest

from igd.upnp.clients import needs_v1_view, serves_v1_view
from igd.upnp.devices import DeviceIdentity, GatewayCore, GatewayDevices, device_udns
from tests.daemon.upnp_support import DEVICE_UUID, Gateway, build_gateway

DEVICE_NS = "{urn:schemas-upnp-org:device-1-0}"
SERVICE_NS = "{urn:schemas-upnp-org:service-1-0}"
PATHS = [
    "/rootDesc.xml",
    "/L3F.xml",
    "/WANCfg.xml",
    "/WANIPCn.xml",
    "/igd1/rootDesc.xml",
    "/igd1/L3F.xml",
    "/igd1/WANCfg.xml",
    "/igd1/WANIPCn.xml",
    "/igd2v1/rootDesc.xml",
    "/igd2v1/WANIPCn.xml",
]


@pytest.fixture
async def gateway() -> Gateway:
    return await build_gateway()


def parse(document: bytes | None) -> Element:
    assert document is not None
    root: Element = SafeElementTree.fromstring(document)
    return root


@pytest.mark.parametrize("path", PATHS)
async def test_every_document_is_uda_1_1_with_the_config_id(gateway: Gateway, path: str) -> None:
    document = gateway.devices.document(path)
    root = parse(document)
    ns = DEVICE_NS if path.endswith("rootDesc.xml") else SERVICE_NS
    assert root.tag == f"{ns}{'root' if ns == DEVICE_NS else 'scpd'}"
    assert root.findtext(f"{ns}specVersion/{ns}major") == "1"
    assert root.findtext(f"{ns}specVersion/{ns}minor") == "1"
    assert root.get("configId") == str(gateway.devices.config_id)
    assert 0 <= gateway.devices.config_id < 2**24
    empty = [e.tag for e in root.iter() if not (e.text or "").strip() and not len(e)]
    assert empty == []  # no <UPC/>, <iconList/>, <deviceList/> … (schema-invalid when empty)


async def test_root_description_shape(gateway: Gateway) -> None:
    root = parse(gateway.devices.document("/rootDesc.xml"))
    assert root.find(f"{DEVICE_NS}URLBase") is None  # deprecated in UDA 1.1
    devices = list(root.iter(f"{DEVICE_NS}device"))
    assert len(devices) == 3
    assert all("xmlns" not in device.attrib for device in devices)
    top = devices[0]
    assert top[-1].tag == f"{DEVICE_NS}presentationURL"  # the last field (UDA 1.1 2.3)
    assert [d.find(f"{DEVICE_NS}presentationURL") for d in devices[1:]] == [None, None]
    assert len(top.findtext(f"{DEVICE_NS}friendlyName") or "") < 64
    assert len(top.findtext(f"{DEVICE_NS}modelName") or "") < 32
    urls = [e.text or "" for e in root.iter() if e.tag.endswith("URL")]
    assert all(url.startswith("/") for url in urls)  # relative: resolved against LOCATION


async def test_scpd_state_variable_children_follow_the_schema_order(gateway: Gateway) -> None:
    scpd = parse(gateway.devices.document("/WANIPCn.xml"))
    lease = next(
        v
        for v in scpd.iter(f"{SERVICE_NS}stateVariable")
        if v.findtext(f"{SERVICE_NS}name") == "PortMappingLeaseDuration"
    )
    assert [child.tag.removeprefix(SERVICE_NS) for child in lease] == [
        "name",
        "dataType",
        "defaultValue",
        "allowedValueRange",
    ]
    assert lease.get("sendEvents") == "no"


async def test_allowed_values_keep_the_standards_order(gateway: Gateway) -> None:
    # Table 4 order; the library holds allowed values in a set, whose order changes per process
    scpd = parse(gateway.devices.document("/WANIPCn.xml"))
    status = next(
        v
        for v in scpd.iter(f"{SERVICE_NS}stateVariable")
        if v.findtext(f"{SERVICE_NS}name") == "ConnectionStatus"
    )
    assert [value.text for value in status.iter(f"{SERVICE_NS}allowedValue")] == [
        "Unconfigured",
        "Connecting",
        "Connected",
        "PendingDisconnect",
        "Disconnecting",
        "Disconnected",
    ]


async def test_documents_and_udns_are_stable_for_the_same_uuid(gateway: Gateway) -> None:
    again = await build_gateway()
    assert again.devices.config_id == gateway.devices.config_id
    for path in PATHS:
        assert again.devices.document(path) == gateway.devices.document(path)


async def test_a_description_change_changes_the_config_id(gateway: Gateway) -> None:
    core = GatewayCore(
        gateway.mappings, gateway.connection, gateway.interface, gateway.counters.read
    )
    renamed = GatewayDevices(
        device_uuid=uuid.uuid4(),
        identity=DeviceIdentity(serial_number="other", friendly_name="Another gateway"),
        core=core,
    )
    assert renamed.config_id != gateway.devices.config_id


async def test_unknown_path_has_no_document(gateway: Gateway) -> None:
    assert gateway.devices.document("/nothing.xml") is None
    assert gateway.devices.document("/ctl/IPConn") is None


async def test_ssdp_targets_use_each_devices_own_udn(gateway: Gateway) -> None:
    r, w, c = (
        device_udns(DEVICE_UUID, 2).root,
        device_udns(DEVICE_UUID, 2).wan,
        device_udns(DEVICE_UUID, 2).connection,
    )
    device = "urn:schemas-upnp-org:device"
    service = "urn:schemas-upnp-org:service"
    assert gateway.devices.igd2.ssdp_targets() == [
        ("upnp:rootdevice", f"{r}::upnp:rootdevice"),
        (r, r),
        (f"{device}:InternetGatewayDevice:2", f"{r}::{device}:InternetGatewayDevice:2"),
        (w, w),
        (f"{device}:WANDevice:2", f"{w}::{device}:WANDevice:2"),
        (c, c),
        (f"{device}:WANConnectionDevice:2", f"{c}::{device}:WANConnectionDevice:2"),
        (f"{service}:Layer3Forwarding:1", f"{r}::{service}:Layer3Forwarding:1"),
        (f"{service}:WANCommonInterfaceConfig:1", f"{w}::{service}:WANCommonInterfaceConfig:1"),
        (f"{service}:WANIPConnection:2", f"{c}::{service}:WANIPConnection:2"),
    ]
    assert gateway.devices.igd2.ssdp_search_only_targets() == [
        (f"{service}:WANPPPConnection:1", f"{c}::{service}:WANPPPConnection:1")
    ]
    igd1 = gateway.devices.igd1.ssdp_targets()
    assert len(igd1) == 10
    assert igd1[2][0] == f"{device}:InternetGatewayDevice:1"
    assert igd1[-1][0] == f"{service}:WANIPConnection:1"
    assert not {nt for nt, _ in igd1} & {r, w, c}


async def test_announced_devices_and_their_locations(gateway: Gateway) -> None:
    announced = gateway.devices.announced
    assert [tree.description_path for tree in announced] == ["/rootDesc.xml", "/igd1/rootDesc.xml"]


async def test_v1_view_replaces_only_the_igd2_description(gateway: Gateway) -> None:
    devices = gateway.devices
    assert devices.document("/rootDesc.xml", v1_view=True) == devices.document(
        "/igd2v1/rootDesc.xml"
    )
    assert devices.document("/igd1/rootDesc.xml", v1_view=True) == devices.document(
        "/igd1/rootDesc.xml"
    )
    assert devices.document("/WANIPCn.xml", v1_view=True) == devices.document("/WANIPCn.xml")


async def test_control_and_event_endpoints(gateway: Gateway) -> None:
    devices = gateway.devices
    control = devices.control_endpoints()
    assert set(control) == {
        "/ctl/IPConn",
        "/ctl/CmnIfCfg",
        "/ctl/L3F",
        "/igd1/ctl/L3F",
        "/igd2v1/ctl/L3F",
    }
    assert control["/ctl/IPConn"] is devices.igd2.wan_ip_connection  # runs every v2 action
    events = devices.event_endpoints()
    assert events["/evt/IPConn"] is devices.igd2.wan_ip_connection
    assert events["/igd1/evt/IPConn"] is devices.igd1.wan_ip_connection
    assert len(events) == 9
    assert [name for name, _ in events["/evt/IPConn"].event_properties()] == [
        "PossibleConnectionTypes",
        "ConnectionStatus",
        "ExternalIPAddress",
        "PortMappingNumberOfEntries",
        "SystemUpdateID",
    ]
    assert "SystemUpdateID" not in dict(events["/igd1/evt/IPConn"].event_properties())
    assert dict(events["/evt/CmnIfCfg"].event_properties()) == {
        "PhysicalLinkStatus": "Up",
        "EnabledForInternet": "1",
    }


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        ("Microsoft-Windows/10.0 UPnP/1.0", True),
        ("MICROSOFT NAT traversal", True),
        ("FDSSDP", True),
        ("Xbox fdssdp client", True),
        ("Python/3.13 aiohttp/3.11 async-upnp-client/0.44.0 DLNADOC/1.50", False),
        ("Debian/12 UPnP/1.1 MiniUPnPc/2.2.4", False),
        ("", False),
        (None, False),
    ],
)
def test_v1_view_clients_by_user_agent(user_agent: str | None, expected: bool) -> None:
    assert needs_v1_view(user_agent) is expected
    assert serves_v1_view(user_agent, igd_version=2) is expected
    assert serves_v1_view(user_agent, igd_version=1) is True
