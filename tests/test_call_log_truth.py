"""The call log tells the truth: forwards, voicemail and queues that could not take the call.

Every test runs the whole path: the fake Asterisk plays the generated dialplan's flow (its routes raise
the same ``UserEvent``s as pbx/asterisk/confgen writes, between the channel, Dial and Queue events of the
captures) over AMI, the AMI client and the NodeBridge turn it into a finished call, and ``persist_call``
writes the call log and queue log rows that are read back here.
"""

from __future__ import annotations

import asyncio

import pytest

from pbx.asterisk.bridge.persist import persist_call
from pbx.models import AsteriskNode, Destination
from stats.models import CallLog, QueueEvent
from tests.bridge_fixtures import bridge_on_fake, capture_resolver, until
from tests.fake_asterisk.state import AsteriskState, Route
from tests.helpers import capture_events

SCALE = 0.05  # fake seconds → real seconds
DDI = "+46855500001"


@pytest.fixture
def node(db):
    return AsteriskNode.default()


@pytest.fixture(autouse=True)
def pushed():
    """What the bridge pushed to browsers (through pbx.events, with the publisher swapped)."""
    with capture_events() as captured:
        yield captured


def run(demo, state: AsteriskState, act, *, calls: int = 1) -> list[CallLog]:
    """Play ``act(fake)`` on a fake Asterisk with ``state`` through AMI and the bridge; the logged calls."""
    records: list = []

    async def scenario():
        async with bridge_on_fake(state, capture_resolver(demo), time_scale=SCALE, persist=records.append) as (fake, _):
            result = act(fake)
            if asyncio.iscoroutine(result):
                await result
            await until(lambda: len(records) >= calls)

    asyncio.run(scenario())
    return [persist_call(r) for r in records]


def world(demo, routes: dict[tuple[str, str], Route], *, queue_max: int = 0, agent: str | None = None) -> AsteriskState:
    """The captures' phones (1001 Alice, 1002 Olle, sipp the outside line) and Demo AB's Support queue
    under its generated name, with the routes of the flow under test."""
    st = AsteriskState.default()
    queue = st.add_queue(support_name(demo), max=queue_max)
    if agent:
        st.add_member(queue, f"PJSIP/{agent}", agent, membership="static")
    st.routes.update(routes)
    return st


def support_name(demo) -> str:
    return f"t{demo.tenant.pk}-q{demo.queues['Support'].pk}"


def user_event(name: str, nxt: tuple[str, str] | None, **fields) -> Route:
    return Route("userevent", name, fields=tuple((k, v if callable(v) else str(v)) for k, v in fields.items()),
                 next=nxt)


def outside_call(fake, ddi: str = DDI):
    return fake.place_call("sipp", ddi, context="default", caller_num="+46701112233", caller_name="Kund")


async def answered_then_hung_up(fake, ddi: str = DDI, talk: float = 0.3):
    call = outside_call(fake, ddi)
    for _ in range(500):
        if call.callee is not None:
            break
        await asyncio.sleep(0.01)
    assert call.callee is not None, "nobody answered"
    await asyncio.sleep(talk)
    fake.hangup(call.caller)


# --------------------------------------------------------------------------------- forwards


def test_a_call_forwarded_by_a_status_keeps_the_person_and_says_where_it_went(demo, node):
    alice, olle, tenant = demo.admin, demo.operator, demo.tenant.pk
    dest = Destination.objects.create(tenant=demo.tenant, kind="user", user=olle, label="Olle i växeln")
    st = world(demo, {
        # t<T>-user-<alice> → pbx-person says "status" → t<T>-status-fwd,<code>: UserEvent, then the destination
        ("default", DDI): user_event("PbxForward", ("fwd", "1002"), Tenant=tenant, User=alice.pk, Reason="status",
                                     To=f"dest:{dest.pk}"),
        ("fwd", "1002"): Route("dial", "PJSIP/1002", timeout=20),
    })
    (entry,) = run(demo, st, answered_then_hung_up)
    entry.refresh_from_db()
    assert (entry.dialled_number, entry.to_number, entry.forwarded_from) == (DDI, alice.extension, alice)
    assert (entry.forward_reason, entry.forwarded_to) == ("status", "Olle i växeln")
    assert (entry.result, entry.answered_by) == ("answered", olle)
    assert set(entry.users.all()) == {olle}


