"""The connection model following the WAN link, and what terminations and reconnections do."""

from __future__ import annotations

from dataclasses import replace

import pytest

from igd.core import connection_actions as actions
from igd.core.connection import ConnectionModel
from igd.core.connection_values import ConnectionSettings, ConnectionStatus, LastConnectionError
from tests.daemon.connection_support import (
    ABSENT,
    NO_ADDRESS,
    NO_CARRIER,
    NO_ROUTE,
    UP,
    error_code,
    make_rig,
)

S = ConnectionStatus
E = LastConnectionError


# -- following the link ---------------------------------------------------------------------


async def test_before_anything_is_known_every_variable_is_at_its_default() -> None:
    rig = await make_rig(None)

    assert rig.model.status_info() == (S.UNCONFIGURED, E.ERROR_NONE, 0)
    assert rig.model.evented_variables() == {
        "PossibleConnectionTypes": "IP_Routed",
        "ConnectionStatus": "Unconfigured",
        "ExternalIPAddress": "",
    }
    assert rig.model.next_deadline() is None


async def test_a_ready_link_is_connected_with_its_address_and_forwarding_open() -> None:
    rig = await make_rig(None)
    rig.backend.forwarding = False

    await rig.model.observe(UP)

    assert rig.model.status_info() == (S.CONNECTED, E.ERROR_NONE, 0)
    assert rig.events == [{"ConnectionStatus": "Connected", "ExternalIPAddress": "203.0.113.1"}]
    assert rig.backend.forwarding is True


async def test_uptime_at_start_counts_from_when_the_address_was_set() -> None:
    rig = await make_rig(None)

    await rig.model.observe(replace(UP, address_since=rig.clock.now - 500))
    rig.clock.now += 10

    assert rig.model.uptime() == 510


async def test_uptime_after_a_reconnection_counts_from_the_reconnection() -> None:
    rig = await make_rig(UP)
    rig.clock.now += 100
    await rig.model.observe(NO_CARRIER)
    assert rig.model.uptime() == 0
    rig.clock.now += 50

    await rig.model.observe(replace(UP, address_since=rig.clock.now - 1000))
    rig.clock.now += 7

    assert rig.model.uptime() == 7


@pytest.mark.parametrize(
    ("link", "error"),
    [
        (NO_CARRIER, E.ERROR_NO_CARRIER),
        (replace(NO_CARRIER, address=""), E.ERROR_NO_CARRIER),
        (NO_ADDRESS, E.ERROR_ISP_DISCONNECT),
        (NO_ROUTE, E.ERROR_ISP_DISCONNECT),
    ],
)
async def test_losing_the_link_disconnects_and_its_return_reconnects(
    link: object, error: LastConnectionError
) -> None:
    rig = await make_rig(UP)
    rig.clock.now += 30

    await rig.model.observe(link)  # type: ignore[arg-type]

    assert rig.model.status_info() == (S.DISCONNECTED, error, 0)
    assert rig.model.external_ip_address == ""
    assert rig.events[-1] == {"ConnectionStatus": "Disconnected", "ExternalIPAddress": ""}

    await rig.model.observe(UP)

    assert rig.model.status_info() == (S.CONNECTED, E.ERROR_NONE, 0)
    assert rig.backend.forwarding is True


@pytest.mark.parametrize(
    ("link", "error"),
    [(NO_CARRIER, E.ERROR_NO_CARRIER), (NO_ADDRESS, E.ERROR_IP_CONFIGURATION)],
)
async def test_a_link_not_ready_at_start_says_why(link: object, error: LastConnectionError) -> None:
    rig = await make_rig(link)  # type: ignore[arg-type]

    assert rig.model.status_info() == (S.DISCONNECTED, error, 0)


async def test_a_new_address_is_evented_alone() -> None:
    rig = await make_rig(UP)
    rig.clock.now += 30

    await rig.model.observe(replace(UP, address="203.0.113.77"))

    assert rig.events[-1] == {"ExternalIPAddress": "203.0.113.77"}
    assert rig.model.uptime() == 30


async def test_an_unchanged_view_events_nothing() -> None:
    rig = await make_rig(UP)

    await rig.model.observe(UP)

    assert len(rig.events) == 1


async def test_a_missing_interface_is_unconfigured_and_picked_up_when_it_appears() -> None:
    rig = await make_rig(NO_CARRIER)

    await rig.model.observe(ABSENT)

    assert rig.model.status_info() == (S.UNCONFIGURED, E.ERROR_NONE, 0)
    await rig.model.observe(UP)
    assert rig.model.status is S.CONNECTED


async def test_the_override_is_the_external_address_while_connected() -> None:
    rig = await make_rig(UP, external_ip_override="198.51.100.9")

    assert rig.model.external_ip_address == "198.51.100.9"
    await rig.model.observe(NO_CARRIER)
    assert rig.model.external_ip_address == ""


