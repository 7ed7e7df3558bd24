"""keep_alive: Home Assistant renews a mapping before its lease ends, until it deletes it."""

from __future__ import annotations

import asyncio

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.upnp_gateway.client import GatewayClient
from custom_components.upnp_gateway.const import (
    DOMAIN,
    EVENT_LEASE_EXPIRED,
    EVENT_PORT_MAPPING_ADDED,
)

from .conftest import wait_for

SHORT_LEASE = 4  # seconds; renewed at half the lease (the margin is at most half)


async def add_kept_alive(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await hass.services.async_call(
        DOMAIN,
        "add_port_mapping",
        {
            "config_entry_id": entry.entry_id,
            "protocol": "TCP",
            "external_port": 8080,
            "internal_port": 80,
            "lease_duration": SHORT_LEASE,
            "keep_alive": True,
        },
        blocking=True,
    )


async def test_renewed_past_its_lease(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    expired = async_capture_events(hass, EVENT_LEASE_EXPIRED)
    await add_kept_alive(hass, entry)

    await asyncio.sleep(SHORT_LEASE + 1)

    (mapping,) = await lan_client.async_list_port_mappings()
    assert mapping.external_port == 8080
    assert expired == []


async def test_added_again_when_someone_deletes_it(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    await add_kept_alive(hass, entry)
    added = async_capture_events(hass, EVENT_PORT_MAPPING_ADDED)

    await lan_client.async_delete_port_mapping("", 8080, "TCP")

    await wait_for(lambda: added)
    assert [m.external_port for m in await lan_client.async_list_port_mappings()] == [8080]


async def test_ends_when_deleted_through_home_assistant(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    await add_kept_alive(hass, entry)

    await hass.services.async_call(
        DOMAIN,
        "delete_port_mapping",
        {"config_entry_id": entry.entry_id, "external_port": 8080, "protocol": "TCP"},
        blocking=True,
    )
    await asyncio.sleep(1)

    assert await lan_client.async_list_port_mappings() == []
    assert entry.runtime_data.keep_alive.requests == {}


async def test_kept_across_a_reload(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    await add_kept_alive(hass, entry)

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()

    assert list(entry.runtime_data.keep_alive.requests) == ["TCP_8080_*"]
