"""The nftables NAT backend: mappings as elements of maps in a table of our own.

The rules never change with the mappings, only map elements do, so a packet costs one hash
lookup whether there are 10 mappings or 10,000 (two for a RemoteHost-specific one, checked first):

    prerouting (nat)   iifname WAN, to a local address: DNAT by the maps, conntrack marked as ours
    forward (filter)   our conntrack mark: still mapped? then mark the packet, else drop;
                       `gate` drops all of it while forwarding is off (connection terminated)
    postrouting (nat)  port-triggering symmetry (5.6.16): InternalClient:InternalPort leaves from
                       ExternalPort

A host firewall whose forward chain drops by default (Docker sets iptables' FORWARD policy to DROP)
would drop our packets whatever our table accepts, since a drop in any base chain wins. So `start`
puts one rule at the top of each such foreign chain, accepting only packets with our packet mark,
written as iptables-nft itself writes `-m mark --mark M/M -m comment --comment TABLE` so that
iptables and Docker keep working on that table; `stop` takes it out again. Our own table stays
across `stop` so a restarted daemon finds the mappings in place and reconciles.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from igd.backends.libnftables import (
    JsonObject,
    LibnftablesError,
    LibnftablesUnavailableError,
    Nftables,
    concat,
    ct,
    has_bit,
    match,
    meta,
    payload,
    set_bit,
)
from igd.core.nat import TCP, UDP, NatError, Redirect, check_redirect

# One bit of the conntrack mark and of the packet mark: "forwarded by our mappings". Clear of the
# bits kube-proxy (0x4000, 0x8000), Calico (0xffff0000), Tailscale (0xff0000) and wg-quick (0xca6c)
# use; Docker uses none.
MAPPED_MARK = 0x2000
DNAT_PRIORITY = -110  # dstnat - 10: before Docker's and iptables' DNAT, so a mapping wins
FORWARD_PRIORITY = -160  # mangle - 10: the packet mark is set before any filter chain looks
SNAT_PRIORITY = 90  # srcnat - 10: before the host's own masquerade
INLINE_CHANGES = 4  # mappings a change may touch and still run on the event loop (_run)
NFT_PROTOCOLS = {TCP: "tcp", UDP: "udp"}
PROTOCOLS = {name: protocol for protocol, name in NFT_PROTOCOLS.items()}

REDIRECTS = "redirects"
REDIRECTS_FROM = "redirects_from"
FORWARDS = "forwards"
FORWARDS_FROM = "forwards_from"
SOURCE_PORTS = "source_ports"
GATE = "gate"
MAPPED = "mapped"
_ADDRESS, _PROTOCOL, _PORT = "ipv4_addr", "inet_proto", "inet_service"
STRUCTURES = {  # name: nft type; element order as in the comments
    # protocol . ExternalPort : InternalClient . InternalPort
    REDIRECTS: f"{_PROTOCOL} . {_PORT} : {_ADDRESS} . {_PORT}",
    # RemoteHost . protocol . ExternalPort : InternalClient . InternalPort
    REDIRECTS_FROM: f"{_ADDRESS} . {_PROTOCOL} . {_PORT} : {_ADDRESS} . {_PORT}",
    # protocol . ExternalPort . InternalClient . InternalPort
    FORWARDS: f"{_PROTOCOL} . {_PORT} . {_ADDRESS} . {_PORT}",
    # RemoteHost . protocol . ExternalPort . InternalClient . InternalPort
    FORWARDS_FROM: f"{_ADDRESS} . {_PROTOCOL} . {_PORT} . {_ADDRESS} . {_PORT}",
    # InternalClient . protocol . InternalPort : ExternalPort
    SOURCE_PORTS: f"{_ADDRESS} . {_PROTOCOL} . {_PORT} : {_PORT}",
}
TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

type InternalEnd = tuple[str, str, int]  # InternalClient, protocol, InternalPort
# Spelled out here because, inside the backend, `list` is the protocol's method.
type JsonList = list[JsonObject]
type Redirects = list[Redirect]
type Elements = list[tuple[str, Any]]  # (map or set name, element)
type Handles = list[int]


_INBOUND_KEY = concat(meta("l4proto"), payload("th", "dport"))
_INBOUND_KEY_FROM = concat(payload("ip", "saddr"), meta("l4proto"), payload("th", "dport"))
# The conntrack tuple of a DNATed flow names the mapping whichever way a packet goes: original
# destination = the external port, reply source = the internal end. ICMP errors carry it too.
_FLOW = (ct("protocol", "original"), ct("proto-dst", "original"), ct("ip saddr", "reply"))
_FLOW_KEY = concat(*_FLOW, ct("proto-src", "reply"))
_FLOW_KEY_FROM = concat(ct("ip saddr", "original"), *_FLOW, ct("proto-src", "reply"))
_OUTBOUND_KEY = concat(payload("ip", "saddr"), meta("l4proto"), payload("th", "sport"))


def _protocol(redirect: Redirect) -> str:
    try:
        return NFT_PROTOCOLS[redirect.protocol]
    except KeyError:
        raise NatError(f"unsupported protocol {redirect.protocol!r} in {redirect}") from None


def _internal_end(redirect: Redirect) -> InternalEnd:
    return (redirect.internal_client, _protocol(redirect), redirect.internal_port)


def _by_internal_end(redirects: Iterable[Redirect]) -> dict[InternalEnd, set[Redirect]]:
    grouped: dict[InternalEnd, set[Redirect]] = {}
    for redirect in redirects:
        grouped.setdefault(_internal_end(redirect), set()).add(redirect)
    return grouped


def _source_port(sharing: Iterable[Redirect]) -> int | None:
    """The ExternalPort an internal end leaves from: the lowest of its mappings' (5.6.16)."""
    return min((redirect.external_port for redirect in sharing), default=None)


