"""Both ends of SSDP for the lab, run as a script inside a namespace.

    ssdp_tool.py serve IFACE…          the gateway: our SsdpServer with the IGD:2 tree of
                                       igd2-device.md 3.2 until SIGTERM (then byebye);
                                       SIGHUP re-announces with the next BOOTID and CONFIGID
    ssdp_tool.py search …              a control point: send M-SEARCHes, print each answer
    ssdp_tool.py listen ADDRESS SECS   a control point: print each NOTIFY seen on the group

Every message is printed as one JSON line, so tests read exactly what went over the wire.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import select
import signal
import socket
import struct
import time

GROUP = ("239.255.255.250", 1900)
ROOT = "uuid:11111111-2222-4333-8444-000000000001"
WAN_DEVICE = "uuid:11111111-2222-4333-8444-000000000002"
CONNECTION_DEVICE = "uuid:11111111-2222-4333-8444-000000000003"
SCHEMA = "urn:schemas-upnp-org"
TYPES = [
    (ROOT, f"{SCHEMA}:device:InternetGatewayDevice:2"),
    (WAN_DEVICE, f"{SCHEMA}:device:WANDevice:2"),
    (CONNECTION_DEVICE, f"{SCHEMA}:device:WANConnectionDevice:2"),
    (ROOT, f"{SCHEMA}:service:Layer3Forwarding:1"),
    (WAN_DEVICE, f"{SCHEMA}:service:WANCommonInterfaceConfig:1"),
    (CONNECTION_DEVICE, f"{SCHEMA}:service:WANIPConnection:2"),
]
V1_ROOT = "uuid:11111111-2222-4333-8444-000000000011"  # a second face: an IGD:1 root device
V1_IGD = f"{SCHEMA}:device:InternetGatewayDevice:1"
UNANNOUNCED = (CONNECTION_DEVICE, f"{SCHEMA}:service:WANPPPConnection:1")
HTTP_PORT = 49152
BOOT_ID = 1763985000
CONFIG_ID = 4242
SERVER = "Linux/6.6 UPnP/1.1 UPnPGateway/0.1"


def _headers(datagram: bytes) -> dict[str, str]:
    lines = datagram.decode(errors="replace").split("\r\n")
    headers = {"START": lines[0]}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.upper()] = value.strip()
    return headers


def _print(source: tuple[str, int], datagram: bytes) -> None:
    print(json.dumps({"from": source[0], "headers": _headers(datagram)}), flush=True)


async def _serve(interfaces: list[str], max_age: int, v1_face: bool) -> None:
    from igd.upnp.ssdp import SsdpFace, SsdpServer  # noqa: PLC0415 - only the gateway has it
    from igd.upnp.ssdp_messages import SsdpTarget  # noqa: PLC0415

    targets = [
        SsdpTarget("upnp:rootdevice", f"{ROOT}::upnp:rootdevice"),
        *(SsdpTarget(udn, udn) for udn in (ROOT, WAN_DEVICE, CONNECTION_DEVICE)),
        *(SsdpTarget(kind, f"{udn}::{kind}") for udn, kind in TYPES),
        SsdpTarget(UNANNOUNCED[1], f"{UNANNOUNCED[0]}::{UNANNOUNCED[1]}", announced=False),
    ]
    faces = [
        SsdpFace(
            targets=tuple(targets),
            location=lambda lan: f"http://{lan.address}:{HTTP_PORT}/rootDesc.xml",
        )
    ]
    if v1_face:
        faces.append(
            SsdpFace(
                targets=(
                    SsdpTarget("upnp:rootdevice", f"{V1_ROOT}::upnp:rootdevice"),
                    SsdpTarget(V1_ROOT, V1_ROOT),
                    SsdpTarget(V1_IGD, f"{V1_ROOT}::{V1_IGD}"),
                ),
                location=lambda lan: f"http://{lan.address}:{HTTP_PORT}/igd1Desc.xml",
            )
        )
    server = SsdpServer(
        interfaces=interfaces,
        faces=faces,
        boot_id=BOOT_ID,
        config_id=CONFIG_ID,
        server=SERVER,
        max_age=max_age,
    )
    stopping = asyncio.Event()
    renewing = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    loop.add_signal_handler(signal.SIGHUP, renewing.set)
    await server.start()
    print("ready", flush=True)
    boot_id = BOOT_ID
    while not stopping.is_set():
        waiting = [asyncio.ensure_future(event.wait()) for event in (stopping, renewing)]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for future in waiting:
            future.cancel()
        if renewing.is_set():
            renewing.clear()
            boot_id += 1
            await server.reannounce(boot_id=boot_id, config_id=CONFIG_ID + 1)
            print("reannounced", flush=True)
    await server.stop()
    print("stopped", flush=True)


def _search(arguments: argparse.Namespace) -> None:
    """Send each search from its own socket (`--senders`), `--copies` times; print answers."""
    lines = ["M-SEARCH * HTTP/1.1", f"HOST: {GROUP[0]}:{GROUP[1]}", 'MAN: "ssdp:discover"']
    if arguments.mx is not None:
        lines.append(f"MX: {arguments.mx}")
    lines.append(f"ST: {arguments.target}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    destination = (arguments.to, 1900)
    senders = []
    for _ in range(arguments.senders):
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
        sender.bind((arguments.bind, 0))
        if arguments.via:
            sender.setsockopt(
                socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(arguments.via)
            )
        for payload in arguments.garbage:
            sender.sendto(payload.encode().decode("unicode_escape").encode("latin-1"), destination)
        for _ in range(arguments.copies):
            sender.sendto(request, destination)
        senders.append(sender)
    deadline = time.monotonic() + arguments.wait
    while (remaining := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select(senders, [], [], remaining)
        for sender in readable:
            datagram, source = sender.recvfrom(2048)
            _print(source, datagram)
    print("done", flush=True)


def _listen(address: str, seconds: float) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("", GROUP[1]))
    membership = struct.pack("=4s4s", socket.inet_aton(GROUP[0]), socket.inet_aton(address))
    listener.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    print("listening", flush=True)
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([listener], [], [], remaining)
        if readable:
            datagram, source = listener.recvfrom(2048)
            _print(source, datagram)
    print("done", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve")
    serve.add_argument("interfaces", nargs="+")
    serve.add_argument("--max-age", type=int, default=1800)
    serve.add_argument("--v1-face", action="store_true", help="also show an IGD:1 root device")
    search = commands.add_parser("search")
    search.add_argument("--target", default="ssdp:all")
    search.add_argument("--mx", type=int)
    search.add_argument("--to", default=GROUP[0])
    search.add_argument("--wait", type=float, default=2.0)
    search.add_argument("--senders", type=int, default=1)
    search.add_argument("--copies", type=int, default=1)
    search.add_argument("--bind", default="", help="source address")
    search.add_argument("--via", help="address of the interface multicast leaves by")
    search.add_argument("--garbage", action="append", default=[], help="sent first (escapes ok)")
    listen = commands.add_parser("listen")
    listen.add_argument("address")
    listen.add_argument("seconds", type=float)
    arguments = parser.parse_args()
    if arguments.command == "serve":
        asyncio.run(_serve(arguments.interfaces, arguments.max_age, arguments.v1_face))
    elif arguments.command == "search":
        _search(arguments)
    else:
        _listen(arguments.address, arguments.seconds)


if __name__ == "__main__":
    main()
