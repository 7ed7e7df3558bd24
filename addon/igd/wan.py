"""Watch the WAN interface through netlink and keep the connection model in step with the kernel.

The kernel announces link, IPv4 address and IPv4 route changes (rtnetlink groups LINK,
IPV4_IFADDR, IPV4_ROUTE). Each announcement makes the watcher read the interface's whole state
again, so a burst costs one read and a lost message (receive buffer overrun) costs nothing; the
kernel does not announce routes it flushes when a link goes down, and the re-read sees that too.
Only the traffic counters are sampled on a timer: no counter change is ever announced.

Netlink sockets belong to the network namespace of the process that opens them. Uses pyroute2's
AsyncIPRoute (pyroute2 0.9 or later).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyroute2.iproute.linux import AsyncIPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTMGRP_IPV4_IFADDR, RTMGRP_IPV4_ROUTE, RTMGRP_LINK

from igd.core.connection_values import LinkControlError
from igd.core.wan_interface import InterfaceCounters, WanLinkState

if TYPE_CHECKING:
    from collections.abc import Callable

    from igd.core.connection import ConnectionModel
    from igd.core.wan_interface import CommonInterfaceConfig

_LOGGER = logging.getLogger(__name__)

TRAFFIC_SAMPLE_INTERVAL = 5.0  # Ours (spec 5.6.7): idle detection samples the counters every 5 s
RETRY_DELAY = 1.0  # before reopening a failed netlink socket or reading again after an error
IFF_UP = 0x1  # <linux/if.h>
IFF_LOOPBACK = 0x8
IFF_LOWER_UP = 0x10000
IFA_F_SECONDARY = 0x01  # <linux/if_addr.h>
RT_TABLE_MAIN = 254  # <linux/rtnetlink.h>
RTN_UNICAST = 1
CACHEINFO_HZ = 100  # IFA_CACHEINFO timestamps are hundredths of a second since boot
_EVENT_GROUPS = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE


class WanWatcher:
    """Feeds one interface's state to the connection model (and WANCommonInterfaceConfig).

    The loopback interface, the embedded demo's "WAN", counts as having the default route: no
    route leads through it, yet it is what the demo's clients reach.
    """

    def __init__(
        self,
        interface: str,
        connection: ConnectionModel,
        interface_config: CommonInterfaceConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        traffic_interval: float = TRAFFIC_SAMPLE_INTERVAL,
    ) -> None:
        self._interface = interface
        self._connection = connection
        self._interface_config = interface_config
        self._clock = clock
        self._traffic_interval = traffic_interval
        self._stale = asyncio.Event()

    async def run(self) -> None:
        """Follow the interface and drive the connection's timers until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._listen())
            group.create_task(self._follow())
            group.create_task(self._sample_traffic())
            group.create_task(drive_connection_timers(self._connection, self._clock))

    async def read_state(self) -> WanLinkState:
        """The interface as the kernel sees it now (absent if there is no such interface)."""
        async with _rtnl() as ipr:
            link = await self._get_link(ipr)
            if link is None:
                return WanLinkState()
            index, flags = link["index"], link["flags"]
            addresses = [a async for a in await ipr.addr("dump", family=socket.AF_INET)]
            routes = [r async for r in await ipr.route("dump", family=socket.AF_INET)]
        primary = next(
            (
                a
                for a in addresses
                if a["index"] == index and not a["flags"] & IFA_F_SECONDARY and a.get("address")
            ),
            None,
        )
        return WanLinkState(
            present=True,
            carrier=bool(flags & IFF_UP and flags & IFF_LOWER_UP),
            address="" if primary is None else primary.get("address"),
            address_since=None if primary is None else self._address_since(primary),
            default_route=bool(flags & IFF_LOOPBACK)
            or any(_is_default_via(r, index) for r in routes),
            speed_bps=_link_speed(self._interface),
        )

    async def read_counters(self) -> InterfaceCounters:
        """TotalBytes/PacketsSent/Received now (all 0 while the interface is absent)."""
        async with _rtnl() as ipr:
            link = await self._get_link(ipr)
        stats = {} if link is None else link.get("stats64") or link.get("stats") or {}
        return InterfaceCounters.from_kernel(
            stats.get("tx_bytes", 0),
            stats.get("rx_bytes", 0),
            stats.get("tx_packets", 0),
            stats.get("rx_packets", 0),
        )

    async def _get_link(self, ipr: Any) -> Any:
        try:
            links = await ipr.link("get", ifname=self._interface)
        except NetlinkError as error:
            if error.code == 19:  # ENODEV
                return None
            raise
        return next(iter(links), None)

    def _address_since(self, address: Any) -> float | None:
        """When the address was added, on our clock (cstamp counts from boot, like monotonic)."""
        info = address.get("IFA_CACHEINFO")
        if not info:
            return None
        added: float = info["cstamp"] / CACHEINFO_HZ
        return self._clock() - max(0.0, time.monotonic() - added)

    async def _listen(self) -> None:
        """Mark the state stale on every announcement; reopen the socket if it fails."""
        while True:
            try:
                async with _rtnl() as events:
                    await events.bind(groups=_EVENT_GROUPS)
                    self._stale.set()  # whatever happened while nobody listened
                    while await _received_any(events):
                        self._stale.set()
            except (OSError, NetlinkError):
                _LOGGER.warning("netlink event socket failed; reopening", exc_info=True)
            await asyncio.sleep(RETRY_DELAY)

    async def _follow(self) -> None:
        """Read the state again whenever it may have changed, and hand it on."""
        while True:
            await self._stale.wait()
            self._stale.clear()
            try:
                state = await self.read_state()
            except (OSError, NetlinkError):
                _LOGGER.warning("could not read %s; trying again", self._interface, exc_info=True)
                await asyncio.sleep(RETRY_DELAY)
                self._stale.set()
                continue
            if self._interface_config is not None:
                self._interface_config.observe(state)
            await self._connection.observe(state)

    async def _sample_traffic(self) -> None:
        while True:
            await asyncio.sleep(self._traffic_interval)
            try:
                counters = await self.read_counters()
            except (OSError, NetlinkError):
                _LOGGER.debug("could not read the counters of %s", self._interface, exc_info=True)
                continue
            self._connection.observe_traffic(counters.packets_sent + counters.packets_received)


