"""Runs in a lab namespace: commands from argv (a JSON list of argv lists), `changed()` after each.

Prints one JSON list of booleans: whether the watcher judged a foreign change after each command.
`--small-buffer` shrinks the socket's queue so that a burst overflows it.
"""

from __future__ import annotations

import json
import subprocess
import sys

from igd import nft_changes

OWN_TABLE = "upnp_gateway"
OWN_CHAINS = frozenset({"UPNPGW-PREROUTING"})


def main() -> None:
    if "--small-buffer" in sys.argv:
        nft_changes.RECEIVE_BUFFER_BYTES = 1  # the kernel raises it to its minimum
    commands: list[list[str]] = json.loads(sys.argv[1])
    watcher = nft_changes.NftablesChanges(own_table=OWN_TABLE, own_chains=OWN_CHAINS)
    try:
        judged = [watcher.changed()]
        for command in commands:
            subprocess.run(command, check=True, capture_output=True, timeout=30)
            judged.append(watcher.changed())
    finally:
        watcher.close()
    print(json.dumps(judged), flush=True)


if __name__ == "__main__":
    main()
