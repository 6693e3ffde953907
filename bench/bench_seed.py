"""How long building one demo company takes: the whole directory and call flow through the actions.

A company is 7 people with devices, voicemail boxes, two queues, an IVR menu, a schedule with
holidays, numbers, presence statuses and forwarding profiles, plus two voice prompts converted
by ffmpeg: every action's validation, audit rows and tenant checks are on the path.
"""

from __future__ import annotations

from bench import median_seconds, setup_django, throwaway_database

REPEATS = 3


def run() -> dict[str, float]:
    setup_django()
    from pbx.demo import build_company

    with throwaway_database():
        seconds = median_seconds(lambda i: build_company(f"Bench {i} AB", f"bench-{i}", i + 1), REPEATS)
    return {"seed_company_s": round(seconds, 4)}


if __name__ == "__main__":
    print(run())
