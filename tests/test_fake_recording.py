"""The fake Asterisk records the way the generated dialplan does: the same steps in the same order, GROUP()
and LOCK() with Asterisk's semantics, the events of the real runs (on the answering phone, before Dial's
DialEnd; a transfer ends one person's recording and Dial's U() starts the next one's); and a burst of answers,
recordings on demand and listen-ins never takes more than the company's licences (one pool)."""

from __future__ import annotations

import asyncio
import threading
import time

from pbx.asterisk import licences
from pbx.asterisk.confgen import render_from_db
from pbx.asterisk.confgen.parse import parse_dialplan_text
from tests.fake_asterisk import FakeAsterisk
from tests.fake_asterisk import recording as rec
from tests.fake_asterisk.demo_traffic import TRUNK, DemoWorld, Person, QueueInfo, install
from tests.fake_asterisk.world import World

from .bridge_fixtures import events_of, real_capture_map

BOB, CECILIA = 3, 4
RECORDED_CALL = {"PBX_RECT": "1", "PBX_RECQ": "always", "PBX_RECK": "i", "PBX_RECO": "46701234567",
                 "PBX_QUEUE": "1", "PBX_DDI": "+4681559999"}


def world_with(licences: int, **keys) -> World:
    world = World()
    world.state.astdb.update({"/pbx/t1/rec/auto": "1", "/pbx/t1/rec/lic": str(licences), "/pbx/t1/rec/x": ":46709999999:",
                              f"/pbx/t1/u{BOB}/rec": "e", f"/pbx/t1/u{CECILIA}/rec": "ei"})
    world.state.astdb.update(keys)
    return world


def member(world: World, n: int):
    return world.new_channel(f"Local/{n}@t1-agents-{n:08x};1", context="t1-agents", exten="s", state=6)


def test_the_fake_takes_the_steps_of_the_generated_dialplan_in_its_order(db):
    plan = parse_dialplan_text(render_from_db()["extensions.conf"])
    go = plan.contexts["pbx-rec-answer"].extensions["go"].priorities
    text = [f"{p.app}({p.data})" for _n, p in sorted(go.items())]
    found = [next(i for i, line in enumerate(text) if marker in line) for marker in rec.GO_STEPS]
    assert found == sorted(found)


def test_the_fake_listens_in_with_the_steps_of_the_generated_pbx_listen(db):
    plan = parse_dialplan_text(render_from_db()["extensions.conf"])
    steps = plan.contexts["pbx-listen"].extensions["s"].priorities
    text = [f"{p.app}({p.data})" for _n, p in sorted(steps.items())]
    found = [next(i for i, line in enumerate(text) if marker in line) for marker in rec.LISTEN_STEPS]
    assert found == sorted(found)
    assert steps[rec.LISTEN_CHANSPY_PRIORITY].app == "ChanSpy"
    for mode, options in rec.LISTEN_OPTIONS.items():
        assert plan.contexts["pbx-listen"].extensions[mode].priorities[1].data == f"PBX_SPYOPT={options}"


def test_groups_follow_app_c():
    groups = rec.Groups()
    groups.set("a", "t1", "pbxrec")
    groups.set("a", "t2", "pbxrec")  # one group per category: the old one is left
    groups.set("b", "T1", "PBXREC")
    assert (groups.count("t1", "pbxrec"), groups.count("t2", "pbxrec")) == (1, 1)
    groups.set("b", "", "pbxrec")
    groups.forget("a")
    assert groups.count("t1", "pbxrec") + groups.count("t2", "pbxrec") == 0


def test_the_precedence_as_the_dialplan_reads_it():
    astdb = world_with(5).state.astdb
    assert rec.decide(astdb, RECORDED_CALL, 1, BOB) == "queue"
    assert rec.decide(astdb, {**RECORDED_CALL, "PBX_RECO": "46709999999"}, 1, BOB) == ""  # excluded
    assert rec.decide(astdb, {**RECORDED_CALL, "PBX_RECQ": "never"}, 1, CECILIA) == ""
    assert rec.decide(astdb, {**RECORDED_CALL, "PBX_RECQ": ""}, 1, CECILIA) == "department"
    assert rec.decide(astdb, {**RECORDED_CALL, "PBX_RECQ": ""}, 1, BOB) == ""
    assert rec.decide(astdb, {**RECORDED_CALL, "PBX_RECQ": "", "PBX_RECN": "1"}, 1, BOB) == "approved_number"
    assert rec.decide(astdb, RECORDED_CALL, 1, 5) == ""  # not enabled
    assert rec.decide({**astdb, "/pbx/t1/rec/auto": "0"}, RECORDED_CALL, 1, BOB) == ""  # kill switch


