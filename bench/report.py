"""The benchmark's table (medians over the runs, ratio ours/miniupnpd) and the goals' verdicts."""

from __future__ import annotations

import statistics
from collections.abc import Callable

from bench.measure import Results

OURS, THEIRS = "ours", "miniupnpd"
FAILED = "fail"


def median(results: Results | None, line: str) -> float | None:
    """The median over the runs; None when absent or when any run failed."""
    if results is None:
        return None
    values = results.values.get(line)
    if not values or any(value is None for value in values):
        return None
    return statistics.median(value for value in values if value is not None)


def _cell(results: Results | None, line: str) -> str:
    if results is None:
        return "-"
    if line not in results.values:
        return "-"
    value = median(results, line)
    if value is None:
        return FAILED
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"


def table(ours: Results | None, theirs: Results | None) -> str:
    """One line per measure: ours, miniupnpd's, and ours/miniupnpd."""
    lines: list[str] = []
    for results in (ours, theirs):
        for line in results.values if results else ():
            if line not in lines:
                lines.append(line)
    width = max((len(line) for line in lines), default=10)
    rows = [f"{'':{width}}  {OURS:>12}  {THEIRS:>12}  {'ours/mini':>9}"]
    for line in lines:
        mine, other = median(ours, line), median(theirs, line)
        ratio = f"{mine / other:.3f}" if mine is not None and other else "-"
        rows.append(
            f"{line:{width}}  {_cell(ours, line):>12}  {_cell(theirs, line):>12}  {ratio:>9}"
        )
    return "\n".join(rows)


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("MET" if ok else "NOT MET")


def _check(
    test: Callable[..., bool], *values: float | None
) -> tuple[bool | None, tuple[float | None, ...]]:
    if any(value is None for value in values):
        return None, values
    return test(*values), values


def goals(ours: Results | None, theirs: Results | None, largest: int) -> str:
    """Each goal of the benchmark issue with its verdict and the figures behind it."""

    def mine(line: str) -> float | None:
        return median(ours, line)

    def other(line: str) -> float | None:
        return median(theirs, line)

    rows: list[str] = []

    def verdict(goal: str, outcome: tuple[bool | None, tuple[float | None, ...]]) -> None:
        ok, figures = outcome
        shown = ", ".join("?" if value is None else f"{value:,.3f}" for value in figures)
        rows.append(f"{_verdict(ok):8} {goal}  [{shown}]")

    for action in ("AddPortMapping", "DeletePortMapping"):
        line = f"{action} at 1000, median (ms)"
        verdict(
            f"{action} >= 10x faster than miniupnpd at 1,000",
            _check(lambda a, b: a * 10 <= b, mine(line), other(line)),
        )
        verdict(
            f"{action} flat (within 2x) from 10 to {largest:,}",
            _check(
                lambda small, big: big <= 2 * small,
                mine(f"{action} at 10, median (ms)"),
                mine(f"{action} at {largest}, median (ms)"),
            ),
        )
    verdict(
        f"listing {largest:,} >= 5x faster than miniupnpd's walk (ours: GetListOfPortMappings)",
        _check(
            lambda listing_ms, walk_s: listing_ms / 1e3 * 5 <= walk_s,
            mine(f"GetListOfPortMappings of {largest} (ms)"),
            other(f"GetGenericPortMappingEntry walk of {largest} (s)"),
        ),
    )
    verdict(
        f"GetListOfPortMappings correct at {largest:,}",
        _check(lambda ms: ms > 0, mine(f"GetListOfPortMappings of {largest} (ms)")),
    )
    verdict(
        f"set-up through the last of {largest:,} within 10% of the first",
        _check(
            lambda first, last: last >= 0.9 * first,
            mine(f"WAN->LAN TCP set-up via first of {largest} (conn/s)"),
            mine(f"WAN->LAN TCP set-up via last of {largest} (conn/s)"),
        ),
    )
    verdict(
        "GetExternalIPAddress at 32 clients >= miniupnpd's",
        _check(
            lambda a, b: a >= b,
            mine("GetExternalIPAddress, 32 clients (req/s)"),
            other("GetExternalIPAddress, 32 clients (req/s)"),
        ),
    )
    verdict(
        f"resident memory < 64 MB with {largest:,} mappings",
        _check(lambda mb: mb < 64, mine(f"resident memory with {largest} mappings (MB)")),
    )
    reach = next(
        (line for line in (ours.values if ours else ()) if line.startswith("acknowledged")), ""
    )
    verdict(
        "every acknowledged mapping of the sample reachable",
        _check(lambda percent: percent == 100.0, mine(reach)),
    )
    return "\n".join(rows)
