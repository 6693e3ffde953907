"""Call history (user web) and the admin call log name people, never phones' SIP accounts."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from pbx.asterisk.bridge.model import Chan
from pbx.asterisk.resolve import DEVICE, Endpoint
from pbx.models import AsteriskNode
from stats.models import CallLog


@pytest.fixture
def node(db) -> AsteriskNode:
    return AsteriskNode.objects.create(name="names-node")


def logged(node, tenant, n: int, **fields) -> CallLog:
    at = datetime.datetime(2030, 3, 4, 12, n, tzinfo=datetime.UTC)
    row = CallLog.objects.create(tenant=tenant, node=node, linkedid=f"names-{tenant.pk}-{n}", started_at=at, ended_at=at,
                                 direction=fields.pop("direction", "internal"), result=fields.pop("result", "answered"),
                                 **fields)
    row.users.set([u for u in (fields.get("caller"), fields.get("answered_by")) if u])
    return row


def test_a_phone_without_a_number_is_no_caller_number_in_the_log():
    # pjsip gives a person without an extension no caller ID number: the channel shows its SIP account.
    chan = Chan("1.1", "PJSIP/t1-a69833609e-00000001", "1.1", "1.1", Endpoint(DEVICE, "t1-a69833609e", 1, 5), "t1-a69833609e",
                "Eva Ek", "t1-internal", "1001", "up", 0.0)
    assert (chan.party.number, chan.party.name, chan.party.user_id) == ("", "Eva Ek", 5)
    chan.number = "1006"
    assert chan.party.number == "1006"


def test_the_history_names_the_caller_and_the_person_called(client, node, demo, exempel, eva, bob):
    logged(node, demo.tenant, 1, caller=bob, from_number="", from_name="", to_number=eva.extension, answered_by=eva)
    logged(node, exempel.tenant, 2, from_number="", to_number=eva.extension, from_name="Hemlig")
    client.force_login(eva)
    html = client.get("/me/calls/").content.decode()
    assert bob.get_full_name() in html and eva.get_full_name() in html
    assert "t1-" not in html and "Hemlig" not in html


def test_the_history_says_where_a_forward_went_and_why(client, node, demo, eva, bob):
    logged(node, demo.tenant, 1, direction="in", from_number="+46701112233", to_number=eva.extension,
           forwarded_from=eva, forward_reason="no_answer", forwarded_to="+46705550000", result="voicemail",
           voicemail_box="1006")
    client.force_login(eva)
    client.cookies["django_language"] = "en"
    html = client.get("/me/calls/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # The way people write it, on one line even where the note wraps.
    assert 'Forwarded to <span class="nowrap">070-555 00 00</span> (Profile: no answer)' in html
    assert ">Voicemail<" in html
    client.force_login(bob)
    assert "070-555 00 00" not in client.get("/me/calls/").content.decode()  # not Bob's call


def test_the_admin_call_log_names_people_and_shows_forwards_to_its_own_company_only(client, node, demo, exempel,
                                                                                      alice, eva, bob):
    ours = logged(node, demo.tenant, 1, caller=bob, from_number="", to_number=eva.extension, forwarded_from=eva,
                  forward_reason="status", forwarded_to="Kundtjänst", queue=demo.queues["Support"],
                  queue_result="noagents", result="no_answer")
    theirs = logged(node, exempel.tenant, 2, caller=exempel.admin, from_number="", to_number="1001")
    client.force_login(alice)
    html = client.get(reverse("admin:stats_calllog_changelist")).content.decode()
    assert bob.get_full_name() in html and eva.get_full_name() in html and "Kundtjänst" in html
    assert exempel.admin.get_full_name() not in html
    assert client.get(reverse("admin:stats_calllog_change", args=[ours.pk])).status_code == 200
    assert client.get(reverse("admin:stats_calllog_change", args=[theirs.pk])).status_code in (302, 404)
