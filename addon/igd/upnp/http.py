"""The gateway's HTTP server: descriptions, control and event URLs, on LAN addresses only.

Every request passes one guard before any handler runs (security-notes.md 4): it must come from
a host on the LAN of the address it reached (A1), name that very address and port in Host (DNS
rebinding, A7), and stay within the size limits (A9). Each connection serves one request, as
miniupnpd does, so a slow or greedy client holds at most one connection per request.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, ip_address
from typing import TYPE_CHECKING

from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from igd.core.records import Caller
from igd.upnp.clients import serves_v1_view
from igd.upnp.connection_limits import ConnectionLimits
from igd.upnp.refusal_log import RefusalLog
from igd.upnp.soap import CONTENT_TYPE_XML, MAX_BODY_BYTES, control_handler

if TYPE_CHECKING:
    from aiohttp.abc import AbstractStreamWriter
    from aiohttp.http_parser import RawRequestMessage
    from aiohttp.streams import StreamReader
    from aiohttp.typedefs import Handler, Middleware
    from aiohttp.web_protocol import RequestHandler

    from igd.upnp.devices import GatewayDevices
    from igd.upnp.gena import EventPublisher
    from igd.upnp.lan_interface import LanInterface

LOG = logging.getLogger(__name__)

ROOT_DESCRIPTION_PATH = "/rootDesc.xml"
# security-notes.md A9: request line and each header line within 8 KiB, at most 64 header lines
MAX_LINE_BYTES = 8190
MAX_HEADER_LINES = 64
LISTEN_BACKLOG = 128  # what asyncio's create_server uses
BAD_HOST = 400  # RFC 9110 7.2: a Host that is missing or not ours is a bad request
# addresses remembered, parsed or judged, so that a busy control point costs no parsing per call;
# bounded, as any LAN host can connect from many source addresses
KNOWN_PEERS = 1024
SERVER_HEADER = web.AppKey("server_header", str)


@dataclass(frozen=True, slots=True)
class CallerPolicy:
    """Who is a trusted control point: everyone without secure mode, else the listed addresses."""

    secure_mode: bool
    trusted: frozenset[IPv4Address]

    def caller(self, request: web.Request) -> Caller:
        """The core's view of the request's sender (the guard has checked it is a LAN host)."""
        return _caller(self, request.remote)


@functools.lru_cache(maxsize=KNOWN_PEERS)
def _caller(policy: CallerPolicy, remote: str | None) -> Caller:
    address = _peer_ipv4(remote)
    authorized = not policy.secure_mode or (address is not None and address in policy.trusted)
    return Caller(address=str(address or ""), authorized=authorized)


def _peer_ipv4(remote: str | None) -> IPv4Address | None:
    try:
        parsed = ip_address(remote or "")
    except ValueError:
        return None
    if isinstance(parsed, IPv4Address):
        return parsed
    return parsed.ipv4_mapped


def gateway_routes(
    devices: GatewayDevices,
    publishers: Mapping[str, EventPublisher],
    policy: CallerPolicy,
    *,
    igd_version: int,
) -> list[web.RouteDef]:
    """Every URL of the device trees: documents (GET), control (POST), events (GENA)."""
    routes = [
        web.route("*", path, control_handler(service, policy.caller))
        for path, service in devices.control_endpoints().items()
    ]
    for path, publisher in publishers.items():
        routes += publisher.routes(path)

    async def document(request: web.Request) -> web.Response:
        v1_view = serves_v1_view(request.headers.get(hdrs.USER_AGENT), igd_version=igd_version)
        body = devices.document(request.path, v1_view=v1_view)
        if body is None:  # not reached: only the documents' own paths are routed here
            raise web.HTTPNotFound
        return web.Response(body=body, headers={hdrs.CONTENT_TYPE: CONTENT_TYPE_XML})

    trees = (devices.igd2, devices.igd1, devices.igd2_v1_view)
    paths = [
        path
        for tree in trees
        for path in (tree.description_path, *(service.scpd_url for service in tree.services))
    ]
    routes += [web.get(path, document) for path in paths]
    return routes


class _MalformedRequests(logging.Filter):
    """aiohttp's report of a request it cannot parse: a refusal line, not an ERROR traceback.

    aiohttp answers such a request 400 itself and logs it with a traceback at ERROR; any LAN
    host could fill the log that way (security-notes.md A10), so it becomes one rate-limited
    line. Other errors of aiohttp's (an exception in a handler) pass unchanged.
    """

    def __init__(self) -> None:
        super().__init__()
        self._refusals = RefusalLog(LOG)

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, HttpProcessingError):
            return True
        source = str(record.args[0]) if isinstance(record.args, tuple) and record.args else ""
        self._refusals.refused(
            source,
            "HTTP from %s refused: malformed request (%d %s)",
            source,
            error.code,
            type(error).__name__,
        )
        return False


# the logger aiohttp's server reports to (RequestHandler's `logger`)
_SERVER_LOG = LOG.getChild("server")
_SERVER_LOG.addFilter(_MalformedRequests())


def _guard(lans: Sequence[LanInterface]) -> Middleware:
    by_address = {lan.address: lan for lan in lans}
    refusals = RefusalLog(LOG)
    served: dict[tuple[str, str], str | None] = {}

    def lan_address(local: str, remote: str) -> str | None:
        """Our LAN address that `local` names, if `remote` is a host of that LAN; else None."""
        key = (local, remote)
        if key not in served:
            address = _peer_ipv4(local)
            lan = by_address.get(address) if address is not None else None
            if len(served) >= KNOWN_PEERS:
                served.clear()
            served[key] = str(address) if lan is not None and lan.serves(remote) else None
        return served[key]

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        transport = request.transport
        sockname: tuple[str, int] = transport.get_extra_info("sockname") if transport else ("", 0)
        local = lan_address(sockname[0], request.remote or "")
        if local is None:
            refusals.refused(
                request.remote or "", "HTTP from %s refused: not a host of this LAN", request.remote
            )
            return web.Response(status=403)
        # DNS rebinding (A7): a browser tricked into calling us sends the attacker's host name
        host = request.headers.get(hdrs.HOST, "")
        port = sockname[1]
        if host != f"{local}:{port}" and not (port == 80 and host == local):
            refusals.refused(
                request.remote or "",
                "HTTP from %s refused: Host %r is not %s:%d",
                request.remote,
                host,
                local,
                port,
            )
            return web.Response(status=BAD_HOST)
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return web.Response(status=413)
        return await handler(request)

    return guard


def build_app(
    routes: Iterable[web.AbstractRouteDef], *, lans: Sequence[LanInterface], server: str
) -> web.Application:
    """The application: `routes` behind the guard for requests reaching `lans`' addresses.

    `server` is the SERVER header of every answer (UDA 1.1 form, ssdp_messages.server_header);
    HttpServer puts it on.
    """
    app = web.Application(middlewares=[_guard(lans)], client_max_size=MAX_BODY_BYTES)
    app.add_routes(list(routes))
    app[SERVER_HEADER] = server
    return app


type _RequestFactory = Callable[
    [RawRequestMessage, StreamReader, RequestHandler, AbstractStreamWriter, asyncio.Task[None]],
    web.BaseRequest,
]


def _stamping_request_factory(app: web.Application) -> _RequestFactory:
    """aiohttp's request factory for `app` (as Application._make_request), stamping each answer.

    aiohttp refuses a request it cannot parse (a bad request line, headers over the limits) with
    an answer of its own that neither a middleware nor an on_response_prepare hook sees; every
    answer passes through its request's prepare hook, so the stamp goes there: our SERVER
    header, and one request per connection (A9).
    """
    server_header = app[SERVER_HEADER]

    class GatewayRequest(web.Request):
        async def _prepare_hook(self, response: web.StreamResponse) -> None:
            response.headers[hdrs.SERVER] = server_header
            # the header too, as aiohttp wrote its own already
            response.headers[hdrs.CONNECTION] = "close"
            response.force_close()
            await super()._prepare_hook(response)

    def make(
        message: RawRequestMessage,
        payload: StreamReader,
        protocol: RequestHandler,
        writer: AbstractStreamWriter,
        task: asyncio.Task[None],
    ) -> web.BaseRequest:
        return GatewayRequest(
            message,
            payload,
            protocol,
            writer,
            task,
            task.get_loop(),
            client_max_size=MAX_BODY_BYTES,
        )

    return make


class HttpServer:
    """The application bound to each LAN address (never the wildcard), one port for all.

    Each listening socket is also bound to its LAN interface (SO_BINDTODEVICE), so a connection
    that arrives on another interface, the WAN above all, is refused by the kernel before any
    byte is read, even when it is addressed to the LAN address (security-notes.md A1).
    Every connection passes `limits` (A9: a deadline, a share per source, a cap in all) before
    aiohttp sees it.
    """

    def __init__(
        self,
        app: web.Application,
        *,
        lans: Sequence[LanInterface],
        port: int,
        limits: ConnectionLimits | None = None,
    ) -> None:
        self._limits = limits or ConnectionLimits()
        self._listeners: list[asyncio.Server] = []
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handler_cancellation=True,
            max_line_size=MAX_LINE_BYTES,
            max_field_size=MAX_LINE_BYTES,
            max_headers=MAX_HEADER_LINES,
            logger=_SERVER_LOG,
        )
        self._lans = tuple(lans)
        self._port = port

    @property
    def port(self) -> int:
        """The port served on (the one the kernel chose when asked for 0)."""
        return self._port

    async def start(self) -> None:
        """Bind every LAN address; OSError if one cannot be bound (nothing stays bound then)."""
        await self._runner.setup()
        server = self._runner.server
        assert server is not None  # made by setup()
        server.request_factory = _stamping_request_factory(self._runner.app)
        # our own listeners rather than aiohttp's sites: every connection passes the limits
        serve = self._limits.protocol_factory(server)
        loop = asyncio.get_running_loop()
        try:
            for lan in self._lans:
                listener = _lan_listener(lan, self._port)
                self._port = listener.getsockname()[1]  # the first chose it when asked for 0
                self._listeners.append(
                    await loop.create_server(serve, sock=listener, backlog=LISTEN_BACKLOG)
                )
        except OSError:
            await self.stop()
            raise

    async def stop(self) -> None:
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()
        self._limits.close()
        await self._runner.cleanup()


def _lan_listener(lan: LanInterface, port: int) -> socket.socket:
    """A listening TCP socket on the LAN's address, taking only what arrives on its interface."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, lan.name.encode())
        except PermissionError:  # the guard's source check still refuses non-LAN peers
            LOG.debug("SO_BINDTODEVICE refused on %s; relying on the source check", lan.name)
        listener.bind((str(lan.address), port))
        listener.listen(LISTEN_BACKLOG)
        listener.setblocking(False)
    except OSError:
        listener.close()
        raise
    return listener
