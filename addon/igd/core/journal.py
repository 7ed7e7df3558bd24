"""What the mapping core asks of a lease store, and what a restore from one did.

A client is told a change succeeded only once the kernel has it and, when the table keeps a
journal, once the journal holds it too: after a crash the store, the kernel and what clients were
told agree again (security-notes.md A17). The core never touches files; the daemon's store
implements this protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class JournalError(Exception):
    """A change could not be made durable; the table still holds it and a later write retries."""


class Journal(Protocol):
    """Keeps the table across restarts; told of every change through the table's listeners."""

    async def durable(self) -> None:
        """Return once every change made so far is durable; raise JournalError if it cannot be."""


@dataclass(frozen=True, slots=True)
class RestoreReport:
    """What `MappingTable.restore` put back, left out, and changed in the kernel."""

    restored: int
    expired: int  # leases that ended while the daemon was down
    refused: int  # no longer allowed: permission rules, limits, or a key seen twice
    rules_added: int  # the kernel lacked them
    rules_removed: int  # the kernel had them and the saved table did not
