"""In-process access to libnftables, the library behind the `nft` command, through its JSON API.

One context holds one netlink socket, so a thousand changes cost a thousand messages, not a thousand
processes, and a batch of commands is one kernel transaction. The socket belongs to the network
namespace of the process that created the context.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import threading
from collections.abc import Sequence
from typing import Any

from igd.heap import release_free_heap

type JsonObject = dict[str, Any]

SONAME = "libnftables.so.1"  # what the dynamic loader finds when find_library cannot (musl)
NFT_CTX_DEFAULT = 0  # nftables/libnftables.h
NFT_CTX_OUTPUT_JSON = 1 << 4  # nftables/libnftables.h; JSON input is parsed when this is set
LARGE_BYTES = 1 << 16  # a command or listing this long leaves megabytes freed in the C heap


# Builders of the JSON forms of nft expressions (libnftables-json(5)).
def meta(key: str) -> JsonObject:
    return {"meta": {"key": key}}


def payload(protocol: str, field: str) -> JsonObject:
    return {"payload": {"protocol": protocol, "field": field}}


def ct(key: str, direction: str | None = None) -> JsonObject:
    expression: dict[str, Any] = {"key": key}
    if direction is not None:
        expression["dir"] = direction
    return {"ct": expression}


def match(left: Any, right: Any) -> JsonObject:
    return {"match": {"op": "==", "left": left, "right": right}}


def concat(*parts: Any) -> JsonObject:
    return {"concat": list(parts)}


def has_bit(value: JsonObject, bit: int) -> JsonObject:
    return match({"&": [value, bit]}, bit)


def set_bit(value: JsonObject, bit: int) -> JsonObject:
    return {"mangle": {"key": value, "value": {"|": [value, bit]}}}


class LibnftablesUnavailableError(OSError):
    """libnftables is not installed here, or a context could not be made."""


class LibnftablesError(Exception):
    """libnftables or the kernel refused a command; the text is nft's own error message."""


def _load() -> ctypes.CDLL:
    name = ctypes.util.find_library("nftables") or SONAME
    try:
        library = ctypes.CDLL(name)
    except OSError as error:
        raise LibnftablesUnavailableError(
            f"libnftables is not installed ({error}); "
            "install libnftables1 (Debian) or nftables (Alpine)"
        ) from error
    context = ctypes.c_void_p
    library.nft_ctx_new.argtypes = [ctypes.c_uint32]
    library.nft_ctx_new.restype = context
    library.nft_ctx_free.argtypes = [context]
    library.nft_ctx_free.restype = None
    library.nft_ctx_output_set_flags.argtypes = [context, ctypes.c_uint]
    library.nft_ctx_output_set_flags.restype = None
    for buffering in (library.nft_ctx_buffer_output, library.nft_ctx_buffer_error):
        buffering.argtypes = [context]
        buffering.restype = ctypes.c_int
    for reading in (library.nft_ctx_get_output_buffer, library.nft_ctx_get_error_buffer):
        reading.argtypes = [context]
        reading.restype = ctypes.c_char_p
    library.nft_run_cmd_from_buffer.argtypes = [context, ctypes.c_char_p]
    library.nft_run_cmd_from_buffer.restype = ctypes.c_int
    return library


class Nftables:
    """A libnftables context speaking JSON; callable from any thread, one call at a time.

    A listing leaves the context's cache holding the ruleset it read, every set element included
    (libnftables 1.0.x: about 36 MB for a table of 10,000 mappings, and `list tables` reads ours
    too), until the ruleset next changes; so a listing is followed by a fresh context, which costs
    under a millisecond.
    """

    def __init__(self) -> None:
        self._library = _load()
        self._lock = threading.Lock()
        self._context: int | None = self._new_context()

    def _new_context(self) -> int:
        context: int | None = self._library.nft_ctx_new(NFT_CTX_DEFAULT)
        if not context:
            raise LibnftablesUnavailableError("nft_ctx_new failed (out of memory?)")
        self._library.nft_ctx_output_set_flags(context, NFT_CTX_OUTPUT_JSON)
        if (
            self._library.nft_ctx_buffer_output(context) != 0
            or self._library.nft_ctx_buffer_error(context) != 0
        ):
            self._library.nft_ctx_free(context)
            raise LibnftablesUnavailableError("libnftables could not buffer its output")
        return context

    def run(self, commands: Sequence[JsonObject]) -> list[JsonObject]:
        """Run the commands as one transaction; what they printed (listings), as JSON objects."""
        output = self._execute(json.dumps({"nftables": list(commands)}))
        if not output.strip():
            return []
        printed: list[JsonObject] = json.loads(output)["nftables"]
        return printed

    def run_script(self, script: str) -> None:
        """Run commands in nft's own syntax as one transaction, for what JSON cannot say.

        libnftables reads a buffer that is not JSON with its classic parser. Needed while
        distributions ship 1.0.x, whose JSON parser cannot declare a map with concatenated data.
        """
        self._execute(script)

    def _execute(self, buffer: str) -> bytes:
        data = buffer.encode()
        with self._lock:
            if self._context is None:
                raise LibnftablesError("the libnftables context is closed")
            status = self._library.nft_run_cmd_from_buffer(self._context, data)
            output: bytes = self._library.nft_ctx_get_output_buffer(self._context) or b""
            error: bytes = self._library.nft_ctx_get_error_buffer(self._context) or b""
            if output:  # a listing: drop the cache it filled
                self._library.nft_ctx_free(self._context)
                self._context = None
                try:
                    self._context = self._new_context()
                except LibnftablesUnavailableError as failure:
                    raise LibnftablesError(f"cannot renew the context: {failure}") from failure
        if max(len(data), len(output)) >= LARGE_BYTES:
            release_free_heap()
        if status != 0:
            lines = error.decode(errors="replace").splitlines()
            message = "\n".join(dict.fromkeys(line for line in lines if line.strip()))
            raise LibnftablesError(message or f"status {status}")
        return output

    def close(self) -> None:
        """Free the context and its socket; later `run` calls fail."""
        with self._lock:
            if self._context is not None:
                self._library.nft_ctx_free(self._context)
                self._context = None
