"""Home Assistant's own `upnp` integration offers our gateway once, though it shows two faces.

The gateway announces an IGD:2 and an IGD:1 root device (addon/igd/upnp/devices.py). HA's
`upnp` flow keys on the USN of an IGD type it hears, so each announced IGD type would be a card
of its own. Here the real daemon answers a real ssdp:all search on loopback; every answer that
HA's `ssdp` would hand to `upnp` (its manifest's st/nt matchers) starts HA's real config flow.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any
from unittest.mock import patch
from urllib.parse import urlparse

import aiohttp
import homeassistant.components.upnp as builtin_upnp
from async_upnp_client.aiohttp import AiohttpSessionRequester
from async_upnp_client.description_cache import DescriptionCache
from homeassistant.config_entries import SOURCE_SSDP
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.ssdp import SsdpServiceInfo

from tests.integration.conftest import RunningGateway

SEARCH = (
    b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
    b'MAN: "ssdp:discover"\r\nST: ssdp:all\r\n\r\n'
)
SEARCH_SECONDS = 2.0  # a unicast search is answered at once; this bounds the wait
UPNP = "upnp"  # Home Assistant's own UPnP/IGD integration
UPNP_MANIFEST = Path(builtin_upnp.__file__).with_name("manifest.json")


def _search_all() -> list[dict[str, str]]:
    """The gateway's answers to a unicast ssdp:all on loopback, as header dicts."""
    answers: list[dict[str, str]] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as searcher:
        searcher.bind(("127.0.0.1", 0))
        searcher.settimeout(SEARCH_SECONDS)
        searcher.sendto(SEARCH, ("127.0.0.1", 1900))
        for _ in range(100):
            try:
                datagram = searcher.recv(1500)
            except TimeoutError:
                break
            lines = datagram.decode().split("\r\n")[1:]
            pairs = (line.partition(":") for line in lines if ":" in line)
            answers.append({name.strip().upper(): value.strip() for name, _, value in pairs})
    return answers


def _offered_to_upnp(answers: list[dict[str, str]]) -> list[dict[str, str]]:
    """The answers HA's ssdp hands to `upnp`: st/nt equal to one of its manifest's matchers."""
    matchers = json.loads(UPNP_MANIFEST.read_text())["ssdp"]
    wanted = {matcher.get("st") or matcher.get("nt") for matcher in matchers}
    return [answer for answer in answers if answer["ST"] in wanted]


async def _discover(hass: HomeAssistant, answers: list[dict[str, str]]) -> None:
    async with aiohttp.ClientSession() as session:
        descriptions = DescriptionCache(AiohttpSessionRequester(session))
        for answer in answers:
            location = answer["LOCATION"]
            upnp = dict(await descriptions.async_get_description_dict(location) or {})
            headers: dict[str, Any] = {**answer, "_host": urlparse(location).hostname}
            info = SsdpServiceInfo(
                ssdp_usn=answer["USN"],
                ssdp_st=answer["ST"],
                ssdp_location=location,
                ssdp_udn=answer["USN"].split("::")[0],
                ssdp_headers=headers,
                ssdp_all_locations={location},
                upnp=upnp,
            )
            await hass.config_entries.flow.async_init(
                UPNP, context={"source": SOURCE_SSDP}, data=info
            )
        await hass.async_block_till_done()


async def test_builtin_upnp_offers_the_gateway_once(
    hass: HomeAssistant, gateway: RunningGateway
) -> None:
    answers = await hass.async_add_executor_job(_search_all)
    offered = _offered_to_upnp(answers)

    with (
        patch("homeassistant.components.upnp.async_setup_entry", return_value=True),
        patch(
            "homeassistant.components.upnp.config_flow.async_get_mac_address_from_host",
            return_value=None,
        ),
    ):
        await _discover(hass, offered)
        cards = hass.config_entries.flow.async_progress_by_handler(UPNP)
        assert len(cards) == 1
        result = await hass.config_entries.flow.async_configure(cards[0]["flow_id"], {})
        await _discover(hass, offered)  # the next announcements
        entries = hass.config_entries.async_entries(UPNP)
        left = hass.config_entries.flow.async_progress_by_handler(UPNP)

    assert {answer["LOCATION"].rsplit(":", 1)[1] for answer in answers} == {
        f"{gateway.http_port}/rootDesc.xml",
        f"{gateway.http_port}/igd1/rootDesc.xml",
    }  # both faces are there, on one host
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(entries) == 1
    assert entries[0].data["st"] == "urn:schemas-upnp-org:device:InternetGatewayDevice:2"
    assert left == []
