"""A test lab of network namespaces: LAN clients, the gateway and a WAN host.

Every test that crosses a network builds its own hosts here, so traffic never leaves this machine
(documentation ranges on the WAN side, a private range only inside the namespaces). Names carry the
test process's PID and a counter, so parallel runs never share a namespace; `close` removes what
`build` made, even after a failure, and ends only the processes the lab started.

    LAN clients (lan1, lan2, …) ── bridge lan0 ┐
                                             gateway ── wan0 ─── WAN host
"""

from __future__ import annotations

import contextlib
import itertools
import os
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

LAN_PREFIX = "192.168.50"
LAN_GATEWAY = f"{LAN_PREFIX}.1"
WAN_GATEWAY = "203.0.113.1"  # the gateway's external address (RFC 5737)
WAN_HOST = "203.0.113.2"
LAN_INTERFACE = "lan0"  # the gateway's LAN bridge
WAN_INTERFACE = "wan0"

_counter = itertools.count(1)


class LabUnavailableError(RuntimeError):
    """This machine cannot build network namespaces (not root, or no iproute2)."""


def lab_unavailable_reason() -> str | None:
    """Why a lab cannot be built here, or None when it can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    probe = f"ugw{os.getpid()}probe"
    made = subprocess.run(
        ["ip", "netns", "add", probe], capture_output=True, text=True, check=False
    )
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], check=False)
    return None


@dataclass(frozen=True)
class Host:
    """One namespace of the lab and its address on its network."""

    namespace: str
    address: str


@dataclass
class Lab:
    """The built lab; use `run`/`start` to act inside a host."""

    gateway: Host
    wan: Host
    lan: list[Host]
    _namespaces: list[str] = field(default_factory=list)
    _processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def run(
        self,
        host: Host,
        *command: str,
        check: bool = True,
        timeout: float = 30,
        input_text: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside a host and wait for it (bounded by `timeout`)."""
        return subprocess.run(
            ["ip", "netns", "exec", host.namespace, *command],
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
            input=input_text,
        )

    def start(
        self, host: Host, *command: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]:
        """Start a long-running command inside a host; `close` ends it if the test did not."""
        process = subprocess.Popen(
            ["ip", "netns", "exec", host.namespace, *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        self._processes.append(process)
        return process

    def close(self) -> None:
        """End the processes the lab started, then delete its namespaces."""
        for process in self._processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=5)
            if process.stdout is not None:
                process.stdout.close()
        for namespace in reversed(self._namespaces):
            subprocess.run(["ip", "netns", "del", namespace], check=False)


def _ip(*args: str, namespace: str | None = None) -> None:
    command = ["ip", *args] if namespace is None else ["ip", "-n", namespace, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LabUnavailableError(f"{' '.join(command)}: {done.stderr.strip()}")


def _sysctl(namespace: str, setting: str) -> None:
    subprocess.run(
        ["ip", "netns", "exec", namespace, "sysctl", "-qw", setting],
        check=True,
        capture_output=True,
    )


def _veth(tag: str, namespace_a: str, name_a: str, namespace_b: str, name_b: str) -> None:
    """A veth pair between two namespaces, made under unique names and renamed inside."""
    temporary_a, temporary_b = f"{tag}a", f"{tag}b"
    _ip("link", "add", temporary_a, "type", "veth", "peer", "name", temporary_b)
    _ip("link", "set", temporary_a, "netns", namespace_a)
    _ip("link", "set", temporary_b, "netns", namespace_b)
    _ip("link", "set", temporary_a, "name", name_a, namespace=namespace_a)
    _ip("link", "set", temporary_b, "name", name_b, namespace=namespace_b)


def build(lan_clients: int = 1) -> Lab:
    """Build the lab; the caller must `close` it (see `lab`)."""
    run_id = f"ugw{os.getpid()}x{next(_counter)}"
    gateway = Host(f"{run_id}-gw", WAN_GATEWAY)
    wan = Host(f"{run_id}-wan", WAN_HOST)
    lan = [Host(f"{run_id}-lan{n}", f"{LAN_PREFIX}.{9 + n}") for n in range(1, lan_clients + 1)]
    built = Lab(gateway=gateway, wan=wan, lan=lan)
    try:
        for host in (gateway, wan, *lan):
            _ip("netns", "add", host.namespace)
            built._namespaces.append(host.namespace)
            _ip("link", "set", "lo", "up", namespace=host.namespace)
        _sysctl(gateway.namespace, "net.ipv4.ip_forward=1")

        _veth(f"{run_id}w", gateway.namespace, WAN_INTERFACE, wan.namespace, "eth0")
        _ip("addr", "add", f"{WAN_GATEWAY}/24", "dev", WAN_INTERFACE, namespace=gateway.namespace)
        _ip("link", "set", WAN_INTERFACE, "up", namespace=gateway.namespace)
        _ip("addr", "add", f"{WAN_HOST}/24", "dev", "eth0", namespace=wan.namespace)
        _ip("link", "set", "eth0", "up", namespace=wan.namespace)
        _ip("route", "add", "default", "via", WAN_HOST, namespace=gateway.namespace)

        _ip("link", "add", LAN_INTERFACE, "type", "bridge", namespace=gateway.namespace)
        _ip("addr", "add", f"{LAN_GATEWAY}/24", "dev", LAN_INTERFACE, namespace=gateway.namespace)
        _ip("link", "set", LAN_INTERFACE, "up", namespace=gateway.namespace)
        for index, host in enumerate(lan, start=1):
            port = f"port{index}"
            _veth(f"{run_id}l{index}", gateway.namespace, port, host.namespace, "eth0")
            _ip("link", "set", port, "master", LAN_INTERFACE, namespace=gateway.namespace)
            _ip("link", "set", port, "up", namespace=gateway.namespace)
            _ip("addr", "add", f"{host.address}/24", "dev", "eth0", namespace=host.namespace)
            _ip("link", "set", "eth0", "up", namespace=host.namespace)
            _ip("route", "add", "default", "via", LAN_GATEWAY, namespace=host.namespace)
    except BaseException:
        built.close()
        raise
    return built


@contextlib.contextmanager
def lab(lan_clients: int = 1) -> Iterator[Lab]:
    """A lab that is always torn down, whatever the test did."""
    built = build(lan_clients)
    try:
        yield built
    finally:
        built.close()


def output_lines(process: subprocess.Popen[str], timeout: float = 10) -> Iterator[str]:
    """The lines a started process prints from now on, as they come, for `timeout` seconds at most.

    Reads the pipe's bytes directly: a buffered readline could hold a second line back where
    select() does not see it. Bytes past the last line handed out wait for the next call.
    """
    assert process.stdout is not None
    descriptor = process.stdout.fileno()
    pending = _unread.setdefault(process.pid, bytearray())
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(descriptor, selectors.EVENT_READ)
        while True:
            while b"\n" in pending:
                line, _, rest = bytes(pending).partition(b"\n")
                pending[:] = rest
                yield line.decode(errors="replace")
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(timeout=left):
                return
            chunk = os.read(descriptor, 65536)
            if not chunk:
                return
            pending += chunk


_unread: dict[int, bytearray] = {}  # per process: bytes read past the last line handed out


def wait_for_output(
    process: subprocess.Popen[str], needles: Sequence[str], timeout: float = 10
) -> str:
    """Read a started process's output until one of `needles` shows up; the text read so far."""
    seen = ""
    for line in output_lines(process, timeout):
        seen += line + "\n"
        if any(needle in line for needle in needles):
            return seen
    raise TimeoutError(f"none of {list(needles)} within {timeout}s; output so far:\n{seen}")
