"""The recording web's "Licences in use" page: Asterisk's count of the company's one pool, the recordings running
now and the live listen-ins, for recording super users only.

End to end through the fake Asterisk and the running event bridge of tests/test_call_control.py: Olle (Demo AB's
operator) listens in on Bob's call while Eva's call is recorded on demand; at Exempel AB Carol listens in on
Dave's call. Alice (Demo's recording super user) sees Demo's, Carol (Exempel's) sees Exempel's, and neither sees
anything of the other, although Asterisk's CoreShowChannels answer lists every company's channels. Bob (own
recordings), Cecilia (restricted to a department) and Eva (no role) get 403, as on the other settings pages.
"""
# ruff: noqa: F811 - the fixtures of tests/test_call_control.py are imported and then taken by name

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from pbx import audit_text
from pbx.actions import calls as call_actions
from pbx.asterisk import licences
from pbx.models import AuditLog, Tenant, User
from recording.models import Recording
from tests.fake_asterisk.demo_traffic import TRUNK
from tests.recording_fixtures import make_recording, set_recording_roles
from tests.test_call_control import (  # noqa: F401 - fixtures
    act,
    default_node,
    in_pool,
    pbx,
    pushed,
    set_licences,
    test_connection,
    until,
    worlds,
)

Role = User.RecordingRole


# ----------------------------------------------------------------------------------------------- the people


@pytest.fixture
def roles(demo, exempel, alice, bob, eva, carol):
    return set_recording_roles(demo, alice, bob, eva, carol)


async def page(client, user, method="get", path=None, data=None, **headers):
    """A request of ``user`` (signed in with a second factor, as the recording web asks), in the actions' thread
    on the test's transaction, as a web worker would run it."""

    def run():
        from portal.models import EmailCodeFactor

        EmailCodeFactor.objects.get_or_create(user=user)
        client.force_login(user)
        return getattr(client, method)(path or reverse("recording:licences"), data or {}, **headers)

    return await sync_to_async(run)()


# ----------------------------------------------------------------------------------------------- Exempel AB's calls


async def set_exempel_licences(pbx, worlds, count: int) -> None:
    exempel_id = worlds[1].tenant_id
    await sync_to_async(lambda: Tenant.objects.filter(pk=exempel_id).update(max_recording_channels=count))()
    pbx.fake.state.astdb[f"/pbx/t{exempel_id}/rec/lic"] = str(count)


def ringing(pbx, world, user):
    endpoints = world.people[user.pk].endpoints
    return [c for c in pbx.fake.state.channels.values()
            if c.state == 5 and c.endpoint and c.endpoint.split("/", 1)[1] in endpoints]


async def answer(pbx, world, user):
    await until(lambda: ringing(pbx, world, user))
    pbx.fake.answer(ringing(pbx, world, user)[0])


async def exempel_call(pbx, worlds, user, number: str) -> str:
    """An outside caller rings an Exempel AB person's direct number and the person answers; the call's id."""
    world = worlds[1]
    placed = pbx.fake.place_call(TRUNK, world.people[user.pk].direct_number, context=f"t{world.tenant_id}-inbound",
                                 caller_num=number)
    await answer(pbx, world, user)
    call_id = placed.caller.linkedid

    async def up():
        calls = (await pbx.snapshot(world.tenant_id))["calls"]
        return any(c["id"] == call_id and c["state"] == "up" for c in calls)

    from tests.test_call_control import until_async

    await until_async(up)
    return call_id


def spying(pbx, user_endpoints) -> list:
    """The listeners' channels in ChanSpy now (as Asterisk runs them)."""
    return [c for c in pbx.fake.state.channels.values() if c.application == "ChanSpy"
            and c.name.split("/", 1)[1].rsplit("-", 1)[0] in user_endpoints]


async def olle_listens_to_bob_and_eva_is_recorded(pbx, olle, bob, eva, mode="whisper"):
    await set_licences(pbx, 3)
    bobs_call = await pbx.talking_with(bob, "+46701000021")
    evas_call = await pbx.talking_with(eva, "+46701000022")
    await act(call_actions.do_record_call, olle, evas_call["id"], "start")  # on demand, by Olle
    await act(call_actions.do_listen_in, olle, bobs_call["id"], mode)
    await pbx.answer(olle)
    await until(lambda: spying(pbx, pbx.endpoints(olle)))
    return bobs_call, evas_call