def test_a_call_forwarded_by_a_profile_on_no_answer_says_so(demo, node):
    alice, olle, tenant = demo.admin, demo.operator, demo.tenant.pk
    st = world(demo, {
        ("default", DDI): Route("dial", "PJSIP/1001", timeout=10, next=("person", "forward")),
        ("person", "forward"): user_event("PbxForward", ("fwd", "1002"), Tenant=tenant, User=alice.pk,
                                          Reason="noanswer", To="1002"),
        ("fwd", "1002"): Route("dial", "PJSIP/1002", timeout=20),
    })
    st.endpoints["1001"].answer = "noanswer"
    (entry,) = run(demo, st, answered_then_hung_up)
    assert (entry.to_number, entry.forwarded_from, entry.forward_reason, entry.forwarded_to) == (
        alice.extension, alice, "no_answer", "1002")
    assert (entry.result, entry.answered_by) == ("answered", olle)
    assert 10 * SCALE * 0.8 <= entry.wait_s <= 10 * SCALE + 0.5  # Alice's phone rang 10 s, then Olle's


def test_a_forward_event_naming_another_company_is_ignored(demo, exempel, node):
    st = world(demo, {
        ("default", DDI): user_event("PbxForward", ("fwd", "1002"), Tenant=exempel.tenant.pk,
                                     User=exempel.admin.pk, Reason="status", To="1002"),
        ("fwd", "1002"): Route("dial", "PJSIP/1002", timeout=20),
    })
    (entry,) = run(demo, st, answered_then_hung_up)
    assert entry.tenant == demo.tenant
    assert (entry.forwarded_from, entry.forward_reason, entry.forwarded_to) == (None, "", "")


def test_a_forward_by_the_target_of_a_transfer_belongs_to_the_transfer_not_to_the_call(demo, node):
    """Olle answers, then transfers the caller blind to Alice, whose status forwards to voicemail: the log
    says Olle answered and transferred; no forward of a call meant for Olle."""
    alice, olle, tenant = demo.admin, demo.operator, demo.tenant.pk
    st = world(demo, {
        ("default", DDI): Route("dial", "PJSIP/1002", timeout=20),
        ("internal", "1001"): user_event("PbxForward", ("vm", "800"), Tenant=tenant, User=alice.pk, Reason="status",
                                         To="dest:1"),
        ("vm", "800"): user_event("PbxVoicemail", ("vmbox", "800"), Tenant=tenant, Mailbox="800"),
        ("vmbox", "800"): Route("voicemail", f"800@t{tenant},u", duration=5),
    })

    async def answered_then_transferred(fake):
        call = outside_call(fake)
        for _ in range(500):
            if call.callee is not None:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        assert fake.blind_transfer(call.callee, "internal", "1001")

    (entry,) = run(demo, st, answered_then_transferred)
    assert (entry.answered_by, entry.result, entry.forwarded_from, entry.forward_reason) == (olle, "answered", None, "")
    assert [t["kind"] for t in entry.transfers] == ["blind"] and entry.voicemail_box == "800"


# --------------------------------------------------------------------------------- voicemail


def test_a_call_that_ends_in_the_persons_voicemail_is_voicemail_with_the_ring_time_as_wait(demo, node):
    alice, tenant = demo.admin, demo.tenant.pk
    st = world(demo, {
        ("default", DDI): Route("dial", "PJSIP/1001", timeout=10, next=("person", "vmunavail")),
        ("person", "vmunavail"): user_event("PbxVoicemail", ("vm", "1001"), Tenant=tenant, User=alice.pk,
                                            Mailbox=f"1001@t{tenant}"),
        ("vm", "1001"): Route("voicemail", f"1001@t{tenant},u", duration=20),
    })
    st.endpoints["1001"].answer = "noanswer"
    (entry,) = run(demo, st, outside_call)
    assert (entry.result, entry.voicemail_box, entry.answered_by, entry.answered_at) == ("voicemail", "1001", None, None)
    assert entry.talk_s == 0
    call_s = (entry.ended_at - entry.started_at).total_seconds()
    assert entry.wait_s == pytest.approx(10 * SCALE, abs=0.25) and entry.wait_s < call_s - 0.5
    assert set(entry.users.all()) == {alice}
    assert (entry.dialled_number, entry.to_number) == (DDI, alice.extension)


def test_a_call_to_a_shared_mailbox_is_voicemail_not_answered(demo, node):
    tenant = demo.tenant.pk
    st = world(demo, {
        # t<T>-voicemail,800: Answer, UserEvent, VoiceMail
        ("default", DDI): user_event("PbxVoicemail", ("vm", "800"), Tenant=tenant, Mailbox="800"),
        ("vm", "800"): Route("voicemail", f"800@t{tenant},u", duration=10),
    })
    (entry,) = run(demo, st, outside_call)
    assert (entry.result, entry.voicemail_box, entry.answered_at) == ("voicemail", "800", None)
    assert entry.wait_s < 0.3


# --------------------------------------------------------------------------------- queues


