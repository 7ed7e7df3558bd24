"""The PortMappingList document of GetListOfPortMappings (WANIPConnection:2 5.6.21, [2.3.25]).

The document travels as the text of NewPortListing, so the SOAP layer escapes it once more; it
is entity-escaped there, never wrapped in CDATA (a description holding `]]>` would break out of
it — miniupnpd's way, security-notes.md A12).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from igd.upnp.soap import xml_text

if TYPE_CHECKING:
    from collections.abc import Iterable

    from igd.core.mappings import MappingView

PORT_LISTING_NS = "urn:schemas-upnp-org:gw:WANIPConnection"  # [2.3.25]
PORT_LISTING_SCHEMA = "http://www.upnp.org/schemas/gw/WANIPConnection-v2.xsd"  # [2.3.25]
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"


def port_listing(mappings: Iterable[MappingView]) -> str:
    """The PortMappingList document for these mappings, in the order given."""
    entries = "".join(_entry(mapping) for mapping in mappings)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<p:PortMappingList xmlns:p="{PORT_LISTING_NS}" xmlns:xsi="{XSI_NS}" '
        f'xsi:schemaLocation="{PORT_LISTING_NS} {PORT_LISTING_SCHEMA}">'
        f"{entries}</p:PortMappingList>"
    )


def _entry(mapping: MappingView) -> str:
    # Element names and order of a PortMappingEntry [2.3.25]; note NewDescription and NewLeaseTime.
    fields = (
        ("NewRemoteHost", mapping.remote_host),
        ("NewExternalPort", str(mapping.external_port)),
        ("NewProtocol", mapping.protocol),
        ("NewInternalPort", str(mapping.internal_port)),
        ("NewInternalClient", mapping.internal_client),
        ("NewEnabled", "1" if mapping.enabled else "0"),
        ("NewDescription", mapping.description),
        ("NewLeaseTime", str(mapping.lease_duration)),
    )
    inner = "".join(f"<p:{name}>{xml_text(value)}</p:{name}>" for name, value in fields)
    return f"<p:PortMappingEntry>{inner}</p:PortMappingEntry>"
