"""The device identity: one UUID for good, a BOOTID that only grows."""

from __future__ import annotations

from pathlib import Path

import pytest

from igd.identity import IDENTITY_FILE, MAX_BOOT_ID, IdentityError, start_boot


def test_the_uuid_survives_a_restart(tmp_path: Path) -> None:
    first = start_boot(tmp_path / "state", now=1000)
    second = start_boot(tmp_path / "state", now=2000)

    assert first.device_uuid == second.device_uuid
    assert (first.boot_id, second.boot_id) == (1000, 2000)


def test_a_clock_set_back_does_not_make_the_boot_id_go_backwards(tmp_path: Path) -> None:
    start_boot(tmp_path, now=5000)

    assert start_boot(tmp_path, now=100).boot_id == 5001


def test_the_boot_id_stays_a_31_bit_number(tmp_path: Path) -> None:
    start_boot(tmp_path, now=MAX_BOOT_ID)

    assert start_boot(tmp_path, now=MAX_BOOT_ID).boot_id == 1


@pytest.mark.parametrize("content", ["not json", '{"uuid": "nope"}', "[1, 2]"])
def test_a_damaged_identity_file_is_reported(tmp_path: Path, content: str) -> None:
    (tmp_path / IDENTITY_FILE).write_text(content)

    with pytest.raises(IdentityError, match=IDENTITY_FILE):
        start_boot(tmp_path)
