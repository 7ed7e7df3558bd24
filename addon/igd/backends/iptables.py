"""The iptables NAT backend, for hosts without nftables: mappings as rules in chains of our own.

    nat PREROUTING   first: -i WAN, to a local address -> UPNPGW-PREROUTING: DNAT, one rule a
                     mapping, RemoteHost-specific ones first
    filter FORWARD   first: -> UPNPGW-FORWARD: a flow nobody DNATed returns at once; the others
                     walk UPNPGW-FLOWS (one rule a mapping, on the conntrack tuple) to
                     UPNPGW-MAPPED: the gate (connection terminated), then conntrack-marked as
                     ours and accepted; a flow marked ours that no mapping matches any more drops
    nat POSTROUTING  first: -o WAN -> UPNPGW-POSTROUTING: port-triggering symmetry (5.6.16)

Accepting in FORWARD itself, ahead of the host's rules, lets mapped traffic through a host whose
FORWARD policy is DROP (Docker's); `stop` takes that jump out again, as the nftables backend takes
out its accept rule, and leaves the rest so a restarted daemon reconciles. The data path is linear:
a new inbound connection walks UPNPGW-PREROUTING, a packet of a DNATed flow walks UPNPGW-FLOWS
(other forwarded packets pass one rule). The nftables backend's maps make both one lookup.

Each change is one `iptables-restore --noflush`: rules deleted by their exact spec, then added.
It commits the nat table, then the filter table, so when the filter table is refused the nat
change is already in: `apply` then writes our chains anew from the mappings as they were, which
keeps it all-or-nothing. We are our chains' only writer, so the mappings are kept here too.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Sequence

from igd.backends.iptables_rules import (
    FILTER,
    FLOWS,
    FORWARD,
    MAPPED,
    NAT,
    OUR_CHAINS,
    POSTROUTING,
    PREROUTING,
    InternalEnd,
    RuleKey,
    dnat_order,
    dnat_rule,
    flow_rule,
    forward_rules,
    hook_deletions,
    hooks,
    internal_end,
    mapped_rules,
    restore_input,
    rule_key,
    saved_redirects,
    saved_tables,
    source_port,
    symmetry_rule,
)
from igd.core.nat import NatError, Redirect, check_redirect

COMMAND_TIMEOUT = 120.0  # seconds one iptables-restore or -save may take (10,000 rules: a few)
LOCK_WAIT = 10  # seconds iptables-restore waits for the xtables lock another program holds
COMMAND = re.compile(r"iptables(-nft|-legacy)?")
INTERFACE = re.compile(r"[^\s/:!]{1,15}")  # a Linux interface name, written into our rules

# Spelled out here because, inside the backend, `list` is the protocol's method.
type Redirects = list[Redirect]
type Sections = dict[str, list[str]]  # table: iptables-restore lines


class IptablesBackend:
    """Mappings in our chains of the nat and filter tables; see the module docstring."""

    name = "iptables"

    def __init__(self, wan_interface: str, command: str = "iptables") -> None:
        """`command`: iptables, iptables-nft or iptables-legacy (its -restore and -save run)."""
        if not INTERFACE.fullmatch(wan_interface):
            raise ValueError(f"interface name {wan_interface!r}: not one iptables can match")
        if not COMMAND.fullmatch(command):
            raise ValueError(f"command {command!r}: use iptables, iptables-nft or iptables-legacy")
        self._wan = wan_interface
        self._command = command
        self._lock = asyncio.Lock()
        self._started = False
        self._forwarding = True
        self._mappings: dict[RuleKey, Redirect] = {}
        self._by_internal_end: dict[InternalEnd, set[Redirect]] = {}

    async def start(self) -> None:
        """Write our chains anew from the mappings they hold; hook them first (once each)."""
        async with self._lock:
            tables = saved_tables(await self._save())
            mappings = {rule_key(r): r for r in saved_redirects(tables.get(NAT, []))}
            sections = self._chains(mappings.values(), forwarding=True)
            for table in OUR_CHAINS:
                sections[table] += hook_deletions(tables.get(table, []))
            for table, chain, spec in hooks(self._wan):
                sections[table].append(f"-I {chain} 1 {spec}")
            await self._restore(sections)
            self._reset(mappings)
            self._started = True

    async def stop(self) -> None:
        """Take our jump out of FORWARD; the rest stays for the next start to reconcile."""
        async with self._lock:
            if not self._started:
                return
            try:
                tables = saved_tables(await self._save(FILTER))
                forward_hooks = [
                    line
                    for line in hook_deletions(tables.get(FILTER, []))
                    if line.startswith("-D FORWARD ")
                ]
                await self._restore({FILTER: forward_hooks})
            finally:
                self._started = False
                self._reset({})

    async def apply(self, add: Sequence[Redirect] = (), remove: Sequence[Redirect] = ()) -> None:
        async with self._lock:
            self._require_started()
            for redirect in (*add, *remove):
                check_redirect(redirect)
            mappings, added = self._after(add, remove)
            try:
                await self._restore(self._changes(added, remove))
            except NatError as refused:
                await self._roll_back(refused)
            self._mappings = mappings
            for redirect in remove:
                self._by_internal_end[internal_end(redirect)].discard(redirect)
            for redirect in added:
                self._by_internal_end.setdefault(internal_end(redirect), set()).add(redirect)

    async def list(self) -> Redirects:
        async with self._lock:
            self._require_started()
            tables = saved_tables(await self._save(NAT))
            return sorted(saved_redirects(tables.get(NAT, [])))

    async def set_forwarding(self, enabled: bool) -> None:
        async with self._lock:
            self._require_started()
            gate = [f":{MAPPED} - [0:0]", *_appended(MAPPED, mapped_rules(enabled))]
            await self._restore({FILTER: gate})
            self._forwarding = enabled

    # -- the model -------------------------------------------------------------------------

    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError("IptablesBackend used before start()")

    def _after(
        self, add: Sequence[Redirect], remove: Sequence[Redirect]
    ) -> tuple[dict[RuleKey, Redirect], Redirects]:
        """The mappings once the change is in, and those it adds; refused as the kernel refuses
        a map change: removing a rule not there, a second target for what a packet matches."""
        mappings = dict(self._mappings)
        for redirect in remove:
            if mappings.get(rule_key(redirect)) != redirect:
                raise NatError(f"no such rule to remove: {redirect}")
            del mappings[rule_key(redirect)]
        added: Redirects = []
        for redirect in add:
            present = mappings.get(rule_key(redirect))
            if present == redirect:
                continue
            if present is not None:
                raise NatError(f"{redirect} conflicts with {present}")
            mappings[rule_key(redirect)] = redirect
            added.append(redirect)
        return mappings, added

    def _reset(self, mappings: dict[RuleKey, Redirect]) -> None:
        """The model of freshly written chains: these mappings, forwarding on."""
        self._mappings = mappings
        self._forwarding = True
        self._by_internal_end = _by_internal_end(mappings.values())

    # -- the rules -------------------------------------------------------------------------

    def _chains(self, redirects: Iterable[Redirect], *, forwarding: bool) -> Sections:
        """Our chains declared (so emptied: --noflush flushes a declared chain) and refilled."""
        ordered = dnat_order(redirects)
        symmetry = [
            symmetry_rule(end, port)
            for end, sharing in sorted(_by_internal_end(ordered).items())
            if (port := source_port(sharing)) is not None
        ]
        sections: Sections = {
            table: [f":{chain} - [0:0]" for chain in chains] for table, chains in OUR_CHAINS.items()
        }
        sections[NAT] += _appended(PREROUTING, map(dnat_rule, ordered))
        sections[NAT] += _appended(POSTROUTING, symmetry)
        sections[FILTER] += _appended(FORWARD, forward_rules())
        sections[FILTER] += _appended(FLOWS, map(flow_rule, ordered))
        sections[FILTER] += _appended(MAPPED, mapped_rules(forwarding))
        return sections

    def _changes(self, add: Sequence[Redirect], remove: Sequence[Redirect]) -> Sections:
        """Deletions by exact spec, then additions; the symmetry rule of every end concerned."""
        nat = [f"-D {PREROUTING} {dnat_rule(r)}" for r in remove]
        filter_ = [f"-D {FLOWS} {flow_rule(r)}" for r in remove]
        adding, removing = _by_internal_end(add), _by_internal_end(remove)
        for end in sorted(adding.keys() | removing.keys()):
            sharing = self._by_internal_end.get(end, set())
            before = source_port(sharing)
            after = source_port((sharing - removing.get(end, set())) | adding.get(end, set()))
            if before != after and before is not None:
                nat.append(f"-D {POSTROUTING} {symmetry_rule(end, before)}")
            if before != after and after is not None:
                nat.append(f"-A {POSTROUTING} {symmetry_rule(end, after)}")
        for redirect in add:
            where = f"-I {PREROUTING} 1" if redirect.remote_host else f"-A {PREROUTING}"
            nat.append(f"{where} {dnat_rule(redirect)}")
            filter_.append(f"-A {FLOWS} {flow_rule(redirect)}")
        return {NAT: nat, FILTER: filter_}

    async def _roll_back(self, refused: NatError) -> None:
        """Our chains as they were before a refused change, whatever of it went in; re-raise."""
        try:
            await self._restore(self._chains(self._mappings.values(), forwarding=self._forwarding))
        except NatError as failed:
            raise NatError(
                f"{refused}; restoring the previous rules failed too: {failed}"
            ) from failed
        raise refused

    # -- the commands ----------------------------------------------------------------------

    async def _save(self, table: str | None = None) -> str:
        return await self._run(f"{self._command}-save", *(("-t", table) if table else ()))

    async def _restore(self, sections: Sections) -> None:
        text = restore_input(sections)
        if text:
            restore = f"{self._command}-restore"
            await self._run(restore, "--noflush", f"--wait={LOCK_WAIT}", stdin=text)

    @staticmethod
    async def _run(program: str, *arguments: str, stdin: str = "") -> str:
        """The program's output; NatError when it is missing, refuses or hangs."""
        try:
            process = await asyncio.create_subprocess_exec(
                program,
                *arguments,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError:
            raise NatError(f"{program} is not installed") from None
        except PermissionError as error:
            raise NatError(f"{program}: {error}") from error
        try:
            output, errors = await asyncio.wait_for(
                process.communicate(stdin.encode()), COMMAND_TIMEOUT
            )
        except TimeoutError:
            process.kill()
            await process.wait()
            raise NatError(f"{program} gave no answer in {COMMAND_TIMEOUT:.0f} s") from None
        if process.returncode != 0:
            message = errors.decode(errors="replace").strip() or f"exit {process.returncode}"
            raise NatError(f"{program}: {message}")
        return output.decode(errors="replace")


def _appended(chain: str, specs: Iterable[str]) -> list[str]:
    return [f"-A {chain} {spec}" for spec in specs]


def _by_internal_end(redirects: Iterable[Redirect]) -> dict[InternalEnd, set[Redirect]]:
    grouped: dict[InternalEnd, set[Redirect]] = {}
    for redirect in redirects:
        grouped.setdefault(internal_end(redirect), set()).add(redirect)
    return grouped
