"""The read actions: GetGeneric/GetSpecificPortMappingEntry, GetListOfPortMappings (5.6.14-21)."""

from __future__ import annotations

import pytest

from igd.core.errors import UpnpError
from igd.core.mappings import Caller, MappingView
from tests.daemon.mapping_support import (
    CONSOLE,
    LAPTOP,
    TRUSTED,
    Rig,
    make_rig,
    mapping_args,
    read_error_code,
)


async def _add(
    rig: Rig, owner: Caller, port: int, *, internal_port: int = 0, protocol: str = "TCP"
) -> None:
    args = mapping_args(
        TRUSTED,
        internal_client=owner.address,
        external_port=port,
        internal_port=internal_port or port,
        protocol=protocol,
        description=f"{owner.address}:{port}",
    )
    await rig.table.add_port_mapping(TRUSTED, **args)


def _walk(rig: Rig, caller: Caller) -> list[int]:
    """External ports a client sees walking GetGeneric from 0 until 713 (as `upnpc -l`)."""
    ports: list[int] = []
    for index in range(100):
        try:
            view = rig.table.get_generic_port_mapping_entry(caller, index)
        except UpnpError as error:
            assert error.code == 713
            return ports
        ports.append(view.external_port)
    raise AssertionError("the walk did not end")


async def _mixed_table() -> Rig:
    """Laptop's, console's privileged (made by the trusted CP), console's own, a static one."""
    rig = make_rig()
    await _add(rig, LAPTOP, 5000)
    await _add(rig, CONSOLE, 80, internal_port=8080)  # ExternalPort < 1024
    await _add(rig, CONSOLE, 5001, internal_port=22)  # InternalPort < 1024
    await _add(rig, CONSOLE, 5002)
    await rig.table.add_static(
        external_port=5003, protocol="UDP", internal_port=5003, internal_client=CONSOLE.address
    )
    await _add(rig, CONSOLE, 5004, protocol="UDP")
    return rig


# ---- GetGenericPortMappingEntry --------------------------------------------------------------


async def test_authorized_walk_sees_every_entry_in_creation_order() -> None:
    rig = await _mixed_table()
    assert _walk(rig, TRUSTED) == [5000, 80, 5001, 5002, 5003, 5004]
    assert rig.table.get_generic_port_mapping_entry(TRUSTED, 4) == MappingView(
        "", 5003, "UDP", 5003, "192.168.50.10", True, "", 0
    )


@pytest.mark.parametrize("index", [-1, 6, 65535])
async def test_index_out_of_bounds_is_713(index: int) -> None:
    rig = await _mixed_table()
    assert read_error_code(lambda: rig.table.get_generic_port_mapping_entry(TRUSTED, index)) == 713


async def test_empty_table_is_713_at_index_0() -> None:
    rig = make_rig()
    assert read_error_code(lambda: rig.table.get_generic_port_mapping_entry(TRUSTED, 0)) == 713
    assert read_error_code(lambda: rig.table.get_generic_port_mapping_entry(CONSOLE, 0)) == 713


async def test_restricted_walk_is_a_filtered_view_of_its_own_entries() -> None:
    rig = await _mixed_table()
    assert _walk(rig, CONSOLE) == [5002, 5003, 5004]
    assert _walk(rig, LAPTOP) == [5000]
    assert _walk(rig, Caller("192.168.50.99", authorized=False)) == []
    assert rig.table.get_generic_port_mapping_entry(CONSOLE, 0).description == (
        "192.168.50.10:5002"
    )


async def test_expose_all_mappings_lets_everyone_read_everything() -> None:
    rig = make_rig(expose_all_mappings=True)
    await _add(rig, LAPTOP, 5000)
    await _add(rig, CONSOLE, 80, internal_port=22)
    assert _walk(rig, CONSOLE) == [5000, 80]


async def test_walk_follows_deletions_and_overwrites() -> None:
    rig = make_rig()
    for port in (5000, 5001, 5002):
        await _add(rig, CONSOLE, port)
    await rig.table.add_port_mapping(
        CONSOLE, **mapping_args(CONSOLE, external_port=5000, description="renewed")
    )
    await rig.table.delete_port_mapping(CONSOLE, remote_host="", external_port=5001, protocol="TCP")
    await _add(rig, CONSOLE, 5001)
    assert _walk(rig, TRUSTED) == [5000, 5002, 5001]
    assert _walk(rig, CONSOLE) == [5000, 5002, 5001]
    assert rig.table.get_generic_port_mapping_entry(CONSOLE, 0).description == "renewed"


