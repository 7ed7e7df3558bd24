"""The `upnp-gateway` command: help, refusals of bad flags, and a run from start to SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from igd.__main__ import build_parser, main
from tests.lab import wait_for_output

LISTENING = "UPnP Gateway listening on http://"
FLAGS = (
    "--wan-interface",
    "--lan-interface",
    "--backend",
    "--data-dir",
    "--http-port",
    "--igd-version",
    "--min-lease",
    "--max-lease",
    "--external-ports",
    "--secure-mode",
    "--trusted-control-point",
    "--external-ip",
    "--log-level",
    "--max-mappings",
    "--max-mappings-per-client",
)


def _gateway(data_dir: Path, *flags: str) -> subprocess.Popen[str]:
    """The daemon as the add-on runs it, on loopback with a free port."""
    return subprocess.Popen(
        [sys.executable, "-m", "igd", "--http-port", "0", "--data-dir", str(data_dir), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _stop(process: subprocess.Popen[str], signum: int | None = signal.SIGTERM) -> int:
    """Signal the daemon (None: let it exit by itself) and return its exit code."""
    if signum is not None and process.poll() is None:
        process.send_signal(signum)
    try:
        return process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        assert process.stdout is not None
        process.stdout.close()


def test_help_documents_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])

    assert exited.value.code == 0
    shown = capsys.readouterr().out
    for flag in FLAGS:
        assert flag in shown


def test_every_flag_has_help_text() -> None:
    for action in build_parser()._actions:
        assert action.help, action.option_strings


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--http-port", "70000"], "http_port: must be within 0-65535"),
        (["--http-port", "web"], "http_port: not a whole number"),
        (["--backend", "pf"], "--backend: invalid choice"),
        (["--igd-version", "3"], "--igd-version: invalid choice"),
        (["--log-level", "chatty"], "--log-level: invalid choice"),
        (["--external-ip", "gateway.example"], "external_ip: not an IPv4 address"),
        (["--trusted-control-point", "10.0.0.300"], "not an IPv4 address"),
        (["--wan-interface", "eth0", "--lan-interface", "eth0"], "also a LAN interface"),
        (["--min-lease", "600", "--max-lease", "60"], "longer than max_lease"),
        (["--external-ports", "9-1"], "low end first"),
        (["--listen-everywhere"], "unrecognized arguments: --listen-everywhere"),
    ],
)
def test_a_bad_flag_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("upnp-gateway: error: ")
    assert message in error


def test_runs_until_sigterm_and_exits_0(tmp_path: Path) -> None:
    gateway = _gateway(tmp_path)
    try:
        seen = wait_for_output(gateway, [LISTENING])
        url = seen[seen.index(LISTENING) + len("UPnP Gateway listening on ") :].split()[0]
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/rootDesc.xml")
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - our own loopback URL
            assert b"InternetGatewayDevice:2" in answer.read()
    finally:
        code = _stop(gateway)

    assert code == 0


def test_sigint_stops_it_too(tmp_path: Path) -> None:
    gateway = _gateway(tmp_path)
    try:
        wait_for_output(gateway, [LISTENING])
    finally:
        code = _stop(gateway, signal.SIGINT)

    assert code == 0


def test_the_device_keeps_its_identity_across_restarts(tmp_path: Path) -> None:
    udns = []
    for _ in range(2):
        gateway = _gateway(tmp_path)
        try:
            seen = wait_for_output(gateway, [LISTENING])
            url = seen[seen.index("http://") :].split()[0]
            with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback
                text = answer.read().decode()
            udns.append(text[text.index("<UDN>") : text.index("</UDN>")])
        finally:
            assert _stop(gateway) == 0

    assert udns[0] == udns[1]


def test_a_missing_lan_interface_is_reported_and_exit_1(tmp_path: Path) -> None:
    gateway = _gateway(tmp_path, "--lan-interface", "nosuch0")
    try:
        seen = wait_for_output(gateway, ["Cannot start"])
    finally:
        code = _stop(gateway, None)

    assert code == 1
    assert "no interface 'nosuch0'" in seen


def test_a_taken_port_is_reported_and_exit_1(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        gateway = subprocess.Popen(
            [sys.executable, "-m", "igd", "--http-port", port, "--data-dir", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            seen = wait_for_output(gateway, ["Cannot start"])
        finally:
            code = _stop(gateway, None)

    assert code == 1
    assert f"cannot listen on port {port}" in seen


def test_an_unusable_data_dir_is_reported_and_exit_1(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    gateway = _gateway(not_a_directory)
    try:
        seen = wait_for_output(gateway, ["Cannot start"])
    finally:
        code = _stop(gateway, None)

    assert code == 1
    assert str(not_a_directory) in seen
