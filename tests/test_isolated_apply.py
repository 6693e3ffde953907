"""One company's broken configuration never holds back another (issue #11, finding 2).

Demo AB's data is broken the way data gets broken past the forms (an import, a row written before the
validators were strict, a sound file lost): written with ``QuerySet.update``. Exempel AB changes at the
same time. Exempel's change must reach the fake Asterisk; Demo stays on what Asterisk runs, and Alice
(Demo's admin) is told why on her company page, in her language.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from pbx import actions
from pbx.asterisk.apply import apply_node, read_running
from pbx.asterisk.confgen import render_from_db
from pbx.asterisk.confgen.writer import split_parts
from pbx.models import Conference, Device, Number, Queue, SipTrunk, Tenant, User, VoicemailBox
from pbx.signals import config_changed
from pbx.tasks import flush_pending_applies, pending
from tests.fake_asterisk.pbx_fixtures import *  # noqa: F403 - fake, node, applied, no_pending_applies

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
SV_PO = Path(__file__).resolve().parent.parent / "locale" / "sv" / "LC_MESSAGES" / "django.po"


@pytest.fixture
def compiled_swedish():
    from django.core.management import call_command
    from django.utils.translation import trans_real

    mo = SV_PO.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < SV_PO.stat().st_mtime:
        call_command("compilemessages", locale=["sv"], ignore_patterns=[".*", "var", "node_modules"], verbosity=0)
        trans_real._translations = {}
        trans_real._default = None


def running_part(node, tenant_id: int) -> dict[str, str | None]:
    files = read_running(Path(node.generated_dir))
    return {name: split_parts(text)[1].get(tenant_id) for name, text in files.items() if "==== company" in text}


def new_colleague(actor, company, extension: str) -> User:
    person = actions.do_create_user(actor, company.tenant, email=f"new{extension}@{company.tenant.slug}.example",
                                    first_name="Ny", extension=extension)
    actions.do_create_device(actor, person)
    return person


def break_conference_pin(demo, pin: str = "1099\n") -> Conference:
    conference = actions.do_save_object(demo.admin, Conference(tenant=demo.tenant, name="Styrelsen",
                                                               extension="7100", pin="1234"))
    Conference.objects.filter(pk=conference.pk).update(pin=pin)  # past the validators, as old data was
    return conference


def apply_both(demo, exempel, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        config_changed.send(sender=None, tenant_id=demo.tenant.pk)
        config_changed.send(sender=None, tenant_id=exempel.tenant.pk)
    return flush_pending_applies()


def test_a_broken_company_does_not_hold_back_another(applied, fake, demo, exempel, alice, carol,
                                                     django_capture_on_commit_callbacks):
    before = running_part(applied, demo.tenant.pk)
    break_conference_pin(demo)
    new_colleague(carol, exempel, "1077")

    (result,) = apply_both(demo, exempel, django_capture_on_commit_callbacks)

    assert result.ok, result.message
    assert fake.state.find_hint("1077", f"t{exempel.tenant.pk}-hints") is not None  # Exempel's change is live
    assert running_part(applied, demo.tenant.pk) == before  # Demo runs what it ran
    assert list(result.held) == [demo.tenant.pk]
    demo.tenant.refresh_from_db()
    exempel.tenant.refresh_from_db()
    assert demo.tenant.config_held_at is not None and exempel.tenant.config_held_at is None
    (problem,) = demo.tenant.config_held_problems
    assert problem["code"] == "render" and "PIN of conference" in problem["detail"] and "1099\\n" in problem["detail"]
    assert pending().take(applied.pk) == set()  # not retried forever: it waits for Demo's own next change
    applied.refresh_from_db()
    assert applied.last_apply_ok is False and f"Company {demo.tenant.pk} is held" in applied.last_apply_message


def test_a_held_company_is_applied_again_once_its_data_is_corrected(applied, fake, demo, exempel, alice,
                                                                    django_capture_on_commit_callbacks):
    conference = break_conference_pin(demo)
    apply_both(demo, exempel, django_capture_on_commit_callbacks)
    conference.refresh_from_db()
    conference.pin = "1099"
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_save_object(alice, conference)
    (result,) = flush_pending_applies()

    assert result.ok and not result.held, result.message
    demo.tenant.refresh_from_db()
    assert demo.tenant.config_held_at is None and demo.tenant.config_held_problems == []
    assert read_running(Path(applied.generated_dir)) == render_from_db(node=applied)
    assert "pin = 1099\n" in read_running(Path(applied.generated_dir))["confbridge.conf"]


def test_a_held_company_keeps_its_running_numbers_while_another_company_changes(
        applied, fake, demo, exempel, alice, carol, django_capture_on_commit_callbacks):
    # Demo adds a number while its data is broken: the shared [from-trunk] must not send that number
    # into Demo's inbound context, which Asterisk runs as it was (without it).
    from_trunk_before = [line for line in read_running(Path(applied.generated_dir))["extensions.conf"].splitlines()
                         if f"Goto(t{demo.tenant.pk}-inbound," in line]
    break_conference_pin(demo)
    Number.objects.create(tenant=demo.tenant, e164="+4681559777", kind="main")
    apply_both(demo, exempel, django_capture_on_commit_callbacks)
    new_colleague(carol, exempel, "1078")
    result = apply_node(applied, tenant_ids=[exempel.tenant.pk])

    assert result.ok and not result.held, result.message  # Demo is held from before, not re-rendered
    assert fake.state.find_hint("1078", f"t{exempel.tenant.pk}-hints") is not None
    running = read_running(Path(applied.generated_dir))["extensions.conf"]
    assert [line for line in running.splitlines() if f"Goto(t{demo.tenant.pk}-inbound," in line] == from_trunk_before
    assert "+4681559777" not in running


def test_a_whole_node_apply_holds_the_broken_company_and_applies_the_rest(applied, fake, demo, exempel, carol):
    before = running_part(applied, demo.tenant.pk)
    User.objects.filter(pk=demo.operator.pk).update(extension="1088\n")
    new_colleague(carol, exempel, "1079")

    result = apply_node(applied)

    assert result.ok and list(result.held) == [demo.tenant.pk], result.message
    assert "extension of user" in result.held[demo.tenant.pk][0]["detail"]
    assert running_part(applied, demo.tenant.pk) == before
    assert fake.state.find_hint("1079", f"t{exempel.tenant.pk}-hints") is not None


def test_a_check_finding_in_one_company_holds_that_company_only(applied, fake, demo, exempel, carol, settings,
                                                                django_capture_on_commit_callbacks):
    from pbx.models import Prompt

    prompt = Prompt.objects.get(pk=demo.menu.prompt_id)
    sound = Path(settings.ASTERISK_SOUNDS_DIR) / f"{prompt.sound_name.removeprefix('custom/')}.wav"
    saved = sound.read_bytes()
    sound.unlink()
    try:
        demo.menu.timeout_seconds = 8
        actions.do_save_object(demo.admin, demo.menu)
        new_colleague(carol, exempel, "1076")
        (result,) = apply_both(demo, exempel, django_capture_on_commit_callbacks)
    finally:
        sound.write_bytes(saved)
    assert result.ok and list(result.held) == [demo.tenant.pk], result.message
    assert result.held[demo.tenant.pk][0]["code"] == "missing-prompt"
    assert fake.state.find_hint("1076", f"t{exempel.tenant.pk}-hints") is not None


# -- what the admin sees ----------------------------------------------------------------------------


def test_the_company_page_tells_the_admin_why_in_swedish(client, applied, demo, exempel, alice, carol,
                                                         django_capture_on_commit_callbacks, compiled_swedish):
    break_conference_pin(demo)
    apply_both(demo, exempel, django_capture_on_commit_callbacks)
    client.force_login(alice)
    client.post("/i18n/setlang/", {"language": "sv", "next": "/"})

    company_page = client.get(reverse("admin:pbx_tenant_change", args=[demo.tenant.pk])).content.decode()
    home = client.get("/", follow=True).content.decode()  # the company dashboard

    for text in (company_page, home):
        assert "Dina senaste ändringar är inte i drift ännu." in text
        assert "Ett värde kan inte skrivas in i telefonisystemets konfiguration." in text
        assert "PIN of conference" in text  # the technical detail, as the generator said it


def test_the_company_page_of_a_company_in_service_says_so(client, applied, demo, exempel, carol,
                                                          django_capture_on_commit_callbacks):
    break_conference_pin(demo)
    apply_both(demo, exempel, django_capture_on_commit_callbacks)
    client.force_login(carol)
    page = client.get(reverse("admin:pbx_tenant_change", args=[exempel.tenant.pk])).content.decode()
    assert "In service." in page and "PIN of conference" not in page
    assert "PIN of conference" not in client.get("/", follow=True).content.decode()
    # Carol never sees Demo's company page at all.
    assert client.get(reverse("admin:pbx_tenant_change", args=[demo.tenant.pk])).status_code in (302, 403, 404)


# -- property: whatever Demo's data holds, Exempel's change reaches Asterisk --------------------------

BREAKABLE = [
    (User, "extension", lambda demo: demo.operator.pk),
    (User, "first_name", lambda demo: demo.operator.pk),
    (Device, "secret", lambda demo: Device.objects.filter(tenant=demo.tenant).first().pk),
    (Device, "sip_username", lambda demo: Device.objects.filter(tenant=demo.tenant).first().pk),
    (Queue, "extension", lambda demo: demo.queues["Support"].pk),
    (Queue, "music_on_hold", lambda demo: demo.queues["Support"].pk),
    (Queue, "strategy", lambda demo: demo.queues["Support"].pk),
    (VoicemailBox, "pin", lambda demo: VoicemailBox.objects.filter(tenant=demo.tenant).first().pk),
    (VoicemailBox, "number", lambda demo: VoicemailBox.objects.filter(tenant=demo.tenant).first().pk),
    (VoicemailBox, "email", lambda demo: VoicemailBox.objects.filter(tenant=demo.tenant).first().pk),
    (Number, "e164", lambda demo: demo.main_number.pk),
    (Tenant, "language", lambda demo: demo.tenant.pk),
    (Tenant, "time_zone", lambda demo: demo.tenant.pk),
    (Tenant, "country_code", lambda demo: demo.tenant.pk),
    (Tenant, "emergency_numbers", lambda demo: demo.tenant.pk),
    (SipTrunk, "host", None),
    (SipTrunk, "username", None),
    (SipTrunk, "identify_match", None),
]
# PostgreSQL stores no NUL (nor lone surrogates) in text: anything else goes, including what no form would take.
broken_text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40) | st.sampled_from(
    ["1088\n", "1099\n", "\r", "x;y", "${SHELL(id)}", "[general]", "a" * 300, "+4681234\n", "Europe/../x", ""])
_counter = iter(range(10_000_000))


# Each example is a real apply of two companies to the fake (~0.3 s): 1,000 in the thorough profile.
@settings(max_examples=1_000 if THOROUGH else 12, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(target=st.sampled_from(BREAKABLE), value=broken_text)
def test_one_company_with_arbitrary_broken_data_never_holds_back_another(applied, fake, demo, exempel, carol,
                                                                         target, value):
    model, field, pk_of = target
    extension = f"{1100 + next(_counter) % 800}"  # a fresh one each example: a change Asterisk must get
    with transaction.atomic():
        if pk_of is None:
            pk = SipTrunk.objects.create(tenant=demo.tenant, name="Operatör", host="sip.operator.example").pk
        else:
            pk = pk_of(demo)
        max_length = model._meta.get_field(field).max_length
        try:
            with transaction.atomic():
                model.objects.filter(pk=pk).update(**{field: value[:max_length]})
        except IntegrityError:  # the database's own constraints (a number taken twice) refuse it anyway
            assume(False)
        new_colleague(carol, exempel, extension)

        result = apply_node(applied, tenant_ids=[demo.tenant.pk, exempel.tenant.pk])

        assert result.ok, result.message
        assert fake.state.find_hint(extension, f"t{exempel.tenant.pk}-hints") is not None
        assert exempel.tenant.pk not in result.held
        event(f"Demo AB {'held' if demo.tenant.pk in result.held else 'applied'}")
        transaction.set_rollback(True)
