"""One switch per port mapping: on = enabled; created and removed as mappings come and go."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.switch import SwitchEntity
from homeassistant.const import Platform
from homeassistant.core import callback
from homeassistant.helpers import entity_registry as er

from .announcements import mapping_event_data
from .client import GatewayError
from .const import DOMAIN
from .entity import GatewayEntity
from .services import gateway_error

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .coordinator import GatewayConfigEntry, GatewayCoordinator

PARALLEL_UPDATES = 0  # the coordinator does the I/O; each switch change is one action

MAPPING_PREFIX = "mapping_"


async def async_setup_entry(
    hass: HomeAssistant,
    entry: GatewayConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Follow the mapping list: add switches for new mappings, remove those of gone ones."""
    coordinator = entry.runtime_data
    registry = er.async_get(hass)
    prefix = f"{coordinator.client.udn}_{MAPPING_PREFIX}"
    # Registered earlier, maybe for mappings that ended while Home Assistant was stopped
    registered = {
        registry_entry.unique_id.removeprefix(prefix): registry_entry.entity_id
        for registry_entry in er.async_entries_for_config_entry(registry, entry.entry_id)
        if registry_entry.domain == Platform.SWITCH and registry_entry.unique_id.startswith(prefix)
    }
    added: set[str] = set()

    @callback
    def follow_mappings() -> None:
        current = coordinator.data.mappings.keys()
        new = current - added
        if new:
            added.update(new)
            async_add_entities(PortMappingSwitch(coordinator, key) for key in sorted(new))
        for key in (added | registered.keys()) - current:
            added.discard(key)
            registered.pop(key, None)
            entity_id = registry.async_get_entity_id(Platform.SWITCH, DOMAIN, prefix + key)
            if entity_id is not None:
                registry.async_remove(entity_id)

    follow_mappings()
    entry.async_on_unload(coordinator.async_add_listener(follow_mappings))


class PortMappingSwitch(GatewayEntity, SwitchEntity):
    """A port mapping; turning it off re-adds it with NewEnabled 0."""

    _attr_translation_key = "port_mapping"

    def __init__(self, coordinator: GatewayCoordinator, key: str) -> None:
        super().__init__(coordinator, MAPPING_PREFIX + key)
        self.key = key
        mapping = coordinator.data.mappings[key].mapping
        self._attr_translation_placeholders = {
            "protocol": mapping.protocol,
            "external_port": str(mapping.external_port),
        }

    @property
    def available(self) -> bool:
        """Available while the gateway answers and still has the mapping."""
        return super().available and self.key in self.coordinator.data.mappings

    @property
    def is_on(self) -> bool:
        """Whether the mapping is enabled."""
        return self.coordinator.data.mappings[self.key].mapping.enabled

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The mapping's fields and its lease's end."""
        data = mapping_event_data(self.coordinator.data.mappings[self.key])
        del data["enabled"]
        return data

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Enable the mapping."""
        await self._async_set_enabled(enabled=True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Disable the mapping (it stays in the table)."""
        await self._async_set_enabled(enabled=False)

    async def _async_set_enabled(self, *, enabled: bool) -> None:
        try:
            await self.coordinator.async_set_enabled(self.key, enabled)
        except GatewayError as error:
            raise gateway_error(error) from error
