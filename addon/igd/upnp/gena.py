"""GENA eventing for one service: SUBSCRIBE, renewal, UNSUBSCRIBE and the NOTIFY fan-out.

Ours rather than async-upnp-client's (notes/ha-ecosystem.md section 2): that one accepts any
CALLBACK (CallStranger, CVE-2020-12695), answers SIDs without `uuid:` and bare TIMEOUTs, never drops
a dead subscriber and lets one failure break the fan-out. Rules: igd2-device.md section 4,
security-notes.md A3 and A16.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from igd.upnp.gena_messages import (
    GenaHeaderError,
    callback_urls,
    following_seq,
    granted_timeout,
    property_set,
)

_LOGGER = logging.getLogger(__name__)

MAX_QUEUED_EVENTS = 16  # per subscriber; each event carries every variable, so older ones can go
_EVENT_HEADERS = {
    # one request per connection, as miniupnpd: control points are often tiny HTTP servers, and
    # hundreds of idle keep-alive connections would be ours to hold
    "CONNECTION": "close",
    "CONTENT-TYPE": 'text/xml; charset="utf-8"',
    "NT": "upnp:event",
    "NTS": "upnp:propchange",
}


@dataclass(frozen=True)
class SubscriptionLimits:
    """Bounds on subscriptions (igd2-device.md 4.1, security-notes.md A3, A16)."""

    per_source: int = 16
    in_all: int = 256
    min_timeout: int = 1800  # UDA 1.1 section 4.1.1: SHOULD be at least 1800 s
    max_timeout: int = 86400
    notify_timeout: float = 5.0  # seconds for one NOTIFY, connect included
    max_failures: int = 5  # consecutive undelivered events before a subscriber is dropped


@dataclass(eq=False)
class _Subscription:
    sid: str
    source: str
    callbacks: tuple[str, ...]
    expires: float
    next_seq: int = 0
    failures: int = 0
    queued: deque[Mapping[str, str]] = field(
        default_factory=lambda: deque(maxlen=MAX_QUEUED_EVENTS)
    )
    sender: asyncio.Task[None] | None = None

    def take_seq(self) -> int:
        seq = self.next_seq
        self.next_seq = following_seq(seq)
        return seq


class EventPublisher:
    """The subscribers of one service's event URL and the events sent to them.

    `current` returns every evented variable of the service with its value as the wire shows it
    (booleans already "0"/"1"). Routes: `routes(path)`, or the two handlers for SUBSCRIBE and
    UNSUBSCRIBE. A `session` shared with other publishers makes the fan-out cheap; without one,
    the publisher opens its own and `close` closes it.
    """

    def __init__(
        self,
        *,
        current: Callable[[], Mapping[str, str]],
        server: str,
        session: aiohttp.ClientSession | None = None,
        limits: SubscriptionLimits = SubscriptionLimits(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._current = current
        self._server = server
        self._session = session
        self._owns_session = session is None
        self._limits = limits
        self._clock = clock
        self._subscriptions: dict[str, _Subscription] = {}

    def routes(self, path: str) -> list[web.RouteDef]:
        """SUBSCRIBE and UNSUBSCRIBE at `path`; any other method gets 405 (miniupnpd)."""
        return [
            web.route("SUBSCRIBE", path, self.handle_subscribe),
            web.route("UNSUBSCRIBE", path, self.handle_unsubscribe),
            web.route("*", path, self._handle_other_method),
        ]

    async def handle_subscribe(self, request: web.Request) -> web.StreamResponse:
        """A new subscription (CALLBACK and NT) or a renewal (SID)."""
        self._drop_expired()
        if "SID" in request.headers:
            return self._renew(request)
        headers = request.headers
        if headers.get("NT") != "upnp:event":
            return self._refuse(request, 412, "NT is not upnp:event")
        source = request.remote or ""
        try:
            callbacks = callback_urls(headers.get("CALLBACK", ""), source)
        except GenaHeaderError as error:
            return self._refuse(request, 412, str(error))
        if not self._has_room_for(source):
            return self._refuse(request, 503, "too many subscriptions")
        timeout = granted_timeout(headers.get("TIMEOUT"), self._limits)
        subscription = _Subscription(
            sid=f"uuid:{uuid.uuid4()}",
            source=source,
            callbacks=callbacks,
            expires=self._clock() + timeout,
        )
        self._subscriptions[subscription.sid] = subscription
        response = self._accepted(subscription, timeout)
        # UDA 1.1 section 4.2.1: the initial event follows the complete response to SUBSCRIBE
        await response.prepare(request)
        await response.write_eof()
        self._enqueue(subscription, dict(self._current()))
        return response

    async def handle_unsubscribe(self, request: web.Request) -> web.StreamResponse:
        """End a subscription."""
        self._drop_expired()
        headers = request.headers
        sid = headers.get("SID")
        if sid is None:
            return self._refuse(request, 412, "UNSUBSCRIBE without SID")
        if "CALLBACK" in headers or "NT" in headers:
            return self._refuse(request, 400, "SID together with CALLBACK or NT")
        subscription = self._subscriptions.get(sid.strip())
        if subscription is None:
            return self._refuse(request, 412, "unknown or expired SID")
        self._drop(subscription)
        return web.Response(headers={"SERVER": self._server})

    def publish(self, changes: Mapping[str, str]) -> None:
        """Send one event to every subscriber, carrying every evented variable.

        wanipconnection2.md 5.5 (Ours): all evented variables in each NOTIFY, `changes` over the
        current values, so a caller that reports a change before `current` sees it loses nothing.
        """
        self._drop_expired()
        values = {**self._current(), **changes}
        for subscription in self._subscriptions.values():
            self._enqueue(subscription, values)

    async def close(self) -> None:
        """Stop sending; close the session if it is ours."""
        senders = [sub.sender for sub in self._subscriptions.values() if sub.sender is not None]
        for subscription in list(self._subscriptions.values()):
            self._drop(subscription)
        for sender in senders:
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _renew(self, request: web.Request) -> web.Response:
        headers = request.headers
        if "CALLBACK" in headers or "NT" in headers:
            return self._refuse(request, 400, "SID together with CALLBACK or NT")
        subscription = self._subscriptions.get(headers["SID"].strip())
        if subscription is None:
            return self._refuse(request, 412, "unknown or expired SID")
        timeout = granted_timeout(headers.get("TIMEOUT"), self._limits)
        subscription.expires = self._clock() + timeout
        return self._accepted(subscription, timeout)

    async def _handle_other_method(self, _request: web.Request) -> web.StreamResponse:
        return web.Response(status=405, headers={"Allow": "SUBSCRIBE, UNSUBSCRIBE"})

    def _accepted(self, subscription: _Subscription, timeout: int) -> web.Response:
        return web.Response(
            headers={
                "SID": subscription.sid,
                "TIMEOUT": f"Second-{timeout}",
                "SERVER": self._server,
            }
        )

    def _refuse(self, request: web.Request, status: int, why: str) -> web.Response:
        _LOGGER.info("%s from %s refused (%d): %s", request.method, request.remote, status, why)
        return web.Response(status=status, headers={"SERVER": self._server})

    def _has_room_for(self, source: str) -> bool:
        if len(self._subscriptions) >= self._limits.in_all:
            return False
        same_source = sum(1 for sub in self._subscriptions.values() if sub.source == source)
        return same_source < self._limits.per_source

    def _drop_expired(self) -> None:
        now = self._clock()
        for subscription in list(self._subscriptions.values()):
            if subscription.expires <= now:
                self._drop(subscription)

    def _drop(self, subscription: _Subscription) -> None:
        self._subscriptions.pop(subscription.sid, None)
        subscription.queued.clear()
        sender = subscription.sender
        if sender is not None and sender is not asyncio.current_task():
            sender.cancel()

    def _enqueue(self, subscription: _Subscription, values: Mapping[str, str]) -> None:
        subscription.queued.append(values)
        if subscription.sender is None or subscription.sender.done():
            subscription.sender = asyncio.create_task(
                self._deliver(subscription), name=f"gena-{subscription.sid}"
            )

    async def _deliver(self, subscription: _Subscription) -> None:
        """Send a subscriber's queued events in order, one at a time."""
        while subscription.queued and subscription.sid in self._subscriptions:
            values = subscription.queued.popleft()
            if await self._notify(subscription, subscription.take_seq(), property_set(values)):
                subscription.failures = 0
                continue
            subscription.failures += 1
            if subscription.failures >= self._limits.max_failures:
                _LOGGER.info("dropping subscriber %s: no event delivered", subscription.source)
                self._drop(subscription)

    async def _notify(self, subscription: _Subscription, seq: int, body: bytes) -> bool:
        """One NOTIFY, trying the callback URLs in order (UDA 1.1 section 4.2.2)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {**_EVENT_HEADERS, "SID": subscription.sid, "SEQ": str(seq)}
        timeout = aiohttp.ClientTimeout(total=self._limits.notify_timeout)
        for url in subscription.callbacks:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError, ValueError):
                async with self._session.request(
                    "NOTIFY",
                    url,
                    headers=headers,
                    data=body,
                    timeout=timeout,
                    allow_redirects=False,  # a redirect would lead away from the subscriber
                ) as response:
                    if 200 <= response.status < 300:
                        return True
                    _LOGGER.debug("NOTIFY to %s answered %d", url, response.status)
        return False
