"""A kernel backend started in the lab's gateway through nft_driver.py, and its redirects."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.nft_driver import Backend
from tests.e2e.traffic_support import listen
from tests.lab import LAN_INTERFACE, WAN_INTERFACE, Lab

# The iptables flavours: `iptables` (iptables-nft on Debian), and `iptables-legacy` where its
# restore is installed.
IPTABLES_COMMANDS = [
    pytest.param("iptables", id="iptables-nft"),
    pytest.param(
        "iptables-legacy",
        marks=pytest.mark.skipif(
            shutil.which("iptables-legacy-restore") is None,
            reason="iptables-legacy-restore is not installed",
        ),
    ),
]


@contextlib.contextmanager
def running_backend(lab: Lab, iptables: str | None = None) -> Iterator[Backend]:
    """The nftables backend, or the iptables one run with the `iptables` command, started."""
    backend = Backend(lab.gateway.namespace, WAN_INTERFACE, LAN_INTERFACE, iptables=iptables)
    try:
        backend.call("start")
        yield backend
    finally:
        backend.close()


def mapping(protocol: str, port: int, client: str, internal: int, remote: str = "") -> list[Any]:
    """A redirect as the driver takes and lists it."""
    return [protocol, port, client, internal, remote]


def forward_tcp_and_udp(lab: Lab, backend: Backend) -> list[list[Any]]:
    """TCP 18000 and UDP 18001 mapped to the LAN client's listeners on 8000 and 8001: the rules."""
    client = lab.lan[0]
    listen(lab, client, 8000, "tcp")
    listen(lab, client, 8001, "udp")
    rules = [
        mapping("TCP", 18000, client.address, 8000),
        mapping("UDP", 18001, client.address, 8001),
    ]
    backend.call("apply", add=rules)
    return rules
