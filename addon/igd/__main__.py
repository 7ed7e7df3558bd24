"""`upnp-gateway`: run the gateway in the foreground until SIGTERM or SIGINT.

With no flags it runs the embedded default (memory backend on loopback), so a developer can try it
without root; the add-on's service script turns /data/options.json into these same flags.
"""

from __future__ import annotations

import igd.no_openssl  # noqa: F401  (first: before anything imports asyncio)

# isort: split
import argparse
import asyncio
import logging
import signal
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from igd.core.arguments import MAX_LEASE_DURATION
from igd.core.mappings import DEFAULT_MAX_MAPPINGS, DEFAULT_MAX_PER_CLIENT
from igd.daemon import Gateway, GatewayError
from igd.options import (
    BACKENDS,
    DEFAULT_HTTP_PORT,
    IGD_VERSIONS,
    LOG_LEVELS,
    GatewayOptions,
    OptionsError,
    parse_options,
)
from igd.upnp.faces import ANNOUNCE_CHOICES

if TYPE_CHECKING:
    from collections.abc import Sequence

PROG = "upnp-gateway"
EXIT_USAGE = 2  # argparse's own code for a bad command line
EXIT_FAILURE = 1
LOG = logging.getLogger("igd")
QUIET_LIBRARIES = ("asyncio", "aiohttp.access")


class _OneLineParser(argparse.ArgumentParser):
    """Reports a bad command line in one line (the add-on log shows it as is)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The command line; every flag maps to one option of igd.options."""
    parser = _OneLineParser(
        prog=PROG,
        description="A UPnP InternetGatewayDevice:2 (WANIPConnection:2) over this host's NAT. "
        "Without flags: the embedded demo set-up (memory backend, no kernel changes, on loopback).",
    )
    add = parser.add_argument
    add("--wan-interface", metavar="IFACE", help="the interface facing the Internet (default: lo)")
    add(
        "--lan-interface",
        metavar="IFACE",
        action="append",
        dest="lan_interfaces",
        help="an interface to serve UPnP on; repeat for several (default: lo)",
    )
    add(
        "--backend",
        choices=BACKENDS,
        help="where mappings are applied: nftables (kernel NAT), iptables (kernel NAT where "
        "nftables is missing), memory (nothing leaves the daemon), auto (nftables, else "
        "iptables, else memory) (default: memory)",
    )
    add(
        "--data-dir",
        metavar="DIR",
        help="where the device identity and leases are kept "
        "(default: $XDG_STATE_HOME/upnp-gateway or ~/.local/state/upnp-gateway)",
    )
    add(
        "--http-port",
        metavar="N",
        help=f"TCP port for descriptions, control and events; "
        f"0 = any free port (default: {DEFAULT_HTTP_PORT})",
    )
    add(
        "--igd-version",
        choices=[str(version) for version in IGD_VERSIONS],
        help="2: IGD:2, with the IGD:1 view for clients that need it; 1: IGD:1 only (default: 2)",
    )
    add(
        "--announce",
        choices=ANNOUNCE_CHOICES,
        help="which root devices SSDP shows: both (an IGD:2 and an IGD:1, for every client), "
        "igd2 or igd1 alone, for LANs with devices that two confuse; --igd-version 1 implies "
        "igd1 (default: both)",
    )
    add("--min-lease", metavar="SECONDS", help="shortest lease granted (default: 1)")
    add(
        "--max-lease",
        metavar="SECONDS",
        help=f"longest lease granted; a lease of 0 asks for this (default: {MAX_LEASE_DURATION})",
    )
    add(
        "--external-ports",
        metavar="LOW-HIGH",
        help="external ports clients may map (default: 1024-65535)",
    )
    add(
        "--secure-mode",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="clients may map only to themselves and ports >= 1024 (default: on)",
    )
    add(
        "--trusted-control-point",
        metavar="IPV4",
        action="append",
        dest="trusted_control_points",
        help="an address allowed to manage every mapping (e.g. Home Assistant's); repeatable",
    )
    add(
        "--trust-gateway-host",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="trust this host's own LAN addresses (Home Assistant on the same host) like "
        "--trusted-control-point (default: on)",
    )
    add(
        "--permission-rule",
        metavar="RULE",
        action="append",
        dest="permission_rules",
        help="'allow|deny EXT-PORTS ADDRESS/BITS INT-PORTS' (miniupnpd's form), tried in order, "
        "first match decides, none = deny; repeatable (default: allow external 1024-65535 to "
        "any port in each LAN subnet)",
    )
    add(
        "--external-ip",
        metavar="IPV4",
        help="report this external address instead of the WAN interface's own",
    )
    add(
        "--max-mappings",
        metavar="N",
        help=f"most mappings the gateway holds in all (default: {DEFAULT_MAX_MAPPINGS})",
    )
    add(
        "--max-mappings-per-client",
        metavar="N",
        help=f"most mappings one LAN device may hold (default: {DEFAULT_MAX_PER_CLIENT})",
    )
    add(
        "--log-level",
        metavar="LEVEL",
        type=str.upper,
        choices=LOG_LEVELS,
        help=f"one of {', '.join(LOG_LEVELS)} (default: INFO)",
    )
    return parser


def options_from_argv(argv: Sequence[str] | None) -> GatewayOptions:
    """Parse and validate the command line; exits with code 2 and one line when it is bad."""
    parser = build_parser()
    given: dict[str, Any] = {
        key: value for key, value in vars(parser.parse_args(argv)).items() if value is not None
    }
    try:
        return parse_options(given)
    except OptionsError as error:
        parser.error(str(error))


async def run(options: GatewayOptions) -> int:
    """Serve until SIGTERM/SIGINT; 0 after a clean stop, 1 when the gateway could not start."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    gateway = Gateway(options)
    try:
        try:
            await gateway.start()
        except GatewayError as error:
            LOG.error("Cannot start: %s", error)
            return EXIT_FAILURE
        await stopping.wait()
    finally:
        await gateway.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The `upnp-gateway` console command."""
    options = options_from_argv(argv)
    logging.basicConfig(
        level=options.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # the level is for our own messages: libraries log every netlink message and HTTP request
    library_level = logging.INFO if options.log_level == "DEBUG" else logging.WARNING
    for library in QUIET_LIBRARIES:
        logging.getLogger(library).setLevel(library_level)
    return asyncio.run(run(options))


if __name__ == "__main__":
    sys.exit(main())
