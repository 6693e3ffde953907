"""Every ``do_*`` action: one transaction, an audit row, follow-ups only after commit, and refusals.

Alice admins Demo AB, Bob is an agent there, Eva a plain user; Carol admins Exempel AB and
must be refused everything of Demo's.
"""

from __future__ import annotations

import datetime
import io
import time
import warnings
import wave

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import ProtectedError
from django.utils import timezone

from pbx import actions
from pbx.audio import AudioError
from pbx.demo import tone_wav
from pbx.models import (
    AuditLog,
    Department,
    Destination,
    Device,
    ForwardingProfile,
    PresenceStatus,
    Prompt,
    QueueAgent,
    Schedule,
    Tenant,
    User,
    UserPresence,
)
from pbx.signals import config_changed, state_changed
from tests.helpers import capture_events


class Boom(Exception):
    pass


def boom(*args, **kwargs):
    raise Boom


@pytest.fixture
def follow_ups():
    """What was sent to the Asterisk side after commit: ("config", tenant) / ("state", tenant, kind)."""
    sent: list[tuple] = []

    def on_config(sender, tenant_id, **kwargs):
        sent.append(("config", tenant_id))

    def on_state(sender, tenant_id, kind, object_id, **kwargs):
        sent.append(("state", tenant_id, kind))

    config_changed.connect(on_config, weak=False)
    state_changed.connect(on_state, weak=False)
    yield sent
    config_changed.disconnect(on_config)
    state_changed.disconnect(on_state)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run the block, then what it scheduled for after commit (as a real commit would)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def audit_rows(**filters):
    return AuditLog.objects.filter(**filters)


def sounds_of(tenant: Tenant, prompt_pk: int):
    base = settings.ASTERISK_SOUNDS_DIR / f"t{tenant.pk}" / f"prompt-{prompt_pk}"
    return base.with_suffix(".wav"), base.with_suffix(".wav16")


# do_save_object / do_delete_object ------------------------------------------------------------

def test_save_object_audits_who_changed_what(alice, demo):
    queue = demo.queues["Sales"]
    queue.name = "Försäljning"
    actions.do_save_object(alice, queue)
    entry = audit_rows(object_type="pbx.queue", object_id=str(queue.pk)).latest("id")
    assert (entry.actor, entry.action, entry.tenant_id) == (alice, "changed", demo.tenant.pk)
    assert (entry.before["name"], entry.after["name"]) == ("Sales", "Försäljning")


def test_save_object_applies_the_configuration_only_after_commit(alice, demo, follow_ups, committed):
    with committed():
        actions.do_save_object(alice, Department(tenant=demo.tenant, name="Ekonomi"))
        assert follow_ups == []
    # A department's recording rule is in everyone's AstDB key (docs/recording.md): rewritten with it.
    assert follow_ups == [("config", demo.tenant.pk), ("state", demo.tenant.pk, "recording")]


def test_save_object_leaves_nothing_behind_when_saving_related_rows_fails(alice, demo, follow_ups, committed):
    audits = AuditLog.objects.count()
    with committed(), pytest.raises(Boom):
        actions.do_save_object(alice, Department(tenant=demo.tenant, name="Ekonomi"), save_related=boom)
    assert not Department.objects.filter(name="Ekonomi").exists()
    assert AuditLog.objects.count() == audits
    assert follow_ups == []


def test_save_object_sees_the_related_rows_in_its_audit(alice, demo):
    box = demo.tenant.voicemailbox_set.get(kind="shared")
    actions.do_save_object(alice, box, save_related=lambda: box.members.set([alice]))
    entry = audit_rows(object_type="pbx.voicemailbox", object_id=str(box.pk)).latest("id")
    assert entry.after["members"] == [alice.pk]
    assert alice.pk not in entry.before["members"]


def test_saving_fast_state_does_not_render_the_configuration(alice, eva, follow_ups, committed):
    with committed():
        actions.do_save_object(alice, UserPresence.objects.get(user=eva))
    assert follow_ups == []


@pytest.mark.parametrize("actor", ["carol", "eva"])
def test_save_and_delete_refuse_another_company_and_a_non_admin(request, actor, demo):
    person = request.getfixturevalue(actor)
    queue = demo.queues["Sales"]
    queue.name = "Kapad"
    audits = AuditLog.objects.count()
    with pytest.raises(PermissionDenied):
        actions.do_save_object(person, queue)
    with pytest.raises(PermissionDenied):
        actions.do_delete_object(person, queue)
    queue.refresh_from_db()
    assert queue.name == "Sales"
    assert AuditLog.objects.count() == audits