def test_a_call_meeting_a_queue_without_agents_is_logged_against_it(demo, node):
    tenant, support = demo.tenant.pk, demo.queues["Support"]
    st = world(demo, {
        ("default", DDI): Route("queue", support_name(demo), otherwise=("q", "noagents")),
        ("q", "noagents"): user_event("PbxQueueResult", ("vm", "800"), Tenant=tenant, Queue=support.pk,
                                      Result="noagents"),
        ("vm", "800"): user_event("PbxVoicemail", ("vmbox", "800"), Tenant=tenant, Mailbox="800"),
        ("vmbox", "800"): Route("voicemail", f"800@t{tenant},u", duration=10),
    })
    (entry,) = run(demo, st, outside_call)
    assert (entry.queue, entry.queue_result, entry.result) == (support, "noagents", "voicemail")
    rows = list(QueueEvent.objects.filter(call=entry))
    assert [(r.kind, r.queue) for r in rows] == [("noagents", support)]
    assert QueueEvent.objects.filter(tenant=demo.tenant, queue=support, kind="noagents").count() == 1


def test_a_caller_who_waited_out_the_queue_is_a_timeout_with_the_wait(demo, node):
    tenant, support = demo.tenant.pk, demo.queues["Support"]
    st = world(demo, {
        ("default", DDI): Route("queue", support_name(demo), otherwise=("q", "noagents"), max_wait=10,
                                next=("q", "overflow")),
        ("q", "overflow"): user_event(
            "PbxQueueResult", ("bye", "s"), Tenant=tenant, Queue=support.pk,
            # ${IF($["${QUEUESTATUS}" = "FULL"]?overflow:timeout)}
            Result=lambda ch: "overflow" if ch.variables.get("QUEUESTATUS") == "FULL" else "timeout"),
        ("bye", "s"): Route("playback", "vm-goodbye", duration=2),
    }, agent="1001")
    st.endpoints["1001"].answer = "noanswer"
    (entry,) = run(demo, st, outside_call)
    assert (entry.queue, entry.queue_result, entry.result) == (support, "timeout", "no_answer")
    kinds = [r.kind for r in QueueEvent.objects.filter(call=entry).order_by("at", "id")]
    assert kinds[0] == "enter" and kinds[-1] == "timeout" and "abandon" not in kinds
    assert entry.wait_s == pytest.approx(10 * SCALE, abs=0.25)


def test_a_call_turned_away_by_a_full_queue_is_an_overflow(demo, node):
    tenant, support = demo.tenant.pk, demo.queues["Support"]
    st = world(demo, {
        ("default", DDI): Route("queue", support_name(demo), next=("q", "overflow")),
        ("q", "overflow"): user_event(
            "PbxQueueResult", ("bye", "s"), Tenant=tenant, Queue=support.pk,
            Result=lambda ch: "overflow" if ch.variables.get("QUEUESTATUS") == "FULL" else "timeout"),
        ("bye", "s"): Route("playback", "vm-goodbye", duration=2),
    }, queue_max=1, agent="1001")
    st.endpoints["1001"].answer = "noanswer"

    async def two_callers(fake):
        first = outside_call(fake)
        await asyncio.sleep(0.1)
        outside_call(fake)
        await asyncio.sleep(0.5)
        fake.hangup(first.caller)

    entries = run(demo, st, two_callers, calls=2)
    by_result = {e.queue_result: e for e in entries}
    assert set(by_result) == {"abandoned", "overflow"}
    full = by_result["overflow"]
    assert full.queue == support and full.wait_s < 0.2
    assert [r.kind for r in QueueEvent.objects.filter(call=full)] == ["overflow"]


def test_a_queue_number_called_while_closed_counts_for_the_queue(demo, node):
    tenant, support = demo.tenant.pk, demo.queues["Support"]
    st = world(demo, {
        # t<T>-inbound → schedule closed → t<T>-closed,n<number>: UserEvent, then the closed destination
        ("default", DDI): user_event("PbxQueueResult", ("bye", "s"), Tenant=tenant, Queue=support.pk,
                                     Result="closed"),
        ("bye", "s"): Route("playback", "vm-goodbye", duration=2),
    })
    (entry,) = run(demo, st, outside_call)
    assert (entry.queue, entry.queue_result) == (support, "closed")
    assert [r.kind for r in QueueEvent.objects.filter(call=entry)] == ["closed"]


def test_a_queue_result_for_another_companys_queue_is_ignored(demo, exempel, node):
    other = exempel.queues[next(iter(exempel.queues))]
    st = world(demo, {
        ("default", DDI): user_event("PbxQueueResult", ("bye", "s"), Tenant=exempel.tenant.pk, Queue=other.pk,
                                     Result="closed"),
        ("bye", "s"): Route("playback", "vm-goodbye", duration=2),
    })
    (entry,) = run(demo, st, outside_call)
    assert entry.tenant == demo.tenant and entry.queue is None and entry.queue_result == ""
    assert not QueueEvent.objects.filter(tenant=exempel.tenant).exists()
