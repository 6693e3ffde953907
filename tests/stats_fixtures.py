"""Replaying real captures into the database the way the bridge does: the call tracker's records written by
``persist_call``, then ``update_statistics`` (the intervals), optionally moved in time (a DST night); and the
fixtures every statistics test file uses (import them: ``from tests.stats_fixtures import node, ...``)."""

from __future__ import annotations

import pytest

from pbx.asterisk.bridge import domain as d
from pbx.asterisk.bridge.core import BridgeCore
from pbx.asterisk.bridge.persist import persist_call, update_statistics
from pbx.asterisk.resolve import TRUNK, Resolver
from tests.bridge_fixtures import capture_resolver, events_of, real_capture_map
from tests.helpers import capture_events


@pytest.fixture(autouse=True)
def pushed():
    """What the bridge pushed to browsers (through pbx.events, with the publisher swapped)."""
    with capture_events() as captured:
        yield captured


@pytest.fixture(autouse=True)
def no_stray_callbacks(db):
    """Callback rows another test's worker thread committed would count in these intervals: not ours."""
    from pbx.models import CallbackRequest

    CallbackRequest.objects.all().delete()


@pytest.fixture
def node(db):
    from pbx.models import AsteriskNode

    return AsteriskNode.default()


def real_resolver(name: str, demo) -> Resolver:
    """A real capture's names (tests/fixtures/asterisk-real) mapped to the test database's Demo AB: Bob,
    Cecilia, David and Eva, the trunk, and Support (and Sales, where the map lists its ``queues``)."""
    about = real_capture_map(name)
    people = {"bob": demo.agents[0], "cecilia": demo.agents[1], "david": demo.agents[2], "eva": demo.users[0]}
    resolver = Resolver()
    tenant_id = demo.tenant.pk
    for key, person in about["people"].items():
        user = people[key]
        for endpoint in person["endpoints"].values():
            resolver.alias_endpoint(endpoint, tenant_id, user.pk)
        resolver.alias_extension(tenant_id, person["extension"], user.pk)
    if "trunk" in about:
        resolver.alias_endpoint(about["trunk"]["endpoint"], tenant_id, kind=TRUNK)
    if "queue" in about:
        resolver.alias_queue(about["queue"]["name"], tenant_id, demo.queues["Support"].pk)
    for queue_name, queue in about.get("queues", {}).items():
        resolver.alias_queue(queue_name, tenant_id, demo.queues[queue["label"]].pk)
    return resolver


def first_at(name: str) -> float:
    return events_of(name)[0][0]


def replay_into_db(name: str, demo, node, *, at: float | None = None, real: bool = True) -> list[d.Event]:
    """Replay capture ``name`` through the call tracker (moved so that its first event is at ``at``), write its
    calls and update the statistics as the bridge's delivery does; the domain events."""
    resolver = real_resolver(name, demo) if real else capture_resolver(demo)
    core = BridgeCore(node.name, resolver)
    shift = 0.0 if at is None else at - first_at(name)
    events: list[d.Event] = []
    for when, raw in events_of(name):
        events.extend(core.process(raw, when + shift))
    store_calls(node.name, events)
    return events


def store_calls(node_name: str, events: list[d.Event]) -> None:
    """What the bridge's delivery does with a batch of domain events (pbx.asterisk.bridge.service): write each
    loggable call (call and queue log), then update the statistics' intervals."""
    for event in events:
        if isinstance(event, d.CallEnded) and event.record is not None and event.record.loggable:
            persist_call(event.record)
    update_statistics(node_name, events)
