"""The assembled gateway over HTTP on loopback (memory backend): what a control point meets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from ipaddress import IPv4Network

import aiohttp
import pytest
from aiohttp import web

from igd.daemon import Gateway
from igd.upnp.http import HttpServer, build_app
from igd.upnp.lan_interface import LanInterface, lan_interface
from tests.daemon.gateway_support import Started
from tests.daemon.gena_support import NotifyReceiver
from tests.daemon.upnp_support import arguments, envelope, soap_headers

WANIP2 = "urn:schemas-upnp-org:service:WANIPConnection:2"
WINDOWS = "Microsoft-Windows/10.0 UPnP/1.0"


def _base(gateway: Gateway) -> str:
    return f"http://127.0.0.1:{gateway.port}"


async def _request(
    method: str, url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, data=data, headers=headers) as response,
    ):
        return response.status, dict(response.headers), await response.text()


async def _soap(gateway: Gateway, action: str, **values: object) -> tuple[int, str]:
    status, _, body = await _request(
        "POST",
        f"{_base(gateway)}/ctl/IPConn",
        data=envelope(WANIP2, action, arguments(**values)),
        headers=soap_headers(WANIP2, action),
    )
    return status, body


def _mapping(client: str, external_port: int, lease: int = 3600) -> dict[str, object]:
    return {
        "NewRemoteHost": "",
        "NewExternalPort": external_port,
        "NewProtocol": "TCP",
        "NewInternalPort": 8000,
        "NewInternalClient": client,
        "NewEnabled": 1,
        "NewPortMappingDescription": "test",
        "NewLeaseDuration": lease,
    }


async def test_root_description_is_igd2_xml(start_gateway: Started) -> None:
    gateway = await start_gateway()

    status, headers, body = await _request("GET", f"{_base(gateway)}/rootDesc.xml")

    assert status == 200
    assert headers["Content-Type"] == 'text/xml; charset="utf-8"'
    assert "urn:schemas-upnp-org:device:InternetGatewayDevice:2" in body
    assert headers["Connection"] == "close"  # one request per connection (A9)
    assert "UPnP/1.1 upnp_gateway/" in headers["Server"]


async def test_windows_gets_the_igd1_view(start_gateway: Started) -> None:
    gateway = await start_gateway()

    _, _, body = await _request(
        "GET", f"{_base(gateway)}/rootDesc.xml", headers={"User-Agent": WINDOWS}
    )

    assert "urn:schemas-upnp-org:device:InternetGatewayDevice:1" in body
    assert "InternetGatewayDevice:2" not in body


async def test_igd_version_1_gives_everyone_the_igd1_view(start_gateway: Started) -> None:
    gateway = await start_gateway(igd_version=1)

    _, _, body = await _request("GET", f"{_base(gateway)}/rootDesc.xml")

    assert "urn:schemas-upnp-org:device:InternetGatewayDevice:1" in body


async def test_every_scpd_in_the_description_is_served(start_gateway: Started) -> None:
    gateway = await start_gateway()

    for path in ("/L3F.xml", "/WANCfg.xml", "/WANIPCn.xml"):
        status, _, body = await _request("GET", f"{_base(gateway)}{path}")
        assert status == 200
        assert "<scpd" in body


async def _raw_exchange(port: int, data: bytes) -> tuple[str, dict[str, str]]:
    """Send raw bytes, read the whole answer: its status line and headers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    status_line, *lines = answer.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    return status_line, dict(line.split(": ", 1) for line in lines)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /rootDesc.xml HTTP/1.1 x\r\nHost: 127.0.0.1\r\n\r\n",
        b"G\x00T /rootDesc.xml HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /rootDesc.xml HTTP/1.1\r\nX: " + b"b" * 9000 + b"\r\n\r\n",
        b"GET /rootDesc.xml HTTP/1.1\r\n" + b"H: v\r\n" * 80 + b"\r\n",
    ],
    ids=["bad request line", "bad method", "header line too long", "too many headers"],
)
async def test_a_malformed_request_is_refused_in_our_name(
    start_gateway: Started, request_bytes: bytes
) -> None:
    gateway = await start_gateway()
    _, ours, _ = await _request("GET", f"{_base(gateway)}/rootDesc.xml")

    status_line, headers = await _raw_exchange(gateway.port, request_bytes)

    assert status_line.split()[1] == "400"
    assert headers["Server"] == ours["Server"]
    assert headers["Connection"] == "close"


