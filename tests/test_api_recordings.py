"""Call recordings through the API, with the recording web's rules: each role sees exactly what the recording
web shows it, the media comes in byte ranges with the web's audit row, the evaluation and the deletion are the
web's actions, and a company key needs the recordings scopes.

Alice is Demo AB's recording super user, Bob has "My Console" (his own), Cecilia is a restricted user of the
Kundtjänst department, Eva has no access; Carol is Exempel AB's super user and must get nothing of Demo AB.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from pbx.models import AuditLog, Department, User
from portal.models import EmailCodeFactor
from recording.models import EvaluationAnswer, EvaluationChoice, EvaluationQuestion, Recording
from recording.storage import recordings_storage
from tests.api_fixtures import api_client_for
from tests.recording_fixtures import make_recording, set_recording_roles

pytestmark = pytest.mark.django_db

Role = User.RecordingRole
STOCKHOLM = zoneinfo.ZoneInfo("Europe/Stockholm")
DAY = dt.date(2026, 11, 23)
NOON = dt.datetime.combine(DAY, dt.time(12), tzinfo=STOCKHOLM)


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()


@pytest.fixture
def people(demo, alice, bob, eva, carol):
    return set_recording_roles(demo, alice, bob, eva, carol)


@pytest.fixture
def recs(demo, exempel, people, dave):
    kundtjanst = Department.objects.get(tenant=demo.tenant, name="Kundtjänst")
    forsaljning = Department.objects.get(tenant=demo.tenant, name="Försäljning")
    return {
        "bob": make_recording(demo.tenant, people["bob"], department=kundtjanst, started_at=NOON,
                              queue=demo.queues["Support"]),
        "david": make_recording(demo.tenant, people["david"], department=forsaljning, reason="on_demand",
                                started_at=NOON + dt.timedelta(hours=1)),
        "exempel": make_recording(exempel.tenant, dave, started_at=NOON),
    }


def api(person, scopes=None):
    return api_client_for(person, scopes=scopes)


def listed(client, **query) -> set[int]:
    response = client.get("/api/v1/recordings/", {"date_from": DAY, "date_to": DAY, **query})
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def web_listed(person) -> set[int]:
    """What the recording web's list shows the same person for the same day."""
    EmailCodeFactor.objects.get_or_create(user=person)
    client = Client()
    client.force_login(person)
    page = client.get("/recordings/list/", {"period": "custom", "date_from": DAY, "date_to": DAY})
    assert page.status_code == 200
    return {r.pk for r in page.context["recordings"]}


# ----------------------------------------------------------------------------------------------- access


def test_each_role_lists_exactly_what_the_recording_web_shows_it(people, recs):
    assert listed(api(people["alice"])) == web_listed(people["alice"]) == {recs["bob"].pk, recs["david"].pk}
    assert listed(api(people["bob"])) == web_listed(people["bob"]) == {recs["bob"].pk}
    assert listed(api(people["cecilia"])) == web_listed(people["cecilia"]) == {recs["bob"].pk}
    assert listed(api(people["carol"])) == web_listed(people["carol"]) == {recs["exempel"].pk}


def test_a_restricted_user_sees_only_their_departments_and_only_listens(people, recs):
    cecilia = api(people["cecilia"])
    assert cecilia.get(f"/api/v1/recordings/{recs['bob'].pk}/").status_code == 200
    for path in ("", "media/", "evaluation/"):
        assert cecilia.get(f"/api/v1/recordings/{recs['david'].pk}/{path}").status_code == 404, path
    # Deleting is the super user's, as on the recording web: refused even in her own department.
    response = cecilia.delete(f"/api/v1/recordings/{recs['bob'].pk}/", HTTP_IF_MATCH="*")
    assert response.status_code == 403
    assert Recording.objects.get(pk=recs["bob"].pk).deleted_at is None


def test_a_person_without_a_recording_role_is_refused(people, recs):
    eva = api(people["eva"])
    for path in ("/api/v1/recordings/", f"/api/v1/recordings/{recs['bob'].pk}/",
                 f"/api/v1/recordings/{recs['bob'].pk}/media/"):
        response = eva.get(path)
        assert response.status_code == 403 and "no access to call recordings" in response.json()["detail"]


