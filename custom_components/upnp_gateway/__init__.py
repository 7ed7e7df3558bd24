"""UPnP Gateway: see and control the port mappings of any Internet Gateway Device."""

from __future__ import annotations

from homeassistant import config_entries
from homeassistant.const import CONF_URL, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .client import GatewayError, async_connect
from .const import DOMAIN
from .coordinator import GatewayConfigEntry, GatewayCoordinator
from .entity import gateway_device_info
from .eventing import GatewayEventing
from .keepalive import KeepAliveStore
from .services import async_setup_services

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
PLATFORMS = [Platform.BINARY_SENSOR, Platform.SENSOR, Platform.SWITCH]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the service actions (they name the gateway they act on)."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: GatewayConfigEntry) -> bool:
    """Connect to the gateway, subscribe to its events, and set up its entities."""
    location = entry.data[CONF_URL]
    session = async_get_clientsession(hass, verify_ssl=False)
    eventing = GatewayEventing(session, location)
    try:
        event_handler = await eventing.async_start()
    except OSError as error:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key="no_event_listener"
        ) from error
    try:
        client = await async_connect(session, location, event_handler)
    except GatewayError as error:
        await eventing.async_stop()
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="unreachable",
            translation_placeholders={"error": str(error)},
        ) from error
    keep_alive = KeepAliveStore(hass, entry.entry_id)
    await keep_alive.async_load()
    coordinator = GatewayCoordinator(hass, entry, client, eventing, keep_alive)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **gateway_device_info(client)
    )
    coordinator.announcer.device_id = device.id
    # the coordinator's shutdown (timers, subscriptions, notify server) runs at unload
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator
    if not hasattr(config_entries, "OptionsFlowWithReload"):  # HA before 2025.8
        entry.async_on_unload(entry.add_update_listener(_async_reload))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _async_reload(hass: HomeAssistant, entry: GatewayConfigEntry) -> None:
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: GatewayConfigEntry) -> bool:
    """Unload the platforms (the coordinator shuts itself down with the entry)."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: GatewayConfigEntry) -> None:
    """Forget the stored keep-alive requests."""
    await KeepAliveStore(hass, entry.entry_id).async_remove()
