"""What the GENA tests share: a real NOTIFY receiver on loopback and a service's evented values."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import defusedxml.ElementTree as SafeElementTree
from aiohttp import web

EVENT_NAMESPACE = "{urn:schemas-upnp-org:event-1-0}"
EVENT_PATH = "/evt/IPConn"
WAIT = 5.0  # seconds any single wait for an event may take before the test fails


def evented_values() -> dict[str, str]:
    """WANIPConnection:2's five evented variables (wanipconnection2.md 5.5)."""
    return {
        "PossibleConnectionTypes": "IP_Routed",
        "ConnectionStatus": "Connected",
        "ExternalIPAddress": "203.0.113.1",
        "PortMappingNumberOfEntries": "0",
        "SystemUpdateID": "1",
    }


@dataclass(frozen=True)
class ReceivedEvent:
    """One NOTIFY as the subscriber saw it."""

    path: str
    headers: dict[str, str]
    values: dict[str, str]


class NotifyReceiver:
    """A control point's callback server: records NOTIFYs, answers with `status`."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[ReceivedEvent] = asyncio.Queue()
        self.status = 200
        self.stall = False
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        root = SafeElementTree.fromstring(body)
        values = {
            variable.tag: variable.text or ""
            for prop in root.findall(f"{EVENT_NAMESPACE}property")
            for variable in prop
        }
        headers = {name.upper(): value for name, value in request.headers.items()}
        await self.events.put(ReceivedEvent(request.path, headers, values))
        if self.stall:
            await self.release.wait()
        return web.Response(status=self.status)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("NOTIFY", "/{tail:.*}", self.handle)
        return app

    async def next(self) -> ReceivedEvent:
        return await asyncio.wait_for(self.events.get(), WAIT)

    async def nothing_more(self, settle: float = 0.3) -> bool:
        """True when no further event arrives within `settle` seconds."""
        try:
            await asyncio.wait_for(self.events.get(), settle)
        except TimeoutError:
            return True
        return False
