"""The two gateways under test, each started and stopped in the lab's gateway namespace.

Both are configured alike: WAN `wan0`, LAN `lan0` only, HTTP port 5000, secure mode on, leases
kept in a file of a temporary folder, logging at notice/warning so neither pays for log lines.
miniupnpd runs as it does on a router (daemonized, its own config file and pid file in the
temporary folder); ours runs in the foreground as the add-on runs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Protocol

from tests.lab import LAN_INTERFACE, WAN_INTERFACE, Lab, wait_for_output

HTTP_PORT = 5000
MINIUPNPD = "/usr/sbin/miniupnpd"
START_WAIT = 20.0  # seconds a gateway may take to send its first ssdp:alive
STOP_WAIT = 10.0
BENCH_UUID = "3d3cec3a-8cf0-11e0-98ee-00b0d0b0e0f0"
# The chains miniupnpd's nftables backend expects (its defaults: table `filter`, family inet),
# what Debian's nft_init.sh would make.
MINIUPNPD_RULESET = """
table inet filter {
  chain forward {
    type filter hook forward priority 0; policy accept;
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
}
"""


class GatewayUnderTest(Protocol):
    """What the benchmark needs of a gateway."""

    name: str

    def start(self, wait: float = ...) -> float:
        """Start it; the seconds from the start to its first ssdp:alive (within `wait`)."""
        ...

    def pid(self) -> int: ...

    def stop(self) -> None: ...


def _first_alive(lab: Lab, launch: object, wait: float) -> float:
    """Listen on the LAN client, call `launch()`, return seconds to the first ssdp:alive."""
    assert callable(launch)
    listener = lab.start(
        lab.lan[0],
        sys.executable,
        "-m",
        "bench.lan_client",
        "ssdp-alive",
        str(wait),
    )
    wait_for_output(listener, ["listening"], timeout=START_WAIT)
    started = time.monotonic()
    launch()
    answer = wait_for_output(listener, ["alive_at"], timeout=wait + 5)
    alive_at = json.loads(answer.strip().splitlines()[-1])["alive_at"]
    if alive_at is None:
        raise RuntimeError("no ssdp:alive from the gateway")
    return float(alive_at) - started


def _drain(process: subprocess.Popen[str]) -> None:
    """Read a process's output in the background so that it never blocks on a full pipe."""

    def read() -> None:
        assert process.stdout is not None
        with contextlib.suppress(ValueError, OSError):
            for _line in process.stdout:
                pass

    threading.Thread(target=read, daemon=True).start()


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    return False


def _terminate(pid: int) -> None:
    """SIGTERM, then SIGKILL if it is still there after STOP_WAIT (a process we started)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, STOP_WAIT):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, STOP_WAIT)


def is_running(pid: int) -> bool:
    """Whether the process is there and not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def resident_megabytes(pid: int) -> float:
    """VmRSS of a process, in MB (10^6 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"no VmRSS for {pid}")


class OurGateway:
    """`python -m igd --backend nftables` in the gateway namespace."""

    name = "ours"

    def __init__(self, lab: Lab, folder: Path, max_mappings: int) -> None:
        self._lab = lab
        self._folder = folder
        self._max = max_mappings
        self._process: subprocess.Popen[str] | None = None
        # As installed in the add-on's image, the modules are compiled once, not at each start
        # (a developer's shell may say PYTHONDONTWRITEBYTECODE): compile them before timing.
        self._env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        subprocess.run(
            [sys.executable, "-c", "import igd.daemon"], env=self._env, check=True, timeout=120
        )

    def start(self, wait: float = START_WAIT) -> float:
        def launch() -> None:
            self._process = self._lab.start(
                self._lab.gateway,
                sys.executable,
                "-m",
                "igd",
                "--backend=nftables",
                f"--wan-interface={WAN_INTERFACE}",
                f"--lan-interface={LAN_INTERFACE}",
                f"--http-port={HTTP_PORT}",
                f"--data-dir={self._folder}",
                f"--max-mappings={self._max}",
                f"--max-mappings-per-client={self._max}",
                "--log-level=WARNING",
                env=self._env,
            )
            _drain(self._process)

        return _first_alive(self._lab, launch, wait)

    def pid(self) -> int:
        """Its process ID; 0 when it is not running."""
        return 0 if self._process is None else self._process.pid

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            _terminate(self._process.pid)
            self._process.wait(timeout=STOP_WAIT)
        self._process = None
        self._lab.run(self._lab.gateway, "nft", "flush", "ruleset")


class Miniupnpd:
    """miniupnpd (Debian's miniupnpd-nftables) with a config file of its own."""

    name = "miniupnpd"

    def __init__(self, lab: Lab, folder: Path) -> None:
        self._lab = lab
        self._folder = folder
        self._config = folder / "miniupnpd.conf"
        self._pid_file = folder / "miniupnpd.pid"
        self._pid: int | None = None
        self._config.write_text(
            "\n".join(
                [
                    f"ext_ifname={WAN_INTERFACE}",
                    f"listening_ip={LAN_INTERFACE}",
                    f"http_port={HTTP_PORT}",
                    "enable_natpmp=no",
                    "enable_upnp=yes",
                    "secure_mode=yes",
                    "ipv6_disable=yes",
                    "system_uptime=yes",
                    "notify_interval=900",
                    # the lab's WAN address is a documentation one (see bench/wan_host.py)
                    "ext_perform_stun=yes",
                    f"ext_stun_host={lab.wan.address}",
                    "ext_stun_port=3478",
                    f"lease_file={folder / 'miniupnpd.leases'}",
                    f"uuid={BENCH_UUID}",
                    "allow 1024-65535 192.168.50.0/24 1024-65535",
                    "deny 0-65535 0.0.0.0/0 0-65535",
                    "",
                ]
            )
        )
        stun = lab.start(
            lab.wan, sys.executable, "-m", "bench.wan_host", "stun", lab.wan.address, "86400"
        )
        wait_for_output(stun, ["listening"], timeout=START_WAIT)
        _drain(stun)

    def start(self, wait: float = START_WAIT) -> float:
        """Start it on fresh chains; it puts back the mappings of its lease file itself."""
        self._lab.run(self._lab.gateway, "nft", "flush", "ruleset")
        self._lab.run(self._lab.gateway, "nft", "-f", "-", input_text=MINIUPNPD_RULESET)
        self._pid_file.unlink(missing_ok=True)

        def launch() -> None:
            self._lab.run(
                self._lab.gateway,
                MINIUPNPD,
                "-f",
                str(self._config),
                "-P",
                str(self._pid_file),
                timeout=START_WAIT,
            )

        seconds = _first_alive(self._lab, launch, wait)
        deadline = time.monotonic() + wait
        while not self._pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._pid = int(self._pid_file.read_text().split()[0])
        return seconds

    def pid(self) -> int:
        """Its process ID; 0 when it is not running."""
        return self._pid or 0

    def stop(self) -> None:
        """End the miniupnpd we started (daemonized, so the lab does not know it)."""
        if self._pid is not None and _is_miniupnpd(self._pid):
            _terminate(self._pid)
        self._pid = None
        self._lab.run(self._lab.gateway, "nft", "flush", "ruleset")


def _is_miniupnpd(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "miniupnpd"
    except OSError:
        return False


def miniupnpd_missing() -> str | None:
    """Why miniupnpd cannot run here, or None."""
    if not Path(MINIUPNPD).exists():
        return "miniupnpd is not installed (Debian package miniupnpd-nftables)"
    return None


def wrk_missing() -> str | None:
    return None if shutil.which("wrk") else "wrk is not installed (Debian package wrk)"
