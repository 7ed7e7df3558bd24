"""Set up a gateway: from the add-on's discovery, from SSDP, from a list of seen IGDs, or by URL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlparse

import voluptuous as vol
from homeassistant import config_entries
from homeassistant.components import ssdp
from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_URL
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.ssdp import (
    ATTR_UPNP_FRIENDLY_NAME,
    ATTR_UPNP_MANUFACTURER,
    ATTR_UPNP_SERIAL,
)

from .client import GatewayClient, GatewayUnreachableError, NotAnIgdError
from .const import (
    ADDON_SLUG_SUFFIX,
    CONF_LEASE_WARNING,
    DEFAULT_LEASE_WARNING,
    DOMAIN,
    IGD_DEVICE_TYPES,
)
from .faces import MAIN_FACE_PATH, OUR_MANUFACTURER, async_connect_main_face, main_face_url

if TYPE_CHECKING:
    from homeassistant.helpers.service_info.hassio import HassioServiceInfo
    from homeassistant.helpers.service_info.ssdp import SsdpServiceInfo

    from .coordinator import GatewayConfigEntry

CONF_GATEWAY: Final = "gateway"
MANUAL: Final = "manual"

# Any: the schemas are voluptuous's before Home Assistant 2026.9 and probatio's after
URL_SCHEMA: Final[Any] = vol.Schema(
    {vol.Required(CONF_URL): TextSelector(TextSelectorConfig(type=TextSelectorType.URL))}
)
OPTIONS_SCHEMA: Final[Any] = vol.Schema(
    {
        vol.Required(CONF_LEASE_WARNING, default=DEFAULT_LEASE_WARNING): vol.All(
            NumberSelector(
                NumberSelectorConfig(
                    min=10,
                    max=86400,
                    step=10,
                    unit_of_measurement="s",
                    mode=NumberSelectorMode.BOX,
                )
            ),
            vol.Coerce(int),
        )
    }
)

if TYPE_CHECKING:
    OptionsFlowBase = config_entries.OptionsFlow
else:  # reloads the entry itself from HA 2025.8; earlier, __init__ adds an update listener
    OptionsFlowBase = getattr(config_entries, "OptionsFlowWithReload", config_entries.OptionsFlow)


def addon_description_url(config: dict[str, Any]) -> str:
    """The add-on's description URL from its discovery message (or from its host and port)."""
    url = config.get("description_url") or config.get(CONF_URL)
    if url:
        return str(url)
    return f"http://{config['host']}:{config['port']}{MAIN_FACE_PATH}"


