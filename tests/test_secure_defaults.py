"""Secure by default outside DEBUG and the embedded first look: Secure cookies, HSTS, HTTPS redirect, a
Content-Security-Policy on every page, and `manage.py check --deploy` silent with the environment compose.yaml
gives its containers. The compose stack serves the web only through its TLS proxy.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CLEARED = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "PBX_EMBEDDED", "CSRF_TRUSTED_ORIGINS",
           "DJANGO_SETTINGS_MODULE", "TRUSTED_PROXIES", "SECURE_COOKIES", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
           "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "HUEY_IMMEDIATE")
# What .env.example leaves for the operator to fill in, filled as an operator would (long random values).
SECRETS = {"SECRET_KEY": "t9Zr0qK3vX8mB2nL6pW4yH7cJ1dF5gS0aQeRtYuIoPlMkNjBhVgCfXdZs",
           "POSTGRES_PASSWORD": "pg-Secret-0123456789", "ASTERISK_AMI_SECRET": "ami-Secret-0123456789",
           "ASTERISK_ARI_PASSWORD": "ari-Secret-0123456789"}


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?message}."""

    def one(match: re.Match) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op == ":-":
            return rest
        if op == ":?":
            raise AssertionError(f"{name} must be set: {rest}")
        return ""

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:[-?])([^}]*))?\}", one, str(value))


def env_file() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return {**values, **SECRETS}


def web_environment() -> dict[str, str]:
    """What the web container sees: .env (as .env.example with the secrets filled in), then compose's own."""
    dotenv = env_file()
    service = compose()["services"]["web"]
    return {**dotenv, **{name: interpolate(value, dotenv) for name, value in service["environment"].items()}}


def run_manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in CLEARED}
    environment.update(env, DJANGO_SETTINGS_MODULE="pbx.settings")
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=120, check=False)


def test_check_deploy_with_the_compose_settings_prints_no_warning():
    result = run_manage(web_environment(), "check", "--deploy")

    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr + result.stdout, result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_still_warns_about_a_plain_http_stack():
    # The test above can fail: turning the defaults off is reported.
    result = run_manage({**web_environment(), "SECURE_COOKIES": "false", "SECURE_HSTS_SECONDS": "0"},
                        "check", "--deploy")
    assert "security.W004" in result.stderr and "security.W012" in result.stderr


PRINT = ("from django.conf import settings as s; import json; print(json.dumps([s.SESSION_COOKIE_SECURE, "
         "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT]))")


def secure_flags(**env: str) -> list:
    import json

    environment = {k: v for k, v in os.environ.items() if k not in CLEARED}
    environment.update(env, DJANGO_SETTINGS_MODULE="pbx.settings")
    result = subprocess.run([sys.executable, "-c", "import django; django.setup(); " + PRINT], cwd=ROOT,
                            env=environment, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_deployment_is_https_only_by_default_and_the_embedded_first_look_is_not():
    assert secure_flags(SECRET_KEY=SECRETS["SECRET_KEY"]) == [True, True, 31536000, True]
    assert secure_flags(PBX_EMBEDDED="1") == [False, False, 0, False]
    assert secure_flags(DEBUG="1") == [False, False, 0, False]


def test_the_compose_stack_publishes_the_proxy_and_never_daphne():
    services = compose()["services"]
    assert "ports" not in services["web"]
    assert {p.split(":")[-1] for p in services["proxy"]["ports"]} == {"80", "443"}
    proxy_address = services["proxy"]["networks"]["default"]["ipv4_address"]
    assert web_environment()["TRUSTED_PROXIES"] == proxy_address
    caddyfile = (ROOT / "docker" / "Caddyfile").read_text()
    assert "reverse_proxy web:8000" in caddyfile and "{$VAXEL_DOMAIN:localhost}" in caddyfile


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_every_page_carries_the_content_security_policy(client, path):
    policy = client.get(path)["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy


@pytest.mark.django_db
def test_the_user_web_carries_the_policy_and_no_style_attribute(client, eva):
    client.force_login(eva)
    for path in ("/me/", "/me/status/"):
        response = client.get(path)
        assert "script-src 'self'" in response["Content-Security-Policy"]
        assert ' style="' not in response.content.decode()


@pytest.mark.parametrize("domain", [None, "localhost", "pbx.example.se"])
def test_caddy_accepts_the_proxys_caddyfile(domain):
    """`caddy validate` on docker/Caddyfile as compose gives it (VAXEL_DOMAIN unset, localhost, a real name);
    Debian's `caddy` package is enough, the test is skipped without it."""
    import shutil

    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("no caddy binary (apt-get install caddy)")
    environment = {k: v for k, v in os.environ.items() if k != "VAXEL_DOMAIN"}
    if domain:
        environment["VAXEL_DOMAIN"] = domain
    result = subprocess.run([caddy, "validate", "--adapter", "caddyfile", "--config", str(ROOT / "docker" / "Caddyfile")],
                            env=environment, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and "Valid configuration" in result.stdout + result.stderr, result.stderr
