"""The WAN connection's status as a connectivity binary sensor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components.binary_sensor import (  # type: ignore[attr-defined]
    BinarySensorDeviceClass,  # re-exported from .const since 2025.x, defined here in 2025.4
    BinarySensorEntity,
)

from .entity import GatewayEntity

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .coordinator import GatewayConfigEntry

PARALLEL_UPDATES = 0  # the coordinator does the I/O

CONNECTED = "Connected"  # ConnectionStatus value (WANIPConnection:2 2.3.8)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: GatewayConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """One connectivity sensor per gateway."""
    async_add_entities([WanStatusSensor(entry.runtime_data, "wan_status")])


class WanStatusSensor(GatewayEntity, BinarySensorEntity):
    """On while the gateway says its WAN connection is Connected."""

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_translation_key = "wan_status"

    @property
    def is_on(self) -> bool | None:
        """Connected, or not; unknown when the gateway does not say."""
        status = self.coordinator.data.status.connection_status
        return None if status is None else status == CONNECTED

    @property
    def extra_state_attributes(self) -> dict[str, str | None]:
        """The gateway's own word for the state (Connecting, Disconnected, ...)."""
        return {"connection_status": self.coordinator.data.status.connection_status}