def test_over_the_licence_the_fake_raises_what_the_real_run_raised():
    world = world_with(1)
    first, second = member(world, BOB), member(world, CECILIA)
    assert rec.answer(world, first, 1, BOB, "r", RECORDED_CALL) == "recorded"
    assert rec.answer(world, second, 1, CECILIA, "r", RECORDED_CALL) == "refused"
    wanted = ("MixMonitorStart", "UserEvent")
    fake = [dict(h) for h in world.history if dict(h).get("Event") in wanted]
    real = [e for _at, e in events_of("recording_queue_licence_one") if e.get("Event") in wanted]
    assert [(e["Event"], e.get("UserEvent")) for e in fake] == [(e["Event"], e.get("UserEvent")) for e in real]
    for f, r in zip(fake, real, strict=True):  # the dialplan's own headers, in its order
        if f["Event"] == "UserEvent":
            assert list(f)[list(f).index("UserEvent"):] == list(r)[list(r).index("UserEvent"):]
    assert real[1]["Reason"] == fake[1]["Reason"] == "queue" and real[2]["InUse"] == fake[2]["InUse"] == "1"
    world.destroy_channel(first)  # the recorded call ends: its licence is free again
    assert world.state.groups.count("t1", rec.CATEGORY) == 0


def test_a_burst_of_answers_never_takes_more_than_the_licences():
    world = world_with(10)
    channels = [member(world, 100 + i) for i in range(50)]
    for i in range(50):
        world.state.astdb[f"/pbx/t1/u{100 + i}/rec"] = "e"
    barrier = threading.Barrier(50)
    results: list[str] = []

    def run(ch, user):
        barrier.wait()
        results.append(rec.answer(world, ch, 1, user, "r", RECORDED_CALL, pause=lambda: time.sleep(0)))

    threads = [threading.Thread(target=run, args=(ch, 100 + i)) for i, ch in enumerate(channels)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("recorded") == 10 and results.count("refused") == 40
    assert world.state.groups.count("t1", rec.CATEGORY) == 10


def test_the_dial_option_is_read_as_the_dialplan_writes_it():
    assert rec.dial_option("tU(pbx-rec-answer^r^6^^)") == rec.DialRecording("r", 6)
    assert rec.dial_option("taA(custom/t1/prompt-5:custom/t1/prompt-5)U(pbx-rec-answer^r^3^^^a)").how == "a"
    assert rec.dial_option("tU(pbx-rec-answer^r^6^3^1006)") == rec.DialRecording("r", 6, 3, "1006")
    assert rec.dial_option("TU(pbx-rec-answer^t^3)") == rec.DialRecording("t", 3)
    assert rec.dial_option("t") is None


def test_an_internal_call_is_recorded_for_the_caller_with_the_sides_swapped():
    world = world_with(5, **{f"/pbx/t1/u{BOB}/rec": "en", f"/pbx/t1/u{CECILIA}/rec": "ei"})
    leg = world.new_channel("PJSIP/t1-cecilia-00000001", context="t1-internal", exten="s", state=6)
    internal = {"PBX_RECT": "1", "PBX_RECK": "n", "PBX_RECO": "1003"}
    assert rec.answer(world, leg, 1, CECILIA, "r", internal, colleague=BOB, colleague_other="1004") == "recorded"
    (started,) = [dict(h) for h in world.history if dict(h).get("UserEvent") == "PbxRecording"]
    assert (started["User"], started["Other"], started["Kind"]) == (str(BOB), "1004", "n")


# The capture's people (tests/fixtures/asterisk-real/ami/recording_*.map.json): Bob 3, Cecilia 4, Eva 6.
def recorded_demo(name: str) -> DemoWorld:
    people = real_capture_map(name)["people"]
    bob, eva = people["bob"], people["eva"]
    return DemoWorld(1, "46", {
        3: Person(3, bob["name"], bob["extension"], [bob["endpoints"]["desk"]], direct_number="+4681550030", agent=True),
        6: Person(6, eva["name"], eva["extension"], [eva["endpoints"]["desk"]]),
    }, [QueueInfo(1, "Support", "200", "ringall", "+4681559999", agents=[(3, 0, False, "")])], recording=True)


def flow(events, endpoints: dict[str, str]) -> list[tuple[str, str]]:
    """What a recording's life looks like from AMI: who recorded (MixMonitorStart, PbxRecording with its
    person), whose Dial was answered, whose phone hung up; a person's phone by its endpoint."""
    def who(channel: str) -> str:
        return next((p for ep, p in endpoints.items() if channel.startswith(f"PJSIP/{ep}-")), channel.split("/")[0])

    out = []
    for e in events:
        name = e.get("Event")
        if name == "MixMonitorStart":
            out.append(("MixMonitorStart", who(e["Channel"])))
        elif name == "UserEvent" and e.get("UserEvent") == "PbxRecording":
            out.append(("PbxRecording", f"{who(e['Channel'])}:{e['User']}:{e['Reason']}"))
        elif name == "DialEnd" and e.get("DialStatus") == "ANSWER" and who(e["DestChannel"]) in endpoints.values():
            out.append(("DialEnd", who(e["DestChannel"])))
        elif name == "Hangup" and who(e["Channel"]) in endpoints.values():
            out.append(("Hangup", who(e["Channel"])))
    return out


async def until(condition, timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the fake did not get there"
        await asyncio.sleep(0.002)


async def transferred_on_the_fake(name: str, first: str) -> list[dict]:
    """The capture's steps: the customer calls (Bob's number, or Support), Bob answers, blind-transfers to
    1006, Eva answers, the customer hangs up."""
    world = recorded_demo(name)
    fake = FakeAsterisk(time_scale=0.001)
    state = install(fake, world)
    state.astdb.update({"/pbx/t1/rec/auto": "1", "/pbx/t1/rec/lic": "4", f"/pbx/t1/u{BOB}/rec": "ei",
                        "/pbx/t1/u6/rec": "ei"})
    bob, eva = (world.people[u].endpoints[0] for u in (3, 6))
    customer = fake.new_channel(state.new_pjsip_name(TRUNK), caller_num="+46701234567", caller_name="Kund",
                                context=first[0], exten=first[1], state=4, endpoint=f"PJSIP/{TRUNK}")
    # What t<T>-inbound / t<T>-queue and pbx-recording-hook noted on the customer's channel.
    customer.variables.update({"PBX_RECT": "1", "PBX_RECK": "i", "PBX_RECO": "46701234567", "PBX_DDI": first[2]})
    if first[0].endswith("queue-1"):
        customer.variables.update({"PBX_RECQ": "always", "PBX_QUEUE": "1"})
    ringing = lambda ep: [c for c in state.channels.values() if c.state == 5 and c.name.startswith(f"PJSIP/{ep}-")]  # noqa: E731
    call = fake.run_dialplan(customer)
    await until(lambda: ringing(bob))
    fake.answer(ringing(bob)[0])
    await until(lambda: any(c.bridge for c in state.channels.values() if c.name.startswith(f"PJSIP/{bob}-")))
    bobs = next(c for c in state.channels.values() if c.name.startswith(f"PJSIP/{bob}-"))
    assert fake.blind_transfer(bobs, "t1-internal", "1006")
    await until(lambda: ringing(eva))
    fake.answer(ringing(eva)[0])
    fake.hangup(customer)
    fake.cancel_pending()
    del call
    return [dict(h) for h in fake.history]


async def test_a_blind_transfer_on_the_fake_records_like_the_real_run():
    name = "recording_blind_transfer_dtmf"
    fake = await transferred_on_the_fake(name, ("t1-inbound", "+4681550030", "+4681550030"))
    endpoints = {p["endpoints"]["desk"]: who for who, p in real_capture_map(name)["people"].items()}
    real = [e for _at, e in events_of(name)]
    assert flow(fake, endpoints) == flow(real, endpoints)
    assert flow(real, endpoints)[:4] == [("MixMonitorStart", "bob"), ("PbxRecording", "bob:3:department"),
                                         ("DialEnd", "bob"), ("Hangup", "bob")]


async def test_a_queue_agents_recording_on_the_fake_is_on_the_agents_phone_like_the_real_run():
    name = "recording_queue_blind_transfer_dtmf"
    fake = await transferred_on_the_fake(name, ("t1-queue-1", "s", "+4681559999"))
    endpoints = {p["endpoints"]["desk"]: who for who, p in real_capture_map(name)["people"].items()}
    real = [e for _at, e in events_of(name)]
    assert flow(fake, endpoints) == flow(real, endpoints)
    started = [e for e in fake if e.get("UserEvent") == "PbxRecording"]
    assert [e["Channel"].startswith("PJSIP/") for e in started] == [True, True]  # never the member's Local


def test_a_burst_of_answers_star9s_and_listen_ins_never_takes_more_than_the_licences():
    """One pool for all three: 30 automatic answers (pbx-rec-answer), 10 recordings on demand (the bridge's AMI
    procedure, pbx/asterisk/licences.py) and 10 listen-ins (pbx-listen), all at once, 10 licences."""
    world = world_with(10)
    state = world.state
    answering = [member(world, 100 + i) for i in range(30)]
    for i in range(30):
        state.astdb[f"/pbx/t1/u{100 + i}/rec"] = "e"
    recorded_on_demand = [world.new_channel(f"PJSIP/t1-ondemand{i:02d}-{i:08x}", state=6) for i in range(10)]
    spied = world.new_channel("PJSIP/t1-agent-000000ff", state=6)
    listeners = [world.new_channel(f"PJSIP/t1-coach{i:02d}-{0x100 + i:08x}", state=6) for i in range(10)]
    for i, ch in enumerate(listeners):
        ch.variables.update({"PBX_USER": str(200 + i), "PBX_SPY": spied.name})
    yield_cpu = lambda: time.sleep(0)  # noqa: E731 (every step lets the other threads in)
    ami = rec.pool_ami(world, pause=yield_cpu)
    barrier = threading.Barrier(50)
    results: list[tuple[str, bool]] = []

    def automatic(ch, user):
        barrier.wait()
        results.append(("automatic", rec.answer(world, ch, 1, user, "r", RECORDED_CALL, pause=yield_cpu) == "recorded"))

    def on_demand(ch):
        barrier.wait()
        results.append(("on_demand", asyncio.run(licences.take(ami, 1, ch.name))["taken"]))

    def listen_in(ch):
        barrier.wait()
        results.append(("listen_in", rec.listen(world, ch, "listen", pause=yield_cpu) == "listening"))

    threads = ([threading.Thread(target=automatic, args=(ch, 100 + i)) for i, ch in enumerate(answering)]
               + [threading.Thread(target=on_demand, args=(ch,)) for ch in recorded_on_demand]
               + [threading.Thread(target=listen_in, args=(ch,)) for ch in listeners])
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    held = sum(1 for _kind, got in results if got)
    assert len(results) == 50 and held == state.groups.count("t1", rec.CATEGORY) <= 10
    # Refused is refused everywhere: nobody who was told "no" is still in the pool.
    members = answering + recorded_on_demand + listeners
    assert sum(1 for ch in members if state.groups.group_of(ch.uniqueid, rec.CATEGORY)) == held


def test_the_pool_refuses_an_on_demand_recording_of_a_channel_that_records_already():
    world = world_with(2)
    ch = member(world, BOB)
    assert rec.answer(world, ch, 1, BOB, "r", RECORDED_CALL) == "recorded"
    answer = asyncio.run(licences.take(rec.pool_ami(world), 1, ch.name))
    assert answer == {"taken": False, "held": True, "in_use": 1, "limit": 2}
    assert world.state.groups.count("t1", rec.CATEGORY) == 1
    asyncio.run(licences.release(rec.pool_ami(world), ch.name))  # a stop frees it
    assert world.state.groups.count("t1", rec.CATEGORY) == 0
