"""Whole gateways in-process on loopback: the type of the `start_gateway` fixture (conftest.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from igd.daemon import Gateway

type Started = Callable[..., Awaitable[Gateway]]
