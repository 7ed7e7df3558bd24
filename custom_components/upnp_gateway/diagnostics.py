"""Diagnostics: the gateway's description, status and mapping table, addresses redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_URL

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .coordinator import GatewayConfigEntry

TO_REDACT: Final = {
    CONF_URL,
    "external_ip",
    "internal_client",
    "remote_host",
    "udn",
    "serial_number",
    "location",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: GatewayConfigEntry
) -> dict[str, Any]:
    """What a bug report needs to know about this gateway."""
    coordinator = entry.runtime_data
    client = coordinator.client
    device = client.device
    data = coordinator.data
    return async_redact_data(
        {
            "entry": {"data": dict(entry.data), "options": dict(entry.options)},
            "device": {
                "location": device.device_url,
                "udn": device.udn,
                "device_type": device.device_type,
                "manufacturer": device.manufacturer,
                "model_name": device.model_name,
                "model_number": device.model_number,
                "serial_number": device.serial_number,
                "services": sorted(service.service_type for service in device.all_services),
                "connection_service": client.connection.service_type,
                "connection_actions": sorted(client.connection.actions),
            },
            "subscribed": coordinator.subscribed,
            "status": asdict(data.status),
            "mappings": [
                {**asdict(tracked.mapping), "lease_expiry": tracked.lease_expiry}
                for tracked in data.mappings.values()
            ],
            "keep_alive": [asdict(mapping) for mapping in coordinator.keep_alive.requests.values()],
        },
        TO_REDACT,
    )
