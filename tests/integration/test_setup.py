"""Home Assistant loads the integration (run in both environments: current and minimum)."""

from __future__ import annotations

from homeassistant.const import __version__ as ha_version
from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_custom_components
from homeassistant.setup import async_setup_component

from custom_components.upnp_gateway.const import DOMAIN


async def test_setup_without_entries(hass: HomeAssistant, socket_enabled: None) -> None:
    """Setting up pulls in `ssdp` and `network`, which open their sockets for real."""
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()

    assert DOMAIN in hass.config.components
    assert hass.config_entries.async_entries(DOMAIN) == []


async def test_loaded_as_custom_integration(hass: HomeAssistant) -> None:
    custom = await async_get_custom_components(hass)

    assert custom[DOMAIN].name == "UPnP Gateway"
    assert str(custom[DOMAIN].version) == "0.1.0"
    assert ha_version.startswith(("2025.4.", "2026.10."))