async def carol_listens_to_dave(pbx, worlds, carol, dave):
    await set_exempel_licences(pbx, worlds, 2)
    call_id = await exempel_call(pbx, worlds, dave, "+46701000029")
    await act(call_actions.do_listen_in, carol, call_id, "listen")
    await answer(pbx, worlds[1], carol)
    await until(lambda: spying(pbx, worlds[1].people[carol.pk].endpoints))
    return call_id


# ----------------------------------------------------------------------------------------------- the page


async def test_a_super_user_sees_the_pool_the_running_recording_and_the_listen_in_by_name(
        pbx, worlds, client, roles, olle, bob, eva, carol, dave):
    await olle_listens_to_bob_and_eva_is_recorded(pbx, olle, bob, eva)
    await carol_listens_to_dave(pbx, worlds, carol, dave)

    response = await page(client, roles["alice"])
    assert response.status_code == 200
    pool = response.context["pool"]
    # Asterisk's own count of Demo's pool: Eva's recording and Olle's listen-in, out of Asterisk's limit.
    assert (pool.reachable, pool.in_use, pool.limit, pool.free) == (True, in_pool(pbx), 3, 1) and pool.in_use == 2
    (listen_in,) = pool.listen_ins  # Carol's listen-in at Exempel AB is not Demo's
    assert (listen_in.listener, listen_in.person, listen_in.mode) == (olle, bob, "whisper")
    assert listen_in.other_number == "+46701000021" and listen_in.device.user_id == olle.pk
    (running,) = response.context["running"]
    assert (running.user_id, running.requested_by_id, running.reason) == (eva.pk, olle.pk, "on_demand")
    assert running.other_number == "+46701000022" and not running.gone_in_asterisk
    body = response.content.decode()
    assert "2 of 3 licences in use" in body
    for shown in (olle.display_name, bob.display_name, eva.display_name, f"On demand, by {olle.display_name}",
                  "Whisper", listen_in.channel):
        assert shown in body
    exempel_prefix = f"PJSIP/t{worlds[1].tenant_id}-"
    assert exempel_prefix not in body and carol.display_name not in body and dave.display_name not in body

    # Exempel AB's super user: her own listen-in and pool, nothing of Demo's.
    response = await page(client, roles["carol"])
    pool = response.context["pool"]
    (listen_in,) = pool.listen_ins
    assert (listen_in.listener, listen_in.person, listen_in.mode) == (carol, dave, "listen")
    assert (pool.in_use, pool.limit) == (1, 2) and response.context["running"] == []
    body = response.content.decode()
    assert f"PJSIP/t{pbx.t}-" not in body
    for demo_person in (olle, bob, eva):
        assert demo_person.display_name not in body


async def test_a_recording_the_bridge_has_not_closed_is_marked_as_ended_in_asterisk(pbx, client, roles, demo, bob):
    await set_licences(pbx, 2)
    stale = await sync_to_async(make_recording)(
        demo.tenant, bob, stored=False, status=Recording.Status.RECORDING, ended_at=None,
        duration_s=None, uniqueid="1700000000.1", reason=Recording.Reason.DEPARTMENT)
    response = await page(client, roles["alice"])
    (running,) = response.context["running"]
    assert running.pk == stale.pk and running.gone_in_asterisk
    assert "Ended in Asterisk, not closed yet" in response.content.decode()
    assert "Automatic: Department policy" in response.content.decode()


