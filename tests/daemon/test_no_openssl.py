"""The daemon's process runs without OpenSSL; a process that loaded it already keeps it."""

from __future__ import annotations

import json
import subprocess
import sys

REPORT = """
import json, sys
{first}
import igd.__main__
import aiohttp.web
import hashlib
maps = open("/proc/self/maps").read()
print(json.dumps({{
    "ssl": sys.modules.get("ssl") is not None,
    "libcrypto": "libcrypto" in maps,
    "sha256": hashlib.sha256(b"igd").hexdigest(),
}}))
"""


def report(first: str = "") -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", REPORT.format(first=first)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def test_the_daemon_loads_neither_ssl_nor_libcrypto_and_still_hashes() -> None:
    import hashlib  # noqa: PLC0415  the digest this process computes with OpenSSL

    answer = report()

    assert answer == {
        "ssl": False,
        "libcrypto": False,
        "sha256": hashlib.sha256(b"igd").hexdigest(),
    }


def test_a_process_with_ssl_loaded_keeps_it() -> None:
    answer = report(first="import ssl")

    assert answer["ssl"] is True
