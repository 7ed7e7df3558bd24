"""The gateway's device trees, their documents, URLs and SSDP faces (igd2-device.md 1-3, 7.1, 7.1b).

Why two announced root devices over one core, and not one device with a v1 view (7.1b):
- miniupnpd's one IGD:2 device with a v1 view per User-Agent (7.1) loses the IGD:1-only clients
  that send no User-Agent (nat-upnp, nat-api: they keep a device only if its description says
  InternetGatewayDevice:1 with WANIPConnection:1), and a v1-only device loses the IGD:2-only
  clients (libp2p's nat-port-mapper: AddAnyPortMapping on WANIPConnection:2). So, as AVM's
  FRITZ!Box does, we announce two complete and truthful root devices: an InternetGatewayDevice:2
  at /rootDesc.xml and an InternetGatewayDevice:1 at /igd1/rootDesc.xml, each with its own UDNs
  and its own SSDP set. Each client finds the one it understands; neither is a lie to anyone.
- One core: both trees' WANIPConnection (and WANCommonInterfaceConfig) share one control URL
  that runs the v2 service on the one MappingTable, so a mapping made through either face is
  listed and deletable through the other and counted once; SystemUpdateID is the table's one
  counter, and each change is evented on every tree's event URL (daemon._feed_events).
- Which face answers what (faces.py), with both on:
  * a search for a v1 type (InternetGatewayDevice:1, WANIPConnection:1, ...) is answered by the
    IGD:1 device only. UDA 1.1 has a device answer older versions of its types, but when our
    other root device *is* that version, answering from both sends a first-answer-wins client
    (nat-upnp, nat-api) to the IGD:2 description half of the time, where it finds no
    WANIPConnection:1 and gives up. WANPPPConnection:1 (search-only, 3.2) likewise.
  * the IGD:1 device's own type (NT InternetGatewayDevice:1) is answered to a search that names
    it, which is what IGD:1 clients send, but is not NOTIFYed nor part of ssdp:all. Home
    Assistant's `upnp` integration starts a flow per USN of an IGD type it hears (its unique id
    is the USN; its same-host check skips an entry whose ST differs), so a second announced IGD
    type would give it a second card for the same gateway; it now sees the IGD:2 device only.
    The cost: a v1 control point that only listens to NOTIFYs and never searches would miss us;
    none of the clients measured does (7.1b), and ssdp:all still finds the IGD:1 device's
    upnp:rootdevice, UDNs and services.
  * both DeviceIdentity serial numbers are the same, so a control point (our integration) can
    tell the two faces are one gateway.
- The per-User-Agent v1 view of the IGD:2 device (clients.py; same UDNs, v1 types and SCPD,
  third tree, not announced) stays for Windows and consoles that reach the IGD:2 device through
  upnp:rootdevice, ssdp:all or a LOCATION they kept.
- SSDP volume stays within UDA 1.1: 10 + 9 NOTIFYs a round, each sent twice (more than once, at
  most three times), rounds well within max-age; search answers are rate-limited (ssdp.py).
- `announce` igd2: the IGD:2 device alone, answering older versions (miniupnpd's behaviour);
  igd1: the IGD:1 device alone, fully announced, for LANs with devices that IGD:2 confuses.

async-upnp-client's server classes declare the trees; its serializer writes the XML, and
`descriptions.py` corrects what it writes wrong. Everything whose content differs per tree lives
under the tree's own path prefix.
"""

from __future__ import annotations

import hashlib
import uuid
import xml.etree.ElementTree as ET  # builds only; parsing: defusedxml
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from async_upnp_client.const import DeviceInfo, ServiceInfo
from async_upnp_client.server import NopRequester, UpnpServerDevice

from igd import __version__
from igd.upnp.descriptions import device_description, service_description
from igd.upnp.layer3 import (
    LAYER3_FORWARDING,
    LAYER3_FORWARDING_ID,
    Layer3ForwardingService,
    default_connection_service,
)
from igd.upnp.wancommon import (
    WAN_COMMON_INTERFACE_CONFIG,
    WAN_COMMON_INTERFACE_CONFIG_ID,
    CounterSource,
    WanCommonInterfaceConfigService,
)
from igd.upnp.wanipconnection import (
    WAN_IP_CONNECTION_ID,
    WanIpConnection1Service,
    WanIpConnection2Service,
)

if TYPE_CHECKING:
    from igd.core.connection import ConnectionModel
    from igd.core.mappings import MappingTable
    from igd.core.wan_interface import CommonInterfaceConfig
    from igd.upnp.service import GatewayService

