"""Constants of the UPnP Gateway integration."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Final

DOMAIN: Final = "upnp_gateway"
LOGGER = logging.getLogger(__package__)

# Config entry data and options
CONF_LEASE_WARNING: Final = "lease_expiring_before"
DEFAULT_LEASE_WARNING: Final = 300  # seconds before a lease ends that lease_expiring fires

# Device and service types (UPnP IGD:2 device template 2.1; WANIPConnection:2 1.1)
IGD_DEVICE_TYPES: Final = (
    "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
    "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
)
WAN_IP_CONNECTION_TYPES: Final = (
    "urn:schemas-upnp-org:service:WANIPConnection:2",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
)
WAN_PPP_CONNECTION_TYPE: Final = "urn:schemas-upnp-org:service:WANPPPConnection:1"

# Add-on discovery: the Supervisor prefixes the slug with the repository's hash.
ADDON_SLUG_SUFFIX: Final = "upnp_gateway"

# Polling: traffic counters are never evented (WANCommonInterfaceConfig:1), so they are polled
# like the built-in upnp integration does; the mapping list only when events are missing.
SCAN_INTERVAL: Final = timedelta(seconds=30)
# A mapping that disappears with at most this much lease left has expired rather than been deleted.
EXPIRY_TOLERANCE: Final = timedelta(seconds=3)
# Keep-alive renews this long before the lease ends (at most half the lease).
KEEP_ALIVE_MARGIN: Final = timedelta(seconds=60)

# Bus events (also device triggers)
EVENT_PORT_MAPPING_ADDED: Final = f"{DOMAIN}_port_mapping_added"
EVENT_PORT_MAPPING_REMOVED: Final = f"{DOMAIN}_port_mapping_removed"
EVENT_LEASE_EXPIRED: Final = f"{DOMAIN}_lease_expired"
EVENT_LEASE_EXPIRING: Final = f"{DOMAIN}_lease_expiring"
EVENT_EXTERNAL_IP_CHANGED: Final = f"{DOMAIN}_external_ip_changed"
EVENT_CONNECTION_STATUS_CHANGED: Final = f"{DOMAIN}_connection_status_changed"
EVENTS: Final = (
    EVENT_PORT_MAPPING_ADDED,
    EVENT_PORT_MAPPING_REMOVED,
    EVENT_LEASE_EXPIRED,
    EVENT_LEASE_EXPIRING,
    EVENT_EXTERNAL_IP_CHANGED,
    EVENT_CONNECTION_STATUS_CHANGED,
)
