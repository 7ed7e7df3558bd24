"""GENA header values and event bodies, without HTTP: CALLBACK, TIMEOUT and the property set.

Kept apart from the publisher so every rule on what a subscriber sends is tested on plain strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Protocol
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

SEQ_MAX = 4294967295  # UDA 1.1 section 4.2.1: SEQ is a ui4
MAX_CALLBACK_URLS = 4  # URLs of one CALLBACK kept, in order; all point at the subscriber anyway
MAX_CALLBACK_URL_LENGTH = 256  # security-notes.md A3
MAX_CALLBACK_HEADER_LENGTH = 2048

_CALLBACK_HEADER = re.compile(r"(?:[ \t]*<[^<>]*>)+[ \t]*")
_CALLBACK_URL = re.compile(r"<([^<>]*)>")
_URL_CHARACTERS = re.compile(r"[!-~]+")  # visible ASCII: no spaces, no control characters
# UDA 1.1 section 4.1.1: `Second-N`; a fraction is tolerated because async-upnp-client renews
# with `Second-1800.0`. `Second-infinite` is not allowed in UDA 1.1 and counts as no TIMEOUT.
_TIMEOUT = re.compile(r"Second-([0-9]{1,10})(?:\.[0-9]{0,6})?", re.IGNORECASE)


class GenaHeaderError(ValueError):
    """A subscription header we refuse; the message says why."""


class TimeoutLimits(Protocol):
    """The bounds a granted subscription timeout is held in."""

    @property
    def min_timeout(self) -> int: ...

    @property
    def max_timeout(self) -> int: ...


def _normalized(address: str) -> IPv4Address | IPv6Address | None:
    try:
        parsed = ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed


def _acceptable(url: str, subscriber: IPv4Address | IPv6Address) -> bool:
    """CallStranger rule (CVE-2020-12695; as miniupnpd): plain http to the subscriber itself."""
    if len(url) > MAX_CALLBACK_URL_LENGTH or not _URL_CHARACTERS.fullmatch(url):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme.lower() != "http" or parts.username is not None or port == 0:
        return False
    host = parts.hostname
    return host is not None and _normalized(host) == subscriber


def callback_urls(header: str, subscriber: str) -> tuple[str, ...]:
    """The CALLBACK URLs we will deliver to, in the subscriber's order.

    `<url1><url2>…`; URLs that are not `http://<subscriber's own address>[:port]/…` are skipped,
    and none left is an error (412 for the caller).
    """
    if len(header) > MAX_CALLBACK_HEADER_LENGTH or not _CALLBACK_HEADER.fullmatch(header):
        raise GenaHeaderError("CALLBACK missing or not of the form <url>…")
    source = _normalized(subscriber)
    if source is None:
        raise GenaHeaderError(f"subscriber address {subscriber!r} unknown")
    urls = [url for url in _CALLBACK_URL.findall(header) if _acceptable(url, source)]
    if not urls:
        raise GenaHeaderError("no CALLBACK URL is plain http to the subscriber's own address")
    return tuple(urls[:MAX_CALLBACK_URLS])


def granted_timeout(header: str | None, limits: TimeoutLimits) -> int:
    """The subscription time we grant for a TIMEOUT header (igd2-device.md 4.1, Ours).

    min(max(requested, minimum), maximum); absent, `Second-infinite` or unreadable → the minimum.
    """
    match = _TIMEOUT.fullmatch(header.strip()) if header is not None else None
    requested = int(match.group(1)) if match is not None else limits.min_timeout
    return min(max(requested, limits.min_timeout), limits.max_timeout)


def following_seq(seq: int) -> int:
    """The SEQ after `seq`: 0 is the initial event only, so it wraps from SEQ_MAX to 1."""
    return 1 if seq >= SEQ_MAX else seq + 1


def property_set(values: Mapping[str, str]) -> bytes:
    """An event body: one e:property per variable, values XML-escaped (UDA 1.1 section 4.2.1)."""
    properties = "".join(
        f"<e:property><{name}>{escape(value)}</{name}></e:property>"
        for name, value in values.items()
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<e:propertyset xmlns:e="urn:schemas-upnp-org:event-1-0">{properties}</e:propertyset>\n'
    ).encode()