def test_delete_object_audits_the_last_state(alice, demo, follow_ups, committed):
    department = Department.objects.create(tenant=demo.tenant, name="Tillfällig")
    with committed():
        actions.do_delete_object(alice, department)
    entry = audit_rows(object_type="pbx.department", action="deleted").latest("id")
    assert (entry.actor, entry.before["name"], entry.after) == (alice, "Tillfällig", None)
    assert follow_ups == [("config", demo.tenant.pk), ("state", demo.tenant.pk, "recording")]


def test_delete_object_leaves_no_audit_row_when_the_row_is_still_in_use(alice, demo, follow_ups, committed):
    in_use = demo.main_number.destination
    audits = AuditLog.objects.count()
    with committed(), pytest.raises(ProtectedError):
        actions.do_delete_object(alice, in_use)
    assert Destination.objects.filter(pk=in_use.pk).exists()
    assert AuditLog.objects.count() == audits
    assert follow_ups == []


# Companies, people, devices ------------------------------------------------------------------

def test_only_a_superuser_creates_a_company(alice, superuser, follow_ups, committed):
    with pytest.raises(PermissionDenied):
        actions.do_create_tenant(alice, name="Tredje AB", slug="tredje")
    with committed():
        tenant = actions.do_create_tenant(superuser, name="Tredje AB", slug="tredje")
    assert audit_rows(tenant=tenant, action="created", actor=superuser, object_type="pbx.tenant").exists()
    assert follow_ups == [("config", tenant.pk)]


def test_create_user_gives_a_presence_row_and_staff_access_to_admins(alice, demo, follow_ups, committed):
    with committed():
        nora = actions.do_create_user(alice, demo.tenant, email="Nora@Demo.example", password="Nora-Lösen-2026!",
                                      extension="1050", is_company_admin=True)
    assert nora.email == "nora@demo.example" and nora.is_staff and nora.check_password("Nora-Lösen-2026!")
    assert UserPresence.objects.filter(user=nora, tenant=demo.tenant).exists()
    entry = audit_rows(object_type="pbx.user", object_id=str(nora.pk)).get()
    assert entry.actor == alice and entry.after["password"] == "***"
    assert follow_ups == [("config", demo.tenant.pk)]


def test_create_user_refuses_more_users_than_licences(alice, demo):
    demo.tenant.max_users = User.objects.filter(tenant=demo.tenant).count()
    with pytest.raises(ValidationError, match="used all its user licences"):
        actions.do_create_user(alice, demo.tenant, email="extra@demo.example")
    assert not User.objects.filter(email="extra@demo.example").exists()


def test_create_user_refuses_a_taken_extension(alice, demo, bob):
    with pytest.raises(ValidationError, match="already taken"):
        actions.do_create_user(alice, demo.tenant, email="twin@demo.example", extension=bob.extension)


@pytest.mark.parametrize("actor", ["carol", "eva"])
def test_create_user_and_device_refuse_another_company_and_a_non_admin(request, actor, demo, bob):
    person = request.getfixturevalue(actor)
    devices = Device.objects.count()
    with pytest.raises(PermissionDenied):
        actions.do_create_user(person, demo.tenant, email="spy@demo.example")
    with pytest.raises(PermissionDenied):
        actions.do_create_device(person, bob, kind="soft")
    with pytest.raises(PermissionDenied):
        actions.do_regenerate_device_secret(person, bob.devices.first())
    assert not User.objects.filter(email="spy@demo.example").exists()
    assert Device.objects.count() == devices


def test_create_user_leaves_nothing_behind_when_it_fails_midway(alice, demo, monkeypatch, follow_ups, committed):
    monkeypatch.setattr("pbx.actions.directory.record", boom)
    with committed(), pytest.raises(Boom):
        actions.do_create_user(alice, demo.tenant, email="half@demo.example", extension="1051")
    assert not User.objects.filter(email="half@demo.example").exists()
    assert not UserPresence.objects.filter(user__email="half@demo.example").exists()
    assert follow_ups == []