class GatewayConfigFlow(ConfigFlow, domain=DOMAIN):
    """One config entry per gateway, keyed by the root device's UDN (our gateway's main face's)."""

    VERSION = 1

    def __init__(self) -> None:
        self._url = ""
        self._name = ""

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: GatewayConfigEntry) -> GatewayOptionsFlow:
        """The options: when lease_expiring fires."""
        return GatewayOptionsFlow()

    async def _async_connect(self, url: str) -> tuple[GatewayClient | None, dict[str, str]]:
        try:
            client = await async_connect_main_face(
                async_get_clientsession(self.hass, verify_ssl=False), url
            )
        except GatewayUnreachableError:
            return None, {"base": "cannot_connect"}
        except NotAnIgdError:
            return None, {"base": "not_igd"}
        return client, {}

    async def _async_create(self, client: GatewayClient) -> ConfigFlowResult:
        await self.async_set_unique_id(client.udn, raise_on_progress=False)
        self._abort_if_unique_id_configured(updates={CONF_URL: client.location})
        return self.async_create_entry(
            title=client.device.friendly_name, data={CONF_URL: client.location}
        )

    # ---- the user picks a gateway HA has seen, or types its URL ------------------------------

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose among the IGDs SSDP has seen, or enter a description URL."""
        seen = await self._async_seen_gateways()
        if user_input is not None:
            if user_input[CONF_GATEWAY] == MANUAL:
                return await self.async_step_manual()
            return await self._async_try(user_input[CONF_GATEWAY], "user", seen)
        if not seen:
            return await self.async_step_manual()
        return self._show_choice(seen, {})

    def _show_choice(self, seen: dict[str, str], errors: dict[str, str]) -> ConfigFlowResult:
        options = [SelectOptionDict(value=url, label=name) for url, name in seen.items()]
        options.append(SelectOptionDict(value=MANUAL, label=MANUAL))
        schema: Any = vol.Schema(
            {
                vol.Required(CONF_GATEWAY): SelectSelector(
                    SelectSelectorConfig(options=options, translation_key=CONF_GATEWAY)
                )
            }
        )
        return self.async_show_form(step_id="user", data_schema=schema, errors=errors)

    async def _async_try(self, url: str, step: str, seen: dict[str, str]) -> ConfigFlowResult:
        client, errors = await self._async_connect(url)
        if client is not None:
            return await self._async_create(client)
        if step == "user":
            return self._show_choice(seen, errors)
        return self.async_show_form(
            step_id=step,
            data_schema=self.add_suggested_values_to_schema(URL_SCHEMA, {CONF_URL: url}),
            errors=errors,
        )

    async def async_step_manual(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A description URL typed in."""
        if user_input is not None:
            return await self._async_try(user_input[CONF_URL], "manual", {})
        return self.async_show_form(step_id="manual", data_schema=URL_SCHEMA)

    async def _async_seen_gateways(self) -> dict[str, str]:
        """Description URL -> a label, for the root IGDs SSDP has seen and not yet configured.

        Our gateway's faces are listed once, by its main face's URL, and none of them once one
        is configured (they share its serial number).
        """
        configured = self._async_current_ids(include_ignore=False)
        infos = [
            info
            for device_type in IGD_DEVICE_TYPES
            for info in await ssdp.async_get_discovery_info_by_st(self.hass, device_type)
            if info.ssdp_location
        ]
        configured_serials = {
            serial
            for info in infos
            if info.ssdp_udn in configured and (serial := _our_serial(info))
        }
        seen: dict[str, str] = {}
        for info in infos:
            location = str(info.ssdp_location)
            serial = _our_serial(info)
            if info.ssdp_udn in configured or (serial and serial in configured_serials):
                continue
            name = info.upnp.get(ATTR_UPNP_FRIENDLY_NAME) or info.ssdp_udn
            main_url = main_face_url(location, info.upnp.get(ATTR_UPNP_MANUFACTURER))
            seen.setdefault(main_url or location, f"{name} ({urlparse(location).hostname})")
        return seen

    # ---- discovery: SSDP (our add-on's device only) and the Supervisor -----------------------

    async def async_step_ssdp(self, discovery_info: SsdpServiceInfo) -> ConfigFlowResult:
        """An UPnP Gateway add-on's device announced itself on the LAN."""
        if not discovery_info.ssdp_udn or not discovery_info.ssdp_location:
            return self.async_abort(reason="incomplete_discovery")
        udn, url = discovery_info.ssdp_udn, discovery_info.ssdp_location
        if main_face_url(url, discovery_info.upnp.get(ATTR_UPNP_MANUFACTURER)):
            client, _errors = await self._async_connect(url)
            if client is not None:  # else as announced: the confirmation connects again
                udn, url = client.udn, client.location
        await self.async_set_unique_id(udn)
        self._abort_if_unique_id_configured(updates={CONF_URL: url})
        self._url = url
        self._name = discovery_info.upnp.get(ATTR_UPNP_FRIENDLY_NAME) or "UPnP Gateway"
        self.context["title_placeholders"] = {"name": self._name}
        return await self.async_step_discovery_confirm()

    async def async_step_hassio(self, discovery_info: HassioServiceInfo) -> ConfigFlowResult:
        """The add-on told the Supervisor where its gateway listens."""
        if not discovery_info.slug.endswith(ADDON_SLUG_SUFFIX):
            return self.async_abort(reason="not_upnp_gateway_addon")
        url = addon_description_url(discovery_info.config)
        client, errors = await self._async_connect(url)
        if client is None:
            return self.async_abort(reason=errors["base"])
        await self.async_set_unique_id(client.udn)
        self._abort_if_unique_id_configured(updates={CONF_URL: client.location})
        self._url = client.location
        self._name = discovery_info.name or client.device.friendly_name
        self.context["title_placeholders"] = {"name": self._name}
        return await self.async_step_discovery_confirm()

    async def async_step_discovery_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask before adding a discovered gateway; connect when the user agrees."""
        errors: dict[str, str] = {}
        if user_input is not None:
            client, errors = await self._async_connect(self._url)
            if client is not None:
                return await self._async_create(client)
        return self.async_show_form(
            step_id="discovery_confirm",
            description_placeholders={"name": self._name, CONF_URL: self._url},
            errors=errors,
        )

    # ---- reconfigure: the gateway moved --------------------------------------------------

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """A new description URL for the same gateway (same UDN)."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            client, errors = await self._async_connect(user_input[CONF_URL])
            if client is not None:
                await self.async_set_unique_id(client.udn)
                self._abort_if_unique_id_mismatch(reason="unique_id_mismatch")
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_URL: client.location}
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                URL_SCHEMA, user_input or dict(entry.data)
            ),
            errors=errors,
        )


def _our_serial(info: SsdpServiceInfo) -> str | None:
    """The serial number of a face of our gateway (shared by its faces), None for others'."""
    if info.upnp.get(ATTR_UPNP_MANUFACTURER) != OUR_MANUFACTURER:
        return None
    return info.upnp.get(ATTR_UPNP_SERIAL) or None


class GatewayOptionsFlow(OptionsFlowBase):
    """How long before a lease ends that lease_expiring fires."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """One number, in seconds."""
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                OPTIONS_SCHEMA, self.config_entry.options
            ),
        )
