"""Home Assistant's UPnP library as the subscriber: async-upnp-client's own event handler.

The library is what the integration (and Home Assistant's core `upnp`) subscribes with; this proves
our SUBSCRIBE answers, SEQ and event bodies are what it understands, including its renewal form.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from async_upnp_client.aiohttp import AiohttpNotifyServer, AiohttpRequester
from async_upnp_client.client import UpnpService, UpnpStateVariable
from async_upnp_client.client_factory import UpnpFactory

from igd.upnp.gena import EventPublisher
from tests.daemon.gena_support import EVENT_PATH, WAIT, evented_values

SERVICE_TYPE = "urn:schemas-upnp-org:service:WANIPConnection:2"
DESCRIPTION = f"""<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
 <specVersion><major>1</major><minor>1</minor></specVersion>
 <device>
  <deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:2</deviceType>
  <friendlyName>GENA test</friendlyName>
  <manufacturer>tests</manufacturer>
  <modelName>tests</modelName>
  <UDN>uuid:5b0b4c7e-0000-4000-8000-00000000000c</UDN>
  <serviceList><service>
   <serviceType>{SERVICE_TYPE}</serviceType>
   <serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
   <SCPDURL>/WANIPCn.xml</SCPDURL>
   <controlURL>/ctl/IPConn</controlURL>
   <eventSubURL>{EVENT_PATH}</eventSubURL>
  </service></serviceList>
 </device>
</root>"""
VARIABLE_TYPES = {
    "PossibleConnectionTypes": "string",
    "ConnectionStatus": "string",
    "ExternalIPAddress": "string",
    "PortMappingNumberOfEntries": "ui2",
    "SystemUpdateID": "ui4",
}
SCPD = (
    '<?xml version="1.0"?><scpd xmlns="urn:schemas-upnp-org:service-1-0">'
    "<specVersion><major>1</major><minor>1</minor></specVersion><actionList/>"
    "<serviceStateTable>"
    + "".join(
        f'<stateVariable sendEvents="yes"><name>{name}</name><dataType>{kind}</dataType>'
        "</stateVariable>"
        for name, kind in VARIABLE_TYPES.items()
    )
    + "</serviceStateTable></scpd>"
)


def _serve(text: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(_request: web.Request) -> web.Response:
        return web.Response(text=text, content_type="text/xml")

    return handler


@pytest.fixture
async def service_and_publisher(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> AsyncIterator[tuple[UpnpService, EventPublisher, dict[str, str]]]:
    state = evented_values()
    publisher = EventPublisher(current=lambda: state, server="Linux/6.6 UPnP/1.1 UPnPGateway/0.1")
    app = web.Application()
    app.router.add_get("/rootDesc.xml", _serve(DESCRIPTION))
    app.router.add_get("/WANIPCn.xml", _serve(SCPD))
    app.router.add_routes(publisher.routes(EVENT_PATH))
    server = await aiohttp_server(app, host="127.0.0.1")
    factory = UpnpFactory(AiohttpRequester())
    device = await factory.async_create_device(f"http://127.0.0.1:{server.port}/rootDesc.xml")
    yield device.service(SERVICE_TYPE), publisher, state
    await publisher.close()


@pytest.fixture
async def notify_server() -> AsyncIterator[AiohttpNotifyServer]:
    server = AiohttpNotifyServer(AiohttpRequester(), ("127.0.0.1", 0))
    await server.async_start_server()
    yield server
    await server.async_stop_server()


def _record(service: UpnpService) -> asyncio.Queue[dict[str, Any]]:
    changes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def on_event(_service: UpnpService, variables: Sequence[UpnpStateVariable[Any]]) -> None:
        changes.put_nowait({variable.name: variable.value for variable in variables})

    service.on_event = on_event
    return changes


async def test_library_subscribes_and_receives_initial_and_later_events(
    service_and_publisher: tuple[UpnpService, EventPublisher, dict[str, str]],
    notify_server: AiohttpNotifyServer,
) -> None:
    service, publisher, state = service_and_publisher
    changes = _record(service)

    sid, timeout = await notify_server.event_handler.async_subscribe(service)
    initial = await asyncio.wait_for(changes.get(), WAIT)
    state["PortMappingNumberOfEntries"] = "3"
    publisher.publish({"SystemUpdateID": "42"})
    later = await asyncio.wait_for(changes.get(), WAIT)

    assert sid.startswith("uuid:")
    assert timeout == timedelta(seconds=1800)
    assert initial["ConnectionStatus"] == "Connected"
    assert initial["PortMappingNumberOfEntries"] == 0
    assert later["PortMappingNumberOfEntries"] == 3
    assert later["SystemUpdateID"] == 42
    assert service.state_variable("ExternalIPAddress").value == "203.0.113.1"


async def test_library_renews_and_unsubscribes(
    service_and_publisher: tuple[UpnpService, EventPublisher, dict[str, str]],
    notify_server: AiohttpNotifyServer,
) -> None:
    service, publisher, _ = service_and_publisher
    changes = _record(service)
    handler = notify_server.event_handler
    sid, _ = await handler.async_subscribe(service, timeout=timedelta(seconds=3600))
    await asyncio.wait_for(changes.get(), WAIT)

    renewed_sid, renewed_timeout = await handler.async_resubscribe(service)
    await handler.async_unsubscribe(service)
    publisher.publish({"SystemUpdateID": "7"})

    assert renewed_sid == sid
    assert renewed_timeout == timedelta(seconds=1800)
    assert handler.sid_for_service(service) is None
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(changes.get(), 0.3)
