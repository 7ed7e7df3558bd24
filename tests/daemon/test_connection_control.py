"""Bringing the link up and down, the NAT backend refusing, and EnabledForInternet."""

from __future__ import annotations

import asyncio

import pytest

from igd.core import connection_actions as actions
from igd.core.connection import CONNECT_TIMEOUT, GATE_RETRY_DELAY
from igd.core.connection_values import ConnectionSettings, ConnectionStatus, LastConnectionError
from tests.daemon.connection_support import (
    ABSENT,
    NO_CARRIER,
    NO_ROUTE,
    UP,
    HostLink,
    RefusingBackend,
    SlowBackend,
    error_code,
    make_rig,
)

S = ConnectionStatus
E = LastConnectionError


# -- a configured way to bring the link up and down ------------------------------------------


async def test_request_connection_brings_the_link_up_and_answers_once_connected() -> None:
    host = HostLink()
    rig = await make_rig(NO_CARRIER, link_control=host)

    request = asyncio.create_task(actions.request_connection(rig.model, authorized=True))
    await asyncio.sleep(0)
    assert rig.model.status is S.CONNECTING
    assert not request.done()
    await rig.model.observe(UP)
    await request

    assert host.calls == ["up"]
    assert rig.statuses() == ["Disconnected", "Connecting", "Connected"]


@pytest.mark.parametrize(
    ("link", "error"),
    [(NO_CARRIER, E.ERROR_NO_CARRIER), (NO_ROUTE, E.ERROR_IP_CONFIGURATION)],
)
async def test_a_set_up_that_does_not_finish_in_time_gives_704(
    link: object, error: LastConnectionError
) -> None:
    rig = await make_rig(NO_CARRIER, link_control=HostLink())
    request = asyncio.create_task(actions.request_connection(rig.model, authorized=True))
    await asyncio.sleep(0)
    await rig.model.observe(link)  # type: ignore[arg-type]

    await rig.wait(CONNECT_TIMEOUT)

    assert await error_code(request) == 704
    assert rig.model.status_info() == (S.DISCONNECTED, error, 0)
    await rig.model.observe(UP)  # a later success is still evented
    assert rig.statuses()[-1] == "Connected"


async def test_a_link_that_cannot_be_brought_up_gives_704() -> None:
    rig = await make_rig(NO_CARRIER, link_control=HostLink(fail=True))

    assert await error_code(actions.request_connection(rig.model, authorized=True)) == 704
    assert rig.model.status_info() == (S.DISCONNECTED, E.ERROR_UNKNOWN, 0)


async def test_terminating_while_connecting_fails_the_set_up_without_warning() -> None:
    settings = ConnectionSettings(warn_disconnect_delay=30)
    rig = await make_rig(NO_CARRIER, link_control=HostLink(), settings=settings)
    request = asyncio.create_task(actions.request_connection(rig.model, authorized=True))
    await asyncio.sleep(0)

    await actions.request_termination(rig.model, authorized=True)

    assert await error_code(request) == 704
    assert rig.statuses()[-2:] == ["Disconnecting", "Disconnected"]
    assert rig.model.last_error is E.ERROR_USER_DISCONNECT


async def test_the_interface_vanishing_while_connecting_fails_the_set_up() -> None:
    rig = await make_rig(NO_CARRIER, link_control=HostLink())
    request = asyncio.create_task(actions.request_connection(rig.model, authorized=True))
    await asyncio.sleep(0)

    await rig.model.observe(ABSENT)

    assert await error_code(request) == 704
    assert rig.model.status is S.UNCONFIGURED


@pytest.mark.parametrize("fail", [False, True])
async def test_terminations_take_the_link_down_and_cut_forwarding_even_if_that_fails(
    fail: bool,
) -> None:
    host = HostLink(fail=fail)
    rig = await make_rig(UP, link_control=host)

    await actions.force_termination(rig.model, authorized=True)

    assert host.calls == ["down"]
    assert rig.model.status is S.DISCONNECTED
    assert rig.backend.forwarding is False


async def test_request_connection_right_after_a_termination_brings_the_link_back_up() -> None:
    host = HostLink()
    rig = await make_rig(UP, link_control=host)
    await actions.force_termination(rig.model, authorized=True)

    request = asyncio.create_task(actions.request_connection(rig.model, authorized=True))
    await asyncio.sleep(0)  # the kernel has not announced the link down yet
    assert rig.model.status is S.CONNECTING
    await rig.model.observe(UP)
    await request

    assert host.calls == ["down", "up"]


# -- the NAT backend refusing ----------------------------------------------------------------


@pytest.mark.parametrize("terminate", [actions.request_termination, actions.force_termination])
async def test_a_refused_cut_gives_501_and_the_connection_stays(terminate: object) -> None:
    backend = RefusingBackend()
    rig = await make_rig(UP, backend=backend)
    backend.refuse = True

    assert await error_code(terminate(rig.model, authorized=True)) == 501  # type: ignore[operator]

    assert rig.model.status_info() == (S.CONNECTED, E.ERROR_NONE, 0)
    assert backend.forwarding is True


