"""Fast state reaching Asterisk: one change at commit time, everything again on every reconnect."""

from __future__ import annotations

import asyncio
import base64
import time

import pytest
from asgiref.sync import async_to_sync

from pbx import actions
from pbx.asterisk import astdb_sync
from pbx.asterisk.ami import AmiClient
from pbx.asterisk.astdb import astdb_state
from pbx.asterisk.astdb_sync import load_node_state, parse_presence_value, presence_value, rewrite_all
from pbx.models import AsteriskNode, PresenceStatus, QueueAgent
from tests.fake_asterisk import DEFAULT_SECRET, DEFAULT_USERNAME, AsteriskState, config_files
from tests.fake_asterisk.pbx_fixtures import *  # noqa: F403 - fake, node, applied, no_pending_applies


@pytest.fixture(autouse=True)
def own_writer():
    """Every test gets a fresh AMI writer (its connection is to this test's fake)."""
    astdb_sync.close_writer()
    yield
    astdb_sync.close_writer()


def wait_until(condition, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.001)
    return False


def key(tenant, user, name):
    return f"/pbx/t{tenant.pk}/u{user.pk}/{name}"


# --------------------------------------------------------------------------------------------- on commit


def test_a_presence_change_reaches_astdb_and_the_blf_at_once(applied, fake, demo, eva,
                                                              django_capture_on_commit_callbacks):
    away_status = PresenceStatus.objects.get(tenant=demo.tenant, name="Borta")
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_set_presence(eva, eva, away_status, message="Back at 13, promise; really")
    assert wait_until(lambda: fake.state.astdb.get(key(demo.tenant, eva, "status")) == str(away_status.code))
    assert time.monotonic() - started < 1.0
    assert fake.state.astdb[key(demo.tenant, eva, "dnd")] == "0"
    provider = f"CustomPresence:t{demo.tenant.pk}-u{eva.pk}"
    assert wait_until(lambda: provider in fake.state.presence)
    assert fake.state.presence[provider] == ("away", "", "Back at 13, promise; really")
    setvar = fake.ami.actions("Setvar")[-1]
    assert setvar.get("Value").endswith(",e")  # the person's words travel base64, never parsed


def test_clearing_the_presence_writes_available(applied, fake, demo, eva, django_capture_on_commit_callbacks):
    away_status = PresenceStatus.objects.get(tenant=demo.tenant, name="Borta")
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_set_presence(eva, eva, away_status)
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_clear_presence(eva, eva)
    provider = f"CustomPresence:t{demo.tenant.pk}-u{eva.pk}"
    assert wait_until(lambda: fake.state.presence.get(provider, ("",))[0] == "available")
    assert fake.state.astdb[key(demo.tenant, eva, "status")] == ""


def test_a_profile_switch_rewrites_the_forwarding_keys(applied, fake, demo, eva, django_capture_on_commit_callbacks):
    away = eva.forwarding_profiles.get(name="Borta")
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_activate_profile(eva, away)
    assert wait_until(lambda: fake.state.astdb.get(key(demo.tenant, eva, "profile")) == str(away.pk))
    assert fake.state.astdb[key(demo.tenant, eva, "fixed/first")] == "forward"
    assert fake.state.astdb[key(demo.tenant, eva, "fixed/first_to")] == eva.mobile_number


def test_queue_log_in_out_and_pause_change_the_dynamic_member(applied, fake, demo, bob,
                                                              django_capture_on_commit_callbacks):
    agent = QueueAgent.objects.get(queue=demo.queues["Support"], user=bob)
    queue = f"t{demo.tenant.pk}-q{agent.queue_id}"
    interface = f"local/{bob.pk}@t{demo.tenant.pk}-agents/n"
    astdb_key = f"/pbx/t{demo.tenant.pk}/q{agent.queue_id}/u{bob.pk}"
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_queue_logout(bob, agent)
    assert wait_until(lambda: interface not in fake.state.queues[queue].members)
    assert fake.state.astdb[astdb_key] == "out"
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_queue_login(bob, agent)
    assert wait_until(lambda: interface in fake.state.queues[queue].members)
    assert fake.state.queues[queue].members[interface].state_interface == \
        f"hint:{bob.extension}@t{demo.tenant.pk}-hints"
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_queue_pause(bob, agent, reason="Lunch")
    assert wait_until(lambda: fake.state.queues[queue].members[interface].paused)
    assert fake.state.astdb[astdb_key] == "paused"
    other_queue = f"t{demo.tenant.pk}-q{demo.queues['Sales'].pk}"
    assert not fake.state.queues[other_queue].members[interface].paused  # only that queue


