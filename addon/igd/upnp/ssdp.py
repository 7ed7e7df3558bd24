"""SSDP for the gateway: announce our devices and answer searches, on the LAN interfaces only.

Ours rather than async-upnp-client's (notes/ha-ecosystem.md section 2): that one announces one
message every 30 s, answers a search twice, builds embedded USNs from the root UDN and answers on
every interface, the WAN included. Here each LAN interface gets its own pair of sockets, bound to
that interface, and every answer is rate-limited per sender so we never act as an amplifier
(security-notes.md A1, A2).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from igd.upnp.lan_interface import LanInterface, lan_interface
from igd.upnp.ssdp_messages import (
    MAX_DATAGRAM_SIZE,
    MX_DEFAULT,
    SSDP_MULTICAST_ADDRESS,
    SSDP_PORT,
    SsdpCommonHeaders,
    SsdpTarget,
    alive_message,
    byebye_message,
    match_search,
    parse_search,
    search_response,
)

_LOGGER = logging.getLogger(__name__)

MULTICAST_TTL = 2  # UDA 1.1 section 1.1.2: SHOULD default to 2
IP_MULTICAST_ALL = 49  # <linux/in.h>; Python does not name it
ALIVE_REPEATS = 2  # UDA 1.1 section 1.2.2: send each message more than once, at most three times
ALIVE_REPEAT_DELAY = 0.25  # seconds between the copies (miniupnpd's spacing)
READS_PER_WAKEUP = 32  # datagrams read per readiness callback before yielding to the loop
# security-notes.md A2: answers per sender and in all, per window
ANSWER_WINDOW = 10.0
ANSWERS_PER_SOURCE = 100
ANSWERS_IN_ALL = 1000
MAX_TRACKED_SOURCES = 1024
_PKTINFO = struct.Struct("=i4s4s")  # struct in_pktinfo: ifindex, local address, destination


class SsdpError(OSError):
    """A LAN interface could not be opened for SSDP."""


@dataclass(frozen=True)
class SsdpFace:
    """One root device as SSDP shows it: its targets and where its description is.

    `location` gives the description URL as seen from a LAN interface (the address differs
    per interface). The gateway may show more than one face (an IGD:2 and an IGD:1).
    """

    targets: tuple[SsdpTarget, ...]
    location: Callable[[LanInterface], str]


class _AnswerBudget:
    """How many answers each sender, and everyone together, may still get in this window."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._window_start = clock()
        self._per_source: dict[str, int] = {}
        self._in_all = 0
        self._refused: set[str] = set()

    def take(self, source: str, answers: int) -> bool:
        now = self._clock()
        if now - self._window_start >= ANSWER_WINDOW:
            self._window_start, self._per_source, self._in_all = now, {}, 0
            self._refused = set()
        used = self._per_source.get(source)
        if used is None and len(self._per_source) >= MAX_TRACKED_SOURCES:
            return False
        used = used or 0
        if used + answers > ANSWERS_PER_SOURCE or self._in_all + answers > ANSWERS_IN_ALL:
            return False
        self._per_source[source] = used + answers
        self._in_all += answers
        return True

    def first_refusal(self, source: str) -> bool:
        """Whether this is the first refusal for `source` in this window (log it once)."""
        if source in self._refused or len(self._refused) >= MAX_TRACKED_SOURCES:
            return False
        self._refused.add(source)
        return True


