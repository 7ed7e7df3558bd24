"""One gateway through every line of the benchmark, driven from the lab's LAN client and WAN host.

Results are kept per line as one value per run (None for a run that failed), so the report can
take medians; notes say what failed and why.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from bench.gateways import HTTP_PORT, GatewayUnderTest, is_running, resident_megabytes
from tests.lab import LAN_GATEWAY, WAN_GATEWAY, Lab, wait_for_output

FIRST_PORT = 20000  # the table is filled from here up, internal port = external port
SAMPLE_PORT = 60000  # the port added and deleted while the table holds N mappings
WRK_SCRIPT = Path(__file__).with_name("get_external_ip.lua")
CONTROL_URL = f"http://{LAN_GATEWAY}:{HTTP_PORT}/ctl/IPConn"
RESTART_WAIT = 900.0  # seconds a restart may take (miniupnpd re-adds its leases one by one)
SLACK = 60.0  # seconds above a step's expected time before it is cut off


@dataclass(frozen=True)
class Plan:
    """How much to measure (the full run, or the smoke run's tiny counts)."""

    sizes: tuple[int, ...] = (10, 1000, 10000)
    runs: int = 3
    samples: int = 30  # add/delete pairs per run and table size
    concurrency: tuple[int, ...] = (1, 8, 32)
    wrk_seconds: int = 5
    connect_seconds: float = 3.0
    reach_sample: int = 50
    step_deadline: float = 1800.0  # any one client command, at most


@dataclass
class Results:
    """Per line, one value per run."""

    values: dict[str, list[float | None]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, line: str, value: float | None) -> None:
        self.values.setdefault(line, []).append(value)


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


class Bench:
    """Runs the plan against one gateway in one lab."""

    def __init__(self, lab: Lab, plan: Plan, results: Results) -> None:
        self.lab = lab
        self.plan = plan
        self.results = results
        self.filled = 0
        self.failed_ports: set[int] = set()

    def _lan(self, *arguments: str, timeout: float | None = None) -> dict[str, object]:
        limit = timeout or self.plan.step_deadline
        done = self.lab.run(
            self.lab.lan[0],
            sys.executable,
            "-m",
            "bench.lan_client",
            f"--deadline={limit}",
            *arguments,
            timeout=limit + SLACK,
        )
        parsed: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
        return parsed

    def _wan(self, *arguments: str, timeout: float) -> dict[str, object]:
        done = self.lab.run(
            self.lab.wan, sys.executable, "-m", "bench.wan_host", *arguments, timeout=timeout
        )
        parsed: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
        return parsed

    def start_times(self, gateway: GatewayUnderTest) -> None:
        """Start it `runs` times (stopping it in between); it is left running."""
        for run in range(self.plan.runs):
            if run:
                gateway.stop()
            self.results.add("start to first SSDP alive (s)", gateway.start())
        time.sleep(1.0)  # settled
        self.results.add("resident memory idle (MB)", resident_megabytes(gateway.pid()))

    def get_external_ip(self) -> None:
        for clients in self.plan.concurrency:
            for _ in range(self.plan.runs):
                self._wrk(clients)

    def _wrk(self, clients: int) -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = self.lab.run(
            self.lab.lan[0],
            "wrk",
            "-t1",
            f"-c{clients}",
            f"-d{self.plan.wrk_seconds}s",
            "--timeout=5s",
            "-s",
            str(WRK_SCRIPT),
            CONTROL_URL,
            timeout=self.plan.wrk_seconds + SLACK,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        summary = json.loads(
            next(line for line in done.stdout.splitlines() if line.startswith("{"))
        )
        good = summary["requests"] - summary["non_2xx"] - summary["errors"]
        seconds = summary["duration_us"] / 1e6
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        self.results.add(f"GetExternalIPAddress, {clients} clients (req/s)", good / seconds)
        self.results.add(
            f"GetExternalIPAddress, {clients} clients, p99 (ms)", summary["p99_us"] / 1e3
        )
        self.results.add(
            f"  wrk's own ceiling, {clients} clients (req/s per client CPU-s)",
            summary["requests"] / cpu if cpu > 0 else None,
        )
        if good != summary["requests"]:
            self.results.notes.append(
                f"wrk at {clients} clients: {summary['requests'] - good} failed requests"
            )

    def fill_to(self, size: int) -> None:
        """Add mappings until the table holds `size` (from the LAN client, secure mode)."""
        count = size - self.filled
        if count <= 0:
            return
        answer = self._lan("fill", str(FIRST_PORT + self.filled), str(count))
        self.failed_ports.update(
            int(str(failure).split(":", 1)[0])
            for failure in answer["failures"]  # type: ignore[attr-defined]
            if str(failure).split(":", 1)[0].isdigit()
        )
        if answer["failed"]:
            self.results.notes.append(
                f"filling to {size}: {answer['failed']} adds failed, e.g. {answer['failures']}"
            )
        self.filled = size

    def add_delete(self, size: int) -> None:
        for _ in range(self.plan.runs):
            answer = self._lan("addel", str(SAMPLE_PORT), str(self.plan.samples))
            adds = answer["add"]
            deletes = answer["delete"]
            assert isinstance(adds, list) and isinstance(deletes, list)
            if answer["error"]:
                self.results.notes.append(f"add/delete at {size}: {answer['error']}")
            for action, values in (("AddPortMapping", adds), ("DeletePortMapping", deletes)):
                self.results.add(
                    f"{action} at {size}, median (ms)",
                    1e3 * statistics.median(values) if values else None,
                )
                self.results.add(
                    f"{action} at {size}, p99 (ms)", 1e3 * p99(values) if values else None
                )

    def walk(self, size: int) -> None:
        for _ in range(self.plan.runs):
            walked = self._lan("walk")
            complete = walked["entries"] == size and not walked["error"]
            if not complete:
                self.results.notes.append(
                    f"walk at {size}: {walked['entries']} entries, {walked['error']}"
                )
            seconds = float(walked["seconds"])  # type: ignore[arg-type]
            self.results.add(
                f"GetGenericPortMappingEntry walk of {size} (s)", seconds if complete else None
            )

    def list_table(self, size: int) -> None:
        for _ in range(self.plan.runs):
            listed = self._lan("list")
            correct = listed["entries"] == size and not listed["error"]
            if not correct:
                self.results.notes.append(
                    f"GetListOfPortMappings at {size}: {listed['entries']} entries returned, "
                    f"{listed['error'] or 'no error'}"
                )
            seconds = float(listed["seconds"])  # type: ignore[arg-type]
            self.results.add(
                f"GetListOfPortMappings of {size} (ms)", 1e3 * seconds if correct else None
            )
            if not correct:
                return  # one failure decides the line; a crashed gateway is restarted once

    def data_path(self, size: int, pid: int) -> None:
        """Connection set-up through the first and the last mapping; the reachable sample."""
        acknowledged = [
            port for port in range(FIRST_PORT, FIRST_PORT + size) if port not in self.failed_ports
        ]
        if not acknowledged:
            self.results.notes.append("no acknowledged mapping to reach")
            return
        step = max(1, len(acknowledged) // self.plan.reach_sample)
        sample = sorted({*acknowledged[::step], acknowledged[0], acknowledged[-1]})
        listener = self.lab.start(
            self.lab.lan[0],
            sys.executable,
            "-m",
            "bench.lan_client",
            f"--deadline={self.plan.step_deadline}",
            "listen",
            *map(str, sample),
        )
        wait_for_output(listener, ["listening"], timeout=30)
        try:
            for _ in range(self.plan.runs):
                for which, port in (("first", acknowledged[0]), ("last", acknowledged[-1])):
                    seconds = self.plan.connect_seconds
                    answer = self._wan(
                        "connect-rate",
                        WAN_GATEWAY,
                        str(port),
                        str(seconds),
                        timeout=seconds + SLACK,
                    )
                    if answer["failed"]:
                        self.results.notes.append(
                            f"connections through the {which} mapping: {answer['failed']} failed"
                        )
                    self.results.add(
                        f"WAN->LAN TCP set-up via {which} of {size} (conn/s)",
                        float(answer["rate"]),  # type: ignore[arg-type]
                    )
            reached = self._wan(
                "reach", WAN_GATEWAY, *map(str, sample), timeout=SLACK + len(sample) * 3
            )
            unreached = reached["unreached"]
            assert isinstance(unreached, list)
            self.results.add(
                f"acknowledged mappings reachable from WAN, sample of {len(sample)} (%)",
                100.0 * (len(sample) - len(unreached)) / len(sample),
            )
            if unreached:
                self.results.notes.append(f"not reachable from the WAN: ports {unreached[:10]}")
        finally:
            listener.terminate()
        self.results.add(f"resident memory with {size} mappings (MB)", resident_megabytes(pid))


def run_plan(lab: Lab, gateway: GatewayUnderTest, plan: Plan, *, with_wrk: bool) -> Results:
    """Every line for one gateway; it is stopped afterwards, whatever happened.

    A step that fails is noted and the next one runs. GetListOfPortMappings comes last at each
    size, as it may crash a gateway (miniupnpd 2.3.1 at 1,000 entries): a gateway that exited is
    noted and started again, with the mappings of its lease file, before the next step.
    """
    results = Results()
    bench = Bench(lab, plan, results)
    largest = max(plan.sizes)
    steps: list[tuple[str, Callable[[], None]]] = [("start", lambda: bench.start_times(gateway))]
    for size in plan.sizes:
        steps.append((f"fill to {size}", partial(bench.fill_to, size)))
        steps.append((f"add/delete at {size}", partial(bench.add_delete, size)))
        if size >= 1000 or size == largest:
            steps.append((f"walk at {size}", partial(bench.walk, size)))
        if size == largest:
            steps.append((f"data path at {size}", lambda: bench.data_path(largest, gateway.pid())))
            # after the adds: its tens of thousands of connections leave TIME_WAIT sockets that
            # miniupnpd's port-in-use check (it reads /proc/net/tcp) would pay for
            if with_wrk:
                steps.append(("GetExternalIPAddress", bench.get_external_ip))
        if size >= 1000 or size == largest:
            steps.append((f"GetListOfPortMappings at {size}", partial(bench.list_table, size)))
    try:
        for name, step in steps:
            try:
                step()
            except Exception as error:  # noted, and the run goes on
                results.notes.append(f"{name}: {type(error).__name__}: {error}"[:300])
            if not is_running(gateway.pid()) and name != steps[-1][0]:
                results.notes.append(f"{gateway.name} exited during: {name}; started again")
                try:
                    gateway.start(RESTART_WAIT)
                except Exception as error:  # nothing more to measure
                    results.notes.append(f"restart failed: {error}"[:300])
                    break
    finally:
        gateway.stop()
    return results
