"""The PortMappingList document of GetListOfPortMappings (WANIPConnection:2 2.3.25), read.

The document is parsed with defusedxml (a gateway is untrusted input). Elements are matched by
local name: gateways disagree on the namespace prefix, and some send none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from defusedxml import ElementTree

from .models import PortMapping

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _fields(entry: Element) -> dict[str, str]:
    return {_local(child.tag): (child.text or "").strip() for child in entry}


def parse_port_listing(document: str) -> list[PortMapping]:
    """The entries of a PortMappingList; ValueError when it is not one."""
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError as error:
        raise ValueError(f"not a PortMappingList: {error}") from error
    mappings = []
    for entry in root:
        if _local(entry.tag) != "PortMappingEntry":
            continue
        fields = _fields(entry)
        try:
            mappings.append(
                PortMapping(
                    remote_host=fields.get("NewRemoteHost", ""),
                    external_port=int(fields["NewExternalPort"]),
                    protocol=fields["NewProtocol"].upper(),
                    internal_port=int(fields["NewInternalPort"]),
                    internal_client=fields["NewInternalClient"],
                    enabled=fields.get("NewEnabled", "1") in ("1", "true", "yes"),
                    description=fields.get("NewDescription", ""),
                    lease_duration=int(fields.get("NewLeaseTime") or 0),
                )
            )
        except (KeyError, ValueError) as error:
            raise ValueError(f"bad PortMappingEntry: {fields}") from error
    return mappings
