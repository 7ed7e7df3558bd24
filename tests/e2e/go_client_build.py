"""Builds a Go client driver of tests/clients offline, from Debian's packaged Go source.

Debian ships Go libraries as source under /usr/share/gocode (golang-github-huin-goupnp-dev), so
the driver is built in GOPATH mode with no module download. The binary is cached under
~/.cache/upnp-gateway (UPNP_GATEWAY_CACHE, as scripts/setup), keyed by the driver's source, the
library's source and the Go version: a changed main.go or a new library rebuilds it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

DEBIAN_GOPATH = Path("/usr/share/gocode")
INSTALL_HINT = "apt-get install golang-go golang-github-huin-goupnp-dev (scripts/setup does it)"
BUILD_SECONDS = 600  # a cold build compiles the standard library too


def cache_folder() -> Path:
    """Where scripts/setup caches what outlives a checkout."""
    if "UPNP_GATEWAY_CACHE" in os.environ:
        return Path(os.environ["UPNP_GATEWAY_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "upnp-gateway"


def _source_key(go: str, driver: Path, library: Path) -> str:
    digest = hashlib.sha256()
    digest.update(subprocess.run([go, "version"], capture_output=True, check=True).stdout)
    digest.update(driver.read_bytes())
    for source in sorted(library.rglob("*.go")):
        digest.update(b"\0" + str(source.relative_to(library)).encode() + b"\0")
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def build_go_client(driver: Path, library_import_path: str) -> Path:
    """The executable of `driver` (a main.go), built once per source key.

    AssertionError says what to install when `go` or the library's source is missing.
    """
    go = shutil.which("go")
    assert go is not None, f"`go` is not on PATH: {INSTALL_HINT}"
    library = DEBIAN_GOPATH / "src" / library_import_path
    assert library.is_dir(), f"no Go source of {library_import_path} in {library}: {INSTALL_HINT}"
    cache = cache_folder()
    binary = cache / "go-clients" / _source_key(go, driver, library) / driver.parent.name
    if binary.is_file():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    environment = {
        **os.environ,
        "GO111MODULE": "off",  # Debian's source tree, never the module proxy
        "GOPATH": str(DEBIAN_GOPATH),
        "GOCACHE": str(cache / "go-build"),
        "GOFLAGS": "",
        "CGO_ENABLED": "0",  # no C compiler needed
    }
    # built beside its final name, then renamed: a parallel run never sees half a binary
    with tempfile.TemporaryDirectory(dir=binary.parent) as work:
        built = Path(work) / binary.name
        result = subprocess.run(
            [go, "build", "-o", str(built), driver.name],
            cwd=driver.parent,
            env=environment,
            capture_output=True,
            text=True,
            timeout=BUILD_SECONDS,
            check=False,
        )
        assert result.returncode == 0, f"go build of {driver} failed:\n{result.stderr}"
        built.replace(binary)
    _prune_other_builds(binary)
    return binary


def _prune_other_builds(binary: Path) -> None:
    """Drop this driver's builds from other sources (~8 MB each; a running one keeps its file)."""
    for other in binary.parent.parent.glob(f"*/{binary.name}"):
        if other != binary:
            shutil.rmtree(other.parent, ignore_errors=True)
