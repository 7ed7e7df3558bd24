"""Our gateway's IGD:1 face is the same gateway: one entry, one device, set up on the IGD:2 face.

Gateways of other makers are used as given; they are the daemon's own faces seen through a
rewriting proxy on loopback (another manufacturer, another serial number, a missing main face).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any
from unittest.mock import patch

import aiohttp
import pytest
from aiohttp import hdrs, web
from homeassistant.config_entries import SOURCE_SSDP, SOURCE_USER, ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.service_info.ssdp import SsdpServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.upnp_gateway.client import GatewayClient, async_connect
from custom_components.upnp_gateway.const import DOMAIN

from .conftest import RunningGateway, free_port

IGD1 = "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
IGD2 = "urn:schemas-upnp-org:device:InternetGatewayDevice:2"
IGD1_PATH = "/igd1/rootDesc.xml"
MAIN_PATH = "/rootDesc.xml"
# hop-by-hop and length headers the proxy leaves to its own HTTP stack (RFC 9110 7.6.1)
NOT_FORWARDED = frozenset({"host", "connection", "content-length", "transfer-encoding"})

ROUTER_URL = "http://192.0.2.1:5000/igd.xml"  # only listed, never reached
SEEN_ROUTER = SsdpServiceInfo(
    ssdp_usn=f"uuid:acme-router::{IGD1}",
    ssdp_st=IGD1,
    ssdp_location=ROUTER_URL,
    ssdp_udn="uuid:acme-router",
    upnp={"friendlyName": "Router", "deviceType": IGD1, "manufacturer": "Acme Networks"},
)

Rewrite = Callable[[str, bytes], bytes | None]  # (path, body) -> body, None for a 404
StartProxy = Callable[[Rewrite], Awaitable[str]]


@pytest.fixture
async def igd1_face(gateway: RunningGateway) -> AsyncIterator[GatewayClient]:
    """The gateway's IGD:1 face, read as an IGD:1 control point reads it."""
    async with aiohttp.ClientSession() as session:
        yield await async_connect(session, gateway.igd1_url)


@pytest.fixture
async def start_proxy(hass: HomeAssistant, gateway: RunningGateway) -> AsyncIterator[StartProxy]:
    """Start a proxy to the gateway that rewrites each body; its base URL."""
    runners: list[web.AppRunner] = []
    async with aiohttp.ClientSession() as session:

        async def start(rewrite: Rewrite) -> str:
            async def forward(request: web.Request) -> web.Response:
                async with session.request(
                    request.method,
                    f"http://127.0.0.1:{gateway.http_port}{request.path_qs}",
                    headers=_forwarded(request.headers),
                    data=await request.read(),
                ) as answer:
                    body = rewrite(request.path, await answer.read())
                    if body is None:
                        raise web.HTTPNotFound
                    return web.Response(
                        status=answer.status, body=body, headers=_forwarded(answer.headers)
                    )

            app = web.Application()
            app.router.add_route(hdrs.METH_ANY, "/{path:.*}", forward)
            runner = web.AppRunner(app)
            runners.append(runner)
            await runner.setup()
            port = free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            return f"http://127.0.0.1:{port}"

        yield start
        for entry in hass.config_entries.async_entries(DOMAIN):  # they may talk through it
            await hass.config_entries.async_unload(entry.entry_id)
        for runner in runners:
            await runner.cleanup()


def _forwarded(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() not in NOT_FORWARDED}


def another_maker(_path: str, body: bytes) -> bytes:
    return body.replace(b">UPnP Gateway</manufacturer>", b">Acme Networks</manufacturer>")


def main_face_of_another_gateway(path: str, body: bytes) -> bytes:
    if path != MAIN_PATH:
        return body
    return re.sub(rb"<serialNumber>[^<]*</serialNumber>", b"<serialNumber>X1</serialNumber>", body)


def no_main_face(path: str, body: bytes) -> bytes | None:
    return None if path == MAIN_PATH else body


def seen_face(url: str, face: GatewayClient) -> SsdpServiceInfo:
    """What HA's SSDP knows of a root device it heard (its description's fields)."""
    device = face.device
    return SsdpServiceInfo(
        ssdp_usn=f"{device.udn}::{device.device_type}",
        ssdp_st=device.device_type,
        ssdp_location=url,
        ssdp_udn=device.udn,
        upnp={
            "friendlyName": device.friendly_name,
            "deviceType": device.device_type,
            "manufacturer": device.manufacturer,
            "serialNumber": device.serial_number,
        },
    )


async def manual_flow(hass: HomeAssistant, url: str) -> dict[str, object]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_URL: url})
    await hass.async_block_till_done()
    return dict(result)


def only_entry(hass: HomeAssistant) -> ConfigEntry[Any]:
    """The one config entry of the integration (one gateway, one entry)."""
    entries = hass.config_entries.async_entries(DOMAIN)
    assert len(entries) == 1
    return entries[0]


