"""The smallest SOAP client that speaks to both gateways alike: one TCP connection per call.

miniupnpd closes the connection after every answer, so a fair client opens a new one for each
call, to either gateway; blocking sockets and a prebuilt request keep the client's own cost far
below the gateway's (a few tens of microseconds a call).
"""

from __future__ import annotations

import html
import re
import socket
import time
from dataclasses import dataclass

SERVICE = "urn:schemas-upnp-org:service:WANIPConnection:2"
CONTROL_PATH = "/ctl/IPConn"  # both gateways' WANIPConnection control URL in the lab
CALL_TIMEOUT = 30.0  # seconds one call may take (miniupnpd's DeletePortMapping at 10,000 < 1 s)
PROTOCOL = "TCP"
LEASE = 3600  # seconds; both gateways keep it as asked
ENTRY_END = re.compile(r"</(?:\w+:)?PortMappingEntry>")
ERROR_CODE = re.compile(r"<errorCode>(\d+)</errorCode>")


class SoapCallError(Exception):
    """The gateway answered with a fault or an unexpected status."""

    def __init__(self, action: str, status: int, code: int | None) -> None:
        super().__init__(f"{action}: HTTP {status}, UPnP error {code}")
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Gateway:
    """Where the control URL is."""

    host: str
    port: int


def request_bytes(gateway: Gateway, action: str, arguments: dict[str, str | int]) -> bytes:
    """The HTTP request of one action call."""
    inner = "".join(
        f"<{name}>{html.escape(str(value))}</{name}>" for name, value in arguments.items()
    )
    body = (
        '<?xml version="1.0"?>'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
        f'<u:{action} xmlns:u="{SERVICE}">{inner}</u:{action}>'
        "</s:Body></s:Envelope>"
    ).encode()
    head = (
        f"POST {CONTROL_PATH} HTTP/1.1\r\n"
        f"Host: {gateway.host}:{gateway.port}\r\n"
        'Content-Type: text/xml; charset="utf-8"\r\n'
        f'SOAPAction: "{SERVICE}#{action}"\r\n'
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    return head + body


def call(gateway: Gateway, action: str, arguments: dict[str, str | int]) -> str:
    """Send one call and return the response body; SoapCallError for anything but HTTP 200."""
    with socket.create_connection((gateway.host, gateway.port), timeout=CALL_TIMEOUT) as sock:
        sock.sendall(request_bytes(gateway, action, arguments))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks).decode("utf-8", errors="replace")
    head, _, body = response.partition("\r\n\r\n")
    status_line = head.split("\r\n", 1)[0].split()
    status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
    if status != 200:
        code = ERROR_CODE.search(body)
        raise SoapCallError(action, status, int(code.group(1)) if code else None)
    return body


def timed_call(gateway: Gateway, action: str, arguments: dict[str, str | int]) -> float:
    """One call's latency in seconds (SoapCallError when it fails)."""
    started = time.perf_counter()
    call(gateway, action, arguments)
    return time.perf_counter() - started


def add_arguments(client: str, port: int, description: str = "bench") -> dict[str, str | int]:
    """AddPortMapping of external `port` to the same port on `client`, TCP, no remote host."""
    return {
        "NewRemoteHost": "",
        "NewExternalPort": port,
        "NewProtocol": PROTOCOL,
        "NewInternalPort": port,
        "NewInternalClient": client,
        "NewEnabled": 1,
        "NewPortMappingDescription": description,
        "NewLeaseDuration": LEASE,
    }


def delete_arguments(port: int) -> dict[str, str | int]:
    return {"NewRemoteHost": "", "NewExternalPort": port, "NewProtocol": PROTOCOL}


def list_arguments() -> dict[str, str | int]:
    """GetListOfPortMappings of every TCP mapping a LAN host may hold (NumberOfPorts 0 = all)."""
    return {
        "NewStartPort": 1024,  # R4: restricted callers may not start below 1024
        "NewEndPort": 65535,
        "NewProtocol": PROTOCOL,
        "NewManage": 1,
        "NewNumberOfPorts": 0,
    }


def listed_entries(body: str) -> int:
    """How many PortMappingEntry elements a GetListOfPortMappings answer holds (escaped or not)."""
    return len(ENTRY_END.findall(html.unescape(body)))
