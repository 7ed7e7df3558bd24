"""Fixtures for the integration's tests: the real daemon on loopback, and Home Assistant with it.

The gateway runs in the test's own event loop (memory backend, LAN `lo`, a free port, a tmp data
dir), so Home Assistant talks real SOAP, GENA and HTTP to it over 127.0.0.1 and nothing is mocked.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from homeassistant.const import CONF_URL
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.upnp_gateway.client import GatewayClient, async_connect
from custom_components.upnp_gateway.const import CONF_LEASE_WARNING, DOMAIN
from igd.daemon import Gateway
from igd.options import parse_options

WAIT_STEP = 0.01  # seconds between two looks in wait_for
WAIT_LIMIT = 10.0  # seconds before wait_for gives up


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/ from this repository."""


@pytest.fixture(autouse=True)
def sockets(socket_enabled: None) -> None:
    """The gateway and `ssdp`/`network` use real sockets (on loopback)."""


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class RunningGateway:
    """The daemon as a test drives it: start and stop it, and talk to it as a LAN client would."""

    data_dir: Path
    http_port: int
    igd_version: int
    external_ip: str | None = None
    gateway: Gateway | None = None

    @property
    def url(self) -> str:
        """The root description's URL."""
        return f"http://127.0.0.1:{self.http_port}/rootDesc.xml"

    @property
    def igd1_url(self) -> str:
        """The IGD:1 face's description URL (the same gateway as a second root device)."""
        return f"http://127.0.0.1:{self.http_port}/igd1/rootDesc.xml"

    async def start(self) -> None:
        """Start the daemon (again: same port and data dir, hence the same UDN)."""
        options = parse_options(
            {
                "wan_interface": "lo",
                "lan_interfaces": ["lo"],
                "backend": "memory",
                "data_dir": str(self.data_dir),
                "http_port": self.http_port,
                "igd_version": self.igd_version,
                "min_lease": 1,
                "trusted_control_points": ["127.0.0.1"],
                "external_ip": self.external_ip,
            }
        )
        self.gateway = Gateway(options)
        await self.gateway.start()

    async def stop(self) -> None:
        """Stop the daemon (it says byebye and stops serving)."""
        if self.gateway is not None:
            await self.gateway.stop()
            self.gateway = None


async def _running_gateway(
    hass: HomeAssistant, tmp_path: Path, igd_version: int
) -> AsyncIterator[RunningGateway]:
    running = RunningGateway(tmp_path / "gateway", free_port(), igd_version)
    await running.start()
    try:
        yield running
    finally:
        # Home Assistant lets go of the gateway first: a request reaching a server that is
        # closing trips an assertion in CPython 3.13.0's asyncio (fixed in later releases)
        for entry in hass.config_entries.async_entries(DOMAIN):
            await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        await running.stop()


@pytest.fixture
async def gateway(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[RunningGateway]:
    """An IGD:2 gateway (with its IGD:1 face for v1-only clients)."""
    async for running in _running_gateway(hass, tmp_path, 2):
        yield running


@pytest.fixture
async def gateway_v1(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[RunningGateway]:
    """The gateway in IGD:1-only mode: no GetListOfPortMappings, AddAny..., DeleteRange."""
    async for running in _running_gateway(hass, tmp_path, 1):
        yield running


@pytest.fixture
async def lan_client(gateway: RunningGateway) -> AsyncIterator[GatewayClient]:
    """Another control point on the LAN (its own HTTP session), to change the table behind HA."""
    async with aiohttp.ClientSession() as session:
        yield await async_connect(session, gateway.url)


async def wait_for(predicate: Callable[[], Any], limit: float = WAIT_LIMIT) -> Any:
    """Let the loop run until `predicate()` is truthy; its value (AssertionError after `limit`)."""
    for _ in range(int(limit / WAIT_STEP)):
        value = predicate()
        if value:
            return value
        await asyncio.sleep(WAIT_STEP)
    raise AssertionError(f"still false after {limit} s")


@pytest.fixture
def lease_warning() -> int:
    """The lease_expiring option (seconds); tests override it with a parametrize."""
    return 300


@pytest.fixture
async def entry(
    gateway: RunningGateway, hass: HomeAssistant, lease_warning: int
) -> MockConfigEntry:
    """The gateway set up in Home Assistant, through its config entry."""
    async with aiohttp.ClientSession() as session:
        udn = (await async_connect(session, gateway.url)).udn
    config_entry = MockConfigEntry(
        domain=DOMAIN,
        title="UPnP Gateway",
        unique_id=udn,
        data={CONF_URL: gateway.url},
        options={CONF_LEASE_WARNING: lease_warning},
    )
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


def entity_id_of(hass: HomeAssistant, platform: str, udn: str, key: str) -> str | None:
    """The entity id registered for one of the gateway's entities (by its unique id)."""
    return er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{udn}_{key}")


def state_of(hass: HomeAssistant, entity_id: str | None) -> State:
    """The entity's state, which must exist."""
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state
