"""The add-on's Dockerfile, read statically (no Docker engine here to build it).

What can go wrong without a build is checked: the base image is Home Assistant's and has a
Python the daemon supports, every COPY source exists in the add-on folder (the Supervisor's
build context), the daemon is installed from that folder with its own dependency list, the
nftables and iptables userlands are there, and the health check runs a script the image contains.
"""

from __future__ import annotations

import re
import shlex
import tomllib

from tests.addon.service_support import ADDON

HOME_ASSISTANT_BASE = re.compile(
    r"ghcr\.io/home-assistant/base-python:(?P<python>3\.\d+)-alpine(?P<alpine>3\.\d+)"
)


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (ADDON / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


INSTRUCTIONS = _instructions()


def _all(keyword: str) -> list[str]:
    return [arguments for instruction, arguments in INSTRUCTIONS if instruction == keyword]


def test_the_base_image_is_home_assistants_with_a_python_the_daemon_supports() -> None:
    project = tomllib.loads((ADDON / "pyproject.toml").read_text(encoding="utf-8"))
    minimum = project["project"]["requires-python"].removeprefix(">=")
    (build_from,) = [a for a in _all("ARG") if a.startswith("BUILD_FROM=")]
    image = HOME_ASSISTANT_BASE.fullmatch(build_from.removeprefix("BUILD_FROM="))

    assert INSTRUCTIONS[0] == ("ARG", build_from)  # declared before FROM, overridable
    assert _all("FROM") == ["${BUILD_FROM}"]
    assert image is not None
    assert tuple(map(int, image["python"].split("."))) >= tuple(map(int, minimum.split(".")))


def test_every_copy_source_is_in_the_add_on_folder() -> None:
    sources = [shlex.split(arguments)[:-1] for arguments in _all("COPY")]

    assert sources  # the daemon and the rootfs are copied
    assert [s for each in sources for s in each if not (ADDON / s).exists()] == []


def test_the_daemon_is_installed_from_its_own_folder_with_its_dependencies() -> None:
    workdir = next(a for a in _all("WORKDIR") if a != "/")
    copied = {shlex.split(a)[0]: shlex.split(a)[-1] for a in _all("COPY")}
    installs = [shlex.split(a) for a in _all("RUN") if "pip3 install" in a]

    assert copied["pyproject.toml"] == "./"  # the dependency list ...
    assert copied["igd"] == "./igd"  # ... and the package, into the working directory
    assert workdir.startswith("/usr/src/")
    assert len(installs) == 1
    assert installs[0][:4] == ["pip3", "install", "--no-cache-dir", "."]


def test_the_nftables_and_iptables_userlands_are_installed() -> None:
    packages = [a for a in _all("RUN") if a.startswith("apk add")]

    assert packages == ["apk add --no-cache nftables iptables"]


def test_the_health_check_runs_a_script_of_the_image() -> None:
    (healthcheck,) = _all("HEALTHCHECK")
    command = healthcheck.partition("CMD ")[2]
    script = re.search(r'"(/usr/lib/upnp-gateway/[^"]+)"', command)

    assert script is not None
    assert (ADDON / "rootfs" / script[1].lstrip("/")).is_file()


def test_the_image_is_labelled_as_an_add_on() -> None:
    labels = " ".join(_all("LABEL"))

    assert 'io.hass.type="addon"' in labels
