"""`python -m bench`: our gateway against miniupnpd in the network-namespace lab (root).

python -m bench                the full benchmark (about 30 minutes; installs wrk and
                               miniupnpd-nftables with apt-get when they are missing)
python -m bench --smoke        a few seconds, tiny counts: proves the script still works
python -m bench quick [N]      ours only: the time of N (1,000) AddPortMapping calls and of
                               listing them with GetListOfPortMappings
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench.gateways import Miniupnpd, OurGateway, miniupnpd_missing, wrk_missing
from bench.install import InstallError, ensure_packages
from bench.measure import Plan, Results, run_plan
from bench.report import goals, table
from tests.lab import Lab, lab, lab_unavailable_reason

SMOKE = Plan(
    sizes=(10,),
    runs=1,
    samples=3,
    concurrency=(1,),
    wrk_seconds=1,
    connect_seconds=0.3,
    reach_sample=10,
    step_deadline=60.0,
)
QUICK_DEADLINE = 600.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts, a few seconds")
    parser.add_argument("--runs", type=int, help="runs per line (default 3; smoke 1)")
    parser.add_argument(
        "--sizes", help="table sizes, comma-separated (default 10,1000,10000; smoke 10)"
    )
    parser.add_argument("--only", choices=("ours", "miniupnpd"), help="run one gateway only")
    parser.add_argument(
        "--no-install", action="store_true", help="never apt-get (the smoke run never does)"
    )
    parser.add_argument("command", nargs="?", choices=("quick",), help="see the module help")
    parser.add_argument("count", nargs="?", type=int, default=1000, help="quick: how many adds")
    return parser


def _plan(arguments: argparse.Namespace) -> Plan:
    plan = SMOKE if arguments.smoke else Plan()
    changes: dict[str, object] = {}
    if arguments.runs:
        changes["runs"] = arguments.runs
    if arguments.sizes:
        changes["sizes"] = tuple(int(size) for size in arguments.sizes.split(","))
    return Plan(**{**plan.__dict__, **changes})


def tune_client(built: Lab) -> None:
    """Let the LAN client reuse its ports in TIME_WAIT for new connections (RFC 6191 care).

    One connection per call leaves a TIME_WAIT on whichever side closes first; when that is the
    client (wrk closes as soon as it reads `Connection: close`, before a server's FIN arrives),
    tens of thousands pile up and every connect() searches for a free port: the client, not the
    gateway, becomes the bottleneck. The setting is the LAN namespace's own.
    """
    built.run(built.lan[0], "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1")


def quick(count: int) -> int:
    """Ours in the lab: N adds, then one GetListOfPortMappings (and the adds deleted)."""
    with lab() as built, tempfile.TemporaryDirectory(prefix="bench-") as folder:
        tune_client(built)
        gateway = OurGateway(built, Path(folder), max_mappings=count + 10)
        try:
            gateway.start()
            done = built.run(
                built.lan[0],
                sys.executable,
                "-m",
                "bench.lan_client",
                f"--deadline={QUICK_DEADLINE}",
                "quick",
                str(count),
                timeout=QUICK_DEADLINE + 60,
            )
            print(done.stdout, end="")
        finally:
            gateway.stop()
    return 0


def benchmark(arguments: argparse.Namespace) -> int:
    plan = _plan(arguments)
    notes: list[str] = []
    if not arguments.smoke and not arguments.no_install:
        try:
            notes += ensure_packages()
        except InstallError as error:
            notes.append(f"install failed: {error}")
    wanted = {"ours", "miniupnpd"} if arguments.only is None else {arguments.only}
    missing = miniupnpd_missing()
    if "miniupnpd" in wanted and missing:
        wanted.discard("miniupnpd")
        notes.append(f"{missing}: OURS ONLY, no comparison")
    no_wrk = wrk_missing()
    if no_wrk:
        notes.append(f"{no_wrk}: GetExternalIPAddress lines skipped")
    print(f"plan: {plan}", flush=True)
    results: dict[str, Results] = {}
    with lab() as built, tempfile.TemporaryDirectory(prefix="bench-") as folder:
        tune_client(built)
        largest = max(plan.sizes) + plan.samples + 10
        for name in ("miniupnpd", "ours"):
            if name not in wanted:
                continue
            place = Path(folder) / name
            place.mkdir()
            gateway = (
                Miniupnpd(built, place)
                if name == "miniupnpd"
                else OurGateway(built, place, largest)
            )
            print(f"measuring {name} ...", flush=True)
            results[name] = run_plan(built, gateway, plan, with_wrk=no_wrk is None)
    ours, theirs = results.get("ours"), results.get("miniupnpd")
    print()
    print(table(ours, theirs))
    print()
    print(f"goals (largest table {max(plan.sizes):,}):")
    print(goals(ours, theirs, max(plan.sizes)))
    for name, result in results.items():
        notes += [f"{name}: {note}" for note in result.notes]
    if notes:
        print("\nnotes:")
        print("\n".join(f"- {note}" for note in notes))
    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores?)")
    return 0


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    reason = lab_unavailable_reason()
    if reason:
        print(f"bench: cannot build the lab: {reason}", file=sys.stderr)
        return 2
    if arguments.command == "quick":
        return quick(arguments.count)
    return benchmark(arguments)


if __name__ == "__main__":
    sys.exit(main())