@pytest.mark.parametrize(
    "arguments",
    [{"external_ip_override": "example.com"}, {"connection_type": "PPPoE"}],
)
async def test_bad_configuration_is_refused(arguments: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"."):
        ConnectionModel(clock=lambda: 0.0, forwarding=_ignore, **arguments)  # type: ignore[arg-type]


async def _ignore(enabled: bool) -> None:
    del enabled


# -- terminations and reconnections ---------------------------------------------------------


async def test_request_termination_cuts_forwarding_and_the_link_does_not_bring_it_back() -> None:
    rig = await make_rig(UP)

    await actions.request_termination(rig.model, authorized=True)

    assert rig.statuses() == ["Connected", "Disconnecting", "Disconnected"]
    assert rig.model.status_info() == (S.DISCONNECTED, E.ERROR_USER_DISCONNECT, 0)
    assert rig.backend.forwarding is False
    await rig.model.observe(NO_CARRIER)
    await rig.model.observe(UP)
    assert rig.model.status is S.DISCONNECTED
    assert rig.backend.forwarding is False


async def test_request_connection_restores_what_a_termination_cut() -> None:
    rig = await make_rig(UP)
    await actions.force_termination(rig.model, authorized=True)
    assert rig.model.last_error is E.ERROR_FORCED_DISCONNECT
    rig.clock.now += 60

    await actions.request_connection(rig.model, authorized=True)

    assert rig.model.status_info() == (S.CONNECTED, E.ERROR_NONE, 0)
    assert rig.backend.forwarding is True
    assert rig.model.external_ip_address == "203.0.113.1"


async def test_request_connection_on_a_connected_link_changes_nothing() -> None:
    rig = await make_rig(UP)
    rig.clock.now += 5

    await actions.request_connection(rig.model, authorized=True)

    assert rig.model.uptime() == 5
    assert len(rig.events) == 1


async def test_without_link_control_a_lost_link_gives_704_then_reconnects_by_itself() -> None:
    rig = await make_rig(UP)
    await actions.request_termination(rig.model, authorized=True)
    await rig.model.observe(NO_CARRIER)

    assert await error_code(actions.request_connection(rig.model, authorized=True)) == 704

    assert rig.backend.forwarding is True  # the request stands: forwarding is no longer cut
    await rig.model.observe(UP)
    assert rig.model.status is S.CONNECTED


async def test_a_warning_delay_passes_through_pending_disconnect_with_traffic_flowing() -> None:
    rig = await make_rig(UP, settings=ConnectionSettings(warn_disconnect_delay=30))

    await actions.request_termination(rig.model, authorized=True)

    assert rig.model.status is S.PENDING_DISCONNECT
    assert rig.model.external_ip_address == "203.0.113.1"
    assert rig.backend.forwarding is True
    assert rig.model.next_deadline() == rig.clock.now + 30
    await rig.wait(29)
    assert rig.model.status is S.PENDING_DISCONNECT
    await rig.wait(1)
    assert rig.statuses() == ["Connected", "PendingDisconnect", "Disconnecting", "Disconnected"]
    assert rig.model.last_error is E.ERROR_USER_DISCONNECT
    assert rig.backend.forwarding is False


async def test_request_connection_during_the_warning_keeps_the_connection() -> None:
    rig = await make_rig(UP, settings=ConnectionSettings(warn_disconnect_delay=30))
    await actions.request_termination(rig.model, authorized=True)
    rig.clock.now += 10

    await actions.request_connection(rig.model, authorized=True)
    await rig.wait(60)

    assert rig.model.status_info() == (S.CONNECTED, E.ERROR_NONE, 70)
    assert rig.backend.forwarding is True


async def test_force_termination_ignores_the_warning_delay() -> None:
    rig = await make_rig(UP, settings=ConnectionSettings(warn_disconnect_delay=30))

    await actions.force_termination(rig.model, authorized=True)

    assert rig.statuses() == ["Connected", "Disconnecting", "Disconnected"]


async def test_losing_the_link_during_the_warning_ends_the_connection_for_good() -> None:
    rig = await make_rig(UP, settings=ConnectionSettings(warn_disconnect_delay=30))
    await actions.request_termination(rig.model, authorized=True)

    await rig.model.observe(NO_CARRIER)
    await rig.model.observe(UP)

    assert rig.model.status_info() == (S.DISCONNECTED, E.ERROR_NO_CARRIER, 0)
    assert rig.backend.forwarding is False
    assert rig.model.next_deadline() is None


async def test_the_interface_vanishing_during_the_warning_also_ends_it() -> None:
    rig = await make_rig(UP, settings=ConnectionSettings(warn_disconnect_delay=30))
    await actions.request_termination(rig.model, authorized=True)

    await rig.model.observe(ABSENT)
    await rig.model.observe(UP)

    assert rig.model.status_info() == (S.DISCONNECTED, E.ERROR_USER_DISCONNECT, 0)
