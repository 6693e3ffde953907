"""AstDB state computed from the database: the keys the dialplan reads, per company and per change."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from pbx import actions
from pbx.asterisk.astdb import FAMILY, astdb_keys_for, astdb_state, presence_provider
from pbx.models import ForwardingProfile, Number, PresenceStatus, QueueAgent, Schedule, User


def key(tenant_id: int, rest: str) -> tuple[str, str]:
    return (FAMILY, f"t{tenant_id}/{rest}")


def test_a_company_state_has_every_persons_switches_and_default_rule(demo, bob):
    state = astdb_state(demo.tenant)
    t = demo.tenant.pk
    active = ForwardingProfile.objects.get(user=bob, is_active=True)
    assert state[key(t, f"u{bob.pk}/status")] == ""
    assert state[key(t, f"u{bob.pk}/dnd")] == "0"
    assert state[key(t, f"u{bob.pk}/cw")] == "1"
    assert state[key(t, f"u{bob.pk}/cli")] == ""
    assert state[key(t, f"u{bob.pk}/profile")] == str(active.pk)
    assert state[key(t, f"u{bob.pk}/fixed/first")] == "ring"
    assert state[key(t, f"u{bob.pk}/fixed/ring_s")] == "20"
    assert state[key(t, f"u{bob.pk}/mobile/ring_s")] == "25"
    assert state[key(t, f"u{bob.pk}/fixed/busy")] == "voicemail"
    assert state[key(t, f"u{bob.pk}/fixed/busy_to")] == ""


def test_a_company_state_never_holds_another_companys_keys(demo, exempel):
    state = astdb_state(demo.tenant.pk)
    assert state and all(k[0] == FAMILY and k[1].startswith(f"t{demo.tenant.pk}/") for k in state)
    everything = astdb_state()
    assert set(state) < set(everything)
    assert any(k[1].startswith(f"t{exempel.tenant.pk}/") for k in everything)


def test_logged_in_agents_and_schedules_are_in_the_state(demo):
    state = astdb_state(demo.tenant)
    agent = QueueAgent.objects.filter(queue=demo.queues["Support"]).first()
    schedule = Schedule.objects.get(tenant=demo.tenant)
    assert state[key(demo.tenant.pk, f"q{agent.queue_id}/u{agent.user_id}")] == "in"
    assert state[key(demo.tenant.pk, f"s{schedule.pk}/override")] == ""
    assert state[key(demo.tenant.pk, f"s{schedule.pk}/until")] == ""


def test_a_status_with_an_end_writes_code_until_and_dnd(demo, bob):
    meeting = PresenceStatus.objects.get(tenant=demo.tenant, name="Möte")
    until = timezone.now() + datetime.timedelta(hours=1)
    actions.do_set_presence(bob, bob, meeting, until=until)
    keys = astdb_keys_for("presence", bob.pk)
    t = demo.tenant.pk
    assert keys == {
        key(t, f"u{bob.pk}/dnd"): "1",
        key(t, f"u{bob.pk}/status"): str(meeting.code),
        key(t, f"u{bob.pk}/status_until"): str(int(until.timestamp())),
    }
    actions.do_clear_presence(bob, bob)
    assert astdb_keys_for("presence", bob.pk)[key(t, f"u{bob.pk}/status")] == ""


def test_activating_a_profile_writes_its_targets_per_line(demo, bob):
    away = ForwardingProfile.objects.get(user=bob, name="Borta")
    actions.do_activate_profile(bob, away)
    keys = astdb_keys_for("profile", bob.pk)
    t = demo.tenant.pk
    assert keys[key(t, f"u{bob.pk}/profile")] == str(away.pk)
    assert keys[key(t, f"u{bob.pk}/fixed/first")] == "forward"
    assert keys[key(t, f"u{bob.pk}/fixed/first_to")] == bob.mobile_number
    # Borta has no rule for the mobile line: its calls ring, then voicemail.
    assert keys[key(t, f"u{bob.pk}/mobile/first")] == "ring"
    assert keys[key(t, f"u{bob.pk}/mobile/noanswer")] == "voicemail"
    assert not any("/status" in k[1] for k in keys)


def test_pausing_an_agent_writes_paused_and_logging_out_writes_out(demo):
    agent = QueueAgent.objects.filter(queue=demo.queues["Support"]).first()
    actions.do_queue_pause(None, agent, reason="Lunch")
    assert astdb_keys_for("queue_agent", agent.pk) == {key(demo.tenant.pk, f"q{agent.queue_id}/u{agent.user_id}"): "paused"}
    actions.do_queue_logout(None, agent)
    assert astdb_keys_for("queue_agent", agent.pk) == {key(demo.tenant.pk, f"q{agent.queue_id}/u{agent.user_id}"): "out"}


def test_a_schedule_override_writes_the_override_and_its_end(demo, alice):
    schedule = Schedule.objects.get(tenant=demo.tenant)
    until = timezone.now() + datetime.timedelta(hours=2)
    actions.do_set_schedule_override(alice, schedule, "closed", until=until)
    assert astdb_keys_for("schedule", schedule.pk) == {
        key(demo.tenant.pk, f"s{schedule.pk}/override"): "closed",
        key(demo.tenant.pk, f"s{schedule.pk}/until"): str(int(until.timestamp())),
    }


def test_call_waiting_and_caller_id_are_a_persons_switches(demo, bob):
    support = Number.objects.get(tenant=demo.tenant, label="Support")
    User.objects.filter(pk=bob.pk).update(call_waiting=False, caller_id_number=support)
    keys = astdb_keys_for("user", bob.pk)
    assert keys[key(demo.tenant.pk, f"u{bob.pk}/cw")] == "0"
    assert keys[key(demo.tenant.pk, f"u{bob.pk}/cli")] == support.e164
    assert astdb_keys_for("caller_id", bob.pk) == {key(demo.tenant.pk, f"u{bob.pk}/cli"): support.e164}


def test_a_row_that_is_gone_has_no_keys_and_an_unknown_kind_is_refused(demo):
    assert astdb_keys_for("queue_agent", 10**9) == {}
    assert astdb_keys_for("voicemail", 1) == {}
    with pytest.raises(ValueError, match="unknown kind of state"):
        astdb_keys_for("weather", 1)


def test_the_state_takes_a_few_queries_for_a_whole_node(demo, exempel, django_assert_max_num_queries):
    # Six for people, queues and schedules, six for call recording (recording.astdb).
    with django_assert_max_num_queries(12):
        astdb_state()


def test_the_presence_provider_is_the_one_in_the_hint(demo, bob):
    from pbx.asterisk.confgen import render_from_db

    provider = presence_provider(demo.tenant.pk, bob.pk)
    assert provider == f"CustomPresence:t{demo.tenant.pk}-u{bob.pk}"
    assert f"exten => {bob.extension},hint," in render_from_db()["extensions.conf"]
    assert f",{provider}\n" in render_from_db()["extensions.conf"]
