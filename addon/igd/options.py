"""The daemon's options: one validated, immutable set built from the command line or a mapping.

Everything the daemon is told passes through `parse_options`, so a bad value is refused before any
socket, table or file is touched, with a message naming the option and the value.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from igd.core.arguments import MAX_LEASE_DURATION
from igd.core.mappings import DEFAULT_MAX_MAPPINGS, DEFAULT_MAX_PER_CLIENT
from igd.permissions import PermissionRule, PermissionRuleError, parse_rule
from igd.upnp.faces import ANNOUNCE_BOTH, ANNOUNCE_CHOICES, ANNOUNCE_IGD1

if TYPE_CHECKING:
    from collections.abc import Mapping

BACKENDS = ("nftables", "iptables", "memory", "auto")
IGD_VERSIONS = (1, 2)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOOPBACK_INTERFACE = "lo"
# A fixed port keeps the description URL that control points (Home Assistant's integration among
# them) stored valid across restarts; 5000 is what OpenWrt's miniupnpd package configures.
# 0 asks for any free port, miniupnpd's own default.
DEFAULT_HTTP_PORT = 5000
# Both protocols on every port: more mappings than that can never exist.
MAX_MAPPINGS_LIMIT = 2 * 65535
IFNAMSIZ = 16  # Linux <net/if.h>: names are at most 15 bytes plus the terminating NUL

_INTERFACE_NAME = re.compile(r"[^\s/:]+")
_PORT_RANGE = re.compile(r"\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?")


class OptionsError(ValueError):
    """An option has a value the daemon cannot run with; the message says which and why."""


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    """Everything the daemon is configured with (the defaults are the embedded demo set-up)."""

    wan_interface: str
    lan_interfaces: tuple[str, ...]
    backend: str
    data_dir: Path
    http_port: int
    igd_version: int
    min_lease: int
    max_lease: int
    external_ports: tuple[int, int]
    secure_mode: bool
    trusted_control_points: tuple[ipaddress.IPv4Address, ...]
    external_ip: ipaddress.IPv4Address | None
    log_level: str
    # empty: the default rules (permissions.default_rules)
    permission_rules: tuple[PermissionRule, ...] = ()
    trust_gateway_host: bool = True  # the gateway's own LAN addresses are trusted control points
    max_mappings: int = DEFAULT_MAX_MAPPINGS
    max_mappings_per_client: int = DEFAULT_MAX_PER_CLIENT
    announce: str = ANNOUNCE_BOTH  # which root devices SSDP shows (upnp/faces.py)


def default_data_dir() -> Path:
    """The user's state folder (XDG base directory spec), as the embedded default."""
    state_home = os.environ.get("XDG_STATE_HOME", "")
    base = Path(state_home) if state_home else Path.home() / ".local" / "state"
    return base / "upnp-gateway"


def _interface_name(value: Any) -> str:
    name = str(value)
    if not _INTERFACE_NAME.fullmatch(name) or len(name.encode()) >= IFNAMSIZ or name in (".", ".."):
        raise vol.Invalid(f"not a network interface name: {value!r}")
    return name


def _ipv4(value: Any) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(str(value).strip())
    except ValueError:
        raise vol.Invalid(f"not an IPv4 address: {value!r}") from None


