"""Netlink framing shared by the daemon's few kernel conversations (rtnetlink, sock_diag, nftables).

Each of them needs a handful of requests or one subscription, so the daemon speaks netlink on
sockets of its own instead of importing a general library (see rtnetlink.py for the measured cost).
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Iterator

# include/uapi/linux/netlink.h
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300  # NLM_F_ROOT | NLM_F_MATCH
NLMSG_ERROR = 0x2
NLMSG_DONE = 0x3
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1

NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
NLATTR = struct.Struct("=HH")  # length, type
NLA_TYPE_MASK = 0x3FFF  # less NLA_F_NESTED and NLA_F_NET_BYTEORDER


def align(length: int) -> int:
    """Netlink's 4-byte alignment of messages and attributes."""
    return (length + 3) & ~3


def request(kind: int, flags: int, sequence: int, body: bytes) -> bytes:
    """One request message: header and body."""
    return NLMSGHDR.pack(NLMSGHDR.size + len(body), kind, NLM_F_REQUEST | flags, sequence, 0) + body


def messages(data: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    """(type, flags, sequence, body) of each message of one datagram; a malformed one ends it."""
    offset = 0
    while offset + NLMSGHDR.size <= len(data):
        length, kind, flags, sequence, _port = NLMSGHDR.unpack_from(data, offset)
        if length < NLMSGHDR.size or offset + length > len(data):
            return
        yield kind, flags, sequence, data[offset + NLMSGHDR.size : offset + length]
        offset += align(length)


def attributes(data: bytes, offset: int = 0) -> dict[int, bytes]:
    """The attributes from `offset` on, by type (flags stripped; the last one wins)."""
    found: dict[int, bytes] = {}
    while offset + NLATTR.size <= len(data):
        length, kind = NLATTR.unpack_from(data, offset)
        if length < NLATTR.size:
            break
        found[kind & NLA_TYPE_MASK] = data[offset + NLATTR.size : offset + length]
        offset += align(length)
    return found


def attribute(kind: int, value: bytes) -> bytes:
    """One attribute, padded."""
    packed = NLATTR.pack(NLATTR.size + len(value), kind) + value
    return packed.ljust(align(len(packed)), b"\0")


def check_done(kind: int, body: bytes) -> bool:
    """Whether a dump or request ends with this message; OSError if it carries an error.

    NLMSG_ERROR (a request's answer, 0 for success) and NLMSG_DONE (a dump's end, which may carry
    the dump's error) both start with a negative errno.
    """
    if kind not in (NLMSG_DONE, NLMSG_ERROR):
        return False
    code = -struct.unpack_from("=i", body)[0] if len(body) >= 4 else 0
    if code > 0:
        raise OSError(code, errno.errorcode.get(code, str(code)))
    return True
