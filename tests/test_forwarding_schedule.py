"""Scheduled forwarding profiles: what is in force at a moment (the selector), what AstDB holds for the
dialplan to decide the same at call time, and what the user web and the admin show.

Eva's "Helg" (weekend) profile follows a schedule "Söndagsjour" open on Sundays 08:00-17:00 Stockholm time.
Both Swedish daylight-saving days of 2026 are Sundays: 2026-03-29 (02:00 CET -> 03:00 CEST) and
2026-10-25 (03:00 CEST -> 02:00 CET), so 08:00 local is 06:00 UTC on the first and 07:00 UTC on the second.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from pbx import actions
from pbx.asterisk import astdb_sync
from pbx.asterisk.astdb import MAX_SCHEDULED_PROFILES, astdb_keys_for, astdb_state
from pbx.models import ForwardingProfile, ForwardingRule, Schedule, SpecialDay, WeeklyHours
from pbx.selectors import forwarding_in_force, schedule_boundaries
from tests.fake_asterisk.pbx_fixtures import *  # noqa: F403 - fake, node, applied

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def sundays(demo) -> Schedule:
    schedule = Schedule.objects.create(tenant=demo.tenant, name="Söndagsjour")
    WeeklyHours.objects.create(tenant=demo.tenant, schedule=schedule, weekday=6, open_time=dt.time(8),
                               close_time=dt.time(17))
    return schedule


@pytest.fixture
def weekend(eva, sundays) -> ForwardingProfile:
    """Eva's own weekend profile: forward everything to her mobile while Söndagsjour is open."""
    profile = actions.do_create_forwarding_profile(eva, eva, "Helg")
    profile.activation, profile.schedule = ForwardingProfile.Activation.SCHEDULED, sundays
    rule = profile.rules.get(line="fixed")
    rule.action, rule.forward_number = ForwardingRule.Action.FORWARD, "+46701234567"
    actions.do_save_forwarding_profile(eva, profile, [rule])
    actions.do_activate_profile(eva, None, user=eva)  # nothing switched on by hand
    return profile


# ----------------------------------------------------------------------------------- the selector


@pytest.mark.parametrize("at, in_force", [
    (utc(2026, 3, 29, 5, 59), False),   # 07:59 CEST
    (utc(2026, 3, 29, 6, 0), True),     # 08:00 CEST (a naive +1 h would still say 07:00)
    (utc(2026, 3, 29, 14, 59), True),   # 16:59 CEST
    (utc(2026, 3, 29, 15, 0), False),   # 17:00 CEST
    (utc(2026, 10, 25, 6, 30), False),  # 07:30 CET (a naive +2 h would say 08:30)
    (utc(2026, 10, 25, 7, 0), True),    # 08:00 CET
    (utc(2026, 10, 25, 15, 59), True),  # 16:59 CET
    (utc(2026, 10, 25, 16, 0), False),  # 17:00 CET
    (utc(2026, 10, 26, 7, 0), False),   # Monday
])
def test_a_scheduled_profile_is_in_force_while_its_schedule_is_open_on_dst_days(eva, weekend, at, in_force):
    result = forwarding_in_force(eva, at)
    assert (result.profile, result.reason) == ((weekend, "schedule") if in_force else (None, "none"))


@pytest.mark.parametrize("at, change, then", [
    (utc(2026, 3, 28, 20, 0), utc(2026, 3, 29, 6, 0), "Helg"),   # spring forward: 08:00 CEST
    (utc(2026, 3, 29, 6, 0), utc(2026, 3, 29, 15, 0), None),     # ... until 17:00 CEST
    (utc(2026, 10, 24, 20, 0), utc(2026, 10, 25, 7, 0), "Helg"),  # fall back: 08:00 CET
    (utc(2026, 10, 25, 7, 0), utc(2026, 10, 25, 16, 0), None),    # ... until 17:00 CET
])
def test_the_next_change_is_on_local_time_across_daylight_saving(eva, weekend, at, change, then):
    result = forwarding_in_force(eva, at)
    assert result.next_change == change
    assert (result.next_profile.name if result.next_profile else None) == then


def test_a_profile_switched_on_by_hand_wins_over_every_schedule(eva, weekend):
    office = eva.forwarding_profiles.get(name="På kontoret")
    actions.do_activate_profile(eva, office)
    result = forwarding_in_force(eva, utc(2026, 3, 29, 10, 0))  # Söndagsjour is open
    assert (result.profile, result.reason, result.next_change) == (office, "manual", None)
    actions.do_activate_profile(eva, None, user=eva)
    assert forwarding_in_force(eva, utc(2026, 3, 29, 10, 0)).profile == weekend