def test_another_companys_recording_is_404_everywhere(people, recs):
    carol = api(people["carol"])
    bobs = f"/api/v1/recordings/{recs['bob'].pk}/"
    for method, path in (("get", ""), ("get", "media/"), ("get", "evaluation/"), ("put", "evaluation/"),
                         ("patch", "evaluation/"), ("delete", "")):
        response = getattr(carol, method)(bobs + path, {"tag": "x"}, format="json", HTTP_IF_MATCH="*")
        assert response.status_code == 404, (method, path)
    bob_rec = Recording.objects.get(pk=recs["bob"].pk)
    assert bob_rec.deleted_at is None and bob_rec.tag == ""
    assert not AuditLog.objects.filter(object_id=str(bob_rec.pk), actor=people["carol"]).exists()


def test_a_company_key_needs_the_recordings_scopes_and_has_its_admins_role(people, recs):
    without = api(people["alice"], scopes=["stats:read"])
    response = without.get("/api/v1/recordings/")
    assert response.status_code == 403 and "recordings:read" in response.json()["detail"]
    reader = api(people["alice"], scopes=["recordings:read"])
    assert listed(reader) == {recs["bob"].pk, recs["david"].pk}  # Alice is a super user
    url = f"/api/v1/recordings/{recs['david'].pk}/evaluation/"
    refused = reader.patch(url, {"tag": "offert"}, format="json", HTTP_IF_MATCH="*")
    assert refused.status_code == 403 and "recordings:write" in refused.json()["detail"]
    writer = api(people["alice"], scopes=["recordings:read", "recordings:write"])
    assert writer.patch(url, {"tag": "offert"}, format="json", HTTP_IF_MATCH="*").status_code == 200
    # The key acts with its admin's recording role: without one, nothing.
    User.objects.filter(pk=people["alice"].pk).update(recording_role=Role.NONE)
    assert writer.get("/api/v1/recordings/").status_code == 403


def test_the_browser_session_needs_the_recording_webs_second_factor(client, people, recs):
    client.force_login(people["alice"])
    response = client.get("/api/v1/recordings/")
    assert response.status_code == 403 and "two-factor" in response.json()["detail"]
    EmailCodeFactor.objects.create(user=people["alice"])
    assert client.get("/api/v1/recordings/").status_code == 200


# ----------------------------------------------------------------------------------------------- the list


def test_the_list_filters_by_period_person_queue_reason_and_status(demo, people, recs):
    alice = api(people["alice"])
    today = make_recording(demo.tenant, people["bob"], status=Recording.Status.FAILED, stored=False,
                           started_at=timezone.now())
    assert listed(alice, person=people["bob"].pk) == {recs["bob"].pk}
    assert listed(alice, queue=demo.queues["Support"].pk) == {recs["bob"].pk}
    assert listed(alice, reason="on_demand") == {recs["david"].pk}
    assert listed(alice, status="stored") == {recs["bob"].pk, recs["david"].pk}
    rows = alice.get("/api/v1/recordings/", {"period": "today"}).json()["results"]
    assert [row["id"] for row in rows] == [today.pk]
    assert rows[0]["status"] == "failed" and rows[0]["media"] is None
    # Another company's person is not a choice: a 400 on the filter, never Exempel's rows.
    refused = alice.get("/api/v1/recordings/", {"person": people["carol"].pk})
    assert refused.status_code == 400 and "person" in refused.json()["errors"]


def test_the_list_is_newest_first_in_keyset_pages(demo, people, recs):
    alice = api(people["alice"])
    first = alice.get("/api/v1/recordings/", {"date_from": DAY, "date_to": DAY, "page_size": 1}).json()
    assert [row["id"] for row in first["results"]] == [recs["david"].pk]  # an hour later than Bob's
    assert first["results"][0]["person_name"] == people["david"].display_name
    assert first["results"][0]["media"] == f"/api/v1/recordings/{recs['david'].pk}/media/"
    second = alice.get(first["next"]).json()
    assert [row["id"] for row in second["results"]] == [recs["bob"].pk]
    assert "count" not in first
    assert listed(api(people["carol"])) == {recs["exempel"].pk}


