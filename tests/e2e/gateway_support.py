"""The daemon in the lab's gateway, and a control point's HTTP from any host of the lab.

`start_daemon` runs `python -m igd` with the nftables backend on lan0/wan0 and waits until it
serves; `soap` and `request` run tests/e2e/http_tool.py inside a namespace and return its answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.lab import LAN_GATEWAY, LAN_INTERFACE, WAN_INTERFACE, Host, Lab, wait_for_output

HTTP_PORT = 5000
BASE = f"http://{LAN_GATEWAY}:{HTTP_PORT}"
DESCRIPTION = f"{BASE}/rootDesc.xml"
CONTROL = f"{BASE}/ctl/IPConn"
EVENTS = f"{BASE}/evt/IPConn"
TABLE = "upnp_gateway"
WAIT = 15.0  # seconds any bounded wait in these tests may take
HTTP_TOOL = str(Path(__file__).with_name("http_tool.py"))
# async-upnp-client's `upnp-client` console script, started with an event loop of its own:
# its main() calls asyncio.get_event_loop(), which Python 3.14 no longer makes up.
UPNP_CLIENT = (
    "import asyncio, sys; asyncio.set_event_loop(asyncio.new_event_loop()); "
    "sys.argv[0] = 'upnp-client'; from async_upnp_client.cli import main; main()"
)


def start_daemon(lab: Lab, data_dir: Path, *flags: str) -> subprocess.Popen[str]:
    """The gateway daemon (nftables) in the lab, once it serves its description.

    Its log is a pipe: read it (wait_for_output) or give `--log-level WARNING` in a long test.
    """
    daemon = lab.start(
        lab.gateway,
        sys.executable,
        "-m",
        "igd",
        "--backend",
        "nftables",
        "--wan-interface",
        WAN_INTERFACE,
        "--lan-interface",
        LAN_INTERFACE,
        "--http-port",
        str(HTTP_PORT),
        "--data-dir",
        str(data_dir),
        *flags,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    if "WARNING" in flags:  # it will not say that it listens: ask until it answers
        deadline = time.monotonic() + WAIT
        while request(lab, lab.gateway, "GET", DESCRIPTION)["status"] != 200:
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise TimeoutError(f"the daemon did not serve {DESCRIPTION} within {WAIT}s")
            time.sleep(0.2)
    else:
        wait_for_output(daemon, [f"UPnP Gateway listening on {DESCRIPTION}"], timeout=WAIT)
    return daemon


def subscribe_wanipconnection(lab: Lab, host: Host, description: str) -> subprocess.Popen[str]:
    """`upnp-client subscribe` to the WANIPConnection of `description`: one JSON line an event."""
    return lab.start(
        host,
        sys.executable,
        "-c",
        UPNP_CLIENT,
        "--timeout",
        "5",
        "subscribe",
        description,
        "WANIPConn1",
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _tool(lab: Lab, host: Host, *arguments: str) -> dict[str, Any]:
    done = lab.run(host, sys.executable, HTTP_TOOL, *arguments, timeout=WAIT)
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def soap(
    lab: Lab, host: Host, action: str, *, url: str = CONTROL, bind: str | None = None, **values: Any
) -> dict[str, Any]:
    """One WANIPConnection:2 action from `host`: {"status", "error", "body", …} or "refused"."""
    where = ["--bind", bind] if bind else []
    pairs = [f"{name}={value}" for name, value in values.items()]
    return _tool(lab, host, "soap", url, action, *where, *pairs)


def request(
    lab: Lab, host: Host, method: str, url: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Any HTTP request from `host` (GENA's SUBSCRIBE, a GET)."""
    given = [f"--header={name}: {value}" for name, value in (headers or {}).items()]
    return _tool(lab, host, "request", method, url, *given)


def mapping(client: str, external_port: int, protocol: str = "TCP") -> dict[str, Any]:
    """AddPortMapping's arguments for `client`:8000 on `external_port`, one hour."""
    return {
        "NewRemoteHost": "",
        "NewExternalPort": external_port,
        "NewProtocol": protocol,
        "NewInternalPort": 8000,
        "NewInternalClient": client,
        "NewEnabled": 1,
        "NewPortMappingDescription": "test",
        "NewLeaseDuration": 3600,
    }


def kernel_redirects(lab: Lab) -> set[tuple[str, int, str, int]]:
    """(protocol, external port, internal client, internal port) of our table's DNAT map."""
    done = lab.run(lab.gateway, "nft", "-j", "list", "map", "ip", TABLE, "redirects")
    found: set[tuple[str, int, str, int]] = set()
    for item in json.loads(done.stdout)["nftables"]:
        for key, data in item.get("map", {}).get("elem", []):
            protocol, port = key["concat"]
            client, internal_port = data["concat"]
            found.add((protocol.upper(), port, client, internal_port))
    return found
