"""The gateway goes away and comes back: unavailable meanwhile, subscribed again after."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.upnp_gateway.client import async_connect
from custom_components.upnp_gateway.models import PortMapping

from .conftest import RunningGateway, entity_id_of, state_of, wait_for

WEB = PortMapping("", 8080, "TCP", 80, "127.0.0.1", True, "web", 3600)


async def test_gateway_restart(
    hass: HomeAssistant, entry: MockConfigEntry, gateway: RunningGateway
) -> None:
    coordinator = entry.runtime_data
    udn = coordinator.client.udn
    wan = entity_id_of(hass, Platform.BINARY_SENSOR, udn, "wan_status")

    await gateway.stop()
    await coordinator.async_refresh()
    assert state_of(hass, wan).state == STATE_UNAVAILABLE

    await gateway.start()
    await coordinator.async_refresh()
    assert state_of(hass, wan).state == "on"

    # A change made now reaches Home Assistant by an event: the subscription was made anew.
    lan = await async_connect(async_get_clientsession(hass), gateway.url)
    await lan.async_add_port_mapping(WEB)
    await wait_for(lambda: entity_id_of(hass, Platform.SWITCH, udn, f"mapping_{WEB.key}"))


async def test_not_ready_while_the_gateway_is_down(
    hass: HomeAssistant, gateway: RunningGateway
) -> None:
    entry = MockConfigEntry(domain="upnp_gateway", data={"url": gateway.url}, unique_id="x")
    entry.add_to_hass(hass)
    await gateway.stop()

    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.SETUP_RETRY
