"""Keeps OpenSSL out of the daemon's process: it never speaks TLS.

UPnP control, descriptions and events travel over plain HTTP on the LAN (GENA callbacks must be
http:// URLs, gena_messages.py). Yet asyncio and aiohttp import `ssl`, and hashlib its OpenSSL
backend, whenever they can: that maps libcrypto and builds OpenSSL's tables, about 9 MB of the
64 MB the daemon may use with 10,000 mappings. Each of them does without when the import fails
(hashlib then uses its built-in hashes), so the daemon's entry point imports this module before
anything imports asyncio, and the imports fail (a None in sys.modules refuses the import). A
process that has loaded ssl already, such as a test run, is left as it is.
"""

import sys

BLOCKED = ("ssl", "_hashlib")

if "ssl" not in sys.modules:
    for _name in BLOCKED:
        sys.modules[_name] = None  # type: ignore[assignment]
