"""The company admin's web (issue #16): navigation by task, the dashboard and its overrides, reserved numbers,
holidays, phone provisioning, audit sentences, Swedish numbers and times.

Alice admins Demo AB; Carol admins Exempel AB and must get 404 for every Demo id on every new page and action.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import zoneinfo
from pathlib import Path

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from pbx import audit_text
from pbx.actions import do_set_schedule_override
from pbx.admin.dashboard import next_change
from pbx.models import AuditLog, Device, Number, Schedule, SpecialDay
from pbx.phone_format import format_number

ROOT = Path(__file__).resolve().parents[1]
STOCKHOLM = zoneinfo.ZoneInfo("Europe/Stockholm")
SV_PO = ROOT / "locale" / "sv" / "LC_MESSAGES" / "django.po"

pytestmark = pytest.mark.django_db


@pytest.fixture
def compiled_swedish():
    """`make test` compiles the catalogue; a bare `pytest` after editing the .po should not fail."""
    mo = SV_PO.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= SV_PO.stat().st_mtime:
        return
    if shutil.which("msgfmt") is None:
        pytest.skip("gettext's msgfmt is not installed (make install installs it)")
    from django.core.management import call_command
    from django.utils.translation import trans_real

    call_command("compilemessages", locale=["sv"], ignore_patterns=[".*", "var", "node_modules"], verbosity=0)
    trans_real._translations = {}
    trans_real._default = None


def html(response) -> str:
    return response.content.decode()


@pytest.fixture
def schedule(demo):
    return Schedule.objects.get(tenant=demo.tenant, name="Kontorstid")


@pytest.fixture
def reserved(demo):
    return Number.objects.get(tenant=demo.tenant, kind=Number.Kind.RESERVED)


@pytest.fixture
def device(eva):
    return Device.objects.filter(user=eva).first() or Device.objects.create(tenant=eva.tenant, user=eva)


# Numbers and times as people read them ----------------------------------------------------------------

# The console's portal/phone.js is held to the same table (tests/browser/test_admin_web.py).
SWEDISH_NUMBERS = [
    ("+46812345678", "08-123 456 78"), ("+46701234567", "070-123 45 67"), ("+4631123456", "031-12 34 56"),
    ("+46101234567", "010-123 45 67"), ("+46480123456", "0480-12 34 56"), ("+441234567890", "+441234567890"),
    ("100", "100"), ("", ""),
]


@pytest.mark.parametrize(("e164", "shown"), SWEDISH_NUMBERS)
def test_it_writes_numbers_the_swedish_way(e164, shown):
    assert format_number(e164) == shown


def test_the_number_list_shows_swedish_numbers_and_stores_e164(client, alice, reserved):
    client.force_login(alice)
    page = html(client.get(reverse("admin:pbx_number_changelist")))
    assert format_number(reserved.e164) in page
    assert reverse("admin:pbx_reserved_numbers") in page


def test_admin_titles_are_in_the_companys_time_zone(client, alice, demo):
    entry = AuditLog.objects.filter(tenant=demo.tenant).first()
    local = timezone.localtime(entry.created_at, STOCKHOLM)
    client.force_login(alice)
    page = html(client.get(reverse("admin:pbx_auditlog_change", args=[entry.pk])))
    assert f"{local:%Y-%m-%d %H:%M}" in page


# Navigation --------------------------------------------------------------------------------------------

def test_the_admin_is_organised_by_task(client, alice):
    client.force_login(alice)
    page = html(client.get(reverse("admin:pbx_user_changelist")))
    captions = re.findall(r"<caption>\s*(.*?)\s*</caption>", page)
    assert captions[:5] == ["Directory", "Numbers &amp; call flows", "Queues", "Presence &amp; forwarding", "Recording"]
    assert "Audit" in captions and "Company settings" in captions
    # The operator's own admins (Asterisk nodes, number assignments stay view-only) are not offered.
    assert reverse("admin:pbx_asterisknode_changelist") not in page
    assert reverse("admin:pbx_reserved_numbers") in page


def test_the_navigation_is_in_swedish_for_a_swedish_admin(client, alice, compiled_swedish):
    client.force_login(alice)
    client.post("/i18n/setlang/", {"language": "sv", "next": "/"})
    page = html(client.get(reverse("admin:index")))
    assert "Katalog" in page and "Nummer och samtalsflöden" in page and "Företagsöversikt" in page


def test_the_company_page_shows_the_node_without_a_forbidden_link(client, alice, demo):
    client.force_login(alice)
    page = html(client.get(reverse("admin:pbx_tenant_change", args=[demo.tenant.pk])))
    assert "/admin/pbx/asterisknode/" not in page


# The dashboard ----------------------------------------------------------------------------------------

def test_the_dashboard_tells_the_admin_the_state_of_the_company(client, alice, demo, carol, schedule):
    client.force_login(alice)
    page = html(client.get(reverse("admin:index")))
    assert "Kontorstid" in page
    assert ("Opens " in page) or ("Closes " in page)
    assert "Support" in page  # the demo's agents are logged in to it
    assert "In service" in page
    assert "Exempel AB" not in page

    client.force_login(carol)
    page = html(client.get(reverse("admin:index")))
    assert "Exempel AB" in page and "Demo AB" not in page


def test_the_next_change_reads_today_tomorrow_or_the_day(settings):
    from django.utils import timezone, translation

    from pbx.admin.dashboard import when_text

    monday_6 = dt.datetime(2026, 12, 7, 6, 0, tzinfo=STOCKHOLM)
    with timezone.override(STOCKHOLM):
        with translation.override("sv"):
            assert when_text(dt.datetime(2026, 12, 7, 8, 0, tzinfo=STOCKHOLM), monday_6) == "i dag 08:00"
            assert when_text(dt.datetime(2026, 12, 8, 8, 0, tzinfo=STOCKHOLM), monday_6) == "i morgon 08:00"
            assert when_text(dt.datetime(2026, 12, 14, 8, 0, tzinfo=STOCKHOLM), monday_6) == "måndag 14 december 08:00"
        with translation.override("en"):
            assert when_text(dt.datetime(2026, 12, 7, 17, 0, tzinfo=STOCKHOLM), monday_6) == "today 17:00"
            assert when_text(dt.datetime(2026, 12, 9, 8, 0, tzinfo=STOCKHOLM), monday_6) == "Wednesday 9 December 08:00"


def test_the_next_change_is_the_next_opening_or_closing(demo, schedule):
    monday_noon = dt.datetime(2026, 12, 7, 12, 0, tzinfo=STOCKHOLM)
    assert schedule.is_open(monday_noon)
    assert next_change(schedule, monday_noon) == dt.datetime(2026, 12, 7, 17, 0, tzinfo=STOCKHOLM)
    friday_evening = dt.datetime(2026, 12, 11, 18, 0, tzinfo=STOCKHOLM)
    assert next_change(schedule, friday_evening) == dt.datetime(2026, 12, 14, 8, 0, tzinfo=STOCKHOLM)


def test_the_dashboard_override_forces_closed_and_is_audited(client, alice, schedule):
    client.force_login(alice)
    url = reverse("admin:pbx_dashboard_override", args=[schedule.pk])
    response = client.post(url, {"override": "closed", "until": "today"})
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert schedule.override == "closed" and schedule.override_until is not None
    assert not schedule.is_open()
    entry = AuditLog.objects.filter(action="schedule_override").first()
    assert entry.actor == alice
    assert audit_text.sentence(entry).startswith("Alice Andersson forced the schedule “Kontorstid” closed.")

    client.post(url, {"override": ""})
    schedule.refresh_from_db()
    assert schedule.override == "" and schedule.override_until is None


def test_the_override_refuses_other_companies_and_get(client, carol, eva, schedule):
    url = reverse("admin:pbx_dashboard_override", args=[schedule.pk])
    client.force_login(carol)
    assert client.post(url, {"override": "open"}).status_code == 404
    client.force_login(eva)  # not an admin: the admin site sends her to log in
    assert client.post(url, {"override": "open"}).status_code == 302
    schedule.refresh_from_db()
    assert schedule.override == ""


def test_the_override_refuses_a_made_up_value(client, alice, schedule):
    client.force_login(alice)
    client.post(reverse("admin:pbx_dashboard_override", args=[schedule.pk]), {"override": "ajar"})
    schedule.refresh_from_db()
    assert schedule.override == ""


# Reserved numbers -------------------------------------------------------------------------------------

def test_an_admin_forwards_a_reserved_number_typed_the_swedish_way(client, alice, reserved):
    client.force_login(alice)
    page = html(client.get(reverse("admin:pbx_reserved_numbers")))
    assert format_number(reserved.e164) in page
    response = client.post(reverse("admin:pbx_reserved_forward", args=[reserved.pk]),
                           {"forward_to": "070-123 45 67"}, follow=True)
    reserved.refresh_from_db()
    assert reserved.forward_to == "+46701234567"
    assert 'forwarded to <span class="nowrap">070-123 45 67</span>.' in html(response)  # one line on a phone
    entry = AuditLog.objects.filter(object_type="pbx.number", object_id=str(reserved.pk)).first()
    assert entry.action == "changed" and entry.actor == alice


def test_hostile_forward_targets_are_refused(client, alice, reserved):
    before = reserved.forward_to
    client.force_login(alice)
    response = client.post(reverse("admin:pbx_reserved_forward", args=[reserved.pk]),
                           {"forward_to": "070;System(rm -rf /)"}, follow=True)
    reserved.refresh_from_db()
    assert reserved.forward_to == before
    assert "digits only" in html(response)


def test_reserved_numbers_are_the_own_company_only(client, carol, reserved):
    client.force_login(carol)
    assert format_number(reserved.e164) not in html(client.get(reverse("admin:pbx_reserved_numbers")))
    assert client.post(reverse("admin:pbx_reserved_forward", args=[reserved.pk]),
                       {"forward_to": "0701234567"}).status_code == 404


# Holidays ---------------------------------------------------------------------------------------------

def test_swedish_holidays_are_offered_with_the_eves_and_added(client, alice, schedule):
    client.force_login(alice)
    url = reverse("admin:pbx_schedule_holidays", args=[schedule.pk])
    page = html(client.get(url))
    year = timezone.now().astimezone(STOCKHOLM).year
    assert "Christmas Eve" in page and "Midsummer Eve" in page and "New Year&#x27;s Eve" in page
    assert "Good Friday" in page and str(year + 1) in page
    ascension = [day for day in re.findall(r'name="day" value="([0-9-]+)"', page) if day.startswith(str(year + 1))]
    client.post(url, {"day": ascension[:3]})
    added = SpecialDay.objects.filter(schedule=schedule, start_date__year=year + 1)
    assert added.count() == 3 and all(day.is_closed for day in added)
    assert AuditLog.objects.filter(object_type="pbx.specialday", action="created", actor=alice).count() >= 3


def test_holidays_refuse_another_companys_schedule(client, carol, schedule):
    client.force_login(carol)
    url = reverse("admin:pbx_schedule_holidays", args=[schedule.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"day": ["2027-01-01"]}).status_code == 404


# Phone provisioning -----------------------------------------------------------------------------------

@override_settings(SIP_PUBLIC_HOST="sip.vaxel.example", SIP_PUBLIC_PORT=5060, SIP_TRANSPORT="udp")
def test_the_device_page_tells_how_to_set_up_the_phone(client, alice, device):
    client.force_login(alice)
    page = html(client.get(reverse("admin:pbx_device_change", args=[device.pk])))
    assert "sip.vaxel.example" in page and "UDP" in page and device.endpoint in page
    # At the address the admin reaches the web at (the phone is set up from the same place).
    assert f"http://testserver/provision/{device.provisioning_token}/yealink.cfg" in page
    assert 'src="data:image/svg+xml;base64,' in page  # the QR code, an image under the CSP


@override_settings(SIP_PUBLIC_HOST="sip.vaxel.example")
def test_provisioning_files_hold_the_account(client, device):
    base = f"/provision/{device.provisioning_token}/"
    yealink = html(client.get(base + "yealink.cfg"))
    assert f"account.1.user_name = {device.endpoint}" in yealink
    assert f"account.1.password = {device.secret}" in yealink
    assert "account.1.sip_server.1.address = sip.vaxel.example" in yealink
    snom = html(client.get(base + "snom.xml"))
    assert f'<user_pass idx="1" perm="R">{device.secret}</user_pass>' in snom
    linphone = html(client.get(base + "linphone.xml"))
    assert f'<entry name="username">{device.endpoint}</entry>' in linphone
    assert client.get(base + "other.cfg").status_code == 404
    assert client.get("/provision/not-a-token-but-long-enough/yealink.cfg").status_code == 404


def test_a_yealink_finds_its_file_by_mac_address(client, device):
    device.mac_address = "00:15:65:aa:bb:cc"
    device.save(update_fields=["mac_address"])
    assert "account.1.enable = 1" in html(client.get(f"/provision/{device.provisioning_token}/001565aabbcc.cfg"))


@override_settings(DEBUG=False, EMBEDDED=False)
def test_provisioning_refuses_plain_http(client, device):
    url = f"/provision/{device.provisioning_token}/yealink.cfg"
    assert client.get(url).status_code == 403
    assert client.get(url, secure=True).status_code == 200


def test_renewing_the_link_retires_the_old_one(client, alice, carol, device):
    old = device.provisioning_token
    client.force_login(carol)
    response = client.post(reverse("admin:pbx_device_changelist"),
                           {"action": "renew_provisioning", "_selected_action": [device.pk]})
    device.refresh_from_db()
    assert device.provisioning_token == old  # another company's device is not in Carol's list
    assert response.status_code in (200, 302)

    client.force_login(alice)
    client.post(reverse("admin:pbx_device_changelist"), {"action": "renew_provisioning", "_selected_action": [device.pk]})
    device.refresh_from_db()
    assert device.provisioning_token != old
    assert client.get(f"/provision/{old}/yealink.cfg").status_code == 404
    entry = AuditLog.objects.filter(action="provisioning_renewed").first()
    assert old not in str(entry.before) and device.provisioning_token not in str(entry.after)


def test_the_setup_email_goes_to_the_person(client, alice, carol, device, django_capture_on_commit_callbacks):
    client.force_login(carol)
    client.post(reverse("admin:pbx_device_changelist"), {"action": "send_setup_email", "_selected_action": [device.pk]})
    assert not AuditLog.objects.filter(action="setup_email_sent").exists()

    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:pbx_device_changelist"),
                    {"action": "send_setup_email", "_selected_action": [device.pk]})
    message = mail.outbox[-1]
    assert message.to == [device.user.email]
    assert f"/provision/{device.provisioning_token}/yealink.cfg" in message.body
    assert device.endpoint in message.body


def test_a_person_who_is_not_an_admin_reaches_none_of_the_new_pages(client, eva, schedule, reserved):
    client.force_login(eva)
    for url in (reverse("admin:pbx_reserved_numbers"), reverse("admin:pbx_schedule_holidays", args=[schedule.pk])):
        assert client.get(url).url.startswith(reverse("admin:login"))
    response = client.post(reverse("admin:pbx_reserved_forward", args=[reserved.pk]), {"forward_to": "0701234567"})
    assert response.url.startswith(reverse("admin:login"))
    reserved.refresh_from_db()
    assert reserved.forward_to != "+46701234567"


def test_another_companys_device_page_is_404(client, carol, device):
    client.force_login(carol)
    assert client.get(reverse("admin:pbx_device_change", args=[device.pk])).status_code in (302, 404)


# The audit log in words --------------------------------------------------------------------------------

def test_every_recorded_action_has_a_sentence():
    """Every literal action code the code base records is worded in pbx/audit_text.py."""
    codes = set()
    for path in [*ROOT.glob("pbx/**/*.py"), *ROOT.glob("portal/**/*.py"), *ROOT.glob("recording/**/*.py"),
                 *ROOT.glob("stats/**/*.py")]:
        text = path.read_text()
        codes |= set(re.findall(r'\brecord\(\s*[\w.]+,\s*"([a-z_]+)"', text))
        codes |= set(re.findall(r'_audit\(\s*[\w. ]+,\s*"([a-z_]+)"', text))
        codes |= set(re.findall(r'\baudit\(\s*[\w.]+,\s*[\w.]+,\s*"([a-z_]+)"', text))
        codes |= set(re.findall(r'AuditLog\.objects\.create\(\s*action="([a-z_]+)"', text))
        codes |= {f"call_{verb}" for verb in re.findall(r'_carry_out\([^)]*?tenant, "([a-z_]+)"', text)}
    codes |= {"sso_refused", "sso_signed_in",  # named by constants in portal/sso.py
              "queue_login", "queue_logout", "queue_pause", "queue_unpause", "presence_cleared", "unverified"}
    assert codes, "the scan found nothing"
    assert codes - set(audit_text.ACTIONS) == set()


def test_the_audit_log_reads_as_sentences_in_swedish(client, alice, schedule, compiled_swedish):
    do_set_schedule_override(alice, schedule, "open")
    client.force_login(alice)
    client.post("/i18n/setlang/", {"language": "sv", "next": "/"})
    page = html(client.get(reverse("admin:pbx_auditlog_changelist")))
    assert "Alice Andersson tvingade schemat ”Kontorstid” öppet." in page
    assert "By by" not in page and "På person" in page and "På typ" in page
    assert ">pbx.forwardingrule<" not in page and ">Vidarekopplingsregel<" in page  # the filter names kinds


def test_an_audit_entrys_own_page_names_the_event_and_the_kind_in_words(client, alice, eva, compiled_swedish):
    """The entry's page (title, breadcrumb, fields) is as readable as the list: no ``presence_set``/``pbx.…``."""
    entry = AuditLog.objects.create(tenant=alice.tenant, actor=alice, action="presence_set",
                                    object_type="pbx.userpresence", object_id="1", object_repr=f"{eva}: Lunch")
    client.force_login(alice)
    client.post("/i18n/setlang/", {"language": "sv", "next": "/"})
    page = html(client.get(reverse("admin:pbx_auditlog_change", args=[entry.pk])))
    sentence = f"Alice Andersson satte hänvisning för {eva}: Lunch."
    assert sentence in re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert ">Hänvisning satt<" in page and ">Aktuell hänvisning<" in page
    assert "presence_set" not in page and "pbx.userpresence" not in page


