"""The WAN connection of WANIPConnection:2 as a state machine (spec 5.4, 5.6.1-5.6.13, 5.7).

The host owns the WAN link, so the status follows what the kernel reports (`observe`): link up,
an IPv4 address and the default route through it make `Connected`. The connection actions act on
what the add-on does own: RequestTermination, ForceTermination, the disconnect timers and
EnabledForInternet = 0 cut inbound forwarding in our NAT table (the `forwarding` hook, wired to
`NatBackend.set_forwarding`) and RequestConnection restores it - for real, and only for
authorized control points (606 otherwise). Mappings survive; they forward again on reconnection.
A configured `link_control` also takes the interface itself down and up; without one,
RequestConnection cannot repair a link the host lost and answers 704 (spec 5.7 "Ours"). This
refines the spec's "RT/FT answer 606 without a method": the project requires the cut to work.

Authorization and the errors-by-state table are checked in igd.core.connection_actions before the
public operations here are called. No sockets, no timers of its own: time comes from `clock`, and
the owner calls `advance()` when `next_deadline()` has come (igd.wan.drive_connection_timers).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from igd.core import errors
from igd.core.connection_timers import ConnectionTimers
from igd.core.connection_values import (
    CONNECTION_STATUS,
    CONNECTION_TYPES,
    EXTERNAL_IP_ADDRESS,
    IP_ROUTED,
    NAT_ENABLED,
    POSSIBLE_CONNECTION_TYPES,
    RSIP_AVAILABLE,
    UNCONFIGURED,
    ConnectionSettings,
    ConnectionStatus,
    LastConnectionError,
    LinkControl,
    LinkControlError,
)
from igd.core.errors import UpnpError
from igd.core.evented import EventedVariables
from igd.core.forwarding_gate import ForwardingGate
from igd.core.nat import NatError
from igd.core.wan_interface import UI4_MAX, WanLinkState

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from igd.core.evented import VariablesListener

_LOGGER = logging.getLogger(__name__)

CONNECT_TIMEOUT = 20.0  # Ours (5.6.3): RequestConnection answers 704 if not Connected by then
GATE_RETRY_DELAY = 5.0  # Ours: after the NAT backend refused a change made in the background

_Status = ConnectionStatus
_Error = LastConnectionError
_CARRYING_TRAFFIC = (_Status.CONNECTED, _Status.PENDING_DISCONNECT)


class ConnectionModel:
    """ConnectionStatus, LastConnectionError, Uptime, ExternalIPAddress and the actions on them."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        forwarding: Callable[[bool], Awaitable[None]],
        link_control: LinkControl | None = None,
        settings: ConnectionSettings | None = None,
        external_ip_override: str = "",
        connection_type: str = IP_ROUTED,
    ) -> None:
        if external_ip_override:
            ipaddress.IPv4Address(external_ip_override)  # ValueError when not dotted IPv4
        if connection_type not in CONNECTION_TYPES:
            raise ValueError(f"not a ConnectionType: {connection_type!r}")
        self._clock = clock
        self._link_control = link_control
        self._settings = settings or ConnectionSettings()
        self._override = external_ip_override
        self._type = connection_type
        self._status = _Status.UNCONFIGURED
        self._last_error = _Error.ERROR_NONE
        self._link = WanLinkState()
        self._first_observation = True
        self._connected_since: float | None = None
        self._timers = ConnectionTimers()
        self._pending_reason = _Error.ERROR_NONE
        self._connect_waiter: asyncio.Future[bool] | None = None
        # Ended by the gateway (an action, a timer, EnabledForInternet = 0): forwarding stays cut
        # and a returning link does not reconnect until RequestConnection.
        enabled = self._settings.enabled_for_internet
        self._terminated = not enabled
        self._termination_reason = (
            _Error.ERROR_NONE if enabled else _Error.ERROR_NOT_ENABLED_FOR_INTERNET
        )
        self._gate = ForwardingGate(forwarding, lambda: not self._terminated)
        self._evented = EventedVariables(self.evented_variables)
        self._settings_listeners: list[Callable[[ConnectionSettings], None]] = []
        self._timer_listeners: list[Callable[[], None]] = []

    # -- what control points read (all public, 5.6.0) -------------------------------------------

    @property
    def status(self) -> ConnectionStatus:
        return self._status

    @property
    def last_error(self) -> LastConnectionError:
        return self._last_error

    def uptime(self) -> int:
        """Seconds since the connection last became Connected; 0 when it is not up [2.3.6]."""
        if self._connected_since is None:
            return 0
        return int(max(0.0, self._clock() - self._connected_since)) % (UI4_MAX + 1)

    def status_info(self) -> tuple[ConnectionStatus, LastConnectionError, int]:
        """GetStatusInfo: NewConnectionStatus, NewLastConnectionError, NewUptime (5.6.9)."""
        return self._status, self._last_error, self.uptime()

    @property
    def external_ip_address(self) -> str:
        """The override or the interface's address while traffic flows, else "" [2.3.13]."""
        if self._status not in _CARRYING_TRAFFIC:
            return ""
        return self._override or self._link.address

    def connection_type_info(self) -> tuple[str, str]:
        """GetConnectionTypeInfo: NewConnectionType, NewPossibleConnectionTypes (5.6.2)."""
        return self._type, "" if self._type == UNCONFIGURED else self._type

    def nat_rsip_status(self) -> tuple[bool, bool]:
        """GetNATRSIPStatus: NewRSIPAvailable, NewNATEnabled (5.6.13)."""
        return RSIP_AVAILABLE, NAT_ENABLED

    @property
    def settings(self) -> ConnectionSettings:
        """The Get*DisconnectTime, GetWarnDisconnectDelay and GetEnabledForInternet values."""
        return self._settings

    def evented_variables(self) -> dict[str, str]:
        """Every evented variable of WANIPConnection:2 we own, for the initial event."""
        return {
            POSSIBLE_CONNECTION_TYPES: self.connection_type_info()[1],
            CONNECTION_STATUS: self._status.value,
            EXTERNAL_IP_ADDRESS: self.external_ip_address,
        }

    def add_listener(self, listener: VariablesListener) -> None:
        """Call `listener` with the evented variables that changed, after each change."""
        self._evented.add_listener(listener)

    def add_settings_listener(self, listener: Callable[[ConnectionSettings], None]) -> None:
        """Call `listener` with the new settings whenever they change (to persist them)."""
        self._settings_listeners.append(listener)

    def add_timer_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever `next_deadline()` may have changed."""
        self._timer_listeners.append(listener)

    # -- what the kernel and the clock tell us --------------------------------------------------

    async def observe(self, link: WanLinkState) -> None:
        """Take the kernel's latest view of the WAN interface."""
        self._link = link
        self._follow_link()
        self._first_observation = False
        self._changed()
        await self._sync_gate_in_background()

    def observe_traffic(self, packets: int) -> None:
        """Take the interface's packet count (both directions); a change is activity (5.6.7)."""
        if self._timers.note_packets(packets, self._clock()):
            self._changed()

    def next_deadline(self) -> float | None:
        """When `advance()` has something to do next, on the `clock`'s scale."""
        return self._timers.next_deadline(self._status, self._settings)

    async def advance(self) -> None:
        """Act on whatever has come due: a gate retry, set-up timeout, warning delay, auto/idle."""
        now = self._clock()
        timers = self._timers
        if timers.retry_at is not None:
            if now < timers.retry_at:
                return
            timers.retry_at = None
            if not await self._sync_gate_in_background():
                return
        if self._status is _Status.CONNECTING and now >= timers.connect_deadline:
            self._become_disconnected(self._setup_failure())
            self._changed()
        elif self._status is _Status.PENDING_DISCONNECT and now >= timers.pending_until:
            await self._end_in_background(self._pending_reason, warn=False)
        elif self._status is _Status.CONNECTED and timers.termination_due(now, self._settings):
            await self._end_in_background(_Error.ERROR_IDLE_DISCONNECT, warn=True)

    # -- what the actions do once igd.core.connection_actions has checked them ------------------

    def keep_connected(self) -> None:
        """From PendingDisconnect back to Connected; auto and idle time count afresh."""
        self._status = _Status.CONNECTED
        self._timers.restart(self._clock(), self._clock())
        self._changed()

    async def connect(self) -> None:
        """From Disconnected: lift the gate, and bring the link up when we have a way to."""
        was = self._terminated, self._termination_reason
        self._terminated = False
        if self._link.ready or self._link_control is None:
            try:
                await self._gate.sync()
            except NatError as error:
                self._terminated, self._termination_reason = was
                raise UpnpError(errors.ACTION_FAILED, str(error)) from error
            self._follow_link()
            self._changed()
            if self._status is not _Status.CONNECTED:
                raise UpnpError(errors.CONNECTION_SETUP_FAILED, "the host's WAN link is down")
            return
        waiter = asyncio.get_running_loop().create_future()
        self._status = _Status.CONNECTING
        self._timers.connect_deadline = self._clock() + CONNECT_TIMEOUT
        self._connect_waiter = waiter
        self._changed()
        try:
            await self._gate.sync()
            await self._link_control.bring_up()
        except (NatError, LinkControlError) as error:
            if self._status is _Status.CONNECTING:
                self._become_disconnected(_Error.ERROR_UNKNOWN)
                self._changed()
            refused = isinstance(error, NatError)
            code = errors.ACTION_FAILED if refused else errors.CONNECTION_SETUP_FAILED
            raise UpnpError(code, str(error)) from error
        self._follow_link()
        self._changed()
        if not await waiter:
            raise UpnpError(errors.CONNECTION_SETUP_FAILED, self._last_error.value)

    async def begin_termination(self, reason: LastConnectionError) -> None:
        """From Connected: warn first when WarnDisconnectDelay is set (5.7); 501 if refused."""
        if self._settings.warn_disconnect_delay:
            self._status = _Status.PENDING_DISCONNECT
            self._timers.pending_until = self._clock() + self._settings.warn_disconnect_delay
            self._pending_reason = reason
            self._changed()
        else:
            await self.terminate(reason)

    async def terminate(self, reason: LastConnectionError) -> None:
        """Disconnecting, cut forwarding (and the link), Disconnected; 501 if the cut failed."""
        previous = self._status
        was = self._terminated, self._termination_reason
        self._status = _Status.DISCONNECTING
        self._terminated, self._termination_reason = True, reason
        self._settle_waiter(succeeded=False)
        self._changed()
        try:
            await self._gate.sync()
        except NatError as error:
            self._terminated, self._termination_reason = was
            kept = previous in _CARRYING_TRAFFIC
            self._status = _Status.CONNECTED if kept else _Status.DISCONNECTED
            self._follow_link()
            self._changed()
            raise UpnpError(errors.ACTION_FAILED, str(error)) from error
        if self._link_control is not None:
            try:
                await self._link_control.bring_down()
            except LinkControlError:  # forwarding is cut all the same
                _LOGGER.warning("could not bring the WAN link down", exc_info=True)
            else:  # known before the kernel's announcement arrives, so an RC brings it up
                self._link = replace(self._link, carrier=False)
        self._become_disconnected(reason)
        self._follow_link()
        self._changed()

    def store_settings(self, settings: ConnectionSettings) -> None:
        """Take new timer settings (EnabledForInternet goes through `enable_for_internet`)."""
        self._settings = replace(settings, enabled_for_internet=self._settings.enabled_for_internet)
        self._settings_changed()
        self._changed()

    async def enable_for_internet(self, enabled: bool) -> None:
        """EnabledForInternet: 0 ends the connection at once (5.7); 1 undoes what 0 did."""
        if enabled == self._settings.enabled_for_internet:
            return
        self._settings = replace(self._settings, enabled_for_internet=enabled)
        self._settings_changed()
        reason = _Error.ERROR_NOT_ENABLED_FOR_INTERNET
        if not enabled and self._status in (*_CARRYING_TRAFFIC, _Status.CONNECTING):
            try:
                await self.terminate(reason)
            except UpnpError:
                self._settings = replace(self._settings, enabled_for_internet=True)
                self._settings_changed()
                raise
        elif not enabled and not self._terminated and self._status is not _Status.DISCONNECTING:
            self._terminated, self._termination_reason = True, reason
            await self._sync_gate_in_background()
        elif enabled and self._terminated and self._termination_reason is reason:
            self._terminated = False
            await self._sync_gate_in_background()
            self._follow_link()
            self._changed()

    # -- transitions ----------------------------------------------------------------------------

    def _follow_link(self) -> None:
        """Settle the steady states on the latest link view (transitions in flight settle later)."""
        link, status = self._link, self._status
        if status is _Status.DISCONNECTING:
            return
        if not link.present:
            if status is not _Status.UNCONFIGURED:
                self._complete_pending()
                self._become_disconnected(_Error.ERROR_NONE)  # 5.5.6: all else at its default
                self._status = _Status.UNCONFIGURED
        elif link.ready:
            if self._terminated:
                if status is _Status.UNCONFIGURED:
                    self._become_disconnected(self._termination_reason)
            elif status not in _CARRYING_TRAFFIC:
                since = self._clock()
                if self._first_observation and link.address_since is not None:
                    since = min(since, link.address_since)  # up before we started (5.4 "Ours")
                self._become_connected(since)
        elif status in _CARRYING_TRAFFIC:
            self._complete_pending()
            lost = _Error.ERROR_ISP_DISCONNECT if link.carrier else _Error.ERROR_NO_CARRIER
            self._become_disconnected(lost)
        elif status is _Status.UNCONFIGURED:
            self._become_disconnected(
                self._termination_reason if self._terminated else self._setup_failure()
            )

    def _complete_pending(self) -> None:
        """A link lost during PendingDisconnect ends the connection that was being ended."""
        if self._status is _Status.PENDING_DISCONNECT:
            self._terminated, self._termination_reason = True, self._pending_reason

    def _become_connected(self, since: float) -> None:
        self._status = _Status.CONNECTED
        self._last_error = _Error.ERROR_NONE
        self._connected_since = since
        self._timers.restart(since, self._clock())
        self._settle_waiter(succeeded=True)

    def _become_disconnected(self, error: LastConnectionError) -> None:
        self._status = _Status.DISCONNECTED
        self._last_error = error
        self._connected_since = None
        self._settle_waiter(succeeded=False)

    def _setup_failure(self) -> LastConnectionError:
        return _Error.ERROR_IP_CONFIGURATION if self._link.carrier else _Error.ERROR_NO_CARRIER

    def _settle_waiter(self, *, succeeded: bool) -> None:
        waiter, self._connect_waiter = self._connect_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(succeeded)

    async def _end_in_background(self, reason: LastConnectionError, *, warn: bool) -> None:
        """A timer ended the connection: no caller to tell if the NAT backend refuses."""
        try:
            await (self.begin_termination(reason) if warn else self.terminate(reason))
        except UpnpError:
            _LOGGER.warning("could not cut forwarding; trying again later", exc_info=True)
            self._timers.retry_at = self._clock() + GATE_RETRY_DELAY
            self._changed()

    async def _sync_gate_in_background(self) -> bool:
        """Apply the gate where no caller can be told; retry later if refused."""
        try:
            await self._gate.sync()
        except NatError:
            _LOGGER.warning("NAT backend refused to change forwarding; retrying", exc_info=True)
            self._timers.retry_at = self._clock() + GATE_RETRY_DELAY
            self._changed()
            return False
        return True

    # -- bookkeeping ----------------------------------------------------------------------------

    def _settings_changed(self) -> None:
        for listener in self._settings_listeners:
            listener(self._settings)

    def _changed(self) -> None:
        """Event what changed, and let the timer driver look at `next_deadline()` again."""
        self._evented.publish()
        for listener in self._timer_listeners:
            listener()
