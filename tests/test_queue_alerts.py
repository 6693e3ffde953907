"""``Queue.notify_last_agent_logout``: the last agent logging out of a queue that callers can still reach tells
the queue's contacts (e-mail and SMS), once per such logout, whichever way the logout came (console, admin,
user web, phone: they all run ``do_queue_logout``)."""

from __future__ import annotations

import datetime as dt
import urllib.parse
import zoneinfo

import httpx
import pytest

from pbx.actions import do_queue_login, do_queue_logout, do_set_schedule_override
from pbx.models import QueueAgent, Schedule
from pbx.notifications.gateways import ElksGateway, use_gateway
from pbx.notifications.models import Notification
from pbx.notifications.queues import queue_can_receive_calls
from portal.consumers import run_command


@pytest.fixture
def texts():
    seen: list[dict] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append({k: v[0] for k, v in urllib.parse.parse_qs(request.content.decode()).items()})
        return httpx.Response(200, json={"id": "s1", "status": "created"})

    with use_gateway(ElksGateway("u", "p", transport=httpx.MockTransport(answer))):
        yield seen


def with_contacts(queue, email="teamlead@demo.example", sms="+46705550199"):
    queue.notify_last_agent_logout = email
    queue.notify_last_agent_logout_sms = sms
    queue.save(update_fields=["notify_last_agent_logout", "notify_last_agent_logout_sms"])
    return queue


def logged_in(queue) -> list[QueueAgent]:
    return list(QueueAgent.objects.filter(queue=queue, logged_in=True).select_related("user", "queue"))


def test_the_last_agent_out_of_an_open_queue_tells_its_contacts_once(demo, mailoutbox, texts,
                                                                     django_capture_on_commit_callbacks):
    support = with_contacts(demo.queues["Support"])  # its own number, no opening hours: always open
    agents = logged_in(support)
    assert len(agents) == 3
    with django_capture_on_commit_callbacks(execute=True):
        for agent in agents[:-1]:
            do_queue_logout(agent.user, agent)
    assert mailoutbox == [] and texts == []
    last = agents[-1]
    with django_capture_on_commit_callbacks(execute=True):
        do_queue_logout(last.user, last)
        do_queue_logout(last.user, last)  # already out: no change, nothing more to tell
    (mail,) = mailoutbox
    assert mail.to == ["teamlead@demo.example"]
    assert mail.subject == "Ingen agent är inloggad i Support"  # Demo AB speaks Swedish
    assert f"{last.user.display_name} var den sista agenten i Support" in mail.body
    (sms,) = texts
    assert sms["to"] == "+46705550199" and "Support" in sms["message"] and last.user.display_name in sms["message"]
    rows = Notification.objects.filter(tenant=demo.tenant, topic="queue_unstaffed")
    assert sorted(rows.values_list("channel", "status")) == [("email", "sent"), ("sms", "sent")]

    # In again and out again: a new moment without agents, told again.
    with django_capture_on_commit_callbacks(execute=True):
        do_queue_login(last.user, last)
        do_queue_logout(last.user, last)
    assert len(mailoutbox) == 2 and len(texts) == 2


def test_the_console_and_the_admin_log_out_through_the_same_action(demo, alice, client, mailoutbox, texts,
                                                                   django_capture_on_commit_callbacks):
    support = with_contacts(demo.queues["Support"], sms="")
    first, second, third = logged_in(support)
    with django_capture_on_commit_callbacks(execute=True):
        ok, _message = run_command(first.user.pk, "en", "queue_logout", {"agent_id": first.pk})
    assert not ok  # an agent without the console cannot use it...
    do_queue_logout(first.user, first)  # ...and logs out in the user web instead
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/pbx/queueagent/", {
            "action": "log_out", "_selected_action": [str(second.pk), str(third.pk)]})
    assert response.status_code == 302
    assert [m.subject for m in mailoutbox] == ["Ingen agent är inloggad i Support"]
    assert texts == []


def test_a_queue_closed_by_its_opening_hours_is_not_alerted(demo, alice, mailoutbox, texts,
                                                            django_capture_on_commit_callbacks):
    sales = with_contacts(demo.queues["Sales"])  # reached only through the main number's menu, office hours
    office = Schedule.objects.get(tenant=demo.tenant, name="Kontorstid")
    do_set_schedule_override(alice, office, "closed")
    assert not queue_can_receive_calls(sales)
    with django_capture_on_commit_callbacks(execute=True):
        for agent in logged_in(sales):
            do_queue_logout(agent.user, agent)
    assert mailoutbox == [] and texts == []

    do_set_schedule_override(alice, office, "open")
    assert queue_can_receive_calls(sales)
    agent = QueueAgent.objects.filter(queue=sales).select_related("user").first()
    with django_capture_on_commit_callbacks(execute=True):
        do_queue_login(agent.user, agent)
        do_queue_logout(agent.user, agent)
    assert [m.subject for m in mailoutbox] == ["Ingen agent är inloggad i Sales"]


def test_opening_hours_decide_by_the_numbers_that_lead_to_the_queue(demo):
    sales = demo.queues["Sales"]
    office = Schedule.objects.get(tenant=demo.tenant, name="Kontorstid")
    office.override = ""
    office.save()
    stockholm = zoneinfo.ZoneInfo("Europe/Stockholm")
    monday_ten = dt.datetime(2026, 3, 2, 10, 0, tzinfo=stockholm)
    monday_night = dt.datetime(2026, 3, 2, 22, 0, tzinfo=stockholm)
    assert queue_can_receive_calls(sales, monday_ten)
    assert not queue_can_receive_calls(sales, monday_night)
    assert queue_can_receive_calls(demo.queues["Support"], monday_night)  # its own number has no hours


def test_a_queue_without_contacts_tells_nobody_and_english_companies_read_english(
        demo, mailoutbox, django_capture_on_commit_callbacks):
    support = demo.queues["Support"]
    with django_capture_on_commit_callbacks(execute=True):
        for agent in logged_in(support):
            do_queue_logout(agent.user, agent)
    assert mailoutbox == []
    demo.tenant.language = "en"
    demo.tenant.save(update_fields=["language"])
    with_contacts(support, sms="")
    agent = QueueAgent.objects.filter(queue=support).select_related("user").first()
    with django_capture_on_commit_callbacks(execute=True):
        do_queue_login(agent.user, agent)
        do_queue_logout(agent.user, agent)
    (mail,) = mailoutbox
    assert mail.subject == "No agent is logged in to Support"
    assert "The queue is open: callers now reach it with nobody to answer them." in mail.body


def test_another_companys_queue_contacts_hear_nothing_of_demo(demo, exempel, mailoutbox,
                                                              django_capture_on_commit_callbacks):
    with_contacts(exempel.queues["Support"], email="lead@exempel.example", sms="")
    with_contacts(demo.queues["Support"], email="teamlead@demo.example", sms="")
    with django_capture_on_commit_callbacks(execute=True):
        for agent in logged_in(demo.queues["Support"]):
            do_queue_logout(agent.user, agent)
    assert [m.to for m in mailoutbox] == [["teamlead@demo.example"]]
