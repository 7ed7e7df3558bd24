"""Many control points at once against the gateway, run as a script inside a lab namespace.

    concurrency_driver.py run URL FIRST_ADDRESS CLIENTS OPERATIONS SEED
        CLIENTS clients, each from its own address (FIRST_ADDRESS, the next, …), all at once,
        each doing OPERATIONS random adds, add-anys and deletes over one shared pool of ports;
        prints {"operations", "answers" (count by status/error), "unexpected", "held"}:
        `held` is what the clients' own successes say the table holds now.
    concurrency_driver.py list URL
        every mapping as GetListOfPortMappings shows it to a trusted control point.

Each client's operations run one after another, so its successes tell exactly which mappings it
holds at the end (no other client may delete them: R5).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
from collections import Counter
from ipaddress import IPv4Address

import aiohttp
from defusedxml.ElementTree import fromstring

SERVICE = "urn:schemas-upnp-org:service:WANIPConnection:2"
POOL = range(20000, 20064)  # shared by every client, so they collide (718) on purpose
INTERNAL_PORT = 8000
EXPECTED_ERRORS = {606, 714, 718, 728}  # others' entry (R5), none there, taken, client limit
TIMEOUT = aiohttp.ClientTimeout(total=30)
_ERROR = re.compile(r"<errorCode>(\d+)</errorCode>")
_RESERVED = re.compile(r"<NewReservedPort>(\d+)</NewReservedPort>")
LISTING_NS = "{urn:schemas-upnp-org:gw:WANIPConnection}"

type Mapping = tuple[str, int, str, int]  # protocol, external port, internal client, its port


async def call(
    session: aiohttp.ClientSession, url: str, action: str, **values: object
) -> tuple[int, str]:
    inner = "".join(f"<{name}>{value}</{name}>" for name, value in values.items())
    body = (
        '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
        f'<u:{action} xmlns:u="{SERVICE}">{inner}</u:{action}></s:Body></s:Envelope>'
    )
    headers = {"SOAPAction": f'"{SERVICE}#{action}"', "Content-Type": 'text/xml; charset="utf-8"'}
    async with session.post(url, data=body, headers=headers, timeout=TIMEOUT) as response:
        return response.status, await response.text()


def _adding(client: str, port: int, protocol: str) -> dict[str, object]:
    return {
        "NewRemoteHost": "",
        "NewExternalPort": port,
        "NewProtocol": protocol,
        "NewInternalPort": INTERNAL_PORT,
        "NewInternalClient": client,
        "NewEnabled": 1,
        "NewPortMappingDescription": f"load {client}",
        "NewLeaseDuration": 3600,
    }


async def run_client(
    url: str, client: str, operations: int, rng: random.Random, answers: Counter[str]
) -> tuple[set[Mapping], list[str]]:
    held: set[Mapping] = set()
    unexpected: list[str] = []
    connector = aiohttp.TCPConnector(local_addr=(client, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(operations):
            kind = rng.choices(["add", "add_any", "delete"], weights=[5, 2, 4])[0]
            protocol = rng.choice(["TCP", "UDP"])
            port = rng.choice(POOL)
            if kind == "delete" and held and rng.random() < 0.7:
                protocol, port, _, _ = rng.choice(sorted(held))
            if kind == "delete":
                status, text = await call(
                    session,
                    url,
                    "DeletePortMapping",
                    NewRemoteHost="",
                    NewExternalPort=port,
                    NewProtocol=protocol,
                )
            else:
                action = "AddPortMapping" if kind == "add" else "AddAnyPortMapping"
                status, text = await call(session, url, action, **_adding(client, port, protocol))
            error = _ERROR.search(text)
            answers[f"{kind} {status}" + (f" {error.group(1)}" if error else "")] += 1
            if status == 200:
                if kind == "delete":
                    held.discard((protocol, port, client, INTERNAL_PORT))
                else:
                    reserved = _RESERVED.search(text)
                    chosen = int(reserved.group(1)) if reserved else port
                    held.add((protocol, chosen, client, INTERNAL_PORT))
            elif error is None or int(error.group(1)) not in EXPECTED_ERRORS:
                unexpected.append(f"{kind} {protocol} {port} from {client}: {status} {text[:200]}")
    return held, unexpected


async def run(url: str, first: str, clients: int, operations: int, seed: int) -> None:
    answers: Counter[str] = Counter()
    addresses = [str(IPv4Address(first) + number) for number in range(clients)]
    results = await asyncio.gather(
        *(
            run_client(url, address, operations, random.Random(seed + number), answers)
            for number, address in enumerate(addresses)
        )
    )
    held = sorted(mapping for mappings, _ in results for mapping in mappings)
    report = {
        "operations": sum(answers.values()),
        "answers": dict(sorted(answers.items())),
        "unexpected": [line for _, lines in results for line in lines],
        "held": held,
    }
    print(json.dumps(report), flush=True)


async def listing(url: str) -> None:
    found: list[Mapping] = []
    async with aiohttp.ClientSession() as session:
        for protocol in ("TCP", "UDP"):
            status, text = await call(
                session,
                url,
                "GetListOfPortMappings",
                NewStartPort=0,
                NewEndPort=65535,
                NewProtocol=protocol,
                NewManage=1,
                NewNumberOfPorts=0,
            )
            if status != 200:
                continue  # 730: none of this protocol
            listed = fromstring(text).findtext(".//NewPortListing") or ""
            for entry in fromstring(listed).iter(f"{LISTING_NS}PortMappingEntry"):
                values = {child.tag.removeprefix(LISTING_NS): child.text or "" for child in entry}
                found.append(
                    (
                        values["NewProtocol"],
                        int(values["NewExternalPort"]),
                        values["NewInternalClient"],
                        int(values["NewInternalPort"]),
                    )
                )
    print(json.dumps(sorted(found)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("run")
    load.add_argument("url")
    load.add_argument("first_address")
    load.add_argument("clients", type=int)
    load.add_argument("operations", type=int)
    load.add_argument("seed", type=int)
    listed = commands.add_parser("list")
    listed.add_argument("url")
    options = parser.parse_args()
    if options.command == "run":
        asyncio.run(
            run(
                options.url,
                options.first_address,
                options.clients,
                options.operations,
                options.seed,
            )
        )
    else:
        asyncio.run(listing(options.url))
    sys.exit(0)


if __name__ == "__main__":
    main()