async def test_a_restricted_walk_changed_midway_reads_as_a_fresh_one() -> None:
    rig = await _mixed_table()
    for port in range(6000, 6010):
        await _add(rig, CONSOLE, port)
    first = [rig.table.get_generic_port_mapping_entry(CONSOLE, i).external_port for i in range(4)]
    await rig.table.delete_port_mapping(CONSOLE, remote_host="", external_port=5002, protocol="TCP")
    fifth_after_delete = rig.table.get_generic_port_mapping_entry(CONSOLE, 4).external_port
    await _add(rig, CONSOLE, 6001, internal_port=22)  # overwritten: no longer in its view
    fifth_after_overwrite = rig.table.get_generic_port_mapping_entry(CONSOLE, 4).external_port
    again = rig.table.get_generic_port_mapping_entry(CONSOLE, 1).external_port  # backwards

    assert first == [5002, 5003, 5004, 6000]
    assert fifth_after_delete == 6002  # 5003, 5004, 6000, 6001, 6002
    assert fifth_after_overwrite == 6003
    assert again == 5004
    assert _walk(rig, CONSOLE) == [5003, 5004, 6000, *range(6002, 6010)]


async def test_generic_read_reports_remaining_lease() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, lease_duration=1500))
    rig.clock.advance(500)
    assert rig.table.get_generic_port_mapping_entry(CONSOLE, 0).lease_duration == 1000


# ---- GetSpecificPortMappingEntry -------------------------------------------------------------


async def test_specific_entry_by_exact_triple() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(
        CONSOLE, **mapping_args(CONSOLE, remote_host="198.51.100.7", lease_duration=100)
    )
    rig.clock.advance(40)
    view = rig.table.get_specific_port_mapping_entry(
        CONSOLE, remote_host="198.51.100.7", external_port=5000, protocol="tcp"
    )
    assert view == MappingView("198.51.100.7", 5000, "TCP", 5000, "192.168.50.10", True, "test", 60)


@pytest.mark.parametrize(
    ("remote_host", "external_port", "protocol", "code"),
    [
        ("", 5000, "TCP", 714),  # empty matches only a wildcard entry
        ("198.51.100.8", 5000, "TCP", 714),
        ("198.51.100.7", 5001, "TCP", 714),
        ("198.51.100.7", 5000, "UDP", 714),
        ("198.51.100.7", 0, "TCP", 714),  # Ours: 714 for the wildcard port
        ("example", 5000, "TCP", 600),
        ("198.51.100.7", 5000, "SCTP", 601),
        ("198.51.100.7", 70000, "TCP", 601),
    ],
)
async def test_specific_entry_errors(
    remote_host: str, external_port: int, protocol: str, code: int
) -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, remote_host="198.51.100.7"))
    assert (
        read_error_code(
            lambda: rig.table.get_specific_port_mapping_entry(
                TRUSTED, remote_host=remote_host, external_port=external_port, protocol=protocol
            )
        )
        == code
    )


@pytest.mark.parametrize(
    ("caller", "external_port", "protocol", "code"),
    [
        (CONSOLE, 80, "TCP", 606),  # R3, before the lookup
        (CONSOLE, 1000, "TCP", 606),  # R3 even when there is no entry
        (CONSOLE, 5001, "TCP", 606),  # R5: its own, but InternalPort < 1024
        (LAPTOP, 5002, "TCP", 606),  # R5: someone else's
        (CONSOLE, 6000, "TCP", 714),
    ],
)
async def test_restricted_specific_reads(
    caller: Caller, external_port: int, protocol: str, code: int
) -> None:
    rig = await _mixed_table()
    assert (
        read_error_code(
            lambda: rig.table.get_specific_port_mapping_entry(
                caller, remote_host="", external_port=external_port, protocol=protocol
            )
        )
        == code
    )


async def test_restricted_caller_reads_its_own_entries_and_statics() -> None:
    rig = await _mixed_table()
    for port, protocol in [(5002, "TCP"), (5003, "UDP")]:
        view = rig.table.get_specific_port_mapping_entry(
            CONSOLE, remote_host="", external_port=port, protocol=protocol
        )
        assert view.external_port == port


async def test_expose_all_lifts_r3_and_r5_for_reads() -> None:
    rig = make_rig(expose_all_mappings=True)
    await _add(rig, LAPTOP, 80, internal_port=22)
    view = rig.table.get_specific_port_mapping_entry(
        CONSOLE, remote_host="", external_port=80, protocol="TCP"
    )
    assert view.internal_client == LAPTOP.address


# ---- GetListOfPortMappings -------------------------------------------------------------------


def _listed(
    rig: Rig,
    caller: Caller,
    *,
    start_port: int = 1,
    end_port: int = 65535,
    protocol: str = "TCP",
    manage: bool = True,
    number_of_ports: int = 0,
) -> list[tuple[int, str]]:
    listing = rig.table.get_list_of_port_mappings(
        caller,
        start_port=start_port,
        end_port=end_port,
        protocol=protocol,
        manage=manage,
        number_of_ports=number_of_ports,
    )
    return [(view.external_port, view.internal_client) for view in listing]


