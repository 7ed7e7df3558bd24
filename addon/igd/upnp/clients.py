"""Which control points get the IGD:1 view of the IGD:2 device (igd2-device.md 7.1).

Microsoft's clients (Windows NAT traversal, BITS, Xbox) read an IGD:2 description, see the v2
WANIPConnection SCPD and give up (miniupnp issue 539); miniupnpd serves them a v1 view when their
User-Agent says `microsoft` (since 2.2.3) or `FDSSDP`, Windows' discovery service (since 2023).
"""

from __future__ import annotations

# Substrings of the HTTP User-Agent that ask for the v1 view, compared case-insensitively
# (miniupnpd's force_igd_desc_v1 triggers).
V1_USER_AGENT_MARKERS = ("microsoft", "fdssdp")


def needs_v1_view(user_agent: str | None) -> bool:
    """Whether this User-Agent belongs to a client that only copes with IGD:1 descriptions."""
    if not user_agent:
        return False
    lowered = user_agent.lower()
    return any(marker in lowered for marker in V1_USER_AGENT_MARKERS)


def serves_v1_view(user_agent: str | None, *, igd_version: int) -> bool:
    """Whether the IGD:2 device's description URL answers with its v1 view for this request.

    `igd_version` 1 (the add-on's option) gives everyone the v1 view; 2 only the clients above.
    """
    return igd_version == 1 or needs_v1_view(user_agent)
