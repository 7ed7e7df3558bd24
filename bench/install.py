"""Installing what the full benchmark needs (wrk, miniupnpd-nftables), leaving no service behind.

miniupnpd-nftables itself ships no service, but the older `miniupnpd` package (an init script
and a systemd unit) may come along on some releases, and its postinst starts the daemon on the
host, listening on the host's real interfaces. So apt-get runs with Debian's policy-rc.d
convention (exit 101: "action forbidden") when the host has no policy of its own, and afterwards
any miniupnpd service is stopped and disabled and any miniupnpd running in the host's own
network namespace is reported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PACKAGES = ("wrk", "miniupnpd-nftables")
POLICY_RC = Path("/usr/sbin/policy-rc.d")
FORBID_ALL = "#!/bin/sh\n# bench/install.py: no service starts during this install\nexit 101\n"
APT_TIMEOUT = 600.0


class InstallError(RuntimeError):
    """The packages could not be installed; the message says why."""


def _installed(package: str) -> bool:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return "install ok installed" in done.stdout


def _apt(*arguments: str) -> None:
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(
        ["apt-get", "-qq", *arguments],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=APT_TIMEOUT,
    )
    if done.returncode != 0:
        raise InstallError(f"apt-get {' '.join(arguments)}: {done.stderr.strip()[-500:]}")


def _miniupnpd_in_host_namespace() -> list[int]:
    """miniupnpd processes in this process's network namespace (not the lab's)."""
    ours = Path("/proc/self/ns/net").readlink()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == "miniupnpd" and (
                entry / "ns" / "net"
            ).readlink() == ours:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _stop_services() -> list[str]:
    """Stop and disable a miniupnpd service if a package installed one; what was done."""
    done = []
    if Path("/lib/systemd/system/miniupnpd.service").exists() and shutil.which("systemctl"):
        subprocess.run(
            ["systemctl", "disable", "--now", "miniupnpd.service"], capture_output=True, check=False
        )
        done.append("systemctl disable --now miniupnpd.service")
    if Path("/etc/init.d/miniupnpd").exists():
        subprocess.run(["/etc/init.d/miniupnpd", "stop"], capture_output=True, check=False)
        if shutil.which("update-rc.d"):
            subprocess.run(
                ["update-rc.d", "miniupnpd", "disable"], capture_output=True, check=False
            )
        done.append("/etc/init.d/miniupnpd stop; update-rc.d miniupnpd disable")
    return done


def ensure_packages() -> list[str]:
    """Install the missing packages (as root, on Debian); notes on what was done."""
    missing = [package for package in PACKAGES if not _installed(package)]
    if not missing:
        return []
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise InstallError(f"missing Debian packages {missing}: run as root on Debian")
    notes = [f"installed {' '.join(missing)} with apt-get"]
    own_policy = not POLICY_RC.exists()
    if own_policy:
        POLICY_RC.write_text(FORBID_ALL)
        POLICY_RC.chmod(0o755)
    try:
        _apt("update")
        _apt("install", "-y", "--no-install-recommends", *missing)
    finally:
        if own_policy:
            POLICY_RC.unlink(missing_ok=True)
    notes += _stop_services()
    running = _miniupnpd_in_host_namespace()
    if running:
        notes.append(f"WARNING: miniupnpd runs in the host's namespace (PIDs {running})")
    return notes