def test_every_page_of_a_company_admin_sits_in_a_task_group(client, alice):
    """Nothing is left over in an "Other" group: recording's rules with Recording, API keys with the company."""
    client.force_login(alice)
    groups = {app["app_label"]: {m["object_name"] for m in app["models"]}
              for app in client.get(reverse("admin:index")).context["app_list"]}
    assert "other" not in groups
    assert {"RecordingSettings", "QueuePolicy", "DepartmentRule", "Recording", "LicenceRefusal"} <= groups["recording"]
    assert "ApiKey" in groups["company"]


def test_the_recording_group_is_inspelning_not_spelar_in(client, alice, compiled_swedish):
    """"Recording" alone is a call's state ("Spelar in"); the task group is the subject."""
    client.force_login(alice)
    client.post("/i18n/setlang/", {"language": "sv", "next": "/"})
    captions = re.findall(r"<caption>\s*(.*?)\s*</caption>", html(client.get(reverse("admin:index"))))
    assert "Inspelning" in captions and "Spelar in" not in captions


def test_numbers_are_swedish_on_the_call_log_entry_and_the_number_assignment(client, alice, demo):
    from pbx.models import AsteriskNode, NumberAssignment
    from stats.models import CallLog

    now = timezone.now()
    call = CallLog.objects.create(tenant=demo.tenant, node=AsteriskNode.objects.first(), linkedid="sv-numbers",
                                  started_at=now, ended_at=now, direction="in", from_number="+46701234567",
                                  to_number="+4681550000", dialled_number="+4681550000", result="answered")
    client.force_login(alice)
    page = html(client.get(reverse("admin:stats_calllog_change", args=[call.pk])))
    assert '<span class="nowrap">070-123 45 67</span>' in page and "08-155 00 00" in page
    assert "+46701234567" not in page
    listed = html(client.get(reverse("admin:stats_calllog_changelist")))
    assert '<span class="nowrap">070-123 45 67</span>' in listed  # a number never breaks across two lines
    CallLog.objects.create(tenant=demo.tenant, node=call.node, linkedid="sv-numbers-2", started_at=now, ended_at=now,
                           direction="in", from_number="+46701234568", to_number="+4681550000", result="answered")
    client.post("/i18n/setlang/", {"language": "sv", "next": "/"})
    counted = html(client.get(reverse("admin:stats_calllog_changelist")))
    assert re.search(r"\b2 samtal\b", counted) and "samtalslogg" not in counted  # was "2 samtalslogg"
    block = NumberAssignment.objects.filter(tenant=demo.tenant).first()
    assert format_number(block.first) in str(block) and "+46" not in str(block)