async def test_unknown_path_is_404(start_gateway: Started) -> None:
    gateway = await start_gateway()

    status, _, _ = await _request("GET", f"{_base(gateway)}/etc/passwd")

    assert status == 404


async def test_control_url_takes_only_post(start_gateway: Started) -> None:
    gateway = await start_gateway()

    status, headers, _ = await _request("GET", f"{_base(gateway)}/ctl/IPConn")

    assert status == 405
    assert headers["Allow"] == "POST"


async def test_event_url_takes_only_subscribe_and_unsubscribe(start_gateway: Started) -> None:
    gateway = await start_gateway()

    status, headers, _ = await _request("GET", f"{_base(gateway)}/evt/IPConn")

    assert status == 405
    assert headers["Allow"] == "SUBSCRIBE, UNSUBSCRIBE"


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:{port}", "127.0.0.1", "localhost:{port}"]
)
async def test_a_host_header_not_ours_is_refused(start_gateway: Started, host: str) -> None:
    gateway = await start_gateway()

    status, _, _ = await _request(
        "GET", f"{_base(gateway)}/rootDesc.xml", headers={"Host": host.format(port=gateway.port)}
    )

    assert status == 400


async def test_an_oversized_body_is_refused(start_gateway: Started) -> None:
    gateway = await start_gateway()

    status, _, _ = await _request(
        "POST",
        f"{_base(gateway)}/ctl/IPConn",
        data=b"<" * (64 * 1024),
        headers=soap_headers(WANIP2, "GetStatusInfo"),
    )

    assert status == 413


async def test_status_on_the_loopback_demo_is_connected(start_gateway: Started) -> None:
    gateway = await start_gateway()

    status, body = await _soap(gateway, "GetStatusInfo")

    assert status == 200
    assert "<NewConnectionStatus>Connected</NewConnectionStatus>" in body


async def test_a_client_maps_a_port_to_itself(start_gateway: Started) -> None:
    gateway = await start_gateway()

    status, _ = await _soap(gateway, "AddPortMapping", **_mapping("127.0.0.1", 18000))
    _, body = await _soap(gateway, "GetGenericPortMappingEntry", NewPortMappingIndex=0)

    assert status == 200
    assert "<NewExternalPort>18000</NewExternalPort>" in body


async def test_secure_mode_refuses_a_mapping_for_another_host(start_gateway: Started) -> None:
    gateway = await start_gateway(trust_gateway_host=False)

    status, body = await _soap(gateway, "AddPortMapping", **_mapping("127.0.0.2", 18000))

    assert status == 500
    assert "<errorCode>606</errorCode>" in body


async def test_a_trusted_control_point_maps_for_another_host(start_gateway: Started) -> None:
    gateway = await start_gateway(trusted_control_points=["127.0.0.1"], trust_gateway_host=False)

    status, _ = await _soap(gateway, "AddPortMapping", **_mapping("127.0.0.2", 18000))

    assert status == 200


async def test_without_secure_mode_anyone_maps_for_another_host(start_gateway: Started) -> None:
    gateway = await start_gateway(secure_mode=False, trust_gateway_host=False)

    status, _ = await _soap(gateway, "AddPortMapping", **_mapping("127.0.0.2", 18000))

    assert status == 200


@pytest.mark.parametrize("port", [1023, 2001, 8123])
async def test_ports_outside_the_allowed_range_are_refused(
    start_gateway: Started, port: int
) -> None:
    gateway = await start_gateway(external_ports="1024-2000", secure_mode=False)

    status, body = await _soap(gateway, "AddPortMapping", **_mapping("127.0.0.1", port))

    assert status == 500
    assert "<errorCode>606</errorCode>" in body


