"""Ports the host already uses by other means, which no mapping may take (729, 5.6.16).

Two other mechanisms hold an external port on a Linux gateway:
- a program on the host listening on it: a TCP socket in LISTEN or an unconnected bound UDP
  socket, on any address but loopback (a loopback-only socket cannot meet WAN traffic), asked of
  the kernel by state (socket_diag.py; /proc/net/{tcp,tcp6,udp,udp6} where it cannot answer);
- someone else's forwarding rule: a `dnat`/`redirect` statement (or iptables-nft's DNAT/REDIRECT
  target) in an IPv4-capable nftables table other than ours, with a destination port match
  (Docker's published ports, a firewall's port forwards).

Decision: both are as fresh as the add they guard, and neither costs more as the table or the
traffic grows. The listeners are asked for before each add (a fraction of a millisecond: only
sockets in LISTEN, or unconnected UDP ones, are dumped, however many TIME_WAIT sockets a burst of
requests left). The other tables are listed again only when the kernel announced a change to one
of them (nft_changes.py), so a rule made a moment before the add is seen, and a thousand adds in
a row list them once. Not seen: rules of legacy (non-nft) iptables, ports given through a named
set or an iptables match extension (`-m multiport`), and rules without any port match (a DMZ host
or a catch-all, which claims no port in particular).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

from igd.backends.iptables import IptablesBackend
from igd.backends.iptables_rules import OUR_CHAINS
from igd.backends.libnftables import (
    JsonObject,
    LibnftablesError,
    LibnftablesUnavailableError,
    Nftables,
)
from igd.backends.nftables import NftablesBackend
from igd.core.nat import TCP, UDP, NatBackend
from igd.nft_changes import NftablesChanges
from igd.socket_diag import TCP_CLOSE_STATE, TCP_LISTEN_STATE, SocketDiag

LOG = logging.getLogger(__name__)

PROC_NET = Path("/proc/net")
# /proc/net file: family, protocol, the state a listening socket of it is in
SOCKET_TABLES = {
    "tcp": (socket.AF_INET, TCP, TCP_LISTEN_STATE),
    "tcp6": (socket.AF_INET6, TCP, TCP_LISTEN_STATE),
    "udp": (socket.AF_INET, UDP, TCP_CLOSE_STATE),
    "udp6": (socket.AF_INET6, UDP, TCP_CLOSE_STATE),
}
IP_PROTOCOLS = {TCP: socket.IPPROTO_TCP, UDP: socket.IPPROTO_UDP}
TCP_LISTEN = 0x0A  # include/net/tcp_states.h
NFT_PROTOCOLS = {"tcp": TCP, "udp": UDP}
FORWARDING_STATEMENTS = ("dnat", "redirect")
FORWARDING_TARGETS = (("target", "DNAT"), ("target", "REDIRECT"))  # iptables-nft's xt
FAMILIES = ("ip", "inet")  # the tables that see IPv4 traffic

type PortRange = tuple[str, int, int]  # protocol, lowest, highest


@dataclass(frozen=True, slots=True)
class HostPortsSnapshot:
    """What one read found: listening ports, and port ranges of foreign forwarding rules."""

    listening: frozenset[tuple[int, str]] = frozenset()
    forwarded: tuple[PortRange, ...] = ()

    def holds(self, port: int, protocol: str) -> bool:
        return (port, protocol) in self.listening or any(
            kind == protocol and low <= port <= high for kind, low, high in self.forwarded
        )


def _local_end(field: str) -> tuple[IPv4Address | IPv6Address, int]:
    """`0100007F:0016` (address words in host byte order, port big-endian) as address, port."""
    address_hex, _, port_hex = field.partition(":")
    raw = bytes.fromhex(address_hex)
    words = [raw[index : index + 4] for index in range(0, len(raw), 4)]
    packed = b"".join(word[::-1] if sys.byteorder == "little" else word for word in words)
    address = IPv4Address(packed) if len(packed) == 4 else IPv6Address(packed)
    return address, int(port_hex, 16)


def _reachable(address: IPv4Address | IPv6Address) -> bool:
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_loopback


def _socket_lines(text: str, protocol: str) -> Iterator[tuple[int, str]]:
    for line in text.splitlines()[1:]:  # the first line is the column titles
        fields = line.split()
        if len(fields) < 4:
            continue
        try:
            address, port = _local_end(fields[1])
            remote_port = int(fields[2].rpartition(":")[2], 16)
            state = int(fields[3], 16)
        except ValueError:
            continue
        bound = state == TCP_LISTEN if protocol == TCP else remote_port == 0
        if bound and port and _reachable(address):
            yield port, protocol


def proc_listening_ports(name: str, proc_net: Path = PROC_NET) -> set[tuple[int, str]]:
    """(port, protocol) of the listening sockets one /proc/net table (`tcp`, `udp6`...) lists."""
    protocol = SOCKET_TABLES[name][1]
    try:
        text = (proc_net / name).read_text(encoding="ascii", errors="replace")
    except OSError:  # no IPv6 in this kernel, say
        return set()
    return set(_socket_lines(text, protocol))


def listening_ports(proc_net: Path = PROC_NET) -> frozenset[tuple[int, str]]:
    """(port, protocol) of every TCP listener and unconnected UDP socket, loopback aside."""
    found: set[tuple[int, str]] = set()
    with SocketDiag() as diag:
        for name, (family, protocol, state) in SOCKET_TABLES.items():
            try:
                found.update(
                    (port, protocol)
                    for address, port in diag.bound_local_ends(
                        family, IP_PROTOCOLS[protocol], state
                    )
                    if port and _reachable(address)
                )
            except OSError:  # no sock_diag for this protocol here
                found.update(proc_listening_ports(name, proc_net))
    return frozenset(found)


def _port_values(right: Any) -> Iterator[tuple[int, int]]:
    if isinstance(right, int):
        yield right, right
    elif isinstance(right, dict) and "range" in right:
        low, high = right["range"]
        yield int(low), int(high)
    elif isinstance(right, dict) and "set" in right:
        for item in right["set"]:
            yield from _port_values(item)
    # anything else (a named set `@name`, a map): not ours to resolve


def _protocols(right: Any) -> set[str]:
    names = right["set"] if isinstance(right, dict) and "set" in right else [right]
    return {NFT_PROTOCOLS[name] for name in names if name in NFT_PROTOCOLS}


def _forwards(expressions: list[JsonObject]) -> bool:
    for expression in expressions:
        if any(statement in expression for statement in FORWARDING_STATEMENTS):
            return True
        xt = expression.get("xt")
        if isinstance(xt, dict) and (xt.get("type"), xt.get("name")) in FORWARDING_TARGETS:
            return True
    return False


def _rule_ports(expressions: list[JsonObject]) -> Iterator[PortRange]:
    """The (protocol, low, high) a forwarding rule's `== dport` match names."""
    protocols = {TCP, UDP}
    ports: list[tuple[str | None, int, int]] = []
    for expression in expressions:
        match = expression.get("match")
        if not isinstance(match, dict) or match.get("op", "==") not in ("==", "in"):
            continue
        left, right = match.get("left"), match.get("right")
        if not isinstance(left, dict):
            continue
        if left.get("meta", {}).get("key") == "l4proto":
            protocols &= _protocols(right) or protocols
        payload = left.get("payload", {})
        if payload.get("field") == "dport":
            kind = NFT_PROTOCOLS.get(payload.get("protocol", ""))
            ports += [(kind, low, high) for low, high in _port_values(right)]
    for kind, low, high in ports:
        for protocol in sorted(protocols if kind is None else {kind}):
            yield protocol, low, high