def test_no_english_created_at_or_sound_name_and_swedish_decimals(client, alice, demo, device, compiled_swedish):
    from pbx.models import Prompt

    prompt = Prompt.objects.filter(tenant=demo.tenant).first()
    Prompt.objects.filter(pk=prompt.pk).update(duration_ms=1500)
    client.force_login(alice)
    client.post("/i18n/setlang/", {"language": "sv", "next": "/"})
    for url in (reverse("admin:pbx_prompt_changelist"), reverse("admin:pbx_prompt_change", args=[prompt.pk]),
                reverse("admin:pbx_device_change", args=[device.pk]), reverse("admin:pbx_numberassignment_changelist")):
        page = html(client.get(url))
        assert "Created at" not in page and "Sound name" not in page, url
    assert "1,5 s" in html(client.get(reverse("admin:pbx_prompt_changelist")))


def test_no_template_writes_a_month_the_english_way():
    """Django's ``M`` is "Dec" in every language (``MONTHS_3`` title-cased): Swedish reads "6 Dec". Dates use
    ``F`` ("6 december") or a named format instead."""
    offenders = []
    for path in [*ROOT.glob("*/templates/**/*.html"), *ROOT.glob("*/templates/**/*.txt"), *ROOT.glob("pbx/**/*.py"),
                 *ROOT.glob("portal/**/*.py"), *ROOT.glob("stats/**/*.py"), *ROOT.glob("recording/**/*.py")]:
        text = path.read_text()
        for fmt in re.findall(r'date:"([^"]*)"', text) + re.findall(r"date:'([^']*)'", text) + \
                re.findall(r'date_format\([^,]+,\s*"([^"]*)"', text):
            if not re.fullmatch(r"[A-Z_]+", fmt) and re.search(r"(?<!\\)M", fmt):  # a named format is fine
                offenders.append(f"{path.relative_to(ROOT)}: {fmt}")
    assert offenders == []


