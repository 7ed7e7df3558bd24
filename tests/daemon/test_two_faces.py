"""The two root devices over one core (igd2-device.md 7.1b): who answers which search, and
DeletePortMapping with an empty NewProtocol through SOAP onto the real core."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from igd.core.records import Caller
from igd.options import OptionsError, parse_options
from igd.upnp.devices import device_udns
from igd.upnp.faces import ssdp_faces
from igd.upnp.ssdp_messages import match_search
from tests.daemon.upnp_support import (
    CONSOLE,
    DEVICE_UUID,
    Gateway,
    arguments,
    build_app,
    build_gateway,
    envelope,
    soap_headers,
)

type ClientFactory = Callable[..., Awaitable[TestClient]]  # type: ignore[type-arg]

DEVICE = "urn:schemas-upnp-org:device"
SERVICE = "urn:schemas-upnp-org:service"
V1 = f"{SERVICE}:WANIPConnection:1"
V2 = f"{SERVICE}:WANIPConnection:2"
IGD2_ROOT = device_udns(DEVICE_UUID, 2).root
IGD1_ROOT = device_udns(DEVICE_UUID, 1).root
NEIGHBOUR = Caller(address="192.168.50.11", authorized=False)


@pytest.fixture
async def gateway() -> Gateway:
    return await build_gateway()


@pytest.fixture
async def client(gateway: Gateway, aiohttp_client: ClientFactory) -> TestClient:  # type: ignore[type-arg]
    return await aiohttp_client(build_app(gateway))


def _answers(gateway: Gateway, announce: str, search_target: str) -> list[tuple[str, str, str]]:
    """(description path, ST, USN) of every answer the announced faces give to a search."""
    return [
        (tree.description_path, st, usn)
        for tree, targets in ssdp_faces(gateway.devices, announce)
        for st, usn in match_search(search_target, targets)
    ]


@pytest.mark.parametrize(
    "search_target",
    [f"{DEVICE}:InternetGatewayDevice:1", V1, f"{SERVICE}:WANPPPConnection:1"],
)
async def test_a_v1_search_reaches_only_the_igd1_device(
    gateway: Gateway, search_target: str
) -> None:
    answers = _answers(gateway, "both", search_target)

    assert [(path, st) for path, st, _ in answers] == [("/igd1/rootDesc.xml", search_target)]


async def test_an_igd2_search_reaches_only_the_igd2_device(gateway: Gateway) -> None:
    answers = _answers(gateway, "both", f"{DEVICE}:InternetGatewayDevice:2")

    assert answers == [
        (
            "/rootDesc.xml",
            f"{DEVICE}:InternetGatewayDevice:2",
            f"{IGD2_ROOT}::{DEVICE}:InternetGatewayDevice:2",
        )
    ]


async def test_both_devices_answer_rootdevice_searches(gateway: Gateway) -> None:
    answers = _answers(gateway, "both", "upnp:rootdevice")

    assert {path for path, _, _ in answers} == {"/rootDesc.xml", "/igd1/rootDesc.xml"}


async def test_the_igd1_type_is_answered_but_never_announced_beside_igd2(
    gateway: Gateway,
) -> None:
    # Home Assistant's upnp integration would otherwise offer the gateway twice
    announced = {
        target.nt
        for _, targets in ssdp_faces(gateway.devices, "both")
        for target in targets
        if target.announced
    }
    everything = {st for _, st, _ in _answers(gateway, "both", "ssdp:all")}

    assert f"{DEVICE}:InternetGatewayDevice:2" in announced
    assert f"{DEVICE}:InternetGatewayDevice:1" not in announced | everything
    assert {IGD1_ROOT, V1, "upnp:rootdevice"} <= everything
    announcements = [t for _, ts in ssdp_faces(gateway.devices, "both") for t in ts if t.announced]
    assert len(announcements) == 10 + 9  # IGD:2's whole set, IGD:1's less its root type


async def test_alone_the_igd2_device_answers_older_versions_too(gateway: Gateway) -> None:
    answers = _answers(gateway, "igd2", f"{DEVICE}:InternetGatewayDevice:1")
    ppp = _answers(gateway, "igd2", f"{SERVICE}:WANPPPConnection:1")

    assert [(path, usn) for path, _, usn in answers] == [
        ("/rootDesc.xml", f"{IGD2_ROOT}::{DEVICE}:InternetGatewayDevice:1")
    ]
    assert [path for path, _, _ in ppp] == ["/rootDesc.xml"]


async def test_alone_the_igd1_device_announces_its_type(gateway: Gateway) -> None:
    faces = ssdp_faces(gateway.devices, "igd1")

    assert [tree.description_path for tree, _ in faces] == ["/igd1/rootDesc.xml"]
    assert all(target.announced for target in faces[0][1] if "WANPPP" not in target.nt)
    assert _answers(gateway, "igd1", f"{DEVICE}:InternetGatewayDevice:2") == []


@pytest.mark.parametrize(
    ("raw", "announce"),
    [
        ({}, "both"),
        ({"announce": "igd2"}, "igd2"),
        ({"announce": "igd1"}, "igd1"),
        ({"igd_version": 1}, "igd1"),
        ({"igd_version": 1, "announce": "igd1"}, "igd1"),
    ],
)
def test_announce_option_and_igd_version_agree(raw: dict[str, object], announce: str) -> None:
    assert parse_options(raw).announce == announce


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"igd_version": 1, "announce": "igd2"}, "igd_version 1 serves IGD:1 only"),
        ({"announce": "igd3"}, "announce: value must be one of"),
    ],
)
def test_contradicting_or_unknown_announce_is_refused(raw: dict[str, object], message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        parse_options(raw)


async def _call(client: TestClient, service: str, action: str, **values: object) -> str:  # type: ignore[type-arg]
    response = await client.post(
        "/ctl/IPConn",
        data=envelope(service, action, arguments(**values)),
        headers=soap_headers(service, action),
    )
    return f"{response.status} {await response.text()}"


async def _add(client: TestClient, protocol: str, port: int = 18000) -> None:  # type: ignore[type-arg]
    answer = await _call(
        client,
        V1,
        "AddPortMapping",
        NewRemoteHost="",
        NewExternalPort=port,
        NewProtocol=protocol,
        NewInternalPort=8000,
        NewInternalClient=CONSOLE.address,
        NewEnabled=1,
        NewPortMappingDescription="p2p",
        NewLeaseDuration=3600,
    )
    assert answer.startswith("200"), answer


def _delete_empty(port: int = 18000) -> dict[str, object]:
    return {"NewRemoteHost": "", "NewExternalPort": port, "NewProtocol": ""}


@pytest.mark.parametrize("service", [V1, V2])
async def test_empty_protocol_deletes_the_callers_tcp_and_udp(
    gateway: Gateway,
    client: TestClient,  # type: ignore[type-arg]
    service: str,
) -> None:
    gateway.caller = CONSOLE
    await _add(client, "TCP")
    await _add(client, "UDP")
    await _add(client, "UDP", port=18001)
    before = gateway.mappings.system_update_id

    answer = await _call(client, service, "DeletePortMapping", **_delete_empty())

    assert answer.startswith("200"), answer
    assert gateway.mappings.number_of_entries == 1  # the other port stays
    assert gateway.mappings.system_update_id > before


async def test_empty_protocol_deletes_the_one_protocol_mapped(
    gateway: Gateway,
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    gateway.caller = CONSOLE
    await _add(client, "UDP")

    answer = await _call(client, V2, "DeletePortMapping", **_delete_empty())

    assert answer.startswith("200"), answer
    assert gateway.mappings.number_of_entries == 0


async def test_empty_protocol_with_nothing_mapped_is_714(
    gateway: Gateway,
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    gateway.caller = CONSOLE

    answer = await _call(client, V2, "DeletePortMapping", **_delete_empty())

    assert answer.startswith("500")
    assert "<errorCode>714</errorCode>" in answer


@pytest.mark.parametrize("authorized", [False, True])
async def test_empty_protocol_never_deletes_another_hosts_mapping(
    gateway: Gateway,
    client: TestClient,  # type: ignore[type-arg]
    authorized: bool,
) -> None:
    gateway.caller = CONSOLE
    await _add(client, "TCP")
    gateway.caller = Caller(address=NEIGHBOUR.address, authorized=authorized)

    answer = await _call(client, V2, "DeletePortMapping", **_delete_empty())

    assert answer.startswith("500")
    assert "<errorCode>606</errorCode>" in answer
    assert gateway.mappings.number_of_entries == 1


async def test_a_named_protocol_still_deletes_only_that_one(
    gateway: Gateway,
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    gateway.caller = CONSOLE
    await _add(client, "TCP")
    await _add(client, "UDP")

    answer = await _call(
        client, V2, "DeletePortMapping", NewRemoteHost="", NewExternalPort=18000, NewProtocol="UDP"
    )

    assert answer.startswith("200"), answer
    assert gateway.mappings.number_of_entries == 1