def forwarded_ports(
    listing: Iterable[JsonObject], own_chains: frozenset[str] = frozenset()
) -> tuple[PortRange, ...]:
    """Port ranges of the forwarding rules in a JSON listing of nftables tables.

    Rules in chains named in `own_chains` are ours (the iptables backend's, seen through
    iptables-nft) and left out.
    """
    found: list[PortRange] = []
    for item in listing:
        rule = item.get("rule")
        if (
            isinstance(rule, dict)
            and rule.get("chain") not in own_chains
            and _forwards(rule.get("expr", []))
        ):
            found += _rule_ports(rule["expr"])
    return tuple(dict.fromkeys(found))


class HostPorts:
    """The core's `port_in_use` hook over the host's sockets and other nftables tables.

    `in_use` answers from the last read; `refresh` reads again (call it before an add).
    Our own rules are left out of the scan: the nftables backend's `own_table` (family ip), the
    iptables backend's `own_chains`.
    """

    def __init__(
        self,
        *,
        own_table: str | None = None,
        own_chains: frozenset[str] = frozenset(),
        proc_net: Path = PROC_NET,
    ) -> None:
        self._own_table = own_table
        self._own_chains = own_chains
        self._proc_net = proc_net
        self._snapshot = HostPortsSnapshot()
        self._listing: asyncio.Future[tuple[PortRange, ...] | None] | None = None
        self._changes = NftablesChanges(own_table=own_table, own_chains=own_chains)
        try:
            self._nft: Nftables | None = Nftables()
        except LibnftablesUnavailableError as error:
            LOG.warning("other forwarding rules are not checked: %s", error)
            self._nft = None

    def in_use(self, port: int, protocol: str) -> bool:
        return self._snapshot.holds(port, protocol)

    async def refresh(self) -> None:
        """Ask for the listeners again; list the other tables again if one of them changed.

        An add that arrives while a listing runs waits for it, or for a newer one when a change
        was announced after that listing began.
        """
        if self._changes.changed() or self._listing is None:
            self._listing = asyncio.ensure_future(asyncio.to_thread(self._foreign_forwards))
        listing = self._listing
        forwarded = await asyncio.shield(listing)
        if forwarded is None:  # could not list: keep the last, and list again next time
            forwarded = self._snapshot.forwarded
            if self._listing is listing:
                self._listing = None
        self._snapshot = HostPortsSnapshot(listening_ports(self._proc_net), forwarded)

    def close(self) -> None:
        self._changes.close()
        if self._nft is not None:
            self._nft.close()
            self._nft = None

    def _foreign_forwards(self) -> tuple[PortRange, ...] | None:
        if self._nft is None:
            return ()
        try:
            tables = [
                item["table"]
                for item in self._nft.run([{"list": {"tables": None}}])
                if "table" in item
            ]
            listing: list[JsonObject] = []
            for table in tables:
                family, name = table["family"], table["name"]
                if family in FAMILIES and (family, name) != ("ip", self._own_table):
                    query = {"list": {"table": {"family": family, "name": name}}}
                    listing += self._nft.run([query])
        except LibnftablesError as error:  # a table removed while we read, say
            LOG.warning("cannot read other nftables tables: %s", error)
            return None
        return forwarded_ports(listing, self._own_chains)


def host_ports_for(backend: NatBackend) -> HostPorts | None:
    """The port check that goes with a kernel backend; None when nothing is forwarded (memory)."""
    if isinstance(backend, NftablesBackend):
        return HostPorts(own_table=backend.table)
    if isinstance(backend, IptablesBackend):
        ours = frozenset(name for names in OUR_CHAINS.values() for name in names)
        return HostPorts(own_chains=ours)
    return None
