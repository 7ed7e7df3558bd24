"""Every config-flow path: user (seen gateways, manual URL), SSDP, add-on, reconfigure, options."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from unittest.mock import patch

import pytest
from aiohttp import web
from homeassistant.config_entries import SOURCE_HASSIO, SOURCE_SSDP, SOURCE_USER
from homeassistant.const import CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
from homeassistant.helpers.service_info.ssdp import SsdpServiceInfo
from homeassistant.loader import async_get_ssdp
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.upnp_gateway.client import GatewayClient
from custom_components.upnp_gateway.const import CONF_LEASE_WARNING, DOMAIN

from .conftest import RunningGateway, _running_gateway, free_port

IGD2 = "urn:schemas-upnp-org:device:InternetGatewayDevice:2"
MEDIA_RENDERER = """<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
 <specVersion><major>1</major><minor>0</minor></specVersion>
 <device>
  <deviceType>urn:schemas-upnp-org:device:MediaRenderer:1</deviceType>
  <friendlyName>Speaker</friendlyName><manufacturer>Acme</manufacturer>
  <modelName>S1</modelName><UDN>uuid:11111111-2222-3333-4444-555555555555</UDN>
 </device>
</root>"""


@pytest.fixture
async def other_server() -> AsyncIterator[str]:
    """A web server on loopback that is not a gateway; its base URL."""
    app = web.Application()

    async def renderer(_request: web.Request) -> web.Response:
        return web.Response(text=MEDIA_RENDERER, content_type="text/xml")

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text="<html><body>router login</body></html>", content_type="text/html")

    app.router.add_get("/renderer.xml", renderer)
    app.router.add_get("/index.html", page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def other_gateway(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[RunningGateway]:
    """A second gateway (its own data dir, hence its own UDN)."""
    async for running in _running_gateway(hass, tmp_path / "other", 2):
        yield running


async def test_manual_url(
    hass: HomeAssistant, gateway: RunningGateway, lan_client: GatewayClient
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "manual"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: gateway.url}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == lan_client.device.friendly_name
    assert result["data"] == {CONF_URL: gateway.url}
    assert result["result"].unique_id == lan_client.udn


@pytest.mark.parametrize(
    ("path", "error"),
    [("/renderer.xml", "not_igd"), ("/index.html", "not_igd"), ("/missing.xml", "cannot_connect")],
)
async def test_manual_url_errors_then_recovery(
    hass: HomeAssistant, gateway: RunningGateway, other_server: str, path: str, error: str
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: other_server + path}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: gateway.url}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_manual_url_nobody_listening(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: f"http://127.0.0.1:{free_port()}/rootDesc.xml"}
    )

    assert result["errors"] == {"base": "cannot_connect"}


async def test_already_configured(
    hass: HomeAssistant, entry: MockConfigEntry, gateway: RunningGateway
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    other_url = gateway.url + "?moved"  # another URL for the same gateway

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: other_url}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_URL] == other_url


def seen_by_ssdp(url: str, udn: str, st: str = IGD2) -> SsdpServiceInfo:
    return SsdpServiceInfo(
        ssdp_usn=f"{udn}::{st}",
        ssdp_st=st,
        ssdp_location=url,
        ssdp_udn=udn,
        upnp={"friendlyName": "Gateway", "deviceType": st, "manufacturer": "UPnP Gateway"},
    )


async def test_user_picks_a_seen_gateway(
    hass: HomeAssistant, gateway: RunningGateway, lan_client: GatewayClient
) -> None:
    """The list comes from HA's SSDP cache (filled here; the gateway behind it is real)."""
    seen = [seen_by_ssdp(gateway.url, lan_client.udn)]
    with patch(
        "homeassistant.components.ssdp.async_get_discovery_info_by_st",
        side_effect=lambda _hass, st: seen if st == IGD2 else [],
    ):
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        assert result["step_id"] == "user"
        schema = result["data_schema"]
        assert schema is not None
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"gateway": gateway.url}
        )
        await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == lan_client.udn


async def test_user_picks_manual_or_a_gateway_gone(
    hass: HomeAssistant, gateway: RunningGateway, lan_client: GatewayClient
) -> None:
    gone = f"http://127.0.0.1:{free_port()}/rootDesc.xml"
    seen = [seen_by_ssdp(gone, "uuid:gone")]
    with patch(
        "homeassistant.components.ssdp.async_get_discovery_info_by_st",
        side_effect=lambda _hass, st: seen if st == IGD2 else [],
    ):
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"gateway": gone}
        )
        assert result["step_id"] == "user"
        assert result["errors"] == {"base": "cannot_connect"}
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"gateway": "manual"}
        )
    assert result["step_id"] == "manual"


