"""Status and traffic sensors, as the built-in upnp integration has them, plus the mapping count."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfDataRate, UnitOfInformation
from homeassistant.util import dt as dt_util

from .entity import GatewayEntity

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .coordinator import GatewayConfigEntry, GatewayCoordinator
    from .models import GatewayData

PARALLEL_UPDATES = 0  # the coordinator does the I/O

UPTIME_JITTER = timedelta(seconds=10)  # a boot moment closer than this to the last one is the same
PACKETS = "packets"
PACKETS_PER_SECOND = "packets/s"


@dataclass(frozen=True, kw_only=True)
class GatewaySensorDescription(SensorEntityDescription):
    """A sensor and where its value comes from."""

    value_fn: Callable[[GatewayData], str | int | float | None]


SENSORS: tuple[GatewaySensorDescription, ...] = (
    GatewaySensorDescription(
        key="external_ip",
        translation_key="external_ip",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: data.status.external_ip,
    ),
    GatewaySensorDescription(
        key="port_mappings",
        translation_key="port_mappings",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda data: len(data.mappings),
    ),
    GatewaySensorDescription(
        key="bytes_received",
        translation_key="bytes_received",
        device_class=SensorDeviceClass.DATA_SIZE,
        native_unit_of_measurement=UnitOfInformation.BYTES,
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_registry_enabled_default=False,
        value_fn=lambda data: data.status.bytes_received,
    ),
    GatewaySensorDescription(
        key="bytes_sent",
        translation_key="bytes_sent",
        device_class=SensorDeviceClass.DATA_SIZE,
        native_unit_of_measurement=UnitOfInformation.BYTES,
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_registry_enabled_default=False,
        value_fn=lambda data: data.status.bytes_sent,
    ),
    GatewaySensorDescription(
        key="packets_received",
        translation_key="packets_received",
        native_unit_of_measurement=PACKETS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_registry_enabled_default=False,
        value_fn=lambda data: data.status.packets_received,
    ),
    GatewaySensorDescription(
        key="packets_sent",
        translation_key="packets_sent",
        native_unit_of_measurement=PACKETS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_registry_enabled_default=False,
        value_fn=lambda data: data.status.packets_sent,
    ),
    GatewaySensorDescription(
        key="download_speed",
        translation_key="download_speed",
        device_class=SensorDeviceClass.DATA_RATE,
        native_unit_of_measurement=UnitOfDataRate.KIBIBYTES_PER_SECOND,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda data: data.status.kib_per_sec_received,
    ),
    GatewaySensorDescription(
        key="upload_speed",
        translation_key="upload_speed",
        device_class=SensorDeviceClass.DATA_RATE,
        native_unit_of_measurement=UnitOfDataRate.KIBIBYTES_PER_SECOND,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda data: data.status.kib_per_sec_sent,
    ),
    GatewaySensorDescription(
        key="packet_download_speed",
        translation_key="packet_download_speed",
        native_unit_of_measurement=PACKETS_PER_SECOND,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_registry_enabled_default=False,
        value_fn=lambda data: data.status.packets_per_sec_received,
    ),
    GatewaySensorDescription(
        key="packet_upload_speed",
        translation_key="packet_upload_speed",
        native_unit_of_measurement=PACKETS_PER_SECOND,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        entity_registry_enabled_default=False,
        value_fn=lambda data: data.status.packets_per_sec_sent,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: GatewayConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Every sensor of the gateway, and its uptime."""
    coordinator = entry.runtime_data
    async_add_entities(
        [
            *(GatewaySensor(coordinator, description) for description in SENSORS),
            UptimeSensor(coordinator, "uptime"),
        ]
    )


class GatewaySensor(GatewayEntity, SensorEntity):
    """A value read from the coordinator's data."""

    entity_description: GatewaySensorDescription

    def __init__(
        self, coordinator: GatewayCoordinator, description: GatewaySensorDescription
    ) -> None:
        super().__init__(coordinator, description.key)
        self.entity_description = description

    @property
    def native_value(self) -> str | int | float | None:
        """The value as last read."""
        return self.entity_description.value_fn(self.coordinator.data)


class UptimeSensor(GatewayEntity, SensorEntity):
    """When the WAN connection came up, as a timestamp that stays put between polls."""

    _attr_device_class = SensorDeviceClass.TIMESTAMP
    _attr_translation_key = "uptime"
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _connected_since: datetime | None = None

    @property
    def native_value(self) -> datetime | None:
        """Now minus the uptime, moved only when it differs by more than a poll's jitter."""
        uptime = self.coordinator.data.status.uptime
        if uptime is None:
            return None
        since = dt_util.utcnow() - timedelta(seconds=uptime)
        previous = self._connected_since
        if previous is None or abs(previous - since) > UPTIME_JITTER:
            self._connected_since = since
        return self._connected_since
