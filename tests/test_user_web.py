"""The user web ("Mina sidor"): Eva is a user at Demo AB, Bob an agent there; Carol admins and Dave
is an agent at Exempel AB. Each person sees and changes only their own things, and an id of
anyone else's row is a 404 that changes nothing.
"""

from __future__ import annotations

import contextlib
import datetime
import re
import shutil
import zoneinfo
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from pbx.actions import do_delete_voicemail, do_save_forwarding_profile, do_set_caller_id
from pbx.events import tenant_group, user_group
from pbx.models import (
    AsteriskNode,
    AuditLog,
    ForwardingProfile,
    Number,
    PresenceStatus,
    QueueAgent,
    Schedule,
    User,
    UserPresence,
    VoicemailBox,
)
from pbx.signals import state_changed
from portal.forms import end_shortcuts
from stats.models import CallLog
from tests.helpers import capture_events

pytestmark = pytest.mark.django_db

STOCKHOLM = zoneinfo.ZoneInfo("Europe/Stockholm")
SV_PO = Path(django_settings.BASE_DIR) / "locale" / "sv" / "LC_MESSAGES" / "django.po"
PAGES = ["/me/", "/me/status/", "/me/profiles/", "/me/caller-id/", "/me/voicemail/", "/me/queues/", "/me/calls/",
         "/me/phone-codes/"]


