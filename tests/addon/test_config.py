"""addon/config.yaml, apparmor.txt and the repository layout against the Supervisor's rules.

No Supervisor runs here, so the rules it applies when it loads an add-on (tests/addon/
supervisor_rules.py) are checked directly, with the choices this add-on made on top: host
network, NET_ADMIN only, s6-overlay as init, discovery of its own service, no API access.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import PurePosixPath
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from tests.addon.service_support import ADDON, SERVICE
from tests.addon.supervisor_rules import (
    ARCHITECTURES,
    CAPABILITIES,
    DEFAULTS,
    KNOWN_KEYS,
    OBSOLETE,
    REQUIRED,
    SLUG,
    STARTUP,
    element_problem,
)

REPOSITORY = ADDON.parent
CONFIG: dict[str, Any] = yaml.safe_load((ADDON / "config.yaml").read_text(encoding="utf-8"))


def test_the_required_keys_are_there_and_well_formed() -> None:
    assert [key for key in REQUIRED if key not in CONFIG] == []
    assert all(isinstance(CONFIG[key], str) and CONFIG[key] for key in REQUIRED[:4])
    assert SLUG.fullmatch(CONFIG["slug"])
    assert CONFIG["slug"] == "upnp_gateway"  # the integration's domain (DESIGN.md)
    assert CONFIG["url"].startswith("https://")


def test_the_version_is_the_daemons() -> None:
    project = tomllib.loads((ADDON / "pyproject.toml").read_text(encoding="utf-8"))
    changelog = (ADDON / "CHANGELOG.md").read_text(encoding="utf-8")

    assert CONFIG["version"] == project["project"]["version"]
    assert re.search(r"^## (\S+)", changelog, re.MULTILINE)[1] == CONFIG["version"]  # type: ignore[index]


def test_only_the_supported_architectures_are_listed() -> None:
    assert CONFIG["arch"]
    assert len(set(CONFIG["arch"])) == len(CONFIG["arch"])
    assert set(CONFIG["arch"]) <= ARCHITECTURES


def test_every_key_is_one_the_supervisor_reads_and_none_is_obsolete() -> None:
    assert sorted(set(CONFIG) - KNOWN_KEYS) == []
    assert {key: why for key, why in OBSOLETE.items() if key in CONFIG} == {}


def test_no_key_is_set_to_its_default_value() -> None:
    assert {
        key: CONFIG[key] for key in DEFAULTS if CONFIG.get(key, object()) == DEFAULTS[key]
    } == {}


def test_the_gateway_gets_the_host_network_and_net_admin_only() -> None:
    assert CONFIG["host_network"] is True
    assert set(CONFIG["privileged"]) <= CAPABILITIES
    assert CONFIG["privileged"] == ["NET_ADMIN"]
    assert CONFIG["startup"] in STARTUP
    unneeded = ("full_access", "host_pid", "host_dbus", "docker_api", "hassio_api", "map")
    assert [key for key in unneeded if key in CONFIG] == []


def test_ports_and_web_ui_are_absent_on_the_host_network() -> None:
    assert [
        key for key in ("ports", "ports_description", "webui", "ingress") if key in CONFIG
    ] == []


def test_discovery_names_the_integrations_service_and_needs_no_api_role() -> None:
    assert CONFIG["discovery"] == [CONFIG["slug"]]
    assert "hassio_role" not in CONFIG
    assert "homeassistant_api" not in CONFIG


def test_s6_overlay_is_the_init_and_runs_the_gateway_service() -> None:
    rc = SERVICE.parent

    assert CONFIG["init"] is False
    assert (SERVICE / "type").read_text(encoding="utf-8").strip() == "longrun"
    assert (SERVICE / "dependencies.d" / "base").exists()
    assert (rc / "user" / "contents.d" / SERVICE.name).exists()
    assert all((SERVICE / script).stat().st_mode & 0o111 for script in ("run", "finish"))


def test_every_option_has_a_schema_and_a_default_the_schema_takes() -> None:
    options, schema = CONFIG["options"], CONFIG["schema"]

    assert sorted(set(options) - set(schema)) == []
    problems = {name: _problem(schema[name], options.get(name)) for name in schema}
    assert {name: problem for name, problem in problems.items() if problem} == {}


def test_options_left_out_of_options_are_optional() -> None:
    schema = CONFIG["schema"]
    missing = [name for name in schema if name not in CONFIG["options"]]

    assert [name for name in missing if not str(schema[name]).endswith("?")] == []


@pytest.mark.parametrize(
    ("element", "value", "refused"),
    [
        ("int(1,604800)", 0, True),
        ("int(1,604800)", 604800, False),
        ("port", 0, True),
        ("port", True, True),
        ("bool", "yes", True),
        ("list(2|1)", "3", True),
        ("list(2|1)", 2, False),
        (r"match(^\d+$)", "12a", True),
        ("str(,3)?", "x", False),
        ("text", "x", True),
    ],
)
def test_the_schema_rules_refuse_what_the_supervisor_refuses(
    element: str, value: Any, refused: bool
) -> None:
    assert (element_problem(element, value) is not None) is refused


def test_the_apparmor_profile_is_one_profile_with_the_add_ons_capabilities() -> None:
    profile = (ADDON / "apparmor.txt").read_text(encoding="utf-8")
    names = re.findall(r"^profile (\S+)", profile, re.MULTILINE)
    capabilities = set(re.findall(r"^\s*capability (\w+),", profile, re.MULTILINE))

    assert profile.startswith("#include <tunables/global>")
    assert names == [CONFIG["slug"]]  # the Supervisor loads exactly one top-level profile
    # NET_BIND_SERVICE is in Docker's default set; the profile allows it for ports below 1024
    assert capabilities == {c.lower() for c in CONFIG["privileged"]} | {"net_bind_service"}


def test_config_yaml_is_the_only_add_on_configuration_in_the_repository() -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    # What the Supervisor loads as an add-on (its store: **/config.{json,yaml,yml}, skipping
    # paths with a part that starts with a dot or is named rootfs)
    configurations = [
        path
        for path in map(PurePosixPath, listed)
        if path.name in ("config.json", "config.yaml", "config.yml")
        and not any(part.startswith(".") or part == "rootfs" for part in path.parts)
    ]

    assert configurations == [PurePosixPath("addon/config.yaml")]


def test_there_is_no_legacy_build_yaml() -> None:
    """Supervisor 2026.4+ warns about build.yaml; the Dockerfile names its base image."""
    assert [path.name for path in ADDON.glob("build.*")] == []


def _problem(element: Any, value: Any) -> str | None:
    if isinstance(element, list):
        if not isinstance(value, list):
            return f"{value!r}: not a list"
        return next(filter(None, (element_problem(element[0], each) for each in value)), None)
    return element_problem(str(element), value)
