"""Malformed input never crashes the gateway nor changes its table (security-notes.md A8-A10).

Hypothesis drives the assembled gateway (loopback demo, memory backend) over real HTTP: SOAP
bodies, SOAPACTION headers and raw HTTP requests, GENA headers; and the SSDP and GENA parsers as
functions. Bounded (`max_examples`, no deadline) so the whole file runs in seconds; each test
prints how many inputs it tried. A "crash" is any answer outside the spec's (HTTP 4xx, a UPnP
fault with a standard code), an unexpected-error log record, or a changed mapping table.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv6Address, ip_address
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igd.core.errors import ACTION_FAILED, ERROR_DESCRIPTIONS
from igd.daemon import Gateway
from igd.options import parse_options
from igd.upnp.gena import SubscriptionLimits
from igd.upnp.gena_messages import GenaHeaderError, callback_urls, granted_timeout
from igd.upnp.soap import INVALID_VAR
from igd.upnp.ssdp_messages import MAX_SEARCH_TARGET_LENGTH, MX_MAX, SsdpTarget, match_search
from igd.upnp.ssdp_messages import parse_search as parse_ssdp_search
from tests.daemon.upnp_support import arguments, envelope, soap_headers

WANIP2 = "urn:schemas-upnp-org:service:WANIPConnection:2"
WANIP1 = "urn:schemas-upnp-org:service:WANIPConnection:1"
TRUSTED = "127.0.0.3"  # adds the mapping that must survive; the fuzzer is 127.0.0.1, restricted
FUZZ_SETTINGS = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HTTP_STATUSES = {200, 400, 405, 413, 415, 500}
GENA_STATUSES = {200, 400, 412, 503}
KNOWN_FAULTS = (set(ERROR_DESCRIPTIONS) - {ACTION_FAILED}) | {INVALID_VAR}
_ERROR_CODE = re.compile(r"<errorCode>(\d+)</errorCode>")
_LEASE = re.compile(r"<NewLeaseDuration>\d+</NewLeaseDuration>")

ACTIONS = [
    "SetConnectionType", "GetConnectionTypeInfo", "RequestConnection", "RequestTermination",
    "ForceTermination", "SetAutoDisconnectTime", "SetIdleDisconnectTime",
    "SetWarnDisconnectDelay", "GetStatusInfo", "GetAutoDisconnectTime", "GetIdleDisconnectTime",
    "GetWarnDisconnectDelay", "GetNATRSIPStatus", "GetGenericPortMappingEntry",
    "GetSpecificPortMappingEntry", "AddPortMapping", "AddAnyPortMapping", "DeletePortMapping",
    "DeletePortMappingRange", "GetExternalIPAddress", "GetListOfPortMappings",
    "QueryStateVariable",
]  # fmt: skip
ARGUMENT_NAMES = [
    "NewRemoteHost", "NewExternalPort", "NewProtocol", "NewInternalPort", "NewInternalClient",
    "NewEnabled", "NewPortMappingDescription", "NewLeaseDuration", "NewPortMappingIndex",
    "NewStartPort", "NewEndPort", "NewManage", "NewNumberOfPorts", "NewConnectionType",
    "NewAutoDisconnectTime", "NewIdleDisconnectTime", "NewWarnDisconnectDelay", "varName",
]  # fmt: skip
INTERESTING_VALUES = [
    "", " ", "0", "1", "-1", "+1", "1023", "1024", "18000", "65535", "65536", "4294967295",
    "4294967296", "99999999999999999999", "1.5", "0x10", "yes", "no", "true", "TRUE", "2",
    "TCP", "UDP", "tcp", "ICMP", "*", "127.0.0.1", "127.0.0.2", "127.0.0.3", "0.0.0.0",
    "255.255.255.255", "224.0.0.1", "8.8.8.8", "::1", "example.com", "IP_Routed", "IP_Bridged",
    "&lt;b&gt;", "&amp;", "<![CDATA[x]]>", "]]>", "\u00e9\u2603", "A" * 300, "\ufffd",
]  # fmt: skip

_xml_text = st.one_of(
    st.sampled_from(INTERESTING_VALUES),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40).map(
        lambda text: text.replace("&", "&amp;").replace("<", "&lt;")
    ),
)
_names = st.one_of(
    st.sampled_from(ARGUMENT_NAMES), st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
)


@st.composite
def _soap_calls(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    """A body and headers: mostly well-formed calls with bad values, some broken documents."""
    action = draw(
        st.one_of(st.sampled_from(ACTIONS), st.from_regex(r"[A-Za-z]{1,30}", fullmatch=True))
    )
    service = draw(st.sampled_from([WANIP2, WANIP1, "urn:schemas-upnp-org:service:Other:1", ""]))
    values = draw(st.dictionaries(_names, _xml_text, max_size=10))
    kind = draw(st.sampled_from(["call", "call", "call", "raw", "xml-attack"]))
    if kind == "call":
        body = envelope(service or WANIP2, action, arguments(**values))
    elif kind == "raw":
        body = draw(st.binary(max_size=600))
    else:
        body = draw(
            st.sampled_from(
                [
                    b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>',
                    b'<!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><s>&x;</s>',
                    b"<a>" * 100 + b"</a>" * 100,
                    envelope(WANIP2, action, "<x/>" * 300),
                    envelope(WANIP2, action, "<NewProtocol><i>TCP</i></NewProtocol>"),
                    envelope(WANIP2, action, arguments(**values) * 2),
                    b"<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'/>",
                ]
            )
        )
    headers = soap_headers(service or WANIP2, action)
    headers["SOAPACTION"] = draw(
        st.one_of(
            st.just(headers["SOAPACTION"]),
            st.sampled_from(['"', "'", '""', "#", f'"{service}#"', f"{service}#{action}", "'x#y'"]),
            st.from_regex(r"[ -~]{0,80}", fullmatch=True),
        )
    )
    headers["Content-Type"] = draw(
        st.sampled_from([headers["Content-Type"], "text/xml", "application/xml", "text/plain"])
    )
    return body, headers


@dataclass
class Harness:
    """The running gateway, an event loop to drive it from Hypothesis, and what it held."""

    runner: asyncio.Runner
    gateway: Gateway
    session: aiohttp.ClientSession
    baseline: str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.gateway.port}"

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        async def send() -> tuple[int, str]:
            async with self.session.request(
                method, self.base + path, data=body or None, headers=headers or {}
            ) as response:
                return response.status, await response.text(errors="replace")

        return self.runner.run(send())

    def table(self) -> str:
        return self.runner.run(_table(self.gateway))


async def _trusted_soap(gateway: Gateway, action: str, **values: object) -> str:
    connector = aiohttp.TCPConnector(local_addr=(TRUSTED, 0))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post(
            f"http://127.0.0.1:{gateway.port}/ctl/IPConn",
            data=envelope(WANIP2, action, arguments(**values)),
            headers=soap_headers(WANIP2, action),
        ) as response,
    ):
        return await response.text()


async def _table(gateway: Gateway) -> str:
    """Every entry as the trusted control point reads it, leases left out (they count down)."""
    entries = [
        await _trusted_soap(gateway, "GetGenericPortMappingEntry", NewPortMappingIndex=index)
        for index in range(3)
    ]
    return _LEASE.sub("", "\n".join(entries))


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    options = parse_options(
        {
            "http_port": 0,
            "data_dir": str(tmp_path),
            "trust_gateway_host": False,
            "trusted_control_points": [TRUSTED],
            "permission_rules": ["allow 1024-65535 127.0.0.2/32 1024-65535"],
        }
    )
    with asyncio.Runner() as runner:
        gateway = Gateway(options)
        runner.run(gateway.start())
        session = runner.run(_session())
        try:
            added = runner.run(
                _trusted_soap(
                    gateway,
                    "AddPortMapping",
                    NewRemoteHost="",
                    NewExternalPort=18000,
                    NewProtocol="TCP",
                    NewInternalPort=8000,
                    NewInternalClient="127.0.0.2",
                    NewEnabled=1,
                    NewPortMappingDescription="survivor",
                    NewLeaseDuration=3600,
                )
            )
            assert "AddPortMappingResponse" in added
            yield Harness(runner, gateway, session, runner.run(_table(gateway)))
        finally:
            runner.run(session.close())
            runner.run(gateway.stop())


async def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()


def _no_unexpected_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


def test_fuzzed_soap_never_crashes_nor_changes_the_table(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    tried = 0

    @settings(FUZZ_SETTINGS, max_examples=1500)
    @given(_soap_calls())
    def one(call: tuple[bytes, dict[str, str]]) -> None:
        nonlocal tried
        tried += 1
        body, headers = call
        status, text = harness.request("POST", "/ctl/IPConn", body, headers)
        assert status in HTTP_STATUSES, (status, text)
        if status == 500:
            code = _ERROR_CODE.search(text)
            assert code is not None and int(code.group(1)) in KNOWN_FAULTS, text

    one()
    print(f"SOAP fuzz: {tried} inputs, 0 crashes")

    assert harness.table() == harness.baseline
    assert "survivor" in harness.baseline
    assert _no_unexpected_errors(caplog) == []


_header_value = st.one_of(
    st.from_regex(r"[ -~]{0,120}", fullmatch=True),
    st.sampled_from(
        [
            "<http://127.0.0.1:1/>",
            "<http://127.0.0.2:1/>",
            "<http://127.0.0.1:0/>",
            "<https://127.0.0.1/>",
            "<http://user@127.0.0.1/>",
            "<http://[::ffff:127.0.0.1]:1/>",
            "<>" * 50,
            "<" + "a" * 300 + ">",
            "upnp:event",
            "Second-0",
            "Second-99999999999",
            "Second-infinite",
            "uuid:00000000-0000-0000-0000-000000000000",
        ]
    ),
)


def test_fuzzed_gena_headers_never_crash_the_gateway(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    tried = 0

    @settings(FUZZ_SETTINGS, max_examples=800)
    @given(
        st.sampled_from(["SUBSCRIBE", "UNSUBSCRIBE"]),
        st.dictionaries(st.sampled_from(["CALLBACK", "NT", "SID", "TIMEOUT"]), _header_value),
    )
    def one(method: str, headers: dict[str, str]) -> None:
        nonlocal tried
        tried += 1
        status, _ = harness.request(method, "/evt/IPConn", headers=headers)
        assert status in GENA_STATUSES

    one()
    print(f"GENA fuzz: {tried} inputs, 0 crashes")

    assert harness.table() == harness.baseline
    assert _no_unexpected_errors(caplog) == []


_raw_request = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda method, path, version, header: (
            f"{method} {path} {version}\r\n{header}\r\n\r\n".encode(errors="replace")
        ),
        st.sampled_from(["GET", "POST", "SUBSCRIBE", "M-SEARCH", "get", "", "G\x00T"]),
        st.sampled_from(["/rootDesc.xml", "/ctl/IPConn", "*", "", "/" + "a" * 9000, "/%00"]),
        st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/9.9", "", "HTTP/1.1 x"]),
        st.sampled_from(
            [
                "Host: 127.0.0.1",
                "Content-Length: -1",
                "Content-Length: 99999999",
                "Transfer-Encoding: chunked",
                "X: " + "b" * 9000,
                "\r\n".join(f"H{n}: v" for n in range(80)),
                "Host",
            ]
        ),
    ),
)


def test_fuzzed_raw_http_never_stops_the_server(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    tried = 0

    async def exchange(data: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", harness.gateway.port)
        try:
            writer.write(data)
            await writer.drain()
            writer.write_eof()
            return await asyncio.wait_for(reader.read(200), 5)
        except ConnectionError:
            return b""
        finally:
            writer.close()

    @settings(FUZZ_SETTINGS, max_examples=400)
    @given(_raw_request)
    def one(data: bytes) -> None:
        nonlocal tried
        tried += 1
        answer = harness.runner.run(exchange(data))
        assert answer == b"" or answer.startswith((b"HTTP/1.1 4", b"HTTP/1.0 4")), answer

    one()
    print(f"raw HTTP fuzz: {tried} inputs, 0 crashes")

    assert _no_unexpected_errors(caplog) == []  # aiohttp's parser errors are refusal lines

    status, _ = harness.request("GET", "/rootDesc.xml", headers={})
    assert status == 200
    assert harness.table() == harness.baseline


SSDP_TARGETS = (
    SsdpTarget("upnp:rootdevice", "uuid:1::upnp:rootdevice"),
    SsdpTarget("urn:schemas-upnp-org:device:InternetGatewayDevice:2", "uuid:1::igd"),
)
_ssdp_lines = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "M-SEARCH * HTTP/1.1",
                "HOST: 239.255.255.250:1900",
                'MAN: "ssdp:discover"',
                "MAN: ssdp:discover",
                "MX: 1",
                "MX: -1",
                "MX: 99999999999999999999",
                "ST: ssdp:all",
                "ST: upnp:rootdevice",
                "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1",
                "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:99999999999999",
                "ST: " + "x" * 300,
                "ST:",
                ":",
                "",
            ]
        ),
        st.text(max_size=60),
    ),
    max_size=12,
)


def test_fuzzed_ssdp_datagrams_parse_or_are_ignored() -> None:
    tried = 0

    @settings(FUZZ_SETTINGS, max_examples=3000)
    @given(
        st.one_of(
            st.binary(max_size=1600),
            _ssdp_lines.map(lambda lines: "\r\n".join(lines).encode("utf-8", "surrogatepass")),
        )
    )
    def one(datagram: bytes) -> None:
        nonlocal tried
        tried += 1
        search = parse_ssdp_search(datagram)
        if search is not None:
            assert 0 < len(search.search_target) <= MAX_SEARCH_TARGET_LENGTH
            assert search.mx is None or 0 <= search.mx <= MX_MAX
            match_search(search.search_target, SSDP_TARGETS)

    one()
    print(f"SSDP fuzz: {tried} inputs, 0 crashes")


def test_fuzzed_gena_header_values_are_accepted_or_refused_cleanly() -> None:
    tried = 0
    limits = SubscriptionLimits()

    @settings(FUZZ_SETTINGS, max_examples=3000)
    @given(
        st.one_of(_header_value, st.text(max_size=300)),
        st.sampled_from(["127.0.0.1", "::1", "", "x"]),
    )
    def one(header: str, subscriber: str) -> None:
        nonlocal tried
        tried += 1
        try:
            urls = callback_urls(header, subscriber)
        except GenaHeaderError:
            urls = ()
        # CallStranger's invariant: every URL kept is plain http to the subscriber itself
        assert all(url.lower().startswith("http://") for url in urls)
        assert all(_same_host(url, subscriber) for url in urls)
        assert limits.min_timeout <= granted_timeout(header, limits) <= limits.max_timeout

    one()
    print(f"GENA header fuzz: {tried} inputs, 0 crashes")


def _same_host(url: str, subscriber: str) -> bool:
    host = ip_address(urlsplit(url).hostname or "")
    if isinstance(host, IPv6Address) and host.ipv4_mapped is not None:
        host = host.ipv4_mapped
    return host == ip_address(subscriber)