INTERNET_GATEWAY_DEVICE = "urn:schemas-upnp-org:device:InternetGatewayDevice"
WAN_DEVICE = "urn:schemas-upnp-org:device:WANDevice"
WAN_CONNECTION_DEVICE = "urn:schemas-upnp-org:device:WANConnectionDevice"
WAN_IP_CONNECTION = "urn:schemas-upnp-org:service:WANIPConnection"
# Answered in M-SEARCH under the connection device but never announced (3.2, "Ours").
WAN_PPP_CONNECTION_1 = "urn:schemas-upnp-org:service:WANPPPConnection:1"
ROOT_DEVICE = "upnp:rootdevice"

DESCRIPTION = "/rootDesc.xml"
IGD1_PREFIX = "/igd1"  # the IGD:1 device's own documents and URLs
IGD2_V1_VIEW_PREFIX = "/igd2v1"  # the v1 view's documents and URLs (not announced)
WAN_IP_CONNECTION_CONTROL = "/ctl/IPConn"  # shared by every tree (5.1 of wanipconnection2.md)
WAN_COMMON_INTERFACE_CONFIG_CONTROL = "/ctl/CmnIfCfg"  # shared by every tree
CONFIG_ID_MODULUS = 2**24  # CONFIGID.UPNP.ORG is 0..16777215 (UDA 1.1, igd2-device.md 3.5)


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """What every description says about the gateway (UDA 1.1 2.3 field limits in comments)."""

    serial_number: str  # < 64 chars; the same on both root devices, so a CP can merge them
    friendly_name: str = "UPnP Gateway (Home Assistant)"  # < 64 chars
    manufacturer: str = "UPnP Gateway"  # < 64 chars
    model_name: str = "UPnP Gateway"  # < 32 chars
    model_number: str = __version__  # < 32 chars
    model_description: str = "Internet Gateway Device over the host's NAT"  # < 128 chars
    presentation_url: str | None = "/"  # kept: Windows shows an IGD only with one (7.2)


@dataclass(frozen=True, slots=True)
class GatewayCore:
    """What the services act on: the mapping table, the connection and the WAN interface."""

    mappings: MappingTable
    connection: ConnectionModel
    interface: CommonInterfaceConfig
    counters: CounterSource


@dataclass(frozen=True, slots=True)
class DeviceUdns:
    """`uuid:` UDNs of a root device and its two embedded devices (igd2-device.md 1)."""

    root: str
    wan: str
    connection: str


class _UnparsedXml(ET.Element):
    """The `xml` a declared service carries: there is no parsed document behind it.

    async-upnp-client tests every attribute of a service for truth while collecting actions;
    an empty element would raise Python's DeprecationWarning about element truth each time.
    """

    def __bool__(self) -> bool:
        return True


class SsdpTarget(NamedTuple):
    """One NT/ST value and the USN that goes with it (igd2-device.md 3.2)."""

    nt: str
    usn: str


def device_udns(device_uuid: uuid.UUID, face: int) -> DeviceUdns:
    """Stable UDNs for the IGD:`face` device, derived from the one persistent UUID.

    The IGD:2 root keeps the persistent UUID itself; every other UDN is a name-based UUID of it
    (miniupnpd changes the last hex digit instead), so they survive restarts and upgrades.
    """

    def derived(name: str) -> str:
        return f"uuid:{uuid.uuid5(device_uuid, name)}"

    root = f"uuid:{device_uuid}" if face == 2 else derived(f"igd{face}/root")
    return DeviceUdns(root, derived(f"igd{face}/wan"), derived(f"igd{face}/connection"))


