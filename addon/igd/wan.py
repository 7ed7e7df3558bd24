"""Watch the WAN interface through netlink and keep the connection model in step with the kernel.

The kernel announces link, IPv4 address and IPv4 route changes (rtnetlink groups LINK,
IPV4_IFADDR, IPV4_ROUTE). Each announcement makes the watcher read the interface's whole state
again, so a burst costs one read and a lost message (receive buffer overrun) costs nothing; the
kernel does not announce routes it flushes when a link goes down, and the re-read sees that too.
Only the traffic counters are sampled on a timer: no counter change is ever announced.

Netlink sockets belong to the network namespace of the process that opens them (rtnetlink.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from igd.core.connection_values import LinkControlError
from igd.core.wan_interface import InterfaceCounters, WanLinkState
from igd.rtnetlink import (
    IFF_UP,
    RTMGRP_IPV4_IFADDR,
    RTMGRP_IPV4_ROUTE,
    RTMGRP_LINK,
    Address,
    Link,
    Route,
    Rtnetlink,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from igd.core.connection import ConnectionModel
    from igd.core.wan_interface import CommonInterfaceConfig

_LOGGER = logging.getLogger(__name__)

TRAFFIC_SAMPLE_INTERVAL = 5.0  # Ours (spec 5.6.7): idle detection samples the counters every 5 s
RETRY_DELAY = 1.0  # before reopening a failed netlink socket or reading again after an error
IFF_LOOPBACK = 0x8  # <linux/if.h>
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
        async with Rtnetlink() as rtnl:
            link = await self._get_link(rtnl)
            if link is None:
                return WanLinkState()
            addresses = await rtnl.addresses()
            routes = await rtnl.routes()
        index, flags = link.index, link.flags
        primary = next(
            (a for a in addresses if a.index == index and not a.flags & IFA_F_SECONDARY), None
        )
        return WanLinkState(
            present=True,
            carrier=bool(flags & IFF_UP and flags & IFF_LOWER_UP),
            address="" if primary is None else primary.address,
            address_since=None if primary is None else self._address_since(primary),
            default_route=bool(flags & IFF_LOOPBACK)
            or any(_is_default_via(r, index) for r in routes),
            speed_bps=_link_speed(self._interface),
        )

    async def read_counters(self) -> InterfaceCounters:
        """TotalBytes/PacketsSent/Received now (all 0 while the interface is absent)."""
        async with Rtnetlink() as rtnl:
            link = await self._get_link(rtnl) or Link(index=0, flags=0)
        return InterfaceCounters.from_kernel(
            link.tx_bytes, link.rx_bytes, link.tx_packets, link.rx_packets
        )

    async def _get_link(self, rtnl: Rtnetlink) -> Link | None:
        try:
            return await rtnl.link(self._interface)
        except OSError as error:
            if error.errno == errno.ENODEV:
                return None
            raise

    def _address_since(self, address: Address) -> float | None:
        """When the address was added, on our clock (cstamp counts from boot, like monotonic)."""
        if address.added is None:
            return None
        added = address.added / CACHEINFO_HZ
        return self._clock() - max(0.0, time.monotonic() - added)

    async def _listen(self) -> None:
        """Mark the state stale on every announcement; reopen the socket if it fails."""
        while True:
            try:
                async with Rtnetlink(_EVENT_GROUPS) as events:
                    self._stale.set()  # whatever happened while nobody listened
                    while True:
                        await events.announced()
                        self._stale.set()
            except OSError:
                _LOGGER.warning("netlink event socket failed; reopening", exc_info=True)
            await asyncio.sleep(RETRY_DELAY)

    async def _follow(self) -> None:
        """Read the state again whenever it may have changed, and hand it on."""
        while True:
            await self._stale.wait()
            self._stale.clear()
            try:
                state = await self.read_state()
            except OSError:
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
            except OSError:
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
            async with Rtnetlink() as rtnl:
                await rtnl.set_up(self._interface, state == "up")
        except OSError as error:
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


def _is_default_via(route: Route, index: int) -> bool:
    """A unicast IPv4 default route of the main table that leaves through interface `index`."""
    return (
        route.dst_len == 0
        and route.table == RT_TABLE_MAIN
        and route.type == RTN_UNICAST
        and index in route.interfaces
    )


def _link_speed(interface: str) -> int | None:
    """Bit/s from sysfs (the driver's Mbit/s), None when unknown: down, virtual or absent.

    A one-line sysfs read, so done inline rather than in a thread.
    """
    try:
        megabits = int(Path("/sys/class/net", interface, "speed").read_text().strip())
    except (OSError, ValueError):
        return None
    return megabits * 1_000_000 if megabits > 0 else None
