"""The recording web: each role sees exactly its own / its departments' / all of its company's recordings;
another company's ids are 404 everywhere (list, player, file, download, evaluation, share, delete); every
play, download, share and delete is audited.

Alice is Demo AB's recording super user, Bob ("My Console") sees his own, Cecilia is restricted to the
Kundtjänst department, Eva has no access; Carol is Exempel AB's super user and must see nothing of Demo AB.
"""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from pbx.models import AuditLog, Department, User
from recording.models import (
    EvaluationChoice,
    EvaluationQuestion,
    ExcludedNumber,
    Recording,
    RecordingSettings,
    ShareLink,
)
from tests.recording_fixtures import make_recording, set_recording_roles

Role = User.RecordingRole


@pytest.fixture
def roles(demo, exempel, alice, bob, eva, carol):
    return set_recording_roles(demo, alice, bob, eva, carol)


@pytest.fixture
def recs(demo, exempel, roles, dave):
    bob, david = roles["bob"], demo.agents[2]
    # David's recording was made while he sat in the other department than Bob's.
    other_department = Department.objects.filter(tenant=demo.tenant).exclude(pk=bob.department_id).first()
    return {
        "bob": make_recording(demo.tenant, bob),
        "david": make_recording(demo.tenant, david, department=other_department),
        "exempel": make_recording(exempel.tenant, dave),
    }


def login(client, user):
    """Signed in with a second factor: the recording web always asks for one (portal.mfa)."""
    from portal.models import EmailCodeFactor

    EmailCodeFactor.objects.get_or_create(user=user)
    client.force_login(user)
    return client


def listed(client) -> set[int]:
    response = client.get(reverse("recording:list"))
    assert response.status_code == 200
    return {r.pk for r in response.context["recordings"]}


def test_each_role_lists_exactly_its_recordings(client, roles, recs, demo):
    bob_dept, david_dept = recs["bob"].department_id, recs["david"].department_id
    assert bob_dept != david_dept  # Bob and David sit in different departments
    assert listed(login(client, roles["alice"])) == {recs["bob"].pk, recs["david"].pk}
    assert listed(login(client, roles["bob"])) == {recs["bob"].pk}
    in_kundtjanst = {r.pk for r in (recs["bob"], recs["david"]) if r.department_id == roles["kundtjanst"].pk}
    assert listed(login(client, roles["cecilia"])) == in_kundtjanst
    assert listed(login(client, roles["carol"])) == {recs["exempel"].pk}


def test_a_person_without_a_recording_role_is_refused(client, roles, recs):
    login(client, roles["eva"])
    for name in ("recording:start", "recording:list", "recording:policy"):
        assert client.get(reverse(name)).status_code == 403
    assert client.get(reverse("recording:audio", args=[recs["bob"].pk])).status_code == 403


