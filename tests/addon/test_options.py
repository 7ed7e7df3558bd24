"""Every add-on option is translated and reaches the daemon as the flag that means it.

The mapping is proven through the daemon's own parser: options.json as the Supervisor writes it
goes through addon_options.py, its lines through `upnp-gateway`'s option parser, and each
option must come out as the GatewayOptions field it is documented to set.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from igd.__main__ import build_parser, options_from_argv
from igd.permissions import parse_rule
from tests.addon.service_support import HELPERS, WAIT, service_environment, write_options

CONFIG: dict[str, Any] = yaml.safe_load((HELPERS.parents[3] / "config.yaml").read_text("utf-8"))
TRANSLATIONS: dict[str, Any] = yaml.safe_load(
    (HELPERS.parents[3] / "translations" / "en.yaml").read_text("utf-8")
)

# option -> (a value the Supervisor may write, GatewayOptions field, what the daemon makes of it)
EXAMPLES: dict[str, tuple[Any, str, Any]] = {
    "wan_interface": ("eth1", "wan_interface", "eth1"),
    "lan_interfaces": (["eth0", "wlan0"], "lan_interfaces", ("eth0", "wlan0")),
    "backend": ("memory", "backend", "memory"),
    "http_port": (5431, "http_port", 5431),
    "igd_version": ("1", "igd_version", 1),
    "announce": ("igd2", "announce", "igd2"),
    "secure_mode": (False, "secure_mode", False),
    "trusted_control_points": (
        ["192.168.1.2", "192.168.1.3"],
        "trusted_control_points",
        (ipaddress.IPv4Address("192.168.1.2"), ipaddress.IPv4Address("192.168.1.3")),
    ),
    "external_ports": ("2000-3000", "external_ports", (2000, 3000)),
    "trust_gateway_host": (False, "trust_gateway_host", False),
    "permission_rules": (
        ["allow 2000-3000 192.168.1.0/24 2000-3000", "deny 0-65535 0.0.0.0/0 0-65535"],
        "permission_rules",
        (
            parse_rule("allow 2000-3000 192.168.1.0/24 2000-3000"),
            parse_rule("deny 0-65535 0.0.0.0/0 0-65535"),
        ),
    ),
    "min_lease": (120, "min_lease", 120),
    "max_lease": (86400, "max_lease", 86400),
    "external_ip": ("198.51.100.7", "external_ip", ipaddress.IPv4Address("198.51.100.7")),
    "log_level": ("debug", "log_level", "DEBUG"),
    "max_mappings": (10000, "max_mappings", 10000),
    "max_mappings_per_client": (500, "max_mappings_per_client", 500),
}


def _helper(name: str) -> ModuleType:
    """One of the add-on's helper scripts, imported as the image's python3 runs it."""
    sys.path.insert(0, str(HELPERS))
    try:
        spec = importlib.util.spec_from_file_location(name, HELPERS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(HELPERS))


addon_options = _helper("addon_options")


def _supervisor_options(**changes: Any) -> dict[str, Any]:
    options: dict[str, Any] = {**CONFIG["options"], "wan_interface": "eth1"}
    options["lan_interfaces"] = ["eth0"]
    return options | changes


def test_every_option_has_a_name_and_a_description() -> None:
    described = TRANSLATIONS["configuration"]

    assert sorted(described) == sorted(CONFIG["schema"])
    assert all(entry["name"] and entry["description"] for entry in described.values())


def test_the_examples_cover_every_option() -> None:
    assert sorted(EXAMPLES) == sorted(CONFIG["schema"])


@pytest.mark.parametrize("option", sorted(EXAMPLES))
def test_each_option_sets_what_it_says(option: str, tmp_path: Path) -> None:
    value, field, meaning = EXAMPLES[option]
    options = _supervisor_options(**{option: value})

    arguments = addon_options.daemon_arguments(options, tmp_path)
    parsed = options_from_argv(arguments)

    assert getattr(parsed, field) == meaning
    assert parsed.data_dir == tmp_path


def test_the_defaults_run_the_nftables_gateway(tmp_path: Path) -> None:
    parsed = options_from_argv(addon_options.daemon_arguments(_supervisor_options(), tmp_path))

    assert (parsed.backend, parsed.http_port, parsed.igd_version) == ("nftables", 5000, 2)
    assert parsed.secure_mode is True
    assert parsed.external_ports == (1024, 65535)


def test_every_daemon_flag_is_an_option_or_the_data_folder() -> None:
    flags = {
        flag
        for action in build_parser()._actions
        for flag in action.option_strings
        if flag.startswith("--") and flag != "--help"
    }
    mapped = {
        *addon_options.VALUE_FLAGS.values(),
        *addon_options.REPEATED_FLAGS.values(),
        *(flag for pair in addon_options.SWITCH_FLAGS.values() for flag in pair),
        "--data-dir",
    }

    assert sorted(flags - mapped) == []
    assert sorted(mapped - flags) == []


def _print_arguments(folder: Path) -> subprocess.CompletedProcess[str]:
    """addon_options.py as the service script runs it."""
    return subprocess.run(
        [sys.executable, str(HELPERS / "addon_options.py")],
        env=service_environment(folder),
        capture_output=True,
        text=True,
        check=False,
        timeout=WAIT,
    )


def test_the_script_prints_one_argument_a_line(tmp_path: Path) -> None:
    write_options(tmp_path, _supervisor_options(trusted_control_points=["192.168.1.2"]))

    printed = _print_arguments(tmp_path)

    assert printed.returncode == 0
    assert printed.stdout.splitlines() == addon_options.daemon_arguments(
        _supervisor_options(trusted_control_points=["192.168.1.2"]), tmp_path
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{not json", "is not JSON"),
        ("[]", "does not hold an object of options"),
        (_supervisor_options(wan_interface=None), "wan_interface is not set"),
        (_supervisor_options(lan_interfaces=[]), "lan_interfaces is not set"),
        (_supervisor_options(upnp_igd=True), "upnp_igd is not an option of this add-on"),
        (_supervisor_options(wan_interface="eth1\n--backend=memory"), "must be on one line"),
        (_supervisor_options(secure_mode="yes"), "secure_mode must be true or false"),
        (_supervisor_options(lan_interfaces="eth0"), "lan_interfaces must be a list"),
        (_supervisor_options(wan_interface=["eth1"]), "wan_interface must be a text or a number"),
        (_supervisor_options(http_port=True), "http_port must be a text or a number"),
    ],
)
def test_options_that_cannot_become_a_command_line_are_refused(
    content: Any, message: str, tmp_path: Path
) -> None:
    if content is not None:
        text = content if isinstance(content, str) else json.dumps(content)
        (tmp_path / "options.json").write_text(text, encoding="utf-8")

    printed = _print_arguments(tmp_path)

    assert printed.returncode == 1
    assert printed.stdout == ""
    assert printed.stderr.startswith("upnp-gateway add-on: ")
    assert message in printed.stderr


def test_the_healthcheck_names_an_interface_that_is_not_there(tmp_path: Path) -> None:
    write_options(tmp_path, _supervisor_options(lan_interfaces=["nowhere0"]))

    checked = subprocess.run(
        [sys.executable, str(HELPERS / "healthcheck.py")],
        env=service_environment(tmp_path),
        capture_output=True,
        text=True,
        check=False,
        timeout=WAIT,
    )

    assert checked.returncode == 1
    assert "unhealthy: lan_interfaces: no interface 'nowhere0'" in checked.stderr


def _discovery(folder: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    # Port 9 on loopback is closed: a request there fails at once, and goes nowhere else.
    environment = service_environment(folder) | {"SUPERVISOR_API": "http://127.0.0.1:9"}
    return subprocess.run(
        [sys.executable, str(HELPERS / "discovery.py"), *arguments],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=WAIT,
    )


def test_announcing_without_a_lan_interface_says_why(tmp_path: Path) -> None:
    write_options(tmp_path, _supervisor_options(lan_interfaces=[]))

    announced = _discovery(tmp_path, "announce", "--daemon-pid", str(os.getpid()))

    assert announced.returncode == 1
    assert "not announcing: lan_interfaces is not set" in announced.stderr


def test_announcing_for_a_daemon_that_is_gone_says_why(tmp_path: Path) -> None:
    write_options(tmp_path, _supervisor_options(lan_interfaces=["lo"]))
    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its PID names no process now

    announced = _discovery(tmp_path, "announce", "--daemon-pid", str(gone.pid))

    assert announced.returncode == 1
    assert "not announcing: [Errno 3] No such process" in announced.stderr


def test_withdrawing_when_the_supervisor_is_unreachable_says_so(tmp_path: Path) -> None:
    (tmp_path / "supervisor-discovery.json").write_text('{"uuid": "abc"}', encoding="utf-8")

    withdrawn = _discovery(tmp_path, "withdraw")

    assert withdrawn.returncode == 1
    assert "the Supervisor did not withdraw the discovery: DELETE /discovery/abc" in (
        withdrawn.stderr
    )


def test_withdrawing_with_an_unreadable_record_says_so(tmp_path: Path) -> None:
    (tmp_path / "supervisor-discovery.json").write_text("uuid?", encoding="utf-8")

    withdrawn = _discovery(tmp_path, "withdraw")

    assert withdrawn.returncode == 1
    assert "unreadable supervisor-discovery.json, nothing withdrawn" in withdrawn.stderr
    assert not (tmp_path / "supervisor-discovery.json").exists()