async def test_a_super_user_ends_a_listen_in_and_it_is_audited(pbx, worlds, client, roles, olle, bob, eva, carol,
                                                              dave):
    bobs_call, _evas_call = await olle_listens_to_bob_and_eva_is_recorded(pbx, olle, bob, eva, mode="barge")
    await carol_listens_to_dave(pbx, worlds, carol, dave)
    (olles,) = spying(pbx, pbx.endpoints(olle))
    (carols,) = spying(pbx, worlds[1].people[carol.pk].endpoints)
    end = reverse("recording:end_listen_in")

    # Another company's listener: 404 for either company, and both listen-ins go on.
    assert (await page(client, roles["carol"], "post", end, {"channel": olles.name})).status_code == 404
    assert (await page(client, roles["alice"], "post", end, {"channel": carols.name})).status_code == 404
    assert pbx.sent("Hangup") == [] and olles.uniqueid in pbx.fake.state.channels

    response = await page(client, roles["alice"], "post", end, {"channel": olles.name})
    assert response.status_code == 302 and response["Location"] == reverse("recording:licences")
    (hangup,) = pbx.sent("Hangup")
    assert hangup.get("Channel") == olles.name
    await until(lambda: olles.uniqueid not in pbx.fake.state.channels)
    await until(lambda: in_pool(pbx) == 1)  # only Eva's recording holds a licence now
    assert carols.uniqueid in pbx.fake.state.channels
    (row,) = await sync_to_async(lambda: list(AuditLog.objects.filter(action="call_listen_end")
                                              .select_related("actor")))()
    assert (row.tenant_id, row.actor_id, row.object_type) == (pbx.t, roles["alice"].pk, "call")
    assert (row.after["channel"], row.after["mode"], row.after["listener_id"]) == (olles.name, "barge", olle.pk)
    assert row.object_id == bobs_call["id"]
    caller = bobs_call["caller"].get("name") or bobs_call["caller"]["number"]  # the call as the console names it
    assert audit_text.sentence(row) == f"{roles['alice'].display_name} ended a listen-in on a call from {caller}."

    response = await page(client, roles["alice"])
    assert response.context["pool"].listen_ins == [] and response.context["pool"].in_use == 1
    # Ended meanwhile: the super user is told, nothing is hung up.
    response = await page(client, roles["alice"], "post", end, {"channel": olles.name}, follow=True)
    assert "That listen-in has already ended." in response.content.decode()
    assert len(pbx.sent("Hangup")) == 1


