"""Whether anyone but us changed the IPv4 nftables ruleset since we last looked.

Listing the other tables costs milliseconds (with libnftables 1.0.6 it grows with our own table,
which its cache pulls in), too much to pay before every add. The kernel announces every committed
change to the NFNLGRP_NFTABLES multicast group before it acknowledges the commit to whoever made
it, so once another program's `nft` or `iptables` has returned, its change waits in our socket's
queue: draining that queue right before an add tells, without a race, whether the last listing
still holds. Our own changes (our table; the iptables backend's own chains) are told apart by the
table (and chain) each message names.
"""

from __future__ import annotations

import logging
import socket
import struct

from igd.netlink import NETLINK_ADD_MEMBERSHIP, SOL_NETLINK, attributes, messages

LOG = logging.getLogger(__name__)

NETLINK_NETFILTER = 12  # include/uapi/linux/netlink.h
NFNLGRP_NFTABLES = 7  # include/uapi/linux/netfilter/nfnetlink.h
NFNL_SUBSYS_NFTABLES = 10
# include/uapi/linux/netfilter/nf_tables.h: message types and attribute numbers
NFT_MSG_NEWCHAIN = 3
NFT_MSG_DELCHAIN = 5
NFT_MSG_NEWRULE = 6
NFT_MSG_DELRULE = 8
NFT_MSG_NEWGEN = 15  # follows every commit, ours too: names no table
TABLE_ATTRIBUTE = 1  # NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE, ...
RULE_CHAIN_ATTRIBUTE = 2  # NFTA_RULE_CHAIN
CHAIN_NAME_ATTRIBUTE = 3  # NFTA_CHAIN_NAME
NFPROTO_INET = 1
NFPROTO_IPV4 = 2
IPV4_FAMILIES = (NFPROTO_INET, NFPROTO_IPV4)  # the tables that see IPv4 traffic
# the messages that name a chain, and where: ours may sit in a shared table (iptables-nft)
CHAIN_ATTRIBUTES = {
    NFT_MSG_NEWRULE: RULE_CHAIN_ATTRIBUTE,
    NFT_MSG_DELRULE: RULE_CHAIN_ATTRIBUTE,
    NFT_MSG_NEWCHAIN: CHAIN_NAME_ATTRIBUTE,
    NFT_MSG_DELCHAIN: CHAIN_NAME_ATTRIBUTE,
}

NFGENMSG = struct.Struct("=BBH")  # family, version, resource id
RECEIVE_BUFFER_BYTES = 4 << 20  # a burst of our own changes between two adds fits
RECEIVE_BYTES = 65536


def _name(value: bytes) -> str:
    return value.split(b"\0", 1)[0].decode("utf-8", "replace")


def _subscribe() -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        sock.bind((0, 0))
        sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NFNLGRP_NFTABLES)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class NftablesChanges:
    """A subscription to the ruleset's change messages; `changed()` drains and judges them.

    `own_table` is our table in family ip; `own_chains` are chains of ours inside shared tables
    (iptables-nft's `nat` and `filter`). When the subscription cannot be made, or messages were
    lost (the queue overflowed), every call answers True: the caller lists again.
    """

    def __init__(self, *, own_table: str | None, own_chains: frozenset[str]) -> None:
        self._own_table = own_table
        self._own_chains = own_chains
        self._sock: socket.socket | None = None
        try:
            self._sock = _subscribe()
        except OSError as error:  # no CAP_NET_ADMIN, no nf_tables in this kernel
            LOG.warning("nftables changes not watched: other rules are listed each add: %s", error)

    def changed(self) -> bool:
        """Whether a change not of ours was committed since the last call (drains the queue)."""
        if self._sock is None:
            return True
        foreign = False
        while True:
            try:
                data = self._sock.recv(RECEIVE_BYTES)
            except BlockingIOError:
                return foreign
            except OSError:  # ENOBUFS: messages were lost, ours or not
                foreign = True
                continue
            foreign = foreign or self._any_foreign(data)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _any_foreign(self, data: bytes) -> bool:
        return any(self._foreign(kind, body) for kind, _flags, _seq, body in messages(data))

    def _foreign(self, kind: int, body: bytes) -> bool:
        subsystem, message = kind >> 8, kind & 0xFF
        if subsystem != NFNL_SUBSYS_NFTABLES or message == NFT_MSG_NEWGEN:
            return False
        if len(body) < NFGENMSG.size:
            return True  # cannot be read: assume the worst
        family = NFGENMSG.unpack_from(body)[0]
        if family not in IPV4_FAMILIES:
            return False
        found = attributes(body, NFGENMSG.size)
        table = _name(found.get(TABLE_ATTRIBUTE, b""))
        if family == NFPROTO_IPV4 and table == self._own_table:
            return False
        chain_attribute = CHAIN_ATTRIBUTES.get(message)
        if chain_attribute is None:
            return True
        return _name(found.get(chain_attribute, b"")) not in self._own_chains
