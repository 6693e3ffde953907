"""Statistics through the API: the same figures /stats/ shows for the same period (both read stats.reports and
stats.definitions), the same visibility (own calls / own queues / the company), the period in the company's
time zone, and a company key needs ``stats:read``.

Real captures of 2026-11-23 are replayed as the bridge writes them: Support was offered three calls, two
answered and one abandoned. Alice admins Demo AB, Bob is an agent, Eva a plain user; Carol admins Exempel AB
and gets nothing of Demo AB.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from pbx.models import AsteriskNode
from stats.views import AGENT_COLUMNS, DIRECTIONS
from tests.api_fixtures import api_client_for
from tests.helpers import capture_events
from tests.stats_fixtures import replay_into_db

DAY = "2026-11-23"
THE_DAY = {"from": DAY, "to": DAY}


@pytest.fixture(autouse=True)
def pushed():
    with capture_events() as captured:
        yield captured


@pytest.fixture(autouse=True)
def fresh_throttle(db):
    """No throttle budget carried over; no callback rows another test's worker thread committed."""
    from pbx.models import CallbackRequest

    cache.clear()
    CallbackRequest.objects.all().delete()


@pytest.fixture
def traffic(demo):
    node = AsteriskNode.default()
    replay_into_db("d_queue_call_answered_by_agent", demo, node, real=False)
    replay_into_db("e_queue_caller_abandon", demo, node, real=False)
    replay_into_db("queue_agent_atxfer", demo, node)
    return demo


def web(person):
    """What /stats/ shows the person for the same day (the page's own context)."""
    client = Client()
    client.force_login(person)
    response = client.get("/stats/", {"period": "range", "from": DAY, "to": DAY})
    assert response.status_code == 200
    return response.context


def get(person, figures, scopes=None, **query):
    response = api_client_for(person, scopes=scopes).get(f"/api/v1/stats/{figures}/", query)
    assert response.status_code == 200, response.json()
    return response.json()


def volumes_of(web_volumes) -> dict:
    return {direction: {"calls": figures.calls, "answered": figures.answered, "talk_s": figures.talk_s}
            for direction, (_label, figures) in zip(DIRECTIONS, web_volumes, strict=True)}


def without_unanswered(directions: dict) -> dict:
    return {d: {k: v for k, v in figures.items() if k != "unanswered"} for d, figures in directions.items()}


# ----------------------------------------------------------------------------------------------- same as /stats/


def test_queue_figures_equal_what_stats_shows_for_the_same_period(traffic, alice, carol):
    page, body = web(alice), get(alice, "queues", **THE_DAY)
    assert [(row["id"], row["figures"]) for row in body["queues"]] == [
        (row["id"], row["figures"]) for row in page["queue_rows"]]
    assert body["total"] == page["total"]
    support = next(row for row in body["queues"] if row["name"] == "Support")
    assert (support["figures"]["offered"], support["figures"]["answered"], support["figures"]["abandoned"]) == (
        3, 2, 1)
    assert body["period"] == {"kind": "range", "first": DAY, "last": DAY, "time_zone": "Europe/Stockholm",
                              "start": "2026-11-23T00:00:00+01:00", "end": "2026-11-24T00:00:00+01:00"}
    refused = api_client_for(carol).get("/api/v1/stats/queues/", {**THE_DAY, "queue": support["id"]})
    assert refused.status_code == 404


def test_agent_figures_equal_what_stats_shows_for_the_same_period(traffic, alice, bob, carol):
    page, body = web(alice), get(alice, "agents", **THE_DAY)
    shown = {row["id"]: dict(row["cells"]) for row in page["agent_rows"]}
    assert {row["id"]: {c: row["figures"][c] for c in AGENT_COLUMNS} for row in body["agents"]} == shown
    pauses = {row["id"]: row["pauses"] for row in page["agent_rows"]}
    assert {row["id"]: sorted(row["figures"]["paused_by_reason"].items()) for row in body["agents"]} == pauses
    # Every answered queue call was answered by one agent: the agents' answers add up to the queues'.
    queues = get(alice, "queues", **THE_DAY)
    assert sum(row["figures"]["answered"] for row in body["agents"]) == queues["total"]["answered"] == 2
    assert bob.pk in {row["id"] for row in body["agents"]}
    assert api_client_for(carol).get("/api/v1/stats/agents/", {**THE_DAY, "agent": bob.pk}).status_code == 404


def test_call_volumes_equal_what_stats_shows_for_the_same_period(traffic, alice, carol):
    page, body = web(alice), get(alice, "volumes", **THE_DAY)
    assert body["of"] == "company"
    assert without_unanswered(body["total"]) == volumes_of(page["volumes"])
    assert sum(figures["calls"] for figures in body["total"].values()) == 3
    people = {row["name"]: [figures.calls for figures in row["cells"]] for row in page["people"]}
    assert {row["name"]: [row["directions"][d]["calls"] for d in DIRECTIONS] for row in body["people"]} == people
    numbers = {row["name"]: [figures.calls for figures in row["cells"]] for row in page["numbers"]}
    assert {row["number"]: [row["directions"][d]["calls"] for d in DIRECTIONS] for row in body["numbers"]} == numbers
    theirs = get(carol, "volumes", **THE_DAY)
    assert sum(figures["calls"] for figures in theirs["total"].values()) == 0 and theirs["people"] == []


