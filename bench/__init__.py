"""Benchmarks: every ``bench/bench_*.py`` module defines ``run() -> dict[str, float]``.

``python -m bench`` (or ``make bench``) runs each module in its own interpreter, prints its
figures and merges them into ``bench-results.json`` at the repository root (key -> number).
A module needs Django? It calls :func:`setup_django` and, for data, :func:`throwaway_database`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path


def setup_django() -> None:
    """Configure Django from the environment (DATABASE_URL as for the tests), embedded defaults."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pbx.settings")
    os.environ.setdefault("PBX_EMBEDDED", "1")
    import django

    django.setup()


@contextlib.contextmanager
def throwaway_database(fast_hashing: bool = True) -> Iterator[str]:
    """A freshly migrated database for the length of the block, dropped afterwards.

    SQLite gets an in-memory database; PostgreSQL a ``bench_<name>`` database beside the real
    one, so a benchmark never touches development data nor a concurrent test run's ``test_<name>``.
    Password hashing is switched to MD5 (as in the tests) so the figures measure our code, not
    PBKDF2's deliberate slowness; uploaded and generated files go to a temporary directory.
    """
    from django.db import connection
    from django.test.utils import override_settings

    files = Path(tempfile.mkdtemp(prefix="pbx-bench-"))
    overrides = {
        "MEDIA_ROOT": files / "media",
        "ASTERISK_SOUNDS_DIR": files / "sounds",
        "ASTERISK_GENERATED_DIR": files / "generated",
        "RECORDINGS_DIR": files / "recordings",
    }
    if fast_hashing:
        overrides["PASSWORD_HASHERS"] = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if connection.vendor != "sqlite":
        connection.settings_dict.setdefault("TEST", {})
        connection.settings_dict["TEST"]["NAME"] = f"bench_{connection.settings_dict['NAME']}"
    old_name = connection.settings_dict["NAME"]
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        with override_settings(**overrides):
            yield name
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(files, ignore_errors=True)


def median_seconds(func: Callable[[int], object], repeats: int) -> float:
    """Median wall time of ``func(i)`` for i in range(repeats)."""
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        func(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)
