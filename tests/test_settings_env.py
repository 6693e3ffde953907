"""pbx/settings.py takes everything that differs between machines from the environment.

Each case imports the real settings module in a fresh interpreter with a chosen environment,
since settings are read once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PRINT_SETTINGS = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST", ""), "port": db.get("PORT", ""),
    "user": db.get("USER", ""), "password": db.get("PASSWORD", ""),
    "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "channel_hosts": settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts", []),
    "cache": settings.CACHES["default"]["BACKEND"],
    "cache_location": settings.CACHES["default"].get("LOCATION", ""),
    "huey": settings.HUEY["huey_class"],
    "secret_key": settings.SECRET_KEY,
    "allowed_hosts": settings.ALLOWED_HOSTS,
    "debug": settings.DEBUG,
    "language": settings.LANGUAGE_CODE,
}))
"""

# Variables the settings read: cleared so that the machine's own environment cannot leak in.
SETTINGS_VARIABLES = (
    "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "PBX_EMBEDDED",
    "CSRF_TRUSTED_ORIGINS", "DB_CONN_MAX_AGE", "HUEY_IMMEDIATE", "DJANGO_SETTINGS_MODULE",
)


def run_settings(**env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    environment.update(DJANGO_SETTINGS_MODULE="pbx.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS], cwd=ROOT, env=environment,
        capture_output=True, text=True, timeout=60, check=False,
    )


def read_settings(**env: str) -> dict:
    result = run_settings(**env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_with_nothing_set_but_embedded_it_runs_on_sqlite_and_memory():
    values = read_settings(PBX_EMBEDDED="1")
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"] == str(ROOT / "db.sqlite3")
    assert values["channel_layer"] == "channels.layers.InMemoryChannelLayer"
    assert values["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["huey"] == "huey.MemoryHuey"
    assert values["debug"] is False
    assert values["language"] == "sv"


def test_database_url_chooses_postgresql():
    values = read_settings(PBX_EMBEDDED="1", DATABASE_URL="postgres://vaxel:s3cret@db.internal:5433/pbx_prod")
    assert values["engine"] == "django.db.backends.postgresql"
    assert (values["name"], values["host"], values["port"]) == ("pbx_prod", "db.internal", 5433)
    assert (values["user"], values["password"]) == ("vaxel", "s3cret")


def test_redis_url_moves_channels_cache_and_jobs_to_redis():
    values = read_settings(PBX_EMBEDDED="1", REDIS_URL="redis://cache.internal:6380/3")
    assert values["channel_layer"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert values["channel_hosts"] == ["redis://cache.internal:6380/3"]
    assert values["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert values["cache_location"] == "redis://cache.internal:6380/3"
    assert values["huey"] == "huey.RedisHuey"


def test_secret_key_and_allowed_hosts_come_from_the_environment():
    values = read_settings(SECRET_KEY="k" * 50, ALLOWED_HOSTS="vaxel.example.se, .kund.example ,localhost")
    assert values["secret_key"] == "k" * 50
    assert values["allowed_hosts"] == ["vaxel.example.se", ".kund.example", "localhost"]


def test_allowed_hosts_default_to_the_local_machine():
    assert read_settings(PBX_EMBEDDED="1")["allowed_hosts"] == ["localhost", "127.0.0.1", "[::1]"]


def test_it_refuses_to_start_without_a_secret_key_in_production():
    result = run_settings(DEBUG="0")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize("env", [{"DEBUG": "1"}, {"PBX_EMBEDDED": "1"}], ids=["debug", "embedded"])
def test_the_development_key_is_accepted_only_for_debug_or_embedded(env):
    values = read_settings(**env)
    assert values["secret_key"]