# ----------------------------------------------------------------------------------------------- the media


def test_range_requests_return_the_right_bytes_and_a_play_is_audited_once(people, recs):
    bob, rec = api(people["bob"]), recs["bob"]
    url = f"/api/v1/recordings/{rec.pk}/media/"
    with recordings_storage().open(rec.stored_path, "rb") as handle:
        stored = handle.read()
    whole = bob.get(url, HTTP_ACCEPT="audio/ogg")
    assert whole.status_code == 200 and whole["Content-Type"] == "audio/ogg"
    assert b"".join(whole.streaming_content) == stored and stored[:4] == b"OggS"
    assert whole["Accept-Ranges"] == "bytes" and whole["Content-Length"] == str(len(stored))
    part = bob.get(url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 100-199/{len(stored)}"
    assert b"".join(part.streaming_content) == stored[100:200]
    tail = bob.get(url, HTTP_RANGE="bytes=-50")
    assert tail["Content-Range"] == f"bytes {len(stored) - 50}-{len(stored) - 1}/{len(stored)}"
    assert b"".join(tail.streaming_content) == stored[-50:]
    rest = bob.get(url, HTTP_RANGE=f"bytes={len(stored) - 10}-")
    assert b"".join(rest.streaming_content) == stored[-10:]
    beyond = bob.get(url, HTTP_RANGE=f"bytes={len(stored) + 10}-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(stored)}"
    assert beyond["Content-Type"] == "application/problem+json"
    plays = AuditLog.objects.filter(action="recording.played", object_id=str(rec.pk), actor=people["bob"])
    assert plays.count() == 1  # the whole-file request; the seeks are no new plays
    theirs = api(people["carol"]).get(url, HTTP_RANGE="bytes=0-9")
    assert theirs.status_code == 404 and theirs["Content-Type"] == "application/problem+json"


def test_if_range_keeps_the_range_only_for_the_same_file(people, recs):
    alice, rec = api(people["alice"]), recs["bob"]
    url = f"/api/v1/recordings/{rec.pk}/media/"
    etag = alice.head(url)["ETag"]
    same = alice.get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE=etag)
    assert same.status_code == 206 and len(b"".join(same.streaming_content)) == 10
    changed = alice.get(url, HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE='"another-version"')
    assert changed.status_code == 200 and len(b"".join(changed.streaming_content)) == rec.stored_size
    # The HEAD was no play; the whole file sent for a stale If-Range was one.
    assert AuditLog.objects.filter(action="recording.played", object_id=str(rec.pk)).count() == 1


def test_the_media_of_a_recording_not_yet_stored_is_404(demo, people):
    waiting = make_recording(demo.tenant, people["bob"], stored=False)
    assert api(people["bob"]).get(f"/api/v1/recordings/{waiting.pk}/media/").status_code == 404


# ----------------------------------------------------------------------------------------------- evaluation


@pytest.fixture
def form(demo, exempel):
    return {
        "sale": EvaluationChoice.objects.create(tenant=demo.tenant, kind="result", name="Sale"),
        "happy": EvaluationChoice.objects.create(tenant=demo.tenant, kind="response", name="Happy"),
        "theirs": EvaluationChoice.objects.create(tenant=exempel.tenant, kind="result", name="Theirs"),
        "greeted": EvaluationQuestion.objects.create(tenant=demo.tenant, text="Greeted the customer?", position=1),
        "followed": EvaluationQuestion.objects.create(tenant=demo.tenant, text="Offered a follow-up?", position=2),
        "their_question": EvaluationQuestion.objects.create(tenant=exempel.tenant, text="Theirs?"),
    }


def test_an_evaluation_is_saved_through_the_recording_webs_action_with_if_match(people, recs, form):
    bob, rec = api(people["bob"]), recs["bob"]
    url = f"/api/v1/recordings/{rec.pk}/evaluation/"
    read = bob.get(url)
    assert read.json()["answers"] == [
        {"question": form["greeted"].pk, "text": "Greeted the customer?", "answer": None},
        {"question": form["followed"].pk, "text": "Offered a follow-up?", "answer": None}]
    body = {"call_result": form["sale"].pk, "customer_response": form["happy"].pk, "flag": "blue", "tag": "offert",
            "notes": "Bra samtal", "answers": [{"question": form["greeted"].pk, "answer": "yes"},
                                               {"question": form["followed"].pk, "answer": "no"}]}
    assert bob.put(url, body, format="json").status_code == 428
    assert bob.put(url, body, format="json", HTTP_IF_MATCH='"stale"').status_code == 412
    saved = bob.put(url, body, format="json", HTTP_IF_MATCH=read["ETag"])
    assert saved.status_code == 200 and saved.json()["score"] == 50
    rec.refresh_from_db()
    assert (rec.call_result, rec.customer_response, rec.flag, rec.tag, rec.notes, rec.score) == (
        form["sale"], form["happy"], "blue", "offert", "Bra samtal", 50)
    assert AuditLog.objects.filter(action="recording.evaluated", object_id=str(rec.pk), actor=people["bob"]).exists()
    # The ETag read before the change no longer fits: nobody overwrites Bob's evaluation unknowingly.
    assert bob.patch(url, {"tag": "x"}, format="json", HTTP_IF_MATCH=read["ETag"]).status_code == 412
    # PATCH changes what it names and keeps the rest.
    patched = bob.patch(url, {"tag": "uppföljning", "answers": [{"question": form["followed"].pk, "answer": "yes"}]},
                        format="json", HTTP_IF_MATCH=saved["ETag"])
    assert patched.status_code == 200
    assert (patched.json()["tag"], patched.json()["flag"], patched.json()["score"]) == ("uppföljning", "blue", 100)
    assert EvaluationAnswer.objects.filter(recording=rec).count() == 2
    carol = api(people["carol"])
    assert carol.get(url).status_code == 404
    assert carol.patch(url, {"tag": "x"}, format="json", HTTP_IF_MATCH="*").status_code == 404


def test_an_evaluation_takes_only_the_companys_choices_and_questions(people, recs, form):
    bob, rec = api(people["bob"]), recs["bob"]
    url = f"/api/v1/recordings/{rec.pk}/evaluation/"
    wrong_kind = bob.patch(url, {"call_result": form["happy"].pk}, format="json", HTTP_IF_MATCH="*")
    assert wrong_kind.status_code == 400 and "call_result" in wrong_kind.json()["errors"]
    theirs = bob.patch(url, {"call_result": form["theirs"].pk}, format="json", HTTP_IF_MATCH="*")
    assert theirs.status_code == 400 and "call_result" in theirs.json()["errors"]
    their_question = bob.patch(url, {"answers": [{"question": form["their_question"].pk, "answer": "yes"}]},
                               format="json", HTTP_IF_MATCH="*")
    assert their_question.status_code == 400 and "answers" in their_question.json()["errors"]
    rec.refresh_from_db()
    assert rec.call_result is None and not EvaluationAnswer.objects.filter(recording=rec).exists()


# ----------------------------------------------------------------------------------------------- deletion


def test_only_a_super_user_deletes_with_if_match_and_it_is_audited(people, recs):
    rec = recs["bob"]
    url = f"/api/v1/recordings/{rec.pk}/"
    refused = api(people["bob"]).delete(url, HTTP_IF_MATCH="*")
    assert refused.status_code == 403 and "super user" in refused.json()["detail"]
    assert api(people["carol"]).delete(url, HTTP_IF_MATCH="*").status_code == 404  # Exempel's super user
    alice = api(people["alice"])
    etag = alice.get(url)["ETag"]
    assert alice.delete(url).status_code == 428
    assert alice.delete(url, HTTP_IF_MATCH=etag).status_code == 204
    assert Recording.objects.get(pk=rec.pk).deleted_at is not None
    assert AuditLog.objects.filter(action="recording.deleted", object_id=str(rec.pk), actor=people["alice"]).exists()
    assert alice.get(url).status_code == 404 and rec.pk not in listed(alice)


def test_the_admins_key_form_offers_the_recordings_scopes(client, alice):
    client.force_login(alice)
    page = client.get("/admin/api/apikey/add/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="recordings:read"' in html and 'value="recordings:write"' in html
