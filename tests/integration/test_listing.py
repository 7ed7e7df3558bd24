"""Reading GetListOfPortMappings' PortMappingList as gateways other than ours write it."""

from __future__ import annotations

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.upnp_gateway.listing import parse_port_listing
from custom_components.upnp_gateway.models import PortMapping

UNPREFIXED = """<?xml version="1.0"?>
<PortMappingList xmlns="urn:schemas-upnp-org:gw:WANIPConnection">
 <Comment>not an entry</Comment>
 <PortMappingEntry>
  <NewRemoteHost></NewRemoteHost><NewExternalPort>51413</NewExternalPort>
  <NewProtocol>udp</NewProtocol><NewInternalPort>51413</NewInternalPort>
  <NewInternalClient>192.168.1.20</NewInternalClient><NewEnabled>1</NewEnabled>
  <NewDescription>Transmission</NewDescription><NewLeaseTime>0</NewLeaseTime>
 </PortMappingEntry>
</PortMappingList>"""


def test_entries_without_prefix_or_lease() -> None:
    assert parse_port_listing(UNPREFIXED) == [
        PortMapping("", 51413, "UDP", 51413, "192.168.1.20", True, "Transmission", 0)
    ]


@pytest.mark.parametrize(
    "document",
    [
        "<PortMappingList><PortMappingEntry>",  # cut short
        "<PortMappingList><PortMappingEntry><NewExternalPort>80</NewExternalPort>"
        "</PortMappingEntry></PortMappingList>",  # fields missing
        "<PortMappingList><PortMappingEntry><NewExternalPort>x</NewExternalPort>"
        "<NewProtocol>TCP</NewProtocol><NewInternalPort>1</NewInternalPort>"
        "<NewInternalClient>h</NewInternalClient></PortMappingEntry></PortMappingList>",
    ],
)
def test_bad_listing(document: str) -> None:
    with pytest.raises(ValueError, match="PortMapping"):
        parse_port_listing(document)


async def test_removing_the_entry_forgets_keep_alive(
    hass: HomeAssistant, entry: MockConfigEntry, hass_storage: dict[str, object]
) -> None:
    await hass.services.async_call(
        "upnp_gateway",
        "add_port_mapping",
        {
            "config_entry_id": entry.entry_id,
            "protocol": "TCP",
            "external_port": 8080,
            "internal_port": 80,
            "keep_alive": True,
        },
        blocking=True,
    )
    key = f"upnp_gateway.{entry.entry_id}.keep_alive"
    await hass.async_block_till_done()

    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()

    assert key not in hass_storage
