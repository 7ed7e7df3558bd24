"""The benchmark's WAN host: run inside the WAN namespace, prints one JSON line a command.

    connect-rate ADDRESS PORT SECONDS   TCP connections set up one after the other for SECONDS
    reach ADDRESS PORT...               for each port: does a connection get the LAN's greeting?
    stun ADDRESS SECONDS                a STUN server (RFC 5389 Binding only) until killed

miniupnpd 2.3 refuses to forward when its WAN address is in a reserved range, and the lab's is
a documentation one (203.0.113.1, RFC 5737); with `ext_perform_stun` it asks a STUN server for
its public address instead. This one answers truthfully (the gateway's own address: there is no
NAT between it and the WAN host), from the address asked, so miniupnpd sees an open, unNATed
line and forwards.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import sys
import time

MAX_CONNECTIONS = 200_000  # a bound far above what a few seconds can reach
CONNECT_TIMEOUT = 2.0
GREETING = b"ok"
STUN_MAGIC_COOKIE = 0x2112A442  # RFC 5389 6
BINDING_REQUEST = 0x0001  # RFC 5389 18.1
BINDING_SUCCESS = 0x0101  # RFC 5389 6: Binding, class success response
XOR_MAPPED_ADDRESS = 0x0020  # RFC 5389 18.2
STUN_HEADER = struct.Struct("!HHI12s")  # type, length, magic cookie, transaction ID
IPV4_FAMILY = 0x01  # RFC 5389 15.1


def connect_rate(address: str, port: int, seconds: float) -> None:
    """Connections set up (handshake done) per second; each is reset at once to spare ports."""
    linger = struct.pack("ii", 1, 0)  # close with RST: no TIME_WAIT left on this side
    made = failed = 0
    started = time.perf_counter()
    end = started + seconds
    while made + failed < MAX_CONNECTIONS and time.perf_counter() < end:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            sock.settimeout(CONNECT_TIMEOUT)
            try:
                sock.connect((address, port))
            except OSError:
                failed += 1
                continue
            made += 1
    elapsed = time.perf_counter() - started
    print(json.dumps({"connections": made, "failed": failed, "rate": made / elapsed}), flush=True)


def reach(address: str, ports: list[int]) -> None:
    reached: list[int] = []
    unreached: list[int] = []
    for port in ports:
        try:
            with socket.create_connection((address, port), timeout=CONNECT_TIMEOUT) as sock:
                answer = sock.recv(len(GREETING))
        except OSError:
            answer = b""
        (reached if answer == GREETING else unreached).append(port)
    print(json.dumps({"reached": reached, "unreached": unreached}), flush=True)


def stun_answer(request: bytes, source: tuple[str, int]) -> bytes | None:
    """The Binding success response to a Binding request, with XOR-MAPPED-ADDRESS of `source`."""
    if len(request) < STUN_HEADER.size:
        return None
    kind, _length, cookie, transaction = STUN_HEADER.unpack_from(request)
    if kind != BINDING_REQUEST or cookie != STUN_MAGIC_COOKIE:
        return None
    host, port = source
    xor_port = port ^ (STUN_MAGIC_COOKIE >> 16)
    xor_address = struct.unpack("!I", socket.inet_aton(host))[0] ^ STUN_MAGIC_COOKIE
    value = struct.pack("!BBHI", 0, IPV4_FAMILY, xor_port, xor_address)
    attribute = struct.pack("!HH", XOR_MAPPED_ADDRESS, len(value)) + value
    header = STUN_HEADER.pack(BINDING_SUCCESS, len(attribute), STUN_MAGIC_COOKIE, transaction)
    return header + attribute


def stun(address: str, seconds: float) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind((address, 3478))  # RFC 5389 9: the default STUN port
        print("listening", flush=True)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            server.settimeout(left)
            try:
                request, source = server.recvfrom(2048)
            except TimeoutError:
                break
            answer = stun_answer(request, source)
            if answer is not None:
                server.sendto(answer, source)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.wan_host")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("connect-rate")
    command.add_argument("address")
    command.add_argument("port", type=int)
    command.add_argument("seconds", type=float)
    command = commands.add_parser("reach")
    command.add_argument("address")
    command.add_argument("ports", type=int, nargs="+")
    command = commands.add_parser("stun")
    command.add_argument("address")
    command.add_argument("seconds", type=float)
    arguments = parser.parse_args(argv)
    match arguments.command:
        case "connect-rate":
            connect_rate(arguments.address, arguments.port, arguments.seconds)
        case "reach":
            reach(arguments.address, arguments.ports)
        case "stun":
            stun(arguments.address, arguments.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