def test_signed_out_visitors_go_to_the_login(client, recs):
    response = client.get(reverse("recording:audio", args=[recs["bob"].pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("name", ["detail", "audio", "download"])
def test_another_companys_recording_is_404(client, roles, recs, name):
    login(client, roles["carol"])
    assert client.get(reverse(f"recording:{name}", args=[recs["bob"].pk])).status_code == 404


def test_another_companys_recording_cannot_be_evaluated_shared_or_deleted(client, roles, recs):
    login(client, roles["carol"])
    bob_rec = recs["bob"]
    assert client.post(reverse("recording:evaluate", args=[bob_rec.pk]), {"tag": "x"}).status_code == 404
    assert client.post(reverse("recording:share", args=[bob_rec.pk]),
                       {"email": "x@example.org", "subject": "s"}).status_code == 404
    client.post(reverse("recording:delete"), {"ids": [bob_rec.pk], "confirm": "on", "scope": "selected"})
    bob_rec.refresh_from_db()
    assert bob_rec.deleted_at is None and bob_rec.tag == ""
    assert not ShareLink.objects.exists()


def test_my_console_user_cannot_open_a_colleagues_recording(client, roles, recs):
    login(client, roles["bob"])
    for name in ("detail", "audio", "download"):
        assert client.get(reverse(f"recording:{name}", args=[recs["david"].pk])).status_code == 404


def test_the_player_seeks_with_range_requests_and_a_play_is_audited_once(client, roles, recs):
    login(client, roles["bob"])
    rec = recs["bob"]
    url = reverse("recording:audio", args=[rec.pk])
    whole = b"".join(client.get(url).streaming_content)
    assert len(whole) == rec.stored_size and whole[:4] == b"OggS"
    part = client.get(url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{rec.stored_size}"
    assert b"".join(part.streaming_content) == whole[100:200]
    tail = client.get(url, HTTP_RANGE="bytes=-50")
    assert b"".join(tail.streaming_content) == whole[-50:]
    assert client.get(url, HTTP_RANGE=f"bytes={rec.stored_size + 10}-").status_code == 416
    assert part["Cache-Control"] == "private, no-store"
    plays = AuditLog.objects.filter(action="recording.played", object_id=str(rec.pk), actor=roles["bob"])
    assert plays.count() == 1  # the whole-file request; seeks are not new plays


def test_download_names_the_date_person_other_party_and_dialled_number(client, roles, recs):
    login(client, roles["alice"])
    rec = recs["bob"]
    response = client.get(reverse("recording:download", args=[rec.pk]))
    local = timezone.localtime(rec.started_at, timezone.get_default_timezone())
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"{local:%Y-%m-%d}" in disposition and "bob-berg" in disposition
    assert "0046701234567" in disposition and "004681234500" in disposition
    assert AuditLog.objects.filter(action="recording.downloaded", actor=roles["alice"], object_id=str(rec.pk)).exists()


def test_the_list_shows_today_by_default_and_filters(client, roles, recs, demo):
    yesterday = make_recording(demo.tenant, roles["bob"], started_at=timezone.now() - datetime.timedelta(days=1, hours=1),
                               flag="red")
    recs["bob"].flag = "green"
    recs["bob"].save(update_fields=["flag"])
    login(client, roles["alice"])
    assert yesterday.pk not in listed(client)

    def rows(**query):
        return {r.pk for r in client.get(reverse("recording:list"), query).context["recordings"]}

    assert yesterday.pk in rows(period="7d")
    assert rows(period="7d", flag="red") == {yesterday.pk}
    assert rows(period="7d", department=recs["david"].department_id) == {recs["david"].pk}
    assert rows(period="7d", number="4670123") == {recs["bob"].pk, recs["david"].pk, yesterday.pk}
    assert rows(period="7d", number="999") == set()
    assert rows(period="7d", extension=roles["bob"].extension) == {recs["bob"].pk, yesterday.pk}
    # Another company's department is not a valid choice: the filter is refused, not applied.
    response = client.get(reverse("recording:list"), {"period": "7d", "department": 99999})
    assert "department" in response.context["form"].errors


def test_the_list_is_sortable_and_limited(client, roles, demo):
    for seconds in (30, 10, 20):
        make_recording(demo.tenant, roles["bob"], duration_s=seconds)
    login(client, roles["alice"])
    response = client.get(reverse("recording:list"), {"sort": "duration", "limit": 25})
    assert [r.duration_s for r in response.context["recordings"]] == [10, 20, 30]
    response = client.get(reverse("recording:list"), {"sort": "-duration"})
    assert [r.duration_s for r in response.context["recordings"]] == [30, 20, 10]


def test_evaluation_saves_choices_flag_tag_notes_answers_and_a_score(client, roles, recs, demo, exempel):
    good = EvaluationChoice.objects.create(tenant=demo.tenant, kind="result", name="Sale")
    happy = EvaluationChoice.objects.create(tenant=demo.tenant, kind="response", name="Happy")
    foreign = EvaluationChoice.objects.create(tenant=exempel.tenant, kind="result", name="Theirs")
    q1 = EvaluationQuestion.objects.create(tenant=demo.tenant, text="Greeted the customer?")
    q2 = EvaluationQuestion.objects.create(tenant=demo.tenant, text="Offered a follow-up?")
    q3 = EvaluationQuestion.objects.create(tenant=demo.tenant, text="Confirmed the address?")
    login(client, roles["bob"])
    url = reverse("recording:evaluate", args=[recs["bob"].pk])
    response = client.post(url, {"call_result": good.pk, "customer_response": happy.pk, "flag": "blue",
                                 "tag": "offert", "notes": "Bra samtal", f"q{q1.pk}": "yes", f"q{q2.pk}": "no",
                                 f"q{q3.pk}": "na"})
    assert response.status_code == 302
    rec = Recording.objects.get(pk=recs["bob"].pk)
    assert (rec.call_result, rec.customer_response, rec.flag, rec.tag, rec.notes, rec.score) == (
        good, happy, "blue", "offert", "Bra samtal", 50)
    assert AuditLog.objects.filter(action="recording.evaluated", object_id=str(rec.pk)).exists()
    assert client.post(url, {"call_result": foreign.pk}).status_code == 400
    rec.refresh_from_db()
    assert rec.call_result == good


def test_a_shared_link_opens_one_recording_for_24_hours_without_an_account(client, roles, recs,
                                                                          django_capture_on_commit_callbacks):
    login(client, roles["bob"])
    rec = recs["bob"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("recording:share", args=[rec.pk]),
                               {"email": "kund@example.org", "subject": "Vårt samtal"})
    assert response.status_code == 302
    share = ShareLink.objects.get(recording=rec)
    assert share.expires_at - timezone.now() == pytest.approx(datetime.timedelta(hours=24), abs=datetime.timedelta(minutes=1))
    message = mail.outbox[-1]
    assert message.to == ["kund@example.org"] and message.subject == "Vårt samtal"
    link = next(word for word in message.body.split() if "/recordings/s/" in word)
    path = link[link.index("/recordings/"):]
    assert AuditLog.objects.filter(action="recording.shared", object_id=str(rec.pk)).exists()

    client.logout()
    page = client.get(path)
    assert page.status_code == 200 and "Vårt samtal" in page.content.decode()
    audio = client.get(page.context["audio_url"], HTTP_RANGE="bytes=0-99")
    assert audio.status_code == 206
    assert AuditLog.objects.filter(action="recording.share_opened", object_id=str(rec.pk)).count() == 1
    assert client.get(path.replace("/s/", "/s/x")).status_code == 404

    share.expires_at = timezone.now() - datetime.timedelta(seconds=1)
    share.save(update_fields=["expires_at"])
    assert client.get(path).status_code == 404
    assert client.get(page.context["audio_url"]).status_code == 404


def test_a_shared_link_can_be_revoked_but_not_by_another_company(client, roles, recs):
    login(client, roles["bob"])
    client.post(reverse("recording:share", args=[recs["bob"].pk]), {"email": "kund@example.org", "subject": "S"})
    share = ShareLink.objects.get()
    login(client, roles["carol"])
    assert client.post(reverse("recording:revoke_share", args=[share.pk])).status_code == 404
    share.refresh_from_db()
    assert share.is_valid
    login(client, roles["bob"])
    client.post(reverse("recording:revoke_share", args=[share.pk]))
    share.refresh_from_db()
    assert not share.is_valid and share.revoked_at is not None


def test_only_super_users_delete_and_only_after_confirming(client, roles, recs):
    rec = recs["bob"]
    login(client, roles["bob"])
    assert client.post(reverse("recording:delete"), {"ids": [rec.pk], "confirm": "on", "scope": "selected"}
                       ).status_code == 403
    login(client, roles["alice"])
    client.post(reverse("recording:delete"), {"ids": [rec.pk], "scope": "selected"})  # not confirmed
    rec.refresh_from_db()
    assert rec.deleted_at is None
    client.post(reverse("recording:delete"), {"ids": [rec.pk], "confirm": "on", "scope": "selected"})
    rec.refresh_from_db()
    assert rec.deleted_at is not None
    assert rec.pk not in listed(client)
    assert client.get(reverse("recording:audio", args=[rec.pk])).status_code == 404
    assert AuditLog.objects.filter(action="recording.deleted", object_id=str(rec.pk), actor=roles["alice"]).exists()


def test_delete_all_filtered_takes_only_what_the_filter_shows(client, roles, recs, demo):
    login(client, roles["alice"])
    client.post(reverse("recording:delete"), {"query": f"department={recs['david'].department_id}",
                                              "confirm": "on", "scope": "filtered"})
    assert set(Recording.objects.filter(deleted_at__isnull=False).values_list("pk", flat=True)) == {recs["david"].pk}


def test_the_start_page_counts_by_role(client, roles, recs):
    login(client, roles["bob"])
    response = client.get(reverse("recording:start"))
    assert response.status_code == 200 and response.context["recording_count"] == 1
    assert "overview" not in response.context
    login(client, roles["alice"])
    response = client.get(reverse("recording:start"))
    assert response.context["recorded"]["total"] == 2


def test_the_kill_switch_is_one_click_for_super_users_only(client, roles, demo):
    login(client, roles["bob"])
    assert client.post(reverse("recording:kill_switch"), {"on": "1"}).status_code == 403
    login(client, roles["alice"])
    client.post(reverse("recording:kill_switch"), {"on": "1"})
    assert RecordingSettings.objects.get(tenant=demo.tenant).kill_switch is True
    assert AuditLog.objects.filter(tenant=demo.tenant, object_type="recording.recordingsettings").exists()
    client.post(reverse("recording:kill_switch"), {"on": "0"})
    assert RecordingSettings.objects.get(tenant=demo.tenant).kill_switch is False


def test_excluded_numbers_are_validated_and_scoped(client, roles, demo, exempel):
    login(client, roles["alice"])
    response = client.post(reverse("recording:policy"), {"what": "excluded", "excluded-e164": "0701; rm -rf"})
    assert response.status_code == 200 and response.context["excluded_form"].errors
    client.post(reverse("recording:policy"), {"what": "excluded", "excluded-e164": "+46701112233"})
    assert ExcludedNumber.objects.filter(tenant=demo.tenant, e164="+46701112233").exists()
    theirs = ExcludedNumber.objects.create(tenant=exempel.tenant, e164="+46709998877")
    assert client.post(reverse("recording:delete_config", args=["excluded", theirs.pk])).status_code == 404
    assert ExcludedNumber.objects.filter(pk=theirs.pk).exists()


def test_queue_policy_and_restricted_users_departments(client, roles, demo):
    from recording.models import QueuePolicy

    queue = next(iter(demo.queues.values()))
    login(client, roles["alice"])
    client.post(reverse("recording:policy"), {"what": "queues", f"queue-{queue.pk}": "always"})
    assert QueuePolicy.objects.get(queue=queue).policy == "always"
    eva = roles["eva"]
    client.post(reverse("recording:roles"), {"role-user": eva.pk, "role-role": "departments",
                                             "role-departments": [roles["kundtjanst"].pk]})
    eva.refresh_from_db()
    assert eva.recording_role == "departments"
    assert list(eva.recording_departments.all()) == [roles["kundtjanst"]]
    login(client, roles["cecilia"])
    assert client.get(reverse("recording:roles")).status_code == 403


def test_pages_render_in_swedish(client, roles, recs):
    login(client, roles["alice"])
    client.cookies["django_language"] = "sv"
    body = client.get(reverse("recording:list"), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Samtalsinspelningar" in body and "Tillämpa filter" in body


def test_time_of_day_and_office_hours_are_the_companys_local_time(client, roles, demo):
    import zoneinfo

    zone = zoneinfo.ZoneInfo("Europe/Stockholm")
    monday_morning = make_recording(demo.tenant, roles["bob"], started_at=datetime.datetime(2026, 11, 30, 10, 0, tzinfo=zone))
    monday_evening = make_recording(demo.tenant, roles["bob"], started_at=datetime.datetime(2026, 11, 30, 20, 0, tzinfo=zone))
    saturday = make_recording(demo.tenant, roles["bob"], started_at=datetime.datetime(2026, 11, 28, 10, 0, tzinfo=zone))
    login(client, roles["alice"])

    def rows(**query):
        query = {"period": "custom", "date_from": "2026-11-28", "date_to": "2026-11-30", **query}
        return {r.pk for r in client.get(reverse("recording:list"), query).context["recordings"]}

    assert rows() == {monday_morning.pk, monday_evening.pk, saturday.pk}
    assert rows(office_hours="on") == {monday_morning.pk}
    assert rows(time_from="19:00") == {monday_evening.pk}
    assert rows(time_from="09:00", time_to="11:00") == {monday_morning.pk, saturday.pk}


def test_the_recording_web_asks_for_a_second_factor_first(client, roles):
    """Without one, even a super user is sent to set one up (the guide: two-factor login)."""
    client.force_login(roles["alice"])
    page = client.get(reverse("recording:start"))
    assert page.status_code == 302 and page["Location"].startswith("/accounts/2fa/")


def test_a_recording_on_demand_says_who_started_it_and_the_player_marks_its_paused_parts(client, roles, demo,
                                                                                          exempel, olle):
    paused = make_recording(demo.tenant, roles["bob"], long=True, reason="on_demand", requested_by=olle,
                            paused=[[6.73, 14.336]])
    login(client, roles["alice"])
    page = client.get(reverse("recording:detail", args=[paused.pk])).content.decode()
    assert "(started by Olle Operatör)" in page
    assert '<script id="waveform-paused" type="application/json">[[6.73, 14.336]]</script>' in page
    login(client, roles["carol"])  # Exempel's super user sees nothing of it
    assert client.get(reverse("recording:detail", args=[paused.pk])).status_code == 404