def test_create_device_makes_a_strong_secret_and_audits_it_masked(alice, eva, follow_ups, committed):
    with committed():
        device = actions.do_create_device(alice, eva, kind="soft", label="Mobilapp")
    assert device.tenant_id == eva.tenant_id and len(device.secret) >= 32
    entry = audit_rows(object_type="pbx.device", object_id=str(device.pk)).get()
    assert entry.after["secret"] == "***" and device.secret not in str(entry.after)
    assert follow_ups == [("config", eva.tenant_id)]


def test_regenerating_a_device_secret_replaces_it_and_is_audited(alice, bob, follow_ups, committed):
    device = bob.devices.first()
    old = device.secret
    with committed():
        new = actions.do_regenerate_device_secret(alice, device)
    device.refresh_from_db()
    assert device.secret == new != old
    entry = audit_rows(object_type="pbx.device", object_id=str(device.pk), action="secret_regenerated").get()
    assert entry.actor == alice and old not in str(entry.before) and new not in str(entry.after)
    assert follow_ups == [("config", bob.tenant_id)]


def test_regenerating_a_secret_leaves_the_old_one_when_it_fails(alice, bob, monkeypatch):
    device = bob.devices.first()
    old = device.secret
    monkeypatch.setattr("pbx.actions.directory.record", boom)
    with pytest.raises(Boom):
        actions.do_regenerate_device_secret(alice, device)
    assert Device.objects.get(pk=device.pk).secret == old


def test_staff_access_follows_the_company_admin_role(eva, alice):
    actions.sync_staff_flag(eva)
    assert not eva.is_staff
    actions.sync_staff_flag(alice)
    assert alice.is_staff
    alice.is_active = False
    actions.sync_staff_flag(alice)
    assert not alice.is_staff


# Prompts -------------------------------------------------------------------------------------

def test_a_prompt_is_converted_to_8_and_16_khz_mono_after_commit(alice, demo, committed):
    start = time.time()
    with committed():
        prompt = actions.do_upload_prompt(alice, demo.tenant, name="Stängt", data=tone_wav(0.5), filename="s.wav")
        narrow, wide = sounds_of(demo.tenant, prompt.pk)
        # Nothing written before the row commits (SQLite reuses the ids of rolled-back tests' rows,
        # so an older file of the same name may be there).
        assert not narrow.exists() or narrow.stat().st_mtime < start
    assert narrow.stat().st_mtime >= start and wide.stat().st_mtime >= start
    for path, rate in ((narrow, 8000), (wide, 16000)):
        with wave.open(str(path)) as sound:
            assert (sound.getframerate(), sound.getnchannels(), sound.getsampwidth()) == (rate, 1, 2)
            assert abs(sound.getnframes() / rate - 0.5) < 0.02
    assert prompt.sound_name == f"custom/t{demo.tenant.pk}/prompt-{prompt.pk}"
    assert 450 <= prompt.duration_ms <= 550
    assert audit_rows(object_type="pbx.prompt", object_id=str(prompt.pk), action="created", actor=alice).exists()