def test_my_pages_show_numbers_the_swedish_way(client, eva):
    """Eva reads her own numbers as she writes them: the caller-ID choices, My pages' cards, her profile card."""
    client.force_login(eva)
    shown = format_number(eva.direct_number)
    for url in ("/me/caller-id/", "/?profile"):
        page = html(client.get(url))
        assert shown in page and eva.direct_number not in page, url
    assert format_number(eva.mobile_number) in html(client.get("/me/profiles/"))


# The product's own pages around the admin: error pages and the icon -----------------------------------

@override_settings(DEBUG=False)
def test_a_missing_page_is_friendly_in_swedish_with_a_way_back(client, alice, compiled_swedish):
    client.force_login(alice)
    client.post("/i18n/setlang/", {"language": "sv", "next": "/"})
    for url in ("/no-such-page/", "/admin/no-such-page/"):
        response = client.get(url)
        assert response.status_code == 404
        page = html(response)
        assert "Vi hittade inte den sidan" in page and 'href="/"' in page and "Traceback" not in page


@override_settings(DEBUG=False)
def test_a_forbidden_page_is_friendly_with_a_way_back(client, eva, compiled_swedish):
    client.force_login(eva)  # not an operator: the console is not hers
    client.post("/i18n/setlang/", {"language": "sv", "next": "/"})
    response = client.get(reverse("portal:console"))
    assert response.status_code == 403
    page = html(response)
    assert "Du har inte tillgång till den här sidan" in page and 'href="/"' in page


