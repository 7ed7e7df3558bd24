"""Fixtures for the add-on's tests that need network namespaces (root).

Outside CI such tests skip with the reason when the machine cannot build a lab; in CI (CI=true)
a missing capability fails them instead, so a green run always means they ran.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.lab import Lab, lab, lab_unavailable_reason


@pytest.fixture(scope="session")
def lab_capability() -> None:
    """Skip (or, in CI, fail) when network namespaces cannot be built here."""
    reason = lab_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs network namespaces: {reason}")
    pytest.skip(reason)


@pytest.fixture
def netlab(lab_capability: None) -> Iterator[Lab]:
    """A fresh lab with one LAN client, torn down after the test."""
    with lab(lan_clients=1) as built:
        yield built