def test_the_first_open_schedule_by_profile_name_wins(demo, eva, weekend):
    always = Schedule.objects.create(tenant=demo.tenant, name="Dygnet runt")
    for weekday in range(7):
        WeeklyHours.objects.create(tenant=demo.tenant, schedule=always, weekday=weekday, open_time=dt.time(0),
                                   close_time=dt.time(23, 59))
    night = actions.do_create_forwarding_profile(eva, eva, "Natt")  # after "Helg" by name
    night.activation, night.schedule = ForwardingProfile.Activation.SCHEDULED, always
    actions.do_save_forwarding_profile(eva, night)
    assert forwarding_in_force(eva, utc(2026, 3, 29, 10, 0)).profile == weekend
    result = forwarding_in_force(eva, utc(2026, 3, 29, 16, 0))  # 18:00: Söndagsjour closed, Natt takes over
    assert (result.profile, result.next_change) == (night, utc(2026, 3, 29, 21, 59))  # 23:59 is no longer open


def test_a_holiday_and_an_override_close_the_schedule(demo, eva, weekend, sundays):
    SpecialDay.objects.create(tenant=demo.tenant, schedule=sundays, name="Påskdagen",
                              start_date=dt.date(2026, 4, 5), end_date=dt.date(2026, 4, 5))
    assert forwarding_in_force(eva, utc(2026, 4, 5, 10, 0)).profile is None
    sundays.override, sundays.override_until = "closed", utc(2026, 3, 29, 12, 0)
    sundays.save()
    result = forwarding_in_force(eva, utc(2026, 3, 29, 10, 0))
    assert (result.profile, result.next_change, result.next_profile) == (None, utc(2026, 3, 29, 12, 0), weekend)


def test_boundaries_of_a_schedule_are_its_local_hours_and_midnights(sundays):
    found = schedule_boundaries(sundays, utc(2026, 3, 28, 12, 0), utc(2026, 3, 29, 23, 0))
    assert found == [utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 6, 0), utc(2026, 3, 29, 15, 0),
                     utc(2026, 3, 29, 22, 0)]  # midnights: 00:00 CET, then 00:00 CEST


def test_the_selector_reads_a_person_in_three_queries(eva, weekend, django_assert_num_queries):
    with django_assert_num_queries(3):  # profiles (+ schedule, company); weekly hours; special days
        forwarding_in_force(eva, utc(2026, 3, 29, 10, 0))


def test_a_person_may_have_at_most_the_scheduled_profiles_the_dialplan_reads(eva, sundays):
    for n in range(MAX_SCHEDULED_PROFILES):
        profile = actions.do_create_forwarding_profile(eva, eva, f"P{n:02d}")
        profile.activation, profile.schedule = ForwardingProfile.Activation.SCHEDULED, sundays
        actions.do_save_forwarding_profile(eva, profile)
    one_more = actions.do_create_forwarding_profile(eva, eva, "P99")
    one_more.activation, one_more.schedule = ForwardingProfile.Activation.SCHEDULED, sundays
    with pytest.raises(ValidationError) as refused:
        actions.do_save_forwarding_profile(eva, one_more)
    assert "at most 20 profiles that follow a schedule" in str(refused.value)


# ------------------------------------------------------------------------------------------ AstDB


def test_astdb_lists_the_scheduled_profiles_for_the_dialplan(demo, eva, weekend, sundays):
    keys = astdb_keys_for("profile", eva.pk)
    base = f"t{demo.tenant.pk}/u{eva.pk}"
    assert keys[("pbx", f"{base}/profile")] == ""  # nothing by hand
    assert keys[("pbx", f"{base}/sp1/schedule")] == str(sundays.pk)
    assert keys[("pbx", f"{base}/sp1/profile")] == str(weekend.pk)
    assert keys[("pbx", f"{base}/sp1/fixed/first")] == "forward"
    assert keys[("pbx", f"{base}/sp1/fixed/first_to")] == "+46701234567"
    assert keys[("pbx", f"{base}/sp1/mobile/first")] == "ring"
    assert keys[("pbx", f"{base}/sp2/schedule")] == ""  # ends the list the dialplan walks
    whole = astdb_state(demo.tenant)  # the reconnect rewrite holds the same keys
    assert {k: whole[k] for k in keys} == keys


def test_a_deleted_scheduled_profile_ends_the_list_where_it_was(demo, eva, weekend):
    actions.do_delete_forwarding_profile(eva, weekend)
    keys = astdb_keys_for("profile", eva.pk)
    assert keys[("pbx", f"t{demo.tenant.pk}/u{eva.pk}/sp1/schedule")] == ""  # its old sp1 keys are never read
    assert not any("/sp2/" in k[1] for k in keys)


