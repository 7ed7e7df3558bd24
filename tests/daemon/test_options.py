"""Options: the embedded defaults, and a clear refusal for every bad value."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from igd.core.arguments import MAX_LEASE_DURATION
from igd.core.mappings import DEFAULT_MAX_MAPPINGS, DEFAULT_MAX_PER_CLIENT
from igd.options import DEFAULT_HTTP_PORT, OptionsError, parse_options


def test_no_options_give_the_embedded_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))

    options = parse_options({})

    assert options.backend == "memory"
    assert options.wan_interface == "lo"
    assert options.lan_interfaces == ("lo",)
    assert options.data_dir == tmp_path / "upnp-gateway"
    assert options.http_port == DEFAULT_HTTP_PORT
    assert options.igd_version == 2
    assert options.secure_mode is True
    assert options.trusted_control_points == ()
    assert options.external_ip is None
    assert (options.min_lease, options.max_lease) == (1, MAX_LEASE_DURATION)
    assert options.external_ports == (1024, 65535)
    assert options.log_level == "INFO"
    assert (options.max_mappings, options.max_mappings_per_client) == (
        DEFAULT_MAX_MAPPINGS,
        DEFAULT_MAX_PER_CLIENT,
    )


def test_data_dir_falls_back_to_local_state_in_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))

    assert parse_options({}).data_dir == tmp_path / ".local" / "state" / "upnp-gateway"


def test_a_full_set_of_options_is_kept() -> None:
    options = parse_options(
        {
            "wan_interface": "eth0",
            "lan_interfaces": ["br-lan", "wlan0", "br-lan"],
            "backend": "nftables",
            "data_dir": "/data",
            "http_port": "0",
            "igd_version": "1",
            "min_lease": 60,
            "max_lease": 86400,
            "external_ports": "2000-3000",
            "secure_mode": False,
            "trusted_control_points": ["192.168.1.5"],
            "external_ip": " 198.51.100.7 ",
            "log_level": "debug",
            "max_mappings": "10000",
            "max_mappings_per_client": 10000,
        }
    )

    assert options.lan_interfaces == ("br-lan", "wlan0")
    assert options.data_dir == Path("/data")
    assert options.http_port == 0
    assert options.igd_version == 1
    assert (options.min_lease, options.max_lease) == (60, 86400)
    assert options.external_ports == (2000, 3000)
    assert options.secure_mode is False
    assert options.trusted_control_points == (IPv4Address("192.168.1.5"),)
    assert options.external_ip == IPv4Address("198.51.100.7")
    assert options.log_level == "DEBUG"
    assert (options.max_mappings, options.max_mappings_per_client) == (10000, 10000)


def test_a_single_external_port_is_a_range_of_one() -> None:
    assert parse_options({"external_ports": "8080"}).external_ports == (8080, 8080)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"wan_interface": "eth 0"}, "wan_interface: not a network interface name"),
        ({"wan_interface": "a" * 16}, "wan_interface: not a network interface name"),
        ({"lan_interfaces": ["../x"]}, "lan_interfaces.0: not a network interface name"),
        ({"lan_interfaces": []}, "lan_interfaces: at least one LAN interface is needed"),
        ({"wan_interface": "eth0", "lan_interfaces": ["eth0"]}, "also a LAN interface"),
        ({"backend": "pf"}, "backend: value must be one of"),
        ({"data_dir": " "}, "data_dir: not a directory path"),
        ({"http_port": 65536}, "http_port: must be within 0-65535"),
        ({"http_port": -1}, "http_port: must be within 0-65535"),
        ({"http_port": True}, "http_port: not a whole number"),
        ({"http_port": "80a"}, "http_port: not a whole number"),
        ({"igd_version": 3}, "igd_version: must be within 1-2"),
        ({"min_lease": 0}, "min_lease: must be within 1-604800"),
        ({"max_lease": MAX_LEASE_DURATION + 1}, "max_lease: must be within 1-604800"),
        ({"min_lease": 600, "max_lease": 60}, "min_lease: 600 is longer than max_lease 60"),
        ({"external_ports": "0-100"}, "external_ports: port range must lie within 1-65535"),
        ({"external_ports": "3000-2000"}, "low end first"),
        ({"external_ports": "ssh"}, "external_ports: not a port range"),
        ({"secure_mode": "yes"}, "secure_mode"),
        ({"trusted_control_points": ["192.168.1.300"]}, "trusted_control_points.0: not an IPv4"),
        ({"trusted_control_points": ["fe80::1"]}, "not an IPv4 address"),
        ({"external_ip": "example.org"}, "external_ip: not an IPv4 address"),
        ({"max_mappings": 0}, "max_mappings: must be within 1-131070"),
        ({"max_mappings_per_client": 131071}, "max_mappings_per_client: must be within 1-131070"),
        ({"max_mappings": "many"}, "max_mappings: not a whole number"),
        ({"log_level": "chatty"}, "log_level: log level must be one of"),
        ({"listen_everywhere": True}, "listen_everywhere: extra keys not allowed"),
    ],
)
def test_a_bad_value_is_refused_naming_the_option(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(OptionsError, match=message.replace(".", r"\.")) as refused:
        parse_options(raw)

    assert "\n" not in str(refused.value)


def test_loopback_may_be_both_wan_and_lan_for_the_demo() -> None:
    options = parse_options({"wan_interface": "lo", "lan_interfaces": ["lo"]})

    assert options.lan_interfaces == ("lo",)
