"""``*45200`` dialled on a real Asterisk 22.10.1 (tests/fixtures/asterisk-real/ami/phone_code_login: sipp as
Bob's desk phone, ``manage.py run_bridge`` through a recording AMI proxy), replayed through the bridge, and
the fake's feature-code dial held against it event by event.

What the real run showed: the UserEvent carries the channel block, ``UserEvent: PbxQueueAgent`` and the
dialplan's own headers in order; the AstDB writer's ``QueueAdd`` (connection ``ami-2``) reached Asterisk
before the bridge's ``Setvar PBX_ANSWER=ok`` (connection ``ami``), and ``WaitForCondition`` woke 55 ms after
the Setvar; Gosub's arguments appear as ``LOCAL(ARGn)``/``LOCAL(ARGC)`` VarSets, Return unsets the frame's
non-empty locals newest first; the dialplan falls off the end with ``SoftHangupRequest`` then ``Hangup``
cause 0 at ``t1-agentcode,45,2``.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from pbx.asterisk.bridge import dialplan_events
from pbx.asterisk.bridge import domain as d
from pbx.asterisk.bridge.core import BridgeCore
from pbx.models import QueueAgent
from tests.bridge_fixtures import (
    REAL,
    StubAmi,
    events_of,
    parse_event,
    real_capture_map,
    real_capture_resolver,
    replay_real,
)

NAME = "phone_code_login"
CHANNEL = "PJSIP/t1-fdabe0abad-00000001"


def _records(name: str) -> list[dict]:
    return [json.loads(line) for line in (REAL / "ami" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


def records() -> list[dict]:
    return _records(NAME)


def replayed() -> list[d.Event]:
    return replay_real(NAME, node="real")


def test_the_real_star45_dial_becomes_one_dialplan_request_for_bob():
    about = real_capture_map(NAME)
    (used,) = [e for e in replayed() if isinstance(e, d.FeatureCodeUsed)]
    assert used.feature == "PbxQueueAgent" and used.tenant_id == about["tenant"]["pk"]
    assert used.user_id == about["people"]["bob"]["user_pk"] and used.channel == CHANNEL
    assert used.values == {"Action": "login", "QueueExtension": "200"} | {
        k: v for k, v in used.values.items() if k not in ("Action", "QueueExtension")}
    assert used.values["Action"] == "login" and used.values["QueueExtension"] == "200"
    assert "channel" not in used.message()  # the browser gets the fact, not Asterisk's line name


def test_on_the_real_asterisk_the_member_was_added_before_the_phone_was_told_ok():
    sent = [(r["conn"], parse_event(r["raw"])) for r in records() if r["dir"] == "send"]
    order = [(conn, a.get("Action"), a.get("Variable"), a.get("Value")) for conn, a in sent
             if a.get("Action") in ("QueueAdd", "Setvar")]
    assert order == [("ami-2", "QueueAdd", None, None), ("ami", "Setvar", "PBX_ANSWER", "ok")]
    (setvar,) = [a for conn, a in sent if a.get("Action") == "Setvar"]
    assert setvar["Channel"] == CHANNEL


def test_the_bridge_answers_the_real_event_on_its_own_channel_only(demo, bob):
    """The captured event through the real handler (Bob logged out first), then the answer on a stub AMI."""
    (used,) = [e for e in replayed() if isinstance(e, d.FeatureCodeUsed)]
    event = d.FeatureCodeUsed(demo.tenant.pk, used.at, bob.pk, used.feature, used.values, channel=used.channel,
                              call_id=used.call_id)
    support = QueueAgent.objects.get(queue__extension="200", queue__tenant=demo.tenant, user=bob)
    QueueAgent.objects.filter(pk=support.pk).update(logged_in=False)
    answer = dialplan_events.run_handler(dialplan_events.HANDLERS[event.feature], event)
    assert answer.result == "ok"
    support.refresh_from_db()
    assert support.logged_in
    ami = StubAmi()
    consumer = dialplan_events.DialplanEvents("real", lambda: ami)
    asyncio.run(consumer.answer(event, answer))
    assert ami.sent == [{"Action": "Setvar", "Channel": CHANNEL, "Variable": "PBX_ANSWER", "Value": "ok"}]


# ------------------------------------------------------------------------------------------------ the fake


NOISE_VARIABLES = ("RTPAUDIOQOS",)
KEYS = ("Event", "Context", "Exten", "Priority", "Extension", "Application", "AppData", "Variable", "Value",
        "UserEvent", "Action", "Tenant", "User", "QueueExtension", "Cause", "ChannelState")


def shape(events: list[dict], channel: str, names: dict[str, str]) -> list[tuple]:
    """What happened on the dialling channel, with the run's own names (endpoint, uniqueid) made neutral."""
    out = []
    for event in events:
        if event.get("Channel") != channel or event.get("Event") == "Cdr":
            continue
        if str(event.get("Variable", "")).startswith(NOISE_VARIABLES):
            continue
        row = []
        for key in KEYS:
            value = event.get(key)
            if isinstance(value, str):
                for old, new in names.items():
                    value = value.replace(old, new)
            row.append(value)
        out.append(tuple(row))
    return out


