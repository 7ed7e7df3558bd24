"""One gateway, one entry: our add-on's gateway is reached through its main face, whichever face.

The add-on's daemon shows one mapping core as two root devices, each with its own UDN: an IGD:2 at
/rootDesc.xml and an IGD:1 at /igd1/rootDesc.xml (plus a v1 view of the IGD:2 device), with the
same manufacturer and the same serial number on every face. An entry is keyed by, and talks to,
the main face at /rootDesc.xml: where the add-on's discovery points, the WANIPConnection:2 the
integration controls the gateway through, and the UDN entries have always been keyed by. Any
other face of ours on the same host and port leads there; a gateway of any other maker, or one
whose main face is not the same gateway, is used as given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit, urlunsplit

from .client import GatewayClient, GatewayError, async_connect
from .const import LOGGER

if TYPE_CHECKING:
    import aiohttp

OUR_MANUFACTURER: Final = "UPnP Gateway"  # the daemon's manufacturer; manifest.json matches it too
MAIN_FACE_PATH: Final = "/rootDesc.xml"  # where the daemon serves its main root device


def main_face_url(location: str, manufacturer: str | None) -> str | None:
    """The main face's URL when `location` is another face of our gateway, else None."""
    if manufacturer != OUR_MANUFACTURER:
        return None
    parts = urlsplit(location)
    if parts.path == MAIN_FACE_PATH:
        return None
    return urlunsplit((parts.scheme, parts.netloc, MAIN_FACE_PATH, "", ""))


async def async_connect_main_face(session: aiohttp.ClientSession, location: str) -> GatewayClient:
    """The gateway at `location`, through its main face when `location` is another face of ours.

    Raises what async_connect raises for `location` itself; a main face that cannot be read, or
    that is not the same gateway (another serial number), leaves the face given.
    """
    client = await async_connect(session, location)
    url = main_face_url(location, client.device.manufacturer)
    if url is None:
        return client
    try:
        main = await async_connect(session, url)
    except GatewayError as error:
        LOGGER.debug("%s: no main face at %s (%s), using it as given", location, url, error)
        return client
    if not _same_gateway(client, main):
        LOGGER.debug("%s: %s is another gateway, using it as given", location, url)
        return client
    return main


def _same_gateway(face: GatewayClient, main: GatewayClient) -> bool:
    """Both faces are ours and carry the same serial number (the daemon's link between them)."""
    serial = face.device.serial_number
    return (
        bool(serial)
        and main.device.manufacturer == OUR_MANUFACTURER
        and main.device.serial_number == serial
    )
