"""The core's building blocks: creation order, expiry queue, port candidates, errors."""

from __future__ import annotations

import random

import pytest

from igd.core.errors import ERROR_DESCRIPTIONS, UpnpError
from igd.core.expiry import ExpiryQueue
from igd.core.order import CreationOrder
from igd.core.portchoice import candidate_ports


def test_creation_order_matches_a_plain_list_through_random_churn() -> None:
    rng = random.Random(2026)
    order = CreationOrder[int]()
    reference: list[int] = []
    next_key = 0
    for _ in range(5000):
        if reference and rng.random() < 0.45:
            key = rng.choice(reference)
            reference.remove(key)
            order.remove(key)
        else:
            reference.append(next_key)
            order.append(next_key)
            next_key += 1
        assert len(order) == len(reference)
        if reference:
            index = rng.randrange(len(reference))
            assert order.at(index) == reference[index]
    assert list(order) == reference
    assert all(order.at(i) == key for i, key in enumerate(reference))
    assert reference[0] in order
    assert -1 not in order


def test_creation_order_refuses_duplicates_and_bad_indexes() -> None:
    order = CreationOrder[str]()
    order.append("a")
    with pytest.raises(KeyError):
        order.append("a")
    for index in (-1, 1):
        with pytest.raises(IndexError):
            order.at(index)
    order.remove("a")
    with pytest.raises(IndexError):
        order.at(0)
    with pytest.raises(KeyError):
        order.remove("a")


def test_expiry_queue_hands_out_due_keys_earliest_first() -> None:
    queue = ExpiryQueue[str]()
    assert queue.next() is None
    queue.set("b", 20.0)
    queue.set("a", 10.0)
    queue.set("c", 30.0)
    queue.set("c", 5.0)  # moved earlier
    queue.set("b", 20.0)  # same time again: nothing changes
    queue.discard("a")
    queue.discard("missing")
    assert len(queue) == 2
    assert queue.next() == 5.0
    assert queue.pop_due(4.9) == []
    assert queue.pop_due(25.0) == [("c", 5.0), ("b", 20.0)]
    assert queue.next() is None
    assert len(queue) == 0


def test_expiry_queue_stays_exact_through_many_moves() -> None:
    queue = ExpiryQueue[int]()
    for round_ in range(200):
        for key in range(5):
            queue.set(key, float(round_ * 10 + key))
    assert queue.next() == 1990.0
    assert queue.pop_due(1992.0) == [(0, 1990.0), (1, 1991.0), (2, 1992.0)]
    queue.discard(3)
    queue.set(3, 1993.0)  # back at a time it had before
    assert queue.pop_due(2000.0) == [(3, 1993.0), (4, 1994.0)]


def test_candidate_ports_alternate_around_the_start() -> None:
    assert list(candidate_ports(5, 1, 9)) == [5, 6, 4, 7, 3, 8, 2, 9, 1]
    assert list(candidate_ports(2, 1, 6)) == [2, 3, 1, 4, 5, 6]
    assert list(candidate_ports(6, 1, 6)) == [6, 5, 4, 3, 2, 1]
    assert list(candidate_ports(1024, 1024, 1024)) == [1024]
    assert sorted(candidate_ports(30000, 1024, 65535)) == list(range(1024, 65536))


@pytest.mark.parametrize("start", [0, 10])
def test_candidate_ports_start_must_be_in_range(start: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        next(candidate_ports(start, 1, 9))


def test_upnp_error_carries_the_standard_names() -> None:
    assert UpnpError(718).description == "ConflictInMappingEntry"
    assert UpnpError(606).description == "Action not authorized"
    assert UpnpError(715).description == "WildCardNotPermittedInSrcIP"
    assert UpnpError(733).description == "InconsistentParameters"
    error = UpnpError(729, "port used on the gateway")
    assert (error.code, error.detail) == (729, "port used on the gateway")
    assert str(error) == "729 ConflictWithOtherMechanisms: port used on the gateway"
    assert str(UpnpError(730)) == "730 PortMappingNotFound"


@pytest.mark.parametrize("code", [724, 725, 726, 727, 0, 800])
def test_upnp_error_refuses_codes_a_v2_device_must_not_send(code: int) -> None:
    with pytest.raises(ValueError, match="Table 51"):
        UpnpError(code)
    assert code not in ERROR_DESCRIPTIONS