async def test_only_super_users_see_or_end_listen_ins(pbx, client, roles, olle, bob, eva):
    await olle_listens_to_bob_and_eva_is_recorded(pbx, olle, bob, eva)
    (olles,) = spying(pbx, pbx.endpoints(olle))
    for name in ("bob", "cecilia", "eva"):
        assert (await page(client, roles[name])).status_code == 403
        end = await page(client, roles[name], "post", reverse("recording:end_listen_in"), {"channel": olles.name})
        assert end.status_code == 403
    assert pbx.sent("Hangup") == [] and olles.uniqueid in pbx.fake.state.channels
    await sync_to_async(client.logout)()
    response = await sync_to_async(client.get)(reverse("recording:licences"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


async def test_without_asterisk_the_page_says_so_and_lists_what_the_database_knows(pbx, client, roles, olle, bob,
                                                                                   eva, settings):
    await olle_listens_to_bob_and_eva_is_recorded(pbx, olle, bob, eva)
    for server in pbx.bridge.controls:  # no bridge takes the command
        await server.stop()
    settings.ASTERISK_CONTROL_TIMEOUT = 0.3
    response = await page(client, roles["alice"])
    assert response.status_code == 200
    pool = response.context["pool"]
    assert (pool.reachable, pool.in_use, pool.limit, pool.listen_ins) == (False, None, 3, [])
    (running,) = response.context["running"]
    assert running.user_id == eva.pk and not running.gone_in_asterisk
    body = response.content.decode()
    assert 'id="asterisk-unreachable"' in body and eva.display_name in body
    assert "Your company has 3 licences." in body


async def test_the_page_reads_in_swedish(pbx, client, roles, olle, bob, eva):
    await olle_listens_to_bob_and_eva_is_recorded(pbx, olle, bob, eva, mode="listen")
    client.cookies["django_language"] = "sv"
    body = (await page(client, roles["alice"], HTTP_ACCEPT_LANGUAGE="sv")).content.decode()
    for words in ("Licenser som används", "2 av 3 licenser används", "Medlyssningar nu", "Lyssna",
                  f"På begäran, av {olle.display_name}", "Avsluta"):
        assert words in body


# ----------------------------------------------------------------------------------------------- the AMI answer


def channel(name, *, app="", data="", linkedid="", uniqueid="", duration="00:00:05", connected=("", "")):
    """One CoreShowChannel item as Asterisk 22 writes it (manager.c, m_core_actions-005)."""
    return {"Event": "CoreShowChannel", "Channel": name, "ChannelState": "6", "ChannelStateDesc": "Up",
            "CallerIDNum": "1001", "CallerIDName": "listen", "ConnectedLineNum": connected[0] or "<unknown>",
            "ConnectedLineName": connected[1] or "<unknown>", "Language": "sv", "AccountCode": "",
            "Context": "pbx-listen", "Exten": "s", "Priority": "17", "Uniqueid": uniqueid or f"{name}.u",
            "Linkedid": linkedid or uniqueid or f"{name}.u", "Application": app, "ApplicationData": data,
            "Duration": duration, "BridgeId": ""}


def test_only_the_companys_own_phones_in_chanspy_are_its_listen_ins():
    bobs = channel("PJSIP/t1-1cde6b4e57-00000010", app="Dial", linkedid="L1", connected=("+46701234567", "Kund"))
    answer = [
        bobs,
        channel("PJSIP/t1-6bd7db3ced-00000013", app="ChanSpy", data=f"{bobs['Channel']},qEw", duration="01:02:03"),
        # t12 and t2 are other companies, whatever their names start with
        channel("PJSIP/t12-aa11bb22cc-00000014", app="ChanSpy", data="PJSIP/t12-dd33ee44ff-00000015,qE"),
        channel("PJSIP/t2-aa11bb22cc-00000016", app="ChanSpy", data=f"{bobs['Channel']},qEB"),
        # a stray ChanSpy of a Demo phone on another company's channel: the channel's name is not shown
        channel("PJSIP/t1-0a0b0c0d0e-00000017", app="ChanSpy", data="PJSIP/t2-dd33ee44ff-00000018,qEB"),
        channel("PJSIP/t1-trunk-3-00000019", app="ChanSpy", data=f"{bobs['Channel']},qE"),  # a trunk listens to no one
        channel("Snoop/1796612776.31-0000001a", app="ChanSpy", data=f"{bobs['Channel']},qE"),
        channel("PJSIP/t1-1234567890-0000001b", app="Dial", data=f"{bobs['Channel']},qE"),
    ]
    found = licences.listen_ins(answer, 1)
    assert [(f.channel, f.endpoint, f.mode, f.spied_channel, f.spied_endpoint) for f in found] == [
        ("PJSIP/t1-6bd7db3ced-00000013", "t1-6bd7db3ced", "whisper", bobs["Channel"], "t1-1cde6b4e57"),
        ("PJSIP/t1-0a0b0c0d0e-00000017", "t1-0a0b0c0d0e", "barge", "", ""),
    ]
    whisper = found[0]
    assert (whisper.seconds, whisper.call_id, whisper.other_number, whisper.other_name) == (
        3723, "L1", "+46701234567", "Kund")
    assert found[1].other_number == "" and found[1].call_id == ""
    assert [f.channel for f in licences.listen_ins(answer, 12)] == ["PJSIP/t12-aa11bb22cc-00000014"]


@pytest.mark.parametrize(("options", "mode"), [("qE", "listen"), ("qEw", "whisper"), ("qEB", "barge"),
                                               ("qEr(wave)", "listen"), ("", "listen")])
def test_the_mode_is_read_from_chanspys_options(options, mode):
    assert licences.listen_mode(options) == mode


def test_a_companys_calls_include_the_shared_trunks_leg_of_its_call_only():
    answer = [
        channel("PJSIP/t1-1cde6b4e57-00000010", linkedid="L1", uniqueid="1.10"),
        channel("PJSIP/trunk-1-00000011", linkedid="L1", uniqueid="1.11"),  # Bob's outbound call goes out here
        channel("Local/5@t1-agents-00000012;1", linkedid="L3", uniqueid="1.12"),
        channel("PJSIP/t12-aa11bb22cc-00000013", linkedid="L2", uniqueid="1.13"),
        channel("PJSIP/trunk-1-00000014", linkedid="L2", uniqueid="1.14"),
        channel("Local/5@t12-agents-00000015;1", linkedid="L4", uniqueid="1.15"),
    ]
    assert licences.company_channels(answer, 1) == {"1.10", "1.11", "1.12"}
    assert licences.company_channels(answer, 12) == {"1.13", "1.14", "1.15"}
