"""Many AddPortMapping calls at once, and a walk of the table, from a control point in the lab.

    python -m tests.e2e.mapping_burst burst URL FIRST_PORT COUNT WORKERS CLIENT [CLIENT …]
        AddPortMapping of TCP ports FIRST_PORT … FIRST_PORT+COUNT-1 (one hour each) to the
        clients in turn, WORKERS at a time; prints `ok PORT` for each 200 answer, as it comes,
        and `failed PORT WHY` for anything else (a fault, or no answer at all).
    python -m tests.e2e.mapping_burst walk URL
        GetGenericPortMappingEntry from index 0 until it fails; prints one JSON line:
        {"entries": [[ExternalPort, Protocol, InternalClient, InternalPort, LeaseDuration], …],
         "ended_with": the failing answer's errorCode (713 past the end) or why it failed}.

Run with the repository on PYTHONPATH; standard library only, so it starts fast in a namespace.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.http_tool import SERVICE, envelope, exchange

MAX_ENTRIES = 70000  # more than the table can hold: the walk ends with 713 long before
_OUT_ARGUMENT = re.compile(r"<(New\w+)>([^<]*)</New\w+>")
_print_lock = threading.Lock()


def soap(url: str, action: str, arguments: dict[str, str]) -> dict[str, object]:
    headers = {
        "Content-Type": 'text/xml; charset="utf-8"',
        "SOAPAction": f'"{SERVICE}#{action}"',
    }
    return exchange("POST", url, headers, envelope(action, arguments))


def add(url: str, port: int, client: str) -> None:
    answer = soap(
        url,
        "AddPortMapping",
        {
            "NewRemoteHost": "",
            "NewExternalPort": str(port),
            "NewProtocol": "TCP",
            "NewInternalPort": "8000",
            "NewInternalClient": client,
            "NewEnabled": "1",
            "NewPortMappingDescription": f"burst {port}",
            "NewLeaseDuration": "3600",
        },
    )
    if answer["status"] == 200:
        line = f"ok {port}"
    else:
        line = f"failed {port} {answer.get('error') or answer.get('refused') or answer['status']}"
    with _print_lock:
        print(line, flush=True)


def burst(url: str, first: int, count: int, workers: int, clients: list[str]) -> None:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for n in range(count):
            pool.submit(add, url, first + n, clients[n % len(clients)])


def walk(url: str) -> None:
    entries = []
    ended_with: object = None
    for index in range(MAX_ENTRIES):
        answer = soap(url, "GetGenericPortMappingEntry", {"NewPortMappingIndex": str(index)})
        if answer["status"] != 200:
            ended_with = answer.get("error") or answer.get("refused")
            break
        values = dict(_OUT_ARGUMENT.findall(str(answer["body"])))
        entries.append(
            [
                int(values["NewExternalPort"]),
                values["NewProtocol"],
                values["NewInternalClient"],
                int(values["NewInternalPort"]),
                int(values["NewLeaseDuration"]),
            ]
        )
    print(json.dumps({"entries": entries, "ended_with": ended_with}), flush=True)


def main() -> None:
    command, url, *rest = sys.argv[1:]
    if command == "burst":
        first, count, workers, *clients = rest
        burst(url, int(first), int(count), int(workers), clients)
    else:
        walk(url)


if __name__ == "__main__":
    main()
