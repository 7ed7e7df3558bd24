"""WANCommonInterfaceConfig:1: link properties, counters as ui4, and its evented variables."""

from __future__ import annotations

from dataclasses import replace

import pytest

from igd.core import connection_actions as actions
from igd.core.wan_interface import CommonInterfaceConfig, InterfaceCounters, PhysicalLinkStatus
from tests.daemon.connection_support import ABSENT, NO_CARRIER, UP, make_rig


async def test_link_properties_follow_the_interface() -> None:
    rig = await make_rig(UP)
    config = CommonInterfaceConfig(rig.model)

    config.observe(replace(UP, speed_bps=1_000_000_000))
    properties = config.common_link_properties()

    assert properties.wan_access_type == "Ethernet"
    assert properties.layer1_upstream_max_bit_rate == 1_000_000_000
    assert properties.layer1_downstream_max_bit_rate == 1_000_000_000
    assert properties.physical_link_status is PhysicalLinkStatus.UP


async def test_a_speed_beyond_ui4_is_capped_and_an_unknown_one_is_zero() -> None:
    rig = await make_rig(UP)
    config = CommonInterfaceConfig(rig.model)

    config.observe(replace(UP, speed_bps=10_000_000_000))
    assert config.common_link_properties().layer1_downstream_max_bit_rate == 4294967295
    config.observe(UP)
    assert config.common_link_properties().layer1_downstream_max_bit_rate == 0


async def test_configured_rates_win_over_the_link_speed() -> None:
    rig = await make_rig(UP)
    config = CommonInterfaceConfig(rig.model, upstream_bps=40_000_000, downstream_bps=250_000_000)

    config.observe(replace(UP, speed_bps=1_000_000_000))

    properties = config.common_link_properties()
    assert properties.layer1_upstream_max_bit_rate == 40_000_000
    assert properties.layer1_downstream_max_bit_rate == 250_000_000


@pytest.mark.parametrize("rate", [-1, 4294967296])
async def test_a_configured_rate_must_be_a_ui4(rate: int) -> None:
    rig = await make_rig(UP)

    with pytest.raises(ValueError, match="ui4"):
        CommonInterfaceConfig(rig.model, upstream_bps=rate)


async def test_physical_link_status_and_enabled_for_internet_are_evented() -> None:
    rig = await make_rig(UP)
    config = CommonInterfaceConfig(rig.model)
    events: list[dict[str, str]] = []
    config.add_listener(lambda changed: events.append(dict(changed)))

    config.observe(UP)
    config.observe(NO_CARRIER)
    config.observe(ABSENT)
    config.observe(UP)
    await actions.set_enabled_for_internet(rig.model, False, authorized=True)
    actions.set_idle_disconnect_time(rig.model, 60, authorized=True)

    assert events == [
        {"PhysicalLinkStatus": "Up"},
        {"PhysicalLinkStatus": "Down"},
        {"PhysicalLinkStatus": "Up"},
        {"EnabledForInternet": "0"},
    ]
    assert config.evented_variables() == {"PhysicalLinkStatus": "Up", "EnabledForInternet": "0"}
    assert config.enabled_for_internet is False


def test_counters_wrap_to_ui4() -> None:
    counters = InterfaceCounters.from_kernel(
        tx_bytes=2**32 + 5, rx_bytes=7, tx_packets=2**33 + 1, rx_packets=2**32 - 1
    )

    assert counters == InterfaceCounters(
        bytes_sent=5, bytes_received=7, packets_sent=1, packets_received=4294967295
    )
