"""An IGD:1 gateway: the mapping list from GetGenericPortMappingEntry, no IGD:2 actions."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from homeassistant.const import CONF_URL, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.upnp_gateway.client import GatewayClient, async_connect
from custom_components.upnp_gateway.const import DOMAIN
from custom_components.upnp_gateway.models import PortMapping

from .conftest import RunningGateway, entity_id_of, state_of, wait_for


@pytest.fixture
async def v1_client(gateway_v1: RunningGateway) -> AsyncIterator[GatewayClient]:
    async with aiohttp.ClientSession() as session:
        yield await async_connect(session, gateway_v1.url)


@pytest.fixture
async def v1_entry(
    hass: HomeAssistant, gateway_v1: RunningGateway, v1_client: GatewayClient
) -> MockConfigEntry:
    entry = MockConfigEntry(domain=DOMAIN, unique_id=v1_client.udn, data={CONF_URL: gateway_v1.url})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def test_v1_gateway_lists_by_generic_entries(
    hass: HomeAssistant, v1_entry: MockConfigEntry, v1_client: GatewayClient
) -> None:
    assert v1_client.igd_version == 1
    assert not v1_client.supports("GetListOfPortMappings")
    for port in (8080, 8081, 8082):
        await v1_client.async_add_port_mapping(
            PortMapping("", port, "TCP", 80, "127.0.0.1", True, f"web {port}", 3600)
        )

    count = entity_id_of(hass, Platform.SENSOR, v1_client.udn, "port_mappings")
    await wait_for(lambda: state_of(hass, count).state == "3")
    mappings = v1_entry.runtime_data.data.mappings.values()
    assert {tracked.mapping.external_port for tracked in mappings} == {8080, 8081, 8082}


@pytest.mark.parametrize(
    ("service", "fields", "action"),
    [
        ("add_any_port_mapping", {"external_port": 0, "internal_port": 80}, "AddAnyPortMapping"),
        (
            "delete_port_mapping_range",
            {"start_port": 1, "end_port": 2},
            "DeletePortMappingRange",
        ),
    ],
)
async def test_v2_actions_unsupported(
    hass: HomeAssistant,
    v1_entry: MockConfigEntry,
    service: str,
    fields: dict[str, int],
    action: str,
) -> None:
    with pytest.raises(HomeAssistantError) as unsupported:
        await hass.services.async_call(
            DOMAIN,
            service,
            {"config_entry_id": v1_entry.entry_id, "protocol": "TCP", **fields},
            blocking=True,
            return_response=service == "add_any_port_mapping",
        )

    assert unsupported.value.translation_key == "action_unsupported"
    assert unsupported.value.translation_placeholders == {"action": action}
