"""The standard's vocabulary for the WAN connection, and what configures it.

Kept apart from the state machine (igd.core.connection) so that front-ends and the daemon can name
statuses, errors and settings without importing the machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

# ConnectionType values, Table 3 [2.3.3]
UNCONFIGURED = "Unconfigured"
IP_ROUTED = "IP_Routed"
IP_BRIDGED = "IP_Bridged"
CONNECTION_TYPES = (UNCONFIGURED, IP_ROUTED, IP_BRIDGED)
RSIP_AVAILABLE = False  # [2.3.11] MUST be 0 without RSIP
NAT_ENABLED = True  # [2.3.12] the forwarding gate stops inbound forwarding, not NAT itself

# Names of the evented variables of WANIPConnection:2, Table 9 [2.4]
CONNECTION_STATUS = "ConnectionStatus"
EXTERNAL_IP_ADDRESS = "ExternalIPAddress"
POSSIBLE_CONNECTION_TYPES = "PossibleConnectionTypes"


class ConnectionStatus(StrEnum):
    """ConnectionStatus values, Table 4 [2.3.5]."""

    UNCONFIGURED = "Unconfigured"
    CONNECTING = "Connecting"
    CONNECTED = "Connected"
    PENDING_DISCONNECT = "PendingDisconnect"
    DISCONNECTING = "Disconnecting"
    DISCONNECTED = "Disconnected"


class LastConnectionError(StrEnum):
    """LastConnectionError values, Table 5 [2.3.7]."""

    ERROR_NONE = "ERROR_NONE"
    ERROR_COMMAND_ABORTED = "ERROR_COMMAND_ABORTED"
    ERROR_NOT_ENABLED_FOR_INTERNET = "ERROR_NOT_ENABLED_FOR_INTERNET"
    ERROR_ISP_DISCONNECT = "ERROR_ISP_DISCONNECT"
    ERROR_USER_DISCONNECT = "ERROR_USER_DISCONNECT"
    ERROR_IDLE_DISCONNECT = "ERROR_IDLE_DISCONNECT"
    ERROR_FORCED_DISCONNECT = "ERROR_FORCED_DISCONNECT"
    ERROR_NO_CARRIER = "ERROR_NO_CARRIER"
    ERROR_IP_CONFIGURATION = "ERROR_IP_CONFIGURATION"
    ERROR_UNKNOWN = "ERROR_UNKNOWN"


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """What control points set and the daemon persists (spec 5.6.6-5.6.8; EnabledForInternet)."""

    auto_disconnect_time: int = 0  # [2.3.8] seconds after Connected, 0 = never
    idle_disconnect_time: int = 0  # [2.3.9] seconds without traffic, 0 = never
    warn_disconnect_delay: int = 0  # [2.3.10] seconds in PendingDisconnect, 0 = no warning
    enabled_for_internet: bool = True  # WANCommonInterfaceConfig:1


class LinkControlError(Exception):
    """The configured method could not bring the WAN link up or down."""


class LinkControl(Protocol):
    """The add-on's configured way to take the host's WAN link up and down (optional)."""

    async def bring_up(self) -> None: ...

    async def bring_down(self) -> None: ...