async def test_listing_is_sorted_by_external_port_and_filtered_by_protocol() -> None:
    rig = make_rig()
    for port in (7000, 5000, 6000):
        await _add(rig, LAPTOP, port)
    await _add(rig, CONSOLE, 5500, protocol="UDP")
    assert _listed(rig, TRUSTED) == [
        (5000, LAPTOP.address),
        (6000, LAPTOP.address),
        (7000, LAPTOP.address),
    ]
    assert _listed(rig, TRUSTED, protocol="udp") == [(5500, CONSOLE.address)]
    assert _listed(rig, TRUSTED, start_port=5001, end_port=7000) == [
        (6000, LAPTOP.address),
        (7000, LAPTOP.address),
    ]
    assert _listed(rig, TRUSTED, start_port=6000, end_port=6000) == [(6000, LAPTOP.address)]


async def test_number_of_ports_limits_the_listing() -> None:
    rig = make_rig()
    for port in (7000, 5000, 6000):
        await _add(rig, LAPTOP, port)
    assert _listed(rig, TRUSTED, number_of_ports=2) == [
        (5000, LAPTOP.address),
        (6000, LAPTOP.address),
    ]
    assert len(_listed(rig, TRUSTED, number_of_ports=0)) == 3


async def test_listing_without_manage_shows_the_callers_own_only() -> None:
    rig = make_rig()
    await _add(rig, LAPTOP, 5000)
    await _add(rig, TRUSTED, 5001)
    assert _listed(rig, TRUSTED, manage=False) == [(5001, TRUSTED.address)]


async def test_restricted_listing_shows_own_readable_entries_only() -> None:
    rig = await _mixed_table()
    assert _listed(rig, CONSOLE, start_port=1024, manage=True) == [(5002, CONSOLE.address)]
    assert _listed(rig, CONSOLE, start_port=1024, protocol="UDP") == [
        (5003, CONSOLE.address),
        (5004, CONSOLE.address),
    ]


async def test_listing_reports_remaining_leases() -> None:
    rig = make_rig()
    await rig.table.add_port_mapping(CONSOLE, **mapping_args(CONSOLE, lease_duration=1500))
    rig.clock.advance(500.5)
    [view] = rig.table.get_list_of_port_mappings(
        CONSOLE, start_port=1024, end_port=65535, protocol="TCP", manage=False, number_of_ports=0
    )
    assert view.lease_duration == 1000


@pytest.mark.parametrize(
    ("caller", "ports", "protocol", "number_of_ports", "code"),
    [
        (TRUSTED, (6000, 5000), "TCP", 0, 733),
        (TRUSTED, (6000, 5000), "XTP", 0, 601),  # 601 before 733
        (TRUSTED, (1, 65536), "TCP", 0, 601),
        (TRUSTED, (1, 65535), "TCP", 65536, 601),
        (TRUSTED, (9000, 9999), "TCP", 0, 730),
        (CONSOLE, (1, 65535), "TCP", 0, 606),  # R4
        (CONSOLE, (1023, 1024), "TCP", 0, 606),  # R4
        (LAPTOP, (5001, 5001), "TCP", 0, 730),  # someone else's only
        (CONSOLE, (5001, 5001), "TCP", 0, 730),  # its own, but InternalPort < 1024
        (Caller("192.168.50.99", authorized=False), (1024, 65535), "UDP", 0, 730),
    ],
)
async def test_listing_errors(
    caller: Caller, ports: tuple[int, int], protocol: str, number_of_ports: int, code: int
) -> None:
    rig = await _mixed_table()
    start_port, end_port = ports
    assert (
        read_error_code(
            lambda: rig.table.get_list_of_port_mappings(
                caller,
                start_port=start_port,
                end_port=end_port,
                protocol=protocol,
                manage=True,
                number_of_ports=number_of_ports,
            )
        )
        == code
    )


async def test_expose_all_lists_everything_for_restricted_callers() -> None:
    rig = make_rig(expose_all_mappings=True)
    await _add(rig, LAPTOP, 80, internal_port=22)
    await _add(rig, CONSOLE, 5000)
    assert _listed(rig, CONSOLE) == [(80, LAPTOP.address), (5000, CONSOLE.address)]
    assert _listed(rig, CONSOLE, manage=False) == [(5000, CONSOLE.address)]


async def test_mappings_returns_the_whole_table_in_creation_order() -> None:
    rig = await _mixed_table()
    assert [view.external_port for view in rig.table.mappings()] == [
        5000,
        80,
        5001,
        5002,
        5003,
        5004,
    ]
    assert rig.table.number_of_entries == 6
