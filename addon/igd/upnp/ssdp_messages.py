"""SSDP messages without sockets: parse an M-SEARCH, match it to our targets, write our messages.

Kept apart from the server so every parsing and matching rule is tested on plain bytes.
Datagrams come from anyone on the LAN: parsing is strict and bounded and answers None for anything
it does not like, never an exception.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate

# UDA 1.1 section 1.1.2: the IPv4 multicast group and port of SSDP
SSDP_MULTICAST_ADDRESS = "239.255.255.250"
SSDP_PORT = 1900
SSDP_HOST = f"{SSDP_MULTICAST_ADDRESS}:{SSDP_PORT}"
MX_MAX = 5  # UDA 1.1 section 1.3.2: an MX above 5 is treated as 5
MX_DEFAULT = 1  # Ours (igd2-device.md 3.6): a multicast search without a usable MX waits up to 1 s
SSDP_ALL = "ssdp:all"
UPNP_ROOTDEVICE = "upnp:rootdevice"
SSDP_DISCOVER = "ssdp:discover"

# security-notes.md A9: bounds on what we read
MAX_DATAGRAM_SIZE = 1500
MAX_HEADER_LINES = 64
MAX_SEARCH_TARGET_LENGTH = 256

_SEARCH_START_LINE = "M-SEARCH * HTTP/1.1"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_DIGITS = re.compile(r"[0-9]{1,16}")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TYPE_URN = re.compile(r"urn:([^:]+):(device|service):([^:]+):([1-9][0-9]{0,5})", re.IGNORECASE)


@dataclass(frozen=True)
class SsdpTarget:
    """One NT we announce (and the matching ST we answer) with its USN.

    `announced` False: answered when searched by name, never announced and not part of
    ssdp:all (igd2-device.md 3.2: WANPPPConnection:1 for control points that only look for it).
    `older_versions` False: a search for an older version of the type is not answered here,
    because another root device of ours has that version itself (devices.py, two faces).
    """

    nt: str
    usn: str
    announced: bool = True
    older_versions: bool = True


@dataclass(frozen=True)
class SsdpCommonHeaders:
    """What every message of this boot says about the device (UDA 1.1 section 1.2)."""

    server: str
    boot_id: int
    config_id: int
    max_age: int


@dataclass(frozen=True)
class SearchRequest:
    """A valid M-SEARCH; `mx` is None when the request had no usable MX."""

    search_target: str
    mx: int | None


def server_header(product: str, version: str) -> str:
    """The SERVER value in the UDA 1.1 form `OS/version UPnP/1.1 product/version`."""
    return f"{platform.system()}/{platform.release()} UPnP/1.1 {product}/{version}"


def _header_lines(text: str) -> list[str] | None:
    lines = text.replace("\r\n", "\n").split("\n")
    head: list[str] = []
    for line in lines:
        if not line:
            return head
        head.append(line)
        if len(head) > MAX_HEADER_LINES:
            return None
    return head  # no blank line: tolerated, a datagram has a clear end


def _parse_mx(value: str | None) -> int | None:
    if value is None or not _DIGITS.fullmatch(value):
        return None
    return min(int(value), MX_MAX)


def _headers(lines: list[str]) -> dict[str, str] | None:
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        key = name.upper()
        if not colon or not _TOKEN.fullmatch(name) or _CONTROL.search(value) or key in headers:
            return None  # a repeated header is ambiguous: which ST did the sender mean?
        headers[key] = value.strip(" \t")
    return headers


def parse_search(datagram: bytes) -> SearchRequest | None:
    """The M-SEARCH in `datagram`, or None for anything else (NOTIFYs, malformed input)."""
    if len(datagram) > MAX_DATAGRAM_SIZE:
        return None
    try:
        lines = _header_lines(datagram.decode("utf-8"))
    except UnicodeDecodeError:
        return None
    if not lines or lines[0] != _SEARCH_START_LINE:
        return None
    headers = _headers(lines[1:])
    if headers is None:
        return None
    man = headers.get("MAN", "").strip('"')
    target = headers.get("ST", "")
    if man != SSDP_DISCOVER or not target or len(target) > MAX_SEARCH_TARGET_LENGTH:
        return None
    return SearchRequest(search_target=target, mx=_parse_mx(headers.get("MX")))


def _same_type_answered_version(search: re.Match[str], target: SsdpTarget) -> bool:
    offered = _TYPE_URN.fullmatch(target.nt)
    if offered is None:
        return False
    same_type = all(search.group(part).lower() == offered.group(part).lower() for part in (1, 2, 3))
    asked, have = int(search.group(4)), int(offered.group(4))
    return same_type and (asked == have or (asked < have and target.older_versions))


def match_search(search_target: str, targets: Sequence[SsdpTarget]) -> list[tuple[str, str]]:
    """The (ST, USN) answers to a search, one per matching target.

    UDA 1.1 section 1.3.2: a search for an older version of a type we have is answered with the
    version asked for, in the ST and in the USN.
    """
    wanted = search_target.lower()
    if wanted == SSDP_ALL:
        return [(target.nt, target.usn) for target in targets if target.announced]
    versioned = _TYPE_URN.fullmatch(search_target)
    answers: list[tuple[str, str]] = []
    for target in targets:
        if versioned is not None and _same_type_answered_version(versioned, target):
            udn, separator, _ = target.usn.rpartition("::")
            answers.append((search_target, f"{udn}::{search_target}" if separator else target.usn))
        elif versioned is None and target.nt.lower() == wanted:
            answers.append((target.nt, target.usn))
    return answers


def _message(start_line: str, headers: Sequence[tuple[str, str]]) -> bytes:
    lines = [start_line, *(f"{name}: {value}" if value else f"{name}:" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _ids(common: SsdpCommonHeaders) -> list[tuple[str, str]]:
    # UDA 1.1 section 1.2: REQUIRED in every message of a UDA 1.1 device
    return [
        ("BOOTID.UPNP.ORG", str(common.boot_id)),
        ("CONFIGID.UPNP.ORG", str(common.config_id)),
    ]


def alive_message(target: SsdpTarget, location: str, common: SsdpCommonHeaders) -> bytes:
    """NOTIFY ssdp:alive (UDA 1.1 section 1.2.2)."""
    return _message(
        "NOTIFY * HTTP/1.1",
        [
            ("HOST", SSDP_HOST),
            ("CACHE-CONTROL", f"max-age={common.max_age}"),
            ("LOCATION", location),
            ("NT", target.nt),
            ("NTS", "ssdp:alive"),
            ("SERVER", common.server),
            ("USN", target.usn),
            *_ids(common),
        ],
    )


def byebye_message(target: SsdpTarget, common: SsdpCommonHeaders) -> bytes:
    """NOTIFY ssdp:byebye (UDA 1.1 section 1.2.3): no LOCATION, no CACHE-CONTROL."""
    return _message(
        "NOTIFY * HTTP/1.1",
        [
            ("HOST", SSDP_HOST),
            ("NT", target.nt),
            ("NTS", "ssdp:byebye"),
            ("USN", target.usn),
            *_ids(common),
        ],
    )


def search_response(
    search_target: str, usn: str, location: str, common: SsdpCommonHeaders
) -> bytes:
    """The unicast answer to an M-SEARCH (UDA 1.1 section 1.3.3); EXT is empty by definition."""
    return _message(
        "HTTP/1.1 200 OK",
        [
            ("CACHE-CONTROL", f"max-age={common.max_age}"),
            ("DATE", formatdate(usegmt=True)),
            ("EXT", ""),
            ("LOCATION", location),
            ("SERVER", common.server),
            ("ST", search_target),
            ("USN", usn),
            *_ids(common),
        ],
    )
