"""When the connection's timers fall due (spec 5.6.3 set-up timeout, 5.6.6-5.6.8 disconnect times).

Only instants on the model's clock and the arithmetic on them; what a due timer does is the
connection model's business.
"""

from __future__ import annotations

from dataclasses import dataclass

from igd.core.connection_values import ConnectionSettings, ConnectionStatus


@dataclass(slots=True)
class ConnectionTimers:
    """The instants each timer counts from or ends at."""

    auto_base: float = 0.0  # AutoDisconnectTime counts from entering Connected (or being kept)
    activity_at: float = 0.0  # IdleDisconnectTime counts from the last WAN traffic seen
    pending_until: float = 0.0  # end of PendingDisconnect (WarnDisconnectDelay)
    connect_deadline: float = 0.0  # end of Connecting
    retry_at: float | None = None  # next try of a gate change the NAT backend refused
    packets: int | None = None  # the interface's packet count when last seen

    def restart(self, since: float, now: float) -> None:
        """The connection is (again) up since `since`: auto and idle time count afresh."""
        self.auto_base = since
        self.activity_at = now

    def note_packets(self, packets: int, now: float) -> bool:
        """Whether the packet count moved (traffic, so the idle time restarts)."""
        if packets == self.packets:
            return False
        self.packets = packets
        self.activity_at = now
        return True

    def termination_due(self, now: float, settings: ConnectionSettings) -> bool:
        """Whether AutoDisconnectTime or IdleDisconnectTime has elapsed (0 = never)."""
        auto, idle = settings.auto_disconnect_time, settings.idle_disconnect_time
        return bool(
            (auto and now >= self.auto_base + auto) or (idle and now >= self.activity_at + idle)
        )

    def next_deadline(self, status: ConnectionStatus, settings: ConnectionSettings) -> float | None:
        """The earliest instant something falls due in `status`; none before a pending retry."""
        deadlines: list[float] = []
        if status is ConnectionStatus.CONNECTING:
            deadlines.append(self.connect_deadline)
        elif status is ConnectionStatus.PENDING_DISCONNECT:
            deadlines.append(self.pending_until)
        elif status is ConnectionStatus.CONNECTED:
            if settings.auto_disconnect_time:
                deadlines.append(self.auto_base + settings.auto_disconnect_time)
            if settings.idle_disconnect_time:
                deadlines.append(self.activity_at + settings.idle_disconnect_time)
        if self.retry_at is not None:
            return max(min(deadlines, default=self.retry_at), self.retry_at)
        return min(deadlines, default=None)
