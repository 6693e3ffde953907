"""The user web's "Phone codes" page: the codes that apply to the signed-in person, in their language, and
nothing of another company."""

from __future__ import annotations

import pytest
from django.test import Client

from pbx.models import PresenceStatus, Prompt, Queue, QueueAgent, User
from tests.test_user_web import compiled_swedish, page  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db
URL = "/me/phone-codes/"


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_stranger_is_asked_to_log_in(client):
    assert client.get(URL).status_code == 302


def test_the_page_is_in_the_user_webs_navigation(eva):
    text = page(as_user(eva).get("/me/"))
    assert f'href="{URL}"' in text


def test_an_agent_sees_the_codes_of_their_own_queues_and_their_companys_statuses(bob, demo):
    PresenceStatus.objects.filter(tenant=demo.tenant, name="Lunch").update(default_minutes=45)
    text = page(as_user(bob).get(URL))
    for queue in (demo.queues["Support"], demo.queues["Sales"]):
        assert f"*45{queue.extension}" in text and f"*46{queue.extension}" in text and f"*47{queue.extension}" in text
    for status in PresenceStatus.objects.filter(tenant=demo.tenant):
        assert f"*20{status.code}" in text and status.name in text
    assert "Ends after 45 minutes" in text and "Ends when the working day ends" in text
    assert "*21" in text and "<kbd>*9</kbd>" in text and "<kbd>*7</kbd>" in text and "#1" in text
    assert "*99" not in text  # prompts by phone are for company admins


def test_a_user_who_is_no_agent_gets_no_queue_codes_and_no_recording_keys(eva):
    User.objects.filter(pk=eva.pk).update(recording_role=User.RecordingRole.NONE)
    text = page(as_user(eva).get(URL))
    assert "*45" not in text and "*46" not in text and "*47" not in text
    assert "<kbd>*9</kbd>" not in text and "<kbd>*7</kbd>" not in text and "*20" in text


def test_a_company_admin_sees_the_prompts_to_record(alice, demo):
    text = page(as_user(alice).get(URL))
    for prompt in Prompt.objects.filter(tenant=demo.tenant):
        assert f"*99{prompt.pk}" in text and prompt.name in text


def test_nothing_of_another_company_shows(bob, demo, exempel):
    own = Queue.objects.create(tenant=exempel.tenant, name="Exempels kundtjänst", extension="288")
    QueueAgent.objects.create(tenant=exempel.tenant, queue=own, user=exempel.agents[0])
    PresenceStatus.objects.create(tenant=exempel.tenant, name="Exempels fikapaus", code=77)
    text = page(as_user(bob).get(URL))
    assert "*45288" not in text and "Exempels kundtjänst" not in text
    assert "*2077" not in text and "Exempels fikapaus" not in text
    theirs = page(as_user(exempel.agents[0]).get(URL))
    assert "*45288" in theirs and "*2077" in theirs and "Exempels fikapaus" in theirs


def test_the_page_speaks_english_and_swedish(bob, compiled_swedish):  # noqa: F811
    client = as_user(bob)
    english = page(client.get(URL))
    assert "Phone codes" in english and "Log in to all my queues" in english and "During a call" in english
    client.post("/i18n/setlang/", {"language": "sv", "next": URL})
    swedish = page(client.get(URL))
    assert '<html lang="sv">' in swedish
    for words in ("Telefonkoder", "Logga in i alla mina köer", "Under ett samtal", "Ta bort min hänvisning"):
        assert words in swedish
