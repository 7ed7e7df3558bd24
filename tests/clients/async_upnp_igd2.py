"""async-upnp-client driven as an IGD:2-only client, with the line protocol of session.mjs.

It searches for InternetGatewayDevice:2 only, keeps a device only if its description says
InternetGatewayDevice:2 with WANIPConnection:2, and maps with AddAnyPortMapping, lists with
GetListOfPortMappings: what an IGD:2-only client does (igd2-device.md 7.1b).

Usage: python async_upnp_igd2.py <this host's LAN address>; commands on stdin:
  find | ip | map <internal port> <external port> <TCP|UDP> <lease s> |
  unmap <external port> <TCP|UDP> | list
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

import defusedxml.ElementTree as SafeTree
from async_upnp_client.aiohttp import AiohttpRequester
from async_upnp_client.client_factory import UpnpFactory
from async_upnp_client.exceptions import UpnpActionResponseError
from async_upnp_client.search import async_search

if TYPE_CHECKING:
    from async_upnp_client.client import UpnpService
    from async_upnp_client.utils import CaseInsensitiveDict

IGD2 = "urn:schemas-upnp-org:device:InternetGatewayDevice:2"
WAN_IP_CONNECTION_2 = "urn:schemas-upnp-org:service:WANIPConnection:2"
SEARCH_SECONDS = 3
PORT_MAPPING_NOT_FOUND = 730  # GetListOfPortMappings with nothing in the range


class Igd2Client:
    """The gateway this client found, and the actions it calls on it."""

    def __init__(self, local_host: str) -> None:
        self.local_host = local_host
        self.location = ""
        self._service: UpnpService | None = None

    async def _wan_ip(self) -> UpnpService:
        if self._service is not None:
            return self._service
        locations: list[str] = []

        async def found(headers: CaseInsensitiveDict) -> None:
            if headers.get("ST") == IGD2 and headers.get("LOCATION"):
                locations.append(str(headers["LOCATION"]))

        await async_search(
            found, timeout=SEARCH_SECONDS, search_target=IGD2, source=(self.local_host, 0)
        )
        factory = UpnpFactory(AiohttpRequester())
        for location in dict.fromkeys(locations):
            device = await factory.async_create_device(location)
            services = [s for s in device.all_services if s.service_type == WAN_IP_CONNECTION_2]
            if device.device_type == IGD2 and services:
                self.location, self._service = location, services[0]
                return services[0]
        raise LookupError(f"no IGD:2 device with WANIPConnection:2 among {locations}")

    async def call(self, action: str, **arguments: Any) -> dict[str, Any]:
        service = await self._wan_ip()
        return dict(await service.action(action).async_call(**arguments))

    async def find(self) -> str:
        await self._wan_ip()
        return self.location

    async def ip(self) -> str:
        return str((await self.call("GetExternalIPAddress"))["NewExternalIPAddress"])

    async def map(self, internal: str, external: str, protocol: str, lease: str) -> int:
        result = await self.call(
            "AddAnyPortMapping",
            NewRemoteHost="",
            NewExternalPort=int(external),
            NewProtocol=protocol,
            NewInternalPort=int(internal),
            NewInternalClient=self.local_host,
            NewEnabled=True,
            NewPortMappingDescription="async-upnp-client",
            NewLeaseDuration=int(lease),
        )
        return int(result["NewReservedPort"])

    async def unmap(self, external: str, protocol: str) -> None:
        await self.call(
            "DeletePortMapping",
            NewRemoteHost="",
            NewExternalPort=int(external),
            NewProtocol=protocol,
        )

    async def list(self) -> list[dict[str, Any]]:
        mappings: list[dict[str, Any]] = []
        for protocol in ("TCP", "UDP"):
            try:
                result = await self.call(
                    "GetListOfPortMappings",
                    NewStartPort=1024,  # R4: a restricted caller lists from 1024 up
                    NewEndPort=65535,
                    NewProtocol=protocol,
                    NewManage=False,  # its own mappings: a restricted caller (R6)
                    NewNumberOfPorts=1000,
                )
            except UpnpActionResponseError as error:
                if error.error_code != PORT_MAPPING_NOT_FOUND:
                    raise
                continue
            mappings += _listing(str(result["NewPortListing"]))
        return mappings


def _listing(document: str) -> list[dict[str, Any]]:
    """The entries of an A_ARG_TYPE_PortListing document (wanipconnection2.md 5.6.21)."""
    root = SafeTree.fromstring(document)
    entries = []
    for entry in root:
        fields = {child.tag.rsplit("}", 1)[-1]: child.text or "" for child in entry}
        entries.append(
            {
                "externalPort": int(fields["NewExternalPort"]),
                "internalHost": fields["NewInternalClient"],
                "internalPort": int(fields["NewInternalPort"]),
                "protocol": fields["NewProtocol"],
                "description": fields["NewDescription"],
            }
        )
    return entries


async def serve(client: Igd2Client) -> None:
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        name, *arguments = line.split() or [""]
        if not name:
            continue
        if name == "quit":
            break
        try:
            command = getattr(client, name) if name in COMMANDS else None
            if command is None:
                raise LookupError(f"unknown command {name}")
            answer: dict[str, Any] = {"ok": await command(*arguments)}
        except Exception as error:  # every failure is the answer the test reads
            answer = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(answer), flush=True)


COMMANDS = ("find", "ip", "map", "unmap", "list")

if __name__ == "__main__":
    asyncio.run(serve(Igd2Client(sys.argv[1])))
