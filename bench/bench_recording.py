"""Call recording's licences under a burst: ``python -m bench recording``.

50 members of one company answer at the same moment, each on its own thread (Asterisk runs one thread per
channel), with 10 licences; every answer runs the generated ``pbx-rec-answer`` steps against the fake Asterisk's
GROUP()/GROUP_COUNT()/LOCK() (tests/fake_asterisk/recording.py: app.c's and func_lock's semantics), yielding the
CPU between every step so the answers interleave as badly as they can. Every other round mixes the pool's three
kinds instead (one pool: docs/recording.md): 30 automatic answers, 10 recordings on demand through the bridge's
AMI procedure (pbx/asterisk/licences.py: join and count, no lock from AMI) and 10 listen-ins (``pbx-listen``).
ROUNDS rounds in all.

- ``recording_licence_overshoot``: the most recordings and listen-ins running at once above the licences, over
  all rounds (must be 0);
- ``recording_licence_underuse``: the most licences left unused in an automatic-only round while callers were
  refused (0: the lock serialises the answers, so exactly 10 are recorded);
- ``recording_licence_underuse_mixed``: the same for the mixed rounds (a recording on demand joins and counts
  outside the dialplan's lock: an answer counting in between may be refused with a licence free);
- ``recording_answer_ms_p95``: the decision + licence step per answer (95th percentile, milliseconds).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

ANSWERS, LICENCES, ROUNDS = 50, 10, 20
CALL = {"PBX_RECT": "1", "PBX_RECQ": "always", "PBX_RECK": "i", "PBX_RECO": "46701234567", "PBX_QUEUE": "1",
        "PBX_DDI": "+4681559999"}


def one_round(world, rec, first_user: int, *, mixed: bool = False) -> tuple[int, int, list[float]]:
    import asyncio

    from pbx.asterisk import licences

    state = world.state
    state.astdb.update({"/pbx/t1/rec/auto": "1", "/pbx/t1/rec/lic": str(LICENCES), "/pbx/t1/rec/x": ""})
    channels = []
    spied = world.new_channel(f"PJSIP/t1-agent{first_user}-{first_user:08x}", state=6)
    for i in range(ANSWERS):
        user = first_user + i
        kind = "automatic" if not mixed or i < 30 else "on_demand" if i < 40 else "listen_in"
        if kind == "automatic":
            state.astdb[f"/pbx/t1/u{user}/rec"] = "e"
            ch = world.new_channel(f"Local/{user}@t1-agents-{user:08x};1", context="t1-agents", state=6)
        else:
            ch = world.new_channel(f"PJSIP/t1-{kind.replace('_', '')}{user}-{user:08x}", state=6)
            ch.variables.update({"PBX_USER": str(user), "PBX_SPY": spied.name})
        channels.append((ch, user, kind))
    barrier = threading.Barrier(ANSWERS)
    running, peak, lock = [0], [0], threading.Lock()
    results, times = [], []
    yield_cpu = lambda: time.sleep(0)  # noqa: E731
    ami = rec.pool_ami(world, pause=yield_cpu)

    def answer(ch, user, kind):
        barrier.wait()
        started = time.perf_counter()
        if kind == "automatic":
            got = rec.answer(world, ch, 1, user, "r", CALL, pause=yield_cpu) == "recorded"
        elif kind == "on_demand":
            got = asyncio.run(licences.take(ami, 1, ch.name))["taken"]
        else:
            got = rec.listen(world, ch, "listen", pause=yield_cpu) == "listening"
        times.append((time.perf_counter() - started) * 1000)
        results.append(got)
        if got:
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])

    threads = [threading.Thread(target=answer, args=triple) for triple in channels]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recorded = results.count(True)
    for ch, _user, _kind in channels:  # the calls end: their licences are free for the next round
        world.destroy_channel(ch)
    world.destroy_channel(spied)
    assert state.groups.count("t1", rec.CATEGORY) == 0
    return peak[0], recorded, times


def run() -> dict[str, float]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    from tests.fake_asterisk import recording as rec
    from tests.fake_asterisk.world import World

    world = World()
    overshoot, underuse, underuse_mixed, times = 0, 0, 0, []
    for n in range(ROUNDS):
        mixed = n % 2 == 1
        peak, recorded, round_times = one_round(world, rec, 1000 + n * ANSWERS, mixed=mixed)
        overshoot = max(overshoot, peak - LICENCES)
        if mixed:
            underuse_mixed = max(underuse_mixed, LICENCES - recorded)
        else:
            underuse = max(underuse, LICENCES - recorded)
            times.extend(round_times)
    times.sort()
    figures = {
        "recording_licence_overshoot": float(overshoot),
        "recording_licence_underuse": float(underuse),
        "recording_licence_underuse_mixed": float(underuse_mixed),
        "recording_answer_ms_p95": round(times[int(len(times) * 0.95)], 3),
    }
    print(f"{ROUNDS} rounds of {ANSWERS} simultaneous answers (every other one mixed with recordings on demand and "
          f"listen-ins), {LICENCES} licences: {figures}")
    return figures


if __name__ == "__main__":
    print(run())
