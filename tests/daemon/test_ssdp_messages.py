"""SSDP without sockets: which datagrams are searches, what they match, what we write."""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime

import pytest

from igd.upnp.ssdp_messages import (
    MAX_DATAGRAM_SIZE,
    SearchRequest,
    SsdpCommonHeaders,
    SsdpTarget,
    alive_message,
    byebye_message,
    match_search,
    parse_search,
    search_response,
    server_header,
)

ROOT = "uuid:aaaaaaaa-0000-4000-8000-000000000001"
CONNECTION = "uuid:aaaaaaaa-0000-4000-8000-000000000003"
IGD2 = "urn:schemas-upnp-org:device:InternetGatewayDevice:2"
WANIP2 = "urn:schemas-upnp-org:service:WANIPConnection:2"
WANPPP1 = "urn:schemas-upnp-org:service:WANPPPConnection:1"
TARGETS = (
    SsdpTarget("upnp:rootdevice", f"{ROOT}::upnp:rootdevice"),
    SsdpTarget(ROOT, ROOT),
    SsdpTarget(IGD2, f"{ROOT}::{IGD2}"),
    SsdpTarget(CONNECTION, CONNECTION),
    SsdpTarget(WANIP2, f"{CONNECTION}::{WANIP2}"),
    SsdpTarget(WANPPP1, f"{CONNECTION}::{WANPPP1}", announced=False),
)
COMMON = SsdpCommonHeaders(server="Linux/6.6 UPnP/1.1 UPnPGateway/0.1", boot_id=7, config_id=42,
                           max_age=1800)  # fmt: skip
VALID = b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 2\r\nST: ssdp:all\r\n\r\n'  # noqa: E501


def search(*headers: str, start: str = "M-SEARCH * HTTP/1.1", end: str = "\r\n\r\n") -> bytes:
    return ("\r\n".join([start, *headers]) + end).encode()


def test_a_valid_search_is_read() -> None:
    assert parse_search(VALID) == SearchRequest(search_target="ssdp:all", mx=2)


@pytest.mark.parametrize(
    ("mx", "expected"),
    [("1", 1), ("5", 5), ("120", 5), ("0", 0), ("", None), ("two", None), ("-1", None),
     ("1.5", None), ("٣", None)],
)  # fmt: skip
def test_mx_is_capped_at_five_and_unreadable_is_none(mx: str, expected: int | None) -> None:
    request = parse_search(search('MAN: "ssdp:discover"', f"MX: {mx}", "ST: ssdp:all"))

    assert request == SearchRequest("ssdp:all", expected)


def test_search_without_mx_is_accepted() -> None:
    assert parse_search(search('MAN: "ssdp:discover"', "ST: upnp:rootdevice")) == SearchRequest(
        "upnp:rootdevice", None
    )


@pytest.mark.parametrize(
    "datagram",
    [
        search("man: ssdp:discover", "st: ssdp:all", "mx: 1"),  # names in any case, no quotes
        search('MAN:"ssdp:discover"', "ST:ssdp:all", "MX:1"),  # no space after the colon
        b'M-SEARCH * HTTP/1.1\nMAN: "ssdp:discover"\nST: ssdp:all\nMX: 1\n\n',  # bare LF
        search('MAN: "ssdp:discover"', "ST: ssdp:all", "MX: 1", end="\r\n"),  # no blank line
        search('MAN: "ssdp:discover"', "ST: ssdp:all", "MX: 1", "USER-AGENT: x\tUPnP/1.1"),
        search('MAN: "ssdp:discover"', "ST: ssdp:all", "MX: 1") + b"a body is ignored",
    ],
)
def test_tolerated_variations(datagram: bytes) -> None:
    assert parse_search(datagram) == SearchRequest("ssdp:all", 1)


@pytest.mark.parametrize(
    "datagram",
    [
        b"",
        b"\r\n\r\n",
        b"\xff\xfe\x00",
        search('MAN: "ssdp:discover"', "ST: ssdp:all", start="M-SEARCH * HTTP/1.0"),
        search('MAN: "ssdp:discover"', "ST: ssdp:all", start="m-search * HTTP/1.1"),
        search("NT: upnp:rootdevice", "NTS: ssdp:alive", start="NOTIFY * HTTP/1.1"),
        search("HTTP/1.1 200 OK", "ST: ssdp:all", start="HTTP/1.1 200 OK"),
        search("ST: ssdp:all"),  # no MAN
        search('MAN: "ssdp:update"', "ST: ssdp:all"),
        search('MAN: "ssdp:discover"'),  # no ST
        search('MAN: "ssdp:discover"', "ST: "),
        search('MAN: "ssdp:discover"', "ST: " + "x" * 257),
        search('MAN: "ssdp:discover"', "ST: ssdp:all", "ST: upnp:rootdevice"),
        search('MAN: "ssdp:discover"', "ST: ssdp:all", "MX: 1", "MX: 2"),
        search('MAN: "ssdp:discover"', "ST: ssdp:all", "no colon here"),
        search('MAN: "ssdp:discover"', "ST: ssdp:all", " folded: continuation"),
        search('MAN: "ssdp:discover"', "ST: ssdp:all", "BAD NAME: x"),
        search('MAN: "ssdp:discover"', "ST: ssdp:all\x00"),
        search('MAN: "ssdp:discover"', "ST: ssdp:all\x1b[2J"),
        search('MAN: "ssdp:discover"', "ST: ssdp:all", *(f"X-{n}: y" for n in range(64))),
        search('MAN: "ssdp:discover"', "ST: ssdp:all", "X: " + "y" * MAX_DATAGRAM_SIZE),
        search('MAN: "ssdp:discover"', "ST: ssdp:all") + b"\xff",  # body must still be text
    ],
)
def test_anything_else_is_ignored(datagram: bytes) -> None:
    assert parse_search(datagram) is None