class _InterfaceSockets:
    """The receiving and sending socket of one LAN interface."""

    def __init__(self, lan: LanInterface) -> None:
        self.lan = lan
        self.receiver = self._open_receiver(lan)
        try:
            self.sender = self._open_sender(lan)
        except OSError:
            self.receiver.close()
            raise

    @staticmethod
    def _bind_to_device(sock: socket.socket, lan: LanInterface) -> None:
        # Never see (or answer) what arrives on another interface, the WAN above all.
        # Without the privilege for it, the in_pktinfo check in `_on_datagram` still holds.
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, lan.name.encode())
        except PermissionError:
            _LOGGER.debug("SO_BINDTODEVICE refused on %s; filtering by interface index", lan.name)

    def _open_receiver(self, lan: LanInterface) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._bind_to_device(sock, lan)
            sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_PKTINFO, 1)
            sock.bind(("", SSDP_PORT))
            membership = struct.pack(
                "=4s4si", socket.inet_aton(SSDP_MULTICAST_ADDRESS), lan.address.packed, lan.index
            )
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    def _open_sender(self, lan: LanInterface) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._bind_to_device(sock, lan)
            sock.bind((str(lan.address), 0))
            outgoing = struct.pack("=4s4si", bytes(4), lan.address.packed, lan.index)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, outgoing)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, MULTICAST_TTL)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    def send(self, message: bytes, destination: tuple[str, int]) -> None:
        try:
            self.sender.sendto(message, destination)
        except OSError as error:  # a full buffer or a link going down: the next round repeats it
            _LOGGER.debug("SSDP send on %s to %s failed: %s", self.lan.name, destination, error)

    def close(self) -> None:
        self.receiver.close()
        self.sender.close()