# -- helpers ------------------------------------------------------------------------------------


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run the block, then what it scheduled for after commit (as a real commit would)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def as_user():
    def login(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return login


@contextlib.contextmanager
def captured_state_changes():
    sent: list[tuple[int, str, int]] = []

    def receiver(sender, tenant_id, kind, object_id, **kwargs):
        sent.append((tenant_id, kind, object_id))

    state_changed.connect(receiver, weak=False)
    try:
        yield sent
    finally:
        state_changed.disconnect(receiver)


def page(response) -> str:
    return response.content.decode()


def flashed(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def audit(action: str, **filters):
    return AuditLog.objects.filter(action=action, **filters)


def at_stockholm(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=STOCKHOLM)


class A11yParser(HTMLParser):
    """Collects what an accessibility check needs: form controls, labels, headings, landmarks."""

    def __init__(self):
        super().__init__()
        self.controls: list[dict] = []
        self.label_for: set[str] = set()
        self.h1 = 0
        self.landmarks: set[str] = set()
        self._label_depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label":
            self._label_depth += 1
            if attrs.get("for"):
                self.label_for.add(attrs["for"])
        elif tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "submit"):
            self.controls.append({**attrs, "_wrapped": self._label_depth > 0})
        elif tag == "h1":
            self.h1 += 1
        if tag in ("main", "nav", "header", "footer"):
            self.landmarks.add(tag)

    def handle_endtag(self, tag):
        if tag == "label":
            self._label_depth -= 1


# -- every page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", PAGES)
def test_every_page_asks_a_stranger_to_log_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize("who", ["eva", "bob", "dave"])
def test_every_page_shows_for_people_of_either_company(as_user, request, url, who):
    response = as_user(request.getfixturevalue(who)).get(url)

    assert response.status_code == 200
    assert 'aria-current="page"' in page(response)


@pytest.mark.parametrize("url", PAGES)
def test_every_page_is_labelled_and_landmarked(as_user, bob, url):
    parser = A11yParser()
    parser.feed(page(as_user(bob).get(url)))

    assert parser.h1 == 1
    assert {"main", "nav", "header", "footer"} <= parser.landmarks
    unlabelled = [c for c in parser.controls
                  if not (c.get("id") in parser.label_for or c.get("aria-label") or c["_wrapped"])]
    assert unlabelled == []


def test_the_pages_are_linked_from_the_navigation(as_user, eva):
    assert 'href="/me/"' in page(as_user(eva).get("/?profile"))


def test_a_platform_administrator_without_a_company_has_no_user_web(as_user, superuser):
    assert as_user(superuser).get("/me/status/").status_code == 404


@pytest.fixture
def compiled_swedish():
    mo = SV_PO.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < SV_PO.stat().st_mtime:
        if shutil.which("msgfmt") is None:
            pytest.skip("gettext's msgfmt is not installed (make install installs it)")
        from django.core.management import call_command
        from django.utils.translation import trans_real

        call_command("compilemessages", locale=["sv"], ignore_patterns=[".*", "var", "node_modules"], verbosity=0)
        trans_real._translations = {}
        trans_real._default = None


@pytest.mark.parametrize("url, words", [
    ("/me/status/", ["Min hänvisning", "Sätt hänvisning"]),
    ("/me/profiles/", ["Vidarekopplingsprofiler", "Ny profil"]),
    ("/me/caller-id/", ["Nummervisning"]),
    ("/me/voicemail/", ["Röstbrevlåda"]),
    ("/me/queues/", ["Mina köer", "Logga ut"]),
    ("/me/calls/", ["Samtalshistorik"]),
])
def test_the_pages_speak_swedish(as_user, bob, compiled_swedish, url, words):
    client = as_user(bob)
    client.post("/i18n/setlang/", {"language": "sv", "next": url})

    text = page(client.get(url))

    assert '<html lang="sv">' in text
    for word in words:
        assert word in text


def test_the_overview_sums_up_status_profile_voicemail_and_queues(as_user, bob, demo, spool):
    leave_message(spool, personal_box(bob))
    leave_message(spool, shared_box(demo))
    leave_message(spool, shared_box(demo), folder="Old")

    response = as_user(bob).get("/me/")

    assert response.context["new_messages"] == 2
    assert response.context["in_force"].profile == ForwardingProfile.objects.get(user=bob, is_active=True)
    assert "2 new messages" in page(response) and "Support" in page(response)


# -- my status ----------------------------------------------------------------------------------


def test_the_status_form_starts_with_the_first_status_and_its_default_message(as_user, eva):
    response = as_user(eva).get("/me/status/")

    lunch = PresenceStatus.objects.get(tenant=eva.tenant, name="Lunch")
    assert response.context["form"]["status"].value() == lunch.pk
    assert response.context["form"]["message"].value() == "Tillbaka efter lunch"
    # Every status's default message travels with the page for the status shortcuts script.
    assert '"message": "I m\\u00f6te"' in page(response)


def test_eva_sets_lunch_until_13_and_her_company_is_told(as_user, eva, demo, committed, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: at_stockholm(2030, 3, 4, 11, 5))
    lunch = PresenceStatus.objects.get(tenant=demo.tenant, name="Lunch")

    with capture_events() as events, committed():
        response = as_user(eva).post("/me/status/", {"status": lunch.pk, "message": "Äter", "ends": "lunch"})

    assert response.status_code == 302
    presence = UserPresence.objects.get(user=eva)
    assert (presence.status, presence.message, presence.until) == (lunch, "Äter", at_stockholm(2030, 3, 4, 13, 0))
    assert [groups for groups, event in events if event["type"] == "presence.changed"] == [[tenant_group(demo.tenant.pk)]]
    [(_groups, event)] = [e for e in events if e[1]["type"] == "presence.changed"]
    assert event["user_id"] == eva.pk and event["status"] == "Lunch"
    assert audit("presence_set", actor=eva, tenant=demo.tenant).count() == 1


def test_the_end_time_shortcuts_are_in_the_companys_time_zone():
    now = at_stockholm(2030, 3, 4, 12, 30)

    shortcuts = {s.value: s for s in end_shortcuts(STOCKHOLM, now)}

    assert shortcuts["hour"].until == at_stockholm(2030, 3, 4, 13, 30)
    assert shortcuts["lunch"].until == at_stockholm(2030, 3, 4, 13, 0) and shortcuts["lunch"].available
    assert shortcuts["day"].until == at_stockholm(2030, 3, 4, 17, 0)
    assert shortcuts["tomorrow"].until == at_stockholm(2030, 3, 5, 8, 0)
    assert shortcuts["none"].until is None


def test_a_shortcut_time_already_passed_is_offered_as_unavailable():
    shortcuts = {s.value: s for s in end_shortcuts(STOCKHOLM, at_stockholm(2030, 3, 4, 14, 0))}

    assert not shortcuts["lunch"].available
    assert shortcuts["day"].available


def test_a_typed_end_time_is_the_companys_wall_clock(as_user, eva, demo):
    demo.tenant.time_zone = "America/New_York"
    demo.tenant.save(update_fields=["time_zone"])
    meeting = PresenceStatus.objects.get(tenant=demo.tenant, name="Möte")

    as_user(eva).post("/me/status/", {"status": meeting.pk, "message": "", "ends": "custom",
                                      "until": "2031-01-15T09:30"})

    until = UserPresence.objects.get(user=eva).until
    assert until == datetime.datetime(2031, 1, 15, 14, 30, tzinfo=datetime.UTC)


def test_a_newline_in_the_message_is_refused_and_the_form_keeps_what_was_typed(as_user, eva, demo):
    meeting = PresenceStatus.objects.get(tenant=demo.tenant, name="Möte")

    response = as_user(eva).post("/me/status/", {"status": meeting.pk, "message": "Hej\nDial(evil)",
                                                 "ends": "custom", "until": "2031-01-15T09:30"})

    assert response.status_code == 400
    assert "Line breaks and control characters are not allowed here." in page(response)
    assert 'role="alert"' in page(response)
    assert 'value="2031-01-15T09:30"' in page(response)
    assert re.search(rf'value="{meeting.pk}"[^>]*checked', page(response))
    assert not UserPresence.objects.filter(user=eva, status__isnull=False).exists()


def test_an_end_time_in_the_past_is_refused_with_a_clear_message(as_user, eva, demo):
    meeting = PresenceStatus.objects.get(tenant=demo.tenant, name="Möte")

    response = as_user(eva).post("/me/status/", {"status": meeting.pk, "message": "Möte med kund",
                                                 "ends": "custom", "until": "2001-01-01T10:00"})

    assert response.status_code == 400
    assert "The end time has already passed." in page(response)
    assert 'value="Möte med kund"' in page(response)
    assert 'value="2001-01-01T10:00"' in page(response)
    assert not UserPresence.objects.filter(user=eva, status__isnull=False).exists()


def test_a_status_that_needs_an_end_time_asks_for_one(as_user, eva, demo):
    lunch = PresenceStatus.objects.get(tenant=demo.tenant, name="Lunch")

    response = as_user(eva).post("/me/status/", {"status": lunch.pk, "message": "", "ends": "none"})

    assert response.status_code == 400
    assert "Lunch needs an end time." in page(response)


def test_a_custom_end_needs_a_time(as_user, eva, demo):
    away = PresenceStatus.objects.get(tenant=demo.tenant, name="Borta")

    response = as_user(eva).post("/me/status/", {"status": away.pk, "ends": "custom", "until": ""})

    assert response.status_code == 400
    assert "Choose the end time" in page(response)


@pytest.mark.parametrize("who, other", [("eva", "exempel"), ("carol", "demo")])
def test_a_status_of_the_other_company_is_refused_and_nothing_changes(as_user, request, who, other):
    person = request.getfixturevalue(who)
    foreign = PresenceStatus.objects.get(tenant=request.getfixturevalue(other).tenant, name="Borta")

    with capture_events() as events:
        response = as_user(person).post("/me/status/", {"status": foreign.pk, "message": "x", "ends": "none"})

    assert response.status_code == 400
    assert "Choose one of your company&#x27;s statuses." in page(response)
    assert not UserPresence.objects.filter(status=foreign).exists()
    assert events == []


def test_eva_clears_her_status(as_user, eva, demo, committed):
    away = PresenceStatus.objects.get(tenant=demo.tenant, name="Borta")
    as_user(eva).post("/me/status/", {"status": away.pk, "message": "Ute", "ends": "none"})

    with capture_events() as events, committed():
        response = as_user(eva).post("/me/status/clear/", follow=True)

    assert UserPresence.objects.get(user=eva).status is None
    assert flashed(response) == ["Your status is cleared: you are available."]
    assert 'role="status"' in page(response)  # announced by screen readers
    assert [e["status"] for _g, e in events if e["type"] == "presence.changed"] == [None]
    assert audit("presence_cleared", actor=eva).count() == 1


def test_the_page_shows_the_current_status(as_user, eva, demo):
    away = PresenceStatus.objects.get(tenant=demo.tenant, name="Borta")
    as_user(eva).post("/me/status/", {"status": away.pk, "message": "På stan", "ends": "none"})

    text = page(as_user(eva).get("/me/status/"))

    assert "På stan" in text and "Clear my status" in text


def test_setting_a_status_needs_a_post(as_user, eva):
    assert as_user(eva).get("/me/status/clear/").status_code == 405


# -- forwarding profiles ------------------------------------------------------------------------


def rule_data(prefix: str, **values) -> dict:
    data = {"action": "ring", "forward_number": "", "no_answer_seconds": "20", "on_no_answer": "voicemail",
            "no_answer_number": "", "on_busy": "voicemail", "busy_number": "", "on_unreachable": "voicemail",
            "unreachable_number": ""}
    data.update(values)
    return {f"{prefix}-{key}": value for key, value in data.items()}


def profile_data(name="På kontoret", activation="manual", schedule="", fixed=None, mobile=None) -> dict:
    return {"name": name, "activation": activation, "schedule": schedule,
            **rule_data("fixed", **(fixed or {})), **rule_data("mobile", **(mobile or {}))}


def eva_profile(eva, name="På kontoret") -> ForwardingProfile:
    return ForwardingProfile.objects.get(user=eva, name=name)


def test_eva_sees_only_her_own_profiles(as_user, eva, bob):
    mine = ForwardingProfile.objects.filter(user=eva)
    response = as_user(eva).get("/me/profiles/")

    assert {p.pk for p in response.context["profiles"]} == set(mine.values_list("pk", flat=True))
    assert "Ring for 20 s, then voicemail" in page(response)


def test_eva_forwards_her_fixed_line_to_a_number_typed_the_swedish_way(as_user, eva, committed):
    profile = eva_profile(eva, "Borta")

    with captured_state_changes() as changes, committed():
        response = as_user(eva).post(f"/me/profiles/{profile.pk}/", profile_data(
            name="Borta hela dagen",
            fixed={"action": "forward", "forward_number": "070-123 45 67"},
            mobile={"on_busy": "forward", "busy_number": "08-123 456 78", "on_no_answer": ""},
        ))

    assert response.status_code == 302
    profile.refresh_from_db()
    fixed, mobile = profile.rules.get(line="fixed"), profile.rules.get(line="mobile")
    assert profile.name == "Borta hela dagen"
    assert (fixed.action, fixed.forward_number) == ("forward", "+46701234567")
    assert (mobile.on_busy, mobile.busy_number, mobile.on_no_answer) == ("forward", "+46812345678", "")
    assert (eva.tenant_id, "profile", eva.pk) in changes
    assert audit("changed", actor=eva, object_type="pbx.forwardingrule").exists()
    assert audit("created", actor=eva, object_type="pbx.forwardingrule", object_id=str(mobile.pk)).exists()


def test_letters_in_a_forward_number_are_refused_and_nothing_changes(as_user, eva):
    profile = eva_profile(eva)
    before = list(profile.rules.values())

    response = as_user(eva).post(f"/me/profiles/{profile.pk}/", profile_data(
        fixed={"action": "forward", "forward_number": "070abc;Dial(x)"}))

    assert response.status_code == 400
    assert "070abc;Dial(x) is not a phone number: use digits only" in page(response)
    assert 'value="070abc;Dial(x)"' in page(response)
    assert list(profile.rules.values()) == before


def test_a_forward_without_a_number_asks_for_one(as_user, eva):
    profile = eva_profile(eva)

    response = as_user(eva).post(f"/me/profiles/{profile.pk}/", profile_data(fixed={"action": "forward"}))

    assert response.status_code == 400
    assert "Say which number to forward to." in page(response)


def test_a_number_left_behind_an_action_that_is_not_forward_is_dropped(as_user, eva):
    profile = eva_profile(eva)

    as_user(eva).post(f"/me/profiles/{profile.pk}/", profile_data(
        fixed={"action": "voicemail", "forward_number": "0701234567"}))

    assert profile.rules.get(line="fixed").forward_number == ""


def test_ringing_again_is_not_a_choice_after_no_answer(as_user, eva):
    profile = eva_profile(eva)

    response = as_user(eva).post(f"/me/profiles/{profile.pk}/", profile_data(fixed={"on_no_answer": "ring"}))

    assert response.status_code == 400
    assert profile.rules.get(line="fixed").on_no_answer == "voicemail"


def test_a_profile_follows_a_schedule_of_my_company(as_user, eva, demo):
    profile = eva_profile(eva, "Borta")
    schedule = Schedule.objects.get(tenant=demo.tenant)

    as_user(eva).post(f"/me/profiles/{profile.pk}/", profile_data(name="Borta", activation="scheduled",
                                                                  schedule=schedule.pk))

    profile.refresh_from_db()
    assert (profile.activation, profile.schedule) == ("scheduled", schedule)


def test_a_scheduled_profile_needs_a_schedule(as_user, eva):
    profile = eva_profile(eva, "Borta")

    response = as_user(eva).post(f"/me/profiles/{profile.pk}/", profile_data(name="Borta", activation="scheduled"))

    assert response.status_code == 400
    assert "A scheduled profile needs a schedule." in page(response)


def test_a_schedule_of_the_other_company_is_refused(as_user, eva, exempel):
    profile = eva_profile(eva, "Borta")
    foreign = Schedule.objects.get(tenant=exempel.tenant)

    response = as_user(eva).post(f"/me/profiles/{profile.pk}/", profile_data(
        name="Borta", activation="scheduled", schedule=foreign.pk))

    assert response.status_code == 400
    assert "Choose one of your company&#x27;s schedules." in page(response)
    profile.refresh_from_db()
    assert profile.schedule is None


def test_eva_creates_renames_and_deletes_a_profile(as_user, eva):
    client = as_user(eva)

    response = client.post("/me/profiles/", {"name": "Semester"})
    profile = ForwardingProfile.objects.get(user=eva, name="Semester")
    assert response["Location"] == f"/me/profiles/{profile.pk}/"
    assert sorted(profile.rules.values_list("line", flat=True)) == ["fixed", "mobile"]
    assert audit("created", actor=eva, object_type="pbx.forwardingprofile").exists()

    client.post(f"/me/profiles/{profile.pk}/", profile_data(name="Semester i juli"))
    profile.refresh_from_db()
    assert profile.name == "Semester i juli"

    client.post(f"/me/profiles/{profile.pk}/delete/")
    assert not ForwardingProfile.objects.filter(pk=profile.pk).exists()
    assert audit("deleted", actor=eva, object_type="pbx.forwardingprofile").exists()


def test_a_second_profile_with_the_same_name_is_refused(as_user, eva):
    response = as_user(eva).post("/me/profiles/", {"name": "borta"})

    assert response.status_code == 400
    assert "You already have a profile with that name." in page(response)
    assert ForwardingProfile.objects.filter(user=eva).count() == 2


def test_eva_activates_a_profile_now_and_then_none(as_user, eva, committed):
    away = eva_profile(eva, "Borta")

    with capture_events() as events, committed():
        as_user(eva).post(f"/me/profiles/{away.pk}/activate/")

    assert list(ForwardingProfile.objects.filter(user=eva, is_active=True)) == [away]
    assert [g for g, e in events if e["type"] == "profile.changed"] == [[user_group(eva.pk)]]
    assert audit("profile_activated", actor=eva).exists()

    as_user(eva).post("/me/profiles/off/")
    assert not ForwardingProfile.objects.filter(user=eva, is_active=True).exists()


@pytest.mark.parametrize("who", ["carol", "dave", "bob"])
@pytest.mark.parametrize("method, suffix", [("get", ""), ("post", ""), ("post", "activate/"), ("post", "delete/")])
def test_someone_elses_profile_is_not_found_and_stays_as_it_was(as_user, request, eva, who, method, suffix):
    profile = eva_profile(eva, "Borta")
    before = (profile.name, profile.is_active, list(profile.rules.values()))

    response = getattr(as_user(request.getfixturevalue(who)), method)(
        f"/me/profiles/{profile.pk}/{suffix}", profile_data(name="Kapad") if method == "post" else None)

    assert response.status_code == 404
    profile.refresh_from_db()
    assert (profile.name, profile.is_active, list(profile.rules.values())) == before


def test_the_profile_action_never_moves_a_profile_to_someone_else(eva, bob):
    profile = eva_profile(eva)
    profile.user = bob

    with pytest.raises(PermissionDenied):
        do_save_forwarding_profile(bob, profile)

    assert eva_profile(eva).user == eva


# -- caller ID ----------------------------------------------------------------------------------


def test_eva_may_choose_the_main_numbers_the_support_number_and_her_own(as_user, eva, demo, alice):
    response = as_user(eva).get("/me/caller-id/")

    offered = {n.e164 for n in response.context["numbers"]}
    main_numbers = set(Number.objects.filter(tenant=demo.tenant, kind="main").values_list("e164", flat=True))
    assert offered == main_numbers | {eva.direct_number}
    assert alice.direct_number not in page(response)
    assert "The company&#x27;s default (main number)" in page(response)
    assert not Number.objects.filter(e164__in=offered).exclude(tenant=demo.tenant).exists()


def test_eva_shows_her_direct_number_when_she_calls(as_user, eva, committed):
    mine = Number.objects.get(user=eva, kind="direct")

    with captured_state_changes() as changes, committed():
        response = as_user(eva).post("/me/caller-id/", {"number": mine.pk})

    assert response.status_code == 302
    eva.refresh_from_db()
    assert eva.caller_id_number == mine
    assert (eva.tenant_id, "caller_id", eva.pk) in changes
    assert audit("caller_id_set", actor=eva, object_id=str(eva.pk)).exists()

    as_user(eva).post("/me/caller-id/", {"number": ""})
    eva.refresh_from_db()
    assert eva.caller_id_number is None


@pytest.mark.parametrize("whose", ["colleague", "other company", "reserved"])
def test_a_number_eva_may_not_show_is_refused(as_user, eva, alice, exempel, whose):
    number = {
        "colleague": lambda: Number.objects.get(user=alice, kind="direct"),
        "other company": lambda: Number.objects.filter(tenant=exempel.tenant, kind="main").first(),
        "reserved": lambda: Number.objects.get(tenant=eva.tenant, kind="reserved"),
    }[whose]()

    response = as_user(eva).post("/me/caller-id/", {"number": number.pk})

    assert response.status_code == 400
    assert "You may not show that number." in page(response)
    eva.refresh_from_db()
    assert eva.caller_id_number is None


def test_carol_cannot_show_a_number_of_demo_ab(as_user, carol, demo):
    response = as_user(carol).post("/me/caller-id/", {"number": demo.main_number.pk})

    assert response.status_code == 400
    carol.refresh_from_db()
    assert carol.caller_id_number is None


def test_the_caller_id_action_checks_for_itself(eva, bob, alice):
    with pytest.raises(ValidationError):
        do_set_caller_id(eva, eva, Number.objects.get(user=alice, kind="direct"))
    with pytest.raises(PermissionDenied):
        do_set_caller_id(bob, eva, None)


# -- voicemail ----------------------------------------------------------------------------------


@pytest.fixture
def spool(settings, tmp_path) -> Path:
    settings.VOICEMAIL_DIR = tmp_path / "voicemail"
    return settings.VOICEMAIL_DIR


def leave_message(spool: Path, box: VoicemailBox, folder="INBOX", caller='"Anna" <+46701234567>',
                  origtime=1795406642, audio=b"RIFF$\x00\x00\x00WAVEfmt data") -> int:
    """Write a message the way app_voicemail does: msgNNNN.txt + msgNNNN.wav, numbered from 0."""
    directory = spool / f"t{box.tenant_id}" / box.number / folder
    directory.mkdir(parents=True, exist_ok=True)
    number = len(list(directory.glob("msg*.txt")))
    (directory / f"msg{number:04d}.wav").write_bytes(audio)
    (directory / f"msg{number:04d}.txt").write_text(
        f";\n; Message Information file\n;\n[message]\norigmailbox={box.number}\ncallerid={caller}\n"
        f"origtime={origtime}\nmsg_id={origtime}-{number:08x}\nduration=7\n")
    return number


def personal_box(user) -> VoicemailBox:
    return VoicemailBox.objects.get(owner=user, kind="personal")


def shared_box(company) -> VoicemailBox:
    return VoicemailBox.objects.get(tenant=company.tenant, kind="shared")


def files(spool: Path, box: VoicemailBox, folder: str) -> list[str]:
    directory = spool / f"t{box.tenant_id}" / box.number / folder
    return sorted(p.name for p in directory.glob("msg*")) if directory.exists() else []


def test_eva_lists_her_messages_and_not_the_shared_box_she_is_not_in(as_user, eva, demo, spool):
    leave_message(spool, personal_box(eva), caller='"Anna <b>" <+46701234567>')
    leave_message(spool, shared_box(demo), caller='"Hemlig" <+46709999999>')

    response = as_user(eva).get("/me/voicemail/")

    text = page(response)
    assert "Anna &lt;b&gt;" in text and "070-123 45 67" in text  # the number the Swedish way
    assert "Hemlig" not in text
    assert [entry["box"] for entry in response.context["boxes"]] == [personal_box(eva)]


def test_bob_sees_the_shared_box_he_belongs_to(as_user, bob, demo, spool):
    leave_message(spool, shared_box(demo), caller='"Kund" <+46708888888>')

    response = as_user(bob).get("/me/voicemail/")

    assert shared_box(demo) in [entry["box"] for entry in response.context["boxes"]]
    assert "070-888 88 88" in page(response)


def test_eva_listens_to_a_message_streamed_by_an_authorised_view(as_user, eva, spool):
    box = personal_box(eva)
    number = leave_message(spool, box, audio=b"RIFF-voice-of-anna")

    response = as_user(eva).get(f"/me/voicemail/{box.pk}/inbox/{number}/audio/?msg_id=1795406642-00000000")

    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content) == b"RIFF-voice-of-anna"


