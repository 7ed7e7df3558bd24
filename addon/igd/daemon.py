"""The gateway assembled: NAT backend, mapping core, WAN connection, HTTP, GENA and SSDP.

Start order follows what each part needs: the kernel table before the core that writes it, the
core before the services that call it, the HTTP server (its port) before SSDP announces the URL.
`stop` goes the other way round, so ssdp:byebye leaves while the descriptions are still served.

The embedded default (memory backend, WAN and LAN on `lo`) is a demo that Home Assistant and
upnpc on the same host can use: the WAN watcher counts loopback as routed, so it reports
`Connected` with 127.0.0.1 (or the `external_ip` option) as external address, which is true
enough where nothing leaves the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

import aiohttp

from igd import __version__
from igd.backends.iptables import IptablesBackend
from igd.backends.memory import MemoryBackend
from igd.backends.nftables import NftablesBackend
from igd.core.connection import ConnectionModel
from igd.core.mappings import MappingTable
from igd.core.nat import NatBackend, NatError
from igd.core.wan_interface import CommonInterfaceConfig
from igd.heap import release_free_heap
from igd.host_ports import HostPorts, host_ports_for
from igd.identity import IdentityError, start_boot
from igd.lease_store import LeaseStore, SavedState
from igd.options import LOOPBACK_INTERFACE, GatewayOptions
from igd.permissions import PermissionRules, default_rules
from igd.policy import GatewayPolicy, LanPermissions, reserved_host_ports
from igd.upnp.devices import DeviceIdentity, GatewayCore, GatewayDevices
from igd.upnp.faces import ssdp_faces
from igd.upnp.gena import EventPublisher
from igd.upnp.http import CallerPolicy, HttpServer, build_app, gateway_routes
from igd.upnp.lan_interface import LanInterface, LanInterfaceError, lan_interface
from igd.upnp.ssdp import SsdpError, SsdpFace, SsdpServer
from igd.upnp.ssdp_messages import server_header
from igd.wan import WanWatcher

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from igd.core.records import TableChange
    from igd.upnp.devices import DeviceTree
    from igd.upnp.service import GatewayService
    from igd.upnp.ssdp_messages import SsdpTarget

LOG = logging.getLogger(__name__)

PRODUCT = "upnp_gateway"
NAT_RETRY_DELAY = 5.0  # seconds before retrying what the NAT backend refused


class GatewayError(Exception):
    """The gateway cannot start with these options on this host; the message says why."""


KERNEL_BACKENDS = ("nftables", "iptables")  # what `auto` tries, in this order


def _kernel_backend(name: str, options: GatewayOptions) -> NatBackend:
    if name == "iptables":
        return IptablesBackend(options.wan_interface)
    return NftablesBackend(options.wan_interface, options.lan_interfaces)


async def open_backend(options: GatewayOptions) -> NatBackend:
    """The NAT backend the options ask for, started.

    `auto` takes the first of nftables (libnftables loads and the kernel takes our table) and
    iptables (iptables-restore works) that starts, else memory with a warning.
    """
    auto = options.backend == "auto"
    names = {"auto": KERNEL_BACKENDS, "memory": ()}.get(options.backend, (options.backend,))
    refusals: list[str] = []
    for name in names:
        backend = _kernel_backend(name, options)
        try:
            await backend.start()
        except NatError as error:
            if not auto:
                raise GatewayError(f"{name} backend unavailable: {error}") from error
            refusals.append(f"{name}: {error}")
            continue
        if refusals:
            LOG.warning("using the %s backend (%s)", name, "; ".join(refusals))
        return backend
    if auto:
        LOG.warning(
            "no kernel NAT backend (%s); using the memory backend: nothing is forwarded",
            "; ".join(refusals),
        )
    backend = MemoryBackend()
    await backend.start()
    return backend


class Gateway:
    """One running gateway; `start` then `stop` (also after a failed start)."""

    def __init__(self, options: GatewayOptions) -> None:
        self.options = options
        self.port = options.http_port
        self.lans: tuple[LanInterface, ...] = ()
        self._backend: NatBackend | None = None
        self._store: LeaseStore | None = None
        self._host_ports: HostPorts | None = None
        self._watcher: WanWatcher | None = None
        self._http: HttpServer | None = None
        self._ssdp: SsdpServer | None = None
        self._session: aiohttp.ClientSession | None = None
        self._publishers: list[EventPublisher] = []
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def description_urls(self) -> list[str]:
        """The root description's URL on each LAN address (what SSDP announces)."""
        return [f"http://{lan.address}:{self.port}/rootDesc.xml" for lan in self.lans]

    async def start(self) -> None:
        """Bring every part up; GatewayError (after undoing what started) when one cannot."""
        options = self.options
        try:
            self.lans = tuple(lan_interface(name) for name in options.lan_interfaces)
            boot = start_boot(options.data_dir)
        except (LanInterfaceError, IdentityError) as error:
            raise GatewayError(str(error)) from error
        self._backend = backend = await open_backend(options)
        self._store = store = LeaseStore(options.data_dir)
        saved = store.load()

        demo = options.wan_interface == LOOPBACK_INTERFACE
        networks = tuple(dict.fromkeys(lan.network for lan in self.lans))
        self._host_ports = host_ports = host_ports_for(backend)
        permissions = LanPermissions(
            external_ports=options.external_ports,
            networks=networks,
            own_addresses=frozenset(lan.address for lan in self.lans),
            reserved_ports=reserved_host_ports(options.http_port),
            rules=PermissionRules(options.permission_rules or default_rules(networks)),
            loopback_demo=demo,
        )
        table = MappingTable(
            backend,
            permissions=permissions,
            port_in_use=None if host_ports is None else host_ports.in_use,
            policy=GatewayPolicy(
                permissions,
                shortest_lease=options.min_lease,
                longest_lease=options.max_lease,
                host_ports=host_ports,
            ),
            max_mappings=options.max_mappings,
            max_per_client=options.max_mappings_per_client,
            journal=store,
        )
        await _restore_mappings(table, saved)
        connection = ConnectionModel(
            clock=time.monotonic,
            forwarding=backend.set_forwarding,
            settings=saved.settings,
            external_ip_override=str(options.external_ip or ""),
        )
        store.watch(table, connection)
        store.changed()  # the file now says what the table holds after the restore
        interface = CommonInterfaceConfig(connection)
        self._watcher = WanWatcher(options.wan_interface, connection, interface)
        first = await self._watcher.read_state()  # known before anything is served
        interface.observe(first)
        await connection.observe(first)

        devices = GatewayDevices(
            device_uuid=boot.device_uuid,
            identity=DeviceIdentity(serial_number=str(boot.device_uuid)),
            core=GatewayCore(table, connection, interface, self._watcher.read_counters),
        )
        server = server_header(PRODUCT, __version__)
        self._session = aiohttp.ClientSession()
        publishers = {
            path: self._publisher(service, server)
            for path, service in devices.event_endpoints().items()
        }
        self._feed_events(devices, publishers, table, connection, interface)

        trusted = {*options.trusted_control_points}
        if options.trust_gateway_host:  # Home Assistant runs here and calls from these
            trusted |= {lan.address for lan in self.lans}
        policy = CallerPolicy(options.secure_mode, frozenset(trusted))
        app = build_app(
            gateway_routes(devices, publishers, policy, igd_version=options.igd_version),
            lans=self.lans,
            server=server,
        )
        self._http = HttpServer(app, lans=self.lans, port=options.http_port)
        try:
            await self._http.start()
        except OSError as error:
            raise GatewayError(f"cannot listen on port {options.http_port}: {error}") from error
        self.port = self._http.port

        self._ssdp = SsdpServer(
            interfaces=options.lan_interfaces,
            faces=[
                self._face(tree, targets) for tree, targets in ssdp_faces(devices, options.announce)
            ],
            boot_id=boot.boot_id,
            config_id=devices.config_id,
            server=server,
        )
        try:
            await self._ssdp.start()
        except SsdpError as error:
            self._ssdp = None
            raise GatewayError(str(error)) from error
        self._tasks += [
            _at_deadlines("lease expiry", table.next_expiry, table.expire_due, table.add_listener),
            asyncio.create_task(self._watcher.run(), name="WAN watcher"),  # and connection timers
        ]
        release_free_heap()  # what reading the saved table and the kernel's rules left behind
        for url in self.description_urls:
            LOG.info("UPnP Gateway listening on %s", url)

    async def stop(self) -> None:
        """Say byebye, stop serving, and release the backend (its rules stay for the next start)."""
        if self._ssdp is not None:
            await self._ssdp.stop()
            self._ssdp = None
        if self._http is not None:
            await self._http.stop()
            self._http = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._store is not None:
            await self._store.close()
            self._store = None
        for publisher in self._publishers:
            await publisher.close()
        self._publishers.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._watcher = None
        if self._host_ports is not None:
            self._host_ports.close()
            self._host_ports = None
        if self._backend is not None:
            await self._backend.stop()
            self._backend = None

    def _publisher(self, service: GatewayService, server: str) -> EventPublisher:
        publisher = EventPublisher(
            current=lambda: dict(service.event_properties()),
            server=server,
            session=self._session,
        )
        self._publishers.append(publisher)
        return publisher

    def _feed_events(
        self,
        devices: GatewayDevices,
        publishers: dict[str, EventPublisher],
        table: MappingTable,
        connection: ConnectionModel,
        interface: CommonInterfaceConfig,
    ) -> None:
        """Each source of change to the publishers of the services that event it.

        A table change is one NOTIFY carrying SystemUpdateID and PortMappingNumberOfEntries
        together (each NOTIFY carries every evented variable, read when it is sent).
        """
        trees = (devices.igd2, devices.igd1, devices.igd2_v1_view)
        ip_connection = [publishers[t.wan_ip_connection.event_sub_url] for t in trees]
        common = [publishers[t.wan_common.event_sub_url] for t in trees]

        def table_changed(_change: TableChange) -> None:
            _publish(ip_connection)

        table.add_listener(table_changed)
        connection.add_listener(lambda _changes: _publish(ip_connection))
        interface.add_listener(lambda _changes: _publish(common))

    def _face(self, tree: DeviceTree, targets: tuple[SsdpTarget, ...]) -> SsdpFace:
        path = tree.description_path
        return SsdpFace(
            targets=targets,
            location=lambda lan: f"http://{lan.address}:{self.port}{path}",
        )


