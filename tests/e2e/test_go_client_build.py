"""The offline build of the Go client drivers (go_client_build): cached, rebuilt on change, loud."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.go_client_build import build_go_client

GOUPNP = "github.com/huin/goupnp"
GOUPNP_DRIVER = Path(__file__).parents[1] / "clients" / "goupnp_igd2" / "main.go"
INSTALL_HINT = "golang-go golang-github-huin-goupnp-dev"


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of this test's own, so it neither reads nor leaves binaries in the user's."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("UPNP_GATEWAY_CACHE", str(cache))
    return cache


def _driver(folder: Path, body: str) -> Path:
    driver = folder / "hello" / "main.go"
    driver.parent.mkdir(parents=True, exist_ok=True)
    driver.write_text(f'package main\n\nimport "fmt"\n\nfunc main() {{ {body} }}\n')
    return driver


def _output(program: Path) -> str:
    return subprocess.run([program], capture_output=True, text=True, check=True).stdout


def test_a_missing_go_fails_saying_what_to_install(
    own_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `go` in it

    with pytest.raises(AssertionError, match=INSTALL_HINT):
        build_go_client(GOUPNP_DRIVER, GOUPNP)


def test_a_missing_library_fails_saying_what_to_install(own_cache: Path) -> None:
    with pytest.raises(AssertionError, match=f"no Go source of example.invalid/x.*{INSTALL_HINT}"):
        build_go_client(GOUPNP_DRIVER, "example.invalid/x")


def test_a_driver_that_does_not_compile_fails_with_the_compiler_message(
    own_cache: Path, tmp_path: Path
) -> None:
    driver = _driver(tmp_path, "fmt.Println(missing)")

    with pytest.raises(AssertionError, match="undefined: missing"):
        build_go_client(driver, GOUPNP)
    assert list(own_cache.rglob("hello")) == []  # no half-built binary is kept


def test_an_unchanged_driver_is_reused_and_a_changed_one_rebuilt_in_its_place(
    own_cache: Path, tmp_path: Path
) -> None:
    driver = _driver(tmp_path, 'fmt.Println("first")')
    first = build_go_client(driver, GOUPNP)
    built_at = first.stat().st_mtime_ns
    again = build_go_client(driver, GOUPNP)
    again_built_at = again.stat().st_mtime_ns
    said_first = _output(first)
    _driver(tmp_path, 'fmt.Println("second")')
    changed = build_go_client(driver, GOUPNP)

    assert (again, again_built_at) == (first, built_at)
    assert said_first == "first\n"
    assert changed != first
    assert _output(changed) == "second\n"
    assert not first.exists()  # the stale build is pruned