def _path(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise vol.Invalid(f"not a directory path: {value!r}")
    return value


def _port_range(value: Any) -> tuple[int, int]:
    """`low-high` or a single port, both ends inside 1..65535."""
    match = _PORT_RANGE.fullmatch(str(value))
    if match is None:
        raise vol.Invalid(f"not a port range like 1024-65535: {value!r}")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if not 1 <= low <= high <= 65535:
        raise vol.Invalid(f"port range must lie within 1-65535, low end first: {value!r}")
    return low, high


def _permission_rule(value: Any) -> PermissionRule:
    try:
        return parse_rule(str(value))
    except PermissionRuleError as error:
        raise vol.Invalid(str(error)) from None


def _log_level(value: Any) -> str:
    level = str(value).upper()
    if level not in LOG_LEVELS:
        raise vol.Invalid(f"log level must be one of {', '.join(LOG_LEVELS)}: {value!r}")
    return level


def _integer(low: int, high: int) -> vol.Schemable:
    """A whole number (or its decimal text, as the command line gives it) within [low, high]."""

    def check(value: Any) -> int:
        text = value.strip() if isinstance(value, str) else None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif text is not None and text.isdecimal():
            number = int(text)
        else:
            raise vol.Invalid(f"not a whole number: {value!r}")
        if not low <= number <= high:
            raise vol.Invalid(f"must be within {low}-{high}: {value!r}")
        return number

    return check


_SCHEMA = vol.Schema(
    {
        vol.Optional("wan_interface", default=LOOPBACK_INTERFACE): _interface_name,
        vol.Optional("lan_interfaces", default=[LOOPBACK_INTERFACE]): vol.All(
            [_interface_name], vol.Length(min=1, msg="at least one LAN interface is needed")
        ),
        vol.Optional("backend", default="memory"): vol.In(BACKENDS),
        vol.Optional("data_dir", default=None): lambda value: (
            None if value is None else _path(value)
        ),
        vol.Optional("http_port", default=DEFAULT_HTTP_PORT): _integer(0, 65535),
        vol.Optional("igd_version", default=2): _integer(min(IGD_VERSIONS), max(IGD_VERSIONS)),
        vol.Optional("min_lease", default=1): _integer(1, MAX_LEASE_DURATION),
        vol.Optional("max_lease", default=MAX_LEASE_DURATION): _integer(1, MAX_LEASE_DURATION),
        vol.Optional("external_ports", default="1024-65535"): _port_range,
        vol.Optional("secure_mode", default=True): bool,
        vol.Optional("trusted_control_points", default=[]): [_ipv4],
        vol.Optional("external_ip", default=None): lambda value: (
            None if value is None else _ipv4(value)
        ),
        vol.Optional("log_level", default="INFO"): _log_level,
        vol.Optional("permission_rules", default=[]): [_permission_rule],
        vol.Optional("trust_gateway_host", default=True): bool,
        vol.Optional("announce", default=ANNOUNCE_BOTH): vol.In(ANNOUNCE_CHOICES),
        vol.Optional("max_mappings", default=DEFAULT_MAX_MAPPINGS): _integer(1, MAX_MAPPINGS_LIMIT),
        vol.Optional("max_mappings_per_client", default=DEFAULT_MAX_PER_CLIENT): _integer(
            1, MAX_MAPPINGS_LIMIT
        ),
    }
)


def _describe(error: vol.Invalid) -> str:
    where = ".".join(str(part) for part in error.path) or "options"
    return f"{where}: {error.msg}"


def parse_options(raw: Mapping[str, Any]) -> GatewayOptions:
    """Validate `raw` (missing keys take the embedded defaults); raise OptionsError when invalid."""
    try:
        valid = _SCHEMA(dict(raw))
    except vol.MultipleInvalid as error:
        raise OptionsError("; ".join(_describe(each) for each in error.errors)) from None
    lan = tuple(dict.fromkeys(valid["lan_interfaces"]))
    wan = valid["wan_interface"]
    # Only the demo set-up on loopback may share an interface: anything else would serve UPnP
    # on the WAN (security-notes A1).
    if wan in lan and wan != LOOPBACK_INTERFACE:
        raise OptionsError(f"wan_interface: {wan!r} is also a LAN interface")
    if valid["min_lease"] > valid["max_lease"]:
        raise OptionsError(
            f"min_lease: {valid['min_lease']} is longer than max_lease {valid['max_lease']}"
        )
    data_dir = valid["data_dir"]
    announce = _announced(valid["igd_version"], valid["announce"])
    return GatewayOptions(
        wan_interface=wan,
        lan_interfaces=lan,
        backend=valid["backend"],
        data_dir=Path(data_dir).expanduser() if data_dir else default_data_dir(),
        http_port=valid["http_port"],
        igd_version=valid["igd_version"],
        min_lease=valid["min_lease"],
        max_lease=valid["max_lease"],
        external_ports=valid["external_ports"],
        secure_mode=valid["secure_mode"],
        trusted_control_points=tuple(valid["trusted_control_points"]),
        external_ip=valid["external_ip"],
        log_level=valid["log_level"],
        permission_rules=tuple(valid["permission_rules"]),
        trust_gateway_host=valid["trust_gateway_host"],
        max_mappings=valid["max_mappings"],
        max_mappings_per_client=valid["max_mappings_per_client"],
        announce=announce,
    )


def _announced(igd_version: int, announce: str) -> str:
    """`announce` reconciled with `igd_version`: version 1 means nothing IGD:2 anywhere.

    igd_version 1 (everyone gets IGD:1 descriptions) shows only the IGD:1 device, whatever the
    default `both` says; asking for the IGD:2 device in the same breath is a contradiction.
    """
    if igd_version != 1:
        return announce
    if announce not in (ANNOUNCE_BOTH, ANNOUNCE_IGD1):
        raise OptionsError(
            f"announce: {announce!r} shows an IGD:2 device, but igd_version 1 serves IGD:1 only"
        )
    return ANNOUNCE_IGD1