async def test_ssdp_discovery(
    hass: HomeAssistant, gateway: RunningGateway, lan_client: GatewayClient
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_SSDP},
        data=seen_by_ssdp(gateway.url, lan_client.udn),
    )
    assert result["step_id"] == "discovery_confirm"

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == lan_client.udn


async def test_ssdp_discovery_gone_before_confirm(
    hass: HomeAssistant, gateway: RunningGateway, lan_client: GatewayClient
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_SSDP},
        data=seen_by_ssdp(gateway.url, lan_client.udn),
    )
    await gateway.stop()

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})

    assert result["errors"] == {"base": "cannot_connect"}


async def test_ssdp_discovery_incomplete(hass: HomeAssistant) -> None:
    info = seen_by_ssdp("", "")
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_SSDP}, data=info
    )

    assert result["reason"] == "incomplete_discovery"


async def test_ssdp_updates_a_moved_gateway(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    moved = entry.data[CONF_URL] + "?moved"
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_SSDP}, data=seen_by_ssdp(moved, lan_client.udn)
    )
    await hass.async_block_till_done()

    assert result["reason"] == "already_configured"
    assert entry.data[CONF_URL] == moved


async def test_ssdp_matcher_is_our_devices_only(
    hass: HomeAssistant, lan_client: GatewayClient
) -> None:
    """The manifest matches the daemon's description, and not any other IGD."""
    matchers = (await async_get_ssdp(hass))[DOMAIN]
    ours = {
        "manufacturer": lan_client.device.manufacturer,
        "deviceType": lan_client.device.device_type,
    }
    router = {"manufacturer": "OpenWrt", "deviceType": IGD2}

    def matches(description: dict[str, str]) -> bool:
        return any(
            all(description.get(key) == value for key, value in matcher.items())
            for matcher in matchers
        )

    assert matches(ours)
    assert not matches(router)


def addon_discovery(
    config: dict[str, object], slug: str = "a0d7b954_upnp_gateway"
) -> HassioServiceInfo:
    return HassioServiceInfo(config=config, name="UPnP Gateway", slug=slug, uuid="1234")


async def test_addon_discovery(
    hass: HomeAssistant, gateway: RunningGateway, lan_client: GatewayClient
) -> None:
    info = addon_discovery(
        {"host": "127.0.0.1", "port": gateway.http_port, "description_url": gateway.url}
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_HASSIO}, data=info
    )
    assert result["step_id"] == "discovery_confirm"

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_URL: gateway.url}
    assert result["result"].unique_id == lan_client.udn


async def test_addon_discovery_from_host_and_port(
    hass: HomeAssistant, gateway: RunningGateway
) -> None:
    info = addon_discovery({"host": "127.0.0.1", "port": gateway.http_port})
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_HASSIO}, data=info
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()

    assert result["data"] == {CONF_URL: gateway.url}


@pytest.mark.parametrize(
    ("slug", "reachable", "reason"),
    [
        ("a0d7b954_mosquitto", True, "not_upnp_gateway_addon"),
        ("local_upnp_gateway", False, "cannot_connect"),
    ],
)
async def test_addon_discovery_aborts(
    hass: HomeAssistant, gateway: RunningGateway, slug: str, reachable: bool, reason: str
) -> None:
    if not reachable:
        await gateway.stop()
    info = addon_discovery({"host": "127.0.0.1", "port": gateway.http_port}, slug=slug)

    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_HASSIO}, data=info
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason


async def test_reconfigure(
    hass: HomeAssistant, entry: MockConfigEntry, gateway: RunningGateway
) -> None:
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    new_url = gateway.url + "?moved"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: f"http://127.0.0.1:{free_port()}/rootDesc.xml"}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_URL: new_url})
    await hass.async_block_till_done()

    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_URL] == new_url


async def test_reconfigure_to_another_gateway(
    hass: HomeAssistant, entry: MockConfigEntry, other_gateway: RunningGateway
) -> None:
    result = await entry.start_reconfigure_flow(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: other_gateway.url}
    )

    assert result["reason"] == "unique_id_mismatch"


async def test_options(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_LEASE_WARNING: 600}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_LEASE_WARNING: 600}
