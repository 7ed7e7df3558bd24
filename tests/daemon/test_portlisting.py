"""The PortMappingList document of GetListOfPortMappings (5.6.21), alone and inside SOAP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeElementTree
import pytest
from aiohttp.test_utils import TestClient

from igd.core.mappings import MappingView
from igd.upnp.portlisting import port_listing
from tests.daemon.upnp_support import arguments, build_app, build_gateway, envelope, soap_headers

type ClientFactory = Callable[..., Awaitable[TestClient]]  # type: ignore[type-arg]

P = "{urn:schemas-upnp-org:gw:WANIPConnection}"
V2 = "urn:schemas-upnp-org:service:WANIPConnection:2"
SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"
FIELDS = [
    "NewRemoteHost",
    "NewExternalPort",
    "NewProtocol",
    "NewInternalPort",
    "NewInternalClient",
    "NewEnabled",
    "NewDescription",
    "NewLeaseTime",
]
HOSTILE = "console & voice <b>]]></b>"


def view(port: int, description: str = "game", *, enabled: bool = True) -> MappingView:
    return MappingView(
        remote_host="198.51.100.7" if port == 3478 else "",
        external_port=port,
        protocol="UDP",
        internal_port=port + 1,
        internal_client="192.168.50.40",
        enabled=enabled,
        description=description,
        lease_duration=3512,
    )


def entries(document: str) -> list[dict[str, str]]:
    root: Element = SafeElementTree.fromstring(document.encode())
    assert root.tag == f"{P}PortMappingList"
    listed = []
    for entry in root:
        assert entry.tag == f"{P}PortMappingEntry"
        assert [child.tag.removeprefix(P) for child in entry] == FIELDS
        listed.append({child.tag.removeprefix(P): child.text or "" for child in entry})
    return listed


def test_document_shape_and_values() -> None:
    document = port_listing([view(3478, HOSTILE, enabled=False), view(51413)])
    assert document.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert "schemaLocation" in document
    assert "CDATA" not in document
    first, second = entries(document)
    assert first == {
        "NewRemoteHost": "198.51.100.7",
        "NewExternalPort": "3478",
        "NewProtocol": "UDP",
        "NewInternalPort": "3479",
        "NewInternalClient": "192.168.50.40",
        "NewEnabled": "0",
        "NewDescription": HOSTILE,
        "NewLeaseTime": "3512",
    }
    assert (second["NewRemoteHost"], second["NewEnabled"]) == ("", "1")


def test_empty_listing_is_a_valid_document() -> None:
    assert entries(port_listing([])) == []


@pytest.fixture
async def client(aiohttp_client: ClientFactory) -> TestClient:  # type: ignore[type-arg]
    gateway = await build_gateway()
    return await aiohttp_client(build_app(gateway))


async def test_listing_travels_escaped_inside_new_port_listing(client: TestClient) -> None:  # type: ignore[type-arg]
    for port, description in ((6000, HOSTILE), (5000, "first")):
        add = arguments(
            NewRemoteHost="",
            NewExternalPort=port,
            NewProtocol="TCP",
            NewInternalPort=port,
            NewInternalClient="192.168.50.10",
            NewEnabled=1,
            NewPortMappingDescription=escape(description),
            NewLeaseDuration=600,
        )
        response = await client.post(
            "/ctl/IPConn",
            data=envelope(V2, "AddPortMapping", add),
            headers=soap_headers(V2, "AddPortMapping"),
        )
        assert response.status == 200
    query = arguments(
        NewStartPort=1, NewEndPort=65535, NewProtocol="TCP", NewManage=1, NewNumberOfPorts=0
    )
    response = await client.post(
        "/ctl/IPConn",
        data=envelope(V2, "GetListOfPortMappings", query),
        headers=soap_headers(V2, "GetListOfPortMappings"),
    )
    raw = await response.text()
    assert response.status == 200
    assert "&lt;p:PortMappingList" in raw  # entity-escaped, not CDATA
    answer = SafeElementTree.fromstring(raw.encode())
    listing = answer.findtext(f"{SOAP}Body/{{{V2}}}GetListOfPortMappingsResponse/NewPortListing")
    assert listing is not None
    listed = entries(listing)
    assert [entry["NewExternalPort"] for entry in listed] == ["5000", "6000"]
    assert listed[1]["NewDescription"] == HOSTILE
