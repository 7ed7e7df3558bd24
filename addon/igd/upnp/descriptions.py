"""Device descriptions and SCPDs: async-upnp-client's serializer, with its output made valid.

`UpnpXmlSerializer` (0.44-0.48) writes specVersion 1.0 and no configId, an empty element for
every unset field and for empty lists (schema-invalid: a list needs at least one entry), a
redundant xmlns on each <device>, presentationURL before the lists, defaultValue after the
allowed values, and the allowed values in the order of a set (a different order, hence a
different configId, in every process). We want UDA 1.1 documents that only change when their
content does (igd2-device.md 2, 3.5, 6), so the tree it builds is corrected before it is written.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # builds only; parsing: defusedxml
from typing import TYPE_CHECKING

from async_upnp_client.server import UpnpXmlSerializer

if TYPE_CHECKING:
    from async_upnp_client.server import UpnpServerDevice, UpnpServerService

SPEC_VERSION = ("1", "1")  # UDA 1.1 (igd2-device.md 6: 2.0 upsets Windows' BITS)
# Device fields a description may leave out (UDA 1.1 2.3); required ones are always written.
_OPTIONAL_DEVICE_FIELDS = (
    "manufacturerURL",
    "modelDescription",
    "modelNumber",
    "modelURL",
    "serialNumber",
    "UPC",
    "iconList",
    "serviceList",
    "deviceList",
    "presentationURL",
)
# Children of <stateVariable> in the order of the UDA service schema.
_STATE_VARIABLE_ORDER = (
    "name",
    "dataType",
    "defaultValue",
    "allowedValueList",
    "allowedValueRange",
)


def device_description(root: UpnpServerDevice, config_id: int | None) -> bytes:
    """The root device description document, UTF-8 with an XML declaration."""
    document = UpnpXmlSerializer.to_xml(root)
    _set_spec_version(document, config_id)
    for device in document.iter("device"):
        device.attrib.pop("xmlns", None)
        _drop_empty_fields(device)
        presentation = device.find("presentationURL")
        if presentation is not None:  # UDA 1.1 2.3: the last element of <device>
            device.remove(presentation)
            device.append(presentation)
    return _serialize(document)


def service_description(service: UpnpServerService, config_id: int | None) -> bytes:
    """The SCPD of `service`: its actions in declaration order, then its state variables."""
    document = UpnpXmlSerializer.to_xml(service)
    _set_spec_version(document, config_id)
    declared = service.STATE_VARIABLE_DEFINITIONS
    for variable in document.iter("stateVariable"):
        children = sorted(variable, key=lambda child: _STATE_VARIABLE_ORDER.index(child.tag))
        variable[:] = children
        allowed = variable.find("allowedValueList")
        if allowed is not None:  # the library keeps them in a set: restore the declared order
            allowed[:] = []
            for value in declared[variable.findtext("name", "")].allowed_values or ():
                ET.SubElement(allowed, "allowedValue").text = value
    return _serialize(document)


def _set_spec_version(document: ET.Element, config_id: int | None) -> None:
    if config_id is not None:  # UDA 1.1: on the root element of every description
        document.set("configId", str(config_id))
    spec_version = document.find("specVersion")
    if spec_version is None:
        raise ValueError("the serializer wrote no specVersion")
    major, minor = SPEC_VERSION
    for tag, value in (("major", major), ("minor", minor)):
        element = spec_version.find(tag)
        if element is None:
            raise ValueError(f"the serializer wrote no specVersion/{tag}")
        element.text = value


def _drop_empty_fields(device: ET.Element) -> None:
    for tag in _OPTIONAL_DEVICE_FIELDS:
        for element in device.findall(tag):
            if not (element.text or "").strip() and not len(element):
                device.remove(element)


def _serialize(document: ET.Element) -> bytes:
    data: bytes = ET.tostring(document, encoding="utf-8", xml_declaration=True)
    return data
