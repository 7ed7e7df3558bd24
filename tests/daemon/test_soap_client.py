"""async-upnp-client's own client (what Home Assistant's `upnp` uses) against us over HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from ipaddress import IPv4Address

import pytest
from aiohttp.test_utils import TestServer
from async_upnp_client.aiohttp import AiohttpRequester
from async_upnp_client.client import UpnpDevice
from async_upnp_client.client_factory import UpnpFactory
from async_upnp_client.exceptions import UpnpActionResponseError
from async_upnp_client.profiles.igd import IgdDevice

from tests.daemon.upnp_support import Gateway, build_app, build_gateway

type ServerFactory = Callable[..., Awaitable[TestServer]]

V2 = "urn:schemas-upnp-org:service:WANIPConnection:2"
V1 = "urn:schemas-upnp-org:service:WANIPConnection:1"


@pytest.fixture
async def gateway() -> Gateway:
    return await build_gateway()


@pytest.fixture
async def server(gateway: Gateway, aiohttp_server: ServerFactory) -> TestServer:
    return await aiohttp_server(build_app(gateway))


async def load(server: TestServer, path: str) -> UpnpDevice:
    return await UpnpFactory(AiohttpRequester()).async_create_device(str(server.make_url(path)))


async def test_igd_profile_reads_and_adds(server: TestServer, gateway: Gateway) -> None:
    igd = IgdDevice(await load(server, "/rootDesc.xml"), None)
    assert await igd.async_get_external_ip_address() == "203.0.113.1"
    status = await igd.async_get_status_info()
    assert status is not None
    assert status.connection_status == "Connected"
    rsip = await igd.async_get_nat_rsip_status()
    assert rsip is not None
    assert rsip.nat_enabled is True
    assert await igd.async_get_total_bytes_received() == 123456
    await igd.async_add_port_mapping(
        remote_host=IPv4Address("0.0.0.0"),  # the profile's "any host"
        external_port=51413,
        protocol="UDP",
        internal_port=51413,
        internal_client=IPv4Address("192.168.50.10"),
        enabled=True,
        description="Transmission",
        lease_duration=timedelta(hours=1),
    )
    entry = await igd.async_get_generic_port_mapping_entry(0)
    assert entry is not None
    assert (entry.external_port, entry.protocol, entry.description) == (
        51413,
        "UDP",
        "Transmission",
    )
    assert gateway.mappings.number_of_entries == 1


async def test_v2_actions_and_faults_through_the_client(server: TestServer) -> None:
    device = await load(server, "/rootDesc.xml")
    service = device.find_service(V2)
    assert service is not None
    result = await service.action("AddAnyPortMapping").async_call(
        NewRemoteHost="",
        NewExternalPort=0,
        NewProtocol="TCP",
        NewInternalPort=8080,
        NewInternalClient="192.168.50.10",
        NewEnabled=True,
        NewPortMappingDescription="web",
        NewLeaseDuration=600,
    )
    assert 1 <= result["NewReservedPort"] <= 65535
    with pytest.raises(UpnpActionResponseError) as error:
        await service.action("GetGenericPortMappingEntry").async_call(NewPortMappingIndex=5)
    assert (error.value.error_code, error.value.error_desc) == (713, "SpecifiedArrayIndexInvalid")


async def test_igd1_device_serves_a_v1_client(server: TestServer) -> None:
    device = await load(server, "/igd1/rootDesc.xml")
    service = device.find_service(V1)
    assert service is not None
    answer = await service.action("GetExternalIPAddress").async_call()
    assert answer == {"NewExternalIPAddress": "203.0.113.1"}
