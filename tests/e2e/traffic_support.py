"""Traffic through the lab: a listener on a host, and the TCP and UDP clients that prove a mapping.

Each snippet is a script for `python -c` inside a namespace, with its parameters on the command
line and every loop bounded in count and time; the functions run one and return what a test
checks.
"""

from __future__ import annotations

import subprocess
import sys

from tests.lab import WAN_GATEWAY, Host, Lab, wait_for_output

SECOND_PEER = "203.0.113.3"  # a second address of the WAN host, for RemoteHost mappings

# PORT [tcp|udp ...]: serve PORT over TCP and UDP, or over the protocols named. TCP answers
# "hello over TCP" and prints "tcp from ADDRESS"; UDP echoes "echo DATA" and prints
# "udp from ADDRESS PORT DATA".
LISTENER = """
import selectors, socket, sys
port, protocols = int(sys.argv[1]), sys.argv[2:] or ["tcp", "udp"]
servers = {}
if "tcp" in protocols:
    servers["tcp"] = socket.create_server(("0.0.0.0", port))
if "udp" in protocols:
    servers["udp"] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    servers["udp"].bind(("0.0.0.0", port))
print("listening", flush=True)
with selectors.DefaultSelector() as selector:
    for protocol, server in servers.items():
        selector.register(server, selectors.EVENT_READ, protocol)
    for _ in range(100):
        events = selector.select(timeout=120)
        if not events:
            break
        for key, _ in events:
            if key.data == "tcp":
                connection, peer = key.fileobj.accept()
                connection.sendall(b"hello over TCP")
                connection.close()
                print("tcp from", peer[0], flush=True)
                continue
            data, peer = key.fileobj.recvfrom(100)
            print("udp from", peer[0], peer[1], data.decode(), flush=True)
            try:
                key.fileobj.sendto(b"echo " + data, peer)
            except OSError:  # a peer this host has no route to
                pass
"""

# HOST PORT [SOURCE SOURCE_PORT]: connect within 3 s; print what the server says, or the error's
# name (ConnectionRefusedError: nothing forwards the port; TimeoutError: a firewall drops it).
TCP_CONNECTOR = """
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
source = (sys.argv[3], int(sys.argv[4])) if len(sys.argv) > 4 else None
try:
    with socket.create_connection((host, port), 3, source) as connection:
        print(connection.recv(100).decode())
except OSError as error:
    print(type(error).__name__)
"""

# HOST PORT [SOURCE_PORT]: send "ping"; print the answer, or "no reply" after 2 s.
UDP_SENDER = """
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
    sender.bind(("0.0.0.0", int(sys.argv[3]) if len(sys.argv) > 3 else 0))
    sender.settimeout(2)
    sender.sendto(b"ping", (host, port))
    try:
        print(sender.recv(100).decode())
    except TimeoutError:
        print("no reply")
"""


def listen(lab: Lab, host: Host, port: int, *protocols: str) -> subprocess.Popen[str]:
    """LISTENER on `host`'s `port` (TCP and UDP unless `protocols` names them), once it listens."""
    listener = lab.start(host, sys.executable, "-c", LISTENER, str(port), *protocols)
    wait_for_output(listener, ["listening"])
    return listener


def connect(lab: Lab, port: int, source: str = "0.0.0.0", source_port: int = 0) -> str:
    """What the WAN host gets from a TCP connection to the gateway's WAN address."""
    arguments = (WAN_GATEWAY, str(port), source, str(source_port))
    return lab.run(lab.wan, sys.executable, "-c", TCP_CONNECTOR, *arguments).stdout.strip()


def send_udp(lab: Lab, host: Host, target: str, port: int, source_port: int = 0) -> str:
    """What `host` gets back from a datagram to `target`: "echo ping", or "no reply"."""
    arguments = (target, str(port), str(source_port))
    return lab.run(host, sys.executable, "-c", UDP_SENDER, *arguments).stdout.strip()
