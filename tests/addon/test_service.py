"""The add-on's service, end to end in the lab: options in, a working gateway and discovery out.

The service's own `run` script starts in the gateway namespace with an options.json in the
Supervisor's format; a LAN client maps a port with upnpc through the description URL the
discovery message names, and the WAN host connects through it. Stopping the daemon and running
`finish`, as s6 does, withdraws the message.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.addon.service_support import (
    HELPERS,
    SERVICE,
    TOKEN,
    WAIT,
    AddonService,
    service_environment,
    supervisor_options,
    write_options,
)
from tests.addon.supervisor_stub import REFUSAL, UUID
from tests.e2e.traffic_support import connect, listen
from tests.lab import LAN_GATEWAY, LAN_INTERFACE, Lab, wait_for_output

DESCRIPTION = f"http://{LAN_GATEWAY}:5000/rootDesc.xml"
STATE = "supervisor-discovery.json"


def _stop(daemon: subprocess.Popen[str]) -> int:
    """SIGTERM, as s6 stops a service; the daemon's exit code."""
    os.kill(daemon.pid, signal.SIGTERM)
    return daemon.wait(timeout=WAIT)


def test_the_addon_forwards_a_port_and_announces_itself_until_stopped(
    netlab: Lab, tmp_path: Path
) -> None:
    service = AddonService.prepare(netlab, tmp_path, supervisor_options())
    service.start_supervisor()
    daemon = service.start()

    posted = service.next_request()

    assert posted == {
        "method": "POST",
        "path": "/discovery",
        "authorization": f"Bearer {TOKEN}",
        "body": {
            "service": "upnp_gateway",
            "config": {"host": LAN_GATEWAY, "port": 5000, "description_url": DESCRIPTION},
        },
    }

    client = netlab.lan[0]
    listener = listen(netlab, client, 8000, "tcp")
    upnpc = ["upnpc", "-i", "-u", DESCRIPTION, "-e", "addon test"]
    added = netlab.run(client, *upnpc, "-a", client.address, "8000", "18000", "TCP", timeout=WAIT)
    answer = connect(netlab, 18000)

    assert "is redirected to internal" in added.stdout
    assert answer == "hello over TCP"
    assert f"tcp from {netlab.wan.address}" in wait_for_output(listener, ["tcp from"])
    assert service.healthcheck().returncode == 0

    exit_code = _stop(daemon)
    finished = service.finish(exit_code)
    deleted = service.next_request()

    assert exit_code == 0
    assert finished.returncode == 0
    assert deleted["method"] == "DELETE"
    assert deleted["path"] == f"/discovery/{UUID}"
    assert deleted["authorization"] == f"Bearer {TOKEN}"
    assert not (tmp_path / STATE).exists()
    unhealthy = service.healthcheck()
    assert unhealthy.returncode == 1
    assert f"no answer from {DESCRIPTION}" in unhealthy.stderr


def test_an_igd1_only_gateway_announces_the_igd1_description(netlab: Lab, tmp_path: Path) -> None:
    service = AddonService.prepare(
        netlab, tmp_path, supervisor_options(backend="memory", igd_version="1")
    )
    service.start_supervisor()
    daemon = service.start()

    config = service.next_request()["body"]["config"]
    listed = netlab.run(netlab.lan[0], "upnpc", "-i", "-u", config["description_url"], "-s")

    assert config["description_url"] == f"http://{LAN_GATEWAY}:5000/igd1/rootDesc.xml"
    assert "Status : Connected" in listed.stdout
    assert _stop(daemon) == 0


def test_a_refused_discovery_is_logged_and_the_gateway_keeps_serving(
    netlab: Lab, tmp_path: Path
) -> None:
    service = AddonService.prepare(netlab, tmp_path, supervisor_options(backend="memory"))
    service.start_supervisor(refuse=True)
    daemon = service.start()

    service.next_request()
    log = wait_for_output(daemon, ["did not take the discovery"], timeout=WAIT)

    assert f"403 {REFUSAL}" in log
    assert service.healthcheck().returncode == 0

    exit_code = _stop(daemon)
    finished = service.finish(exit_code)

    assert finished.returncode == 0
    assert not service.pending_requests()  # nothing was posted, so nothing is deleted


def test_outside_the_supervisor_the_gateway_runs_without_announcing(
    netlab: Lab, tmp_path: Path
) -> None:
    service = AddonService.prepare(netlab, tmp_path, supervisor_options(backend="memory"))
    service.start_supervisor()
    daemon = service.start(token=False)

    # the announcing helper runs beside the daemon: its word may come before or after the daemon's
    wanted = ["UPnP Gateway listening on", "SUPERVISOR_TOKEN is not set"]
    log = ""
    while missing := [needle for needle in wanted if needle not in log]:
        log += wait_for_output(daemon, missing, timeout=WAIT)

    assert "SUPERVISOR_TOKEN is not set" in log
    assert service.healthcheck().returncode == 0
    assert _stop(daemon) == 0
    assert not service.pending_requests()


def test_options_the_daemon_refuses_stop_the_service_without_an_announcement(
    netlab: Lab, tmp_path: Path
) -> None:
    options = supervisor_options(backend="memory", wan_interface=LAN_INTERFACE)
    service = AddonService.prepare(netlab, tmp_path, options)
    service.start_supervisor()
    daemon = service.start()

    log = wait_for_output(daemon, ["not announcing"], timeout=WAIT)

    assert daemon.wait(timeout=WAIT) == 2
    assert f"wan_interface: '{LAN_INTERFACE}' is also a LAN interface" in log
    assert "the gateway stopped before it served" in log
    assert not service.pending_requests()


def test_the_service_does_not_start_without_the_interfaces(tmp_path: Path) -> None:
    write_options(tmp_path, supervisor_options(wan_interface=None))

    ran = subprocess.run(
        ["sh", str(SERVICE / "run")],
        env=service_environment(tmp_path),
        capture_output=True,
        text=True,
        check=False,
        timeout=WAIT,
    )

    assert ran.returncode == 1
    assert "wan_interface is not set: choose the interface facing the Internet" in ran.stderr
    assert "starting upnp-gateway" not in ran.stderr


def test_withdrawing_without_an_announcement_asks_nothing(tmp_path: Path) -> None:
    withdrawn = subprocess.run(
        [sys.executable, str(HELPERS / "discovery.py"), "withdraw"],
        env=service_environment(tmp_path) | {"SUPERVISOR_API": "http://127.0.0.1:9"},
        capture_output=True,
        text=True,
        check=False,
        timeout=WAIT,
    )

    assert withdrawn.returncode == 0
    assert withdrawn.stderr == ""