class NftablesBackend:
    """Mappings in `table ip <table>`; see the module docstring for the ruleset."""

    name = "nftables"

    def __init__(
        self, wan_interface: str, lan_interfaces: Sequence[str], table: str = "upnp_gateway"
    ) -> None:
        if not TABLE_NAME.fullmatch(table):
            raise ValueError(f"table name {table!r}: use letters, digits and _")
        self._wan = wan_interface
        self._lan = list(lan_interfaces)
        self._table = table
        self._lock = asyncio.Lock()
        self._nft: Nftables | None = None
        # The mappings in the kernel (we are our table's only writer) by internal end, so that one
        # transaction can also move the symmetry entry of an end that several mappings share.
        # A tuple, not a set: an end has one mapping or a few, and a set costs 200 bytes more.
        self._by_internal_end: dict[InternalEnd, tuple[Redirect, ...]] = {}

    @property
    def table(self) -> str:
        """Our table's name (family ip): other readers of the ruleset skip it."""
        return self._table

    async def start(self) -> None:
        """Create or restore our table (elements kept, forwarding on); hook drop-policy chains."""
        async with self._lock:
            if self._nft is None:
                try:
                    self._nft = Nftables()
                except LibnftablesUnavailableError as error:
                    raise NatError(str(error)) from error
            await self._run(self._structures())
            await self._run(self._chains())
            await self._hook_foreign_chains()
            grouped = _by_internal_end(await self._read_redirects())
            self._by_internal_end = {end: tuple(sharing) for end, sharing in grouped.items()}

    async def stop(self) -> None:
        """Take our rule out of foreign chains and close the context; our table stays."""
        async with self._lock:
            if self._nft is None:
                return
            try:
                await self._unhook_foreign_chains()
            finally:
                self._nft.close()
                self._nft = None
                self._by_internal_end = {}

    async def apply(self, add: Sequence[Redirect] = (), remove: Sequence[Redirect] = ()) -> None:
        async with self._lock:
            commands = self._changes(add, remove)
            if commands:
                await self._run(commands, inline=len(add) + len(remove) <= INLINE_CHANGES)
            self._remember(add, remove)

    async def list(self) -> Redirects:
        async with self._lock:
            return sorted(await self._read_redirects())

    async def set_forwarding(self, enabled: bool) -> None:
        async with self._lock:
            commands: JsonList = [{"flush": {"chain": self._object(GATE)}}]
            if not enabled:
                commands.append(self._rule(GATE, {"drop": None}))
            await self._run(commands)

    # -- the kernel ------------------------------------------------------------------------

    async def _run(self, commands: Sequence[JsonObject] | str, *, inline: bool = False) -> JsonList:
        """Commands in JSON, or a script in nft's syntax; a refusal becomes NatError.

        `inline`: run on the event loop, for a change of a few elements (about 0.15 ms, less
        than handing it to a thread and back costs); anything larger runs in a thread.
        """
        if self._nft is None:
            raise RuntimeError("NftablesBackend used before start()")
        try:
            if isinstance(commands, str):
                await asyncio.to_thread(self._nft.run_script, commands)
                return []
            if inline:
                return self._nft.run(commands)
            return await asyncio.to_thread(self._nft.run, commands)
        except LibnftablesError as error:
            raise NatError(f"nftables: {error}") from error

    def _object(self, name: str, **fields: Any) -> JsonObject:
        return {"family": "ip", "table": self._table, "name": name, **fields}

    def _rule(self, chain: str, *expressions: JsonObject) -> JsonObject:
        rule = {"family": "ip", "table": self._table, "chain": chain, "expr": list(expressions)}
        return {"add": {"rule": rule}}

    def _structures(self) -> str:
        """Our table, maps and sets, created if missing (elements kept), in nft's own syntax."""
        declarations = [f"add table ip {self._table}"]
        for name, declaration in STRUCTURES.items():
            kind = "map" if ":" in declaration else "set"
            declarations.append(f"add {kind} ip {self._table} {name} {{ type {declaration}; }}")
        return "\n".join(declarations)

    def _chains(self) -> JsonList:
        """Our chains, created if missing and their rules written anew."""
        hooks = {
            "prerouting": {"type": "nat", "hook": "prerouting", "prio": DNAT_PRIORITY},
            "forward": {"type": "filter", "hook": "forward", "prio": FORWARD_PRIORITY},
            "postrouting": {"type": "nat", "hook": "postrouting", "prio": SNAT_PRIORITY},
        }
        commands: JsonList = [
            {"add": {"chain": self._object(name, **hook, policy="accept")}}
            for name, hook in hooks.items()
        ]
        commands += [{"add": {"chain": self._object(name)}} for name in (GATE, MAPPED)]
        commands += [{"flush": {"chain": self._object(name)}} for name in (*hooks, GATE, MAPPED)]
        return commands + self._rules()

    def _rules(self) -> JsonList:
        ours = set_bit(ct("mark"), MAPPED_MARK)
        from_wan_to_us = (
            match(meta("iifname"), self._wan),
            match({"fib": {"result": "type", "flags": ["daddr"]}}, "local"),
        )
        rules = [
            self._rule(
                "prerouting",
                *from_wan_to_us,
                match(key, f"@{name}"),
                ours,
                {"dnat": {"family": "ip", "addr": {"map": {"key": key, "data": f"@{name}"}}}},
            )
            for key, name in ((_INBOUND_KEY_FROM, REDIRECTS_FROM), (_INBOUND_KEY, REDIRECTS))
        ]
        rules.append(
            self._rule("forward", has_bit(ct("mark"), MAPPED_MARK), {"jump": {"target": MAPPED}})
        )
        rules.append(self._rule(MAPPED, {"jump": {"target": GATE}}))
        # `ct original protocol` first tells nft what the conntrack ports are.
        rules += [
            self._rule(
                MAPPED,
                match(ct("protocol", "original"), protocol),
                match(key, f"@{name}"),
                set_bit(meta("mark"), MAPPED_MARK),
                {"accept": None},
            )
            for protocol in NFT_PROTOCOLS.values()
            for key, name in ((_FLOW_KEY_FROM, FORWARDS_FROM), (_FLOW_KEY, FORWARDS))
        ]
        rules.append(self._rule(MAPPED, {"drop": None}))  # ours once, no longer mapped
        from_lan = [match(meta("iifname"), {"set": self._lan})] if self._lan else []
        rules.append(
            self._rule(
                "postrouting",
                match(meta("oifname"), self._wan),
                *from_lan,
                match(meta("l4proto"), {"set": list(NFT_PROTOCOLS.values())}),
                {
                    "masquerade": {
                        "port": {"map": {"key": _OUTBOUND_KEY, "data": f"@{SOURCE_PORTS}"}}
                    }
                },
            )
        )
        return rules

    # -- mappings as elements --------------------------------------------------------------

    def _changes(self, add: Sequence[Redirect], remove: Sequence[Redirect]) -> JsonList:
        """One transaction: remove, then add, the elements of every map and set concerned."""
        for redirect in (*add, *remove):
            check_redirect(redirect)
        removed: dict[str, list[Any]] = {}
        added: dict[str, list[Any]] = {}
        for redirect in remove:
            for name, element in self._elements(redirect, with_data=False):
                removed.setdefault(name, []).append(element)
        for redirect in add:
            for name, element in self._elements(redirect, with_data=True):
                added.setdefault(name, []).append(element)
        adding, removing = _by_internal_end(add), _by_internal_end(remove)
        for end in adding.keys() | removing.keys():
            sharing = set(self._by_internal_end.get(end, ()))
            before = _source_port(sharing)
            after = _source_port((sharing - removing.get(end, set())) | adding.get(end, set()))
            if before != after and before is not None:
                removed.setdefault(SOURCE_PORTS, []).append(concat(*end))
            if before != after and after is not None:
                added.setdefault(SOURCE_PORTS, []).append([concat(*end), after])
        return [
            {verb: {"element": self._object(name, elem=elements)}}
            for verb, changes in (("delete", removed), ("add", added))
            for name, elements in changes.items()
        ]

    @staticmethod
    def _elements(redirect: Redirect, *, with_data: bool) -> Elements:
        protocol = _protocol(redirect)
        internal = (redirect.internal_client, redirect.internal_port)
        remote = (redirect.remote_host,) if redirect.remote_host else ()
        key = concat(*remote, protocol, redirect.external_port)
        data = [key, concat(*internal)] if with_data else key
        flow = concat(*remote, protocol, redirect.external_port, *internal)
        if remote:
            return [(REDIRECTS_FROM, data), (FORWARDS_FROM, flow)]
        return [(REDIRECTS, data), (FORWARDS, flow)]

    def _remember(self, add: Iterable[Redirect], remove: Iterable[Redirect]) -> None:
        for redirect in remove:
            end = _internal_end(redirect)
            kept = tuple(other for other in self._by_internal_end.get(end, ()) if other != redirect)
            if kept:
                self._by_internal_end[end] = kept
            else:
                self._by_internal_end.pop(end, None)
        for redirect in add:
            end = _internal_end(redirect)
            sharing = self._by_internal_end.get(end, ())
            if redirect not in sharing:
                self._by_internal_end[end] = (*sharing, redirect)

    async def _read_redirects(self) -> Redirects:
        redirects: Redirects = []
        for name in (REDIRECTS, REDIRECTS_FROM):
            listing = await self._run([{"list": {"map": self._object(name)}}])
            for item in listing:
                for key, data in item.get("map", {}).get("elem", []):
                    *remote, protocol, external_port = key["concat"]
                    internal_client, internal_port = data["concat"]
                    redirects.append(
                        Redirect(
                            PROTOCOLS[protocol],
                            external_port,
                            sys.intern(internal_client),  # kept: one copy per host, not per rule
                            internal_port,
                            *remote,
                        )
                    )
        return redirects

    # -- the foreign forward chains --------------------------------------------------------

    @staticmethod
    def _in(chain: JsonObject) -> JsonObject:
        return {"family": chain["family"], "table": chain["table"], "chain": chain["name"]}

    def _hook_rule(self, chain: JsonObject) -> JsonObject:
        expressions = [has_bit(meta("mark"), MAPPED_MARK), {"accept": None}]
        return self._in(chain) | {"comment": self._table, "expr": expressions}

    async def _forward_chains(self) -> JsonList:
        """Other tables' base chains on the forward hook that see IPv4."""
        listing = await self._run([{"list": {"chains": None}}])
        return [
            item["chain"]
            for item in listing
            if "chain" in item
            and item["chain"].get("hook") == "forward"
            and item["chain"]["family"] in ("ip", "inet")
            and (item["chain"]["family"], item["chain"]["table"]) != ("ip", self._table)
        ]

    async def _our_hook_handles(self, chain: JsonObject) -> Handles:
        name = {"family": chain["family"], "table": chain["table"], "name": chain["name"]}
        listing = await self._run([{"list": {"chain": name}}])
        return [
            item["rule"]["handle"]
            for item in listing
            if "rule" in item and item["rule"].get("comment") == self._table
        ]

    async def _hook_foreign_chains(self) -> None:
        inserts = [
            {"insert": {"rule": self._hook_rule(chain)}}
            for chain in await self._forward_chains()
            if chain.get("policy") == "drop" and not await self._our_hook_handles(chain)
        ]
        if inserts:
            await self._run(inserts)

    async def _unhook_foreign_chains(self) -> None:
        deletes = [
            {"delete": {"rule": self._in(chain) | {"handle": handle}}}
            for chain in await self._forward_chains()
            for handle in await self._our_hook_handles(chain)
        ]
        if deletes:
            await self._run(deletes)
