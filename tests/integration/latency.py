"""How long an AddPortMapping on the gateway takes to become an entity's state in Home Assistant.

Not a test: it prints the median (and spread) over 20 mappings, gateway and Home Assistant in
one process on loopback, the change travelling by GENA event. Run it with HA's pytest plugin:

    .venv/bin/python -m pytest -p no:cacheprovider tests/integration/latency.py -s
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, State
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.upnp_gateway.client import GatewayClient
from custom_components.upnp_gateway.models import PortMapping

from .conftest import entity_id_of, wait_for

SAMPLES = 20
FIRST_PORT = 20000


def switch_state(hass: HomeAssistant, udn: str, mapping: PortMapping) -> Callable[[], State | None]:
    """A look-up of the state of the mapping's switch, for wait_for."""

    def look() -> State | None:
        entity_id = entity_id_of(hass, Platform.SWITCH, udn, f"mapping_{mapping.key}")
        return None if entity_id is None else hass.states.get(entity_id)

    return look


async def test_print_add_to_state_delay(
    hass: HomeAssistant, entry: MockConfigEntry, lan_client: GatewayClient
) -> None:
    delays = []
    for index in range(SAMPLES):
        mapping = PortMapping(
            "", FIRST_PORT + index, "TCP", 80, "127.0.0.1", True, f"bench {index}", 3600
        )
        started = time.perf_counter()
        await lan_client.async_add_port_mapping(mapping)
        await wait_for(switch_state(hass, lan_client.udn, mapping))
        delays.append(time.perf_counter() - started)
    print(
        f"\nAddPortMapping -> entity state, {SAMPLES} samples: "
        f"median {statistics.median(delays) * 1000:.1f} ms, "
        f"min {min(delays) * 1000:.1f} ms, max {max(delays) * 1000:.1f} ms"
    )
