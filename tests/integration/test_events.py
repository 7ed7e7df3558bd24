"""Bus events and device triggers: mappings added, removed, expiring, expired; IP and status."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
    async_get_device_automations,
    async_mock_service,
)

from custom_components.upnp_gateway.client import GatewayClient
from custom_components.upnp_gateway.const import (
    DOMAIN,
    EVENT_CONNECTION_STATUS_CHANGED,
    EVENT_EXTERNAL_IP_CHANGED,
    EVENT_LEASE_EXPIRED,
    EVENT_LEASE_EXPIRING,
    EVENT_PORT_MAPPING_ADDED,
    EVENT_PORT_MAPPING_REMOVED,
)
from custom_components.upnp_gateway.models import PortMapping

from .conftest import RunningGateway, wait_for

WEB = PortMapping("", 8080, "TCP", 80, "127.0.0.1", True, "web", 3600)


def gateway_device_id(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    (device,) = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    return device.id


async def test_added_and_removed(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    added = async_capture_events(hass, EVENT_PORT_MAPPING_ADDED)
    removed = async_capture_events(hass, EVENT_PORT_MAPPING_REMOVED)
    expired = async_capture_events(hass, EVENT_LEASE_EXPIRED)

    await lan_client.async_add_port_mapping(WEB)
    await wait_for(lambda: added)
    await lan_client.async_delete_port_mapping("", 8080, "TCP")
    await wait_for(lambda: removed)

    data = added[0].data
    assert data["device_id"] == gateway_device_id(hass, entry)
    assert data["config_entry_id"] == entry.entry_id
    assert (data["protocol"], data["external_port"], data["internal_port"]) == ("TCP", 8080, 80)
    assert (data["internal_client"], data["description"], data["enabled"]) == (
        "127.0.0.1",
        "web",
        True,
    )
    assert removed[0].data["external_port"] == 8080
    assert expired == []


async def test_lease_expired_is_not_a_removal(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    removed = async_capture_events(hass, EVENT_PORT_MAPPING_REMOVED)
    expired = async_capture_events(hass, EVENT_LEASE_EXPIRED)

    await lan_client.async_add_port_mapping(
        PortMapping("", 8081, "TCP", 80, "127.0.0.1", True, "short", 2)
    )

    await wait_for(lambda: expired)
    assert expired[0].data["external_port"] == 8081
    assert removed == []


@pytest.mark.parametrize("lease_warning", [300])
async def test_lease_expiring_at_the_warning_time(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    expiring = async_capture_events(hass, EVENT_LEASE_EXPIRING)
    await lan_client.async_add_port_mapping(WEB)  # one hour
    await wait_for(lambda: entry.runtime_data.data.mappings)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=3200))
    await hass.async_block_till_done()
    assert expiring == []

    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=3310))
    await hass.async_block_till_done()

    assert len(expiring) == 1
    assert expiring[0].data["external_port"] == 8080


async def test_lease_shorter_than_the_warning_warns_at_once(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    expiring = async_capture_events(hass, EVENT_LEASE_EXPIRING)

    await lan_client.async_add_port_mapping(
        PortMapping("", 8082, "TCP", 80, "127.0.0.1", True, "short", 120)
    )

    await wait_for(lambda: expiring)
    await hass.async_block_till_done()
    assert len(expiring) == 1  # once per lease, not at every look


async def test_connection_status_changed(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    changed = async_capture_events(hass, EVENT_CONNECTION_STATUS_CHANGED)

    await lan_client.connection.action("ForceTermination").async_call()
    await wait_for(lambda: changed)
    await lan_client.connection.action("RequestConnection").async_call()
    await wait_for(lambda: changed[-1].data["connection_status"] == "Connected")
    # Let the gateway's last NOTIFYs land: CPython 3.13.0's asyncio asserts when a connection
    # reaches a server being closed (fixed in 3.13.1), as HA's notify server is at teardown.
    await asyncio.sleep(0.2)

    assert changed[0].data["previous_connection_status"] == "Connected"
    assert changed[0].data["connection_status"] != "Connected"


async def test_external_ip_changed(
    hass: HomeAssistant, entry: MockConfigEntry, gateway: RunningGateway
) -> None:
    changed = async_capture_events(hass, EVENT_EXTERNAL_IP_CHANGED)
    await gateway.stop()
    gateway.external_ip = "198.51.100.7"
    await gateway.start()

    await entry.runtime_data.async_refresh()

    await wait_for(lambda: changed)
    assert changed[0].data["external_ip"] == "198.51.100.7"
    assert changed[0].data["previous_external_ip"] == "127.0.0.1"


async def test_device_triggers_listed(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    device_id = gateway_device_id(hass, entry)

    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, device_id)

    assert {trigger["type"] for trigger in triggers if trigger["domain"] == DOMAIN} == {
        "port_mapping_added",
        "port_mapping_removed",
        "lease_expired",
        "lease_expiring",
        "external_ip_changed",
        "connection_status_changed",
    }


async def test_device_trigger_fires(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    device_id = gateway_device_id(hass, entry)
    calls: list[ServiceCall] = async_mock_service(hass, "test", "automation")
    automations: list[dict[str, Any]] = [
        {
            "trigger": {
                "platform": "device",
                "domain": DOMAIN,
                "device_id": device_id,
                "type": kind,
            },
            "action": {
                "service": "test.automation",
                "data_template": {
                    "kind": kind,
                    "port": "{{ trigger.event.data.external_port }}",
                },
            },
        }
        for kind in ("port_mapping_added", "port_mapping_removed")
    ]
    assert await async_setup_component(hass, "automation", {"automation": automations})

    await lan_client.async_add_port_mapping(WEB)
    await wait_for(lambda: calls)
    await lan_client.async_delete_port_mapping("", 8080, "TCP")
    await wait_for(lambda: len(calls) == 2)

    assert [(call.data["kind"], call.data["port"]) for call in calls] == [
        ("port_mapping_added", 8080),
        ("port_mapping_removed", 8080),
    ]
