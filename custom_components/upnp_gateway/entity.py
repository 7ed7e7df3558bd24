"""The base entity of every gateway entity, and the gateway's device."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urljoin

from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import GatewayCoordinator

if TYPE_CHECKING:
    from .client import GatewayClient


def gateway_device_info(client: GatewayClient) -> DeviceInfo:
    """The device as the gateway's root description tells it."""
    device = client.device
    presentation = device.presentation_url
    return DeviceInfo(
        identifiers={(DOMAIN, device.udn)},
        connections={(dr.CONNECTION_UPNP, device.udn)},
        name=device.friendly_name,
        manufacturer=device.manufacturer,
        model=device.model_name,
        model_id=device.model_number,
        serial_number=device.serial_number,
        configuration_url=urljoin(device.device_url, presentation) if presentation else None,
    )


class GatewayEntity(CoordinatorEntity[GatewayCoordinator]):
    """An entity of one gateway, named by its translation key."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: GatewayCoordinator, key: str) -> None:
        super().__init__(coordinator)
        self._attr_unique_id = f"{coordinator.client.udn}_{key}"
        self._attr_device_info = gateway_device_info(coordinator.client)