def test_a_profile_set_to_follow_a_schedule_on_the_web_reaches_asterisk(sundays, applied, fake, demo, eva,
                                                                          django_capture_on_commit_callbacks):
    """The user web's form -> do_save_forwarding_profile -> on commit, the AstDB keys through AMI (the fake's
    AstDB), while the applied dialplan already maps the schedule for t<id>-profile."""
    astdb_sync.close_writer()
    t = demo.tenant.pk
    assert fake.state.extensions[(f"t{t}-profsched", str(sundays.pk), "1")] == (
        "Goto", f"t{t}-schedule-{sundays.pk},s,1")
    away = eva.forwarding_profiles.get(name="Borta")
    data = {"name": "Borta", "activation": "scheduled", "schedule": sundays.pk}
    for line in ("fixed", "mobile"):
        data.update({f"{line}-action": "voicemail", f"{line}-forward_number": "", f"{line}-no_answer_seconds": "20",
                     f"{line}-on_no_answer": "voicemail", f"{line}-no_answer_number": "",
                     f"{line}-on_busy": "voicemail", f"{line}-busy_number": "",
                     f"{line}-on_unreachable": "voicemail", f"{line}-unreachable_number": ""})
    with django_capture_on_commit_callbacks(execute=True):
        response = client_of(eva).post(f"/me/profiles/{away.pk}/", data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    prefix = f"/pbx/t{t}/u{eva.pk}"
    deadline = time.monotonic() + 2
    while fake.state.astdb.get(f"{prefix}/sp1/schedule") != str(sundays.pk):
        assert time.monotonic() < deadline, "the scheduled profile never reached AstDB"
        time.sleep(0.005)
    assert fake.state.astdb[f"{prefix}/sp1/profile"] == str(away.pk)
    assert fake.state.astdb[f"{prefix}/sp1/fixed/first"] == "voicemail"
    assert fake.state.astdb[f"{prefix}/sp2/schedule"] == ""
    assert fake.state.astdb[f"{prefix}/profile"] == str(eva.forwarding_profiles.get(is_active=True).pk)
    astdb_sync.close_writer()


# ------------------------------------------------------------------------------- user web and admin


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_user_web_says_which_profile_is_in_force_and_when_that_changes(eva, weekend, settings, monkeypatch):
    import pbx.selectors as selectors

    monkeypatch.setattr(selectors.timezone, "now", lambda: utc(2026, 10, 25, 6, 30))  # 07:30 CET, closed
    text = client_of(eva).get("/me/profiles/").content.decode()
    assert "No profile: your calls ring your phones" in text
    assert "From Sun 25 October 08:00: Helg." in text  # company time (CET that day), not UTC
    monkeypatch.setattr(selectors.timezone, "now", lambda: utc(2026, 10, 25, 7, 30))
    text = client_of(eva).get("/me/").content.decode()
    assert "<strong>Helg</strong>" in text and "because Söndagsjour is open." in text
    assert "From Sun 25 October 17:00: no profile, your phones ring." in text


def test_the_admin_shows_each_profiles_truth_and_only_its_own_companys(alice, carol, eva, weekend, monkeypatch):
    import pbx.selectors as selectors

    monkeypatch.setattr(selectors.timezone, "now", lambda: utc(2026, 3, 29, 10, 0))
    text = client_of(alice).get("/admin/pbx/forwardingprofile/?q=Helg").content.decode()
    assert "In force now (by schedule), until Sun 29 March 17:00" in text
    text = client_of(alice).get(f"/admin/pbx/forwardingprofile/{weekend.pk}/change/").content.decode()
    assert "In force now (by schedule), until Sun 29 March 17:00" in text
    assert client_of(carol).get(f"/admin/pbx/forwardingprofile/{weekend.pk}/change/").status_code in (302, 404)
    listing = client_of(carol).get("/admin/pbx/forwardingprofile/?q=Helg")
    assert list(listing.context["cl"].result_list) == [] and "In force" not in listing.content.decode()


def test_the_truth_is_told_in_swedish_too(eva, weekend, monkeypatch):
    import pbx.selectors as selectors
    from tests.test_user_web import compiled_swedish

    compiled_swedish.__wrapped__()
    monkeypatch.setattr(selectors.timezone, "now", lambda: utc(2026, 3, 29, 7, 30))
    client = client_of(eva)
    client.post("/i18n/setlang/", {"language": "sv", "next": "/me/profiles/"})
    text = client.get("/me/profiles/").content.decode()
    assert "eftersom Söndagsjour är öppet." in text
    assert "Från sön 29 " in text and " 17:00: ingen profil, dina telefoner ringer." in text


def test_the_full_rewrite_lists_no_end_for_people_without_scheduled_profiles(demo, bob):
    """The reconnect rewrite deletes what it does not list; one change writes the end explicitly."""
    end = ("pbx", f"t{demo.tenant.pk}/u{bob.pk}/sp1/schedule")
    assert end not in astdb_state(demo.tenant)
    assert astdb_keys_for("profile", bob.pk)[end] == ""


def test_the_profile_page_shows_the_in_use_badge_by_schedule(eva, weekend, monkeypatch):
    import pbx.selectors as selectors

    monkeypatch.setattr(selectors.timezone, "now", lambda: utc(2026, 3, 29, 7, 30))
    text = client_of(eva).get(f"/me/profiles/{weekend.pk}/").content.decode()
    assert 'badge--ok">In use<' in text and "because Söndagsjour is open." in text
    office = eva.forwarding_profiles.get(name="På kontoret")
    assert 'badge--ok">In use<' not in client_of(eva).get(f"/me/profiles/{office.pk}/").content.decode()
