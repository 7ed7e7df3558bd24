"""GENA eventing: a notify server on Home Assistant's address toward the gateway.

The server listens on the local address the host uses to reach the gateway (so the gateway can
call back), and the `IgdDevice` profile subscribes its services through it and renews them.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import aiohttp
from async_upnp_client.aiohttp import AiohttpNotifyServer
from async_upnp_client.exceptions import UpnpError
from async_upnp_client.utils import async_get_local_ip

from .client import requester_for
from .const import LOGGER

if TYPE_CHECKING:
    from async_upnp_client.event_handler import UpnpEventHandler
    from async_upnp_client.profiles.igd import IgdDevice


class GatewayEventing:
    """One notify server and the subscriptions of one gateway."""

    def __init__(self, session: aiohttp.ClientSession, location: str) -> None:
        self._session = session
        self._location = location
        self._server: AiohttpNotifyServer | None = None
        self.local_ip = ""

    async def async_start(self) -> UpnpEventHandler:
        """Start the notify server; its event handler is what the profile subscribes with."""
        _family, self.local_ip = await async_get_local_ip(self._location)
        self._server = AiohttpNotifyServer(requester_for(self._session), (self.local_ip, 0))
        await self._server.async_start_server()
        LOGGER.debug("Listening for events at %s", self._server.callback_url)
        return self._server.event_handler

    async def async_subscribe(self, igd: IgdDevice) -> bool:
        """(Re)subscribe from scratch; False when the gateway does not event (then we poll)."""
        with contextlib.suppress(UpnpError, aiohttp.ClientError, TimeoutError):
            await igd.async_unsubscribe_services()
        try:
            await igd.async_subscribe_services(auto_resubscribe=True)
        except (UpnpError, aiohttp.ClientError, TimeoutError) as error:
            LOGGER.info("No events from %s (%r); polling instead", self._location, error)
            return False
        return True

    async def async_renew(self, igd: IgdDevice) -> bool:
        """Renew the subscriptions now; False when the gateway no longer knows them (restarted)."""
        try:
            await igd.async_subscribe_services(auto_resubscribe=True)
        except (UpnpError, aiohttp.ClientError, TimeoutError) as error:
            LOGGER.debug("Renewing the subscriptions to %s failed: %r", self._location, error)
            return False
        return True

    async def async_stop(self, igd: IgdDevice | None = None) -> None:
        """Unsubscribe (as far as the gateway answers) and stop the server."""
        if igd is not None:
            with contextlib.suppress(UpnpError, aiohttp.ClientError, TimeoutError):
                await igd.async_unsubscribe_services()
        if self._server is not None:
            await self._server.async_stop_server()
            self._server = None
