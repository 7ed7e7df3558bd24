"""The benchmark's LAN client: run inside the LAN namespace, prints one JSON line a command.

    fill FIRST COUNT           AddPortMapping of FIRST..FIRST+COUNT-1 (to the same ports here)
    addel PORT SAMPLES         SAMPLES times: add PORT, then delete it; each call's latency
    walk                       GetGenericPortMappingEntry from index 0 until error 713
    list                       one GetListOfPortMappings of every TCP mapping
    ssdp-alive SECONDS         print "listening", then the monotonic time of the first ssdp:alive
    listen PORT...             a TCP listener on each port: accept, send "ok", close; until killed
    quick COUNT                the daemon issue's check: time COUNT adds, then one listing

Every loop is bounded by a count and by --deadline seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import selectors
import socket
import struct
import sys
import time
from typing import Any

from bench.soap_client import (
    Gateway,
    SoapCallError,
    add_arguments,
    call,
    delete_arguments,
    list_arguments,
    listed_entries,
    timed_call,
)

SPECIFIED_ARRAY_INDEX_INVALID = 713  # WANIPConnection:2 2.4 error table
SSDP_GROUP = ("239.255.255.250", 1900)  # UDA 1.1 1.1.2
MAX_WALK = 200_000  # more entries than either gateway can hold
GREETING = b"ok"


def _print(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


def fill(gateway: Gateway, client: str, first: int, count: int, deadline: float) -> None:
    acknowledged: list[int] = []
    failures: list[str] = []
    started = time.perf_counter()
    for port in range(first, first + count):
        if time.monotonic() > deadline:
            failures.append("deadline reached")
            break
        try:
            call(gateway, "AddPortMapping", add_arguments(client, port))
        except (SoapCallError, OSError) as error:
            failures.append(f"{port}: {error}")
            continue
        acknowledged.append(port)
    _print(
        {
            "acknowledged": len(acknowledged),
            "seconds": time.perf_counter() - started,
            "failures": failures[:5],
            "failed": len(failures),
        }
    )


def add_delete(gateway: Gateway, client: str, port: int, samples: int, deadline: float) -> None:
    adds: list[float] = []
    deletes: list[float] = []
    error = None
    for _ in range(samples):
        if time.monotonic() > deadline:
            error = "deadline reached"
            break
        try:
            adds.append(timed_call(gateway, "AddPortMapping", add_arguments(client, port)))
            deletes.append(timed_call(gateway, "DeletePortMapping", delete_arguments(port)))
        except (SoapCallError, OSError) as failure:
            error = str(failure)
            break
    _print({"add": adds, "delete": deletes, "error": error})


def walk(gateway: Gateway, deadline: float) -> None:
    started = time.perf_counter()
    error = None
    index = 0
    while index < MAX_WALK:
        if time.monotonic() > deadline:
            error = "deadline reached"
            break
        try:
            call(gateway, "GetGenericPortMappingEntry", {"NewPortMappingIndex": index})
        except SoapCallError as failure:
            if failure.code != SPECIFIED_ARRAY_INDEX_INVALID:
                error = str(failure)
            break
        except OSError as failure:
            error = str(failure)
            break
        index += 1
    _print({"entries": index, "seconds": time.perf_counter() - started, "error": error})


def list_all(gateway: Gateway) -> None:
    started = time.perf_counter()
    try:
        body = call(gateway, "GetListOfPortMappings", list_arguments())
    except (SoapCallError, OSError) as failure:
        _print({"entries": 0, "seconds": time.perf_counter() - started, "error": str(failure)})
        return
    seconds = time.perf_counter() - started
    _print({"entries": listed_entries(body), "seconds": seconds, "error": None})


def ssdp_alive(address: str, seconds: float) -> None:
    """Wait for the first NOTIFY ssdp:alive on the group; its arrival on the monotonic clock.

    The monotonic clock is the kernel's, the same in every namespace, so the caller can subtract
    the moment it started the gateway.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("", SSDP_GROUP[1]))
        membership = struct.pack("4s4s", socket.inet_aton(SSDP_GROUP[0]), socket.inet_aton(address))
        listener.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        print("listening", flush=True)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            listener.settimeout(left)
            try:
                datagram = listener.recv(4096)
            except TimeoutError:
                break
            arrived = time.monotonic()
            text = datagram.decode(errors="replace").lower()
            if text.startswith("notify") and "nts: ssdp:alive" in text:
                _print({"alive_at": arrived})
                return
    _print({"alive_at": None})


