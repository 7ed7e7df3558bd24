"""A mapping table on a virtual clock over the memory backend, for the core's tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import pytest

from igd.backends.memory import MemoryBackend
from igd.core.arguments import MappingArguments
from igd.core.errors import UpnpError
from igd.core.mappings import Caller, MappingTable, Permissions, PortInUse, TableChange
from igd.core.nat import Redirect

TRUSTED = Caller(address="192.168.50.2", authorized=True)  # e.g. the Home Assistant host
CONSOLE = Caller(address="192.168.50.10", authorized=False)
LAPTOP = Caller(address="192.168.50.11", authorized=False)


class VirtualClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def mapping_args(
    caller: Caller,
    *,
    remote_host: str = "",
    external_port: int = 5000,
    protocol: str = "TCP",
    internal_port: int = 5000,
    internal_client: str | None = None,
    enabled: bool = True,
    description: str = "test",
    lease_duration: int = 3600,
) -> MappingArguments:
    """AddPortMapping/AddAnyPortMapping arguments; InternalClient defaults to the caller."""
    return MappingArguments(
        remote_host=remote_host,
        external_port=external_port,
        protocol=protocol,
        internal_port=internal_port,
        internal_client=caller.address if internal_client is None else internal_client,
        enabled=enabled,
        description=description,
        lease_duration=lease_duration,
    )


@dataclass
class Rig:
    """A table, its clock, its backend and every change event it sent."""

    table: MappingTable
    clock: VirtualClock
    backend: MemoryBackend
    changes: list[TableChange] = field(default_factory=list)

    async def kernel(self) -> list[Redirect]:
        return await self.backend.list()


def make_rig(
    *,
    backend: MemoryBackend | None = None,
    max_mappings: int = 1024,
    max_per_client: int = 64,
    permissions: Permissions | None = None,
    port_in_use: PortInUse | None = None,
    expose_all_mappings: bool = False,
) -> Rig:
    clock = VirtualClock()
    memory = backend or MemoryBackend()
    table = MappingTable(
        memory,
        clock,
        max_mappings=max_mappings,
        max_per_client=max_per_client,
        permissions=permissions,
        port_in_use=port_in_use,
        expose_all_mappings=expose_all_mappings,
    )
    rig = Rig(table=table, clock=clock, backend=memory)
    table.add_listener(rig.changes.append)
    return rig


class PortRules:
    """Permission rules allowing external ports in the given ranges only (and recording calls)."""

    def __init__(self, *allowed: range, internal_ports: range = range(1, 65536)) -> None:
        self.allowed = allowed
        self.internal_ports = internal_ports
        self.calls: list[tuple[int, str, int]] = []

    def allows(self, external_port: int, internal_client: str, internal_port: int) -> bool:
        self.calls.append((external_port, internal_client, internal_port))
        return internal_port in self.internal_ports and any(
            external_port in ports for ports in self.allowed
        )


class GatedBackend(MemoryBackend):
    """A memory backend whose changes wait until the test opens the gate (a slow kernel)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    async def apply(self, add: Sequence[Redirect] = (), remove: Sequence[Redirect] = ()) -> None:
        self.entered.set()
        await self.gate.wait()
        await super().apply(add=add, remove=remove)


async def error_code(action: Awaitable[object]) -> int:
    """The UPnP error code an awaited action fails with."""
    with pytest.raises(UpnpError) as caught:
        await action
    return caught.value.code


def read_error_code(action: Callable[[], object]) -> int:
    """The UPnP error code a read action fails with."""
    with pytest.raises(UpnpError) as caught:
        action()
    return caught.value.code
