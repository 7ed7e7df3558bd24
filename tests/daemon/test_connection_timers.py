"""The connection's timers in virtual time: auto and idle disconnect, the warning delay."""

from __future__ import annotations

from igd.core import connection_actions as actions
from igd.core.connection_values import ConnectionSettings, ConnectionStatus, LastConnectionError
from tests.daemon.connection_support import (
    UP,
    make_rig,
)

S = ConnectionStatus
E = LastConnectionError


# -- the timers -----------------------------------------------------------------------------


async def test_auto_disconnect_ends_the_connection_that_long_after_it_came_up() -> None:
    rig = await make_rig(UP)
    rig.clock.now += 40
    actions.set_auto_disconnect_time(rig.model, 100, authorized=True)

    assert rig.model.next_deadline() == rig.clock.now + 60
    await rig.wait(59)
    assert rig.model.status is S.CONNECTED
    await rig.wait(1)
    assert rig.model.status_info() == (S.DISCONNECTED, E.ERROR_IDLE_DISCONNECT, 0)
    assert rig.backend.forwarding is False


async def test_an_auto_disconnect_time_already_past_ends_the_connection_now() -> None:
    rig = await make_rig(UP)
    rig.clock.now += 500

    actions.set_auto_disconnect_time(rig.model, 100, authorized=True)
    await rig.wait(0)

    assert rig.model.status is S.DISCONNECTED


async def test_a_timer_warns_first_when_a_warning_delay_is_set() -> None:
    settings = ConnectionSettings(auto_disconnect_time=100, warn_disconnect_delay=20)
    rig = await make_rig(UP, settings=settings)

    await rig.wait(100)
    assert rig.model.status is S.PENDING_DISCONNECT
    await rig.wait(20)
    assert rig.model.status_info() == (S.DISCONNECTED, E.ERROR_IDLE_DISCONNECT, 0)


async def test_idle_disconnect_waits_for_silence_on_the_wan() -> None:
    rig = await make_rig(UP, settings=ConnectionSettings(idle_disconnect_time=30))

    for packets in range(1, 7):  # a minute of traffic, seen every 10 s
        await rig.wait(10)
        rig.model.observe_traffic(packets)
    assert rig.model.status is S.CONNECTED
    await rig.wait(10)
    rig.model.observe_traffic(6)  # nothing new
    await rig.wait(19)
    assert rig.model.status is S.CONNECTED
    await rig.wait(1)
    assert rig.model.last_error is E.ERROR_IDLE_DISCONNECT


async def test_zero_timers_never_fire() -> None:
    rig = await make_rig(UP)
    actions.set_auto_disconnect_time(rig.model, 0, authorized=True)
    actions.set_idle_disconnect_time(rig.model, 0, authorized=True)

    assert rig.model.next_deadline() is None


async def test_the_timer_driver_is_told_when_deadlines_may_have_moved() -> None:
    rig = await make_rig(UP)
    calls: list[None] = []
    rig.model.add_timer_listener(lambda: calls.append(None))

    actions.set_idle_disconnect_time(rig.model, 30, authorized=True)
    rig.model.observe_traffic(5)
    rig.model.observe_traffic(5)

    assert len(calls) == 2