class NetlinkLinkControl:
    """Takes the WAN interface administratively up and down, as `ip link set IFACE up|down` does.

    Bringing it up restores carrier only; the address and default route come back from whatever
    configures them on the host (DHCP client, network manager).
    """

    def __init__(self, interface: str) -> None:
        self._interface = interface

    async def bring_up(self) -> None:
        await self._set("up")

    async def bring_down(self) -> None:
        await self._set("down")

    async def _set(self, state: str) -> None:
        try:
            async with _rtnl() as ipr:
                await ipr.link("set", ifname=self._interface, state=state)
        except (OSError, NetlinkError) as error:
            raise LinkControlError(f"ip link set {self._interface} {state}: {error}") from error


async def drive_connection_timers(model: ConnectionModel, clock: Callable[[], float]) -> None:
    """Call `model.advance()` whenever `model.next_deadline()` comes; runs until cancelled."""
    wake = asyncio.Event()
    model.add_timer_listener(wake.set)
    while True:
        deadline = model.next_deadline()
        timeout = None if deadline is None else max(0.0, deadline - clock())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)
        wake.clear()
        await model.advance()


def _rtnl() -> Any:
    """A new rtnetlink socket in this process's network namespace (pyroute2 has no type hints)."""
    return AsyncIPRoute()  # type: ignore[no-untyped-call]


async def _received_any(events: Any) -> bool:
    """Wait for the next batch of announcements; False once the socket has closed."""
    received = False
    async for _message in events.get():
        received = True
    return received


def _is_default_via(route: Any, index: int) -> bool:
    """A unicast IPv4 default route of the main table that leaves through interface `index`."""
    if route["dst_len"] != 0 or route.get("table") != RT_TABLE_MAIN:
        return False
    if route["type"] != RTN_UNICAST:
        return False
    hops = route.get("multipath") or ()
    return route.get("oif") == index or any(hop.get("oif") == index for hop in hops)


def _link_speed(interface: str) -> int | None:
    """Bit/s from sysfs (the driver's Mbit/s), None when unknown: down, virtual or absent.

    A one-line sysfs read, so done inline rather than in a thread.
    """
    try:
        megabits = int(Path("/sys/class/net", interface, "speed").read_text().strip())
    except (OSError, ValueError):
        return None
    return megabits * 1_000_000 if megabits > 0 else None
