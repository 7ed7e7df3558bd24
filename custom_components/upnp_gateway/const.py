"""Constants of the UPnP Gateway integration."""

from typing import Final

DOMAIN: Final = "upnp_gateway"