def listen(ports: list[int], seconds: float) -> None:
    """Accept on every port until killed (or `seconds`): greet and close each connection."""
    with selectors.DefaultSelector() as selector:
        for port in ports:
            server = socket.create_server(("0.0.0.0", port), backlog=4096)  # noqa: S104 - the lab LAN host
            server.setblocking(False)
            selector.register(server, selectors.EVENT_READ)
        print("listening", flush=True)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(timeout=min(left, 1.0)):
                ready = key.fileobj
                assert isinstance(ready, socket.socket)
                for _ in range(64):  # drain the backlog, bounded
                    try:
                        connection, _peer = ready.accept()
                    except BlockingIOError:
                        break
                    with contextlib.suppress(OSError):
                        connection.send(GREETING)
                    connection.close()


def quick(gateway: Gateway, client: str, count: int, first: int, deadline: float) -> None:
    """Time `count` AddPortMapping calls, then one GetListOfPortMappings, then clean up."""
    started = time.perf_counter()
    failed = 0
    for port in range(first, first + count):
        if time.monotonic() > deadline:
            break
        try:
            call(gateway, "AddPortMapping", add_arguments(client, port))
        except (SoapCallError, OSError):
            failed += 1
    added = time.perf_counter() - started
    started = time.perf_counter()
    body = call(gateway, "GetListOfPortMappings", list_arguments())
    listed = time.perf_counter() - started
    print(f"{count} AddPortMapping calls: {added:.2f} s ({1000 * added / count:.2f} ms each)")
    if failed:
        print(f"  {failed} of them failed")
    print(f"GetListOfPortMappings of {listed_entries(body)} entries: {1000 * listed:.1f} ms")
    for port in range(first, first + count):
        if time.monotonic() > deadline:
            break
        try:
            call(gateway, "DeletePortMapping", delete_arguments(port))
        except (SoapCallError, OSError):
            failed += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.lan_client")
    parser.add_argument("--gateway", default="192.168.50.1:5000", help="HOST:PORT of control")
    parser.add_argument("--client", default="192.168.50.10", help="this host's LAN address")
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds, at most")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("fill")
    command.add_argument("first", type=int)
    command.add_argument("count", type=int)
    command = commands.add_parser("addel")
    command.add_argument("port", type=int)
    command.add_argument("samples", type=int)
    commands.add_parser("walk")
    commands.add_parser("list")
    command = commands.add_parser("ssdp-alive")
    command.add_argument("seconds", type=float)
    command = commands.add_parser("listen")
    command.add_argument("ports", type=int, nargs="+")
    command = commands.add_parser("quick")
    command.add_argument("count", type=int)
    command.add_argument("--first", type=int, default=20000)
    arguments = parser.parse_args(argv)
    host, _, port = arguments.gateway.rpartition(":")
    gateway = Gateway(host, int(port))
    deadline = time.monotonic() + arguments.deadline
    client = arguments.client
    match arguments.command:
        case "fill":
            fill(gateway, client, arguments.first, arguments.count, deadline)
        case "addel":
            add_delete(gateway, client, arguments.port, arguments.samples, deadline)
        case "walk":
            walk(gateway, deadline)
        case "list":
            list_all(gateway)
        case "ssdp-alive":
            ssdp_alive(client, arguments.seconds)
        case "listen":
            listen(arguments.ports, arguments.deadline)
        case "quick":
            quick(gateway, client, arguments.count, arguments.first, deadline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
