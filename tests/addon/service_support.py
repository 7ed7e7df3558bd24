"""The add-on's own service scripts, run in the lab's gateway as s6 would run them.

`run` is started with `sh` (its shebang, /command/with-contenv, exists only in the image) in an
environment like the Supervisor's: options.json in a data folder, SUPERVISOR_TOKEN, and
SUPERVISOR_API pointing at tests/addon/supervisor_stub.py on the gateway's loopback. `finish`
gets the exit code and signal, as s6-supervise passes them.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from tests.lab import LAN_INTERFACE, WAN_INTERFACE, Lab, wait_for_output

ADDON = Path(__file__).resolve().parents[2] / "addon"
SERVICE = ADDON / "rootfs" / "etc" / "s6-overlay" / "s6-rc.d" / "upnp-gateway"
HELPERS = ADDON / "rootfs" / "usr" / "lib" / "upnp-gateway"
STUB = Path(__file__).with_name("supervisor_stub.py")
SUPERVISOR_PORT = 80  # the real one is http://supervisor
TOKEN = "token-the-supervisor-gave"  # noqa: S105 - the stub Supervisor's, for the tests
WAIT = 20.0  # seconds any bounded wait in these tests may take


def supervisor_options(**changes: Any) -> dict[str, Any]:
    """options.json as the Supervisor writes it: config.yaml's defaults, the lab's interfaces."""
    config = yaml.safe_load((ADDON / "config.yaml").read_text(encoding="utf-8"))
    options: dict[str, Any] = dict(config["options"])
    options.update(wan_interface=WAN_INTERFACE, lan_interfaces=[LAN_INTERFACE])
    options.update(changes)
    return options


def write_options(data: Path, options: dict[str, Any]) -> None:
    (data / "options.json").write_text(json.dumps(options), encoding="utf-8")


def service_environment(data: Path, *, token: bool = True) -> dict[str, str]:
    """What the Supervisor and s6 give the scripts, with this checkout's paths."""
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONUNBUFFERED": "1",
        "UPNP_GATEWAY_DATA": str(data),
        "UPNP_GATEWAY_HELPERS": str(HELPERS),
        "SUPERVISOR_API": f"http://127.0.0.1:{SUPERVISOR_PORT}",
        "SUPERVISOR_TOKEN": TOKEN,
    }
    if not token:
        del environment["SUPERVISOR_TOKEN"]
    return environment


@dataclass
class AddonService:
    """The add-on's service in the lab's gateway, with its data folder and stub Supervisor."""

    lab: Lab
    data: Path
    supervisor: subprocess.Popen[str] | None = None

    @classmethod
    def prepare(cls, lab: Lab, data: Path, options: dict[str, Any]) -> AddonService:
        write_options(data, options)
        return cls(lab, data)

    def start_supervisor(self, *, refuse: bool = False) -> None:
        refusing = ["--refuse"] if refuse else []
        self.supervisor = self.lab.start(
            self.lab.gateway, sys.executable, str(STUB), str(SUPERVISOR_PORT), *refusing
        )
        wait_for_output(self.supervisor, ["ready"], timeout=WAIT)

    def start(self, *, token: bool = True) -> subprocess.Popen[str]:
        """`run`, which becomes the daemon."""
        return self.lab.start(
            self.lab.gateway,
            "sh",
            str(SERVICE / "run"),
            env=service_environment(self.data, token=token),
        )

    def finish(self, code: int, signal: int = 0) -> subprocess.CompletedProcess[str]:
        return self._run("sh", str(SERVICE / "finish"), str(code), str(signal))

    def healthcheck(self) -> subprocess.CompletedProcess[str]:
        """The Dockerfile's HEALTHCHECK command."""
        return self._run(sys.executable, str(HELPERS / "healthcheck.py"))

    def next_request(self) -> dict[str, Any]:
        """The next request the stub Supervisor got (waits for it)."""
        assert self.supervisor is not None
        line = wait_for_output(self.supervisor, ['"method"'], timeout=WAIT).splitlines()[-1]
        request: dict[str, Any] = json.loads(line)
        return request

    def pending_requests(self) -> bool:
        """Whether the stub got a request not read yet (it prints each before answering)."""
        assert self.supervisor is not None and self.supervisor.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.supervisor.stdout, selectors.EVENT_READ)
            return bool(selector.select(timeout=0))

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        environment = [f"{key}={value}" for key, value in service_environment(self.data).items()]
        return self.lab.run(
            self.lab.gateway, "env", *environment, *command, check=False, timeout=WAIT
        )
