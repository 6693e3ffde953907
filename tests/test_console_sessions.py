"""An open console stops acting when what its sign-in rests on changes (portal/signals.py, portal/consumers.py).

Olle operates Demo AB's console; Alice admins Demo AB; Petra operates Exempel AB's. Each change goes through
its real trigger (allauth's password change page, the admin's save action) and commits; the close reaches
the socket through the channel layer's per-person group, as in production.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from pbx.actions import do_save_object
from pbx.demo import DEMO_PASSWORD
from tests.test_consumers import (  # noqa: F401 - the fixtures are used by name
    FakeCalls,
    communicator,
    cookie_for,
    keep_test_connection,
    live,
    memory_layer,
    nothing_more,
    open_console,
    petra,
    run,
)

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Kanelbulle-på-fredag-77"


@pytest.fixture(autouse=True)
def private_cache(settings):
    # allauth rate-limits password changes per person in the cache: every test starts afresh.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "consoles"}}
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a sync change as if its transaction committed (the test's own transaction never does)."""

    def change(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return change


def change_password_in_another_tab(user) -> Client:
    client = Client()
    client.force_login(user)
    response = client.post("/accounts/password/change/", {
        "oldpassword": DEMO_PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302, response.content.decode()[:1500]
    return client


def test_changing_the_password_closes_the_consoles_of_other_sessions_at_once(olle, committed):
    async def scenario():
        comm, _ = await open_console(olle)
        await sync_to_async(committed)(change_password_in_another_tab, olle)
        return await comm.receive_output(timeout=2)

    assert run(scenario) == {"type": "websocket.close", "code": 4401}


def test_the_browser_that_changed_the_password_reconnects_with_its_new_session(olle, committed):
    # Django cycles the session key of the tab that changed the password (update_session_auth_hash): the
    # console opened on the old key closes too, and the same browser's new cookie opens a working one.
    async def scenario():
        tab = await sync_to_async(Client)()
        await sync_to_async(tab.force_login)(olle)
        comm = communicator(tab.cookies["sessionid"].value)
        assert (await comm.connect())[0]
        await comm.receive_json_from(timeout=5)

        def change_here():
            response = tab.post("/accounts/password/change/", {
                "oldpassword": DEMO_PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
            assert response.status_code == 302

        await sync_to_async(committed)(change_here)
        closed = await comm.receive_output(timeout=2)
        again = communicator(tab.cookies["sessionid"].value)
        assert (await again.connect())[0]
        snapshot = await again.receive_json_from(timeout=5)
        await again.disconnect()
        return closed, snapshot

    closed, snapshot = run(scenario)
    assert closed == {"type": "websocket.close", "code": 4401}
    assert snapshot["type"] == "snapshot"


def test_a_console_opened_before_a_password_change_is_refused_at_its_next_command(olle, monkeypatch):
    # The change was made without any signal (a raw UPDATE): the session's auth hash still tells.
    fake = FakeCalls()
    monkeypatch.setattr("portal.consumers._calls", lambda: fake)

    def raw_password_change():
        olle.set_password(NEW_PASSWORD)
        type(olle).objects.filter(pk=olle.pk).update(password=olle.password)

    async def scenario():
        comm, _ = await open_console(olle)
        await sync_to_async(raw_password_change)()
        await comm.send_json_to({"action": "answer", "call_id": "1.1", "id": 1})
        return await comm.receive_output(timeout=2)

    assert run(scenario) == {"type": "websocket.close", "code": 4401}
    assert fake.calls == []


def admin_saves(actor, user, **changes):
    for field, value in changes.items():
        setattr(user, field, value)
    do_save_object(actor, user)


def test_disabling_a_person_closes_their_console_with_4401(olle, alice, committed):
    async def scenario():
        comm, _ = await open_console(olle)
        await sync_to_async(committed)(admin_saves, alice, olle, is_active=False)
        return await comm.receive_output(timeout=2)

    assert run(scenario) == {"type": "websocket.close", "code": 4401}


def test_removing_the_operator_role_closes_their_console_with_4403(olle, alice, committed):
    async def scenario():
        comm, _ = await open_console(olle)
        await sync_to_async(committed)(admin_saves, alice, olle, is_operator=False)
        return await comm.receive_output(timeout=2)

    assert run(scenario) == {"type": "websocket.close", "code": 4403}


def test_a_change_the_console_does_not_rest_on_leaves_it_open(olle, alice, committed):
    async def scenario():
        comm, _ = await open_console(olle)
        await sync_to_async(committed)(admin_saves, alice, olle, title="Växeltelefonist")
        await nothing_more(comm)
        await comm.disconnect()

    run(scenario)


def test_another_companys_console_is_untouched_by_a_demo_password_change(olle, petra, committed):  # noqa: F811
    async def scenario():
        demo_console, _ = await open_console(olle)
        exempel_console, _ = await open_console(petra)
        await sync_to_async(committed)(change_password_in_another_tab, olle)
        closed = await demo_console.receive_output(timeout=2)
        await nothing_more(exempel_console)
        await exempel_console.send_json_to({"action": "ping", "id": 1})
        pong = await exempel_console.receive_json_from(timeout=2)
        await exempel_console.disconnect()
        return closed, pong

    closed, pong = run(scenario)
    assert closed == {"type": "websocket.close", "code": 4401}
    assert pong == {"type": "pong", "id": 1}