class DeviceTree:
    """One root device as a control point sees it: its types, UDNs, services and URLs."""

    def __init__(
        self,
        *,
        version: int,
        udns: DeviceUdns,
        prefix: str,
        identity: DeviceIdentity,
        core: GatewayCore,
    ) -> None:
        self.version = version
        self.udns = udns
        self.description_path = prefix + DESCRIPTION
        ip_type = f"{WAN_IP_CONNECTION}:{version}"
        layer3 = _service_class(
            Layer3ForwardingService,
            LAYER3_FORWARDING,
            LAYER3_FORWARDING_ID,
            scpd=f"{prefix}/L3F.xml",
            control=f"{prefix}/ctl/L3F",
            event=f"{prefix}/evt/L3F",
            DEFAULT_CONNECTION_SERVICE=default_connection_service(
                udns.connection, version, WAN_IP_CONNECTION_ID
            ),
        )
        common = _service_class(
            WanCommonInterfaceConfigService,
            WAN_COMMON_INTERFACE_CONFIG,
            WAN_COMMON_INTERFACE_CONFIG_ID,
            scpd=f"{prefix}/WANCfg.xml",
            control=WAN_COMMON_INTERFACE_CONFIG_CONTROL,
            event=f"{prefix}/evt/CmnIfCfg",
            INTERFACE=core.interface,
            CONNECTION=core.connection,
            COUNTERS=core.counters,
        )
        wan_ip = _service_class(
            WanIpConnection2Service if version == 2 else WanIpConnection1Service,
            ip_type,
            WAN_IP_CONNECTION_ID,
            scpd=f"{prefix}/WANIPCn.xml",
            control=WAN_IP_CONNECTION_CONTROL,
            event=f"{prefix}/evt/IPConn",
            MAPPINGS=core.mappings,
            CONNECTION=core.connection,
        )
        connection_device = _device_class(
            _embedded_info(identity, f"{WAN_CONNECTION_DEVICE}:{version}", udns.connection),
            services=[wan_ip],
        )
        wan_device = _device_class(
            _embedded_info(identity, f"{WAN_DEVICE}:{version}", udns.wan),
            services=[common],
            devices=[connection_device],
        )
        root_class = _device_class(
            _root_info(identity, f"{INTERNET_GATEWAY_DEVICE}:{version}", udns.root, self),
            services=[layer3],
            devices=[wan_device],
        )
        # The library's base URI only feeds its own SSDP and HTTP server, which we do not use;
        # descriptions carry relative URLs (no URLBase, UDA 1.1).
        self.root = root_class(NopRequester(), "")
        self.layer3 = cast("Layer3ForwardingService", self.root.services[LAYER3_FORWARDING])
        wan = self.root.embedded_devices[f"{WAN_DEVICE}:{version}"]
        self.wan_common = cast(
            "WanCommonInterfaceConfigService", wan.services[WAN_COMMON_INTERFACE_CONFIG]
        )
        connection = wan.embedded_devices[f"{WAN_CONNECTION_DEVICE}:{version}"]
        self.wan_ip_connection = cast("WanIpConnection1Service", connection.services[ip_type])

    @property
    def services(self) -> tuple[GatewayService, ...]:
        """The three services, root first (the description's order)."""
        return (self.layer3, self.wan_common, self.wan_ip_connection)

    def documents(self, config_id: int | None) -> dict[str, bytes]:
        """The description and the SCPDs by URL path; `config_id` None leaves configId out."""
        documents = {self.description_path: device_description(self.root, config_id)}
        for service in self.services:
            documents[service.scpd_url] = service_description(service, config_id)
        return documents

    def ssdp_targets(self) -> list[SsdpTarget]:
        """The 3 + 2d + k targets this root device announces and answers (3.2), in its order."""
        udns, version = self.udns, self.version
        return [
            SsdpTarget(ROOT_DEVICE, f"{udns.root}::{ROOT_DEVICE}"),
            *_device_targets(udns.root, f"{INTERNET_GATEWAY_DEVICE}:{version}"),
            *_device_targets(udns.wan, f"{WAN_DEVICE}:{version}"),
            *_device_targets(udns.connection, f"{WAN_CONNECTION_DEVICE}:{version}"),
            SsdpTarget(LAYER3_FORWARDING, f"{udns.root}::{LAYER3_FORWARDING}"),
            SsdpTarget(WAN_COMMON_INTERFACE_CONFIG, f"{udns.wan}::{WAN_COMMON_INTERFACE_CONFIG}"),
            SsdpTarget(
                f"{WAN_IP_CONNECTION}:{version}",
                f"{udns.connection}::{WAN_IP_CONNECTION}:{version}",
            ),
        ]

    def ssdp_search_only_targets(self) -> list[SsdpTarget]:
        """Targets answered to M-SEARCH but never announced: WANPPPConnection:1 (3.2, Ours)."""
        return [SsdpTarget(WAN_PPP_CONNECTION_1, f"{self.udns.connection}::{WAN_PPP_CONNECTION_1}")]


