"""What the description and SOAP tests share: the device trees over a real core, and a small app.

The app is the tests' own stand-in for the daemon's HTTP application: it serves the documents
and mounts `soap.control_handler` on every control URL, with the caller chosen by the test.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from aiohttp import web
from async_upnp_client.client import UpnpRequester
from async_upnp_client.const import HttpRequest, HttpResponse

from igd.backends.memory import MemoryBackend
from igd.core.connection import ConnectionModel
from igd.core.mappings import Caller, MappingTable
from igd.core.wan_interface import CommonInterfaceConfig, InterfaceCounters, WanLinkState
from igd.upnp.devices import DeviceIdentity, GatewayCore, GatewayDevices
from igd.upnp.soap import control_handler

DEVICE_UUID = uuid.UUID("6d2b5b1e-52a4-4a3e-9a52-0c6f5e1f2a01")
SERIAL = "UG-0001"
WAN_ADDRESS = "203.0.113.1"
UP = WanLinkState(present=True, carrier=True, address=WAN_ADDRESS, default_route=True)
TRUSTED = Caller(address="192.168.50.2", authorized=True)
CONSOLE = Caller(address="192.168.50.10", authorized=False)
COUNTERS = InterfaceCounters.from_kernel(
    tx_bytes=2**32 + 5, rx_bytes=123456, tx_packets=77, rx_packets=88
)


class VirtualClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class KernelCounters:
    """A counter source answering fixed figures, or failing like a vanished interface."""

    def __init__(self) -> None:
        self.failure: Exception | None = None

    async def read(self) -> InterfaceCounters:
        if self.failure is not None:
            raise self.failure
        return COUNTERS


@dataclass
class Gateway:
    """The trees over a real core, and who the next SOAP request comes from."""

    devices: GatewayDevices
    mappings: MappingTable
    connection: ConnectionModel
    interface: CommonInterfaceConfig
    counters: KernelCounters
    clock: VirtualClock
    caller: Caller = field(default=TRUSTED)


async def build_gateway(*, connected: bool = True) -> Gateway:
    """A gateway whose WAN link is up (Connected) unless told otherwise."""
    clock = VirtualClock()
    backend = MemoryBackend()
    connection = ConnectionModel(clock=clock, forwarding=backend.set_forwarding)
    if connected:
        await connection.observe(UP)
    interface = CommonInterfaceConfig(
        connection, upstream_bps=40_000_000, downstream_bps=250_000_000
    )
    interface.observe(UP)
    mappings = MappingTable(backend, clock)
    counters = KernelCounters()
    core = GatewayCore(mappings, connection, interface, counters.read)
    devices = GatewayDevices(
        device_uuid=DEVICE_UUID, identity=DeviceIdentity(serial_number=SERIAL), core=core
    )
    return Gateway(devices, mappings, connection, interface, counters, clock)


def build_app(gateway: Gateway) -> web.Application:
    """Documents on GET, every control URL on POST (and GET, to see the 405)."""
    app = web.Application()

    async def document(request: web.Request) -> web.Response:
        body = gateway.devices.document(request.path)
        if body is None:
            raise web.HTTPNotFound
        return web.Response(body=body, headers={"Content-Type": 'text/xml; charset="utf-8"'})

    for path, service in gateway.devices.control_endpoints().items():
        handler = control_handler(service, lambda _request: gateway.caller)
        app.router.add_route("*", path, handler)
    app.router.add_get("/{tail:.*\\.xml}", document)
    return app


class DocumentRequester(UpnpRequester):
    """async-upnp-client's requester, answered from our documents without any network."""

    def __init__(self, devices: GatewayDevices, *, v1_view: bool = False) -> None:
        self._devices = devices
        self._v1_view = v1_view

    async def async_http_request(self, http_request: HttpRequest) -> HttpResponse:
        path = http_request.url.removeprefix("http://192.168.50.1:5000")
        body = self._devices.document(path, v1_view=self._v1_view)
        if body is None:
            return HttpResponse(404, {}, "")
        return HttpResponse(200, {"Content-Type": "text/xml"}, body.decode())


def envelope(service_type: str, action: str, arguments: str = "", *, prefix: str = "u") -> bytes:
    """A SOAP request body as a control point writes it."""
    return (
        '<?xml version="1.0"?>'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
        f'<{prefix}:{action} xmlns:{prefix}="{service_type}">{arguments}</{prefix}:{action}>'
        "</s:Body></s:Envelope>"
    ).encode()


def soap_headers(service_type: str, action: str) -> dict[str, str]:
    return {
        "SOAPACTION": f'"{service_type}#{action}"',
        "Content-Type": 'text/xml; charset="utf-8"',
    }


def arguments(**values: object) -> str:
    """`<Name>value</Name>` for each keyword, in the order given."""
    return "".join(f"<{name}>{value}</{name}>" for name, value in values.items())
