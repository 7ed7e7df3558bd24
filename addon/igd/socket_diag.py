"""The host's listening sockets, asked of the kernel by state (sock_diag netlink).

Why not /proc/net/tcp: it lists every TCP socket, TIME_WAIT ones included, and a gateway that
closes each HTTP connection itself (one request per connection) holds one TIME_WAIT socket per
recent request: tens of thousands after a burst, each costing a line to read and parse before every
add. sock_diag filters by state in the kernel, so the cost is that of the listeners alone. Where the
kernel has no sock_diag for a protocol (a module that is neither built in nor loadable, as in some
containers), the caller falls back to /proc/net.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address

from igd.netlink import NLM_F_DUMP, check_done, messages, request

NETLINK_SOCK_DIAG = 4  # include/uapi/linux/netlink.h
SOCK_DIAG_BY_FAMILY = 20  # include/uapi/linux/sock_diag.h
TCP_CLOSE_STATE = 7  # include/net/tcp_states.h; what an unconnected UDP socket is in
TCP_LISTEN_STATE = 10

# inet_diag_req_v2: family, protocol, extensions, pad, states, then inet_diag_sockid (zeroed)
INET_DIAG_REQ_V2 = struct.Struct("=BBBxI48x")
# inet_diag_msg: family, state, timer, retransmits, then sockid: sport, dport (big-endian), src[16]
INET_DIAG_MSG_HEAD = struct.Struct("=BBBB2H16s")
RECEIVE_BYTES = 65536


def _request(family: int, protocol: int, states: int, sequence: int) -> bytes:
    body = INET_DIAG_REQ_V2.pack(family, protocol, 0, states)
    return request(SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, sequence, body)


def _dump(sock: socket.socket, sequence: int) -> Iterator[bytes]:
    """The bodies of one dump's answers, until its end (OSError if the kernel refused it)."""
    while True:
        for kind, _flags, seq, body in messages(sock.recv(RECEIVE_BYTES)):
            if seq != sequence:
                continue
            if check_done(kind, body):
                return
            yield body


def _address(family: int, raw: bytes) -> IPv4Address | IPv6Address:
    return IPv4Address(raw[:4]) if family == socket.AF_INET else IPv6Address(raw)


class SocketDiag:
    """One netlink socket for a few dumps in a row (a context manager).

    Opening it never raises: when the kernel refuses the socket, each dump raises that error.
    """

    def __init__(self) -> None:
        self._sequence = 0
        self._sock: socket.socket | None = None
        self._error: OSError | None = None
        try:
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
            self._sock.settimeout(1.0)  # the kernel answers at once; never hang an add on it
        except OSError as error:
            self._error = error

    def __enter__(self) -> SocketDiag:
        return self

    def __exit__(self, *_: object) -> None:
        if self._sock is not None:
            self._sock.close()

    def bound_local_ends(
        self, family: int, protocol: int, state: int
    ) -> Iterator[tuple[IPv4Address | IPv6Address, int]]:
        """(local address, local port) of each socket of `family`/`protocol` in `state`.

        Raises OSError when the kernel cannot answer (ENOENT: no diag module for the protocol).
        """
        if self._sock is None:
            raise self._error or OSError(errno.EBADF, "closed")
        self._sequence += 1
        self._sock.send(_request(family, protocol, 1 << state, self._sequence))
        for body in _dump(self._sock, self._sequence):
            if len(body) < INET_DIAG_MSG_HEAD.size:
                continue
            answer_family, answer_state, _, _, sport, _dport, source = (
                INET_DIAG_MSG_HEAD.unpack_from(body)
            )
            if answer_state == state:
                yield _address(answer_family, source), socket.ntohs(sport)
