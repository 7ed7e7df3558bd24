"""Tell Home Assistant, through the Supervisor, where the gateway is; take it back when it stops.

`announce` waits until the daemon serves its description, then posts
`{"service": "upnp_gateway", "config": {"host", "port", "description_url"}}` to the Supervisor's
/discovery (no API role needed; config.yaml lists the service under `discovery`), which hands it
to the integration's async_step_hassio. The uuid the Supervisor answers is kept in the data
folder; `withdraw` (the service's finish script) deletes /discovery/<uuid>.

The Supervisor keeps one message per add-on and service and updates it on a new post, so a
restart after a crash (no withdraw) leaves nothing stale behind.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
import time
import urllib.error
import urllib.request
from contextlib import suppress
from pathlib import Path
from typing import Any

from addon_options import AddonOptionsError, advertised_location, data_dir, load_options
from healthcheck import description_answers

SERVICE = "upnp_gateway"  # the integration's domain, listed under `discovery` in config.yaml
SUPERVISOR_API_VARIABLE = "SUPERVISOR_API"  # as bashio names it; the tests point it elsewhere
DEFAULT_SUPERVISOR_API = "http://supervisor"
TOKEN_VARIABLE = "SUPERVISOR_TOKEN"  # noqa: S105 - where the token is, not a token
STATE_FILE = "supervisor-discovery.json"
READY_TIMEOUT = 120.0  # seconds the daemon may take to serve its description
POLL_INTERVAL = 0.5  # seconds between two looks at the description
REQUEST_TIMEOUT = 3.0  # seconds; s6 gives the finish script 5 in all

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class SupervisorError(Exception):
    """The Supervisor could not be reached or refused the request."""


class NotAnnouncedError(Exception):
    """The discovery was not posted; the message says why."""


def _say(message: str) -> None:
    print(f"upnp-gateway discovery: {message}", file=sys.stderr, flush=True)


def _supervisor(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One call to the Supervisor's API; its `data`, or SupervisorError."""
    api = os.environ.get(SUPERVISOR_API_VARIABLE) or DEFAULT_SUPERVISOR_API
    request = urllib.request.Request(  # noqa: S310 - the URL is the Supervisor's, by design
        api.rstrip("/") + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {os.environ.get(TOKEN_VARIABLE, '')}",
            "Content-Type": "application/json",
        },
    )
    try:
        with _OPENER.open(request, timeout=REQUEST_TIMEOUT) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raise SupervisorError(f"{method} {path}: {error.code} {_reason(error)}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise SupervisorError(f"{method} {path}: {error}") from None
    data = answer.get("data") if isinstance(answer, dict) else None
    return data if isinstance(data, dict) else {}


def _reason(error: urllib.error.HTTPError) -> str:
    """The Supervisor's own message for a refusal, when it gave one."""
    with suppress(ValueError, OSError):
        message = json.loads(error.read()).get("message")
        if message:
            return str(message)
    return str(error.reason)


def _daemon_gone(pidfd: int, wait: float) -> bool:
    """Whether the daemon has exited, waiting up to `wait` seconds for it to do so."""
    readable, _, _ = select.select([pidfd], [], [], wait)
    return bool(readable)


def _wait_until_served(url: str, pidfd: int) -> None:
    """Return once the description at `url` answers, or raise NotAnnouncedError."""
    deadline = time.monotonic() + READY_TIMEOUT
    while not description_answers(url):
        if _daemon_gone(pidfd, POLL_INTERVAL):
            raise NotAnnouncedError("the gateway stopped before it served")
        if time.monotonic() > deadline:
            raise NotAnnouncedError(f"no answer from {url} within {READY_TIMEOUT:.0f} s")


def _post(host: str, port: int, url: str) -> str:
    """Post the discovery message; the uuid the Supervisor gave it."""
    message = {
        "service": SERVICE,
        "config": {"host": host, "port": port, "description_url": url},
    }
    try:
        uuid = str(_supervisor("POST", "/discovery", message).get("uuid") or "")
    except SupervisorError as error:
        raise NotAnnouncedError(f"the Supervisor did not take the discovery: {error}") from None
    if not uuid:
        raise NotAnnouncedError("the Supervisor answered without a discovery uuid")
    return uuid


def _remember(folder: Path, uuid: str) -> None:
    """Keep the uuid for `withdraw` (written whole, or not at all)."""
    unfinished = folder / f"{STATE_FILE}.{os.getpid()}"
    try:
        unfinished.write_text(json.dumps({"uuid": uuid}), encoding="utf-8")
        unfinished.replace(folder / STATE_FILE)
    except OSError as error:  # posted, but `withdraw` will not find it: the next post replaces it
        raise NotAnnouncedError(f"discovery {uuid} posted but not kept: {error}") from None


def announce(daemon_pid: int) -> int:
    """Post the discovery once the daemon answers; 0 when done or not under a Supervisor."""
    if not os.environ.get(TOKEN_VARIABLE):
        _say(f"{TOKEN_VARIABLE} is not set (not under the Supervisor): nothing to announce")
        return 0
    folder = data_dir()
    try:
        host, port, url = advertised_location(load_options(folder))
        pidfd = os.pidfd_open(daemon_pid)
    except (AddonOptionsError, OSError) as error:
        _say(f"not announcing: {error}")
        return 1
    try:
        _wait_until_served(url, pidfd)
        uuid = _post(host, port, url)
        _remember(folder, uuid)
        _say(f"Home Assistant can now set up {url} (discovery {uuid})")
        # The daemon may have stopped, and `finish` run, while we posted: take it back here.
        stopped_meanwhile = _daemon_gone(pidfd, 0)
    except NotAnnouncedError as error:
        _say(f"not announcing: {error}")
        return 1
    finally:
        os.close(pidfd)
    return withdraw() if stopped_meanwhile else 0


def withdraw() -> int:
    """Delete the discovery `announce` posted, if any; 0 when nothing is left behind."""
    state = data_dir() / STATE_FILE
    claimed = state.with_name(f"{STATE_FILE}.withdrawing.{os.getpid()}")
    try:
        state.replace(claimed)  # atomic: of two withdrawals, one claims the message
    except FileNotFoundError:
        return 0
    try:
        uuid = str(json.loads(claimed.read_text(encoding="utf-8"))["uuid"])
        _supervisor("DELETE", f"/discovery/{uuid}")
    except (ValueError, KeyError, TypeError, OSError) as error:
        _say(f"unreadable {state.name}, nothing withdrawn: {error}")
        return 1
    except SupervisorError as error:
        _say(f"the Supervisor did not withdraw the discovery: {error}")
        return 1
    finally:
        claimed.unlink(missing_ok=True)
    _say(f"discovery {uuid} withdrawn")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`discovery.py announce --daemon-pid PID` or `discovery.py withdraw`."""
    parser = argparse.ArgumentParser(prog="discovery.py", description=__doc__.splitlines()[0])
    actions = parser.add_subparsers(dest="action", required=True)
    announcing = actions.add_parser("announce", help="post the discovery once the daemon serves")
    announcing.add_argument("--daemon-pid", type=int, required=True, metavar="PID")
    actions.add_parser("withdraw", help="delete the discovery posted before")
    arguments = parser.parse_args(argv)
    if arguments.action == "announce":
        return announce(arguments.daemon_pid)
    return withdraw()


if __name__ == "__main__":
    sys.exit(main())
