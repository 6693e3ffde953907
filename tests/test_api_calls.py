"""Live calls through the API, end to end: an HTTP request → the console's own action → the control message →
the event bridge → AMI → the fake Asterisk → events → the live state the API lists. The world and the running
bridge are tests/test_call_control.py's; requests run in the actions' sync thread, as a web worker would."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from tests.api_fixtures import api_client_for
from tests.test_call_control import (  # noqa: F401 - fixtures
    audit,
    default_node,
    no_members,
    pbx,
    pushed,
    test_connection,
    worlds,
)

_clients: dict[int, object] = {}


async def api(user, method, path, data=None, **headers):
    """A request with the person's token (one token per person and test: idempotency keys are per key)."""

    def run():
        if user.pk not in _clients:
            _clients[user.pk] = api_client_for(user)
        return getattr(_clients[user.pk], method)(path, data, format="json", **headers)

    return await sync_to_async(run)()


@pytest.fixture(autouse=True)
def fresh_clients():
    _clients.clear()


async def test_an_operator_lists_waiting_callers_and_answers_one_through_the_api(pbx, olle, carol):  # noqa: F811
    no_members(pbx.fake)
    await pbx.queue_caller("+46701000001")
    second = await pbx.queue_caller("+46701000002")
    listed = await api(olle, "get", "/api/v1/calls/live/")
    assert listed.status_code == 200
    waiting = {c["id"]: c for c in listed.json()}
    assert waiting[second["id"]]["waiting"] is True
    response = await api(olle, "post", f"/api/v1/calls/live/{second['id']}/answer/")
    assert response.status_code == 200, response.json()
    (redirect,) = pbx.sent("Redirect")
    assert redirect.get("Channel") == second["parties"][0]["channel"]
    assert (redirect.get("Context"), redirect.get("Exten")) == (f"t{pbx.t}-agents", str(olle.pk))
    (row,) = await audit(action="call_answer_waiting")
    assert row.actor_id == olle.pk
    # Exempel's admin neither sees nor touches Demo's call.
    assert second["id"] not in {c["id"] for c in (await api(carol, "get", "/api/v1/calls/live/")).json()}
    assert (await api(carol, "post", f"/api/v1/calls/live/{second['id']}/hangup/")).status_code == 404


async def test_a_blind_transfer_through_the_api_happens_once_per_idempotency_key(pbx, olle, bob):  # noqa: F811
    call = await pbx.talking_with(olle)
    path = f"/api/v1/calls/live/{call['id']}/transfer/"
    first = await api(olle, "post", path, {"target": bob.extension}, HTTP_IDEMPOTENCY_KEY="crm-42")
    again = await api(olle, "post", path, {"target": bob.extension}, HTTP_IDEMPOTENCY_KEY="crm-42")
    assert first.status_code == again.status_code == 200, first.json()
    assert again["Idempotent-Replayed"] == "true"
    (redirect,) = pbx.sent("Redirect")
    assert (redirect.get("Context"), redirect.get("Exten")) == (f"t{pbx.t}-forward", bob.extension)
    await pbx.answer(bob)
    await pbx.wait_call(call["id"], lambda c: any(p.get("user_id") == bob.pk and p["state"] == "up"
                                                  for p in c["parties"]))
    assert len(await audit(action="call_transfer")) == 1


async def test_a_plain_user_cannot_hang_up_a_call_they_are_not_on(pbx, olle, eva):  # noqa: F811
    call = await pbx.talking_with(olle)
    response = await api(eva, "post", f"/api/v1/calls/live/{call['id']}/hangup/")
    # Eva sees only her own calls: somebody else's reads as gone.
    assert response.status_code in (403, 404) and response["Content-Type"] == "application/problem+json"
    assert not pbx.sent("Hangup")


async def test_recording_on_demand_through_the_api_takes_a_licence_and_another_company_gets_404(pbx, olle, bob,  # noqa: F811
                                                                                                carol):
    from recording.models import Recording
    from tests.test_call_control import in_pool, set_licences

    await set_licences(pbx, 1)
    call = await pbx.talking_with(bob)
    path = f"/api/v1/calls/live/{call['id']}/record/"
    assert (await api(carol, "post", path, {"action": "start"})).status_code == 404  # Exempel's admin
    assert pbx.sent("MixMonitor") == [] and in_pool(pbx) == 0

    response = await api(olle, "post", path, {"action": "start"})
    assert response.status_code == 200 and response.json()["recording"] == "start"
    assert in_pool(pbx) == 1
    (row,) = await sync_to_async(lambda: list(Recording.objects.all()))()
    assert (row.reason, row.user_id, row.requested_by_id) == ("on_demand", bob.pk, olle.pk)
    await pbx.wait_call(call["id"], lambda c: c["recording"])
    assert (await api(carol, "post", path, {"action": "stop"})).status_code == 404
    assert (await api(olle, "post", path, {"action": "stop"})).status_code == 200
    assert in_pool(pbx) == 0


async def test_listen_in_through_the_api_is_refused_when_the_pool_is_full_and_404_for_another_company(
        pbx, olle, bob, eva, carol):  # noqa: F811
    from tests.test_call_control import set_licences

    await set_licences(pbx, 1)
    call = await pbx.talking_with(bob)
    other = await pbx.talking_with(eva, "+46701000031")
    path = f"/api/v1/calls/live/{call['id']}/listen/"
    assert (await api(carol, "post", path, {"mode": "listen"})).status_code == 404
    await api(olle, "post", f"/api/v1/calls/live/{other['id']}/record/", {"action": "start"})  # the only licence
    refused = await api(olle, "post", path, {"mode": "listen"})
    assert refused.status_code == 403 and "licen" in refused.json()["detail"].lower()  # an action's refusal
    assert pbx.sent("Originate") == []