def test_the_player_may_ask_for_a_byte_range(as_user, eva, spool):
    box = personal_box(eva)
    leave_message(spool, box, audio=b"0123456789")

    response = as_user(eva).get(f"/me/voicemail/{box.pk}/inbox/0/audio/", HTTP_RANGE="bytes=2-5")

    assert response.status_code == 206
    assert response["Content-Range"] == "bytes 2-5/10"
    assert response.content == b"2345"


def test_eva_marks_a_message_heard_and_it_moves_to_old(as_user, eva, spool, committed):
    box = personal_box(eva)
    leave_message(spool, box, origtime=1000)
    leave_message(spool, box, origtime=2000)

    with captured_state_changes() as changes, committed():
        response = as_user(eva).post(f"/me/voicemail/{box.pk}/inbox/0/heard/", {"msg_id": "1000-00000000"})

    assert response.status_code == 302
    assert files(spool, box, "Old") == ["msg0000.txt", "msg0000.wav"]
    assert files(spool, box, "INBOX") == ["msg0000.txt", "msg0000.wav"]
    assert "msg_id=2000-00000001" in (spool / f"t{box.tenant_id}" / box.number / "INBOX" / "msg0000.txt").read_text()
    assert (eva.tenant_id, "voicemail", box.pk) in changes
    row = audit("voicemail_heard", actor=eva, object_id=str(box.pk)).get()
    assert row.before["msg_id"] == "1000-00000000" and row.after["folder"] == "Old"


