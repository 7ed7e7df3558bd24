"""The four service actions against the real gateway: what reaches it, and its refusals."""

from __future__ import annotations

from typing import Any

import pytest
import voluptuous as vol
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.upnp_gateway.client import GatewayClient
from custom_components.upnp_gateway.const import DOMAIN
from custom_components.upnp_gateway.models import PortMapping

from .conftest import entity_id_of

ONE_DAY = 86400  # the lease the IgdDevice profile would send as 0 (timedelta.seconds)


def add_request(entry: MockConfigEntry, **fields: Any) -> dict[str, Any]:
    return {"config_entry_id": entry.entry_id, "protocol": "TCP", "internal_port": 8080, **fields}


async def test_add_port_mapping_sends_every_argument(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    await hass.services.async_call(
        DOMAIN,
        "add_port_mapping",
        add_request(
            entry,
            external_port=8443,
            protocol="udp",
            internal_port=443,
            internal_client="127.0.0.2",
            remote_host="203.0.113.7",
            enabled=False,
            description="Web <server> & co",
            lease_duration=ONE_DAY,
        ),
        blocking=True,
    )

    (mapping,) = await lan_client.async_list_port_mappings()
    assert mapping.remote_host == "203.0.113.7"
    assert mapping.external_port == 8443
    assert mapping.protocol == "UDP"
    assert mapping.internal_port == 443
    assert mapping.internal_client == "127.0.0.2"
    assert mapping.enabled is False
    assert mapping.description == "Web <server> & co"
    assert ONE_DAY - 60 < mapping.lease_duration <= ONE_DAY
    # and the entity is there when the call returns
    assert entity_id_of(hass, Platform.SWITCH, lan_client.udn, f"mapping_{mapping.key}")


async def test_add_port_mapping_defaults(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    """Wildcard remote host, Home Assistant's own address, enabled, one hour."""
    await hass.services.async_call(
        DOMAIN, "add_port_mapping", add_request(entry, external_port=8080), blocking=True
    )

    (mapping,) = await lan_client.async_list_port_mappings()
    assert mapping.remote_host == ""
    assert mapping.internal_client == "127.0.0.1"
    assert mapping.enabled is True
    assert mapping.description == "Home Assistant"
    assert 3500 < mapping.lease_duration <= 3600


async def test_add_port_mapping_refused(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    await lan_client.async_add_port_mapping(
        PortMapping("", 8080, "TCP", 80, "127.0.0.3", True, "theirs", 3600)
    )

    with pytest.raises(HomeAssistantError) as refused:
        await hass.services.async_call(
            DOMAIN,
            "add_port_mapping",
            add_request(entry, external_port=8080, internal_client="127.0.0.2"),
            blocking=True,
        )

    assert refused.value.translation_key == "action_refused"
    assert refused.value.translation_placeholders == {
        "action": "AddPortMapping",
        "code": "718",
        "name": "ConflictInMappingEntry",
    }


async def test_add_any_port_mapping_returns_the_port(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    await lan_client.async_add_port_mapping(
        PortMapping("", 9000, "TCP", 80, "127.0.0.3", True, "theirs", 3600)
    )

    response = await hass.services.async_call(
        DOMAIN,
        "add_any_port_mapping",
        add_request(entry, external_port=9000, description="mine"),
        blocking=True,
        return_response=True,
    )

    assert response is not None
    port = response["reserved_port"]
    assert isinstance(port, int)
    assert port != 9000
    mine = [m for m in await lan_client.async_list_port_mappings() if m.description == "mine"]
    assert [m.external_port for m in mine] == [port]


async def test_add_any_port_mapping_refused(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    with pytest.raises(HomeAssistantError) as refused:
        await hass.services.async_call(
            DOMAIN,
            "add_any_port_mapping",
            add_request(entry, external_port=0, remote_host="not-an-address"),
            blocking=True,
            return_response=True,
        )

    assert refused.value.translation_placeholders == {
        "action": "AddAnyPortMapping",
        "code": "600",
        "name": "ArgumentValueInvalid",
    }


async def test_delete_port_mapping(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    await lan_client.async_add_port_mapping(
        PortMapping("", 8080, "TCP", 80, "127.0.0.1", True, "web", 3600)
    )

    await hass.services.async_call(
        DOMAIN,
        "delete_port_mapping",
        {"config_entry_id": entry.entry_id, "external_port": 8080, "protocol": "TCP"},
        blocking=True,
    )

    assert await lan_client.async_list_port_mappings() == []


async def test_delete_port_mapping_refused(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    with pytest.raises(HomeAssistantError) as refused:
        await hass.services.async_call(
            DOMAIN,
            "delete_port_mapping",
            {"config_entry_id": entry.entry_id, "external_port": 8080, "protocol": "TCP"},
            blocking=True,
        )

    assert refused.value.translation_placeholders == {
        "action": "DeletePortMapping",
        "code": "714",
        "name": "NoSuchEntryInArray",
    }


async def test_delete_port_mapping_range(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    for port in (8000, 8050, 8100):
        await lan_client.async_add_port_mapping(
            PortMapping("", port, "TCP", 80, "127.0.0.1", True, "web", 3600)
        )

    await hass.services.async_call(
        DOMAIN,
        "delete_port_mapping_range",
        {
            "config_entry_id": entry.entry_id,
            "start_port": 8000,
            "end_port": 8099,
            "protocol": "TCP",
        },
        blocking=True,
    )

    assert [m.external_port for m in await lan_client.async_list_port_mappings()] == [8100]


async def test_delete_port_mapping_range_refused(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    with pytest.raises(HomeAssistantError) as refused:
        await hass.services.async_call(
            DOMAIN,
            "delete_port_mapping_range",
            {
                "config_entry_id": entry.entry_id,
                "start_port": 8000,
                "end_port": 8099,
                "protocol": "UDP",
            },
            blocking=True,
        )

    assert refused.value.translation_placeholders == {
        "action": "DeletePortMappingRange",
        "code": "730",
        "name": "PortMappingNotFound",
    }


async def test_unknown_gateway(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    with pytest.raises(ServiceValidationError) as invalid:
        await hass.services.async_call(
            DOMAIN,
            "delete_port_mapping",
            {"config_entry_id": "nonexistent", "external_port": 8080, "protocol": "TCP"},
            blocking=True,
        )

    assert invalid.value.translation_key == "unknown_gateway"


async def test_gateway_not_loaded(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_unload(entry.entry_id)

    with pytest.raises(ServiceValidationError) as invalid:
        await hass.services.async_call(
            DOMAIN,
            "delete_port_mapping",
            {"config_entry_id": entry.entry_id, "external_port": 8080, "protocol": "TCP"},
            blocking=True,
        )

    assert invalid.value.translation_key == "gateway_not_loaded"


async def test_gateway_unreachable(
    hass: HomeAssistant, entry: MockConfigEntry, gateway: Any
) -> None:
    await gateway.stop()

    with pytest.raises(HomeAssistantError) as failed:
        await hass.services.async_call(
            DOMAIN, "add_port_mapping", add_request(entry, external_port=8080), blocking=True
        )

    assert failed.value.translation_key == "unreachable"


async def test_bad_protocol_rejected_before_the_gateway(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    with pytest.raises((vol.Invalid, ServiceValidationError)):
        await hass.services.async_call(
            DOMAIN,
            "add_port_mapping",
            add_request(entry, external_port=8080, protocol="SCTP"),
            blocking=True,
        )
