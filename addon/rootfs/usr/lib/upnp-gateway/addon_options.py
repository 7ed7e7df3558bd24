"""The add-on's options (options.json, written by the Supervisor) as the daemon's command line.

The Supervisor has checked every value against config.yaml's schema and the daemon checks them
again (igd.options), so this module maps option names to `upnp-gateway` flags and refuses only
what would make a wrong command line: an option it does not know, a value of the wrong shape, a
line break (the service script reads one argument a line), and the two interfaces left unset
(the daemon would fall back to its loopback demo and forward nothing).

Run as a script it prints the arguments, one a line, for the service script.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from igd.upnp.devices import DESCRIPTION, IGD1_PREFIX
from igd.upnp.lan_interface import LanInterfaceError, lan_interface

if TYPE_CHECKING:
    from collections.abc import Mapping

DATA_DIR_VARIABLE = "UPNP_GATEWAY_DATA"  # the tests point it elsewhere
DEFAULT_DATA_DIR = Path("/data")  # the add-on's persistent folder, as the Supervisor mounts it
OPTIONS_FILE = "options.json"

# option -> the flag that takes its value
VALUE_FLAGS = {
    "wan_interface": "--wan-interface",
    "backend": "--backend",
    "http_port": "--http-port",
    "igd_version": "--igd-version",
    "announce": "--announce",
    "min_lease": "--min-lease",
    "max_lease": "--max-lease",
    "external_ports": "--external-ports",
    "external_ip": "--external-ip",
    "log_level": "--log-level",
    "max_mappings": "--max-mappings",
    "max_mappings_per_client": "--max-mappings-per-client",
}
# list option -> the flag given once for each element
REPEATED_FLAGS = {
    "lan_interfaces": "--lan-interface",
    "trusted_control_points": "--trusted-control-point",
    "permission_rules": "--permission-rule",
}
# bool option -> (flag when true, flag when false)
SWITCH_FLAGS = {
    "secure_mode": ("--secure-mode", "--no-secure-mode"),
    "trust_gateway_host": ("--trust-gateway-host", "--no-trust-gateway-host"),
}

REQUIRED = {
    "wan_interface": "choose the interface facing the Internet",
    "lan_interfaces": "add the interface(s) facing your LAN",
}


class AddonOptionsError(Exception):
    """options.json cannot become a command line; the message says what to fix."""


def data_dir() -> Path:
    """The folder with options.json, where the daemon also keeps its state."""
    return Path(os.environ.get(DATA_DIR_VARIABLE) or DEFAULT_DATA_DIR)


def load_options(folder: Path) -> dict[str, Any]:
    """The options the Supervisor wrote into `folder`."""
    path = folder / OPTIONS_FILE
    try:
        options = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise AddonOptionsError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise AddonOptionsError(f"{path} is not JSON: {error}") from None
    if not isinstance(options, dict):
        raise AddonOptionsError(f"{path} does not hold an object of options")
    return options


def daemon_arguments(options: Mapping[str, Any], folder: Path) -> list[str]:
    """The `upnp-gateway` arguments for `options`, with `folder` as its data directory."""
    for name, hint in REQUIRED.items():
        if options.get(name) in (None, "", []):
            raise AddonOptionsError(f"{name} is not set: {hint} in the add-on's configuration")
    arguments = [f"--data-dir={folder}"]
    for name, value in options.items():
        if value is None:  # an optional option the user left empty
            continue
        if name in VALUE_FLAGS:
            arguments.append(f"{VALUE_FLAGS[name]}={_scalar(name, value)}")
        elif name in REPEATED_FLAGS:
            if not isinstance(value, list):
                raise AddonOptionsError(f"{name} must be a list, not {value!r}")
            arguments += [f"{REPEATED_FLAGS[name]}={_scalar(name, each)}" for each in value]
        elif name in SWITCH_FLAGS:
            if not isinstance(value, bool):
                raise AddonOptionsError(f"{name} must be true or false, not {value!r}")
            arguments.append(SWITCH_FLAGS[name][0 if value else 1])
        else:
            raise AddonOptionsError(f"{name} is not an option of this add-on")
    return arguments


def _scalar(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise AddonOptionsError(f"{name} must be a text or a number, not {value!r}")
    text = str(value)
    if "\n" in text or "\0" in text:
        raise AddonOptionsError(f"{name} must be on one line")
    return text


def advertised_location(options: Mapping[str, Any]) -> tuple[str, int, str]:
    """(host, port, description URL) where Home Assistant finds the gateway.

    Home Assistant shares the host's network, so the first LAN interface's address reaches it;
    the description is the root device the gateway announces (IGD:1's own in IGD:1 mode).
    """
    lans = options.get("lan_interfaces") or []
    if not lans:
        raise AddonOptionsError(f"lan_interfaces is not set: {REQUIRED['lan_interfaces']}")
    try:
        host = str(lan_interface(str(lans[0])).address)
    except LanInterfaceError as error:
        raise AddonOptionsError(f"lan_interfaces: {error}") from None
    port = int(options.get("http_port") or 0)
    path = DESCRIPTION if str(options.get("igd_version", "2")) == "2" else IGD1_PREFIX + DESCRIPTION
    return host, port, f"http://{host}:{port}{path}"


def main() -> int:
    """Print the daemon's arguments, one a line; 1 with the reason on stderr when impossible."""
    folder = data_dir()
    try:
        arguments = daemon_arguments(load_options(folder), folder)
    except AddonOptionsError as error:
        print(f"upnp-gateway add-on: {error}", file=sys.stderr)
        return 1
    print("\n".join(arguments))
    return 0


if __name__ == "__main__":
    sys.exit(main())
