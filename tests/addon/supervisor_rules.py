"""The Supervisor's rules for an add-on's config.yaml, as its documentation and code state them.

Written from the Supervisor's add-on schema (supervisor/addons/validate.py, options.py; 2026.x)
and frenck/action-addon-linter (keys set to their default value are errors), not copied: the
tests check our config.yaml against these, because no Supervisor runs here.
"""

from __future__ import annotations

import re
from typing import Any

SLUG = re.compile(r"[-_.A-Za-z0-9]+")
ARCHITECTURES = {"aarch64", "amd64"}  # armhf, armv7, i386: deprecated since 2025.12
STARTUP = {"initialize", "system", "services", "application", "once"}
CAPABILITIES = {
    "BPF", "CHECKPOINT_RESTORE", "DAC_READ_SEARCH", "IPC_LOCK", "NET_ADMIN", "NET_RAW", "PERFMON",
    "SYS_ADMIN", "SYS_MODULE", "SYS_NICE", "SYS_PTRACE", "SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME",
}  # fmt: skip
REQUIRED = ("name", "version", "slug", "description", "arch")

# Every optional key the Supervisor reads, with its default where it has one. The Supervisor drops
# any other key without a word, so a misspelt key would silently do nothing.
DEFAULTS: dict[str, Any] = {
    "advanced": False, "apparmor": True, "audio": False, "auth_api": False, "backup": "hot",
    "boot": "auto", "devicetree": False, "docker_api": False, "full_access": False, "gpio": False,
    "hassio_api": False, "hassio_role": "default", "homeassistant_api": False,
    "host_dbus": False, "host_ipc": False, "host_network": False, "host_pid": False,
    "host_uts": False, "ingress": False, "ingress_port": 8099, "ingress_stream": False,
    "init": True, "journald": False, "kernel_modules": False, "legacy": False, "map": [],
    "options": {}, "panel_admin": True, "panel_icon": "mdi:puzzle", "realtime": False,
    "schema": {}, "stage": "stable", "startup": "application", "stdin": False, "timeout": 10,
    "tmpfs": False, "uart": False, "udev": False, "ulimits": {}, "usb": False, "video": False,
}  # fmt: skip
WITHOUT_DEFAULT = {
    "machine", "url", "ports", "ports_description", "watchdog", "webui", "ingress_entry",
    "panel_title", "homeassistant", "devices", "environment", "privileged", "services",
    "discovery", "backup_exclude", "backup_pre", "backup_post", "restore_pre", "restore_post",
    "image", "breaking_versions", "codenotary",
}  # fmt: skip
KNOWN_KEYS = set(REQUIRED) | set(DEFAULTS) | WITHOUT_DEFAULT
OBSOLETE = {
    "watchdog": "use the Dockerfile's HEALTHCHECK",
    "codenotary": "no longer used",
    "auto_uart": "use uart",
}

# One element of an option's schema: its type, bounds and `?` when optional.
SCHEMA_ELEMENT = re.compile(
    r"(?P<type>bool|email|url|port|device(?:\(subsystem=[a-z]+\))?"
    r"|(?P<ranged>str|password|int|float)(?:\((?P<low>[\d.]*),(?P<high>[\d.]*)\))?"
    r"|match\((?P<pattern>.*)\)|list\((?P<choices>.+)\))(?P<optional>\?)?"
)


def element_problem(element: str, value: Any) -> str | None:
    """Why the Supervisor refuses `value` for a schema `element`, or None when it takes it."""
    parsed = SCHEMA_ELEMENT.fullmatch(element)
    if parsed is None:
        return f"unknown schema type {element!r}"
    if value is None:  # the user has to fill it in (required) or may leave it (optional)
        return None
    kind = parsed["ranged"] or parsed["type"]
    problem: str | None = None
    if kind == "bool":
        problem = None if isinstance(value, bool) else "not a bool"
    elif kind == "port":
        problem = None if _whole(value) and 1 <= value <= 65535 else "not a port"
    elif kind in ("int", "float"):
        problem = _range_problem(value, parsed["low"], parsed["high"])
    elif parsed["pattern"] is not None:
        problem = None if re.match(parsed["pattern"], str(value)) else "does not match"
    elif parsed["choices"] is not None:
        problem = None if str(value) in parsed["choices"].split("|") else "not a choice"
    return problem and f"{value!r}: {problem} ({element})"


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _range_problem(value: Any, low: str | None, high: str | None) -> str | None:
    if not _whole(value) and not isinstance(value, float):
        return "not a number"
    if (low and value < float(low)) or (high and value > float(high)):
        return "out of range"
    return None
