"""The port-mapping table of WANIPConnection:2: every rule of the standard, nothing of the wire.

Every front-end (SOAP today, NAT-PMP/PCP later, the integration's requests) calls these actions,
so each rule is written once. Arguments are checked in the order of the spec's 5.6.0b; a change
is made in the NAT backend first and committed to the table only once the backend accepted it,
so a client is never told about a rule the kernel does not have. Changes are serialized by one
lock and each is atomic; reads (reads.py) never wait.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from igd.core import restrictions
from igd.core.arguments import (
    UI2_MAX,
    MappingRequest,
    check_mapping_request,
    check_port_range,
    check_protocol,
    check_remote_host,
    check_ui2,
)
from igd.core.errors import (
    ACTION_FAILED,
    ACTION_NOT_AUTHORIZED,
    CONFLICT_IN_MAPPING_ENTRY,
    CONFLICT_WITH_OTHER_MECHANISMS,
    NO_PORT_MAPS_AVAILABLE,
    NO_SUCH_ENTRY_IN_ARRAY,
    PORT_MAPPING_NOT_FOUND,
    UpnpError,
)
from igd.core.events import ChangeEvents, ChangeListener, next_system_update_id
from igd.core.nat import NatBackend, NatError, Redirect
from igd.core.portchoice import choose_port
from igd.core.reads import MappingTableReader
from igd.core.records import (
    Caller,
    Entry,
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
    "MappingTable",
    "MappingView",
    "Permissions",
    "PortInUse",
    "TableChange",
    "next_system_update_id",
]

DEFAULT_MAX_MAPPINGS = 1024  # global limit, 728 beyond it (security-notes.md A13)
DEFAULT_MAX_PER_CLIENT = 64  # per internal client limit, 728 beyond it (A13)


class MappingTable(MappingTableReader):
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
        expose_all_mappings: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        """Hooks: `permissions` (allow/deny rules, 606), `port_in_use` (other mechanisms, 729).

        `expose_all_mappings` lets restricted callers read every entry (miniupnpd's way);
        `rng` picks the first port tried by AddAnyPortMapping with ExternalPort 0.
        """
        super().__init__(clock, expose_all_mappings=expose_all_mappings)
        self._backend = backend
        self._max_mappings = max_mappings
        self._max_per_client = max_per_client
        self._permissions = permissions
        self._port_in_use = port_in_use
        self._rng = rng or random.SystemRandom()
        self._lock = asyncio.Lock()
        self._events = ChangeEvents()

    @property
    def system_update_id(self) -> int:
        """SystemUpdateID [2.3.23]."""
        return self._events.system_update_id

    def add_listener(self, callback: ChangeListener) -> Callable[[], None]:
        """Call `callback` after every change event; returns a function that stops it."""
        return self._events.add_listener(callback)

    async def add_port_mapping(
        self,
        caller: Caller,
        *,
        remote_host: str,
        external_port: int,
        protocol: str,
        internal_port: int,
        internal_client: str,
        enabled: bool,
        description: str,
        lease_duration: int,
    ) -> None:
        """AddPortMapping (5.6.16): create, or overwrite the same client's entry (Figure 3)."""
        request = check_mapping_request(
            remote_host=remote_host,
            external_port=external_port,
            protocol=protocol,
            internal_port=internal_port,
            internal_client=internal_client,
            enabled=enabled,
            description=description,
            lease_duration=lease_duration,
            any_port=False,
        )
        restrictions.check_add(caller, request)  # R1, R2
        async with self._lock:
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
        self,
        caller: Caller,
        *,
        remote_host: str,
        external_port: int,
        protocol: str,
        internal_port: int,
        internal_client: str,
        enabled: bool,
        description: str,
        lease_duration: int,
    ) -> int:
        """AddAnyPortMapping (5.6.17): a taken port yields another (Figure 4); NewReservedPort.

        Ours: ExternalPort 0 means "any port", never a wildcard mapping.
        """
        request = check_mapping_request(
            remote_host=remote_host,
            external_port=external_port,
            protocol=protocol,
            internal_port=internal_port,
            internal_client=internal_client,
            enabled=enabled,
            description=description,
            lease_duration=lease_duration,
            any_port=True,
        )
        restrictions.check_add(caller, request)  # R1, R2
        async with self._lock:
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
        async with self._lock:
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
        async with self._lock:
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
        async with self._lock:
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
        async with self._lock:
            entry = self._entries.lookup(remote_host, external_port, protocol)
            if not entry.static:
                raise UpnpError(NO_SUCH_ENTRY_IN_ARRAY, "not a static mapping")
            await self._delete([entry])

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

    async def _create(self, request: MappingRequest, port: int, *, static: bool = False) -> None:
        entry = Entry(
            remote_host=request.remote_host,
            external_port=port,
            protocol=request.protocol,
            internal_port=request.internal_port,
            internal_client=request.internal_client,
            enabled=request.enabled,
            description=request.description,
            expires_at=None,
        )
        await self._apply(add=kernel_rules([entry]))
        now = self._clock()  # the lease runs from the moment the kernel has the rule
        if not static:
            entry = replace(entry, expires_at=now + request.lease_duration)
        self._entries.insert(entry)
        self._events.publish(len(self._entries), added=(entry.view(now),))

    async def _overwrite(self, existing: Entry, request: MappingRequest) -> None:
        """New InternalPort, description, enabled flag and lease (from now), in the same place."""
        entry = replace(
            existing,
            internal_port=request.internal_port,
            enabled=request.enabled,
            description=request.description,
        )
        old_rules, new_rules = kernel_rules([existing]), kernel_rules([entry])
        if old_rules != new_rules:  # a pure renewal leaves the kernel alone
            await self._apply(add=new_rules, remove=old_rules)
        now = self._clock()
        entry = replace(entry, expires_at=now + request.lease_duration)
        self._entries.replace(entry)
        # Ours: a renewal is an update too, +1 (as igd2-for-linux)
        self._events.publish(len(self._entries), updated=(entry.view(now),))

    async def _delete(self, entries: list[Entry]) -> None:
        await self._apply(remove=kernel_rules(entries))
        now = self._clock()
        for entry in entries:
            self._entries.remove(entry)
        self._events.publish(
            len(self._entries), removed=tuple(entry.view(now) for entry in entries)
        )

    async def _apply(self, add: Sequence[Redirect] = (), remove: Sequence[Redirect] = ()) -> None:
        """Make the change in the kernel; a refusal is 501 with nothing changed (5.6.0b step 10)."""
        if not add and not remove:
            return
        try:
            await self._backend.apply(add=add, remove=remove)
        except NatError as err:
            raise UpnpError(ACTION_FAILED, f"NAT backend refused: {err}") from err


def _same_owner(existing: Entry, request: MappingRequest) -> bool:
    """Same InternalClient and RemoteHost: the request may overwrite the entry (Figure 3)."""
    return (existing.internal_client, existing.remote_host) == (
        request.internal_client,
        request.remote_host,
    )