def test_eva_deletes_a_message_and_the_rest_are_renumbered(as_user, eva, spool):
    box = personal_box(eva)
    for t in (1000, 2000, 3000):
        leave_message(spool, box, origtime=t)

    as_user(eva).post(f"/me/voicemail/{box.pk}/inbox/1/delete/", {"msg_id": "2000-00000001"})

    assert files(spool, box, "INBOX") == ["msg0000.txt", "msg0000.wav", "msg0001.txt", "msg0001.wav"]
    remaining = [(spool / f"t{box.tenant_id}" / box.number / "INBOX" / f"msg000{n}.txt").read_text() for n in (0, 1)]
    assert "origtime=1000" in remaining[0] and "origtime=3000" in remaining[1]
    row = audit("voicemail_deleted", actor=eva, object_id=str(box.pk)).get()
    assert row.before["msg_id"] == "2000-00000001"


def test_a_page_older_than_the_folder_does_not_delete_the_wrong_message(as_user, eva, spool):
    box = personal_box(eva)
    leave_message(spool, box, origtime=1000)

    response = as_user(eva).post(f"/me/voicemail/{box.pk}/inbox/0/delete/", {"msg_id": "999-00000000"}, follow=True)

    assert "no longer there" in " ".join(flashed(response))
    assert files(spool, box, "INBOX") == ["msg0000.txt", "msg0000.wav"]
    assert not audit("voicemail_deleted").exists()