# ----------------------------------------------------------------------------------------------- who sees what


def test_an_agent_gets_their_queues_and_their_own_figures_as_on_stats(traffic, bob):
    page = web(bob)
    queues = get(bob, "queues", **THE_DAY)
    assert [(row["id"], row["figures"]) for row in queues["queues"]] == [
        (row["id"], row["figures"]) for row in page["queue_rows"]]
    agents = get(bob, "agents", **THE_DAY)
    assert [row["id"] for row in agents["agents"]] == [row["id"] for row in page["agent_rows"]] == [bob.pk]
    volumes = get(bob, "volumes", **THE_DAY)
    assert volumes["of"] == "person" and volumes["people"] == volumes["numbers"] == []
    assert without_unanswered(volumes["total"]) == volumes_of(page["volumes"])
    # A colleague's figures are the supervisors': 404, as if there were no such person.
    client = api_client_for(bob)
    assert client.get("/api/v1/stats/agents/", {**THE_DAY, "agent": traffic.operator.pk}).status_code == 404


def test_a_plain_user_gets_their_own_calls_only(traffic, eva):
    page = web(eva)
    queues = get(eva, "queues", **THE_DAY)
    assert queues["queues"] == [] and queues["total"] is None and page["queue_rows"] == []
    assert get(eva, "agents", **THE_DAY)["agents"] == []
    volumes = get(eva, "volumes", **THE_DAY)
    assert without_unanswered(volumes["total"]) == volumes_of(page["volumes"])
    assert sum(figures["calls"] for figures in volumes["total"].values()) == 1  # the transferred call reached her
    client = api_client_for(eva)
    assert client.get("/api/v1/stats/queues/", {"queue": traffic.queues["Support"].pk}).status_code == 404
    assert client.get("/api/v1/stats/volumes/", {"agent": traffic.agents[0].pk}).status_code == 404


def test_a_queue_or_a_person_narrows_the_figures(traffic, alice, bob):
    support = traffic.queues["Support"]
    one = get(alice, "queues", queue=support.pk, **THE_DAY)
    assert [row["id"] for row in one["queues"]] == [support.pk]
    assert one["total"] == one["queues"][0]["figures"]
    bobs = get(alice, "agents", agent=bob.pk, **THE_DAY)
    assert [row["id"] for row in bobs["agents"]] == [bob.pk]
    queue_calls = get(alice, "volumes", queue=support.pk, **THE_DAY)
    assert queue_calls["of"] == "queue" and queue_calls["people"] == []
    assert sum(figures["calls"] for figures in queue_calls["total"].values()) == 3


def test_carol_sees_her_own_company_only(traffic, carol, exempel):
    body = get(carol, "queues", **THE_DAY)
    assert {row["id"] for row in body["queues"]} == {q.pk for q in exempel.queues.values()}
    assert body["total"]["offered"] == 0
    assert get(carol, "volumes", **THE_DAY)["people"] == []
    client = api_client_for(carol)
    assert client.get("/api/v1/stats/queues/", {"queue": traffic.queues["Support"].pk}).status_code == 404
    assert client.get("/api/v1/stats/agents/", {"agent": traffic.agents[0].pk}).status_code == 404


# ----------------------------------------------------------------------------------------------- keys and periods


def test_a_company_key_needs_stats_read(traffic, alice):
    refused = api_client_for(alice, scopes=["directory:read"]).get("/api/v1/stats/queues/")
    assert refused.status_code == 403 and "stats:read" in refused.json()["detail"]
    assert get(alice, "queues", scopes=["stats:read"], **THE_DAY)["total"]["offered"] == 3


def test_today_this_week_and_this_month_are_the_companys_calendar(alice):
    today = get(alice, "queues", period="today")["period"]
    assert today["kind"] == "day" and today["first"] == today["last"]
    week = get(alice, "queues", period="week")["period"]
    assert week["kind"] == "week" and week["first"] <= today["first"] <= week["last"]
    month = get(alice, "queues", period="month")["period"]
    assert month["first"].endswith("-01") and month["first"][:7] == today["first"][:7]
    assert get(alice, "queues")["period"] == today  # no period: today


@pytest.mark.parametrize(("query", "field"), [
    ({"from": DAY}, "to"), ({"to": DAY}, "from"), ({"period": "week", **THE_DAY}, "period"),
    ({"from": DAY, "to": "2026-11-01"}, "to"), ({"from": "2025-01-01", "to": DAY}, "to"),
    ({"period": "year"}, "period"), ({"from": "2026-13-45", "to": DAY}, "from"), ({"queue": "x"}, "queue"),
])
def test_a_period_that_does_not_make_sense_is_a_400_on_its_field(alice, query, field):
    response = api_client_for(alice).get("/api/v1/stats/queues/", query)
    assert response.status_code == 400 and field in response.json()["errors"]