async def test_manual_igd1_face_of_a_configured_gateway(
    hass: HomeAssistant, entry: MockConfigEntry, gateway: RunningGateway
) -> None:
    result = await manual_flow(hass, gateway.igd1_url)

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert only_entry(hass) is entry
    assert entry.data[CONF_URL] == gateway.url


async def test_manual_igd1_face_sets_up_the_igd2_face(
    hass: HomeAssistant, gateway: RunningGateway, lan_client: GatewayClient
) -> None:
    result = await manual_flow(hass, gateway.igd1_url)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_URL: gateway.url}
    entry = only_entry(hass)
    assert entry.unique_id == lan_client.udn
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.client.igd_version == 2
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert [device.identifiers for device in devices] == [{(DOMAIN, lan_client.udn)}]


async def test_ssdp_discovery_of_igd1_face_of_a_configured_gateway(
    hass: HomeAssistant, entry: MockConfigEntry, gateway: RunningGateway, igd1_face: GatewayClient
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_SSDP}, data=seen_face(gateway.igd1_url, igd1_face)
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert only_entry(hass) is entry
    assert entry.data[CONF_URL] == gateway.url


async def test_ssdp_discovery_of_igd1_face_offers_the_igd2_face(
    hass: HomeAssistant,
    gateway: RunningGateway,
    igd1_face: GatewayClient,
    lan_client: GatewayClient,
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_SSDP}, data=seen_face(gateway.igd1_url, igd1_face)
    )
    assert result["step_id"] == "discovery_confirm"
    assert result["description_placeholders"] == {
        "name": igd1_face.device.friendly_name,
        CONF_URL: gateway.url,
    }

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_URL: gateway.url}
    assert only_entry(hass).unique_id == lan_client.udn


async def test_ssdp_discovery_of_igd1_face_gone(
    hass: HomeAssistant, gateway: RunningGateway, igd1_face: GatewayClient
) -> None:
    """Unreachable at discovery: offered as announced; the confirmation says it cannot connect."""
    await gateway.stop()
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_SSDP}, data=seen_face(gateway.igd1_url, igd1_face)
    )
    assert result["step_id"] == "discovery_confirm"

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})

    assert result["errors"] == {"base": "cannot_connect"}


async def test_reconfigure_to_igd1_face_keeps_the_igd2_face(
    hass: HomeAssistant, entry: MockConfigEntry, gateway: RunningGateway
) -> None:
    result = await entry.start_reconfigure_flow(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: gateway.igd1_url}
    )
    await hass.async_block_till_done()

    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_URL] == gateway.url


async def seen_choices(
    hass: HomeAssistant, gateway: RunningGateway, igd2_face: GatewayClient, igd1_face: GatewayClient
) -> list[str]:
    """The user step's choices when both faces and another maker's IGD:1 router were heard."""
    by_st = {
        IGD2: [seen_face(gateway.url, igd2_face)],
        IGD1: [seen_face(gateway.igd1_url, igd1_face), SEEN_ROUTER],
    }
    with patch(
        "homeassistant.components.ssdp.async_get_discovery_info_by_st",
        side_effect=lambda _hass, st: by_st[st],
    ):
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    schema = result["data_schema"]
    assert schema is not None
    selector = next(iter(schema.schema.values()))
    return [option["value"] for option in selector.config["options"]]


async def test_seen_gateways_list_our_gateway_once(
    hass: HomeAssistant,
    gateway: RunningGateway,
    lan_client: GatewayClient,
    igd1_face: GatewayClient,
) -> None:
    choices = await seen_choices(hass, gateway, lan_client, igd1_face)

    assert choices == [gateway.url, ROUTER_URL, "manual"]


async def test_seen_gateways_leave_out_every_face_of_a_configured_gateway(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    gateway: RunningGateway,
    lan_client: GatewayClient,
    igd1_face: GatewayClient,
) -> None:
    choices = await seen_choices(hass, gateway, lan_client, igd1_face)

    assert choices == [ROUTER_URL, "manual"]


async def test_another_makers_igd1_router_is_used_as_given(
    hass: HomeAssistant, start_proxy: StartProxy, igd1_face: GatewayClient
) -> None:
    router_url = await start_proxy(another_maker) + IGD1_PATH

    result = await manual_flow(hass, router_url)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_URL: router_url}
    entry = only_entry(hass)
    assert entry.unique_id == igd1_face.udn
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.client.igd_version == 1


@pytest.mark.parametrize("rewrite", [main_face_of_another_gateway, no_main_face])
async def test_igd1_face_without_its_main_face_is_used_as_given(
    hass: HomeAssistant, start_proxy: StartProxy, igd1_face: GatewayClient, rewrite: Rewrite
) -> None:
    url = await start_proxy(rewrite) + IGD1_PATH

    result = await manual_flow(hass, url)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_URL: url}
    assert only_entry(hass).unique_id == igd1_face.udn
