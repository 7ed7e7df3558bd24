"""A gateway's entities: status sensors, and a switch per port mapping as mappings come and go."""

from __future__ import annotations

from datetime import datetime

from homeassistant.const import STATE_OFF, STATE_ON, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.upnp_gateway.client import GatewayClient
from custom_components.upnp_gateway.const import DOMAIN
from custom_components.upnp_gateway.models import PortMapping

from .conftest import entity_id_of, state_of, wait_for

GAME = PortMapping("", 27015, "UDP", 27016, "127.0.0.1", True, "Game server", 3600)


async def test_status_entities(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    udn = lan_client.udn
    wan = entity_id_of(hass, Platform.BINARY_SENSOR, udn, "wan_status")
    assert wan is not None
    assert state_of(hass, wan).state == STATE_ON
    external_ip = entity_id_of(hass, Platform.SENSOR, udn, "external_ip")
    assert state_of(hass, external_ip).state == "127.0.0.1"
    count = entity_id_of(hass, Platform.SENSOR, udn, "port_mappings")
    assert state_of(hass, count).state == "0"
    uptime = entity_id_of(hass, Platform.SENSOR, udn, "uptime")
    since = datetime.fromisoformat(state_of(hass, uptime).state)
    assert since.tzinfo is not None
    traffic = entity_id_of(hass, Platform.SENSOR, udn, "bytes_received")
    assert traffic is not None
    registered = er.async_get(hass).async_get(traffic)
    assert registered is not None
    assert registered.disabled_by is er.RegistryEntryDisabler.INTEGRATION


async def test_device_from_the_description(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    (device,) = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)

    assert device.identifiers == {(DOMAIN, lan_client.udn)}
    assert device.manufacturer == "UPnP Gateway"
    assert device.name == lan_client.device.friendly_name
    assert device.serial_number == lan_client.device.serial_number


async def test_switch_follows_the_mapping(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    """A mapping added by another control point appears; deleted, it is gone from the registry."""
    unique_key = f"mapping_{GAME.key}"
    await lan_client.async_add_port_mapping(GAME)

    switch = await wait_for(lambda: entity_id_of(hass, Platform.SWITCH, lan_client.udn, unique_key))
    state = await wait_for(lambda: hass.states.get(switch))
    assert state.state == STATE_ON
    assert state.name.endswith("UDP port 27015")
    attributes = state.attributes
    assert attributes["protocol"] == "UDP"
    assert attributes["external_port"] == 27015
    assert attributes["internal_port"] == 27016
    assert attributes["internal_client"] == "127.0.0.1"
    assert attributes["remote_host"] == ""
    assert attributes["description"] == "Game server"
    assert datetime.fromisoformat(attributes["lease_expiry"]) > dt_util.utcnow()
    count = entity_id_of(hass, Platform.SENSOR, lan_client.udn, "port_mappings")
    await wait_for(lambda: state_of(hass, count).state == "1")

    await lan_client.async_delete_port_mapping("", 27015, "UDP")

    await wait_for(lambda: entity_id_of(hass, Platform.SWITCH, lan_client.udn, unique_key) is None)
    await hass.async_block_till_done()
    assert hass.states.get(switch) is None


async def test_switch_disables_and_enables(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    await lan_client.async_add_port_mapping(GAME)
    switch = await wait_for(
        lambda: entity_id_of(hass, Platform.SWITCH, lan_client.udn, f"mapping_{GAME.key}")
    )
    await wait_for(lambda: hass.states.get(switch))

    await hass.services.async_call(
        Platform.SWITCH, "turn_off", {"entity_id": switch}, blocking=True
    )

    assert state_of(hass, switch).state == STATE_OFF
    (listed,) = await lan_client.async_list_port_mappings()
    assert listed.enabled is False
    assert listed.internal_client == GAME.internal_client
    assert listed.description == GAME.description
    assert 3500 < listed.lease_duration <= 3600  # the lease that was left, not reset to 0

    await hass.services.async_call(Platform.SWITCH, "turn_on", {"entity_id": switch}, blocking=True)

    assert state_of(hass, switch).state == STATE_ON
    (listed,) = await lan_client.async_list_port_mappings()
    assert listed.enabled is True


async def test_stale_switch_removed_at_setup(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    """A mapping that ended while Home Assistant was stopped loses its entity at the next start."""
    await lan_client.async_add_port_mapping(GAME)
    unique_key = f"mapping_{GAME.key}"
    await wait_for(lambda: entity_id_of(hass, Platform.SWITCH, lan_client.udn, unique_key))
    assert await hass.config_entries.async_unload(entry.entry_id)
    await lan_client.async_delete_port_mapping("", GAME.external_port, GAME.protocol)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entity_id_of(hass, Platform.SWITCH, lan_client.udn, unique_key) is None
