"""GENA header rules on plain strings: SEQ wrap, CALLBACK refusals, TIMEOUT bounds, event bodies."""

from __future__ import annotations

import defusedxml.ElementTree as SafeElementTree
import pytest

from igd.upnp.gena import SubscriptionLimits
from igd.upnp.gena_messages import (
    MAX_CALLBACK_URLS,
    SEQ_MAX,
    GenaHeaderError,
    callback_urls,
    following_seq,
    granted_timeout,
    property_set,
)
from tests.daemon.gena_support import EVENT_NAMESPACE


def test_seq_counts_up_and_wraps_to_one_never_zero() -> None:
    assert following_seq(0) == 1
    assert following_seq(41) == 42
    assert following_seq(SEQ_MAX - 1) == SEQ_MAX
    assert following_seq(SEQ_MAX) == 1


def test_callback_from_an_ipv4_mapped_peer_matches_its_ipv4_address() -> None:
    assert callback_urls("<http://192.168.50.10:5000/cb>", "::ffff:192.168.50.10") == (
        "http://192.168.50.10:5000/cb",
    )


def test_ipv6_callback_must_be_the_subscriber_too() -> None:
    assert callback_urls("<http://[fd00::10]:5000/cb>", "fd00::10") == (
        "http://[fd00::10]:5000/cb",
    )
    with pytest.raises(GenaHeaderError):
        callback_urls("<http://[fd00::11]:5000/cb>", "fd00::10")


def test_at_most_a_few_callback_urls_are_kept_in_order() -> None:
    header = "".join(f"<http://192.168.50.10:{5000 + n}/cb>" for n in range(10))

    urls = callback_urls(header, "192.168.50.10")

    assert urls == tuple(f"http://192.168.50.10:{5000 + n}/cb" for n in range(MAX_CALLBACK_URLS))


@pytest.mark.parametrize(
    ("header", "subscriber"),
    [
        ("<http://192.168.50.10/cb>", ""),  # the peer address is unknown
        ("<http://192.168.50.10/cb>", "not an address"),
        ("<http://192.168.50.10/cb>" * 200, "192.168.50.10"),  # header far too long
        ("<http://192.168.50.10:bad/cb>", "192.168.50.10"),
        ("<http://[fd00::10/cb>", "fd00::10"),
        ("<http://192.168.50.10\x01/cb>", "192.168.50.10"),
        ("<HTTP://192.168.50.11/cb>", "192.168.50.10"),
    ],
)
def test_unusable_callbacks_are_refused(header: str, subscriber: str) -> None:
    with pytest.raises(GenaHeaderError):
        callback_urls(header, subscriber)


def test_scheme_case_does_not_matter() -> None:
    assert callback_urls("<HTTP://192.168.50.10/cb>", "192.168.50.10") == (
        "HTTP://192.168.50.10/cb",
    )


def test_timeout_bounds_come_from_the_limits() -> None:
    limits = SubscriptionLimits(min_timeout=300, max_timeout=600)

    assert granted_timeout("Second-100", limits) == 300
    assert granted_timeout(" Second-450 ", limits) == 450
    assert granted_timeout("Second-99999999999", limits) == 300  # too many digits: unreadable
    assert granted_timeout("Second-9999999999", limits) == 600


def test_event_body_is_one_property_per_variable_with_values_escaped() -> None:
    body = property_set({"A": "x<y", "B": "&amp;", "C": ""})

    root = SafeElementTree.fromstring(body)
    values = [(v.tag, v.text or "") for p in root.findall(f"{EVENT_NAMESPACE}property") for v in p]
    assert root.tag == f"{EVENT_NAMESPACE}propertyset"
    assert values == [("A", "x<y"), ("B", "&amp;"), ("C", "")]
