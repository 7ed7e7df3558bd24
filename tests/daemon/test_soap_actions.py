"""Each service's actions through SOAP onto the real core: arguments in, results and faults out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeElementTree
import pytest
from aiohttp.test_utils import TestClient

from igd.upnp.devices import device_udns
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

V1 = "urn:schemas-upnp-org:service:WANIPConnection:1"
V2 = "urn:schemas-upnp-org:service:WANIPConnection:2"
COMMON = "urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1"
LAYER3 = "urn:schemas-upnp-org:service:Layer3Forwarding:1"
SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"
CONTROL_NS = "{urn:schemas-upnp-org:control-1-0}"
PATHS = {V1: "/ctl/IPConn", V2: "/ctl/IPConn", COMMON: "/ctl/CmnIfCfg", LAYER3: "/ctl/L3F"}


@pytest.fixture
async def gateway() -> Gateway:
    return await build_gateway()


@pytest.fixture
async def client(gateway: Gateway, aiohttp_client: ClientFactory) -> TestClient:  # type: ignore[type-arg]
    return await aiohttp_client(build_app(gateway))


class Soap:
    """Calls actions as a control point would and reads the answer."""

    def __init__(self, client: TestClient) -> None:  # type: ignore[type-arg]
        self.client = client

    async def __call__(
        self, action: str, service_type: str = V2, path: str | None = None, **values: object
    ) -> dict[str, str]:
        """The out-arguments in order; a fault raises `FaultError`."""
        response = await self.client.post(
            path or PATHS[service_type],
            data=envelope(service_type, action, arguments(**values)),
            headers=soap_headers(service_type, action),
        )
        document: Element = SafeElementTree.fromstring(await response.read())
        if response.status == 500:
            error = document.find(f"{SOAP}Body/{SOAP}Fault/detail/{CONTROL_NS}UPnPError")
            assert error is not None
            raise FaultError(
                int(error.findtext(f"{CONTROL_NS}errorCode") or 0),
                error.findtext(f"{CONTROL_NS}errorDescription") or "",
            )
        assert response.status == 200
        answer = document.find(f"{SOAP}Body/{{{service_type}}}{action}Response")
        assert answer is not None
        return {child.tag: child.text or "" for child in answer}


class FaultError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(code, description)
        self.code = code
        self.description = description


@pytest.fixture
def soap(client: TestClient) -> Soap:  # type: ignore[type-arg]
    return Soap(client)


def mapping(
    port: int = 51413, client: str = "192.168.50.10", **overrides: object
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "NewRemoteHost": "",
        "NewExternalPort": port,
        "NewProtocol": "UDP",
        "NewInternalPort": port,
        "NewInternalClient": client,
        "NewEnabled": 1,
        "NewPortMappingDescription": "Transmission",
        "NewLeaseDuration": 3600,
    }
    values.update(overrides)
    return values


async def test_add_then_read_a_mapping(soap: Soap) -> None:
    assert await soap("AddPortMapping", **mapping()) == {}
    entry = await soap("GetGenericPortMappingEntry", NewPortMappingIndex=0)
    assert list(entry) == [
        "NewRemoteHost",
        "NewExternalPort",
        "NewProtocol",
        "NewInternalPort",
        "NewInternalClient",
        "NewEnabled",
        "NewPortMappingDescription",
        "NewLeaseDuration",
    ]
    assert entry["NewExternalPort"] == "51413"
    assert entry["NewEnabled"] == "1"
    assert entry["NewLeaseDuration"] == "3600"
    specific = await soap(
        "GetSpecificPortMappingEntry", NewRemoteHost="", NewExternalPort=51413, NewProtocol="UDP"
    )
    assert specific["NewInternalClient"] == "192.168.50.10"
    assert specific["NewPortMappingDescription"] == "Transmission"


async def test_add_with_only_the_essential_arguments_uses_the_lenient_defaults(soap: Soap) -> None:
    essentials: dict[str, Any] = {
        "NewExternalPort": 3074,
        "NewProtocol": "UDP",
        "NewInternalPort": 3074,
        "NewInternalClient": "192.168.50.10",
    }
    assert await soap("AddPortMapping", **essentials) == {}
    entry = await soap(
        "GetSpecificPortMappingEntry", NewRemoteHost="", NewExternalPort=3074, NewProtocol="UDP"
    )
    assert entry["NewEnabled"] == "1"
    assert entry["NewPortMappingDescription"] == ""
    assert entry["NewLeaseDuration"] == "604800"  # lease 0 from a v1 client means a week (5.8)
    reserved = await soap("AddAnyPortMapping", **{**essentials, "NewExternalPort": 3075})
    assert reserved == {"NewReservedPort": "3075"}


@pytest.mark.parametrize(
    "missing", ["NewExternalPort", "NewProtocol", "NewInternalPort", "NewInternalClient"]
)
async def test_add_without_an_essential_argument_is_402(soap: Soap, missing: str) -> None:
    values = mapping()
    del values[missing]
    with pytest.raises(FaultError) as fault:
        await soap("AddPortMapping", **values)
    assert (fault.value.code, fault.value.description) == (402, "Invalid Args")


async def test_add_any_moves_a_taken_port_and_v1_namespace_runs_v2_actions(soap: Soap) -> None:
    await soap("AddPortMapping", **mapping(client="192.168.50.11"))
    answer = await soap("AddAnyPortMapping", V1, **mapping())
    assert answer["NewReservedPort"] not in ("51413", "0")


@pytest.mark.parametrize(
    ("overrides", "code", "description"),
    [
        ({"NewProtocol": "ICMP"}, 601, "Argument Value Out of Range"),
        ({"NewLeaseDuration": 604801}, 601, "Argument Value Out of Range"),
        ({"NewInternalClient": ""}, 715, "WildCardNotPermittedInSrcIP"),
        ({"NewExternalPort": 0}, 716, "WildCardNotPermittedInExtPort"),
        ({"NewInternalPort": 0}, 732, "WildCardNotPermittedInIntPort"),
        ({"NewRemoteHost": "example"}, 600, "Argument Value Invalid"),
    ],
)
async def test_core_refusals_keep_their_code_and_name(
    soap: Soap, overrides: dict[str, Any], code: int, description: str
) -> None:
    with pytest.raises(FaultError) as fault:
        await soap("AddPortMapping", **mapping(**overrides))
    assert (fault.value.code, fault.value.description) == (code, description)


async def test_conflicts_lookups_and_ranges(soap: Soap) -> None:
    await soap("AddPortMapping", **mapping())
    with pytest.raises(FaultError) as fault:
        await soap("AddPortMapping", **mapping(client="192.168.50.11"))
    assert (fault.value.code, fault.value.description) == (718, "ConflictInMappingEntry")
    with pytest.raises(FaultError) as fault:
        await soap("GetGenericPortMappingEntry", NewPortMappingIndex=1)
    assert (fault.value.code, fault.value.description) == (713, "SpecifiedArrayIndexInvalid")
    with pytest.raises(FaultError) as fault:
        await soap("DeletePortMapping", NewRemoteHost="", NewExternalPort=1, NewProtocol="UDP")
    assert (fault.value.code, fault.value.description) == (714, "NoSuchEntryInArray")
    range_args: dict[str, Any] = {"NewProtocol": "UDP", "NewManage": 1}
    with pytest.raises(FaultError) as fault:
        await soap("DeletePortMappingRange", NewStartPort=2000, NewEndPort=1000, **range_args)
    assert (fault.value.code, fault.value.description) == (733, "InconsistentParameters")
    with pytest.raises(FaultError) as fault:
        await soap("DeletePortMappingRange", NewStartPort=1000, NewEndPort=2000, **range_args)
    assert (fault.value.code, fault.value.description) == (730, "PortMappingNotFound")
    assert (
        await soap("DeletePortMappingRange", NewStartPort=1, NewEndPort=65535, **range_args) == {}
    )
    assert (await soap("GetStatusInfo"))["NewConnectionStatus"] == "Connected"


async def test_delete_port_mapping(soap: Soap, gateway: Gateway) -> None:
    await soap("AddPortMapping", **mapping())
    key: dict[str, Any] = {"NewRemoteHost": "", "NewExternalPort": 51413, "NewProtocol": "UDP"}
    assert await soap("DeletePortMapping", **key) == {}
    assert gateway.mappings.number_of_entries == 0


async def test_restricted_control_point(soap: Soap, gateway: Gateway) -> None:
    gateway.caller = CONSOLE
    with pytest.raises(FaultError) as fault:
        await soap("AddPortMapping", **mapping(client="192.168.50.11"))
    assert (fault.value.code, fault.value.description) == (606, "Action not authorized")
    assert await soap("AddPortMapping", **mapping()) == {}  # its own address
    for action in ("RequestTermination", "ForceTermination", "RequestConnection"):
        with pytest.raises(FaultError) as fault:
            await soap(action)
        assert fault.value.code == 606
    with pytest.raises(FaultError) as fault:
        await soap("SetEnabledForInternet", COMMON, NewEnabledForInternet=0)
    assert fault.value.code == 606


async def test_connection_actions_of_a_trusted_control_point(soap: Soap) -> None:
    with pytest.raises(FaultError) as fault:
        await soap("SetConnectionType", NewConnectionType="IP_Routed")
    assert (fault.value.code, fault.value.description) == (731, "ReadOnly")
    with pytest.raises(FaultError) as fault:
        await soap("SetConnectionType", NewConnectionType="PPPoE")
    assert fault.value.code == 601
    assert await soap("GetConnectionTypeInfo") == {
        "NewConnectionType": "IP_Routed",
        "NewPossibleConnectionTypes": "IP_Routed",
    }
    for name in ("AutoDisconnectTime", "IdleDisconnectTime", "WarnDisconnectDelay"):
        setting: dict[str, Any] = {f"New{name}": 7200}
        assert await soap(f"Set{name}", **setting) == {}
        assert await soap(f"Get{name}") == {f"New{name}": "7200"}
    await soap("SetWarnDisconnectDelay", NewWarnDisconnectDelay=0)
    assert await soap("ForceTermination") == {}
    status = await soap("GetStatusInfo")
    assert status["NewConnectionStatus"] == "Disconnected"
    assert status["NewLastConnectionError"] == "ERROR_FORCED_DISCONNECT"
    assert await soap("GetExternalIPAddress") == {"NewExternalIPAddress": ""}
    with pytest.raises(FaultError) as fault:
        await soap("RequestTermination")
    assert (fault.value.code, fault.value.description) == (711, "ConnectionAlreadyTerminated")


async def test_wan_common_interface_config(soap: Soap) -> None:
    assert await soap("GetCommonLinkProperties", COMMON) == {
        "NewWANAccessType": "Ethernet",
        "NewLayer1UpstreamMaxBitRate": "40000000",
        "NewLayer1DownstreamMaxBitRate": "250000000",
        "NewPhysicalLinkStatus": "Up",
    }
    assert await soap("GetTotalBytesSent", COMMON) == {"NewTotalBytesSent": "5"}  # wrapped ui4
    assert await soap("GetTotalBytesReceived", COMMON) == {"NewTotalBytesReceived": "123456"}
    assert await soap("GetTotalPacketsSent", COMMON) == {"NewTotalPacketsSent": "77"}
    assert await soap("GetTotalPacketsReceived", COMMON) == {"NewTotalPacketsReceived": "88"}
    assert await soap("GetEnabledForInternet", COMMON) == {"NewEnabledForInternet": "1"}
    assert await soap("SetEnabledForInternet", COMMON, NewEnabledForInternet="false") == {}
    assert await soap("GetEnabledForInternet", COMMON) == {"NewEnabledForInternet": "0"}


async def test_layer3_forwarding(soap: Soap) -> None:
    c2 = device_udns(DEVICE_UUID, 2).connection
    c1 = device_udns(DEVICE_UUID, 1).connection
    ours = f"{c2}:WANConnectionDevice:2,urn:upnp-org:serviceId:WANIPConn1"
    assert await soap("GetDefaultConnectionService", LAYER3) == {
        "NewDefaultConnectionService": ours
    }
    igd1 = await soap("GetDefaultConnectionService", LAYER3, path="/igd1/ctl/L3F")
    assert igd1 == {"NewDefaultConnectionService": ours.replace(c2, c1).replace(":2,", ":1,")}
    assert await soap("SetDefaultConnectionService", LAYER3, NewDefaultConnectionService=ours) == {}
    refused = [
        (ours.replace(c2, c1), 720, "InvalidDeviceUUID"),
        (ours.replace("WANIPConn1", "WANPPPConn1"), 721, "InvalidServiceID"),
        (
            ours.replace(":WANConnectionDevice:2", ":WANDevice:2"),
            723,
            "InvalidConnServiceSelection",
        ),
        (ours.split(",", maxsplit=1)[0], 721, "InvalidServiceID"),
        ("", 720, "InvalidDeviceUUID"),
    ]
    for value, code, description in refused:
        with pytest.raises(FaultError) as fault:
            await soap("SetDefaultConnectionService", LAYER3, NewDefaultConnectionService=value)
        assert (fault.value.code, fault.value.description) == (code, description), value