@pytest.mark.parametrize("who", ["dave", "carol", "eva"])
@pytest.mark.parametrize("method, suffix", [("get", "audio/"), ("post", "heard/"), ("post", "delete/")])
def test_someone_elses_voicemail_is_not_found_and_stays_as_it_was(as_user, request, bob, spool, who, method, suffix):
    # Bob's personal box: not Eva's (same company), nor Carol's or Dave's (the other company).
    box = personal_box(bob)
    leave_message(spool, box)

    response = getattr(as_user(request.getfixturevalue(who)), method)(f"/me/voicemail/{box.pk}/inbox/0/{suffix}")

    assert response.status_code == 404
    assert files(spool, box, "INBOX") == ["msg0000.txt", "msg0000.wav"]
    assert files(spool, box, "Old") == []


def test_even_a_company_admin_may_not_touch_a_colleagues_voicemail(alice, eva, spool):
    box = personal_box(eva)
    leave_message(spool, box)

    with pytest.raises(PermissionDenied):
        do_delete_voicemail(alice, box, "INBOX", 0)

    assert files(spool, box, "INBOX") == ["msg0000.txt", "msg0000.wav"]


@pytest.mark.parametrize("path", [
    "inbox/5/audio/",  # no such message
    "Deleted/0/audio/",  # not a folder the web shows
    "..%2F..%2Ft2/0/audio/",  # no path parts from the URL
    "inbox/-1/audio/",
])
def test_only_validated_parts_address_a_message(as_user, eva, spool, path):
    box = personal_box(eva)
    leave_message(spool, box)

    assert as_user(eva).get(f"/me/voicemail/{box.pk}/{path}").status_code == 404


