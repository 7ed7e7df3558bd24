"""One gateway's live state: polled counters, evented status and mapping list, leases.

The mapping list is read again when the gateway events SystemUpdateID or
PortMappingNumberOfEntries (WANIPConnection:2 2.3.1, 2.3.3); it is polled only when the gateway
does not event. Each poll renews the subscriptions (UDA 4.1.3 allows renewing at any time): a
gateway that restarted between two polls refuses the renewal, having forgotten them, so they
are made anew and the table read again, as after a time the gateway did not answer.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .announcements import Announcer
from .client import GatewayClient, GatewayError
from .const import CONF_LEASE_WARNING, DEFAULT_LEASE_WARNING, DOMAIN, LOGGER, SCAN_INTERVAL
from .keepalive import KeepAliveStore
from .leases import LeaseWatch
from .models import GatewayData, PortMapping, TrackedMapping

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from async_upnp_client.client import UpnpService, UpnpStateVariable

    from .eventing import GatewayEventing

type GatewayConfigEntry = ConfigEntry[GatewayCoordinator]

# Evented variables that say the table changed (WANIPConnection:2 2.3.1, 2.3.3)
TABLE_VARIABLES: Final = frozenset({"SystemUpdateID", "PortMappingNumberOfEntries"})
EXPIRY_JITTER: Final = timedelta(seconds=2)  # re-reads closer than this keep the earlier expiry


class GatewayCoordinator(DataUpdateCoordinator[GatewayData]):
    """Polls status and counters, follows events, and carries out mapping changes."""

    config_entry: GatewayConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: GatewayConfigEntry,
        client: GatewayClient,
        eventing: GatewayEventing,
        keep_alive: KeepAliveStore,
    ) -> None:
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=client.device.friendly_name,
            update_interval=SCAN_INTERVAL,
        )
        self.client = client
        self.eventing = eventing
        self.keep_alive = keep_alive
        self.announcer = Announcer(hass, entry.entry_id)
        self.subscribed = False
        self._resubscribe = True
        self._table_lock = asyncio.Lock()
        self._renewal_lock = asyncio.Lock()  # a keep-alive renewal never crosses a delete
        self._table_stale = False
        warning = entry.options.get(CONF_LEASE_WARNING, DEFAULT_LEASE_WARNING)
        self.leases = LeaseWatch(
            hass,
            entry,
            warn_before=timedelta(seconds=warning),
            warn=self.announcer.lease_expiring,
            renew=self._async_renew,
        )
        client.igd.on_event = self._on_gateway_event

    async def _async_update_data(self) -> GatewayData:
        old: GatewayData | None = self.data
        try:
            if self.subscribed and not self._resubscribe:
                self._resubscribe = not await self.eventing.async_renew(self.client.igd)
            if self._resubscribe:
                self.subscribed = await self.eventing.async_subscribe(self.client.igd)
            status = await self.client.async_status(force_poll=not self.subscribed)
            if old is None or not self.subscribed or self._resubscribe:
                mappings = self._track(await self.client.async_list_port_mappings())
            else:
                mappings = old.mappings
        except GatewayError as error:
            self._resubscribe = True
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="unreachable",
                translation_placeholders={"error": str(error)},
            ) from error
        self._resubscribe = False
        new = GatewayData(status=status, mappings=mappings)
        self._after_change(old, new)
        return new

    @callback
    def _after_change(self, old: GatewayData | None, new: GatewayData) -> None:
        self.announcer.changes(old, new, dt_util.utcnow())
        self.leases.update(new.mappings, self.keep_alive.requests)

    def _track(self, mappings: list[PortMapping]) -> dict[str, TrackedMapping]:
        """Mappings by key, with their lease's end (kept from the last read when close)."""
        now = dt_util.utcnow()
        current: GatewayData | None = self.data
        known = current.mappings if current is not None else {}
        tracked = {}
        for mapping in mappings:
            expiry = now + timedelta(seconds=mapping.lease_duration)
            previous = known.get(mapping.key)
            if (
                previous is not None
                and previous.lease_expiry is not None
                and abs(previous.lease_expiry - expiry) < EXPIRY_JITTER
            ):
                expiry = previous.lease_expiry
            tracked[mapping.key] = TrackedMapping(
                mapping=mapping, lease_expiry=expiry if mapping.lease_duration else None
            )
        return tracked

    @callback
    def _on_gateway_event(
        self, service: UpnpService, variables: Sequence[UpnpStateVariable[Any]]
    ) -> None:
        if not variables:  # the profile could not renew a subscription
            self._resubscribe = True
            self.config_entry.async_create_background_task(
                self.hass, self.async_request_refresh(), "upnp_gateway resubscribe"
            )
            return
        names = {variable.name for variable in variables}
        if names & TABLE_VARIABLES:
            self._request_table_refresh()
        current: GatewayData | None = self.data
        if current is None or not names & {"ExternalIPAddress", "ConnectionStatus"}:
            return
        status = replace(
            current.status,
            external_ip=self.client.igd.external_ip_address,
            connection_status=self.client.igd.connection_status,
        )
        new = replace(current, status=status)
        self._after_change(current, new)
        self.async_set_updated_data(new)

    @callback
    def _request_table_refresh(self) -> None:
        """Read the table once more; events arriving meanwhile share one read after it."""
        if self._table_stale:
            return
        self._table_stale = True
        self.config_entry.async_create_background_task(
            self.hass, self._async_event_refresh(), "upnp_gateway table refresh"
        )

    async def _async_event_refresh(self) -> None:
        try:
            await self.async_refresh_mappings()
        except GatewayError as error:
            LOGGER.debug("Reading the mapping list after an event failed: %s", error)
            await self.async_request_refresh()

    async def async_refresh_mappings(self) -> None:
        """Read the mapping list now and publish what changed."""
        async with self._table_lock:
            self._table_stale = False
            mappings = self._track(await self.client.async_list_port_mappings())
            current: GatewayData | None = self.data
            if current is None:  # events before the first refresh: it reads the table itself
                return
            new = replace(current, mappings=mappings)
            self._after_change(current, new)
            self.async_set_updated_data(new)

    # ---- changes Home Assistant makes (services, switches, keep-alive) --------------------

    async def async_add(self, mapping: PortMapping, *, keep_alive: bool) -> None:
        """AddPortMapping, then remember or release its keep-alive, then read the table."""
        await self.client.async_add_port_mapping(mapping)
        await self.async_refresh_mappings()
        await self._async_keep(mapping, keep_alive=keep_alive)

    async def async_add_any(self, mapping: PortMapping, *, keep_alive: bool) -> int:
        """AddAnyPortMapping; the reserved external port."""
        port = await self.client.async_add_any_port_mapping(mapping)
        await self.async_refresh_mappings()
        await self._async_keep(replace(mapping, external_port=port), keep_alive=keep_alive)
        return port

    async def async_delete(self, remote_host: str, external_port: int, protocol: str) -> None:
        """End its keep-alive, then DeletePortMapping (a renewal cannot bring it back)."""
        key = PortMapping(remote_host, external_port, protocol, 0, "", True, "", 0).key
        async with self._renewal_lock:
            await self.keep_alive.async_release({key})
            await self.client.async_delete_port_mapping(remote_host, external_port, protocol)
        await self.async_refresh_mappings()

    async def async_delete_range(
        self, start_port: int, end_port: int, protocol: str, *, manage: bool
    ) -> None:
        """End the keep-alive of what it covers, then DeletePortMappingRange."""
        covered = {
            key
            for key, wanted in self.keep_alive.requests.items()
            if wanted.protocol == protocol and start_port <= wanted.external_port <= end_port
        }
        async with self._renewal_lock:
            await self.keep_alive.async_release(covered)
            await self.client.async_delete_port_mapping_range(
                start_port, end_port, protocol, manage=manage
            )
        await self.async_refresh_mappings()

    async def async_set_enabled(self, key: str, enabled: bool) -> None:
        """Add the mapping again with NewEnabled changed (its lease as kept alive or as left)."""
        current = self.data.mappings[key].mapping
        wanted = self.keep_alive.requests.get(key)
        lease = wanted.lease_duration if wanted is not None else current.lease_duration
        changed = replace(current, enabled=enabled, lease_duration=lease)
        await self.client.async_add_port_mapping(changed)
        if wanted is not None:
            await self.keep_alive.async_keep(replace(wanted, enabled=enabled))
        await self.async_refresh_mappings()

    async def _async_keep(self, mapping: PortMapping, *, keep_alive: bool) -> None:
        """Remember the request once the table shows the mapping (else it looks gone)."""
        if keep_alive:
            await self.keep_alive.async_keep(mapping)
        else:
            await self.keep_alive.async_release({mapping.key})
        self.leases.update(self.data.mappings, self.keep_alive.requests)

    async def _async_renew(self, wanted: PortMapping) -> None:
        async with self._renewal_lock:
            if self.keep_alive.requests.get(wanted.key) != wanted:
                return  # released or changed while this renewal waited
            LOGGER.debug("Renewing %s", wanted.key)
            await self.client.async_add_port_mapping(wanted)
        await self.async_refresh_mappings()

    async def async_shutdown(self) -> None:
        """Stop timers, subscriptions and the notify server."""
        await super().async_shutdown()
        self.leases.stop()
        await self.eventing.async_stop(self.client.igd)
