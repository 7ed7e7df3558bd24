"""SSDP in the lab: the gateway announces and answers on its LAN bridge, and never on the WAN.

The gateway runs our SsdpServer on lan0 (tests/e2e/ssdp_tool.py serve); control points are
scripts and miniupnpc's `upnpc` in the LAN and WAN namespaces.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from igd.upnp.ssdp import ANSWERS_PER_SOURCE
from tests.e2e import ssdp_tool
from tests.lab import LAN_GATEWAY, LAN_INTERFACE, WAN_GATEWAY, Host, Lab, lab, wait_for_output

TOOL = str(Path(__file__).with_name("ssdp_tool.py"))
LOCATION = f"http://{LAN_GATEWAY}:{ssdp_tool.HTTP_PORT}/rootDesc.xml"
IGD = "urn:schemas-upnp-org:device:InternetGatewayDevice"
WANIP = "urn:schemas-upnp-org:service:WANIPConnection"
R, W, C = ssdp_tool.ROOT, ssdp_tool.WAN_DEVICE, ssdp_tool.CONNECTION_DEVICE
ANNOUNCED = {
    ("upnp:rootdevice", f"{R}::upnp:rootdevice"),
    (R, R),
    (W, W),
    (C, C),
    *((kind, f"{udn}::{kind}") for udn, kind in ssdp_tool.TYPES),
}
ROOT_SEARCH = "upnp:rootdevice"
Message = dict[str, str]


def start_server(netlab: Lab, *options: str) -> subprocess.Popen[str]:
    server = netlab.start(netlab.gateway, sys.executable, TOOL, "serve", LAN_INTERFACE, *options)
    wait_for_output(server, ["ready"])
    return server


def messages(output: str) -> list[Message]:
    return [
        {"FROM": line["from"], **line["headers"]}
        for line in map(json.loads, (text for text in output.splitlines() if text[:1] == "{"))
    ]


def search_all(netlab: Lab, searches: list[tuple[Host, list[str]]]) -> list[list[Message]]:
    """Run searches side by side (each from its own socket); the answers each one got."""
    running = [
        netlab.start(host, sys.executable, TOOL, "search", "--wait", "2", *arguments)
        for host, arguments in searches
    ]
    return [messages(wait_for_output(process, ["done"])) for process in running]


def search(netlab: Lab, host: Host, *arguments: str) -> list[Message]:
    return search_all(netlab, [(host, list(arguments))])[0]


def answered(answers: list[Message]) -> list[tuple[str, str]]:
    return sorted((answer["ST"], answer["USN"]) for answer in answers)


@pytest.fixture(scope="module")
def served_lab(lab_capability: None) -> Iterator[Lab]:
    """One lab with the server running, for tests that only search (each from its own client)."""
    with lab(lan_clients=4) as built:
        start_server(built)
        yield built


def test_start_says_byebye_then_alive_twice_for_every_target(netlab: Lab) -> None:
    client = netlab.lan[0]
    listener = netlab.start(client, sys.executable, TOOL, "listen", client.address, "3")
    wait_for_output(listener, ["listening"])

    start_server(netlab)
    seen = messages(wait_for_output(listener, ["done"]))

    kinds = [message["NTS"] for message in seen]
    byebye = [(m["NT"], m["USN"]) for m in seen if m["NTS"] == "ssdp:byebye"]
    alive = [m for m in seen if m["NTS"] == "ssdp:alive"]
    assert kinds == ["ssdp:byebye"] * len(ANNOUNCED) + ["ssdp:alive"] * 2 * len(ANNOUNCED)
    assert set(byebye) == ANNOUNCED
    assert Counter((m["NT"], m["USN"]) for m in alive) == dict.fromkeys(ANNOUNCED, 2)
    for message in alive:
        assert message["FROM"] == LAN_GATEWAY
        assert message["HOST"] == "239.255.255.250:1900"
        assert message["LOCATION"] == LOCATION
        assert message["CACHE-CONTROL"] == "max-age=1800"
        assert message["SERVER"] == ssdp_tool.SERVER
        assert message["BOOTID.UPNP.ORG"] == str(ssdp_tool.BOOT_ID)
        assert message["CONFIGID.UPNP.ORG"] == str(ssdp_tool.CONFIG_ID)
    assert all("LOCATION" not in m for m in seen if m["NTS"] == "ssdp:byebye")


def test_stop_says_byebye_for_every_target(netlab: Lab) -> None:
    client = netlab.lan[0]
    server = start_server(netlab)
    listener = netlab.start(client, sys.executable, TOOL, "listen", client.address, "2")
    wait_for_output(listener, ["listening"])

    server.terminate()
    wait_for_output(server, ["stopped"])
    seen = messages(wait_for_output(listener, ["done"]))

    assert {(m["NT"], m["USN"]) for m in seen} == ANNOUNCED
    assert {m["NTS"] for m in seen} == {"ssdp:byebye"}
    assert server.wait(timeout=5) == 0


def test_alive_set_is_repeated_within_max_age(netlab: Lab) -> None:
    client = netlab.lan[0]
    listener = netlab.start(client, sys.executable, TOOL, "listen", client.address, "4")
    wait_for_output(listener, ["listening"])

    start_server(netlab, "--max-age", "3")  # refreshed about every second
    seen = messages(wait_for_output(listener, ["done"]))

    alive = Counter((m["NT"], m["USN"]) for m in seen if m["NTS"] == "ssdp:alive")
    assert set(alive) == ANNOUNCED
    assert min(alive.values()) >= 4  # at least two rounds of two copies
    assert {m["CACHE-CONTROL"] for m in seen if m["NTS"] == "ssdp:alive"} == {"max-age=3"}


def test_reannounce_is_byebye_then_alive_with_the_new_ids(netlab: Lab) -> None:
    client = netlab.lan[0]
    server = start_server(netlab)
    listener = netlab.start(client, sys.executable, TOOL, "listen", client.address, "2")
    wait_for_output(listener, ["listening"])

    server.send_signal(signal.SIGHUP)
    wait_for_output(server, ["reannounced"])
    seen = messages(wait_for_output(listener, ["done"]))

    old, new = str(ssdp_tool.BOOT_ID), str(ssdp_tool.BOOT_ID + 1)
    byebye_old = {(m["NT"], m["USN"]) for m in seen if m["BOOTID.UPNP.ORG"] == old}
    alive = [m for m in seen if m["NTS"] == "ssdp:alive"]
    assert byebye_old == ANNOUNCED
    assert {m["NTS"] for m in seen if m["BOOTID.UPNP.ORG"] == old} == {"ssdp:byebye"}
    assert {(m["NT"], m["USN"]) for m in alive} == ANNOUNCED
    assert {m["BOOTID.UPNP.ORG"] for m in alive} == {new}
    assert {m["CONFIGID.UPNP.ORG"] for m in alive} == {str(ssdp_tool.CONFIG_ID + 1)}
    assert search(netlab, client, "--mx", "1", "--target", ROOT_SEARCH)[0]["BOOTID.UPNP.ORG"] == new


def test_each_face_answers_with_its_own_location(netlab: Lab) -> None:
    start_server(netlab, "--v1-face")
    v1_root, v1_igd = ssdp_tool.V1_ROOT, ssdp_tool.V1_IGD
    v1_location = LOCATION.replace("rootDesc.xml", "igd1Desc.xml")

    everything, igd1 = search_all(
        netlab,
        [
            (netlab.lan[0], ["--mx", "1"]),
            (netlab.lan[0], ["--mx", "1", "--target", v1_igd]),
        ],
    )

    v1_targets = {
        ("upnp:rootdevice", f"{v1_root}::upnp:rootdevice"),
        (v1_root, v1_root),
        (v1_igd, f"{v1_root}::{v1_igd}"),
    }
    assert answered(everything) == sorted(ANNOUNCED | v1_targets)
    assert {a["LOCATION"] for a in everything if a["USN"].startswith(v1_root)} == {v1_location}
    assert sorted((a["USN"], a["LOCATION"]) for a in igd1) == sorted(
        [(f"{R}::{v1_igd}", LOCATION), (f"{v1_root}::{v1_igd}", v1_location)]
    )


def test_each_lan_interface_is_served_with_its_own_address(lab_capability: None) -> None:
    with lab(lan_clients=2) as built:
        first, second = built.lan
        for command in (
            "link add lan1 type bridge",
            "addr add 192.168.60.1/24 dev lan1",
            "link set lan1 up",
            "link set port2 nomaster",
            "link set port2 master lan1",
        ):
            built.run(built.gateway, "ip", *command.split())
        built.run(second, "ip", "addr", "flush", "dev", "eth0")
        built.run(second, "ip", "addr", "add", "192.168.60.10/24", "dev", "eth0")
        built.run(second, "ip", "route", "add", "default", "via", "192.168.60.1")
        listener = built.start(second, sys.executable, TOOL, "listen", "192.168.60.10", "2")
        wait_for_output(listener, ["listening"])
        server = built.start(built.gateway, sys.executable, TOOL, "serve", "lan0", "lan1")
        wait_for_output(server, ["ready"])

        on_first, on_second = search_all(
            built,
            [
                (first, ["--mx", "1", "--target", "upnp:rootdevice"]),
                (second, ["--mx", "1", "--target", "upnp:rootdevice"]),
            ],
        )
        announced_on_second = messages(wait_for_output(listener, ["done"]))

    second_location = LOCATION.replace(LAN_GATEWAY, "192.168.60.1")
    assert [(a["FROM"], a["LOCATION"]) for a in on_first] == [(LAN_GATEWAY, LOCATION)]
    assert [(a["FROM"], a["LOCATION"]) for a in on_second] == [("192.168.60.1", second_location)]
    alive = [m for m in announced_on_second if m.get("NTS") == "ssdp:alive"]
    assert {(m["FROM"], m["LOCATION"]) for m in alive} == {("192.168.60.1", second_location)}
    assert len(alive) == 2 * len(ANNOUNCED)


def test_start_fails_when_an_interface_cannot_serve(netlab: Lab) -> None:
    netlab.run(netlab.gateway, "ip", "link", "add", "noaddr0", "type", "bridge")
    netlab.run(netlab.gateway, "ip", "link", "set", "noaddr0", "up")

    for interface in ("noaddr0", "missing0"):
        failed = netlab.run(
            netlab.gateway, sys.executable, TOOL, "serve", LAN_INTERFACE, interface, check=False
        )
        assert failed.returncode != 0
        assert "SsdpError" in failed.stderr
        assert interface in failed.stderr


def test_ssdp_all_gets_one_answer_per_announced_target(served_lab: Lab) -> None:
    answers = search(served_lab, served_lab.lan[0], "--mx", "1", "--copies", "3")

    assert answered(answers) == sorted(ANNOUNCED)
    for answer in answers:
        assert answer["START"] == "HTTP/1.1 200 OK"
        assert answer["FROM"] == LAN_GATEWAY
        assert answer["LOCATION"] == LOCATION
        assert answer["EXT"] == ""
        assert answer["CACHE-CONTROL"] == "max-age=1800"
        assert answer["DATE"].endswith(" GMT")
        assert answer["SERVER"] == ssdp_tool.SERVER
        assert answer["BOOTID.UPNP.ORG"] == str(ssdp_tool.BOOT_ID)
        assert answer["CONFIGID.UPNP.ORG"] == str(ssdp_tool.CONFIG_ID)


SEARCHES = [
    ("upnp:rootdevice", [("upnp:rootdevice", f"{R}::upnp:rootdevice")]),
    (W, [(W, W)]),
    (f"{IGD}:2", [(f"{IGD}:2", f"{R}::{IGD}:2")]),
    (f"{IGD}:1", [(f"{IGD}:1", f"{R}::{IGD}:1")]),  # lower version: the ST asked is echoed
    (f"{WANIP}:1", [(f"{WANIP}:1", f"{C}::{WANIP}:1")]),
    (f"{WANIP}:2", [(f"{WANIP}:2", f"{C}::{WANIP}:2")]),
    (
        "urn:schemas-upnp-org:service:WANPPPConnection:1",  # answered, never announced
        [
            (
                "urn:schemas-upnp-org:service:WANPPPConnection:1",
                f"{C}::urn:schemas-upnp-org:service:WANPPPConnection:1",
            )
        ],
    ),
    (f"{WANIP}:3", []),  # a higher version than ours
    ("urn:schemas-upnp-org:device:MediaServer:1", []),
]


def test_searches_by_target_and_version(served_lab: Lab) -> None:
    client = served_lab.lan[1]
    runs = [(client, ["--mx", "1", "--target", target]) for target, _ in SEARCHES]

    results = search_all(served_lab, runs)

    for (target, expected), answers in zip(SEARCHES, results, strict=True):
        assert answered(answers) == expected, target


def test_unicast_search_without_mx_is_answered(served_lab: Lab) -> None:
    answers = search(served_lab, served_lab.lan[2], "--to", LAN_GATEWAY, "--target", f"{IGD}:1")

    assert answered(answers) == [(f"{IGD}:1", f"{R}::{IGD}:1")]


def test_multicast_search_without_mx_is_answered(served_lab: Lab) -> None:
    answers = search(served_lab, served_lab.lan[2], "--target", "upnp:rootdevice")

    assert answered(answers) == [("upnp:rootdevice", f"{R}::upnp:rootdevice")]


def test_malformed_datagrams_are_ignored_and_searches_still_answered(served_lab: Lab) -> None:
    garbage = [
        "",
        "\\x00\\xff\\xfe",
        "A" * 2000,
        "NOTIFY * HTTP/1.1\\r\\nNT: upnp:rootdevice\\r\\nNTS: ssdp:alive\\r\\n\\r\\n",
        'M-SEARCH * HTTP/1.1\\r\\nMAN: "ssdp:discover"\\r\\n\\r\\n',  # no ST
        "M-SEARCH * HTTP/1.1\\r\\nMAN: ssdp:other\\r\\nST: ssdp:all\\r\\n\\r\\n",
        'M-SEARCH * HTTP/1.1\\r\\nMAN: "ssdp:discover"\\r\\nST: upnp:rootdevice\\r\\n'
        "ST: ssdp:all\\r\\n\\r\\n",
        'M-SEARCH * HTTP/1.1\\r\\nMAN: "ssdp:discover"\\r\\nST: ssdp:all\\xc3\\r\\n\\r\\n',
        "M-SEARCH * HTTP/1.1\\r\\n" + "X: y\\r\\n" * 80 + "\\r\\n",
    ]
    arguments = [f"--garbage={payload}" for payload in garbage]

    answers = search(served_lab, served_lab.lan[3], "--mx", "1", *arguments)

    assert answered(answers) == sorted(ANNOUNCED)


def test_miniupnpc_discovers_the_gateway(served_lab: Lab) -> None:
    found = served_lab.run(served_lab.lan[3], "upnpc", "-i", "-l", check=False, timeout=30)

    assert f"desc: {LOCATION}" in found.stdout
    assert f"st: {IGD}:1" in found.stdout


def test_nothing_is_answered_towards_the_wan(netlab: Lab) -> None:
    start_server(netlab)
    netlab.run(netlab.wan, "ip", "route", "add", "192.168.50.0/24", "via", WAN_GATEWAY)
    wan = netlab.wan

    to_wan_address, to_lan_address, multicast_on_wan, from_lan = search_all(
        netlab,
        [
            (wan, ["--to", WAN_GATEWAY, "--mx", "1"]),
            (wan, ["--to", LAN_GATEWAY, "--mx", "1"]),
            (wan, ["--via", wan.address, "--mx", "1"]),
            (netlab.lan[0], ["--mx", "1", "--target", "upnp:rootdevice"]),
        ],
    )

    assert to_wan_address == []
    assert to_lan_address == []
    assert multicast_on_wan == []
    assert len(from_lan) == 1  # the server is up; only the WAN is refused


def test_sender_outside_the_lan_subnet_is_ignored(netlab: Lab) -> None:
    start_server(netlab)
    client = netlab.lan[0]
    netlab.run(client, "ip", "addr", "add", "10.9.9.9/24", "dev", "eth0")

    foreign, own = search_all(
        netlab,
        [
            (client, ["--bind", "10.9.9.9", "--mx", "1"]),
            (client, ["--bind", client.address, "--mx", "1"]),
        ],
    )

    assert foreign == []
    assert answered(own) == sorted(ANNOUNCED)


def test_answers_per_sender_are_rate_limited(lab_capability: None) -> None:
    with lab(lan_clients=2) as built:
        start_server(built)

        flood, other = search_all(
            built,
            [(built.lan[0], ["--mx", "1", "--senders", "15"]), (built.lan[1], ["--mx", "1"])],
        )

    full_sets = ANSWERS_PER_SOURCE // len(ANNOUNCED)
    assert full_sets < 15
    assert Counter(answered(flood)) == dict.fromkeys(ANNOUNCED, full_sets)
    assert answered(other) == sorted(ANNOUNCED)