def test_changing_voicemail_needs_a_post(as_user, eva, spool):
    box = personal_box(eva)
    leave_message(spool, box)

    assert as_user(eva).get(f"/me/voicemail/{box.pk}/inbox/0/delete/").status_code == 405
    assert files(spool, box, "INBOX") == ["msg0000.txt", "msg0000.wav"]


# -- my queues ----------------------------------------------------------------------------------


def membership(user, queue_name: str) -> QueueAgent:
    return QueueAgent.objects.get(user=user, queue__name=queue_name)


def test_bob_sees_the_queues_he_answers(as_user, bob):
    response = as_user(bob).get("/me/queues/")

    assert {a.queue.name for a in response.context["memberships"]} == {"Support", "Sales"}


def test_eva_is_told_she_is_in_no_queue(as_user, eva):
    assert "You are not an agent of any queue." in page(as_user(eva).get("/me/queues/"))


def test_bob_logs_out_pauses_and_comes_back(as_user, bob, demo, committed):
    agent = membership(bob, "Support")
    client = as_user(bob)

    with capture_events() as events, committed():
        client.post(f"/me/queues/{agent.pk}/", {"op": "pause", "reason": "Lunch"})
    agent.refresh_from_db()
    assert (agent.logged_in, agent.paused, agent.pause_reason) == (True, True, "Lunch")
    assert [g for g, e in events if e["type"] == "agent.changed"] == [[tenant_group(demo.tenant.pk)]]

    client.post(f"/me/queues/{agent.pk}/", {"op": "resume"})
    client.post(f"/me/queues/{agent.pk}/", {"op": "logout"})
    agent.refresh_from_db()
    assert (agent.logged_in, agent.paused) == (False, False)
    assert [r.action for r in AuditLog.objects.filter(actor=bob, object_id=str(agent.pk)).order_by("id")] == [
        "queue_pause", "queue_unpause", "queue_logout"]

    client.post(f"/me/queues/{agent.pk}/", {"op": "login"})
    agent.refresh_from_db()
    assert agent.logged_in


def test_a_newline_in_the_pause_reason_is_refused(as_user, bob):
    agent = membership(bob, "Support")

    response = as_user(bob).post(f"/me/queues/{agent.pk}/", {"op": "pause", "reason": "Lunch\nQueuePause"})

    assert response.status_code == 400
    assert "Line breaks and control characters are not allowed here." in page(response)
    agent.refresh_from_db()
    assert not agent.paused