def test_a_write_while_asterisk_is_away_fails_without_breaking_the_action(node, demo, eva, settings,
                                                                           django_capture_on_commit_callbacks):
    node.ami_port = 1  # nothing listens
    node.save()
    away_status = PresenceStatus.objects.get(tenant=demo.tenant, name="Borta")
    with django_capture_on_commit_callbacks(execute=True):
        presence = actions.do_set_presence(eva, eva, away_status)
    assert presence.status == away_status


# --------------------------------------------------------------------------------------------- on connect


def node_keys(row) -> dict[str, str]:
    return {f"/{f}/{k}": v for (f, k), v in load_node_state(row).keys.items()}


def ours(running) -> dict[str, str]:
    return {k: v for k, v in running.state.astdb.items() if k.startswith("/pbx/")}


def booted_state(running) -> AsteriskState:
    """A freshly started Asterisk: config loaded from the files, AstDB empty, no dynamic member."""
    state = AsteriskState.empty()
    config_files.load_queues(state, running.ami.config_dir)
    config_files.load_dialplan(state, running.ami.config_dir)
    return state


def test_every_reconnect_rewrites_the_whole_state_after_an_empty_restart(applied, fake, demo):
    row = applied
    expected = node_keys(row)
    assert len(expected) > 100

    async def scenario():
        rewrites = asyncio.Queue()

        async def on_connect():
            rewrites.put_nowait(await rewrite_all(row, client))

        client = AmiClient("127.0.0.1", fake.ami.port, DEFAULT_USERNAME, DEFAULT_SECRET, timeout=5,
                           reconnect_min=0.05, reconnect_max=0.2, events=False, on_connect=on_connect)
        await client.start()
        try:
            first = await asyncio.wait_for(rewrites.get(), 10)
            state = booted_state(fake)
            state.astdb["/pbx/t999999/u1/status"] = "7"  # a company that is no longer here
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(fake.ami.restart(state), fake.loop))
            second = await asyncio.wait_for(rewrites.get(), 10)
        finally:
            await client.stop()
        return first, second

    first, second = async_to_sync(scenario)()
    assert first["DBPut"] == len(expected)
    assert ours(fake) == expected
    assert second["DBDel"] == 1 and second["DBPut"] == len(expected)
    support = fake.state.queues[f"t{demo.tenant.pk}-q{demo.queues['Support'].pk}"]
    assert len(support.members) == 3 and second["QueueAdd"] == 10


def test_a_rewrite_of_a_node_in_step_sends_only_the_reads(applied, fake):
    row = applied

    async def twice():
        client = AmiClient("127.0.0.1", fake.ami.port, DEFAULT_USERNAME, DEFAULT_SECRET, events=False)
        await client.start()
        await client.wait_connected(5)
        try:
            await rewrite_all(row, client)
            return await rewrite_all(row, client)
        finally:
            await client.stop()

    second = async_to_sync(twice)()
    assert dict(second) == {"QueueStatus": 1}


def test_the_rewrite_replaces_wrong_values_and_presence(applied, fake, demo, eva):
    row = applied
    status = key(demo.tenant, eva, "status")

    async def rewrite():
        client = AmiClient("127.0.0.1", fake.ami.port, DEFAULT_USERNAME, DEFAULT_SECRET, events=False)
        await client.start()
        await client.wait_connected(5)
        try:
            await rewrite_all(row, client)
            fake.run(lambda: fake.state.astdb.__setitem__(status, "99"))
            fake.run(lambda: fake.state.astdb.__setitem__(f"/CustomPresence/t{demo.tenant.pk}-u{eva.pk}",
                                                          "dnd,,,"))
            return await rewrite_all(row, client)
        finally:
            await client.stop()

    counts = async_to_sync(rewrite)()
    assert counts["DBPut"] == 1 and counts["Setvar"] == 1
    assert fake.state.astdb[status] == ""


def test_the_node_state_holds_only_its_companies(node, demo, exempel):
    other = AsteriskNode.objects.create(name="other")
    exempel.tenant.node = other
    exempel.tenant.save()
    keys = load_node_state(node).keys
    assert keys and all(k.startswith(f"t{demo.tenant.pk}/") for _f, k in keys)
    assert keys == astdb_state(demo.tenant)


# --------------------------------------------------------------------------------------------- values


@pytest.mark.parametrize("message", ["", "Back at 2", "Lunch, then; meeting ${EXTEN} åäö"])
def test_presence_values_are_base64_and_read_back(message):
    value = presence_value("away", message)
    assert value.count(",") == 3 and value.endswith(",e")
    assert base64.b64decode(value.split(",")[2]).decode() == message
    assert parse_presence_value(value) == ("away", message)
