"""The mappings Home Assistant keeps alive, kept across restarts in `.storage`.

A mapping added with keep_alive stays here, with the lease it was asked for, until a service
deletes it (or adds it again without keep_alive); the lease watch renews each before it ends.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Final

from homeassistant.helpers.storage import Store

from .const import DOMAIN
from .models import PortMapping

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

STORAGE_VERSION: Final = 1


class KeepAliveStore:
    """The keep-alive requests of one config entry, by `PortMapping.key`."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        self._store: Store[list[dict[str, Any]]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.keep_alive"
        )
        self.requests: dict[str, PortMapping] = {}

    async def async_load(self) -> None:
        """Read what an earlier run stored."""
        stored = await self._store.async_load() or []
        self.requests = {
            mapping.key: mapping for mapping in (PortMapping(**item) for item in stored)
        }

    async def async_keep(self, mapping: PortMapping) -> None:
        """Renew `mapping` (its lease_duration is the lease to ask for) from now on."""
        self.requests[mapping.key] = mapping
        await self._async_save()

    async def async_release(self, keys: set[str]) -> None:
        """Stop renewing these mappings."""
        if keys & self.requests.keys():
            for key in keys:
                self.requests.pop(key, None)
            await self._async_save()

    async def async_remove(self) -> None:
        """Forget everything (the config entry is being removed)."""
        await self._store.async_remove()

    async def _async_save(self) -> None:
        await self._store.async_save([asdict(mapping) for mapping in self.requests.values()])
