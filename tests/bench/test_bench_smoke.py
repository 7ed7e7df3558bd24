"""The benchmark's smoke run, so that `python -m bench` cannot rot between full runs.

It builds the lab, runs each gateway through every line with tiny counts, and prints the table.
What a user of the benchmark relies on is checked: it finishes, every line of the table is
there, every acknowledged mapping of the sample is reachable from the WAN host, and when
miniupnpd is not installed it says it measured ours only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.gateways import miniupnpd_missing, wrk_missing
from bench.soap_client import listed_entries
from bench.wan_host import stun_answer

ROOT = Path(__file__).resolve().parents[2]
SMOKE_TIMEOUT = 240  # seconds; the smoke run takes about fifteen
LINES = (
    "start to first SSDP alive (s)",
    "resident memory idle (MB)",
    "AddPortMapping at 10, median (ms)",
    "AddPortMapping at 10, p99 (ms)",
    "DeletePortMapping at 10, median (ms)",
    "DeletePortMapping at 10, p99 (ms)",
    "GetGenericPortMappingEntry walk of 10 (s)",
    "GetListOfPortMappings of 10 (ms)",
    "WAN->LAN TCP set-up via first of 10 (conn/s)",
    "WAN->LAN TCP set-up via last of 10 (conn/s)",
    "resident memory with 10 mappings (MB)",
)
REACHABLE = "acknowledged mappings reachable from WAN, sample of 10 (%)"


def _row(output: str, line: str) -> list[str]:
    """The cells after a line's label: ours, miniupnpd's, the ratio."""
    row = next(each for each in output.splitlines() if each.startswith(line))
    return row[len(line) :].split()


@pytest.fixture(scope="module")
def smoke(lab_capability: None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT,
        check=False,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'addon'}"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_smoke_run_prints_every_line_for_our_gateway(smoke: str) -> None:
    for line in LINES:
        ours = _row(smoke, line)[0]
        assert ours not in ("fail", "-"), line
    if wrk_missing() is None:
        assert _row(smoke, "GetExternalIPAddress, 1 clients (req/s)")[0] != "fail"


def test_every_acknowledged_mapping_of_the_sample_is_reachable(smoke: str) -> None:
    assert _row(smoke, REACHABLE)[0] == "100.0"


def test_it_compares_with_miniupnpd_or_says_it_could_not(smoke: str) -> None:
    if miniupnpd_missing() is None:
        assert _row(smoke, "AddPortMapping at 10, median (ms)")[1] not in ("fail", "-")
        assert _row(smoke, REACHABLE)[1] == "100.0"
    else:
        assert "OURS ONLY, no comparison" in smoke


def test_the_goals_are_judged(smoke: str) -> None:
    assert "goals (largest table 10):" in smoke
    assert "every acknowledged mapping of the sample reachable" in smoke


def test_a_listing_is_counted_escaped_or_not() -> None:
    escaped = "&lt;p:PortMappingEntry&gt;x&lt;/p:PortMappingEntry&gt;" * 2
    plain = "<![CDATA[<PortMappingEntry>x</PortMappingEntry>]]>"

    assert listed_entries(escaped) == 2
    assert listed_entries(plain) == 1


def test_the_stun_server_answers_only_binding_requests() -> None:
    request = (
        bytes.fromhex("0001 0008 2112a442") + bytes(range(12)) + bytes.fromhex("0003 0004 00000006")
    )
    answer = stun_answer(request, ("203.0.113.1", 40000))

    assert answer is not None
    assert answer[:2] == bytes.fromhex("0101")
    assert answer[8:20] == bytes(range(12))
    # XOR-MAPPED-ADDRESS: port and address XORed with the magic cookie (RFC 5389 15.2)
    assert answer[-6:-4] == (40000 ^ 0x2112).to_bytes(2, "big")
    assert answer[-4:] == (0xCB007101 ^ 0x2112A442).to_bytes(4, "big")
    assert stun_answer(b"\x01\x01" + request[2:], ("203.0.113.1", 1)) is None
    assert stun_answer(request[:10], ("203.0.113.1", 1)) is None
