"""Inbound forwarding from the WAN on or off, as the connection wants it: the last wish wins.

Terminations and reconnections can overlap (ForceTermination while RequestConnection waits), so
calls to the NAT backend are serialized and each applies the wish current when it runs; the kernel
ends in the state the connection is in, whatever order the callers resumed in.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


class ForwardingGate:
    """Applies `wanted()` through `apply` (NatBackend.set_forwarding) when it differs."""

    def __init__(
        self, apply: Callable[[bool], Awaitable[None]], wanted: Callable[[], bool]
    ) -> None:
        self._apply = apply
        self._wanted = wanted
        self._open: bool | None = None  # unknown until first applied
        self._lock = asyncio.Lock()

    async def sync(self) -> None:
        """Make the backend match the wish; NatError (state unchanged) if it refuses."""
        async with self._lock:
            wanted = self._wanted()
            if self._open is not wanted:
                await self._apply(wanted)
                self._open = wanted
