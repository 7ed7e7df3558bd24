"""The mapping limits as options: the assembled gateway refuses past them with 728 (A13)."""

from __future__ import annotations

import aiohttp

from igd.daemon import Gateway
from tests.daemon.gateway_support import Started
from tests.daemon.upnp_support import arguments, envelope, soap_headers

WANIP2 = "urn:schemas-upnp-org:service:WANIPConnection:2"
NO_PORT_MAPS_AVAILABLE = "728"  # WANIPConnection:2 2.4


async def _add(gateway: Gateway, external_port: int) -> str:
    """AddPortMapping from the loopback demo's client to itself; the error code, "" when done."""
    mapping = {
        "NewRemoteHost": "",
        "NewExternalPort": external_port,
        "NewProtocol": "TCP",
        "NewInternalPort": external_port,
        "NewInternalClient": "127.0.0.1",
        "NewEnabled": 1,
        "NewPortMappingDescription": "limit",
        "NewLeaseDuration": 3600,
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://127.0.0.1:{gateway.port}/ctl/IPConn",
            data=envelope(WANIP2, "AddPortMapping", arguments(**mapping)),
            headers=soap_headers(WANIP2, "AddPortMapping"),
        ) as response,
    ):
        body = await response.text()
    return body.partition("<errorCode>")[2].partition("</errorCode>")[0]


async def test_one_client_may_hold_up_to_its_own_limit(start_gateway: Started) -> None:
    gateway = await start_gateway(max_mappings_per_client=2)

    added = [await _add(gateway, port) for port in (20001, 20002)]

    assert added == ["", ""]
    assert await _add(gateway, 20003) == NO_PORT_MAPS_AVAILABLE


async def test_the_whole_table_stops_at_the_global_limit(start_gateway: Started) -> None:
    gateway = await start_gateway(max_mappings=1, max_mappings_per_client=100)

    assert await _add(gateway, 20001) == ""
    assert await _add(gateway, 20002) == NO_PORT_MAPS_AVAILABLE


async def test_raised_limits_let_one_client_pass_the_defaults(start_gateway: Started) -> None:
    gateway = await start_gateway(max_mappings=200, max_mappings_per_client=200)

    added = [await _add(gateway, port) for port in range(20001, 20101)]

    assert added == [""] * 100