class GatewayDevices:
    """Every tree over one core, with the documents and endpoints the HTTP server serves."""

    def __init__(
        self, *, device_uuid: uuid.UUID, identity: DeviceIdentity, core: GatewayCore
    ) -> None:
        igd2_udns = device_udns(device_uuid, 2)
        tree = DeviceTree
        self.igd2 = tree(version=2, udns=igd2_udns, prefix="", identity=identity, core=core)
        self.igd1 = tree(
            version=1,
            udns=device_udns(device_uuid, 1),
            prefix=IGD1_PREFIX,
            identity=identity,
            core=core,
        )
        self.igd2_v1_view = tree(
            version=1, udns=igd2_udns, prefix=IGD2_V1_VIEW_PREFIX, identity=identity, core=core
        )
        trees = (self.igd2, self.igd1, self.igd2_v1_view)
        unnumbered = [
            path_and_document for t in trees for path_and_document in t.documents(None).items()
        ]
        digest = hashlib.sha256()
        for path, document in sorted(unnumbered):
            digest.update(path.encode() + b"\0" + document + b"\0")
        self.config_id = int.from_bytes(digest.digest()[:4]) % CONFIG_ID_MODULUS
        self._documents: dict[str, bytes] = {}
        for t in trees:
            self._documents.update(t.documents(self.config_id))

    @property
    def announced(self) -> tuple[DeviceTree, DeviceTree]:
        """The root devices SSDP announces, each with its own LOCATION (`description_path`)."""
        return (self.igd2, self.igd1)

    def document(self, path: str, *, v1_view: bool = False) -> bytes | None:
        """The description or SCPD at `path`, None for an unknown path (404).

        `v1_view` (clients.serves_v1_view) swaps the IGD:2 description for its v1 view.
        """
        if path == self.igd2.description_path and v1_view:
            path = self.igd2_v1_view.description_path
        return self._documents.get(path)

    def control_endpoints(self) -> dict[str, GatewayService]:
        """Control URL → the service whose actions it runs (shared URLs run the v2 service)."""
        endpoints: dict[str, GatewayService] = {}
        for t in (self.igd2, self.igd1, self.igd2_v1_view):
            for service in t.services:
                endpoints.setdefault(service.control_url, service)
        return endpoints

    def event_endpoints(self) -> dict[str, GatewayService]:
        """Event subscription URL → the service whose `event_properties()` its NOTIFYs carry."""
        return {
            service.event_sub_url: service
            for t in (self.igd2, self.igd1, self.igd2_v1_view)
            for service in t.services
        }


def _device_targets(udn: str, device_type: str) -> list[SsdpTarget]:
    return [SsdpTarget(udn, udn), SsdpTarget(device_type, f"{udn}::{device_type}")]


def _service_class[S: GatewayService](
    base: type[S],
    service_type: str,
    service_id: str,
    *,
    scpd: str,
    control: str,
    event: str,
    **attributes: Any,
) -> type[S]:
    """A subclass of `base` with this tree's URLs and the core objects its handlers use."""
    info = ServiceInfo(
        service_id=service_id,
        service_type=service_type,
        control_url=control,
        event_sub_url=event,
        scpd_url=scpd,
        xml=_UnparsedXml("service"),
    )
    return cast("type[S]", type(base.__name__, (base,), {"SERVICE_DEFINITION": info, **attributes}))


def _device_class(
    info: DeviceInfo,
    *,
    services: list[type[GatewayService]],
    devices: list[type[UpnpServerDevice]] | None = None,
) -> type[UpnpServerDevice]:
    name = info.device_type.rsplit(":", 2)[1]
    attributes = {
        "DEVICE_DEFINITION": info,
        "SERVICES": services,
        "EMBEDDED_DEVICES": devices or [],
    }
    return type(name, (UpnpServerDevice,), attributes)


def _root_info(
    identity: DeviceIdentity, device_type: str, udn: str, tree: DeviceTree
) -> DeviceInfo:
    return DeviceInfo(
        device_type=device_type,
        friendly_name=identity.friendly_name,
        manufacturer=identity.manufacturer,
        manufacturer_url=None,
        model_description=identity.model_description,
        model_name=identity.model_name,
        model_number=identity.model_number,
        model_url=None,
        serial_number=identity.serial_number,
        udn=udn,
        upc=None,
        presentation_url=identity.presentation_url,
        url=tree.description_path,
        icons=[],
        xml=ET.Element("device"),
    )


def _embedded_info(identity: DeviceIdentity, device_type: str, udn: str) -> DeviceInfo:
    """An embedded device: the required fields, no presentationURL (root only, UDA 2.3)."""
    kind = device_type.rsplit(":", 2)[1]
    return DeviceInfo(
        device_type=device_type,
        friendly_name=f"{identity.friendly_name} {kind}"[:63],
        manufacturer=identity.manufacturer,
        manufacturer_url=None,
        model_description=None,
        model_name=identity.model_name,
        model_number=identity.model_number,
        model_url=None,
        serial_number=identity.serial_number,
        udn=udn,
        upc=None,
        presentation_url=None,
        url="",
        icons=[],
        xml=ET.Element("device"),
    )
