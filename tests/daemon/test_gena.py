"""GENA as a control point sees it: subscribe, events, renewal, unsubscribe, and every refusal.

A real EventPublisher behind aiohttp on loopback, and a real NOTIFY receiver on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from igd.upnp.gena import EventPublisher, SubscriptionLimits
from tests.daemon.gena_support import EVENT_PATH, NotifyReceiver, evented_values

SERVER = "Linux/6.6 UPnP/1.1 UPnPGateway/0.1"
SID_FORM = re.compile(r"uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class VirtualClock:
    """Monotonic time the test moves by hand, so expiry needs no waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Gateway:
    client: TestClient[web.Request, web.Application]
    publisher: EventPublisher
    state: dict[str, str]
    clock: VirtualClock

    async def subscribe(self, callback: str | None, **headers: str) -> tuple[int, dict[str, str]]:
        sent = {"NT": "upnp:event", **headers}
        if callback is not None:
            sent["CALLBACK"] = callback
        async with self.client.request("SUBSCRIBE", EVENT_PATH, headers=sent) as response:
            return response.status, dict(response.headers)

    async def renew(self, **headers: str) -> tuple[int, dict[str, str]]:
        async with self.client.request("SUBSCRIBE", EVENT_PATH, headers=headers) as response:
            return response.status, dict(response.headers)

    async def unsubscribe(self, **headers: str) -> int:
        async with self.client.request("UNSUBSCRIBE", EVENT_PATH, headers=headers) as response:
            return response.status


MakeGateway = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def make_gateway(
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
) -> AsyncIterator[MakeGateway]:
    publishers: list[EventPublisher] = []

    async def make(limits: SubscriptionLimits | None = None) -> Gateway:
        state = evented_values()
        clock = VirtualClock()
        publisher = EventPublisher(
            current=lambda: state,
            server=SERVER,
            limits=limits or SubscriptionLimits(),
            clock=clock,
        )
        publishers.append(publisher)
        app = web.Application()
        app.router.add_routes(publisher.routes(EVENT_PATH))
        return Gateway(await aiohttp_client(app), publisher, state, clock)

    yield make
    for publisher in publishers:
        await publisher.close()


@pytest.fixture
async def gateway(make_gateway: MakeGateway) -> Gateway:
    return await make_gateway()


@dataclass
class Subscriber:
    receiver: NotifyReceiver
    base: str

    def callback(self, path: str = "/notify") -> str:
        return f"<{self.base}{path}>"


