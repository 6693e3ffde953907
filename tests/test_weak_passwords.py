"""Weak passwords are refused where people set them, and the demo's known password is never seeded by accident.

Eva is a user at Demo AB; she changes her password through allauth's page, and resets it.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from pbx.demo import DEMO_PASSWORD

pytestmark = pytest.mark.django_db

WEAK = ["Sommar2026", "Stockholm1", "Lösenord123", "L0s3nord!2024", "Vinter-2025!", "SommarStockholm2026!",
        "Malmö1234!", "Midsommar-2026", "Fredag13!", "Jul2024!!xx"]
STRONG = ["Blåbärssylt-i-oktober-91", "Kanelbulle-på-fredag-77", "correct horse battery staple", "Sommarhus-Grinda-08"]


@pytest.fixture(autouse=True)
def private_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pw"}}
    from django.core.cache import cache

    cache.clear()


@pytest.mark.parametrize("password", WEAK)
def test_a_swedish_word_with_a_year_or_digits_is_refused(password, eva):
    with pytest.raises(ValidationError) as refused:
        validate_password(password, eva)
    assert "password_swedish_common" in [e.code for e in refused.value.error_list]


@pytest.mark.parametrize("password", STRONG)
def test_unrelated_words_pass(password, eva):
    validate_password(password, eva)


def test_the_demo_password_is_not_accepted_as_a_new_one(eva):
    with pytest.raises(ValidationError):
        validate_password(DEMO_PASSWORD, eva)


def test_the_password_change_page_refuses_sommar2026_with_a_clear_message(client, eva):
    client.force_login(eva)
    response = client.post("/accounts/password/change/", {
        "oldpassword": DEMO_PASSWORD, "password1": "Sommar2026", "password2": "Sommar2026"})

    assert response.status_code == 200
    assert "guessed first" in response.content.decode()
    eva.refresh_from_db()
    assert eva.check_password(DEMO_PASSWORD)


def test_the_refusal_is_in_swedish_for_a_swedish_page(client, eva):
    client.force_login(eva)
    response = client.post("/accounts/password/change/", {
        "oldpassword": DEMO_PASSWORD, "password1": "Stockholm1", "password2": "Stockholm1"},
        HTTP_ACCEPT_LANGUAGE="sv")
    assert "gissas först" in response.content.decode()


def test_seed_demo_refuses_a_production_database(settings):
    settings.DEBUG, settings.EMBEDDED = False, False
    with pytest.raises(CommandError, match="--i-know-this-sets-known-passwords"):
        call_command("seed_demo")


def test_seed_demo_runs_when_forced_by_its_flag_or_embedded(settings, capsys):
    settings.DEBUG, settings.EMBEDDED = False, False
    call_command("seed_demo", "--i-know-this-sets-known-passwords")
    assert DEMO_PASSWORD in capsys.readouterr().out
    settings.EMBEDDED = True
    call_command("seed_demo")
    assert "Demo AB" in capsys.readouterr().out