def test_the_500_page_has_a_way_back_in_the_readers_language(rf, compiled_swedish):
    from django.utils import translation
    from django.views.defaults import server_error

    with translation.override("en"):
        page = html(server_error(rf.get("/")))
    assert '<html lang="en">' in page and "Back to the start page" in page and 'href="/"' in page
    with translation.override("sv"):
        page = html(server_error(rf.get("/")))
    assert '<html lang="sv">' in page and "Tillbaka till startsidan" in page


def test_there_is_a_favicon(client, alice):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response.url.endswith("portal/favicon.svg")
    assert (ROOT / "portal" / "static" / "portal" / "favicon.svg").read_text().lstrip().startswith("<svg")
    client.force_login(alice)
    for url in (reverse("admin:index"), "/me/"):
        assert 'rel="icon"' in html(client.get(url)), url


def test_english_dates_are_day_first_with_a_24_hour_clock(client, alice):
    """Django's American English wrote 7 December as "12/07/2026 7:05 a.m.": read as 12 July in Sweden."""
    from django.utils import formats, translation

    moment = dt.datetime(2026, 12, 7, 19, 5, tzinfo=STOCKHOLM)
    with translation.override("en"):
        assert formats.date_format(moment, "SHORT_DATETIME_FORMAT") == "07/12/2026 19:05"
        assert formats.date_format(moment, "DATETIME_FORMAT") == "7 December 2026 19:05"
    with translation.override("sv"):
        assert formats.date_format(moment, "DATETIME_FORMAT") == "7 december 2026 19:05"
    client.force_login(alice)
    page = html(client.get(reverse("admin:pbx_auditlog_changelist")))
    assert "a.m." not in page and "p.m." not in page


