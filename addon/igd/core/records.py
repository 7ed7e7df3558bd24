"""What the mapping table holds, what it shows to callers, and the events it sends."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from igd.core.nat import Redirect

if TYPE_CHECKING:
    from igd.core.arguments import MappingRequest

# (ExternalPort, PortMappingProtocol). Ours: one entry per pair, whatever its RemoteHost (5.3).
type MappingKey = tuple[int, str]

type PortInUse = Callable[[int, str], bool]
"""Whether (external port, protocol) is taken on the host by another mechanism (729)."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sends an action: its IPv4 source address, and whether R1-R6 restrict it (5.6.0)."""

    address: str
    authorized: bool  # trusted control point, or secure mode off


@dataclass(frozen=True, slots=True)
class MappingView:
    """One mapping as the read actions return it."""

    remote_host: str  # "" for any peer
    external_port: int
    protocol: str
    internal_port: int
    internal_client: str
    enabled: bool
    description: str
    lease_duration: int  # remaining seconds; 0 only for a static (out-of-band) mapping


@dataclass(frozen=True, slots=True)
class TableChange:
    """One change event: what the front-ends announce in one NOTIFY (5.5).

    `updated` holds mappings overwritten or renewed in place. Views in `expired` report a lease
    of 0; views in `removed` report what was left of the lease when they were deleted.
    """

    system_update_id: int
    number_of_entries: int
    added: tuple[MappingView, ...] = ()
    removed: tuple[MappingView, ...] = ()
    expired: tuple[MappingView, ...] = ()
    updated: tuple[MappingView, ...] = ()


class Permissions(Protocol):
    """Allow/deny rules applied to every caller's adds, authorized or not (5.6.0, Ours)."""

    def allows(self, external_port: int, internal_client: str, internal_port: int) -> bool:
        """Whether a mapping of this external port to this internal client and port may exist."""


class MappingPolicy(Protocol):
    """The gateway's own say over the mappings it makes, beyond the standard's rules (Ours).

    An add asks it once its arguments are known good (5.6.0b steps 1-5) and before R1-R6, so
    that a refusal (606) names the rule that decided; a restore keeps no lease it would not grant.
    """

    @property
    def longest_lease(self) -> int:
        """The longest lease granted, in seconds."""

    async def refresh(self) -> None:
        """Read afresh what the table's hooks decide from, before an add or a restore."""

    def refusal(self, request: MappingRequest, *, any_port: bool) -> str | None:
        """Why this mapping may not be made, or None; with `any_port`, whatever its port."""

    def granted_lease(self, requested: int) -> int:
        """The lease given for a requested one of 1 to 604800 seconds."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One mapping of the table, with its lease as an absolute clock time."""

    remote_host: str
    external_port: int
    protocol: str
    internal_port: int
    internal_client: str
    enabled: bool
    description: str
    expires_at: float | None  # None for a static mapping made out of band

    @classmethod
    def of_request(
        cls, request: MappingRequest, external_port: int, expires_at: float | None
    ) -> Entry:
        """The entry a checked request makes, on `external_port` (AddAny chooses it)."""
        return cls(
            remote_host=request.remote_host,
            external_port=external_port,
            protocol=request.protocol,
            internal_port=request.internal_port,
            internal_client=request.internal_client,
            enabled=request.enabled,
            description=request.description,
            expires_at=expires_at,
        )

    @property
    def key(self) -> MappingKey:
        return (self.external_port, self.protocol)

    @property
    def static(self) -> bool:
        return self.expires_at is None

    def redirect(self) -> Redirect:
        return Redirect(
            protocol=self.protocol,
            external_port=self.external_port,
            internal_client=self.internal_client,
            internal_port=self.internal_port,
            remote_host=self.remote_host,
        )

    def view(self, now: float) -> MappingView:
        # Ours: a dynamic mapping never reports 0 seconds left (5.5.6)
        lease = 0 if self.expires_at is None else max(1, math.ceil(self.expires_at - now))
        return MappingView(
            remote_host=self.remote_host,
            external_port=self.external_port,
            protocol=self.protocol,
            internal_port=self.internal_port,
            internal_client=self.internal_client,
            enabled=self.enabled,
            description=self.description,
            lease_duration=lease,
        )


def kernel_rules(entries: Sequence[Entry]) -> list[Redirect]:
    """The kernel rules of these entries: a disabled mapping has none (5.6.16, Ours)."""
    return [entry.redirect() for entry in entries if entry.enabled]
