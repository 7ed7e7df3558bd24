"""Service actions that add and delete port mappings on a chosen gateway."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_PROTOCOL
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv

from .client import PROTOCOLS, ActionRefusedError, ActionUnsupportedError, GatewayError
from .const import DOMAIN
from .models import PortMapping

if TYPE_CHECKING:
    from .coordinator import GatewayConfigEntry, GatewayCoordinator

SERVICE_ADD_PORT_MAPPING: Final = "add_port_mapping"
SERVICE_ADD_ANY_PORT_MAPPING: Final = "add_any_port_mapping"
SERVICE_DELETE_PORT_MAPPING: Final = "delete_port_mapping"
SERVICE_DELETE_PORT_MAPPING_RANGE: Final = "delete_port_mapping_range"

ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_REMOTE_HOST: Final = "remote_host"
ATTR_EXTERNAL_PORT: Final = "external_port"
ATTR_INTERNAL_PORT: Final = "internal_port"
ATTR_INTERNAL_CLIENT: Final = "internal_client"
ATTR_ENABLED: Final = "enabled"
ATTR_DESCRIPTION: Final = "description"
ATTR_LEASE_DURATION: Final = "lease_duration"
ATTR_KEEP_ALIVE: Final = "keep_alive"
ATTR_START_PORT: Final = "start_port"
ATTR_END_PORT: Final = "end_port"
ATTR_MANAGE: Final = "manage"
ATTR_RESERVED_PORT: Final = "reserved_port"

DEFAULT_LEASE_DURATION: Final = 3600  # the RECOMMENDED lease (WANIPConnection:2 Table 11)
MAX_LEASE_DURATION: Final = 604800  # WANIPConnection:2 2.3.17

PORT = vol.All(vol.Coerce(int), vol.Range(min=1, max=65535))
EXTERNAL_PORT = vol.All(vol.Coerce(int), vol.Range(min=0, max=65535))
PROTOCOL = vol.All(vol.Upper, vol.In(PROTOCOLS))

KEY_FIELDS: Final = {
    vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
    vol.Optional(ATTR_REMOTE_HOST, default=""): cv.string,
    vol.Required(CONF_PROTOCOL): PROTOCOL,
}
# Any: the schemas are voluptuous's before Home Assistant 2026.9 and probatio's after
ADD_SCHEMA: Final[Any] = vol.Schema(
    {
        **KEY_FIELDS,
        vol.Required(ATTR_EXTERNAL_PORT): EXTERNAL_PORT,
        vol.Required(ATTR_INTERNAL_PORT): PORT,
        vol.Optional(ATTR_INTERNAL_CLIENT): cv.string,
        vol.Optional(ATTR_ENABLED, default=True): cv.boolean,
        vol.Optional(ATTR_DESCRIPTION, default="Home Assistant"): cv.string,
        vol.Optional(ATTR_LEASE_DURATION, default=DEFAULT_LEASE_DURATION): vol.All(
            vol.Coerce(int), vol.Range(min=0, max=MAX_LEASE_DURATION)
        ),
        vol.Optional(ATTR_KEEP_ALIVE, default=False): cv.boolean,
    }
)
DELETE_SCHEMA: Final[Any] = vol.Schema({**KEY_FIELDS, vol.Required(ATTR_EXTERNAL_PORT): PORT})
DELETE_RANGE_SCHEMA: Final[Any] = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(CONF_PROTOCOL): PROTOCOL,
        vol.Required(ATTR_START_PORT): PORT,
        vol.Required(ATTR_END_PORT): PORT,
        vol.Optional(ATTR_MANAGE, default=True): cv.boolean,
    }
)


def gateway_error(error: GatewayError) -> HomeAssistantError:
    """The error a user sees: the UPnP error code and its name, or why the gateway is silent."""
    if isinstance(error, ActionRefusedError):
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="action_refused",
            translation_placeholders={
                "action": error.action,
                "code": str(error.code),
                "name": error.name,
            },
        )
    if isinstance(error, ActionUnsupportedError):
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="action_unsupported",
            translation_placeholders={"action": error.action},
        )
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="unreachable",
        translation_placeholders={"error": str(error)},
    )


def _coordinator(hass: HomeAssistant, call: ServiceCall) -> GatewayCoordinator:
    entry_id = call.data[ATTR_CONFIG_ENTRY_ID]
    entry: GatewayConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_gateway",
            translation_placeholders={"config_entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="gateway_not_loaded",
            translation_placeholders={"title": entry.title},
        )
    return entry.runtime_data


def _requested_mapping(coordinator: GatewayCoordinator, data: dict[str, Any]) -> PortMapping:
    return PortMapping(
        remote_host=data[ATTR_REMOTE_HOST],
        external_port=data[ATTR_EXTERNAL_PORT],
        protocol=data[CONF_PROTOCOL],
        internal_port=data[ATTR_INTERNAL_PORT],
        # the 2-box case (WANIPConnection:2 2.2): Home Assistant's own address toward the gateway
        internal_client=data.get(ATTR_INTERNAL_CLIENT) or coordinator.eventing.local_ip,
        enabled=data[ATTR_ENABLED],
        description=data[ATTR_DESCRIPTION],
        lease_duration=data[ATTR_LEASE_DURATION],
    )


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the four actions."""

    async def add_port_mapping(call: ServiceCall) -> None:
        coordinator = _coordinator(hass, call)
        mapping = _requested_mapping(coordinator, dict(call.data))
        try:
            await coordinator.async_add(mapping, keep_alive=call.data[ATTR_KEEP_ALIVE])
        except GatewayError as error:
            raise gateway_error(error) from error

    async def add_any_port_mapping(call: ServiceCall) -> ServiceResponse:
        coordinator = _coordinator(hass, call)
        mapping = _requested_mapping(coordinator, dict(call.data))
        try:
            port = await coordinator.async_add_any(mapping, keep_alive=call.data[ATTR_KEEP_ALIVE])
        except GatewayError as error:
            raise gateway_error(error) from error
        return {ATTR_RESERVED_PORT: port}

    async def delete_port_mapping(call: ServiceCall) -> None:
        coordinator = _coordinator(hass, call)
        try:
            await coordinator.async_delete(
                call.data[ATTR_REMOTE_HOST], call.data[ATTR_EXTERNAL_PORT], call.data[CONF_PROTOCOL]
            )
        except GatewayError as error:
            raise gateway_error(error) from error

    async def delete_port_mapping_range(call: ServiceCall) -> None:
        coordinator = _coordinator(hass, call)
        try:
            await coordinator.async_delete_range(
                call.data[ATTR_START_PORT],
                call.data[ATTR_END_PORT],
                call.data[CONF_PROTOCOL],
                manage=call.data[ATTR_MANAGE],
            )
        except GatewayError as error:
            raise gateway_error(error) from error

    hass.services.async_register(
        DOMAIN, SERVICE_ADD_PORT_MAPPING, add_port_mapping, schema=ADD_SCHEMA
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_ADD_ANY_PORT_MAPPING,
        add_any_port_mapping,
        schema=ADD_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN, SERVICE_DELETE_PORT_MAPPING, delete_port_mapping, schema=DELETE_SCHEMA
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_DELETE_PORT_MAPPING_RANGE,
        delete_port_mapping_range,
        schema=DELETE_RANGE_SCHEMA,
    )