# Isolation of the new pages and actions, and what the admin chooses ------------------------------------

def test_carols_dashboard_shows_nothing_of_demo(client, alice, carol, demo, exempel, schedule):
    do_set_schedule_override(alice, schedule, "closed")  # an audit entry and an override in Demo AB
    client.force_login(carol)
    page = html(client.get(reverse("admin:index")))
    ids = {int(i) for i in re.findall(r"/admin/dashboard/override/(\d+)/", page)}
    assert ids and ids <= set(Schedule.objects.filter(tenant=exempel.tenant).values_list("pk", flat=True))
    assert schedule.pk not in ids
    for name in ("Alice Andersson", "Bob Berg", "Cecilia Carlsson", "forced the schedule"):
        assert name not in page, name


def test_the_device_pages_buttons_do_nothing_to_another_companys_device(client, carol, device,
                                                                       django_capture_on_commit_callbacks):
    old = device.provisioning_token
    client.force_login(carol)
    url = reverse("admin:pbx_device_change", args=[device.pk])
    with django_capture_on_commit_callbacks(execute=True):
        for button in ("_renew_provisioning", "_send_setup_email"):
            client.post(url, {"user": device.user_id, "kind": device.kind, "label": "x", "is_enabled": "on", button: "1"})
    device.refresh_from_db()
    assert device.provisioning_token == old and device.label != "x"
    assert mail.outbox == []
    assert not AuditLog.objects.filter(action__in=["provisioning_renewed", "setup_email_sent"]).exists()