def _at_deadlines(
    name: str,
    next_deadline: Callable[[], float | None],
    act: Callable[[], Awaitable[None]],
    add_listener: Callable[[Callable[..., None]], object],
) -> asyncio.Task[None]:
    """A task that calls `act` whenever `next_deadline()` (monotonic clock) has come.

    It sleeps until then, or until a listener says the deadline may have moved.
    """
    moved = asyncio.Event()
    add_listener(lambda *_: moved.set())

    async def run() -> None:
        while True:
            moved.clear()
            when = next_deadline()
            timeout = None if when is None else max(0.0, when - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(moved.wait(), timeout)
            try:
                await act()
            except NatError as error:  # the rules stay; try again a little later
                LOG.warning("%s: NAT backend refused a change: %s", name, error)
                await asyncio.sleep(NAT_RETRY_DELAY)

    return asyncio.create_task(run(), name=name)


def _publish(publishers: list[EventPublisher]) -> None:
    for publisher in publishers:
        publisher.publish({})


async def _restore_mappings(table: MappingTable, saved: SavedState) -> None:
    """Put back what the last run saved; our kernel table then holds exactly those rules."""
    try:
        report = await table.restore(saved.entries)
    except NatError as error:
        raise GatewayError(f"cannot restore the saved mappings: {error}") from error
    LOG.info(
        "restored %d mappings (%d leases ended while stopped, %d no longer allowed); "
        "forwarding rules: %d put back, %d removed",
        report.restored,
        report.expired,
        report.refused,
        report.rules_added,
        report.rules_removed,
    )
