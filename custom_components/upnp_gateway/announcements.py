"""Turning a change between two looks at the gateway into Home Assistant bus events.

A mapping that disappears is told apart by its lease: gone while its remaining lease was about
zero, it expired; gone earlier (or a static one), someone deleted it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .const import (
    EVENT_CONNECTION_STATUS_CHANGED,
    EVENT_EXTERNAL_IP_CHANGED,
    EVENT_LEASE_EXPIRED,
    EVENT_LEASE_EXPIRING,
    EVENT_PORT_MAPPING_ADDED,
    EVENT_PORT_MAPPING_REMOVED,
    EXPIRY_TOLERANCE,
)

if TYPE_CHECKING:
    from datetime import datetime

    from homeassistant.core import HomeAssistant

    from .models import GatewayData, TrackedMapping


def mapping_event_data(tracked: TrackedMapping) -> dict[str, Any]:
    """The fields of a mapping event (and of a switch's attributes)."""
    mapping = tracked.mapping
    return {
        "protocol": mapping.protocol,
        "external_port": mapping.external_port,
        "internal_port": mapping.internal_port,
        "internal_client": mapping.internal_client,
        "remote_host": mapping.remote_host,
        "description": mapping.description,
        "enabled": mapping.enabled,
        "lease_expiry": tracked.lease_expiry.isoformat() if tracked.lease_expiry else None,
    }


class Announcer:
    """Fires the integration's events for one gateway's device."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        self.hass = hass
        self.entry_id = entry_id
        self.device_id = ""  # known once the device is registered

    def fire(self, event_type: str, data: dict[str, Any]) -> None:
        """One event, tagged with the device (for device triggers) and the config entry."""
        self.hass.bus.async_fire(
            event_type, {"device_id": self.device_id, "config_entry_id": self.entry_id, **data}
        )

    def lease_expiring(self, tracked: TrackedMapping) -> None:
        """The mapping's lease ends within the configured warning time."""
        self.fire(EVENT_LEASE_EXPIRING, mapping_event_data(tracked))

    def changes(self, old: GatewayData | None, new: GatewayData, now: datetime) -> None:
        """Events for what differs between `old` and `new` (nothing on the first look)."""
        if old is None:
            return
        for key in new.mappings.keys() - old.mappings.keys():
            self.fire(EVENT_PORT_MAPPING_ADDED, mapping_event_data(new.mappings[key]))
        for key in old.mappings.keys() - new.mappings.keys():
            gone = old.mappings[key]
            expired = gone.lease_expiry is not None and gone.lease_expiry - now <= EXPIRY_TOLERANCE
            event = EVENT_LEASE_EXPIRED if expired else EVENT_PORT_MAPPING_REMOVED
            self.fire(event, mapping_event_data(gone))
        before, after = old.status, new.status
        if after.external_ip is not None and after.external_ip != before.external_ip:
            self.fire(
                EVENT_EXTERNAL_IP_CHANGED,
                {"external_ip": after.external_ip, "previous_external_ip": before.external_ip},
            )
        if after.connection_status is not None and (
            after.connection_status != before.connection_status
        ):
            self.fire(
                EVENT_CONNECTION_STATUS_CHANGED,
                {
                    "connection_status": after.connection_status,
                    "previous_connection_status": before.connection_status,
                },
            )
