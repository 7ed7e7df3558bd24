"""Fixtures shared by the daemon's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from igd.daemon import Gateway
from igd.options import parse_options
from tests.daemon.gateway_support import Started


@pytest.fixture
async def start_gateway(tmp_path: Path) -> AsyncIterator[Started]:
    """Start gateways on loopback, free port, given options; all are stopped after the test."""
    started: list[Gateway] = []

    async def start(**raw: Any) -> Gateway:
        gateway = Gateway(parse_options({"http_port": 0, "data_dir": str(tmp_path), **raw}))
        started.append(gateway)
        await gateway.start()
        return gateway

    yield start
    for gateway in started:
        await gateway.stop()