class SsdpServer:
    """Announces our faces on each LAN interface and answers M-SEARCH from that LAN.

    `start` sends ssdp:byebye for every target (the IGD:2 start-up rule, igd2-device.md 3.3), then
    the alive set, and repeats it well within max-age; `stop` sends ssdp:byebye.
    """

    def __init__(
        self,
        *,
        interfaces: Sequence[str],
        faces: Sequence[SsdpFace],
        boot_id: int,
        config_id: int,
        server: str,
        max_age: int = 1800,
    ) -> None:
        self._interface_names = tuple(interfaces)
        self._faces = tuple(faces)
        self._common = SsdpCommonHeaders(
            server=server, boot_id=boot_id, config_id=config_id, max_age=max_age
        )
        self._sockets: list[_InterfaceSockets] = []
        self._advertiser: asyncio.Task[None] | None = None
        self._answering: set[asyncio.Task[None]] = set()
        self._pending_searches: set[tuple[tuple[str, int], str]] = set()
        self._budget = _AnswerBudget(time.monotonic)

    @property
    def interfaces(self) -> tuple[LanInterface, ...]:
        """The LAN interfaces served, as read at the last start."""
        return tuple(sockets.lan for sockets in self._sockets)

    async def start(self) -> None:
        """Open every LAN interface (SsdpError if one cannot be), then announce."""
        loop = asyncio.get_running_loop()
        try:
            for name in self._interface_names:
                self._sockets.append(_InterfaceSockets(lan_interface(name)))
        except OSError as error:
            self._close_sockets()
            raise SsdpError(f"cannot serve SSDP on {self._interface_names}: {error}") from error
        for sockets in self._sockets:
            loop.add_reader(sockets.receiver.fileno(), self._on_readable, sockets)
        self._send_byebye()
        self._advertiser = asyncio.create_task(self._advertise(), name="ssdp-advertise")

    async def stop(self) -> None:
        """Say ssdp:byebye and close the sockets."""
        tasks = [*self._answering, *([self._advertiser] if self._advertiser else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._advertiser = None
        self._send_byebye()
        self._close_sockets()

    async def reannounce(self, *, boot_id: int, config_id: int) -> None:
        """Announce again as a new boot: interface addresses or descriptions changed.

        igd2-device.md 3.4 (Ours): byebye and a fresh alive set instead of ssdp:update.
        """
        await self.stop()
        self._common = replace(self._common, boot_id=boot_id, config_id=config_id)
        await self.start()

    def _close_sockets(self) -> None:
        loop = asyncio.get_running_loop()
        for sockets in self._sockets:
            loop.remove_reader(sockets.receiver.fileno())
            sockets.close()
        self._sockets = []
        self._pending_searches.clear()

    def _send_byebye(self) -> None:
        for sockets in self._sockets:
            for face in self._faces:
                for target in face.targets:
                    if target.announced:
                        sockets.send(byebye_message(target, self._common), _MULTICAST)

    def _send_alive(self) -> None:
        for sockets in self._sockets:
            for face in self._faces:
                location = face.location(sockets.lan)
                for target in face.targets:
                    if target.announced:
                        message = alive_message(target, location, self._common)
                        sockets.send(message, _MULTICAST)

    def _refresh_interval(self) -> float:
        # UDA 1.1 section 1.2.2: refresh at random intervals well within max-age
        third = self._common.max_age / 3
        return third - random.uniform(0, third / 10)  # noqa: S311 - jitter, not a secret

    async def _advertise(self) -> None:
        while True:
            for repeat in range(ALIVE_REPEATS):
                if repeat:
                    await asyncio.sleep(ALIVE_REPEAT_DELAY)
                self._send_alive()
            await asyncio.sleep(self._refresh_interval())

    def _on_readable(self, sockets: _InterfaceSockets) -> None:
        ancillary_size = socket.CMSG_SPACE(_PKTINFO.size)
        for _ in range(READS_PER_WAKEUP):
            try:
                datagram, ancillary, flags, source = sockets.receiver.recvmsg(
                    MAX_DATAGRAM_SIZE, ancillary_size
                )
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                _LOGGER.debug("SSDP receive on %s failed: %s", sockets.lan.name, error)
                return
            if flags & socket.MSG_TRUNC:
                continue  # larger than any search we accept
            self._on_datagram(sockets, datagram, ancillary, source)

    def _on_datagram(
        self,
        sockets: _InterfaceSockets,
        datagram: bytes,
        ancillary: list[tuple[int, int, bytes]],
        source: tuple[str, int],
    ) -> None:
        arrival = _arrival(ancillary)
        if arrival is None or arrival[0] != sockets.lan.index:
            return  # not from this interface's link: never answer across interfaces
        if not sockets.lan.serves(source[0]) or source[1] == 0:
            _LOGGER.debug("SSDP from %s is not from the LAN %s; ignored", source, sockets.lan.name)
            return
        search = parse_search(datagram)
        if search is None:
            return
        answers = [
            (face, search_target, usn)
            for face in self._faces
            for search_target, usn in match_search(search.search_target, face.targets)
        ]
        key = (source, search.search_target.lower())
        if not answers or key in self._pending_searches:
            return  # the usual retransmission of a search we are already answering
        if not self._budget.take(source[0], len(answers)):
            if self._budget.first_refusal(source[0]):
                _LOGGER.warning("SSDP answers to %s rate-limited", source[0])
            return
        multicast = arrival[1] == SSDP_MULTICAST_ADDRESS
        window = (MX_DEFAULT if search.mx is None else search.mx) if multicast else 0
        messages = [
            (search_target, usn, face.location(sockets.lan)) for face, search_target, usn in answers
        ]
        self._pending_searches.add(key)
        task = asyncio.create_task(self._answer(sockets, messages, source, window))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)
        task.add_done_callback(lambda _: self._pending_searches.discard(key))

    async def _answer(
        self,
        sockets: _InterfaceSockets,
        messages: list[tuple[str, str, str]],
        destination: tuple[str, int],
        window: float,
    ) -> None:
        # UDA 1.1 section 1.3.3: each answer after a random delay within MX, spread over it
        delays = sorted(random.uniform(0, window) for _ in messages)  # noqa: S311
        waited = 0.0
        for delay, (search_target, usn, location) in zip(delays, messages, strict=True):
            await asyncio.sleep(delay - waited)
            waited = delay
            response = search_response(search_target, usn, location, self._common)
            sockets.send(response, destination)


_MULTICAST = (SSDP_MULTICAST_ADDRESS, SSDP_PORT)


def _arrival(ancillary: list[tuple[int, int, bytes]]) -> tuple[int, str] | None:
    """The interface index and destination address a datagram arrived with (IP_PKTINFO)."""
    for level, kind, data in ancillary:
        if level == socket.IPPROTO_IP and kind == socket.IP_PKTINFO and len(data) >= _PKTINFO.size:
            index, _, destination = _PKTINFO.unpack_from(data)
            return index, socket.inet_ntoa(destination)
    return None
