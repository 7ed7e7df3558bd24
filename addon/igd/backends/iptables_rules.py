"""The iptables backend's rules as text: what iptables-restore reads and iptables-save shows.

Nothing here runs a command: it names our chains, writes the rule spec of a mapping in each of
them, and reads our mappings and our hooks back from `iptables-save`. The same spec serves to add
a rule (`-A`) and to delete exactly that rule (`-D`), so a spec must be written the same way for
the life of a rule: the functions below are its only writers.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from igd.core.nat import TCP, UDP, NatError, Redirect, check_redirect

NAT = "nat"
FILTER = "filter"
PREROUTING = "UPNPGW-PREROUTING"  # nat: DNAT, one rule a mapping
POSTROUTING = "UPNPGW-POSTROUTING"  # nat: port-triggering symmetry, one rule an internal end
FORWARD = "UPNPGW-FORWARD"  # filter: sorts out the flows we DNATed
FLOWS = "UPNPGW-FLOWS"  # filter: one rule a mapping, on the conntrack tuple
MAPPED = "UPNPGW-MAPPED"  # filter: the gate, then mark and accept
OUR_CHAINS = {NAT: (PREROUTING, POSTROUTING), FILTER: (FORWARD, FLOWS, MAPPED)}
# The same conntrack bit as the nftables backend's ("forwarded by our mappings"), for the same
# reason: clear of the bits kube-proxy, Calico, Tailscale and wg-quick use.
MAPPED_MARK = 0x2000
IPTABLES_PROTOCOLS = {TCP: "tcp", UDP: "udp"}
PROTOCOLS = {name: protocol for protocol, name in IPTABLES_PROTOCOLS.items()}

type RuleKey = tuple[str, str, int]  # RemoteHost, protocol, ExternalPort: what a packet matches
type InternalEnd = tuple[str, str, int]  # InternalClient, protocol, InternalPort
type Hook = tuple[str, str, str]  # table, built-in chain, rule spec


def rule_key(redirect: Redirect) -> RuleKey:
    return (redirect.remote_host, redirect.protocol, redirect.external_port)


def internal_end(redirect: Redirect) -> InternalEnd:
    return (redirect.internal_client, redirect.protocol, redirect.internal_port)


def hooks(wan_interface: str) -> list[Hook]:
    """The jumps into our chains, each put first in its built-in chain."""
    return [
        (NAT, "PREROUTING", f"-i {wan_interface} -m addrtype --dst-type LOCAL -j {PREROUTING}"),
        (NAT, "POSTROUTING", f"-o {wan_interface} -j {POSTROUTING}"),
        (FILTER, "FORWARD", f"-j {FORWARD}"),
    ]


def dnat_rule(redirect: Redirect) -> str:
    remote = f"-s {redirect.remote_host} " if redirect.remote_host else ""
    return (
        f"{remote}-p {IPTABLES_PROTOCOLS[redirect.protocol]} --dport {redirect.external_port} "
        f"-j DNAT --to-destination {redirect.internal_client}:{redirect.internal_port}"
    )


def flow_rule(redirect: Redirect) -> str:
    """The mapping's flow by its conntrack tuple, which names it whichever way a packet goes."""
    remote = f"--ctorigsrc {redirect.remote_host} " if redirect.remote_host else ""
    return (
        f"-m conntrack --ctproto {IPTABLES_PROTOCOLS[redirect.protocol]} {remote}"
        f"--ctorigdstport {redirect.external_port} --ctreplsrc {redirect.internal_client} "
        f"--ctreplsrcport {redirect.internal_port} -j {MAPPED}"
    )


def symmetry_rule(end: InternalEnd, external_port: int) -> str:
    """InternalClient:InternalPort leaves from ExternalPort (5.6.16)."""
    client, protocol, port = end
    name = IPTABLES_PROTOCOLS[protocol]
    return f"-s {client} -p {name} --sport {port} -j MASQUERADE --to-ports {external_port}"


def forward_rules() -> list[str]:
    """Flows nobody DNATed leave at once; ours no mapping matches any more are dropped."""
    return [
        "-m conntrack ! --ctstate DNAT -j RETURN",
        f"-j {FLOWS}",
        f"-m connmark --mark {MAPPED_MARK:#x}/{MAPPED_MARK:#x} -j DROP",
    ]


def mapped_rules(forwarding: bool) -> list[str]:
    gate = [] if forwarding else ["-j DROP"]
    return [*gate, f"-j CONNMARK --set-xmark {MAPPED_MARK:#x}/{MAPPED_MARK:#x}", "-j ACCEPT"]


def dnat_order(redirects: Iterable[Redirect]) -> list[Redirect]:
    """RemoteHost-specific mappings first: they win over a wildcard on the same port."""
    return sorted(redirects, key=lambda redirect: (not redirect.remote_host, redirect))


def source_port(sharing: Iterable[Redirect]) -> int | None:
    """The ExternalPort an internal end leaves from: the lowest of its mappings' (5.6.16)."""
    return min((redirect.external_port for redirect in sharing), default=None)


def restore_input(sections: dict[str, list[str]]) -> str:
    """iptables-restore's input: one section a table with lines, nat before filter."""
    text = []
    for table in (NAT, FILTER):
        if sections.get(table):
            text += [f"*{table}", *sections[table], "COMMIT"]
    return "\n".join(text) + "\n" if text else ""


def saved_tables(save_output: str) -> dict[str, list[str]]:
    """iptables-save's rule lines (`-A CHAIN ...`) by table."""
    tables: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in save_output.splitlines():
        if line.startswith("*"):
            lines = tables.setdefault(line[1:].strip(), [])
        elif line.startswith("-A "):
            lines.append(line)
    return tables


def hook_deletions(rules: Sequence[str]) -> list[str]:
    """`-D` lines for every jump into our chains from a chain not ours (a table's rules)."""
    ours = {chain for chains in OUR_CHAINS.values() for chain in chains}
    deletions = []
    for line in rules:
        words = line.split()
        if words[1] not in ours and words[-2:-1] == ["-j"] and words[-1] in ours:
            deletions.append("-D " + line.removeprefix("-A "))
    return deletions


def saved_redirects(nat_rules: Sequence[str]) -> list[Redirect]:
    """The mappings in our DNAT chain as iptables-save shows them; other rules are skipped."""
    redirects = []
    for line in nat_rules:
        words = line.split()
        if words[1] != PREROUTING or "!" in words:
            continue
        options = dict(itertools.pairwise(words))  # each word: the next one
        if options.get("-j") != "DNAT" or options.get("-p") not in PROTOCOLS:
            continue
        client, _, port = options.get("--to-destination", "").partition(":")
        remote = options.get("-s", "").removesuffix("/32")
        try:
            redirect = Redirect(
                PROTOCOLS[options["-p"]], int(options["--dport"]), client, int(port), remote
            )
            check_redirect(redirect)
        except (KeyError, ValueError, NatError):
            continue
        redirects.append(redirect)
    return redirects
