"""The connection actions: authorization (606) and the errors-by-state table of spec 5.7."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from igd.core import connection_actions as actions
from igd.core.connection import ConnectionModel
from igd.core.connection_values import ConnectionSettings, ConnectionStatus
from igd.core.errors import UpnpError
from tests.daemon.connection_support import (
    ABSENT,
    NO_CARRIER,
    UP,
    HostLink,
    Rig,
    SlowBackend,
    error_code,
    make_rig,
)

Action = Callable[[ConnectionModel], Awaitable[None]]


async def _rc(model: ConnectionModel) -> None:
    await actions.request_connection(model, authorized=True)


async def _rt(model: ConnectionModel) -> None:
    await actions.request_termination(model, authorized=True)


async def _ft(model: ConnectionModel) -> None:
    await actions.force_termination(model, authorized=True)


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def rig_in(status: ConnectionStatus) -> tuple[Rig, list[asyncio.Task[None]]]:
    """A rig in `status`, with the tasks still running that keep it there."""
    tasks: list[asyncio.Task[None]] = []
    if status is ConnectionStatus.UNCONFIGURED:
        rig = await make_rig(ABSENT)
    elif status is ConnectionStatus.DISCONNECTED:
        rig = await make_rig(NO_CARRIER)
    elif status is ConnectionStatus.CONNECTING:
        rig = await make_rig(NO_CARRIER, link_control=HostLink())
        tasks.append(asyncio.create_task(_rc(rig.model)))
    elif status is ConnectionStatus.CONNECTED:
        rig = await make_rig(UP)
    elif status is ConnectionStatus.PENDING_DISCONNECT:
        rig = await make_rig(UP, settings=ConnectionSettings(warn_disconnect_delay=30))
        await _rt(rig.model)
    else:
        slow = SlowBackend()
        rig = await make_rig(UP, backend=slow)
        slow.release.clear()
        tasks.append(asyncio.create_task(_ft(rig.model)))
    await _settle()
    assert rig.model.status is status
    return rig, tasks


# (state, RC, RT, FT): an error code, or the status the action leads to
ERRORS_BY_STATE = [
    (ConnectionStatus.UNCONFIGURED, 706, 706, 706),
    (ConnectionStatus.DISCONNECTED, 704, 711, 711),  # 704: no way to bring the host's link up
    (ConnectionStatus.CONNECTING, 705, "Disconnected", "Disconnected"),
    (ConnectionStatus.CONNECTED, "Connected", "Disconnected", "Disconnected"),
    (ConnectionStatus.PENDING_DISCONNECT, "Connected", 707, "Disconnected"),
    (ConnectionStatus.DISCONNECTING, 707, 707, 707),
]


@pytest.mark.parametrize(("state", "rc", "rt", "ft"), ERRORS_BY_STATE)
@pytest.mark.parametrize("which", ["rc", "rt", "ft"])
async def test_errors_by_state(
    state: ConnectionStatus, rc: int | str, rt: int | str, ft: int | str, which: str
) -> None:
    rig, tasks = await rig_in(state)
    action = {"rc": _rc, "rt": _rt, "ft": _ft}[which]
    expected = {"rc": rc, "rt": rt, "ft": ft}[which]

    if isinstance(expected, int):
        assert await error_code(action(rig.model)) == expected
        if state is not ConnectionStatus.DISCONNECTED:
            assert rig.model.status is state  # a refusal changes nothing
    else:
        await action(rig.model)
        assert rig.model.status == expected

    await finish(rig, tasks)


async def finish(rig: Rig, tasks: list[asyncio.Task[None]]) -> None:
    """Let what `rig_in` started end: release the backend, let a set-up time out."""
    if isinstance(rig.backend, SlowBackend):
        rig.backend.release.set()
    await _settle()
    await rig.wait(60)
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.parametrize("which", ["rc", "rt", "ft"])
@pytest.mark.parametrize("connection_type", ["IP_Bridged", "Unconfigured"])
async def test_a_type_other_than_ip_routed_gives_710(which: str, connection_type: str) -> None:
    rig = await make_rig(UP, connection_type=connection_type)
    action = {"rc": _rc, "rt": _rt, "ft": _ft}[which]

    assert await error_code(action(rig.model)) == 710


async def test_unconfigured_is_reported_before_the_connection_type() -> None:
    rig = await make_rig(ABSENT, connection_type="IP_Bridged")

    assert await error_code(_rc(rig.model)) == 706


async def test_request_connection_with_internet_disabled_gives_709() -> None:
    rig = await make_rig(UP)
    await actions.set_enabled_for_internet(rig.model, False, authorized=True)

    assert await error_code(_rc(rig.model)) == 709


RESTRICTED_ACTIONS: list[tuple[str, Callable[[ConnectionModel], Awaitable[None]]]] = [
    ("RequestConnection", lambda m: actions.request_connection(m, authorized=False)),
    ("RequestTermination", lambda m: actions.request_termination(m, authorized=False)),
    ("ForceTermination", lambda m: actions.force_termination(m, authorized=False)),
    (
        "SetEnabledForInternet",
        lambda m: actions.set_enabled_for_internet(m, False, authorized=False),
    ),
]


@pytest.mark.parametrize(("name", "action"), RESTRICTED_ACTIONS)
async def test_restricted_control_points_cannot_change_the_connection(
    name: str, action: Callable[[ConnectionModel], Awaitable[None]]
) -> None:
    rig = await make_rig(UP)

    assert await error_code(action(rig.model)) == 606
    assert rig.model.status is ConnectionStatus.CONNECTED
    assert rig.backend.forwarding is True
    assert rig.model.settings == ConnectionSettings()


async def test_restricted_is_refused_before_the_state_is_looked_at() -> None:
    rig = await make_rig(ABSENT)

    assert await error_code(actions.request_connection(rig.model, authorized=False)) == 606


SETTERS = [
    ("auto_disconnect_time", actions.set_auto_disconnect_time),
    ("idle_disconnect_time", actions.set_idle_disconnect_time),
    ("warn_disconnect_delay", actions.set_warn_disconnect_delay),
]


@pytest.mark.parametrize(("field", "setter"), SETTERS)
async def test_disconnect_times_are_stored_persisted_and_read_back(
    field: str, setter: Callable[..., None]
) -> None:
    rig = await make_rig(UP)

    setter(rig.model, 4294967295, authorized=True)

    assert getattr(rig.model.settings, field) == 4294967295
    assert rig.saved == [rig.model.settings]


@pytest.mark.parametrize(("field", "setter"), SETTERS)
@pytest.mark.parametrize("value", [-1, 4294967296])
async def test_a_value_that_is_no_ui4_gives_402_even_before_606(
    field: str, setter: Callable[..., None], value: int
) -> None:
    rig = await make_rig(UP)

    for authorized in (True, False):
        with pytest.raises(UpnpError) as caught:
            setter(rig.model, value, authorized=authorized)
        assert caught.value.code == 402
    assert getattr(rig.model.settings, field) == 0


@pytest.mark.parametrize(("field", "setter"), SETTERS)
async def test_restricted_control_points_cannot_set_disconnect_times(
    field: str, setter: Callable[..., None]
) -> None:
    rig = await make_rig(UP)

    with pytest.raises(UpnpError) as caught:
        setter(rig.model, 60, authorized=False)

    assert caught.value.code == 606
    assert getattr(rig.model.settings, field) == 0
    assert rig.saved == []


@pytest.mark.parametrize(
    ("value", "authorized", "code"),
    [
        ("PPPoE", True, 601),  # not in Table 3, even for a trusted CP
        ("PPPoE", False, 601),  # 601 comes before 606 (5.6.0b)
        ("IP_Bridged", False, 606),
        ("IP_Bridged", True, 731),
        ("IP_Routed", True, 731),  # the type is read-only even when unchanged
    ],
)
async def test_set_connection_type(value: str, authorized: bool, code: int) -> None:
    rig = await make_rig(UP)

    with pytest.raises(UpnpError) as caught:
        actions.set_connection_type(rig.model, value, authorized=authorized)

    assert caught.value.code == code
    assert rig.model.connection_type_info() == ("IP_Routed", "IP_Routed")


async def test_the_reads_are_what_the_standard_names() -> None:
    rig = await make_rig(UP)
    rig.clock.now += 42

    assert rig.model.status_info() == (ConnectionStatus.CONNECTED, "ERROR_NONE", 42)
    assert rig.model.nat_rsip_status() == (False, True)
    assert rig.model.connection_type_info() == ("IP_Routed", "IP_Routed")
    assert rig.model.external_ip_address == "203.0.113.1"
    assert rig.model.settings == ConnectionSettings(0, 0, 0, enabled_for_internet=True)