def test_random_damage_never_raises() -> None:
    generator = random.Random(12695)
    seeds = [VALID, search('MAN: "ssdp:discover"', f"ST: {WANIP2}", "MX: 3")]
    for _ in range(20000):
        damaged = bytearray(generator.choice(seeds))
        for _ in range(generator.randint(1, 8)):
            position = generator.randrange(len(damaged) + 1)
            action = generator.randrange(3)
            if action == 0 and damaged:
                del damaged[position : position + generator.randint(1, 20)]
            elif action == 1:
                damaged[position:position] = generator.randbytes(generator.randint(1, 20))
            else:
                damaged[position:position] = generator.choice([b"\r\n", b":", b'"', b"\n\n"])
        result = parse_search(bytes(damaged))
        assert result is None or isinstance(result, SearchRequest)


@pytest.mark.parametrize(
    ("search_target", "expected"),
    [
        ("upnp:rootdevice", [("upnp:rootdevice", f"{ROOT}::upnp:rootdevice")]),
        (ROOT, [(ROOT, ROOT)]),
        (ROOT.upper().replace("UUID", "uuid"), [(ROOT, ROOT)]),
        (IGD2, [(IGD2, f"{ROOT}::{IGD2}")]),
        (IGD2.replace(":2", ":1"), [(IGD2.replace(":2", ":1"), f"{ROOT}::{IGD2[:-1]}1")]),
        (WANIP2.upper(), [(WANIP2.upper(), f"{CONNECTION}::{WANIP2.upper()}")]),
        (WANPPP1, [(WANPPP1, f"{CONNECTION}::{WANPPP1}")]),
        ("urn:schemas-upnp-org:service:WANIPConnection:3", []),
        ("urn:schemas-upnp-org:service:WANIPConnection", []),
        ("urn:schemas-upnp-org:device:WANIPConnection:2", []),  # a service, not a device
        ("urn:other-org:service:WANIPConnection:1", []),
        ("uuid:bbbbbbbb-0000-4000-8000-000000000001", []),
        ("ssdp:everything", []),
    ],
)
def test_search_targets_match(search_target: str, expected: list[tuple[str, str]]) -> None:
    assert match_search(search_target, TARGETS) == expected


def test_ssdp_all_answers_every_announced_target_only() -> None:
    answers = match_search("SSDP:ALL", TARGETS)

    assert answers == [(t.nt, t.usn) for t in TARGETS if t.announced]


def test_alive_message_is_exactly_the_uda_form() -> None:
    message = alive_message(TARGETS[2], "http://192.168.50.1:49152/rootDesc.xml", COMMON)

    assert (
        message
        == (
            "NOTIFY * HTTP/1.1\r\n"
            "HOST: 239.255.255.250:1900\r\n"
            "CACHE-CONTROL: max-age=1800\r\n"
            "LOCATION: http://192.168.50.1:49152/rootDesc.xml\r\n"
            f"NT: {IGD2}\r\n"
            "NTS: ssdp:alive\r\n"
            "SERVER: Linux/6.6 UPnP/1.1 UPnPGateway/0.1\r\n"
            f"USN: {ROOT}::{IGD2}\r\n"
            "BOOTID.UPNP.ORG: 7\r\n"
            "CONFIGID.UPNP.ORG: 42\r\n"
            "\r\n"
        ).encode()
    )


def test_byebye_has_no_location_or_max_age() -> None:
    message = byebye_message(TARGETS[0], COMMON)

    assert (
        message
        == (
            "NOTIFY * HTTP/1.1\r\n"
            "HOST: 239.255.255.250:1900\r\n"
            "NT: upnp:rootdevice\r\n"
            "NTS: ssdp:byebye\r\n"
            f"USN: {ROOT}::upnp:rootdevice\r\n"
            "BOOTID.UPNP.ORG: 7\r\n"
            "CONFIGID.UPNP.ORG: 42\r\n"
            "\r\n"
        ).encode()
    )


def test_search_response_has_empty_ext_and_a_date() -> None:
    message = search_response("upnp:rootdevice", f"{ROOT}::upnp:rootdevice", "http://x/", COMMON)

    start, *lines = message.decode().removesuffix("\r\n\r\n").split("\r\n")
    headers = dict(line.split(":", 1) for line in lines)
    assert start == "HTTP/1.1 200 OK"
    assert headers["EXT"] == ""
    assert parsedate_to_datetime(headers["DATE"].strip()).tzinfo is not None
    assert headers["ST"] == " upnp:rootdevice"
    assert headers["USN"] == f" {ROOT}::upnp:rootdevice"
    assert headers["LOCATION"] == " http://x/"
    assert headers["CACHE-CONTROL"] == " max-age=1800"
    assert headers["BOOTID.UPNP.ORG"] == " 7"


def test_server_header_has_the_uda_form() -> None:
    os_part, upnp, product = server_header("UPnPGateway", "0.1").split(" ")

    assert "/" in os_part
    assert upnp == "UPnP/1.1"
    assert product == "UPnPGateway/0.1"
