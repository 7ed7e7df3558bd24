"""The HTTP server's connection limits: a deadline per connection, a share per source, a cap in all.

aiohttp has no timeout for reading a request's head and no cap on connections, so one LAN host
could hold connections open forever at a byte a second (slowloris) or open thousands of them
(security-notes.md A9). Here every connection lives at most CONNECTION_TIMEOUT from accept to
the end of its answer (one request per connection, so that covers reading, handling and
answering); a source is served on at most MAX_SERVED_PER_SOURCE connections at once and its
further connections wait, unread, in order: a burst of one client's connections (a benchmark,
a control point opening many) is all answered, only not all at once; and a connection beyond
MAX_CONNECTIONS open in all is closed at once.

The limits sit between the listening socket and aiohttp: a small protocol owns the accounting
and hands the connection to aiohttp's protocol only when admitted.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from igd.upnp.refusal_log import RefusalLog

LOG = logging.getLogger(__name__)

# security-notes.md A9
CONNECTION_TIMEOUT = 10.0  # seconds, accept to the end of the answer
MAX_CONNECTIONS = 64  # open at once, served and waiting, all sources
MAX_SERVED_PER_SOURCE = 8

type ProtocolFactory = Callable[[], asyncio.Protocol]


@dataclass(slots=True)
class _SourceShare:
    """One source's connections: how many are served, and those waiting their turn."""

    served: int = 0
    waiting: deque[_LimitedConnection] = field(default_factory=deque)


class ConnectionLimits:
    """Admits, delays or refuses the connections of the listening sockets it wraps."""

    def __init__(
        self,
        *,
        timeout: float = CONNECTION_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        max_served_per_source: int = MAX_SERVED_PER_SOURCE,
    ) -> None:
        self._timeout = timeout
        self._max_connections = max_connections
        self._max_served = max_served_per_source
        self._open = 0
        self._sources: dict[str, _SourceShare] = {}
        self._refusals = RefusalLog(LOG)
        self._closed = False

    @property
    def open_connections(self) -> int:
        """Connections counted now, served and waiting."""
        return self._open

    @property
    def busy_sources(self) -> int:
        """Sources with a connection served or waiting."""
        return len(self._sources)

    def protocol_factory(self, serve: ProtocolFactory) -> ProtocolFactory:
        """A factory for loop.create_server: `serve`'s protocols, each within the limits."""
        return lambda: _LimitedConnection(self, serve)

    def close(self) -> None:
        """Admit nothing more: close every waiting connection, refuse new ones.

        Served connections are left to their server's own shutdown (and their deadline).
        """
        self._closed = True
        for share in list(self._sources.values()):
            for connection in list(share.waiting):
                self._drop(connection)

    def _opened(self, connection: _LimitedConnection) -> None:
        source, transport = connection.source, connection.transport
        if self._closed or self._open >= self._max_connections:
            self._refusals.refused(
                source, "HTTP from %s refused: %d connections open already", source, self._open
            )
            transport.abort()
            return
        self._open += 1
        connection.deadline = asyncio.get_running_loop().call_later(
            self._timeout, self._drop, connection
        )
        share = self._sources.get(source)
        if share is None:
            share = self._sources[source] = _SourceShare()
        if share.served < self._max_served:
            share.served += 1
            connection.admit()
        else:
            transport.pause_reading()  # nothing read, nothing buffered while it waits
            share.waiting.append(connection)

    def _ended(self, connection: _LimitedConnection) -> None:
        """A counted connection is gone: its place goes to the source's next waiting one."""
        self._open -= 1
        share = self._sources[connection.source]
        if connection.admitted:
            share.served -= 1
            if share.waiting:
                share.served += 1
                following = share.waiting.popleft()
                following.admit()
                following.transport.resume_reading()
        elif connection in share.waiting:  # closed by another hand (asyncio's close_clients)
            share.waiting.remove(connection)
        if not share.served and not share.waiting:
            del self._sources[connection.source]

    def _drop(self, connection: _LimitedConnection) -> None:
        """Close at once, whatever it is doing (its deadline passed, or the server stops)."""
        share = self._sources.get(connection.source)
        if share is not None and connection in share.waiting:
            share.waiting.remove(connection)  # out of turn now, so never admitted
        connection.transport.abort()


class _LimitedConnection(asyncio.Protocol):
    """One accepted connection, passed on to the served protocol once admitted."""

    __slots__ = ("_limits", "_serve", "_served", "deadline", "source", "transport")

    def __init__(self, limits: ConnectionLimits, serve: ProtocolFactory) -> None:
        self._limits = limits
        self._serve = serve
        self._served: asyncio.Protocol | None = None
        self.deadline: asyncio.TimerHandle | None = None  # set once counted
        self.source = ""
        self.transport: asyncio.Transport

    @property
    def admitted(self) -> bool:
        return self._served is not None

    def admit(self) -> None:
        self._served = self._serve()
        self._served.connection_made(self.transport)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.source = str(peer[0]) if peer else ""
        self._limits._opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._served is not None:
            self._served.connection_lost(exc)
        if self.deadline is not None:  # counted
            self.deadline.cancel()
            self._limits._ended(self)

    def data_received(self, data: bytes) -> None:
        if self._served is not None:
            self._served.data_received(data)

    def eof_received(self) -> bool | None:
        return self._served.eof_received() if self._served is not None else None

    def pause_writing(self) -> None:
        if self._served is not None:
            self._served.pause_writing()

    def resume_writing(self) -> None:
        if self._served is not None:
            self._served.resume_writing()
