"""Runs an NftablesBackend (or, with --iptables COMMAND, an IptablesBackend) in a lab namespace.

A netlink socket talks to the namespace of the process that opened it, so the backend has to live
in the gateway's namespace: `ip netns exec GW python nft_driver.py WAN LAN`. It reads one JSON
command a line on stdin and answers one JSON line on stdout:

    {"op": "start" | "stop" | "list"}
    {"op": "apply", "add": [redirect, ...], "remove": [redirect, ...]}
    {"op": "apply_each", "add": [redirect, ...]}   one transaction per redirect; answers the seconds
    {"op": "set_forwarding", "enabled": true}

A redirect is [protocol, external_port, internal_client, internal_port, remote_host]. Answers are
{"ok": true, "result": ...} or {"ok": false, "error": "NatError", "message": "..."}.
`Backend` is the tests' end of it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from igd.backends.iptables import IptablesBackend
from igd.backends.nftables import NftablesBackend
from igd.core.nat import NatBackend, NatError, Redirect

ADDON = Path(__file__).resolve().parents[2] / "addon"


def _redirects(rows: list[list[Any]]) -> list[Redirect]:
    return [Redirect(*row) for row in rows]


def _rows(redirects: list[Redirect]) -> list[list[Any]]:
    return [
        [r.protocol, r.external_port, r.internal_client, r.internal_port, r.remote_host]
        for r in redirects
    ]


async def _perform(backend: NatBackend, command: dict[str, Any]) -> Any:
    match command["op"]:
        case "start":
            await backend.start()
        case "stop":
            await backend.stop()
        case "list":
            return _rows(await backend.list())
        case "apply":
            await backend.apply(
                add=_redirects(command.get("add", [])),
                remove=_redirects(command.get("remove", [])),
            )
        case "apply_each":
            began = time.perf_counter()
            for redirect in _redirects(command["add"]):
                await backend.apply(add=[redirect])
            return time.perf_counter() - began
        case "set_forwarding":
            await backend.set_forwarding(command["enabled"])
        case unknown:
            raise ValueError(f"unknown op {unknown!r}")
    return None


async def _serve(backend: NatBackend) -> None:
    print(json.dumps({"ok": True, "result": "ready"}), flush=True)
    while line := await asyncio.to_thread(sys.stdin.readline):
        try:
            answer = {"ok": True, "result": await _perform(backend, json.loads(line))}
        except (NatError, RuntimeError, ValueError) as error:
            answer = {"ok": False, "error": type(error).__name__, "message": str(error)}
        print(json.dumps(answer), flush=True)


class Backend:
    """The driver started in a namespace, for a test to call as it would the backend."""

    def __init__(self, namespace: str, *interfaces: str, iptables: str | None = None) -> None:
        driver = (sys.executable, __file__, *interfaces)
        if iptables is not None:
            driver += ("--iptables", iptables)
        self._process = subprocess.Popen(
            ["ip", "netns", "exec", namespace, *driver],
            env=os.environ | {"PYTHONPATH": str(ADDON)},  # the daemon's package, installed or not
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self._answer(timeout=30)

    def _answer(self, timeout: float) -> Any:
        assert self._process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._process.stdout, selectors.EVENT_READ)
            line = self._process.stdout.readline() if selector.select(timeout) else ""
        if not line:
            raise RuntimeError(f"the driver gave no answer: {self.close()}")
        answer = json.loads(line)
        if not answer["ok"]:
            kinds = {"NatError": NatError, "RuntimeError": RuntimeError, "ValueError": ValueError}
            raise kinds[answer["error"]](answer["message"])
        return answer["result"]

    def call(self, op: str, timeout: float = 120, **fields: Any) -> Any:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self._process.stdin.flush()
        return self._answer(timeout)

    def close(self) -> str:
        """End the driver (end of input, then SIGTERM); what it wrote to stderr."""
        try:
            _, errors = self._process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.send_signal(signal.SIGTERM)
            _, errors = self._process.communicate(timeout=10)
        return str(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("wan_interface")
    parser.add_argument("lan_interfaces", nargs="*")
    parser.add_argument("--iptables", metavar="COMMAND", help="the iptables backend, with COMMAND")
    arguments = parser.parse_args()
    backend: NatBackend
    if arguments.iptables is None:
        backend = NftablesBackend(arguments.wan_interface, arguments.lan_interfaces)
    else:
        backend = IptablesBackend(arguments.wan_interface, arguments.iptables)
    asyncio.run(_serve(backend))


if __name__ == "__main__":
    main()
