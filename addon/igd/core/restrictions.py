"""What a restricted control point may do: rules R1-R6 of 5.6.0 (the [IGD2] RECOMMENDED policy).

A caller is restricted unless it is a trusted control point or secure mode is off; the front-end
decides that and says so in `Caller.authorized`.
"""

from __future__ import annotations

from igd.core.arguments import MappingRequest
from igd.core.errors import ACTION_NOT_AUTHORIZED, UpnpError
from igd.core.records import Caller, Entry

MIN_UNPRIVILEGED_PORT = 1024  # restricted control points use ports >= 1024 only (5.6.0, R2-R5)


def check_add(caller: Caller, request: MappingRequest) -> None:
    """R1 (InternalClient is the caller) and R2 (ports >= 1024) for AddPortMapping/AddAny."""
    if caller.authorized:
        return
    if request.internal_client != caller.address:
        raise UpnpError(ACTION_NOT_AUTHORIZED, "R1: InternalClient is not the caller")
    # ExternalPort 0 (AddAnyPortMapping: "choose for me") is then chosen >= 1024
    if (
        0 < request.external_port < MIN_UNPRIVILEGED_PORT
        or request.internal_port < MIN_UNPRIVILEGED_PORT
    ):
        raise UpnpError(ACTION_NOT_AUTHORIZED, "R2: port below 1024")


def check_port_argument(caller: Caller, external_port: int) -> None:
    """R3 (one port) and R4 (a range's start; its end is not lower) for restricted callers."""
    if not caller.authorized and external_port < MIN_UNPRIVILEGED_PORT:
        raise UpnpError(ACTION_NOT_AUTHORIZED, "R3/R4: external port below 1024")


def owns(caller: Caller, entry: Entry) -> bool:
    """R5: a restricted caller may read or delete only its own entries with InternalPort >= 1024."""
    return caller.authorized or (
        entry.internal_client == caller.address and entry.internal_port >= MIN_UNPRIVILEGED_PORT
    )


def effective_manage(caller: Caller, manage: bool) -> bool:
    """R6: NewManage counts only for authorized callers."""
    return manage and caller.authorized