@pytest.fixture
async def subscriber(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> AsyncIterator[Subscriber]:
    receiver = NotifyReceiver()
    server = await aiohttp_server(receiver.app(), host="127.0.0.1")
    yield Subscriber(receiver, f"http://127.0.0.1:{server.port}")
    receiver.release.set()


def closed_port() -> int:
    """A loopback port nobody listens on: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def renewal_refused_soon(gateway: Gateway, sid: str) -> bool:
    """Whether renewing `sid` is refused within a few seconds (its failures take that long)."""
    for _ in range(50):
        status, _ = await gateway.renew(SID=sid)
        if status == 412:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_subscribe_answers_sid_and_timeout_then_sends_initial_event(
    gateway: Gateway, subscriber: Subscriber
) -> None:
    status, headers = await gateway.subscribe(subscriber.callback(), TIMEOUT="Second-3600")

    assert status == 200
    assert SID_FORM.fullmatch(headers["SID"])
    assert headers["TIMEOUT"] == "Second-3600"
    assert headers["Server"] == SERVER
    assert "Date" in headers
    event = await subscriber.receiver.next()
    assert event.path == "/notify"
    assert event.headers["SID"] == headers["SID"]
    assert event.headers["SEQ"] == "0"
    assert event.headers["NT"] == "upnp:event"
    assert event.headers["NTS"] == "upnp:propchange"
    assert event.headers["CONTENT-TYPE"] == 'text/xml; charset="utf-8"'
    assert event.values == evented_values()


@pytest.mark.parametrize(
    ("requested", "granted"),
    [
        (None, "Second-1800"),
        ("Second-60", "Second-1800"),
        ("Second-7200", "Second-7200"),
        ("Second-1000000", "Second-86400"),
        ("Second-infinite", "Second-1800"),
        ("Second-1800.0", "Second-1800"),  # async-upnp-client renews like this
        ("second-3600", "Second-3600"),
        ("Second--5", "Second-1800"),
        ("soon", "Second-1800"),
    ],
)
async def test_granted_timeout_is_bounded(
    gateway: Gateway, subscriber: Subscriber, requested: str | None, granted: str
) -> None:
    extra = {} if requested is None else {"TIMEOUT": requested}
    status, headers = await gateway.subscribe(subscriber.callback(), **extra)

    assert status == 200
    assert headers["TIMEOUT"] == granted


@pytest.mark.parametrize(
    "headers",
    [
        {"NT": ""},
        {"NT": "upnp:propchange"},
        {"CALLBACK": ""},
        {"CALLBACK": "http://127.0.0.1:1/notify"},  # no angle brackets
        {"CALLBACK": "<http://127.0.0.1:1/notify"},
        {"CALLBACK": "<http://127.0.0.1:1/notify>garbage"},
    ],
)
async def test_new_subscription_without_valid_nt_or_callback_is_412(
    gateway: Gateway, subscriber: Subscriber, headers: dict[str, str]
) -> None:
    sent = {"CALLBACK": subscriber.callback(), **headers}
    async with gateway.client.request("SUBSCRIBE", EVENT_PATH, headers=sent) as response:
        assert response.status == 412
    assert await subscriber.receiver.nothing_more()


async def test_subscription_without_nt_header_is_412(
    gateway: Gateway, subscriber: Subscriber
) -> None:
    headers = {"CALLBACK": subscriber.callback()}
    async with gateway.client.request("SUBSCRIBE", EVENT_PATH, headers=headers) as response:
        assert response.status == 412


@pytest.mark.parametrize(
    "callback",
    [
        "<http://192.0.2.1:{port}/notify>",  # another host: CallStranger
        "<http://localhost:{port}/notify>",  # a name, not the literal address
        "<https://127.0.0.1:{port}/notify>",
        "<ftp://127.0.0.1:{port}/notify>",
        "<http://user@127.0.0.1:{port}/notify>",
        "<http://127.0.0.1:0/notify>",
        "<http://127.0.0.1:99999/notify>",
        "<http://127.0.0.1:{port}/" + "x" * 300 + ">",
        "<http://127.0.0.1:{port}/a b>",
        "<>",
    ],
)
async def test_callback_not_to_the_subscriber_itself_is_refused(
    gateway: Gateway, subscriber: Subscriber, callback: str
) -> None:
    port = subscriber.base.rsplit(":", 1)[1]
    status, _ = await gateway.subscribe(callback.format(port=port))

    assert status == 412
    assert await subscriber.receiver.nothing_more()


async def test_only_acceptable_callbacks_are_used_in_order(
    gateway: Gateway, subscriber: Subscriber
) -> None:
    dead = f"<http://127.0.0.1:{closed_port()}/first>"
    foreign = "<http://192.0.2.1/elsewhere>"
    callbacks = f"{foreign}{dead} {subscriber.callback('/second')}"

    status, _ = await gateway.subscribe(callbacks)

    assert status == 200
    event = await subscriber.receiver.next()
    assert event.path == "/second"
    assert event.headers["SEQ"] == "0"


async def test_publish_sends_every_evented_variable_with_rising_seq(
    gateway: Gateway, subscriber: Subscriber
) -> None:
    await gateway.subscribe(subscriber.callback())
    await subscriber.receiver.next()

    gateway.state["PortMappingNumberOfEntries"] = "1"
    gateway.publisher.publish({"SystemUpdateID": "2"})
    gateway.publisher.publish({"ExternalIPAddress": "a<b&c>"})
    first = await subscriber.receiver.next()
    second = await subscriber.receiver.next()

    assert first.headers["SEQ"] == "1"
    assert first.values == {
        **evented_values(),
        "PortMappingNumberOfEntries": "1",
        "SystemUpdateID": "2",
    }
    assert second.headers["SEQ"] == "2"
    assert second.values["ExternalIPAddress"] == "a<b&c>"
    assert await subscriber.receiver.nothing_more()


async def test_every_subscriber_gets_its_own_event_and_seq(
    gateway: Gateway, subscriber: Subscriber
) -> None:
    _, one = await gateway.subscribe(subscriber.callback("/one"))
    await subscriber.receiver.next()
    gateway.publisher.publish({})
    await subscriber.receiver.next()
    _, two = await gateway.subscribe(subscriber.callback("/two"))
    await subscriber.receiver.next()

    gateway.publisher.publish({"SystemUpdateID": "9"})
    events = [await subscriber.receiver.next(), await subscriber.receiver.next()]

    seq_by_sid = {event.headers["SID"]: event.headers["SEQ"] for event in events}
    assert seq_by_sid == {one["SID"]: "2", two["SID"]: "1"}
    assert all(event.values["SystemUpdateID"] == "9" for event in events)


async def test_renewal_keeps_sid_and_sends_no_initial_event(
    gateway: Gateway, subscriber: Subscriber
) -> None:
    _, headers = await gateway.subscribe(subscriber.callback())
    await subscriber.receiver.next()
    gateway.clock.now += 1700

    status, renewed = await gateway.renew(SID=headers["SID"], TIMEOUT="Second-1800")
    gateway.clock.now += 1700  # past the first expiry, within the renewed one
    gateway.publisher.publish({})

    assert status == 200
    assert renewed["SID"] == headers["SID"]
    assert renewed["TIMEOUT"] == "Second-1800"
    assert (await subscriber.receiver.next()).headers["SEQ"] == "1"


@pytest.mark.parametrize("extra", [{"NT": "upnp:event"}, {"CALLBACK": "<http://127.0.0.1/>"}])
async def test_renewal_with_nt_or_callback_is_400(
    gateway: Gateway, subscriber: Subscriber, extra: dict[str, str]
) -> None:
    _, headers = await gateway.subscribe(subscriber.callback())

    status, _ = await gateway.renew(SID=headers["SID"], **extra)

    assert status == 400


async def test_renewal_of_unknown_sid_is_412(gateway: Gateway) -> None:
    status, _ = await gateway.renew(SID="uuid:00000000-0000-0000-0000-000000000000")

    assert status == 412


async def test_expired_subscription_gets_no_events_and_cannot_be_renewed(
    gateway: Gateway, subscriber: Subscriber
) -> None:
    _, headers = await gateway.subscribe(subscriber.callback())
    await subscriber.receiver.next()
    gateway.clock.now += 1801

    gateway.publisher.publish({"SystemUpdateID": "5"})
    status, _ = await gateway.renew(SID=headers["SID"])

    assert status == 412
    assert await subscriber.receiver.nothing_more()


async def test_unsubscribe_ends_events(gateway: Gateway, subscriber: Subscriber) -> None:
    _, headers = await gateway.subscribe(subscriber.callback())
    await subscriber.receiver.next()

    status = await gateway.unsubscribe(SID=headers["SID"])
    gateway.publisher.publish({"SystemUpdateID": "5"})

    assert status == 200
    assert await subscriber.receiver.nothing_more()
    assert await gateway.unsubscribe(SID=headers["SID"]) == 412


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 412),
        ({"SID": "uuid:00000000-0000-0000-0000-000000000000"}, 412),
        ({"NT": "upnp:event"}, 412),
    ],
)
async def test_unsubscribe_without_known_sid_is_412(
    gateway: Gateway, headers: dict[str, str], status: int
) -> None:
    assert await gateway.unsubscribe(**headers) == status


async def test_unsubscribe_with_nt_or_callback_is_400(
    gateway: Gateway, subscriber: Subscriber
) -> None:
    _, headers = await gateway.subscribe(subscriber.callback())

    assert await gateway.unsubscribe(SID=headers["SID"], NT="upnp:event") == 400
    assert await gateway.unsubscribe(SID=headers["SID"], CALLBACK=subscriber.callback()) == 400
    assert await gateway.unsubscribe(SID=headers["SID"]) == 200


async def test_other_methods_on_event_url_are_405(gateway: Gateway) -> None:
    async with gateway.client.get(EVENT_PATH) as response:
        assert response.status == 405
        assert response.headers["Allow"] == "SUBSCRIBE, UNSUBSCRIBE"


async def test_subscriptions_per_source_are_capped(
    make_gateway: MakeGateway, subscriber: Subscriber
) -> None:
    gateway = await make_gateway(SubscriptionLimits(per_source=2))
    _, first = await gateway.subscribe(subscriber.callback())
    await gateway.subscribe(subscriber.callback())

    refused, _ = await gateway.subscribe(subscriber.callback())
    await gateway.unsubscribe(SID=first["SID"])
    accepted, _ = await gateway.subscribe(subscriber.callback())

    assert refused == 503
    assert accepted == 200


async def test_subscriptions_in_all_are_capped(
    make_gateway: MakeGateway, subscriber: Subscriber
) -> None:
    gateway = await make_gateway(SubscriptionLimits(in_all=1))
    await gateway.subscribe(subscriber.callback())

    refused, _ = await gateway.subscribe(subscriber.callback())
    gateway.clock.now += 1801  # the first one expires and frees its place
    accepted, _ = await gateway.subscribe(subscriber.callback())

    assert refused == 503
    assert accepted == 200


@pytest.mark.parametrize("failure", ["refused", "error-status", "timeout", "redirect"])
async def test_dead_subscriber_is_dropped_while_another_still_gets_events(
    make_gateway: MakeGateway,
    subscriber: Subscriber,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    failure: str,
) -> None:
    gateway = await make_gateway(SubscriptionLimits(max_failures=2, notify_timeout=0.5))
    broken = NotifyReceiver()
    broken.status = 307 if failure == "redirect" else 500
    broken.stall = failure == "timeout"
    broken_server = await aiohttp_server(broken.app(), host="127.0.0.1")
    port = closed_port() if failure == "refused" else broken_server.port
    _, dead = await gateway.subscribe(f"<http://127.0.0.1:{port}/dead>")
    await gateway.subscribe(subscriber.callback())
    await subscriber.receiver.next()

    try:
        for number in range(1, 4):
            gateway.publisher.publish({"SystemUpdateID": str(number)})
            event = await subscriber.receiver.next()
            assert event.values["SystemUpdateID"] == str(number)
        dropped = await renewal_refused_soon(gateway, dead["SID"])
    finally:
        broken.release.set()

    assert dropped


async def test_one_failed_event_does_not_drop_the_subscriber(
    gateway: Gateway, subscriber: Subscriber
) -> None:
    _, headers = await gateway.subscribe(subscriber.callback())
    await subscriber.receiver.next()
    subscriber.receiver.status = 500

    gateway.publisher.publish({"SystemUpdateID": "2"})
    assert (await subscriber.receiver.next()).headers["SEQ"] == "1"
    subscriber.receiver.status = 200
    gateway.publisher.publish({"SystemUpdateID": "3"})

    assert (await subscriber.receiver.next()).headers["SEQ"] == "2"
    status, _ = await gateway.renew(SID=headers["SID"])
    assert status == 200