def test_an_mp3_prompt_is_converted_too(alice, demo, committed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from pydub import AudioSegment
        from pydub.exceptions import CouldntEncodeError
    buffer = io.BytesIO()
    try:
        AudioSegment.from_file(io.BytesIO(tone_wav(0.3))).export(buffer, format="mp3")
    except CouldntEncodeError:
        pytest.skip("ffmpeg cannot encode mp3 here")
    with committed():
        prompt = actions.do_upload_prompt(alice, demo.tenant, name="Mp3", data=buffer.getvalue(), filename="a.mp3")
    with wave.open(str(sounds_of(demo.tenant, prompt.pk)[0])) as sound:
        assert (sound.getframerate(), sound.getnchannels()) == (8000, 1)
    assert prompt.original.name.endswith(".mp3")


def test_a_new_upload_replaces_the_prompts_sound(alice, demo, committed):
    prompt = Prompt.objects.filter(tenant=demo.tenant).first()
    with committed():
        actions.do_upload_prompt(alice, demo.tenant, name=prompt.name, data=tone_wav(0.3), prompt=prompt)
    prompt.refresh_from_db()
    assert 250 <= prompt.duration_ms <= 350
    assert audit_rows(object_type="pbx.prompt", object_id=str(prompt.pk), action="changed").exists()


@pytest.mark.parametrize(("content", "message"), [
    (bytes(range(256)) * 64, "not an audio file"),
    ("Det här är en textfil, inte ljud.\n".encode() * 50, "not an audio file"),
    (b"", "empty"),
])
def test_an_upload_that_is_not_audio_is_refused_and_nothing_saved(alice, demo, content, message, committed):
    prompts, audits = Prompt.objects.count(), AuditLog.objects.count()
    with committed(), pytest.raises(AudioError, match=message):
        actions.do_upload_prompt(alice, demo.tenant, name="Fel", data=content, filename="fel.wav")
    assert Prompt.objects.count() == prompts and AuditLog.objects.count() == audits


def test_a_prompt_upload_refuses_another_company_and_a_non_admin(carol, eva, demo):
    for person in (carol, eva):
        with pytest.raises(PermissionDenied):
            actions.do_upload_prompt(person, demo.tenant, name="Spion", data=tone_wav(0.2))
    assert not Prompt.objects.filter(name="Spion").exists()


def test_a_prompt_upload_that_fails_midway_leaves_no_row_and_no_files(alice, demo, monkeypatch, committed):
    monkeypatch.setattr("pbx.actions.prompts.record", boom)
    before = set(settings.ASTERISK_SOUNDS_DIR.glob("**/*.wav"))
    with committed(), pytest.raises(Boom):
        actions.do_upload_prompt(alice, demo.tenant, name="Halv", data=tone_wav(0.2))
    assert not Prompt.objects.filter(name="Halv").exists()
    assert set(settings.ASTERISK_SOUNDS_DIR.glob("**/*.wav")) == before


# Presence and profiles ----------------------------------------------------------------------

def test_setting_presence_tells_only_the_own_company(eva, demo, follow_ups, committed):
    lunch = PresenceStatus.objects.get(tenant=demo.tenant, name="Lunch")
    until = timezone.now() + datetime.timedelta(hours=1)
    with capture_events() as events, committed():
        presence = actions.do_set_presence(eva, eva, lunch, message="Strax tillbaka", until=until)
        assert events == []
    assert events == [([f"tenant-{demo.tenant.pk}"], {
        "type": "presence.changed", "user_id": eva.pk, "status": "Lunch", "status_id": lunch.pk,
        "message": "Strax tillbaka", "until": until.isoformat()})]
    assert follow_ups == [("state", demo.tenant.pk, "presence")]
    assert presence.status == lunch
    entry = audit_rows(object_type="pbx.userpresence", action="presence_set").latest("id")
    assert entry.actor == eva and entry.after["status"] == lunch.pk and entry.before["status"] is None


def test_clearing_presence_publishes_available(alice, eva, demo, committed):
    borta = PresenceStatus.objects.get(tenant=demo.tenant, name="Borta")
    actions.do_set_presence(eva, eva, borta)
    with capture_events() as events, committed():
        actions.do_clear_presence(alice, eva)
    assert events[0][1]["status"] is None
    assert UserPresence.objects.get(user=eva).status is None


def test_presence_needs_an_end_time_when_the_status_asks_for_one(eva, demo):
    lunch = PresenceStatus.objects.get(tenant=demo.tenant, name="Lunch")
    with pytest.raises(ValidationError, match="needs an end time"):
        actions.do_set_presence(eva, eva, lunch)
    with pytest.raises(ValidationError, match="already passed"):
        actions.do_set_presence(eva, eva, lunch, until=timezone.now() - datetime.timedelta(minutes=1))


def test_presence_refuses_other_people_other_companies_and_their_statuses(eva, bob, carol, demo, exempel):
    borta = PresenceStatus.objects.get(tenant=demo.tenant, name="Borta")
    with pytest.raises(PermissionDenied):
        actions.do_set_presence(eva, bob, borta)  # a plain user sets only their own
    with pytest.raises(PermissionDenied):
        actions.do_set_presence(carol, bob, borta)
    theirs = PresenceStatus.objects.get(tenant=exempel.tenant, name="Borta")
    with pytest.raises(PermissionDenied):
        actions.do_set_presence(eva, eva, theirs)
    assert UserPresence.objects.get(user=bob).status is None


def test_presence_that_fails_midway_changes_nothing_and_publishes_nothing(eva, demo, monkeypatch, committed):
    monkeypatch.setattr("pbx.actions.presence.record", boom)
    borta = PresenceStatus.objects.get(tenant=demo.tenant, name="Borta")
    with capture_events() as events, committed(), pytest.raises(Boom):
        actions.do_set_presence(eva, eva, borta)
    assert UserPresence.objects.get(user=eva).status is None
    assert events == []


def test_activating_a_profile_tells_only_its_owner(eva, demo, follow_ups, committed):
    away = ForwardingProfile.objects.get(user=eva, name="Borta")
    with capture_events() as events, committed():
        actions.do_activate_profile(eva, away)
    assert events == [([f"user-{eva.pk}"], {"type": "profile.changed", "user_id": eva.pk, "profile": "Borta"})]
    assert follow_ups == [("state", demo.tenant.pk, "profile")]
    assert list(ForwardingProfile.objects.filter(user=eva, is_active=True)) == [away]
    entry = audit_rows(action="profile_activated").latest("id")
    assert entry.after == {"active_profile": away.pk} and entry.actor == eva


def test_a_profile_is_activated_only_by_its_owner_or_a_company_admin(eva, bob, carol, alice):
    away = ForwardingProfile.objects.get(user=bob, name="Borta")
    for person in (eva, carol):
        with pytest.raises(PermissionDenied):
            actions.do_activate_profile(person, away)
    actions.do_activate_profile(alice, away)
    assert ForwardingProfile.objects.get(pk=away.pk).is_active


# Queues and schedules -----------------------------------------------------------------------

def test_an_agent_pauses_and_the_company_hears_of_it(bob, demo, follow_ups, committed):
    agent = QueueAgent.objects.get(user=bob, queue=demo.queues["Support"])
    with capture_events() as events, committed():
        actions.do_queue_pause(bob, agent, reason="Kaffe")
    assert events == [([f"tenant-{demo.tenant.pk}"], {
        "type": "agent.changed", "queue_id": agent.queue_id, "user_id": bob.pk, "logged_in": True,
        "paused": True, "pause_reason": "Kaffe"})]
    assert follow_ups == [("state", demo.tenant.pk, "queue_agent")]
    entry = audit_rows(action="queue_pause").latest("id")
    assert (entry.before["paused"], entry.after["paused"], entry.actor) == (False, True, bob)


def test_logging_out_and_in_again_is_audited_but_a_repeat_is_not(alice, bob, demo, committed):
    agent = QueueAgent.objects.get(user=bob, queue=demo.queues["Support"])
    actions.do_queue_logout(alice, agent)
    audits = AuditLog.objects.count()
    with capture_events() as events, committed():
        actions.do_queue_logout(alice, agent)
    assert events == [] and AuditLog.objects.count() == audits
    actions.do_queue_login(bob, agent)
    assert QueueAgent.objects.get(pk=agent.pk).logged_in


def test_queue_state_refuses_another_agent_and_another_company(bob, carol, demo):
    cecilia = demo.agents[1]
    agent = QueueAgent.objects.get(user=bob, queue=demo.queues["Support"])
    for person in (cecilia, carol):
        with pytest.raises(PermissionDenied):
            actions.do_queue_logout(person, agent)
    with pytest.raises(ValidationError):
        actions.do_queue_pause(bob, agent, reason="rad ett\nrad två")
    assert QueueAgent.objects.get(pk=agent.pk).logged_in


def test_a_schedule_override_is_published_and_audited(alice, demo, follow_ups, committed):
    schedule = Schedule.objects.get(tenant=demo.tenant)
    with capture_events() as events, committed():
        actions.do_set_schedule_override(alice, schedule, "closed")
    assert events == [([f"tenant-{demo.tenant.pk}"], {
        "type": "schedule.changed", "schedule_id": schedule.pk, "override": "closed"})]
    assert follow_ups == [("state", demo.tenant.pk, "schedule")]
    assert not Schedule.objects.get(pk=schedule.pk).is_open()
    entry = audit_rows(action="schedule_override").latest("id")
    assert (entry.before["override"], entry.after["override"]) == ("", "closed")


def test_a_schedule_override_is_for_company_admins_only(eva, carol, demo):
    schedule = Schedule.objects.get(tenant=demo.tenant)
    for person in (eva, carol):
        with pytest.raises(PermissionDenied):
            actions.do_set_schedule_override(person, schedule, "open")
    assert Schedule.objects.get(pk=schedule.pk).override == ""
