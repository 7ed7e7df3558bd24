"""A connection model on a virtual clock over the memory backend, for the connection's tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace

import pytest

from igd.backends.memory import MemoryBackend
from igd.core.connection import ConnectionModel
from igd.core.connection_values import ConnectionSettings, LinkControlError
from igd.core.errors import UpnpError
from igd.core.nat import NatError
from igd.core.wan_interface import WanLinkState

WAN_ADDRESS = "203.0.113.1"
UP = WanLinkState(present=True, carrier=True, address=WAN_ADDRESS, default_route=True)
NO_CARRIER = replace(UP, carrier=False)
NO_ADDRESS = replace(UP, address="")
NO_ROUTE = replace(UP, default_route=False)
ABSENT = WanLinkState()


class VirtualClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class RefusingBackend(MemoryBackend):
    """A memory backend whose kernel refuses to change forwarding while `refuse` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse = False

    async def set_forwarding(self, enabled: bool) -> None:
        if self.refuse:
            raise NatError("kernel said no")
        await super().set_forwarding(enabled)


class SlowBackend(MemoryBackend):
    """A memory backend whose forwarding changes wait until the test releases them."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.release.set()  # until a test wants a change to hang
        self.entered = asyncio.Event()

    async def set_forwarding(self, enabled: bool) -> None:
        self.entered.set()
        await self.release.wait()
        await super().set_forwarding(enabled)


@dataclass
class HostLink:
    """A configured way to take the WAN link up and down, recording what it was asked."""

    calls: list[str] = field(default_factory=list)
    fail: bool = False

    async def bring_up(self) -> None:
        self._record("up")

    async def bring_down(self) -> None:
        self._record("down")

    def _record(self, what: str) -> None:
        self.calls.append(what)
        if self.fail:
            raise LinkControlError(f"cannot bring the link {what}")


@dataclass
class Rig:
    """A connection model, its clock, its backend and every event it sent."""

    model: ConnectionModel
    clock: VirtualClock
    backend: MemoryBackend
    events: list[dict[str, str]] = field(default_factory=list)
    saved: list[ConnectionSettings] = field(default_factory=list)

    def statuses(self) -> list[str]:
        """The ConnectionStatus values evented so far, in order."""
        return [event["ConnectionStatus"] for event in self.events if "ConnectionStatus" in event]

    async def wait(self, seconds: float) -> None:
        """Let `seconds` of virtual time pass, firing each timer that falls due on the way."""
        end = self.clock.now + seconds
        for _ in range(100):
            deadline = self.model.next_deadline()
            if deadline is None or deadline > end:
                break
            self.clock.now = max(self.clock.now, deadline)
            await self.model.advance()
        self.clock.now = end


async def make_rig(
    link: WanLinkState | None = UP,
    *,
    backend: MemoryBackend | None = None,
    settings: ConnectionSettings | None = None,
    link_control: HostLink | None = None,
    external_ip_override: str = "",
    connection_type: str = "IP_Routed",
) -> Rig:
    """A model that has seen `link` once (None: has seen nothing yet)."""
    clock = VirtualClock()
    memory = backend or MemoryBackend()
    model = ConnectionModel(
        clock=clock,
        forwarding=memory.set_forwarding,
        link_control=link_control,
        settings=settings,
        external_ip_override=external_ip_override,
        connection_type=connection_type,
    )
    rig = Rig(model=model, clock=clock, backend=memory)
    model.add_listener(lambda changed: rig.events.append(dict(changed)))
    model.add_settings_listener(rig.saved.append)
    if link is not None:
        await model.observe(link)
    return rig


async def error_code(action: Awaitable[object]) -> int:
    """The UPnP error code an awaited action fails with."""
    with pytest.raises(UpnpError) as caught:
        await action
    return caught.value.code