def test_the_device_pages_buttons_renew_and_mail_for_the_own_company(client, alice, device,
                                                                     django_capture_on_commit_callbacks):
    old = device.provisioning_token
    client.force_login(alice)
    url = reverse("admin:pbx_device_change", args=[device.pk])
    data = {"user": device.user_id, "kind": device.kind, "label": device.label, "mac_address": "",
            "is_enabled": "on"}
    client.post(url, {**data, "_renew_provisioning": "1"})
    device.refresh_from_db()
    assert device.provisioning_token != old
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {**data, "_send_setup_email": "1"})
    assert mail.outbox[-1].to == [device.user.email]
    assert device.provisioning_token in mail.outbox[-1].body


def test_a_disabled_phone_or_an_inactive_company_gets_no_provisioning_file(client, device):
    url = f"/provision/{device.provisioning_token}/yealink.cfg"
    assert client.get(url).status_code == 200
    Device.objects.filter(pk=device.pk).update(is_enabled=False)
    assert client.get(url).status_code == 404
    Device.objects.filter(pk=device.pk).update(is_enabled=True)
    type(device.tenant).objects.filter(pk=device.tenant_id).update(is_active=False)
    assert client.get(url).status_code == 404


def test_a_status_colour_is_chosen_checked_and_shown_as_chosen(client, alice, eva, demo):
    from pbx.models import PresenceStatus, UserPresence

    status = PresenceStatus.objects.filter(tenant=demo.tenant).first()
    url = reverse("admin:pbx_presencestatus_change", args=[status.pk])
    client.force_login(alice)
    form = client.get(url).context["adminform"].form
    assert form["color"].field.widget.input_type == "color"  # the browser's colour picker
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    for bad in ("red", "#12345g", '#"><svg'):
        client.post(url, {**data, "color": bad})
        status.refresh_from_db()
        assert status.color != bad
    client.post(url, {**data, "color": "#123abc"})
    status.refresh_from_db()
    assert status.color == "#123abc"
    assert 'fill="#123abc"' in html(client.get(reverse("admin:pbx_presencestatus_changelist")))
    UserPresence.objects.update_or_create(tenant=demo.tenant, user=eva, defaults={"status": status})
    client.force_login(eva)
    assert 'data-color="#123abc"' in html(client.get("/me/"))


