"""The nftables change watcher in the lab's gateway: other programs' changes count, ours do not.

This is what lets the 729 check list the other tables only after one changed (host_ports.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.lab import Lab

DRIVER = Path(__file__).with_name("nft_changes_driver.py")
OURS = "upnp_gateway"  # the driver's own table and chain, as the backends name theirs
OUR_CHAIN = "UPNPGW-PREROUTING"


def judged(lab: Lab, *commands: list[str], small_buffer: bool = False) -> list[bool]:
    """The watcher's verdict before the first command, then after each."""
    extra = ["--small-buffer"] if small_buffer else []
    done = lab.run(lab.gateway, sys.executable, str(DRIVER), json.dumps(commands), *extra)
    verdicts: list[bool] = json.loads(done.stdout)
    return verdicts


def nft(*words: str) -> list[str]:
    return ["nft", *words]


def test_changes_to_our_own_table_are_not_foreign(netlab: Lab) -> None:
    verdicts = judged(
        netlab,
        nft("add table ip", OURS),
        nft("add map ip", OURS, "ports { type inet_service : ipv4_addr; }"),
        nft("add element ip", OURS, "ports { 18000 : 192.168.50.10 }"),
        nft("delete element ip", OURS, "ports { 18000 }"),
        nft("delete table ip", OURS),
    )

    assert verdicts == [False] * 6


def test_another_ipv4_table_changing_is_foreign_once(netlab: Lab) -> None:
    verdicts = judged(
        netlab,
        nft("add table ip other"),
        nft("add chain ip other pre { type nat hook prerouting priority -100; }"),
        nft("add rule ip other pre tcp dport 18600 dnat to 192.168.50.30:80"),
        nft("list ruleset"),  # a read changes nothing
        nft("add table inet filter2"),
        nft("flush table ip other"),
    )

    assert verdicts == [False, True, True, True, False, True, True]


def test_tables_that_see_no_ipv4_are_ignored(netlab: Lab) -> None:
    verdicts = judged(
        netlab,
        nft("add table ip6 six"),
        nft("add chain ip6 six pre { type nat hook prerouting priority -100; }"),
        nft("add table bridge br"),
        nft("add table ip", OURS),  # an ip table named as ours, but in another family is not
        nft("add table inet", OURS),
    )

    assert verdicts == [False, False, False, False, False, True]


def test_iptables_rules_in_our_own_chains_are_ours(netlab: Lab) -> None:
    rule = ["-p", "tcp", "--dport", "18700", "-j", "DNAT", "--to-destination", "192.168.50.30"]
    verdicts = judged(
        netlab,
        ["iptables", "-t", "nat", "-N", OUR_CHAIN],
        ["iptables", "-t", "nat", "-A", OUR_CHAIN, *rule],
        ["iptables", "-t", "nat", "-D", OUR_CHAIN, *rule],
        ["iptables", "-t", "nat", "-A", "PREROUTING", *rule],
    )

    assert verdicts[2:] == [False, False, True]  # making the chain may create the nat table


def test_a_lost_message_counts_as_a_change(netlab: Lab) -> None:
    burst = [nft("add table ip", OURS)] + [
        nft("add chain ip", OURS, f"c{index}") for index in range(40)
    ]

    script = "; ".join(" ".join(command) for command in burst)
    verdicts = judged(netlab, burst[0], ["sh", "-c", script], small_buffer=True)

    # our own changes only, but more than the queue holds: the watcher cannot tell, so it says so
    assert verdicts == [False, False, True]
