"""rtnetlink: the kernel's answers about loopback, and the parsing of crafted messages.

Announcements, link control and real WAN interfaces are covered in the lab
(tests/e2e/test_wan_watcher.py).
"""

from __future__ import annotations

import errno
import socket
import struct

import pytest

from igd.netlink import NLMSGHDR, attributes, messages
from igd.rtnetlink import (
    IFA_ADDRESS,
    IFA_CACHEINFO,
    IFA_LOCAL,
    IFADDRMSG,
    IFINFOMSG,
    IFLA_STATS,
    IFLA_STATS64,
    RTA_MULTIPATH,
    RTA_OIF,
    RTA_TABLE,
    RTMSG,
    RTNEXTHOP,
    Address,
    Link,
    Route,
    Rtnetlink,
    parse_address,
    parse_link,
    parse_route,
)

IFF_LOOPBACK = 0x8
RT_TABLE_LOCAL = 255
NO_SUCH_INTERFACE = "igd-test-none"


def attribute(kind: int, value: bytes) -> bytes:
    packed = struct.pack("=HH", 4 + len(value), kind) + value
    return packed.ljust((len(packed) + 3) & ~3, b"\0")


def ipv4(text: str) -> bytes:
    return socket.inet_aton(text)


async def test_loopback_is_read_with_its_address_and_routes() -> None:
    async with Rtnetlink() as rtnl:
        link = await rtnl.link("lo")
        addresses = await rtnl.addresses()
        routes = await rtnl.routes()

    assert link.flags & IFF_LOOPBACK
    assert any(a.index == link.index and a.address == "127.0.0.1" for a in addresses)
    assert any(r.table == RT_TABLE_LOCAL and link.index in r.interfaces for r in routes)


async def test_a_missing_interface_is_enodev() -> None:
    async with Rtnetlink() as rtnl:
        with pytest.raises(OSError) as raised:
            await rtnl.link(NO_SUCH_INTERFACE)

    assert raised.value.errno == errno.ENODEV


async def test_setting_a_missing_interface_up_is_enodev() -> None:
    async with Rtnetlink() as rtnl:
        with pytest.raises(OSError) as raised:
            await rtnl.set_up(NO_SUCH_INTERFACE, True)

    assert raised.value.errno == errno.ENODEV


def test_link_counters_come_from_stats64_else_stats() -> None:
    header = IFINFOMSG.pack(0, 1, 7, 0x1, 0)
    stats64 = attribute(IFLA_STATS64, struct.pack("=4Q", 1, 2, 3, 4) + bytes(8))
    stats = attribute(IFLA_STATS, struct.pack("=4I", 5, 6, 7, 8))

    assert parse_link(header + stats + stats64) == Link(7, 0x1, 1, 2, 3, 4)
    assert parse_link(header + stats) == Link(7, 0x1, 5, 6, 7, 8)
    assert parse_link(header + attribute(IFLA_STATS, b"\0")) == Link(7, 0x1)


def test_an_address_is_the_local_one_with_its_age() -> None:
    header = IFADDRMSG.pack(socket.AF_INET, 32, 0, 0, 3)
    body = (
        header
        + attribute(IFA_ADDRESS, ipv4("10.0.0.1"))  # the peer, on a point-to-point link
        + attribute(IFA_LOCAL, ipv4("10.0.0.2"))
        + attribute(IFA_CACHEINFO, struct.pack("=4I", 0, 0, 1234, 0))
    )

    assert parse_address(body) == Address(3, 0, "10.0.0.2", 1234)
    plain = header + attribute(IFA_ADDRESS, ipv4("192.0.2.1"))
    assert parse_address(plain) == Address(3, 0, "192.0.2.1", None)


def test_an_address_of_another_family_or_without_one_is_skipped() -> None:
    ipv6 = IFADDRMSG.pack(socket.AF_INET6, 64, 0, 0, 3) + attribute(IFA_ADDRESS, bytes(16))
    bare = IFADDRMSG.pack(socket.AF_INET, 32, 0, 0, 3)

    assert parse_address(ipv6) is None
    assert parse_address(bare) is None


def test_a_route_names_its_table_and_every_next_hop() -> None:
    header = RTMSG.pack(socket.AF_INET, 0, 0, 0, 254, 0, 0, 1, 0)
    hops = RTNEXTHOP.pack(8, 0, 0, 4) + RTNEXTHOP.pack(8, 0, 0, 5)
    multipath = header + attribute(RTA_MULTIPATH, hops)
    table = header + attribute(RTA_OIF, struct.pack("=i", 2)) + attribute(RTA_TABLE, b"\0\1\0\0")

    assert parse_route(multipath) == Route(0, 254, 1, (4, 5))
    assert parse_route(table) == Route(0, 256, 1, (2,))


def test_a_malformed_next_hop_ends_the_list() -> None:
    header = RTMSG.pack(socket.AF_INET, 0, 0, 0, 254, 0, 0, 1, 0)
    hops = RTNEXTHOP.pack(8, 0, 0, 4) + RTNEXTHOP.pack(2, 0, 0, 5)

    assert parse_route(header + attribute(RTA_MULTIPATH, hops)).interfaces == (4,)


def test_a_malformed_attribute_ends_the_attributes() -> None:
    data = attribute(1, b"ab") + struct.pack("=HH", 2, 2) + attribute(3, b"cd")

    assert attributes(data) == {1: b"ab"}


def test_a_truncated_message_ends_the_datagram() -> None:
    whole = NLMSGHDR.pack(NLMSGHDR.size + 4, 16, 0, 9, 0) + b"body"
    cut = NLMSGHDR.pack(NLMSGHDR.size + 40, 16, 0, 10, 0) + b"short"
    too_short = NLMSGHDR.pack(4, 16, 0, 11, 0)

    assert list(messages(whole + cut)) == [(16, 0, 9, b"body")]
    assert list(messages(too_short + whole)) == []
