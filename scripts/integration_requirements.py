"""Print the pip requirements of Home Assistant integrations and of everything they depend on.

Usage: python scripts/integration_requirements.py DOMAIN... (run with the environment's own Python).
The integrations Home Assistant always sets up (bootstrap's defaults) are added, so that a
Home Assistant started on this environment installs nothing at start. Domains it does not ship
are skipped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import homeassistant.components
from homeassistant.bootstrap import CORE_INTEGRATIONS, DEFAULT_INTEGRATIONS


def requirements(domains: list[str]) -> list[str]:
    """Requirements of `domains` and their `dependencies`, each once, in a stable order."""
    components = Path(homeassistant.components.__path__[0])
    seen: set[str] = set()
    found: dict[str, None] = {}
    pending = list(domains)
    while pending:
        domain = pending.pop()
        manifest = components / domain / "manifest.json"
        if domain in seen or not manifest.is_file():
            continue
        seen.add(domain)
        data = json.loads(manifest.read_text(encoding="utf-8"))
        found.update(dict.fromkeys(data.get("requirements", [])))
        pending.extend(data.get("dependencies", []))
    return sorted(found)


if __name__ == "__main__":
    print("\n".join(requirements([*CORE_INTEGRATIONS, *DEFAULT_INTEGRATIONS, *sys.argv[1:]])))
