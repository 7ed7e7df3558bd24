"""The daemon with the iptables backend in the lab's gateway, and what `auto` picks.

`upnp-gateway --backend iptables` runs in the gateway namespace, upnpc on the LAN client (with
`-i`, as in test_igd_e2e.py), and the WAN host connects through the mappings. `auto` is watched
through the daemon's own `open_backend`, run in the gateway namespace by a small script.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.e2e.gateway_support import WAIT, start_daemon
from tests.e2e.nft_driver import ADDON
from tests.e2e.traffic_support import connect, listen, send_udp
from tests.lab import WAN_GATEWAY, Lab, wait_for_output

OUR_TABLE = "upnp_gateway"  # the nftables backend's


def upnpc(lab: Lab, *arguments: str) -> str:
    return lab.run(lab.lan[0], "upnpc", "-i", *arguments, timeout=WAIT).stdout


def kernel_rules(lab: Lab) -> str:
    return lab.run(lab.gateway, "iptables-save", "-t", "nat").stdout


def test_a_mapping_carries_tcp_and_udp_from_the_wan_until_deleted(
    netlab: Lab, tmp_path: Path
) -> None:
    start_daemon(netlab, tmp_path, "--backend", "iptables")  # the later --backend wins
    client = netlab.lan[0]
    listener = listen(netlab, client, 8000)

    added_tcp = upnpc(netlab, "-e", "test", "-a", client.address, "8000", "18000", "TCP")
    upnpc(netlab, "-e", "test", "-a", client.address, "8000", "18000", "UDP")
    answer = connect(netlab, 18000)
    tcp_seen = wait_for_output(listener, ["tcp from"])
    send_udp(netlab, netlab.wan, WAN_GATEWAY, 18000)
    udp_seen = wait_for_output(listener, ["udp from"])
    listed = upnpc(netlab, "-l")

    assert "is redirected to internal" in added_tcp
    assert answer == "hello over TCP"
    assert f"tcp from {netlab.wan.address}" in tcp_seen
    assert f"udp from {netlab.wan.address}" in udp_seen
    assert f"TCP 18000->{client.address}:8000  'test'" in listed
    assert f"UDP 18000->{client.address}:8000  'test'" in listed
    assert f"--dport 18000 -j DNAT --to-destination {client.address}:8000" in kernel_rules(netlab)
    nft = netlab.run(netlab.gateway, "nft", "list", "tables").stdout
    assert f"table ip {OUR_TABLE}" not in nft  # iptables-nft's own tables only

    upnpc(netlab, "-d", "18000", "TCP")

    assert connect(netlab, 18000) == "ConnectionRefusedError"
    assert "TCP 18000" not in upnpc(netlab, "-l")
    assert "-p tcp -m tcp --dport 18000" not in kernel_rules(netlab)


OPEN_BACKEND = """
import asyncio, ctypes.util, logging, sys
from igd.backends import libnftables
from igd.daemon import GatewayError, open_backend
from igd.options import parse_options

logging.basicConfig(stream=sys.stdout, format="%(levelname)s %(message)s")
if "--without-libnftables" in sys.argv:
    ctypes.util.find_library = lambda name: None
    libnftables.SONAME = "libnftables-not-installed.so.0"

async def main() -> None:
    raw = {"backend": sys.argv[1], "wan_interface": "wan0", "lan_interfaces": ["lan0"]}
    try:
        backend = await open_backend(parse_options(raw))
    except GatewayError as error:
        print("GatewayError", error)
        return
    print("backend", backend.name)
    await backend.stop()

asyncio.run(main())
"""
WITHOUT_NET_ADMIN = ("setpriv", "--bounding-set=-net_admin")  # as a container may be


def open_backend_in(lab: Lab, backend: str, *flags: str, prefix: tuple[str, ...] = ()) -> str:
    """What the daemon's open_backend does in the gateway namespace: its output and logs."""
    python = ("env", f"PYTHONPATH={ADDON}", sys.executable, "-c", OPEN_BACKEND, backend, *flags)
    return lab.run(lab.gateway, *prefix, *python).stdout


def test_auto_takes_nftables_where_the_kernel_takes_its_table(netlab: Lab) -> None:
    output = open_backend_in(netlab, "auto")

    assert output == "backend nftables\n"  # no warning either
    assert f"table ip {OUR_TABLE}" in netlab.run(netlab.gateway, "nft", "list", "tables").stdout


def test_auto_takes_iptables_without_libnftables_and_says_why(netlab: Lab) -> None:
    output = open_backend_in(netlab, "auto", "--without-libnftables")

    assert "WARNING using the iptables backend (nftables: libnftables is not installed" in output
    assert output.endswith("backend iptables\n")
    assert "-j UPNPGW-PREROUTING" in kernel_rules(netlab)


def test_auto_falls_back_to_memory_when_no_kernel_backend_starts(netlab: Lab) -> None:
    output = open_backend_in(netlab, "auto", prefix=WITHOUT_NET_ADMIN)

    assert "WARNING no kernel NAT backend (nftables: " in output
    assert "; iptables: iptables-" in output
    assert output.endswith("backend memory\n")


@pytest.mark.parametrize("backend", ["nftables", "iptables"])
def test_a_kernel_backend_asked_for_by_name_does_not_fall_back(netlab: Lab, backend: str) -> None:
    output = open_backend_in(netlab, backend, prefix=WITHOUT_NET_ADMIN)

    assert output.startswith(f"GatewayError {backend} backend unavailable: ")


def test_the_daemon_with_iptables_and_no_net_admin_exits_saying_why(
    netlab: Lab, tmp_path: Path
) -> None:
    daemon = (sys.executable, "-m", "igd", "--backend", "iptables", "--wan-interface", "wan0")
    done = netlab.run(
        netlab.gateway,
        *WITHOUT_NET_ADMIN,
        "env",
        f"PYTHONPATH={ADDON}",
        *daemon,
        "--lan-interface",
        "lan0",
        "--data-dir",
        str(tmp_path),
        check=False,
        timeout=WAIT,
    )

    assert done.returncode != 0
    assert "iptables backend unavailable" in done.stdout + done.stderr
