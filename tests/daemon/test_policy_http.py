"""Policy and eventing safety through the assembled gateway (loopback demo, memory backend).

What a control point meets over real HTTP: refusals with the spec's error and a log line naming
the rule, the gateway host trusted (or not), CallStranger callbacks refused, and one stalled
subscriber holding up no one else.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from igd.daemon import Gateway
from igd.upnp.refusal_log import LINES_PER_SOURCE
from tests.daemon.gateway_support import Started
from tests.daemon.gena_support import NotifyReceiver
from tests.daemon.upnp_support import arguments, envelope, soap_headers

WANIP2 = "urn:schemas-upnp-org:service:WANIPConnection:2"
type ServerFactory = Callable[..., Awaitable[TestServer]]


async def _soap(gateway: Gateway, action: str, **values: object) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://127.0.0.1:{gateway.port}/ctl/IPConn",
            data=envelope(WANIP2, action, arguments(**values)),
            headers=soap_headers(WANIP2, action),
        ) as response,
    ):
        return response.status, await response.text()


async def _subscribe(gateway: Gateway, callback: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            "SUBSCRIBE",
            f"http://127.0.0.1:{gateway.port}/evt/IPConn",
            headers={"CALLBACK": f"<{callback}>", "NT": "upnp:event"},
        ) as response,
    ):
        return response.status


def _mapping(client: str, external_port: int, internal_port: int = 8000) -> dict[str, object]:
    return {
        "NewRemoteHost": "",
        "NewExternalPort": external_port,
        "NewProtocol": "UDP",
        "NewInternalPort": internal_port,
        "NewInternalClient": client,
        "NewEnabled": 1,
        "NewPortMappingDescription": "test",
        "NewLeaseDuration": 3600,
    }


def _error(body: str) -> str:
    return body.partition("<errorCode>")[2].partition("</errorCode>")[0]


async def test_a_denying_rule_is_606_and_the_log_names_it(
    start_gateway: Started, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = await start_gateway(
        permission_rules=["deny 3389 0.0.0.0/0 0-65535", "allow 1024-65535 127.0.0.0/8 1024-65535"]
    )
    caplog.set_level(logging.INFO, logger="igd")

    refused = await _soap(gateway, "AddPortMapping", **_mapping("127.0.0.1", 3389))
    allowed = await _soap(gateway, "AddPortMapping", **_mapping("127.0.0.1", 3390))

    assert (refused[0], _error(refused[1])) == (500, "606")
    assert allowed[0] == 200
    assert (
        "AddPortMapping from 127.0.0.1 refused: 606 Action not authorized: "
        "permission rule 1 'deny 3389 0.0.0.0/0 0-65535' denies"
    ) in caplog.messages


async def test_without_a_matching_rule_add_any_is_606(start_gateway: Started) -> None:
    gateway = await start_gateway(permission_rules=["allow 2000-2001 127.0.0.0/8 9000"])

    other_internal_port = await _soap(gateway, "AddAnyPortMapping", **_mapping("127.0.0.1", 2000))
    chosen = await _soap(gateway, "AddAnyPortMapping", **_mapping("127.0.0.1", 5555, 9000))

    assert _error(other_internal_port[1]) == "606"
    assert chosen[0] == 200
    assert "<NewReservedPort>200" in chosen[1]  # 2000 or 2001, the only ports allowed


@pytest.mark.parametrize("client", ["0.0.0.0", "224.0.0.1", "255.255.255.255", "8.8.8.8"])
async def test_a_trusted_control_point_cannot_point_a_mapping_outside_the_lan(
    start_gateway: Started, client: str
) -> None:
    gateway = await start_gateway()

    for action in ("AddPortMapping", "AddAnyPortMapping"):
        status, body = await _soap(gateway, action, **_mapping(client, 18000))

        assert (status, _error(body)) == (500, "606")


async def test_argument_errors_come_before_the_policy(start_gateway: Started) -> None:
    gateway = await start_gateway()

    wildcard = await _soap(gateway, "AddAnyPortMapping", **_mapping("", 18000))
    malformed = await _soap(gateway, "AddAnyPortMapping", **_mapping("host.lan", 18000))
    port_zero = await _soap(gateway, "AddPortMapping", **_mapping("8.8.8.8", 18000, 0))

    assert [_error(wildcard[1]), _error(malformed[1]), _error(port_zero[1])] == [
        "715",
        "600",
        "732",
    ]


async def test_refusals_are_logged_a_few_times_per_source_then_held_back(
    start_gateway: Started, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = await start_gateway(trust_gateway_host=False)
    caplog.set_level(logging.INFO, logger="igd")

    for port in range(18000, 18000 + 3 * LINES_PER_SOURCE):
        status, _ = await _soap(gateway, "AddPortMapping", **_mapping("127.0.0.2", port))
        assert status == 500

    refusals = [message for message in caplog.messages if "refused: 606" in message]
    assert len(refusals) == LINES_PER_SOURCE
    assert "further refusals for 127.0.0.1 are not logged for 60 s" in caplog.messages


@pytest.mark.parametrize(("trust", "expected"), [(True, "731"), (False, "606")])
async def test_the_gateway_host_may_use_the_connection_actions_when_trusted(
    start_gateway: Started, trust: bool, expected: str
) -> None:
    """SetConnectionType is 731 (the type is fixed) for a trusted caller, 606 for others (R7)."""
    gateway = await start_gateway(trust_gateway_host=trust)

    _, body = await _soap(gateway, "SetConnectionType", NewConnectionType="IP_Routed")
    mapped = await _soap(gateway, "AddPortMapping", **_mapping("127.0.0.2", 18000))

    assert _error(body) == expected
    assert (mapped[0] == 200) is trust


async def test_a_callback_to_another_host_is_refused_through_the_whole_app(
    start_gateway: Started, aiohttp_server: ServerFactory
) -> None:
    """CallStranger (CVE-2020-12695): the callback must be the subscriber's own address."""
    gateway = await start_gateway()
    elsewhere, own = NotifyReceiver(), NotifyReceiver()
    elsewhere_server = await aiohttp_server(elsewhere.app(), host="127.0.0.2")
    own_server = await aiohttp_server(own.app(), host="127.0.0.1")

    foreign = await _subscribe(gateway, f"http://127.0.0.2:{elsewhere_server.port}/")
    accepted = await _subscribe(gateway, f"http://127.0.0.1:{own_server.port}/")
    first = await own.next()

    assert foreign == 412
    assert accepted == 200
    assert first.headers["SEQ"] == "0"
    assert elsewhere.events.empty()  # the own subscriber's event came; nothing went elsewhere


async def test_a_stalled_subscriber_holds_up_no_other(
    start_gateway: Started, aiohttp_server: ServerFactory
) -> None:
    gateway = await start_gateway()
    stalled, live = NotifyReceiver(), NotifyReceiver()
    stalled.stall = True  # takes the NOTIFY and never answers
    stalled_server = await aiohttp_server(stalled.app(), host="127.0.0.1")
    live_server = await aiohttp_server(live.app(), host="127.0.0.1")

    try:
        await _subscribe(gateway, f"http://127.0.0.1:{stalled_server.port}/")
        await stalled.next()
        await _subscribe(gateway, f"http://127.0.0.1:{live_server.port}/")
        await live.next()
        await _soap(gateway, "AddPortMapping", **_mapping("127.0.0.1", 18000))
        event = await live.next()
    finally:
        stalled.release.set()

    assert event.headers["SEQ"] == "1"
    assert event.values["PortMappingNumberOfEntries"] == "1"
    assert stalled.events.empty()  # still on its first NOTIFY, unanswered, while the other got two
