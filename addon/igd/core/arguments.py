"""Value checks of the mapping actions' in-arguments, in the spec's order of precedence.

Arguments arrive typed (a front-end already answered 402 for text that is not a number or a
boolean); what is checked here is whether each value is acceptable, following 5.6.0b: out of
range (601), wildcards we refuse (715, 716, 732), malformed addresses (600), inverted port
ranges (733). Authorization and table state come later, in the table itself.
"""

from __future__ import annotations

import ipaddress
import sys
from dataclasses import dataclass
from typing import TypedDict, Unpack

from igd.core.errors import (
    ARGUMENT_VALUE_INVALID,
    ARGUMENT_VALUE_OUT_OF_RANGE,
    INCONSISTENT_PARAMETERS,
    WILD_CARD_NOT_PERMITTED_IN_EXT_PORT,
    WILD_CARD_NOT_PERMITTED_IN_INT_PORT,
    WILD_CARD_NOT_PERMITTED_IN_SRC_IP,
    UpnpError,
)
from igd.core.nat import TCP, UDP

MAX_LEASE_DURATION = 604800  # PortMappingLeaseDuration range 0..604800 [2.3.16] Table 6
UI2_MAX = 65535  # ExternalPort, InternalPort are ui2 [2.3.18], [2.3.19]
WILDCARD_REMOTE_HOST = ""  # RemoteHost empty = any peer [2.3.17]
MAX_DESCRIPTION_BYTES = 256  # Ours: PortMappingDescription truncated to 256 bytes of UTF-8 [2.3.22]
_BROADCAST = "255.255.255.255"  # InternalClient for UDP shared by several hosts [2.3.21]

# Characters that have no place in a description: C0/C1 controls (Ours, like miniupnpd's lease
# file) and the two non-characters XML 1.0 forbids.
_UNWANTED_IN_DESCRIPTION = dict.fromkeys([*range(0x20), *range(0x7F, 0xA0), 0xFFFE, 0xFFFF])


class MappingArguments(TypedDict):
    """AddPortMapping/AddAnyPortMapping in-arguments (5.6.16, 5.6.17) as a front-end passes them."""

    remote_host: str
    external_port: int
    protocol: str
    internal_port: int
    internal_client: str
    enabled: bool
    description: str
    lease_duration: int


@dataclass(frozen=True, slots=True)
class MappingRequest:
    """AddPortMapping/AddAnyPortMapping arguments after the value checks, normalized."""

    remote_host: str  # "" for any peer
    external_port: int  # 0 only for AddAnyPortMapping ("choose for me")
    protocol: str  # TCP or UDP
    internal_port: int
    internal_client: str
    enabled: bool
    description: str
    lease_duration: int  # 1..604800; 0 from the client already turned into 604800


def check_mapping_request(
    *, any_port: bool, **arguments: Unpack[MappingArguments]
) -> MappingRequest:
    """Check AddPortMapping (any_port False) or AddAnyPortMapping values: 601, 715/716/732, 600."""
    protocol = check_protocol(arguments["protocol"])
    lease_duration = arguments["lease_duration"]
    if not 0 <= lease_duration <= MAX_LEASE_DURATION:
        raise UpnpError(ARGUMENT_VALUE_OUT_OF_RANGE, f"lease {lease_duration} s")
    external_port, internal_port = arguments["external_port"], arguments["internal_port"]
    check_ui2(external_port)
    check_ui2(internal_port)
    if arguments["internal_client"] in ("", "*"):
        raise UpnpError(WILD_CARD_NOT_PERMITTED_IN_SRC_IP)
    if external_port == 0 and not any_port:
        raise UpnpError(WILD_CARD_NOT_PERMITTED_IN_EXT_PORT)
    if internal_port == 0:
        raise UpnpError(WILD_CARD_NOT_PERMITTED_IN_INT_PORT)
    remote_host = check_remote_host(arguments["remote_host"])
    internal_client = _check_ipv4(arguments["internal_client"], "InternalClient")
    if internal_client == _BROADCAST and protocol == TCP:
        raise UpnpError(ARGUMENT_VALUE_INVALID, "broadcast InternalClient is for UDP only")
    return MappingRequest(
        remote_host=remote_host,
        external_port=external_port,
        protocol=protocol,
        internal_port=internal_port,
        internal_client=internal_client,
        enabled=arguments["enabled"],
        description=clean_description(arguments["description"]),
        # NewLeaseDuration 0 MUST become 604800: no static mappings through v2 (5.6.16, 5.8)
        lease_duration=lease_duration or MAX_LEASE_DURATION,
    )


def check_protocol(protocol: str) -> str:
    """TCP or UDP, matched case-insensitively (Ours, as miniupnpd); anything else is 601."""
    upper = protocol.upper()
    if upper not in (TCP, UDP):
        raise UpnpError(ARGUMENT_VALUE_OUT_OF_RANGE, f"protocol {protocol!r}")
    return TCP if upper == TCP else UDP  # the constants: a table of 10,000 holds no copies


def check_ui2(value: int) -> None:
    """A ui2 value (port, index, count); front-ends other than SOAP may pass anything (601)."""
    if not 0 <= value <= UI2_MAX:
        raise UpnpError(ARGUMENT_VALUE_OUT_OF_RANGE, f"{value} is not a ui2")


def check_remote_host(remote_host: str) -> str:
    """Empty or `*` (any peer, `*` as miniupnpd accepts it) or dotted IPv4; names are 600 (Ours)."""
    if remote_host in ("", "*"):
        return WILDCARD_REMOTE_HOST
    return _check_ipv4(remote_host, "RemoteHost")


def check_port_range(start_port: int, end_port: int) -> None:
    """NewStartPort..NewEndPort of the range actions: 601 out of ui2, 733 when inverted."""
    check_ui2(start_port)
    check_ui2(end_port)
    if start_port > end_port:
        raise UpnpError(INCONSISTENT_PARAMETERS, f"{start_port} > {end_port}")


def clean_description(description: str) -> str:
    """Drop control characters, keep at most 256 bytes of UTF-8 without cutting a character.

    Interned, as InternalClient is: one program's mappings share one description, one host's
    mappings one address, so the table keeps one copy of each.
    """
    # "ignore" drops lone surrogates on the way in and a cut character on the way out
    data = description.translate(_UNWANTED_IN_DESCRIPTION).encode("utf-8", "ignore")
    return sys.intern(data[:MAX_DESCRIPTION_BYTES].decode("utf-8", "ignore"))


def _check_ipv4(value: str, name: str) -> str:
    try:
        return sys.intern(str(ipaddress.IPv4Address(value)))
    except ValueError:
        raise UpnpError(ARGUMENT_VALUE_INVALID, f"{name} {value!r} is not dotted IPv4") from None