async def test_lease_limits_are_applied(start_gateway: Started) -> None:
    gateway = await start_gateway(min_lease=120, max_lease=600)

    await _soap(gateway, "AddPortMapping", **_mapping("127.0.0.1", 18000, lease=0))
    await _soap(gateway, "AddPortMapping", **_mapping("127.0.0.1", 18001, lease=5))
    _, longest = await _soap(gateway, "GetGenericPortMappingEntry", NewPortMappingIndex=0)
    _, shortest = await _soap(gateway, "GetGenericPortMappingEntry", NewPortMappingIndex=1)
    status, refused = await _soap(gateway, "AddPortMapping", **_mapping("127.0.0.1", 18002, 604801))

    assert "<NewLeaseDuration>600</NewLeaseDuration>" in longest
    assert "<NewLeaseDuration>120</NewLeaseDuration>" in shortest
    assert status == 500
    assert "<errorCode>601</errorCode>" in refused


async def _subscribe(gateway: Gateway, receiver_port: int) -> None:
    status, headers, _ = await _request(
        "SUBSCRIBE",
        f"{_base(gateway)}/evt/IPConn",
        headers={
            "CALLBACK": f"<http://127.0.0.1:{receiver_port}/notify>",
            "NT": "upnp:event",
            "TIMEOUT": "Second-1800",
        },
    )
    assert status == 200
    assert headers["SID"].startswith("uuid:")


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[NotifyReceiver, int]]:
    notify = NotifyReceiver()
    runner = web.AppRunner(notify.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield notify, int(runner.addresses[0][1])
    await runner.cleanup()


async def test_an_add_is_one_event_with_both_table_variables(
    start_gateway: Started, receiver: tuple[NotifyReceiver, int]
) -> None:
    notify, port = receiver
    gateway = await start_gateway()
    await _subscribe(gateway, port)
    initial = await notify.next()

    await _soap(gateway, "AddPortMapping", **_mapping("127.0.0.1", 18000))
    event = await notify.next()

    assert initial.values["PortMappingNumberOfEntries"] == "0"
    assert event.values["PortMappingNumberOfEntries"] == "1"
    assert int(event.values["SystemUpdateID"]) == int(initial.values["SystemUpdateID"]) + 1
    assert await notify.nothing_more()


async def test_a_lease_ends_by_itself(
    start_gateway: Started, receiver: tuple[NotifyReceiver, int]
) -> None:
    notify, port = receiver
    gateway = await start_gateway()
    await _subscribe(gateway, port)
    await notify.next()

    await _soap(gateway, "AddPortMapping", **_mapping("127.0.0.1", 18000, lease=1))
    added = await notify.next()
    expired = await notify.next()  # within the receiver's bounded wait
    _, body = await _soap(gateway, "GetGenericPortMappingEntry", NewPortMappingIndex=0)

    assert added.values["PortMappingNumberOfEntries"] == "1"
    assert expired.values["PortMappingNumberOfEntries"] == "0"
    assert "<errorCode>713</errorCode>" in body


@pytest.fixture
async def guarded() -> AsyncIterator[Callable[[str], Awaitable[int]]]:
    """The HTTP guard on loopback with a chosen LAN subnet, serving one plain route."""
    servers: list[HttpServer] = []

    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="hello")

    async def serve(network: str) -> int:
        loopback = lan_interface("lo")
        lan = LanInterface("lo", loopback.index, loopback.address, IPv4Network(network))
        app = build_app([web.get("/", hello)], lans=[lan], server="test")
        server = HttpServer(app, lans=[lan], port=0)
        servers.append(server)
        await server.start()
        return server.port

    yield serve
    for server in servers:
        await server.stop()


async def _get_from(source: str, port: int) -> int:
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get(f"http://127.0.0.1:{port}/") as response,
    ):
        return response.status


async def test_a_source_outside_the_lan_is_refused(
    guarded: Callable[[str], Awaitable[int]],
) -> None:
    port = await guarded("127.0.0.1/32")

    assert await _get_from("127.0.0.2", port) == 403


async def test_a_source_inside_the_lan_is_served(
    guarded: Callable[[str], Awaitable[int]],
) -> None:
    port = await guarded("127.0.0.0/8")

    assert await _get_from("127.0.0.2", port) == 200


async def test_it_never_listens_on_the_wildcard_address(start_gateway: Started) -> None:
    gateway = await start_gateway()

    with pytest.raises(aiohttp.ClientConnectionError):
        await asyncio.wait_for(_request("GET", f"http://127.0.0.2:{gateway.port}/rootDesc.xml"), 5)
