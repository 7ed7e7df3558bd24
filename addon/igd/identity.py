"""The gateway's persistent identity: its device UUID and the BOOTID of each start.

Control points remember a gateway by its UDN, so the UUID is made once and kept in the data
directory across restarts and upgrades (igd2-device.md 1). BOOTID.UPNP.ORG must grow with each
boot (3.5): ours is the Unix time at start, but never less than the last one plus one, so a clock
set back does not make it go backwards.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

IDENTITY_FILE = "device.json"
MAX_BOOT_ID = 2**31 - 1  # UDA 1.1 1.2: BOOTID.UPNP.ORG is a non-negative 31-bit integer


class IdentityError(OSError):
    """The identity file cannot be read or written."""


@dataclass(frozen=True, slots=True)
class BootIdentity:
    """The device UUID and this start's BOOTID."""

    device_uuid: uuid.UUID
    boot_id: int


def start_boot(data_dir: Path, now: float | None = None) -> BootIdentity:
    """Read (or create) the identity in `data_dir`, count one more boot and store it atomically."""
    path = data_dir / IDENTITY_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        stored = json.loads(path.read_text()) if path.exists() else {}
        device_uuid = uuid.UUID(stored["uuid"]) if "uuid" in stored else uuid.uuid4()
        last_boot = int(stored.get("boot_id", 0))
    except (OSError, ValueError, TypeError, AttributeError) as error:
        raise IdentityError(f"cannot use {path}: {error}") from error
    boot_id = int(time.time() if now is None else now)
    boot_id = max(boot_id, last_boot + 1)
    if boot_id > MAX_BOOT_ID:  # after 2038, or a clock far ahead once: start counting again
        boot_id = 1
    temporary = path.with_name(f".{IDENTITY_FILE}.tmp")
    try:
        temporary.write_text(json.dumps({"uuid": str(device_uuid), "boot_id": boot_id}))
        temporary.replace(path)
    except OSError as error:
        raise IdentityError(f"cannot write {path}: {error}") from error
    return BootIdentity(device_uuid=device_uuid, boot_id=boot_id)
