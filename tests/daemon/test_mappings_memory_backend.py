"""The memory NAT backend: the embedded default must refuse what a kernel refuses, atomically."""

from __future__ import annotations

import pytest

from igd.backends.memory import MemoryBackend
from igd.core.nat import NatBackend, NatError, Redirect

GAME = Redirect("UDP", 3074, "192.168.50.10", 3074)
GAME_FROM_PEER = Redirect("UDP", 3074, "192.168.50.11", 3074, "198.51.100.7")
WEB = Redirect("TCP", 8080, "192.168.50.10", 80)


async def test_rules_are_added_listed_and_removed() -> None:
    backend: NatBackend = MemoryBackend()
    assert backend.name == "memory"
    await backend.start()
    await backend.apply(add=[WEB, GAME])
    await backend.apply(add=[GAME_FROM_PEER])  # another RemoteHost is another rule
    assert await backend.list() == [WEB, GAME, GAME_FROM_PEER]  # sorted
    await backend.apply(remove=[GAME])
    assert await backend.list() == [WEB, GAME_FROM_PEER]
    await backend.stop()
    assert await backend.list() == [WEB, GAME_FROM_PEER]  # rules outlive stop, like a kernel's


async def test_remove_then_add_in_one_step() -> None:
    backend = MemoryBackend(capacity=1)
    await backend.apply(add=[GAME])
    moved = Redirect("UDP", 3074, "192.168.50.10", 3075)
    await backend.apply(add=[moved], remove=[GAME])
    assert await backend.list() == [moved]


@pytest.mark.parametrize(
    ("add", "remove"),
    [
        ([GAME], []),  # already there
        ([WEB, WEB], []),  # twice in one change
        ([], [WEB]),  # not there
        ([], [GAME, GAME]),  # removed twice
        ([], [Redirect("UDP", 3074, "192.168.50.10", 9999)]),  # same port, other rule
        ([WEB, GAME_FROM_PEER], []),  # beyond capacity
    ],
)
async def test_refused_change_leaves_everything_as_it_was(
    add: list[Redirect], remove: list[Redirect]
) -> None:
    backend = MemoryBackend(capacity=2)
    await backend.apply(add=[GAME])
    with pytest.raises(NatError):
        await backend.apply(add=add, remove=remove)
    assert await backend.list() == [GAME]


async def test_forwarding_gate_is_recorded() -> None:
    backend = MemoryBackend()
    states = [backend.forwarding]
    for enabled in (False, True):
        await backend.set_forwarding(enabled)
        states.append(backend.forwarding)
    assert states == [True, False, True]
