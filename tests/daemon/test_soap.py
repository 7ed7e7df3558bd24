"""SOAP framing: what reaches a handler, and the HTTP answer or fault for everything else."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeElementTree
import pytest
from aiohttp.test_utils import TestClient

from igd.upnp.soap import MAX_BODY_BYTES
from tests.daemon.upnp_support import (
    Gateway,
    arguments,
    build_app,
    build_gateway,
    envelope,
    soap_headers,
)

type ClientFactory = Callable[..., Awaitable[TestClient]]  # type: ignore[type-arg]

V1 = "urn:schemas-upnp-org:service:WANIPConnection:1"
V2 = "urn:schemas-upnp-org:service:WANIPConnection:2"
CONTROL = "/ctl/IPConn"
SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"
CONTROL_NS = "{urn:schemas-upnp-org:control-1-0}"


@pytest.fixture
async def gateway() -> Gateway:
    return await build_gateway()


@pytest.fixture
async def client(gateway: Gateway, aiohttp_client: ClientFactory) -> TestClient:  # type: ignore[type-arg]
    return await aiohttp_client(build_app(gateway))


async def call(
    client: TestClient,  # type: ignore[type-arg]
    action: str,
    body_arguments: str = "",
    *,
    service_type: str = V2,
    path: str = CONTROL,
) -> tuple[int, Element]:
    response = await client.post(
        path,
        data=envelope(service_type, action, body_arguments),
        headers=soap_headers(service_type, action),
    )
    return response.status, SafeElementTree.fromstring(await response.read())


def fault(document: Element) -> tuple[str | None, str | None]:
    error = document.find(f"{SOAP}Body/{SOAP}Fault/detail/{CONTROL_NS}UPnPError")
    assert error is not None
    return error.findtext(f"{CONTROL_NS}errorCode"), error.findtext(f"{CONTROL_NS}errorDescription")


def result(document: Element, service_type: str, action: str) -> list[tuple[str, str]]:
    element = document.find(f"{SOAP}Body/{{{service_type}}}{action}Response")
    assert element is not None
    return [(child.tag, child.text or "") for child in element]


async def test_success_answers_in_the_namespace_of_the_request(client: TestClient) -> None:  # type: ignore[type-arg]
    for service_type in (V2, V1):
        status, document = await call(client, "GetExternalIPAddress", service_type=service_type)
        assert status == 200
        assert result(document, service_type, "GetExternalIPAddress") == [
            ("NewExternalIPAddress", "203.0.113.1")
        ]


async def test_success_headers(client: TestClient) -> None:  # type: ignore[type-arg]
    response = await client.post(
        CONTROL,
        data=envelope(V2, "GetStatusInfo"),
        headers=soap_headers(V2, "GetStatusInfo"),
    )
    assert response.status == 200
    assert response.headers["Content-Type"] == 'text/xml; charset="utf-8"'
    assert response.headers["EXT"] == ""


async def test_out_arguments_come_in_scpd_order(client: TestClient) -> None:  # type: ignore[type-arg]
    status, document = await call(client, "GetStatusInfo")
    assert status == 200
    assert [name for name, _ in result(document, V2, "GetStatusInfo")] == [
        "NewConnectionStatus",
        "NewLastConnectionError",
        "NewUptime",
    ]
    _, document = await call(client, "GetNATRSIPStatus")
    assert result(document, V2, "GetNATRSIPStatus") == [
        ("NewRSIPAvailable", "0"),
        ("NewNATEnabled", "1"),
    ]


@pytest.mark.parametrize(
    "soap_action",
    [f'"{V2}#GetExternalIPAddress"', f"{V2}#GetExternalIPAddress", f"'{V2}#GetExternalIPAddress'"],
)
async def test_soapaction_quoted_or_not(client: TestClient, soap_action: str) -> None:  # type: ignore[type-arg]
    response = await client.post(
        CONTROL,
        data=envelope(V2, "GetExternalIPAddress"),
        headers={"SOAPACTION": soap_action, "Content-Type": "text/xml"},
    )
    assert response.status == 200


@pytest.mark.parametrize(
    ("soap_action", "body_type", "body_action"),
    [
        ('"', V2, "GetExternalIPAddress"),  # a lone quote (CVE-2026-5720 in miniupnpd)
        ('"#"', V2, "GetExternalIPAddress"),
        (f'"{V2}"', V2, "GetExternalIPAddress"),
        (f'"{V2}#GetStatusInfo"', V2, "GetExternalIPAddress"),  # header and body disagree
        (f'"{V2}#NoSuchAction"', V2, "NoSuchAction"),
        ('"urn:schemas-upnp-org:service:WANIPConnection:3#GetStatusInfo"', V2, "GetStatusInfo"),
        (
            '"urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1#GetStatusInfo"',
            "urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1",
            "GetStatusInfo",
        ),
        (f'"{V2}#GetStatusInfo"', "urn:example:other", "GetStatusInfo"),  # body namespace
        (f'"{V2}#QueryStateVariable"', V2, "QueryStateVariable"),  # not the control namespace
    ],
)
async def test_invalid_action_is_a_401_fault(
    client: TestClient,  # type: ignore[type-arg]
    soap_action: str,
    body_type: str,
    body_action: str,
) -> None:
    response = await client.post(
        CONTROL,
        data=envelope(body_type, body_action),
        headers={"SOAPACTION": soap_action, "Content-Type": "text/xml"},
    )
    assert response.status == 500
    assert fault(SafeElementTree.fromstring(await response.read())) == ("401", "Invalid Action")


async def test_unknown_action_is_401_not_http_400(client: TestClient) -> None:  # type: ignore[type-arg]
    status, document = await call(client, "X_Reboot")
    assert status == 500
    assert fault(document) == ("401", "Invalid Action")


async def test_action_element_without_namespace_is_401(client: TestClient) -> None:  # type: ignore[type-arg]
    body = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        "<GetStatusInfo/></s:Body></s:Envelope>"
    )
    response = await client.post(CONTROL, data=body, headers=soap_headers(V2, "GetStatusInfo"))
    assert response.status == 500
    assert fault(SafeElementTree.fromstring(await response.read()))[0] == "401"


GET_SPECIFIC = {"NewRemoteHost": "", "NewExternalPort": "51413", "NewProtocol": "UDP"}


@pytest.mark.parametrize(
    "body_arguments",
    [
        arguments(NewExternalPort=51413, NewProtocol="UDP"),  # NewRemoteHost missing
        arguments(**GET_SPECIFIC, NewInternalPort=1),  # an extra argument
        arguments(**GET_SPECIFIC) + "<NewProtocol>TCP</NewProtocol>",  # repeated
        arguments(NewRemoteHost="", NewExternalPort="51k", NewProtocol="UDP"),
        arguments(NewRemoteHost="", NewExternalPort="65536", NewProtocol="UDP"),  # ui2 > 65535
        arguments(NewRemoteHost="", NewExternalPort="-1", NewProtocol="UDP"),
        arguments(NewRemoteHost="", NewExternalPort="+80", NewProtocol="UDP"),
        arguments(NewRemoteHost="", NewExternalPort="", NewProtocol="UDP"),
        arguments(
            NewRemoteHost="", NewExternalPort="\u0665\u0665", NewProtocol="UDP"
        ),  # Arabic-Indic 55
        arguments(NewRemoteHost="", NewExternalPort="<x>1</x>", NewProtocol="UDP"),
    ],
)
async def test_bad_arguments_are_402(client: TestClient, body_arguments: str) -> None:  # type: ignore[type-arg]
    status, document = await call(client, "GetSpecificPortMappingEntry", body_arguments)
    assert status == 500
    assert fault(document) == ("402", "Invalid Args")


async def test_arguments_match_by_local_name_in_any_order(client: TestClient) -> None:  # type: ignore[type-arg]
    add = (
        "<u:NewProtocol>TCP</u:NewProtocol><NewExternalPort> 0443 </NewExternalPort>"
        "<NewInternalClient>192.168.50.10</NewInternalClient><NewInternalPort>8443</NewInternalPort>"
        "<NewRemoteHost></NewRemoteHost><NewEnabled>true</NewEnabled>"
        "<NewPortMappingDescription>web</NewPortMappingDescription>"
        "<NewLeaseDuration>3600</NewLeaseDuration>"
    )
    status, _ = await call(client, "AddPortMapping", add)
    assert status == 200
    _, document = await call(
        client,
        "GetSpecificPortMappingEntry",
        arguments(NewRemoteHost="", NewExternalPort=443, NewProtocol="TCP"),
    )
    assert dict(result(document, V2, "GetSpecificPortMappingEntry"))["NewInternalPort"] == "8443"


@pytest.mark.parametrize(
    ("text", "status"),
    [("1", 200), ("0", 200), ("yes", 200), ("No", 200), ("TRUE", 200), ("maybe", 500), ("", 500)],
)
async def test_boolean_arguments(client: TestClient, text: str, status: int) -> None:  # type: ignore[type-arg]
    add = arguments(
        NewRemoteHost="",
        NewExternalPort=40000,
        NewProtocol="UDP",
        NewInternalPort=40000,
        NewInternalClient="192.168.50.10",
        NewEnabled=text,
        NewPortMappingDescription="",
        NewLeaseDuration=60,
    )
    answered, document = await call(client, "AddPortMapping", add)
    assert answered == status
    if status == 500:
        assert fault(document)[0] == "402"


@pytest.mark.parametrize(("value", "status"), [("4294967295", 200), ("4294967296", 500)])
async def test_ui4_range(client: TestClient, value: str, status: int) -> None:  # type: ignore[type-arg]
    answered, _ = await call(
        client, "SetIdleDisconnectTime", arguments(NewIdleDisconnectTime=value)
    )
    assert answered == status


async def test_query_state_variable(client: TestClient) -> None:  # type: ignore[type-arg]
    body = envelope(
        "urn:schemas-upnp-org:control-1-0",
        "QueryStateVariable",
        "<varName>ConnectionStatus</varName>",
    )
    headers = soap_headers("urn:schemas-upnp-org:control-1-0", "QueryStateVariable")
    response = await client.post(CONTROL, data=body, headers=headers)
    assert response.status == 200
    document = SafeElementTree.fromstring(await response.read())
    assert result(document, "urn:schemas-upnp-org:control-1-0", "QueryStateVariable") == [
        ("return", "Connected")
    ]
    unknown = envelope(
        "urn:schemas-upnp-org:control-1-0", "QueryStateVariable", "<varName>Uptime</varName>"
    )
    response = await client.post(CONTROL, data=unknown, headers=headers)
    assert response.status == 500
    assert fault(SafeElementTree.fromstring(await response.read())) == ("404", "Invalid Var")


async def test_unexpected_failure_is_501_without_a_traceback(
    gateway: Gateway,
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    gateway.counters.failure = RuntimeError("netlink socket closed: secret detail")
    common = "urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1"
    response = await client.post(
        "/ctl/CmnIfCfg",
        data=envelope(common, "GetTotalBytesSent"),
        headers=soap_headers(common, "GetTotalBytesSent"),
    )
    text = await response.text()
    assert response.status == 500
    assert fault(SafeElementTree.fromstring(text)) == ("501", "Action Failed")
    assert "secret detail" not in text
    assert "Traceback" not in text


# ---- HTTP-level answers (igd2-device.md 5.4) -------------------------------------------------


async def test_no_soapaction_is_400(client: TestClient) -> None:  # type: ignore[type-arg]
    response = await client.post(
        CONTROL, data=envelope(V2, "GetStatusInfo"), headers={"Content-Type": "text/xml"}
    )
    assert response.status == 400


async def test_wrong_content_type_is_415(client: TestClient) -> None:  # type: ignore[type-arg]
    headers = {**soap_headers(V2, "GetStatusInfo"), "Content-Type": "text/plain"}
    response = await client.post(CONTROL, data=envelope(V2, "GetStatusInfo"), headers=headers)
    assert response.status == 415


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<not xml",
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;</x>",
        b"<root>no envelope</root>",
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"></s:Envelope>',
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>',
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><a/><b/>'
        b"</s:Body></s:Envelope>",
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        + b"<a>" * 40
        + b"</a>" * 40
        + b"</s:Body></s:Envelope>",
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><a>'
        + b"<b/>" * 300
        + b"</a></s:Body></s:Envelope>",
    ],
)
async def test_malformed_bodies_are_400(client: TestClient, body: bytes) -> None:  # type: ignore[type-arg]
    response = await client.post(CONTROL, data=body, headers=soap_headers(V2, "GetStatusInfo"))
    assert response.status == 400


async def test_oversized_body_is_413(client: TestClient) -> None:  # type: ignore[type-arg]
    padding = "x" * MAX_BODY_BYTES
    body = envelope(
        V2, "AddPortMapping", f"<NewPortMappingDescription>{padding}</NewPortMappingDescription>"
    )
    response = await client.post(CONTROL, data=body, headers=soap_headers(V2, "AddPortMapping"))
    assert response.status == 413


async def test_oversized_chunked_body_is_413(client: TestClient) -> None:  # type: ignore[type-arg]
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b" " * 1024

    response = await client.post(CONTROL, data=chunks(), headers=soap_headers(V2, "GetStatusInfo"))
    assert response.status == 413


async def test_get_on_a_control_url_is_405(client: TestClient) -> None:  # type: ignore[type-arg]
    response = await client.get(CONTROL)
    assert response.status == 405
    assert response.headers["Allow"] == "POST"
