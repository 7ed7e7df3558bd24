"""The running daemon on a hostile network: the WAN gets nothing, the LAN what policy allows.

security-notes.md A1 (WAN), A3 (CallStranger), A5 (3-box), A16 (subscription caps) and 729
(ports the gateway itself or another forwarding rule holds), each against `python -m igd` with
the nftables backend in the lab's gateway.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import ssdp_tool
from tests.e2e.gateway_support import (
    DESCRIPTION,
    EVENTS,
    HTTP_PORT,
    kernel_redirects,
    mapping,
    request,
    soap,
    start_daemon,
)
from tests.e2e.traffic_support import listen
from tests.lab import LAN_GATEWAY, WAN_GATEWAY, Lab, wait_for_output

SSDP_TOOL = str(Path(ssdp_tool.__file__))


@pytest.fixture
def daemon(netlab: Lab, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    yield start_daemon(netlab, tmp_path)


def _subscribe(netlab: Lab, callback: str) -> dict[str, object]:
    headers = {"CALLBACK": f"<{callback}>", "NT": "upnp:event", "TIMEOUT": "Second-1800"}
    return request(netlab, netlab.lan[0], "SUBSCRIBE", EVENTS, headers)


def test_http_soap_and_gena_from_the_wan_are_refused_by_the_kernel(
    netlab: Lab, daemon: subprocess.Popen[str]
) -> None:
    wan = netlab.wan
    # a hostile neighbour on the ISP side routes the LAN's range to our WAN address
    netlab.run(wan, "ip", "route", "add", "192.168.50.0/24", "via", WAN_GATEWAY)

    description = request(netlab, wan, "GET", DESCRIPTION)
    on_wan_address = request(netlab, wan, "GET", f"http://{WAN_GATEWAY}:{HTTP_PORT}/rootDesc.xml")
    subscribe = request(
        netlab,
        wan,
        "SUBSCRIBE",
        EVENTS,
        {"CALLBACK": f"<http://{wan.address}/>", "NT": "upnp:event"},
    )
    add = soap(netlab, wan, "AddPortMapping", **mapping(wan.address, 18000))
    from_lan = request(netlab, netlab.lan[0], "GET", DESCRIPTION)

    assert description == {"status": None, "refused": "ConnectionRefusedError"}
    assert on_wan_address == {"status": None, "refused": "ConnectionRefusedError"}
    assert subscribe == {"status": None, "refused": "ConnectionRefusedError"}
    assert add == {"status": None, "refused": "ConnectionRefusedError"}
    assert from_lan["status"] == 200
    assert kernel_redirects(netlab) == set()


def test_ssdp_searches_from_the_wan_get_no_answer(
    netlab: Lab, daemon: subprocess.Popen[str]
) -> None:
    netlab.run(netlab.wan, "ip", "route", "add", "192.168.50.0/24", "via", WAN_GATEWAY)
    searches = [
        (netlab.wan, ["--to", WAN_GATEWAY]),
        (netlab.wan, ["--to", LAN_GATEWAY]),
        (netlab.wan, ["--via", netlab.wan.address]),
        (netlab.lan[0], []),
    ]
    running = [
        netlab.start(host, sys.executable, SSDP_TOOL, "search", "--wait", "2", "--mx", "1", *where)
        for host, where in searches
    ]
    answers = [
        [line for line in wait_for_output(process, ["done"]).splitlines() if line[:1] == "{"]
        for process in running
    ]

    assert answers[:3] == [[], [], []]
    assert answers[3]  # the daemon answers its LAN


def test_the_gateway_host_is_trusted_and_a_lan_client_is_not(
    netlab: Lab, daemon: subprocess.Popen[str]
) -> None:
    client = netlab.lan[0].address

    for_another = soap(netlab, netlab.lan[0], "AddPortMapping", **mapping("192.168.50.20", 18000))
    from_home_assistant = soap(netlab, netlab.gateway, "AddPortMapping", **mapping(client, 18001))
    termination = soap(netlab, netlab.lan[0], "ForceTermination")

    assert (for_another["status"], for_another["error"]) == (500, 606)
    assert from_home_assistant["status"] == 200
    assert (termination["status"], termination["error"]) == (500, 606)
    assert kernel_redirects(netlab) == {("TCP", 18001, client, 8000)}
    assert "refused: 606 Action not authorized: R1" in wait_for_output(daemon, ["R1"])


def test_without_trust_the_gateway_host_is_an_ordinary_client(netlab: Lab, tmp_path: Path) -> None:
    start_daemon(netlab, tmp_path, "--no-trust-gateway-host")

    refused = soap(
        netlab, netlab.gateway, "AddPortMapping", **mapping(netlab.lan[0].address, 18001)
    )

    assert (refused["status"], refused["error"]) == (500, 606)


def test_a_port_the_gateway_listens_on_is_729(netlab: Lab, daemon: subprocess.Popen[str]) -> None:
    client = netlab.lan[0]
    listen(netlab, netlab.gateway, 18500, "tcp")

    tcp = soap(netlab, client, "AddPortMapping", **mapping(client.address, 18500))
    udp = soap(netlab, client, "AddPortMapping", **mapping(client.address, 18500, "UDP"))
    any_port = soap(netlab, client, "AddAnyPortMapping", **mapping(client.address, 18500))

    assert (tcp["status"], tcp["error"]) == (500, 729)
    assert udp["status"] == 200  # only TCP is listened on
    assert any_port["status"] == 200
    assert "<NewReservedPort>18500</NewReservedPort>" not in str(any_port["body"])
    assert ("TCP", 18500, client.address, 8000) not in kernel_redirects(netlab)
    assert "refused: 729 ConflictWithOtherMechanisms" in wait_for_output(daemon, ["729"])


def test_a_port_another_forwarding_rule_holds_is_729(
    netlab: Lab, daemon: subprocess.Popen[str]
) -> None:
    client = netlab.lan[0]
    gateway = netlab.gateway
    netlab.run(gateway, "nft", "add", "table", "ip", "other")
    netlab.run(gateway, "nft", "add chain ip other pre { type nat hook prerouting priority -100; }")
    netlab.run(gateway, "nft", "add rule ip other pre tcp dport 18600 dnat to 192.168.50.30:80")
    netlab.run(
        gateway,
        *("iptables", "-t", "nat", "-A", "PREROUTING", "-p", "udp", "--dport", "18700"),
        *("-j", "DNAT", "--to-destination", "192.168.50.30:80"),
    )

    nft_rule = soap(netlab, client, "AddPortMapping", **mapping(client.address, 18600))
    iptables_rule = soap(netlab, client, "AddPortMapping", **mapping(client.address, 18700, "UDP"))
    other_protocol = soap(netlab, client, "AddPortMapping", **mapping(client.address, 18600, "UDP"))

    netlab.run(gateway, "nft", "delete", "table", "ip", "other")  # the port is free again
    freed = soap(netlab, client, "AddPortMapping", **mapping(client.address, 18600))

    assert (nft_rule["status"], nft_rule["error"]) == (500, 729)
    assert (iptables_rule["status"], iptables_rule["error"]) == (500, 729)
    assert other_protocol["status"] == 200
    assert freed["status"] == 200
    assert kernel_redirects(netlab) == {
        ("UDP", 18600, client.address, 8000),
        ("TCP", 18600, client.address, 8000),
    }


def test_our_own_rules_are_not_taken_for_another_mechanism(
    netlab: Lab, daemon: subprocess.Popen[str]
) -> None:
    client = netlab.lan[0]
    arguments = mapping(client.address, 18000)

    first = soap(netlab, client, "AddPortMapping", **arguments)
    renewed = soap(netlab, client, "AddPortMapping", **arguments)
    deleted = soap(
        netlab,
        client,
        "DeletePortMapping",
        NewRemoteHost="",
        NewExternalPort=18000,
        NewProtocol="TCP",
    )
    again = soap(netlab, client, "AddPortMapping", **arguments)

    assert [first["status"], renewed["status"], deleted["status"], again["status"]] == [200] * 4


def test_callstranger_callbacks_are_refused(netlab: Lab, daemon: subprocess.Popen[str]) -> None:
    client = netlab.lan[0].address

    to_the_wan = _subscribe(netlab, f"http://{netlab.wan.address}:8000/")
    to_the_gateway = _subscribe(netlab, f"http://{LAN_GATEWAY}:8123/")
    to_itself = _subscribe(netlab, f"http://{client}:8000/")

    assert to_the_wan["status"] == 412
    assert to_the_gateway["status"] == 412
    assert to_itself["status"] == 200


def test_subscriptions_per_client_are_capped(netlab: Lab, daemon: subprocess.Popen[str]) -> None:
    callback = f"http://{netlab.lan[0].address}:8000/"

    statuses = [_subscribe(netlab, callback)["status"] for _ in range(17)]

    assert statuses == [200] * 16 + [503]


def test_a_refused_soap_call_leaves_no_trace(netlab: Lab, daemon: subprocess.Popen[str]) -> None:
    """A multicast InternalClient from a trusted host: 606, and nothing in the kernel (A4)."""
    answer = soap(netlab, netlab.gateway, "AddPortMapping", **mapping("239.255.255.250", 18000))

    assert (answer["status"], answer["error"]) == (500, 606)
    assert kernel_redirects(netlab) == set()
