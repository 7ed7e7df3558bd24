"""The few rtnetlink requests the WAN watcher makes, on a socket of our own.

Why not pyroute2: importing it loads about 200 modules (every netlink family it speaks), about
10 MB of a daemon that must stay under 64 MB with 10,000 mappings; the watcher needs four
requests and one subscription. Netlink sockets belong to the network namespace of the process
that opens them. Errors are OSError with the kernel's errno (ENODEV: no such interface).
"""

from __future__ import annotations

import asyncio
import errno
import socket
import struct
from dataclasses import dataclass

from igd.netlink import (
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_MULTI,
    align,
    attribute,
    attributes,
    check_done,
    messages,
    request,
)

# include/uapi/linux/rtnetlink.h: message types and multicast groups
RTM_NEWLINK = 16
RTM_GETLINK = 18
RTM_SETLINK = 19
RTM_GETADDR = 22
RTM_GETROUTE = 26
RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV4_ROUTE = 0x40
# attribute numbers: if_link.h (IFLA_*), if_addr.h (IFA_*), rtnetlink.h (RTA_*)
IFLA_IFNAME = 3
IFLA_STATS = 7
IFLA_STATS64 = 23
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_CACHEINFO = 6
RTA_OIF = 4
RTA_MULTIPATH = 9
RTA_TABLE = 15
IFF_UP = 0x1  # include/uapi/linux/if.h

IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefix length, flags, scope, index
RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope, type
RTNEXTHOP = struct.Struct("=HBBi")  # length, flags, hops, interface index
CACHEINFO_CSTAMP = struct.Struct("=8xI")  # ifa_cacheinfo: preferred, valid, cstamp, tstamp
STATS_HEAD = {IFLA_STATS64: struct.Struct("=4Q"), IFLA_STATS: struct.Struct("=4I")}
RECEIVE_BYTES = 1 << 16  # a dump part is at most 32 KiB


@dataclass(frozen=True, slots=True)
class Link:
    """An interface: its index, flags (IFF_*) and traffic counters."""

    index: int
    flags: int
    rx_packets: int = 0
    tx_packets: int = 0
    rx_bytes: int = 0
    tx_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Address:
    """One IPv4 address of an interface; `added` in hundredths of a second since boot."""

    index: int
    flags: int  # IFA_F_* of the message header
    address: str
    added: int | None


@dataclass(frozen=True, slots=True)
class Route:
    """One IPv4 route: where it leads (prefix length 0: default) and through which interfaces."""

    dst_len: int
    table: int
    type: int
    interfaces: tuple[int, ...]  # the output interface, or each next hop's


def parse_link(body: bytes) -> Link:
    _family, _type, index, flags, _change = IFINFOMSG.unpack_from(body)
    found = attributes(body, IFINFOMSG.size)
    for kind, layout in STATS_HEAD.items():
        if len(found.get(kind, b"")) >= layout.size:
            return Link(index, flags, *layout.unpack_from(found[kind]))
    return Link(index, flags)


def parse_address(body: bytes) -> Address | None:
    """The IPv4 address of an RTM_NEWADDR body; None for another family or none at all."""
    family, _prefix, flags, _scope, index = IFADDRMSG.unpack_from(body)
    found = attributes(body, IFADDRMSG.size)
    raw = found.get(IFA_LOCAL) or found.get(IFA_ADDRESS)  # LOCAL: ours on a point-to-point link
    if family != socket.AF_INET or raw is None or len(raw) != 4:
        return None
    info = found.get(IFA_CACHEINFO, b"")
    added = CACHEINFO_CSTAMP.unpack_from(info)[0] if len(info) >= CACHEINFO_CSTAMP.size else None
    return Address(index, flags, socket.inet_ntoa(raw), added)


def parse_route(body: bytes) -> Route:
    _family, dst_len, _src, _tos, table, _proto, _scope, kind, _flags = RTMSG.unpack_from(body)
    found = attributes(body, RTMSG.size)
    if len(found.get(RTA_TABLE, b"")) == 4:
        table = struct.unpack("=I", found[RTA_TABLE])[0]
    interfaces = (
        [struct.unpack("=i", found[RTA_OIF])[0]] if len(found.get(RTA_OIF, b"")) == 4 else []
    )
    hops = found.get(RTA_MULTIPATH, b"")
    offset = 0
    while offset + RTNEXTHOP.size <= len(hops):
        length, _hop_flags, _weight, index = RTNEXTHOP.unpack_from(hops, offset)
        if length < RTNEXTHOP.size:
            break
        interfaces.append(index)
        offset += align(length)
    return Route(dst_len, table, kind, tuple(interfaces))


class Rtnetlink:
    """One NETLINK_ROUTE socket (an async context manager); `groups` subscribes to announcements."""

    def __init__(self, groups: int = 0) -> None:
        self._sequence = 0
        self._socket = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        try:
            self._socket.bind((0, groups))
            self._socket.setblocking(False)
        except OSError:
            self._socket.close()
            raise

    async def __aenter__(self) -> Rtnetlink:
        return self

    async def __aexit__(self, *_: object) -> None:
        self._socket.close()

    async def link(self, name: str) -> Link:
        """The interface called `name` (OSError ENODEV when there is none)."""
        header = IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        request = header + attribute(IFLA_IFNAME, name.encode() + b"\0")
        answers = await self._request(RTM_GETLINK, 0, request)
        if not answers:
            raise OSError(errno.ENODEV, f"no interface {name}")
        return parse_link(answers[0])

    async def addresses(self) -> list[Address]:
        """Every IPv4 address of every interface."""
        header = IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0)
        parsed = (
            parse_address(body) for body in await self._request(RTM_GETADDR, NLM_F_DUMP, header)
        )
        return [address for address in parsed if address is not None]

    async def routes(self) -> list[Route]:
        """Every IPv4 route of every table."""
        header = RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)
        return [parse_route(body) for body in await self._request(RTM_GETROUTE, NLM_F_DUMP, header)]

    async def set_up(self, name: str, up: bool) -> None:
        """Take the interface administratively up or down, as `ip link set NAME up|down`."""
        header = IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, IFF_UP if up else 0, IFF_UP)
        request = header + attribute(IFLA_IFNAME, name.encode() + b"\0")
        await self._request(RTM_SETLINK, NLM_F_ACK, request)

    async def announced(self) -> None:
        """Wait for announcements, then take every one already queued.

        A receive buffer overrun (ENOBUFS) counts as an announcement: something was lost.
        """
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_recv(self._socket, RECEIVE_BYTES)
            while self._socket.recv(RECEIVE_BYTES):
                pass
        except BlockingIOError:
            return
        except OSError as error:
            if error.errno != errno.ENOBUFS:
                raise

    async def _request(self, kind: int, flags: int, body: bytes) -> list[bytes]:
        """Send one request; the bodies of its answers (an error answer raises OSError)."""
        self._sequence += 1
        sequence = self._sequence
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(self._socket, request(kind, flags, sequence, body))
        bodies: list[bytes] = []
        while True:
            data = await loop.sock_recv(self._socket, RECEIVE_BYTES)
            for answer, answer_flags, answer_sequence, answer_body in messages(data):
                if answer_sequence != sequence:
                    continue
                if check_done(answer, answer_body):
                    return bodies
                bodies.append(answer_body)
                if not answer_flags & NLM_F_MULTI:
                    return bodies
