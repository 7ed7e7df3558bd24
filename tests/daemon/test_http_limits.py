"""The HTTP server's connection limits (security-notes.md A9), with real sockets on loopback.

Clients bind to 127.0.0.2, 127.0.0.3, ... to be different sources of the one loopback LAN.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from igd.daemon import Gateway
from igd.options import parse_options
from igd.upnp.connection_limits import MAX_CONNECTIONS, MAX_SERVED_PER_SOURCE, ConnectionLimits
from igd.upnp.http import HttpServer, build_app
from igd.upnp.lan_interface import LanInterface, lan_interface
from tests.daemon.gena_support import NotifyReceiver
from tests.daemon.upnp_support import envelope, soap_headers

WAIT = 5.0  # seconds any single wait may take before the test fails (never a speed claim)
LONG = 60.0  # a connection deadline no test reaches
SHORT = 0.5  # a connection deadline tests wait out
WANIP2 = "urn:schemas-upnp-org:service:WANIPConnection:2"

type Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass
class Limited:
    """A server on loopback behind `limits`, recording the path of every request it answers."""

    port: int
    limits: ConnectionLimits
    answered: list[str] = field(default_factory=list)
    streams: list[Stream] = field(default_factory=list)

    async def connect(self, source: str = "127.0.0.2") -> Stream:
        stream = await asyncio.open_connection("127.0.0.1", self.port, local_addr=(source, 0))
        self.streams.append(stream)
        return stream

    def request(self, path: str = "/") -> bytes:
        return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode()

    async def until_open(self, count: int) -> None:
        """Wait (bounded) until the server counts `count` connections open."""
        for _ in range(int(WAIT / 0.01)):
            if self.limits.open_connections == count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{self.limits.open_connections} open, expected {count}")


def _loopback_lan() -> LanInterface:
    """Loopback as a LAN of 127.0.0.0/8, so that 127.0.0.2, 127.0.0.3, ... are its hosts."""
    loopback = lan_interface("lo")
    return LanInterface("lo", loopback.index, loopback.address, IPv4Network("127.0.0.0/8"))


@pytest.fixture
async def limited() -> AsyncIterator[Callable[..., Awaitable[Limited]]]:
    servers: list[HttpServer] = []
    made: list[Limited] = []

    async def serve(**limits: Any) -> Limited:
        lan = _loopback_lan()
        answered: list[str] = []

        async def record(request: web.Request) -> web.Response:
            answered.append(request.path)
            return web.Response(text="hello")

        app = build_app([web.get("/{tail:.*}", record)], lans=[lan], server="test")
        connection_limits = ConnectionLimits(**limits)
        server = HttpServer(app, lans=[lan], port=0, limits=connection_limits)
        servers.append(server)
        await server.start()
        made.append(Limited(server.port, connection_limits, answered))
        return made[-1]

    yield serve
    for each in made:
        for _, writer in each.streams:
            writer.close()
    for server in servers:
        await server.stop()


async def _answer(reader: asyncio.StreamReader) -> str:
    """The status code of the answer, or "" when the server closed without one."""
    try:
        data = await asyncio.wait_for(reader.read(), WAIT)
    except ConnectionResetError:
        return ""
    return data.split(b" ", 2)[1].decode() if data else ""


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    """True when the server closed the connection, False when it stayed open for WAIT."""
    try:
        return await asyncio.wait_for(reader.read(), WAIT) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


async def test_a_slowloris_client_is_cut_at_the_deadline(
    limited: Callable[..., Awaitable[Limited]],
) -> None:
    server = await limited(timeout=SHORT)
    reader, writer = await server.connect()
    request = server.request()  # one byte every 0.1 s: 4 s, eight deadlines
    sent = 0

    for byte in request:
        try:
            writer.write(bytes([byte]))
            await writer.drain()
            cut = await asyncio.wait_for(reader.read(1), 0.1) == b""
        except TimeoutError:
            cut = False
        except ConnectionResetError:
            cut = True
        if cut:
            break
        sent += 1

    assert sent < len(request)
    assert server.answered == []
    await server.until_open(0)


async def test_a_source_is_served_on_eight_connections_and_the_ninth_waits_its_turn(
    limited: Callable[..., Awaitable[Limited]],
) -> None:
    server = await limited(timeout=LONG)
    slow = [await server.connect("127.0.0.2") for _ in range(MAX_SERVED_PER_SOURCE)]
    for index, (_, writer) in enumerate(slow):  # the request's head, all but its last line
        writer.write(server.request(f"/first-{index}")[:-2])
    await server.until_open(MAX_SERVED_PER_SOURCE)
    ninth_reader, ninth_writer = await server.connect("127.0.0.2")
    ninth_writer.write(server.request("/ninth"))
    await server.until_open(MAX_SERVED_PER_SOURCE + 1)

    other_reader, other_writer = await server.connect("127.0.0.3")
    other_writer.write(server.request("/other-source"))
    other = await _answer(other_reader)
    answered_while_eight_were_served = list(server.answered)
    first_reader, first_writer = slow[0]
    first_writer.write(b"\r\n")
    first = await _answer(first_reader)
    ninth = await _answer(ninth_reader)

    assert (other, first, ninth) == ("200", "200", "200")
    assert answered_while_eight_were_served == ["/other-source"]
    assert server.answered == ["/other-source", "/first-0", "/ninth"]


async def test_a_burst_of_one_client_is_all_answered(
    limited: Callable[..., Awaitable[Limited]],
) -> None:
    server = await limited(timeout=LONG)
    burst = [await server.connect("127.0.0.2") for _ in range(32)]  # wrk's 32 connections

    for index, (_, writer) in enumerate(burst):
        writer.write(server.request(f"/{index}"))
    answers = await asyncio.gather(*(_answer(reader) for reader, _ in burst))

    assert answers == ["200"] * 32
    assert sorted(server.answered) == sorted(f"/{index}" for index in range(32))
    await server.until_open(0)


async def test_the_connection_beyond_the_cap_is_closed_at_once(
    limited: Callable[..., Awaitable[Limited]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="igd.upnp.connection_limits")
    server = await limited(timeout=LONG)
    # four sources with sixteen each: half served, half waiting (the waiting count too)
    held = [await server.connect(f"127.0.0.{2 + index // 16}") for index in range(MAX_CONNECTIONS)]
    await server.until_open(MAX_CONNECTIONS)

    beyond_reader, _ = await server.connect("127.0.0.200")
    refused = await _closed_by_server(beyond_reader)
    first_reader, first_writer = held[0]
    first_writer.write(server.request("/held"))
    held_answer = await _answer(first_reader)
    await server.until_open(MAX_CONNECTIONS - 1)
    again_reader, again_writer = await server.connect("127.0.0.200")
    again_writer.write(server.request("/room-again"))
    again = await _answer(again_reader)

    assert refused
    assert "HTTP from 127.0.0.200 refused: 64 connections open already" in caplog.messages
    assert (held_answer, again) == ("200", "200")
    assert server.answered == ["/held", "/room-again"]


async def test_a_waiting_connection_is_closed_by_its_deadline_too(
    limited: Callable[..., Awaitable[Limited]],
) -> None:
    server = await limited(timeout=SHORT, max_served_per_source=1)
    _, served_writer = await server.connect("127.0.0.2")
    served_writer.write(b"GET / HTTP/1.1\r\n")  # never finished
    waiting_reader, waiting_writer = await server.connect("127.0.0.2")
    waiting_writer.write(b"GET /waiting HTTP/1.1\r\n")  # never finished either

    closed = await _closed_by_server(waiting_reader)

    assert closed
    assert server.answered == []
    await server.until_open(0)
    assert server.limits.busy_sources == 0


async def test_nothing_is_left_counted_after_many_short_connections(
    limited: Callable[..., Awaitable[Limited]],
) -> None:
    server = await limited(timeout=LONG)

    async def exchange(source: str, index: int) -> str:
        reader, writer = await server.connect(source)
        if index % 4 == 0:  # some leave without a word
            writer.close()
            return "200"
        writer.write(server.request())
        return await _answer(reader)

    for _ in range(10):
        answers = await asyncio.gather(
            *(exchange(f"127.0.0.{2 + index % 4}", index) for index in range(40))
        )
        assert answers == ["200"] * 40

    await server.until_open(0)
    assert server.limits.busy_sources == 0
    assert len(server.answered) == 300


async def test_stopping_the_server_closes_the_waiting_connections() -> None:
    limits = ConnectionLimits(timeout=LONG, max_served_per_source=1)
    lan = _loopback_lan()
    app = build_app([], lans=[lan], server="test")
    server = HttpServer(app, lans=[lan], port=0, limits=limits)
    await server.start()
    streams = [
        await asyncio.open_connection("127.0.0.1", server.port, local_addr=("127.0.0.2", 0))
        for _ in range(3)
    ]
    for _, writer in streams:
        writer.write(b"GET / HTTP/1.1\r\n")
    for _ in range(int(WAIT / 0.01)):
        if limits.open_connections == 3:
            break
        await asyncio.sleep(0.01)

    await server.stop()
    closed = [await _closed_by_server(reader) for reader, _ in streams]
    for _, writer in streams:
        writer.close()

    assert closed == [True, True, True]
    assert limits.open_connections == 0


# The assembled gateway: the limits are in place with their A9 values, SOAP and GENA pass.


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    running = Gateway(parse_options({"http_port": 0, "data_dir": str(tmp_path)}))
    await running.start()
    yield running
    await running.stop()


async def test_the_gateway_answers_a_soap_burst_of_one_source(gateway: Gateway) -> None:
    url = f"http://127.0.0.1:{gateway.port}/ctl/IPConn"
    body = envelope(WANIP2, "GetExternalIPAddress")
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0), limit=0)

    async def call(session: aiohttp.ClientSession) -> int:
        headers = soap_headers(WANIP2, "GetExternalIPAddress")
        async with session.post(url, data=body, headers=headers) as response:
            return response.status

    async with aiohttp.ClientSession(connector=connector) as session:
        statuses = await asyncio.gather(*(call(session) for _ in range(32)))

    assert statuses == [200] * 32


async def test_the_gateway_takes_a_gena_subscription(gateway: Gateway) -> None:
    notify = NotifyReceiver()
    runner = web.AppRunner(notify.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                "SUBSCRIBE",
                f"http://127.0.0.1:{gateway.port}/evt/IPConn",
                headers={
                    "CALLBACK": f"<http://127.0.0.1:{runner.addresses[0][1]}/notify>",
                    "NT": "upnp:event",
                    "TIMEOUT": "Second-1800",
                },
            ) as response,
        ):
            status, sid = response.status, response.headers["SID"]
        initial = await notify.next()
    finally:
        await runner.cleanup()

    assert status == 200
    assert initial.headers["SID"] == sid


async def test_the_gateway_closes_the_connection_beyond_sixty_four(gateway: Gateway) -> None:
    streams = [
        await asyncio.open_connection(
            "127.0.0.1", gateway.port, local_addr=(f"127.0.0.{2 + index // 8}", 0)
        )
        for index in range(MAX_CONNECTIONS + 1)
    ]
    try:
        beyond = await _closed_by_server(streams[-1][0])
        first_reader, first_writer = streams[0]
        first_writer.write(
            f"GET /rootDesc.xml HTTP/1.1\r\nHost: 127.0.0.1:{gateway.port}\r\n\r\n".encode()
        )
        first = await _answer(first_reader)
    finally:
        for _, writer in streams:
            writer.close()

    assert beyond
    assert first == "200"
