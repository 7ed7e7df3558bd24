"""Is the gateway serving? Its root description answers on the LAN address it announces.

The Dockerfile's HEALTHCHECK runs this (the Supervisor restarts an unhealthy add-on when its
watchdog is on), and discovery.py waits on it before telling Home Assistant where to look.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from addon_options import AddonOptionsError, advertised_location, data_dir, load_options

PROBE_TIMEOUT = 5.0  # seconds; the description is a few kilobytes from this very host

# Never through a proxy: the gateway is on this host.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def description_answers(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether a GET of the description at `url` succeeds."""
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            response.read()
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def main() -> int:
    """0 while the description answers, 1 (and why, on stderr) otherwise."""
    try:
        _host, _port, url = advertised_location(load_options(data_dir()))
    except AddonOptionsError as error:
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1
    if description_answers(url):
        return 0
    print(f"unhealthy: no answer from {url}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