def test_pausing_a_queue_one_is_logged_out_of_is_refused(as_user, bob):
    agent = membership(bob, "Support")
    as_user(bob).post(f"/me/queues/{agent.pk}/", {"op": "logout"})

    response = as_user(bob).post(f"/me/queues/{agent.pk}/", {"op": "pause", "reason": "Fika"})

    assert response.status_code == 400
    assert "Log in to Support before pausing." in page(response)


@pytest.mark.parametrize("who", ["dave", "carol", "eva"])
def test_someone_elses_queue_membership_is_not_found_and_stays_as_it_was(as_user, request, bob, who):
    agent = membership(bob, "Support")

    response = as_user(request.getfixturevalue(who)).post(f"/me/queues/{agent.pk}/", {"op": "logout"})

    assert response.status_code == 404
    agent.refresh_from_db()
    assert agent.logged_in


# -- my call history ----------------------------------------------------------------------------


@pytest.fixture
def node(db) -> AsteriskNode:
    return AsteriskNode.objects.create(name="test-node")


def call(node, tenant, n: int, *, minutes_ago: int = 0, users=(), **fields) -> CallLog:
    started = datetime.datetime(2030, 3, 4, 12, 0, tzinfo=datetime.UTC) - datetime.timedelta(minutes=minutes_ago)
    row = CallLog.objects.create(
        tenant=tenant, node=node, linkedid=f"{tenant.pk}-{n}", started_at=started, ended_at=started,
        direction=fields.pop("direction", CallLog.Direction.IN), result=fields.pop("result", CallLog.Result.ANSWERED),
        **fields,
    )
    row.users.set(users)
    return row


def test_eva_sees_the_calls_of_her_own_numbers_only(as_user, node, demo, exempel, eva, alice, bob):
    filip = demo.users[1]
    to_her_number = call(node, demo.tenant, 1, to_number=eva.direct_number, from_number="+46705550000")
    internal = call(node, demo.tenant, 2, direction="internal", from_number=eva.extension,
                    to_number=filip.extension, minutes_ago=5)
    rang_her_phone = call(node, demo.tenant, 3, users=[eva], minutes_ago=10)
    call(node, demo.tenant, 4, direction="internal", from_number=alice.extension, to_number=filip.extension)
    call(node, demo.tenant, 5, queue=demo.queues["Support"], answered_by=bob)
    call(node, demo.tenant, 6, from_number=eva.extension)  # an outside caller whose number reads like her extension
    call(node, exempel.tenant, 7, to_number=eva.direct_number)

    response = as_user(eva).get("/me/calls/")

    assert list(response.context["page"].object_list) == [to_her_number, internal, rang_her_phone]


def test_an_agent_also_sees_his_queues_calls(as_user, node, demo, bob, eva):
    support = call(node, demo.tenant, 1, queue=demo.queues["Support"], result="abandoned")
    his = call(node, demo.tenant, 2, to_number=bob.direct_number, minutes_ago=1)
    call(node, demo.tenant, 3, to_number=eva.direct_number)

    assert list(as_user(bob).get("/me/calls/").context["page"].object_list) == [support, his]
    assert list(as_user(bob).get("/me/calls/?scope=mine").context["page"].object_list) == [his]
    queue_scope = f"/me/calls/?scope=queue-{demo.queues['Support'].pk}"
    assert list(as_user(bob).get(queue_scope).context["page"].object_list) == [support]


@pytest.mark.parametrize("who", ["eva", "dave"])
def test_a_queue_one_is_not_in_shows_none_of_its_calls(as_user, request, node, demo, who):
    call(node, demo.tenant, 1, queue=demo.queues["Support"], from_number="+46701112233")

    response = as_user(request.getfixturevalue(who)).get(f"/me/calls/?scope=queue-{demo.queues['Support'].pk}")

    assert response.status_code == 200
    assert list(response.context["page"].object_list) == []
    assert "+46701112233" not in page(response)


def test_the_history_is_newest_first_in_pages(as_user, node, demo, eva):
    for n in range(30):
        call(node, demo.tenant, n, to_number=eva.direct_number, minutes_ago=n)

    first = as_user(eva).get("/me/calls/").context["page"]
    second = as_user(eva).get("/me/calls/?page=2").context["page"]

    assert [c.linkedid for c in first.object_list] == [f"{demo.tenant.pk}-{n}" for n in range(25)]
    assert [c.linkedid for c in second.object_list] == [f"{demo.tenant.pk}-{n}" for n in range(25, 30)]


# -- click-to-call ------------------------------------------------------------------------------


@pytest.fixture
def dialled(monkeypatch):
    """Replace the action the view calls; what it was asked, and what it should raise next."""
    calls: list[tuple] = []
    fail: list[Exception] = []

    def fake(actor, number, **kwargs):
        calls.append((actor, number))
        if fail:
            raise fail[0]
        return {"ok": True, "action": "click_to_call", "call_id": "1.1", "number": number, "device": 1}

    monkeypatch.setattr("portal.views.calling.do_click_to_call", fake)
    fake.calls, fake.fail = calls, fail
    return fake


def test_the_overview_offers_to_call_a_number(as_user, eva):
    text = page(as_user(eva).get("/me/"))

    assert "Call a number" in text
    assert 'action="/me/call/"' in text


@pytest.mark.parametrize("who", ["eva", "carol"])
def test_a_person_calls_a_number_from_the_overview(as_user, request, dialled, who):
    person = request.getfixturevalue(who)

    response = as_user(person).post("/me/call/", {"number": "+46 70-123 45 67"}, follow=True)

    assert dialled.calls == [(person, "+46701234567")]
    assert response.redirect_chain == [("/me/", 302)]
    assert flashed(response) == ["Your phone rings first; answer it to be connected."]


