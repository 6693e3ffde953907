"""The console's websocket under the two-factor rules (portal/mfa.py, portal/consumers.py) and "My sessions".

Olle operates Demo AB's console, Petra Exempel AB's. A company's requirement and an ended session reach open
sockets through the channel layer, as in production.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.test import Client

from pbx.demo import DEMO_PASSWORD
from pbx.models import AuditLog
from portal.models import EmailCodeFactor
from tests.test_console_sessions import committed, private_cache  # noqa: F401 - fixtures, used by name
from tests.test_consumers import (  # noqa: F401 - the fixtures are used by name
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


def require_operators(tenant, value=True):
    tenant.mfa_required_operators = value
    tenant.save()


def test_an_operator_without_the_two_factor_her_company_requires_is_refused_the_console(olle, petra, demo):  # noqa: F811
    require_operators(demo.tenant)

    async def scenario():
        comm = communicator(await sync_to_async(cookie_for)(olle))
        await comm.connect()
        refused = await comm.receive_output(timeout=2)
        other, _snapshot = await open_console(petra)  # Exempel AB requires nothing
        await other.disconnect()
        return refused

    assert run(scenario) == {"type": "websocket.close", "code": 4403}


def test_with_a_second_factor_the_operator_gets_the_console(olle, demo):
    require_operators(demo.tenant)
    EmailCodeFactor.objects.create(user=olle)

    async def scenario():
        comm, snapshot = await open_console(olle)
        await comm.disconnect()
        return snapshot

    assert run(scenario)["me"]["user_id"] == olle.pk


def test_a_new_requirement_closes_the_open_consoles_of_that_company_only(olle, petra, demo, committed):  # noqa: F811
    async def scenario():
        mine, _ = await open_console(olle)
        theirs, _ = await open_console(petra)
        await sync_to_async(committed)(require_operators, demo.tenant)
        closed = await mine.receive_output(timeout=2)
        await nothing_more(theirs)
        await theirs.disconnect()
        return closed

    assert run(scenario) == {"type": "websocket.close", "code": 4403}


def test_turning_off_the_only_required_factor_closes_the_console(olle, demo, committed):  # noqa: F811
    require_operators(demo.tenant)
    EmailCodeFactor.objects.create(user=olle)
    browser = Client()
    browser.force_login(olle)
    browser.post("/accounts/reauthenticate/", {"password": DEMO_PASSWORD})

    async def scenario():
        comm, _ = await open_console(olle)
        await sync_to_async(committed)(browser.post, "/accounts/2fa/email/", {"action": "off"})
        return await comm.receive_output(timeout=2)

    assert run(scenario) == {"type": "websocket.close", "code": 4403}


def test_ending_my_other_sessions_closes_the_consoles_opened_with_them(olle, committed):  # noqa: F811
    desk, laptop = Client(), Client()
    for browser in (desk, laptop):  # allauth.usersessions records a session at login
        browser.post("/accounts/login/", {"login": olle.email, "password": DEMO_PASSWORD})

    async def scenario():
        comm = communicator(desk.cookies[django_settings.SESSION_COOKIE_NAME].value)
        assert (await comm.connect())[0]
        await comm.receive_json_from(timeout=5)
        response = await sync_to_async(committed)(laptop.post, "/accounts/sessions/", {})
        closed = await comm.receive_output(timeout=2)
        return response, closed

    response, closed = run(scenario)
    assert response.status_code == 302
    assert closed == {"type": "websocket.close", "code": 4401}
    assert desk.get("/me/").status_code == 302  # that browser is signed out too
    assert laptop.get("/me/").status_code == 200
    assert AuditLog.objects.filter(action="sessions_ended", object_id=str(olle.pk), after__count=1).exists()
