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

@pytest.mark.parametrize(("e164", "shown"), [
    ("+46812345678", "08-123 456 78"), ("+46701234567", "070-123 45 67"), ("+4631123456", "031-12 34 56"),
    ("+46101234567", "010-123 45 67"), ("+46480123456", "0480-12 34 56"), ("+441234567890", "+441234567890"),
    ("100", "100"), ("", ""),
])
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
    assert "070-123 45 67" in html(response)
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