@pytest.fixture
def demo_world(demo, exempel):
    from tests.fake_asterisk.demo_traffic import load_worlds

    return load_worlds("demo")


@pytest.mark.parametrize("name, digits, channel, uniqueid", [
    ("phone_code_login", "*45200", CHANNEL, "1796591885.1"),
    ("phone_code_status", "*201", "PJSIP/t1-fdabe0abad-00000007", "1796591918.7"),
])
async def test_the_fakes_feature_codes_match_the_real_asterisk_event_for_event(demo_world, bob, demo, name, digits,
                                                                                channel, uniqueid):
    from pbx.asterisk.ami import AmiClient
    from tests.fake_asterisk import DEFAULT_SECRET, DEFAULT_USERNAME, FakeAsterisk
    from tests.fake_asterisk.demo_traffic import install

    about = real_capture_map(name)
    real_bob = about["people"]["bob"]
    if demo.tenant.pk != about["tenant"]["pk"] or bob.pk != real_bob["user_pk"]:
        pytest.skip("the test database numbers Demo AB / Bob differently from the capture")
    real = shape([e for _at, e in events_of(name)], channel, {channel: "<bob>", uniqueid: "<uid>"})
    # What the bridge answered in the capture, sent again to the fake on its channel.
    answers = [(a["Variable"], a["Value"]) for a in (parse_event(r["raw"]) for r in _records(name)
                                                     if r["dir"] == "send" and r["conn"] == "ami")
               if a.get("Action") == "Setvar" and a.get("Channel") == channel]

    # read "all", as the capture was recorded: the deployed manager.conf user reads no dialplan class (Newexten,
    # VarSet), the bridge needs none of them.
    fake = FakeAsterisk(time_scale=1.0, ami_read="all", ami_write="all")
    install(fake, *demo_world)
    await fake.start(ami_port=0, ari_port=None)
    seen: list[dict] = []
    raised = asyncio.Event()

    def on_event(raw):
        seen.append(dict(raw))
        if raw.get("Event") == "UserEvent":
            raised.set()

    ami = AmiClient("127.0.0.1", fake.ami.port, DEFAULT_USERNAME, DEFAULT_SECRET, timeout=2.0, ping_interval=60.0,
                    on_event=on_event)
    try:
        await ami.start()
        await ami.wait_connected(5)
        endpoint = demo_world[0].people[bob.pk].endpoints[0]
        dial = fake.dial_feature_code(endpoint, digits)
        await asyncio.wait_for(raised.wait(), 5)
        for variable, value in answers:
            await ami.action({"Action": "Setvar", "Channel": dial.channel.name, "Variable": variable, "Value": value})
        await asyncio.wait_for(dial.done.wait(), 10)
        await asyncio.sleep(0.2)
    finally:
        await ami.stop()
        await fake.stop()
    mine = shape(seen, dial.channel.name, {dial.channel.name: "<bob>", dial.channel.uniqueid: "<uid>"})
    assert mine == real


def test_the_real_status_code_wrote_astdb_before_the_phone_was_told_until_when():
    """*201 (Lunch, needs an end time): the keys and the BLF presence reached Asterisk first, then PBX_UNTIL (the
    end the database has), then PBX_ANSWER; the dialplan said the time with SayUnixTime in the company's zone."""
    name, channel = "phone_code_status", "PJSIP/t1-fdabe0abad-00000007"
    core = BridgeCore("real", real_capture_resolver(name))
    used = [e for at, raw in events_of(name) for e in core.process(raw, at) if isinstance(e, d.FeatureCodeUsed)]
    assert [(u.feature, u.values.get("Code"), u.channel) for u in used] == [("PbxPresence", "1", channel)]
    sent = [(r["conn"], parse_event(r["raw"])) for r in _records(name) if r["dir"] == "send"]
    writes = [(conn, a["Action"], a.get("Key") or a.get("Variable"), a.get("Val") or a.get("Value")) for conn, a in sent
              if a.get("Action") in ("DBPut", "Setvar")]
    until = real_capture_map(name)["status"]["until"]
    assert writes == [
        ("ami-2", "DBPut", "t1/u3/dnd", "0"), ("ami-2", "DBPut", "t1/u3/status", "1"),
        ("ami-2", "DBPut", "t1/u3/status_until", str(until)),
        ("ami-2", "Setvar", "PRESENCE_STATE(CustomPresence:t1-u3)", writes[3][3]),
        ("ami", "Setvar", "PBX_UNTIL", str(until)), ("ami", "Setvar", "PBX_ANSWER", "ok"),
    ]
    said = [e["AppData"] for _at, e in events_of(name) if e.get("Application") == "SayUnixTime"]
    assert said == [f"{until},Europe/Stockholm,HM"]
