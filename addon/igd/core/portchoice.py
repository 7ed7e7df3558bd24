"""The order in which AddAnyPortMapping tries external ports (5.6.17, Ours).

Close to miniupnpd: the requested port first, then alternately above and below it (p+1, p-1,
p+2, p-2, ...), so a client asking for 6881 gets a neighbour it may recognise; once one side of
the allowed range is used up, the other side continues alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from igd.core.errors import ACTION_NOT_AUTHORIZED, NO_PORT_MAPS_AVAILABLE, UpnpError


def candidate_ports(start: int, low: int, high: int) -> Iterator[int]:
    """Every port of [low, high] once, starting at `start` (which must lie in that range)."""
    if not low <= start <= high:
        raise ValueError(f"start {start} outside [{low}, {high}]")
    yield start
    for distance in range(1, max(start - low, high - start) + 1):
        if start + distance <= high:
            yield start + distance
        if start - distance >= low:
            yield start - distance


def choose_port(
    start: int,
    low: int,
    high: int,
    *,
    permitted: Callable[[int], bool],
    free: Callable[[int], bool],
) -> int:
    """The first candidate port both permitted and free.

    Ours: 606 if the permission rules allow no port of the range at all (a refusal by policy),
    728 NoPortMapsAvailable if every permitted port is taken.
    """
    any_permitted = False
    for port in candidate_ports(start, low, high):
        if not permitted(port):
            continue
        any_permitted = True
        if free(port):
            return port
    if not any_permitted:
        raise UpnpError(ACTION_NOT_AUTHORIZED, "no port allowed by the permission rules")
    raise UpnpError(NO_PORT_MAPS_AVAILABLE, "no free port")
