"""Diagnostics: what a bug report shows, addresses redacted."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.upnp_gateway.client import GatewayClient
from custom_components.upnp_gateway.models import PortMapping

from .conftest import wait_for

# Values that differ from run to run (time, traffic, the daemon's version and build)
VOLATILE = (
    "lease_expiry",
    "lease_duration",
    "uptime",
    "bytes_received",
    "bytes_sent",
    "packets_received",
    "packets_sent",
    "kib_per_sec_received",
    "kib_per_sec_sent",
    "packets_per_sec_received",
    "packets_per_sec_sent",
    "model_number",
    "options",
)


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    entry: MockConfigEntry,
    lan_client: GatewayClient,
    snapshot: SnapshotAssertion,
) -> None:
    await lan_client.async_add_port_mapping(
        PortMapping("203.0.113.7", 8080, "TCP", 80, "127.0.0.1", True, "web", 3600)
    )
    await wait_for(lambda: entry.runtime_data.data.mappings)

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    assert diagnostics == snapshot(exclude=props(*VOLATILE))
    assert "127.0.0.1" not in str(diagnostics)
    assert "203.0.113.7" not in str(diagnostics)