async def test_a_refused_restore_gives_501_and_the_connection_stays_cut() -> None:
    backend = RefusingBackend()
    rig = await make_rig(UP, backend=backend)
    await actions.force_termination(rig.model, authorized=True)
    backend.refuse = True

    assert await error_code(actions.request_connection(rig.model, authorized=True)) == 501

    assert rig.model.status is S.DISCONNECTED
    backend.refuse = False
    await rig.model.observe(UP)
    assert backend.forwarding is False


async def test_a_refused_restore_through_link_control_gives_501() -> None:
    backend = RefusingBackend()
    rig = await make_rig(UP, backend=backend, link_control=HostLink())
    await actions.force_termination(rig.model, authorized=True)
    await rig.model.observe(NO_CARRIER)
    backend.refuse = True

    assert await error_code(actions.request_connection(rig.model, authorized=True)) == 501
    assert rig.model.status is S.DISCONNECTED


async def test_a_refused_cut_by_a_timer_is_tried_again_later() -> None:
    backend = RefusingBackend()
    rig = await make_rig(UP, backend=backend, settings=ConnectionSettings(auto_disconnect_time=10))
    backend.refuse = True

    await rig.wait(10)
    assert rig.model.status is S.CONNECTED
    assert rig.model.next_deadline() == rig.clock.now + GATE_RETRY_DELAY
    await rig.wait(GATE_RETRY_DELAY)
    assert rig.model.status is S.CONNECTED
    backend.refuse = False
    await rig.wait(GATE_RETRY_DELAY)

    assert rig.model.status_info() == (S.DISCONNECTED, E.ERROR_IDLE_DISCONNECT, 0)
    assert backend.forwarding is False


async def test_a_refused_cut_after_a_lost_link_is_tried_again_later() -> None:
    backend = RefusingBackend()
    rig = await make_rig(UP, backend=backend, settings=ConnectionSettings(warn_disconnect_delay=9))
    await actions.request_termination(rig.model, authorized=True)
    backend.refuse = True

    await rig.model.observe(NO_CARRIER)
    assert backend.forwarding is True
    await rig.model.advance()  # too early: nothing is tried
    await rig.wait(GATE_RETRY_DELAY)  # refused again
    assert backend.forwarding is True
    backend.refuse = False
    await rig.wait(GATE_RETRY_DELAY)

    assert backend.forwarding is False


# -- EnabledForInternet -----------------------------------------------------------------------


async def test_disabling_internet_ends_the_connection_and_enabling_restores_it() -> None:
    rig = await make_rig(UP, settings=ConnectionSettings(warn_disconnect_delay=30))

    await actions.set_enabled_for_internet(rig.model, False, authorized=True)

    assert rig.statuses() == ["Connected", "Disconnecting", "Disconnected"]
    assert rig.model.last_error is E.ERROR_NOT_ENABLED_FOR_INTERNET
    assert rig.backend.forwarding is False
    assert rig.saved[-1].enabled_for_internet is False
    await actions.set_enabled_for_internet(rig.model, True, authorized=True)
    assert rig.model.status is S.CONNECTED
    assert rig.backend.forwarding is True


async def test_disabling_internet_while_disconnected_keeps_it_cut_when_the_link_returns() -> None:
    rig = await make_rig(NO_CARRIER)

    await actions.set_enabled_for_internet(rig.model, False, authorized=True)
    await rig.model.observe(UP)

    assert rig.model.status is S.DISCONNECTED
    assert rig.backend.forwarding is False


async def test_internet_disabled_in_the_saved_settings_stays_cut_from_the_start() -> None:
    rig = await make_rig(UP, settings=ConnectionSettings(enabled_for_internet=False))

    assert rig.model.status_info() == (S.DISCONNECTED, E.ERROR_NOT_ENABLED_FOR_INTERNET, 0)
    assert rig.backend.forwarding is False


async def test_enabling_internet_does_not_undo_a_user_termination() -> None:
    rig = await make_rig(UP)
    await actions.request_termination(rig.model, authorized=True)
    await actions.set_enabled_for_internet(rig.model, False, authorized=True)

    await actions.set_enabled_for_internet(rig.model, True, authorized=True)
    await actions.set_enabled_for_internet(rig.model, True, authorized=True)

    assert rig.model.status is S.DISCONNECTED
    assert rig.backend.forwarding is False


async def test_a_refused_disable_gives_501_and_keeps_internet_enabled() -> None:
    backend = RefusingBackend()
    rig = await make_rig(UP, backend=backend)
    backend.refuse = True

    code = await error_code(actions.set_enabled_for_internet(rig.model, False, authorized=True))

    assert code == 501
    assert rig.model.settings.enabled_for_internet is True
    assert rig.model.status is S.CONNECTED


async def test_link_changes_during_a_termination_settle_when_it_ends() -> None:
    backend = SlowBackend()
    rig = await make_rig(UP, backend=backend)
    backend.release.clear()
    backend.entered.clear()
    termination = asyncio.create_task(actions.force_termination(rig.model, authorized=True))
    await backend.entered.wait()

    observing = asyncio.create_task(rig.model.observe(ABSENT))  # waits for the gate
    await asyncio.sleep(0)
    assert rig.model.status_info()[0] is S.DISCONNECTING
    backend.release.set()
    await asyncio.gather(termination, observing)

    assert rig.model.status is S.UNCONFIGURED