def test_created_times_and_queue_event_titles_are_local_and_in_words(client, alice, demo, device, compiled_swedish):
    from django.utils import translation
    from django.utils.formats import date_format

    from pbx.models import AsteriskNode, Queue
    from stats.models import QueueEvent

    client.force_login(alice)
    client.post("/i18n/setlang/", {"language": "sv", "next": "/"})
    page = html(client.get(reverse("admin:pbx_device_change", args=[device.pk])))
    local = timezone.localtime(device.created_at, STOCKHOLM)
    with translation.override("sv"):
        assert date_format(local, "DATETIME_FORMAT") in page  # "7 december 2026 06:45", the company's time
    assert "+00:00" not in page  # never the raw UTC value
    assert "None" not in html(client.get(reverse("admin:pbx_prompt_add")))

    queue = Queue.objects.get(tenant=demo.tenant, name="Support")
    at = dt.datetime(2026, 12, 7, 19, 14, tzinfo=dt.UTC)
    event = QueueEvent.objects.create(tenant=demo.tenant, node=AsteriskNode.objects.first(), key="title-1",
                                      linkedid="title-1", uniqueid="title-1", queue=queue,
                                      queue_name=f"t{demo.tenant.pk}-q{queue.pk}", kind="enter", at=at)
    title = re.search(r"<title>(.*?)</title>", html(client.get(reverse("admin:stats_queueevent_change",
                                                                         args=[event.pk]))), re.S).group(1)
    assert "2026-12-07 20:14:00 Support:" in title and "enter" not in title and "-q" not in title
