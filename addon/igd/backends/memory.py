"""The memory NAT backend: the embedded default, with no kernel changes and no root.

It keeps the rules a kernel would hold and refuses what a kernel would refuse (removing a rule
it does not have, adding one twice, going past its capacity), all-or-nothing like the real
backends, so the core's "kernel refused, nothing changed" path runs against it too.
"""

from __future__ import annotations

from collections.abc import Sequence

from igd.core.nat import NatError, Redirect

type RuleKey = tuple[str, int, str]  # protocol, ExternalPort, RemoteHost: what a packet matches


def _rule_key(redirect: Redirect) -> RuleKey:
    return (redirect.protocol, redirect.external_port, redirect.remote_host)


class MemoryBackend:
    """Forwarding rules in a dict; `capacity` (None = unlimited) mimics a full kernel table."""

    name = "memory"

    def __init__(self, capacity: int | None = None) -> None:
        self._capacity = capacity
        self._rules: dict[RuleKey, Redirect] = {}
        self.forwarding = True  # False while the connection is terminated

    async def start(self) -> None:
        """Nothing to create: the rules live as long as this object."""

    async def stop(self) -> None:
        """Nothing to release; the rules stay, as a kernel's would."""

    async def apply(self, add: Sequence[Redirect] = (), remove: Sequence[Redirect] = ()) -> None:
        """Remove then add, all or nothing, in time proportional to the change, not the table."""
        removed: set[RuleKey] = set()
        for redirect in remove:
            key = _rule_key(redirect)
            if key in removed or self._rules.get(key) != redirect:
                raise NatError(f"no such rule: {redirect}")
            removed.add(key)
        added: dict[RuleKey, Redirect] = {}
        for redirect in add:
            key = _rule_key(redirect)
            if key in added or (key in self._rules and key not in removed):
                raise NatError(f"a rule already matches {redirect}")
            added[key] = redirect
        size = len(self._rules) - len(removed) + len(added)
        if self._capacity is not None and size > self._capacity:
            raise NatError(f"table full ({self._capacity} rules)")
        for key in removed:  # checked in full above: from here on nothing can fail
            del self._rules[key]
        self._rules.update(added)

    async def list(self) -> list[Redirect]:
        """Every rule held now, sorted."""
        return sorted(self._rules.values())

    async def set_forwarding(self, enabled: bool) -> None:
        """Record whether inbound forwarding is open (nothing forwards in memory anyway)."""
        self.forwarding = enabled
