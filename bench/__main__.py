"""Run the benchmarks: ``python -m bench [name ...]`` (names like ``seed`` or ``bench_seed``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
RESULTS = ROOT / "bench-results.json"
MARK = "BENCH-RESULT "

# Runs inside the child interpreter: only the marked line is read back, so a benchmark (or
# Django, or ffmpeg) may print whatever it likes.
CHILD = f"""
import importlib, json, sys
figures = importlib.import_module("bench." + sys.argv[1]).run()
print({MARK!r} + json.dumps(figures), flush=True)
"""


def discover(names: list[str]) -> list[str]:
    modules = sorted(path.stem for path in PACKAGE.glob("bench_*.py"))
    if not names:
        return modules
    wanted = [n if n.startswith("bench_") else f"bench_{n}" for n in names]
    unknown = sorted(set(wanted) - set(modules))
    if unknown:
        raise SystemExit(f"No such benchmark: {', '.join(unknown)} (have: {', '.join(modules)})")
    return wanted


def run_module(module: str) -> dict[str, float]:
    started = time.perf_counter()
    proc = subprocess.run(  # noqa: S603 - our own interpreter and module name
        [sys.executable, "-c", CHILD, module], cwd=ROOT, capture_output=True, text=True, check=False
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"{module} failed (exit {proc.returncode})")
    figures = json.loads(lines[-1][len(MARK):])
    bad = {k: v for k, v in figures.items() if not isinstance(v, int | float) or isinstance(v, bool)}
    if bad:
        raise SystemExit(f"{module} reported non-numbers: {bad}")
    print(f"{module} ({time.perf_counter() - started:.1f} s)")
    for key, value in sorted(figures.items()):
        print(f"  {key} = {value:.6g}")
    return figures


def main(argv: list[str]) -> int:
    modules = discover(argv)
    if not modules:
        raise SystemExit(f"No benchmarks in {PACKAGE} (bench_*.py)")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for module in modules:
        results.update(run_module(module))
    RESULTS.write_text(json.dumps(dict(sorted(results.items())), indent=2) + "\n")
    print(f"Wrote {RESULTS.relative_to(ROOT)} ({len(results)} figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