def test_a_refusal_is_shown_and_the_number_kept(as_user, eva, dialled):
    from pbx.actions.errors import ActionRefused

    dialled.fail.append(ActionRefused("You have no phone to take the call on."))

    response = as_user(eva).post("/me/call/", {"number": "0701234567"})

    assert response.status_code == 400
    assert dialled.calls == [(eva, "0701234567")]
    text = page(response)
    assert "You have no phone to take the call on." in text
    assert 'role="alert"' in text
    assert 'value="0701234567"' in text
    assert "Your phone rings first; answer it to be connected." not in flashed(response)


def test_an_asterisk_that_does_not_answer_is_said_plainly(as_user, eva, dialled):
    from pbx.asterisk.errors import AsteriskError

    dialled.fail.append(AsteriskError("Asterisk did not answer"))

    response = as_user(eva).post("/me/call/", {"number": "1002"})

    assert response.status_code == 400
    assert "the switchboard did not answer" in page(response)


@pytest.mark.parametrize("typed", ["07O-123 45 67", "call mum", "+46 70 12a", "1002#"])
def test_letters_in_the_number_are_refused_clearly(as_user, eva, dialled, typed):
    response = as_user(eva).post("/me/call/", {"number": typed})

    assert response.status_code == 400
    assert dialled.calls == []
    assert response.context["call_form"].errors["number"] == [
        f"{typed} is not a phone number or extension: use digits only, optionally starting with +."]
    assert 'aria-describedby="id_number_error"' in page(response)


def test_an_empty_number_calls_nobody(as_user, eva, dialled):
    response = as_user(eva).post("/me/call/", {"number": "  "})

    assert response.status_code == 400
    assert dialled.calls == []


def test_calling_needs_a_signed_in_person_and_a_post(client, as_user, eva, dialled):
    stranger = client.post("/me/call/", {"number": "+46701234567"})
    assert stranger.status_code == 302
    assert stranger["Location"].startswith("/accounts/login/")

    assert as_user(eva).get("/me/call/").status_code == 405
    assert dialled.calls == []


def test_the_real_action_rings_my_own_phone_and_refuses_an_unknown_extension(as_user, monkeypatch, eva):
    """Through do_click_to_call itself, with the Asterisk control round trip faked."""
    from pbx.asterisk import control

    sent: list = []
    monkeypatch.setattr(control, "node_id_for", lambda tenant: 1)
    monkeypatch.setattr(control, "request", lambda node_id, steps, **kw: sent.append(list(steps)) or [{}])
    client = as_user(eva)

    ok = client.post("/me/call/", {"number": "070-123 45 67"}, follow=True)
    assert flashed(ok) == ["Your phone rings first; answer it to be connected."]
    [[originate]] = sent
    assert originate["ami"]["Action"] == "Originate"
    assert originate["ami"]["Exten"] == "+46701234567"
    assert audit("call_click_to_call", actor=eva).count() == 1

    unknown = "1" + "9" * 6  # nobody's extension at Demo AB
    refused = client.post("/me/call/", {"number": unknown})
    assert refused.status_code == 400
    assert f"Nobody in your company has extension {unknown}." in page(refused)
    assert len(sent) == 1


def test_the_history_offers_to_call_back_the_other_party(as_user, node, demo, eva):
    filip = demo.users[1]
    call(node, demo.tenant, 1, to_number=eva.direct_number, from_number="+46705550000")
    call(node, demo.tenant, 2, direction="internal", from_number=eva.extension, to_number=filip.extension,
         minutes_ago=1)
    call(node, demo.tenant, 3, to_number=eva.direct_number, from_number="anonymous", minutes_ago=2)
    call(node, demo.tenant, 4, to_number=eva.direct_number, from_number="", minutes_ago=3)

    response = as_user(eva).get("/me/calls/")

    assert [c.call_back for c in response.context["page"].object_list] == ["+46705550000", filip.extension, "", ""]
    text = page(response)
    assert text.count('action="/me/call/"') == 2
    assert 'name="number" value="+46705550000"' in text


def test_call_back_rings_and_returns_to_the_history(as_user, node, demo, eva, dialled):
    response = as_user(eva).post("/me/call/", {"number": "+46705550000", "next": "/me/calls/?page=2"})

    assert dialled.calls == [(eva, "+46705550000")]
    assert response.status_code == 302
    assert response["Location"] == "/me/calls/?page=2"


def test_a_refused_call_back_is_told_on_the_history(as_user, eva, dialled):
    from pbx.actions.errors import ActionRefused

    dialled.fail.append(ActionRefused("You have no phone to take the call on."))

    response = as_user(eva).post("/me/call/", {"number": "+46705550000", "next": "/me/calls/"}, follow=True)

    assert response.redirect_chain == [("/me/calls/", 302)]
    assert flashed(response) == ["You have no phone to take the call on."]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/me/calls/", "/me/status/"])
def test_call_back_returns_only_to_the_history(as_user, eva, dialled, target):
    response = as_user(eva).post("/me/call/", {"number": "+46705550000", "next": target})

    assert response["Location"] == "/me/"


def test_click_to_call_speaks_swedish(as_user, eva, compiled_swedish, dialled):
    client = as_user(eva)
    client.post("/i18n/setlang/", {"language": "sv", "next": "/me/"})

    assert "Ring ett nummer" in page(client.get("/me/"))
    done = client.post("/me/call/", {"number": "+46701234567"}, follow=True)
    assert flashed(done) == ["Din telefon ringer först; svara så kopplas samtalet."]
