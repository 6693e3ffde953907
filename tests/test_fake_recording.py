"""The fake Asterisk records the way the generated dialplan does: the same steps in the same order, GROUP()
and LOCK() with Asterisk's semantics, the events of the real run; and a burst of answers never takes more than
the company's licences."""

from __future__ import annotations

import threading
import time

from pbx.asterisk.confgen import render_from_db
from pbx.asterisk.confgen.parse import parse_dialplan_text
from tests.fake_asterisk import recording as rec
from tests.fake_asterisk.world import World

from .bridge_fixtures import events_of

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
