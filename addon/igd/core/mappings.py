"""The port-mapping table of WANIPConnection:2: every rule of the standard, nothing of the wire.

Every front-end (SOAP today, NAT-PMP/PCP later, the integration's requests) calls these actions,
so each rule is written once. Arguments are checked in the order of the spec's 5.6.0b; how an
accepted change reaches the kernel, the table and the journal is igd.core.commits. Changes are
serialized by one lock and each is atomic; reads (reads.py) never wait.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Unpack

from igd.core import restrictions
from igd.core.arguments import (
    UI2_MAX,
    MappingArguments,
    MappingRequest,
    check_mapping_request,
    check_port_range,
    check_protocol,
    check_remote_host,
    check_ui2,
)
from igd.core.commits import CommittingTable
from igd.core.errors import (
    ACTION_NOT_AUTHORIZED,
    CONFLICT_IN_MAPPING_ENTRY,
    CONFLICT_WITH_OTHER_MECHANISMS,
    NO_PORT_MAPS_AVAILABLE,
    NO_SUCH_ENTRY_IN_ARRAY,
    PORT_MAPPING_NOT_FOUND,
    UpnpError,
)
from igd.core.events import next_system_update_id
from igd.core.journal import Journal, RestoreReport
from igd.core.nat import NatBackend, NatError
from igd.core.portchoice import choose_port
from igd.core.records import (
    Caller,
    Entry,
    MappingKey,
    MappingPolicy,
    MappingView,
    Permissions,
    PortInUse,
    TableChange,
    kernel_rules,
)
from igd.core.restrictions import MIN_UNPRIVILEGED_PORT

__all__ = [
    "DEFAULT_MAX_MAPPINGS",
    "DEFAULT_MAX_PER_CLIENT",
    "MIN_UNPRIVILEGED_PORT",
    "Caller",
    "MappingPolicy",
    "MappingTable",
    "MappingView",
    "Permissions",
    "PortInUse",
    "TableChange",
    "next_system_update_id",
]

DEFAULT_MAX_MAPPINGS = 1024  # global limit, 728 beyond it (security-notes.md A13)
DEFAULT_MAX_PER_CLIENT = 64  # per internal client limit, 728 beyond it (A13)


class MappingTable(CommittingTable):
    """The NAT port-mapping table: the actions of 5.6.14-5.6.21, leases and change events."""

    def __init__(
        self,
        backend: NatBackend,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_mappings: int = DEFAULT_MAX_MAPPINGS,
        max_per_client: int = DEFAULT_MAX_PER_CLIENT,
        permissions: Permissions | None = None,
        port_in_use: PortInUse | None = None,
        policy: MappingPolicy | None = None,
        expose_all_mappings: bool = False,
        rng: random.Random | None = None,
        journal: Journal | None = None,
    ) -> None:
        """Hooks: `permissions` (allow/deny rules, 606), `port_in_use` (other mechanisms, 729),
        `policy` (the gateway's own refusals, with their reason, and lease bounds).

        `expose_all_mappings` lets restricted callers read every entry (miniupnpd's way);
        `rng` picks the first port tried by AddAnyPortMapping with ExternalPort 0; `journal`
        must hold a change before its caller is answered.
        """
        super().__init__(backend, clock, expose_all_mappings=expose_all_mappings, journal=journal)
        self._max_mappings = max_mappings
        self._max_per_client = max_per_client
        self._permissions = permissions
        self._port_in_use = port_in_use
        self._policy = policy
        self._rng = rng or random.SystemRandom()

    async def add_port_mapping(self, caller: Caller, **arguments: Unpack[MappingArguments]) -> None:
        """AddPortMapping (5.6.16): create, or overwrite the same client's entry (Figure 3)."""
        request = await self._admitted(caller, arguments, any_port=False)
        async with self._changing():
            if not self._permitted(request, request.external_port):
                raise UpnpError(ACTION_NOT_AUTHORIZED, "refused by the permission rules")
            existing = self._entries.get((request.external_port, request.protocol))
            if existing is None:
                if self._in_use_elsewhere(request.external_port, request.protocol):
                    raise UpnpError(CONFLICT_WITH_OTHER_MECHANISMS, "port used on the gateway")
                self._check_limits(request.internal_client)
                await self._create(request, request.external_port)
            elif existing.static:
                raise UpnpError(CONFLICT_WITH_OTHER_MECHANISMS, "port held by a static mapping")
            elif not _same_owner(existing, request):  # Ours: another RemoteHost is 718 too
                raise UpnpError(CONFLICT_IN_MAPPING_ENTRY)
            elif not restrictions.owns(caller, existing):
                raise UpnpError(ACTION_NOT_AUTHORIZED, "R5: entry not the caller's to change")
            else:
                await self._overwrite(existing, request)

    async def add_any_port_mapping(
        self, caller: Caller, **arguments: Unpack[MappingArguments]
    ) -> int:
        """AddAnyPortMapping (5.6.17): a taken port yields another (Figure 4); NewReservedPort.

        Ours: ExternalPort 0 means "any port", never a wildcard mapping.
        """
        request = await self._admitted(caller, arguments, any_port=True)
        async with self._changing():
            wanted = request.external_port
            existing = self._entries.get((wanted, request.protocol))
            if (
                existing is not None
                and not existing.static
                and _same_owner(existing, request)
                and restrictions.owns(caller, existing)
                and self._permitted(request, wanted)
            ):
                await self._overwrite(existing, request)
                return wanted
            self._check_limits(request.internal_client)
            port = choose_port(
                wanted or self._rng.randint(MIN_UNPRIVILEGED_PORT, UI2_MAX),
                1 if caller.authorized else MIN_UNPRIVILEGED_PORT,  # R2 for the chosen port
                UI2_MAX,
                permitted=lambda candidate: self._permitted(request, candidate),
                free=lambda candidate: (
                    (candidate, request.protocol) not in self._entries
                    and not self._in_use_elsewhere(candidate, request.protocol)
                ),
            )
            await self._create(request, port)
            return port

    async def delete_port_mapping(
        self, caller: Caller, *, remote_host: str, external_port: int, protocol: str
    ) -> None:
        """DeletePortMapping (5.6.18) of exactly (RemoteHost, ExternalPort, Protocol)."""
        protocol = check_protocol(protocol)
        check_ui2(external_port)
        remote_host = check_remote_host(remote_host)
        restrictions.check_port_argument(caller, external_port)  # R3
        async with self._changing():
            entry = self._entries.lookup(remote_host, external_port, protocol)
            if not restrictions.owns(caller, entry):  # R5
                raise UpnpError(ACTION_NOT_AUTHORIZED, "R5: not the caller's entry")
            if entry.static:  # Ours: UPnP may not delete out-of-band entries
                raise UpnpError(ACTION_NOT_AUTHORIZED, "static mapping")
            await self._delete([entry])

    async def delete_port_mapping_range(
        self, caller: Caller, *, start_port: int, end_port: int, protocol: str, manage: bool
    ) -> None:
        """DeletePortMappingRange (5.6.19): all deletable entries of the range, one event."""
        protocol = check_protocol(protocol)
        check_port_range(start_port, end_port)
        restrictions.check_port_argument(caller, start_port)  # R4
        manage = restrictions.effective_manage(caller, manage)  # R6
        async with self._changing():
            # Ours, steps 1-3 of 5.6.19: 730 without candidates, 606 when none is deletable
            candidates = [
                entry
                for entry in self._entries.in_range(start_port, end_port, protocol)
                if manage or entry.internal_client == caller.address
            ]
            if not candidates:
                raise UpnpError(PORT_MAPPING_NOT_FOUND)
            deletable = [
                entry
                for entry in candidates
                if not entry.static and restrictions.owns(caller, entry)  # R5
            ]
            if not deletable:
                raise UpnpError(ACTION_NOT_AUTHORIZED, "no deletable entry in the range")
            await self._delete(deletable)

    async def expire_due(self) -> None:
        """Remove every mapping whose lease has ended, as one change event (5.5.6).

        If the backend refuses, the mappings stay (they still forward) and NatError propagates;
        the caller retries later.
        """
        async with self._lock:
            now = self._clock()
            due = self._entries.take_due(now)
            if not due:
                return
            try:
                await self._backend.apply(remove=kernel_rules(due))
            except NatError:
                for entry in due:
                    self._entries.replace(entry)
                raise
            for entry in due:
                self._entries.remove(entry)
            expired = tuple(replace(entry.view(now), lease_duration=0) for entry in due)
            self._events.publish(len(self._entries), expired=expired)

    async def restore(self, entries: Iterable[Entry]) -> RestoreReport:
        """Put back the entries a previous run saved, then make the kernel hold just their rules.

        For the daemon's start, while the kernel may still hold the last run's rules (adding
        them as new mappings would fail). Entries keep their order and lease end; those whose
        lease ended or that the rules and limits refuse now are left out. One backend change adds
        what the kernel lacks and removes what the table lacks. The table must be empty; on
        NatError it stays empty and the kernel unchanged. No change event: nothing changed for
        clients. With a `policy`, no lease outlasts the longest it grants now.
        """
        if self._policy is not None:
            await self._policy.refresh()
        async with self._lock:
            if len(self._entries):
                raise RuntimeError("restore needs an empty table")
            now = self._clock()
            if self._policy is not None:
                entries = _ending_by(entries, now + self._policy.longest_lease)
            kept: dict[MappingKey, Entry] = {}
            per_client: Counter[str] = Counter()
            expired = refused = 0
            for entry in entries:
                if entry.expires_at is not None and entry.expires_at <= now:
                    expired += 1
                elif self._restorable(entry, kept, per_client[entry.internal_client]):
                    kept[entry.key] = entry
                    per_client[entry.internal_client] += not entry.static
                else:
                    refused += 1
            added, removed = await self._reconcile([*kept.values()])
            return RestoreReport(len(kept), expired, refused, added, removed)

    async def add_static(
        self,
        *,
        external_port: int,
        protocol: str,
        internal_port: int,
        internal_client: str,
        remote_host: str = "",
        enabled: bool = True,
        description: str = "",
    ) -> None:
        """Add a mapping made out of band (configuration): no lease, read-only for UPnP.

        Values are checked as for AddPortMapping; 718 if the port is mapped, 729 if in use.
        """
        request = check_mapping_request(
            remote_host=remote_host,
            external_port=external_port,
            protocol=protocol,
            internal_port=internal_port,
            internal_client=internal_client,
            enabled=enabled,
            description=description,
            lease_duration=0,
            any_port=False,
        )
        async with self._changing():
            if (request.external_port, request.protocol) in self._entries:
                raise UpnpError(CONFLICT_IN_MAPPING_ENTRY)
            if self._in_use_elsewhere(request.external_port, request.protocol):
                raise UpnpError(CONFLICT_WITH_OTHER_MECHANISMS, "port used on the gateway")
            await self._create(request, request.external_port, static=True)

    async def remove_static(
        self, *, external_port: int, protocol: str, remote_host: str = ""
    ) -> None:
        """Remove a mapping added with `add_static` (714 if there is no such static entry)."""
        protocol = check_protocol(protocol)
        check_ui2(external_port)
        remote_host = check_remote_host(remote_host)
        async with self._changing():
            entry = self._entries.lookup(remote_host, external_port, protocol)
            if not entry.static:
                raise UpnpError(NO_SUCH_ENTRY_IN_ARRAY, "not a static mapping")
            await self._delete([entry])

    async def _admitted(
        self, caller: Caller, arguments: MappingArguments, *, any_port: bool
    ) -> MappingRequest:
        """An add's request once checked: its arguments (5.6.0b), the policy, then R1 and R2."""
        request = check_mapping_request(any_port=any_port, **arguments)
        if self._policy is not None:
            refusal = self._policy.refusal(request, any_port=any_port)
            if refusal is not None:
                raise UpnpError(ACTION_NOT_AUTHORIZED, refusal)
            await self._policy.refresh()
            granted = self._policy.granted_lease(request.lease_duration)
            request = replace(request, lease_duration=granted)
        restrictions.check_add(caller, request)  # R1, R2
        return request

    def _restorable(self, entry: Entry, kept: dict[MappingKey, Entry], client_count: int) -> bool:
        """Whether a saved entry may come back: allowed now, within the limits, not a repeat."""
        return (
            entry.key not in kept
            and len(kept) < self._max_mappings
            and (entry.static or client_count < self._max_per_client)
            and not self._in_use_elsewhere(entry.external_port, entry.protocol)
            and (
                self._permissions is None
                or self._permissions.allows(
                    entry.external_port, entry.internal_client, entry.internal_port
                )
            )
        )

    def _permitted(self, request: MappingRequest, external_port: int) -> bool:
        return self._permissions is None or self._permissions.allows(
            external_port, request.internal_client, request.internal_port
        )

    def _in_use_elsewhere(self, external_port: int, protocol: str) -> bool:
        return self._port_in_use is not None and self._port_in_use(external_port, protocol)

    def _check_limits(self, internal_client: str) -> None:
        if len(self._entries) >= self._max_mappings:
            raise UpnpError(NO_PORT_MAPS_AVAILABLE, "mapping table full")
        if self._entries.dynamic_count(internal_client) >= self._max_per_client:
            raise UpnpError(NO_PORT_MAPS_AVAILABLE, f"limit reached for {internal_client}")


def _ending_by(entries: Iterable[Entry], latest: float) -> Iterable[Entry]:
    """The entries with every lease that ends after `latest` cut to end then."""
    for entry in entries:
        if entry.expires_at is None or entry.expires_at <= latest:
            yield entry
        else:
            yield replace(entry, expires_at=latest)


def _same_owner(existing: Entry, request: MappingRequest) -> bool:
    """Same InternalClient and RemoteHost: the request may overwrite the entry (Figure 3)."""
    return (existing.internal_client, existing.remote_host) == (
        request.internal_client,
        request.remote_host,
    )
