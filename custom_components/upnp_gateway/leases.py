"""Acting on lease times: the lease_expiring warning and the keep-alive renewals.

One timer for the whole gateway, set for the next moment something is due and recomputed on
every change of the mapping list or of the keep-alive requests.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .client import GatewayError
from .const import KEEP_ALIVE_MARGIN, LOGGER

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from homeassistant.config_entries import ConfigEntry

    from .models import PortMapping, TrackedMapping

RENEW_PAUSE: Final = timedelta(seconds=10)  # least time between two renewals of one mapping


class LeaseWatch:
    """Warns before leases end and renews the keep-alive mappings."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        warn_before: timedelta,
        warn: Callable[[TrackedMapping], None],
        renew: Callable[[PortMapping], Awaitable[None]],
    ) -> None:
        self._hass = hass
        self._entry = entry
        self._warn_before = warn_before
        self._warn = warn
        self._renew = renew
        self._mappings: dict[str, TrackedMapping] = {}
        self._keep_alive: dict[str, PortMapping] = {}
        self._warned: set[tuple[str, datetime]] = set()
        self._not_before: dict[str, datetime] = {}
        self._renewing: set[str] = set()
        self._cancel_timer: CALLBACK_TYPE | None = None
        self._stopped = False

    @callback
    def update(
        self, mappings: dict[str, TrackedMapping], keep_alive: dict[str, PortMapping]
    ) -> None:
        """The mappings as now seen and the keep-alive requests as now stored."""
        self._mappings = mappings
        self._keep_alive = dict(keep_alive)
        self._warned = {mark for mark in self._warned if mark[0] in mappings}
        self._check()

    @callback
    def stop(self) -> None:
        """Cancel the timer for good (the entry is unloading)."""
        self._stopped = True
        self._cancel()

    def _cancel(self) -> None:
        if self._cancel_timer is not None:
            self._cancel_timer()
            self._cancel_timer = None

    @callback
    def _check(self, _now: datetime | None = None) -> None:
        self._cancel()
        if self._stopped:
            return
        now = _now or dt_util.utcnow()  # a timer's own moment, so warnings fire at theirs
        due = [moment for moment in self._warnings(now) if moment > now]
        for key, wanted in self._keep_alive.items():
            if key in self._renewing:
                continue
            renew_at = self._renew_at(key, wanted, now)
            if renew_at is None:
                continue
            if renew_at <= now:
                self._renewing.add(key)
                self._entry.async_create_background_task(
                    self._hass, self._async_renew(key, wanted), f"renew {key}"
                )
            else:
                due.append(renew_at)
        if due:
            self._cancel_timer = async_track_point_in_utc_time(self._hass, self._check, min(due))

    def _warnings(self, now: datetime) -> list[datetime]:
        """Warn of what is due now; the moments of the warnings still to come."""
        moments = []
        for key, tracked in self._mappings.items():
            if key in self._keep_alive or tracked.lease_expiry is None:
                continue
            mark = (key, tracked.lease_expiry)
            if mark in self._warned:
                continue
            warn_at = tracked.lease_expiry - self._warn_before
            if warn_at <= now:
                self._warned.add(mark)
                self._warn(tracked)
            else:
                moments.append(warn_at)
        return moments

    def _renew_at(self, key: str, wanted: PortMapping, now: datetime) -> datetime | None:
        not_before = self._not_before.get(key, now)
        tracked = self._mappings.get(key)
        if tracked is None:
            return not_before  # gone: add it again
        if tracked.lease_expiry is None:
            return None  # static: nothing to renew
        margin = min(KEEP_ALIVE_MARGIN, timedelta(seconds=wanted.lease_duration / 2))
        return max(tracked.lease_expiry - margin, not_before)

    async def _async_renew(self, key: str, wanted: PortMapping) -> None:
        try:
            await self._renew(wanted)
        except GatewayError as error:
            LOGGER.warning("Could not renew the port mapping %s: %s", key, error)
            self._not_before[key] = dt_util.utcnow() + KEEP_ALIVE_MARGIN
        else:
            self._not_before[key] = dt_util.utcnow() + RENEW_PAUSE
        finally:
            self._renewing.discard(key)
        self._check()
