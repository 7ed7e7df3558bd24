"""Run a WanWatcher on one interface and print the model's state as JSON lines, for e2e tests.

It runs inside the lab's gateway namespace, because netlink sockets belong to the namespace of the
process that opens them. SIGUSR1 asks for ForceTermination, SIGUSR2 for RequestConnection (as a
trusted control point); each prints its outcome.

    python wan_watcher_driver.py IFACE [--link-control]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time
from dataclasses import asdict

from igd.backends.memory import MemoryBackend
from igd.core import connection_actions
from igd.core.connection import ConnectionModel
from igd.core.errors import UpnpError
from igd.core.wan_interface import CommonInterfaceConfig
from igd.wan import NetlinkLinkControl, WanWatcher

COUNTER_INTERVAL = 0.2  # seconds between counter reads (the lab's traffic is a few pings)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("interface")
    parser.add_argument("--link-control", action="store_true")
    args = parser.parse_args()

    backend = MemoryBackend()
    link_control = NetlinkLinkControl(args.interface) if args.link_control else None
    model = ConnectionModel(
        clock=time.monotonic, forwarding=backend.set_forwarding, link_control=link_control
    )
    config = CommonInterfaceConfig(model)
    watcher = WanWatcher(args.interface, model, config, traffic_interval=COUNTER_INTERVAL)

    def show(**extra: object) -> None:
        status, error, uptime = model.status_info()
        line = {
            "status": status.value,
            "error": error.value,
            "uptime": uptime,
            "external_ip": model.external_ip_address,
            "physical": config.physical_link_status.value,
            "forwarding": backend.forwarding,
            **extra,
        }
        print(json.dumps(line), flush=True)

    model.add_listener(lambda _changed: show())
    config.add_listener(lambda _changed: show())

    async def act(name: str) -> None:
        action = {
            "ForceTermination": connection_actions.force_termination,
            "RequestConnection": connection_actions.request_connection,
        }[name]
        try:
            await action(model, authorized=True)
        except UpnpError as error:
            show(action=name, result=error.code)
        else:
            show(action=name, result="ok")

    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    def on_signal(name: str) -> None:
        tasks.add(loop.create_task(act(name)))

    loop.add_signal_handler(signal.SIGUSR1, on_signal, "ForceTermination")
    loop.add_signal_handler(signal.SIGUSR2, on_signal, "RequestConnection")
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    watching = asyncio.create_task(watcher.run())
    last = None
    while not stop.is_set():
        counters = await watcher.read_counters()
        if counters != last:
            last = counters
            show(counters=asdict(counters))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), COUNTER_INTERVAL)
    watching.cancel()


if __name__ == "__main__":
    asyncio.run(main())
