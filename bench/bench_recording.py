"""Call recording's licences under a burst: ``python -m bench recording``.

50 members of one company answer at the same moment, each on its own thread (Asterisk runs one thread per
channel), with 10 licences; every answer runs the generated ``pbx-rec-answer`` steps against the fake Asterisk's
GROUP()/GROUP_COUNT()/LOCK() (tests/fake_asterisk/recording.py: app.c's and func_lock's semantics), yielding the
CPU between every step so the answers interleave as badly as they can. Repeated ROUNDS times.

- ``recording_licence_overshoot``: the most recordings running at once above the licences, over all rounds
  (must be 0);
- ``recording_licence_underuse``: the most licences left unused in a round while callers were refused (0: the
  lock serialises the answers, so exactly 10 are recorded);
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


def one_round(world, rec, first_user: int) -> tuple[int, int, list[float]]:
    state = world.state
    state.astdb.update({"/pbx/t1/rec/auto": "1", "/pbx/t1/rec/lic": str(LICENCES), "/pbx/t1/rec/x": ""})
    channels = []
    for i in range(ANSWERS):
        user = first_user + i
        state.astdb[f"/pbx/t1/u{user}/rec"] = "e"
        channels.append((world.new_channel(f"Local/{user}@t1-agents-{user:08x};1", context="t1-agents", state=6), user))
    barrier = threading.Barrier(ANSWERS)
    running, peak, lock = [0], [0], threading.Lock()
    results, times = [], []

    def answer(ch, user):
        barrier.wait()
        started = time.perf_counter()
        result = rec.answer(world, ch, 1, user, "r", CALL, pause=lambda: time.sleep(0))
        times.append((time.perf_counter() - started) * 1000)
        results.append(result)
        if result == "recorded":
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])

    threads = [threading.Thread(target=answer, args=pair) for pair in channels]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recorded = results.count("recorded")
    for ch, _user in channels:  # the calls end: their licences are free for the next round
        world.destroy_channel(ch)
    assert state.groups.count("t1", rec.CATEGORY) == 0
    return peak[0], recorded, times


def run() -> dict[str, float]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    from tests.fake_asterisk import recording as rec
    from tests.fake_asterisk.world import World

    world = World()
    overshoot, underuse, times = 0, 0, []
    for n in range(ROUNDS):
        peak, recorded, round_times = one_round(world, rec, 1000 + n * ANSWERS)
        overshoot = max(overshoot, peak - LICENCES)
        underuse = max(underuse, LICENCES - recorded)
        times.extend(round_times)
    times.sort()
    figures = {
        "recording_licence_overshoot": float(overshoot),
        "recording_licence_underuse": float(underuse),
        "recording_answer_ms_p95": round(times[int(len(times) * 0.95)], 3),
    }
    print(f"{ROUNDS} rounds of {ANSWERS} simultaneous answers, {LICENCES} licences: {figures}")
    return figures


if __name__ == "__main__":
    print(run())
