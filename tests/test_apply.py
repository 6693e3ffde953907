"""Applying the generated configuration to the fake Asterisk: the least work, and nothing lost on failure.

The fake runs in its own thread and reads the files the apply writes like Asterisk does on a reload
(``fake.ami.config_dir``), so a queue that only exists after ``Reload app_queue.so`` is really missing
before it, and ``dialplan reload`` really replaces whatever was added through AMI.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from pbx import actions
from pbx.asterisk.apply import APPLIED_DIR, apply_node, read_running
from pbx.asterisk.confgen import render_from_db
from pbx.models import Device, IvrOption, Prompt, Queue, QueueAgent
from pbx.signals import config_changed
from pbx.tasks import MemoryPending, flush_pending_applies, pending, request_apply
from tests.fake_asterisk import DEFAULT_SECRET, DEFAULT_USERNAME
from tests.fake_asterisk.pbx_fixtures import *  # noqa: F403 - fake, node, applied, no_pending_applies
from tests.fake_asterisk.state import QueueMember

GENERATED = ["confbridge.conf", "extensions.conf", "features.conf", "musiconhold.conf", "pjsip.conf",
             "queues.conf", "voicemail.conf"]


def _requests(fake):
    return [r for r in fake.ami.actions() if r.action.lower() not in ("login", "logoff")]


def names(fake) -> list[str]:
    return [r.action for r in _requests(fake)]


def contexts_touched(fake) -> set[str]:
    touched = set()
    for r in _requests(fake):
        if r.action.startswith("Dialplan"):
            touched.add(r.get("Context"))
        elif r.action == "Command":
            touched.add(r.get("Command").split()[-1])
    return touched


def on_disk(node) -> dict[str, str]:
    directory = Path(node.generated_dir)
    return {n: (directory / n).read_text() for n in GENERATED if (directory / n).exists()}


# --------------------------------------------------------------------------------------------- first apply


def test_first_apply_writes_every_file_and_loads_everything(node, fake):
    result = apply_node(node)
    assert result.ok, result.message
    assert result.changed_files == GENERATED
    assert on_disk(node) == render_from_db(node=node)
    assert read_running(Path(node.generated_dir)) == on_disk(node)
    assert set(fake.ami.reloads) == {"res_pjsip", "app_queue", "app_voicemail", "res_musiconhold", "features",
                                     "app_confbridge", "pbx_config"}
    node.refresh_from_db()
    assert node.last_apply_ok is True and node.last_apply_at is not None
    assert "Changed" in node.last_apply_message


def test_first_apply_adds_the_logged_in_agents_as_dynamic_members(node, fake, demo):
    apply_node(node)
    support = fake.state.queues[f"t{demo.tenant.pk}-q{demo.queues['Support'].pk}"]
    bob = demo.agents[0]
    member = support.members[f"local/{bob.pk}@t{demo.tenant.pk}-agents/n"]
    assert member.membership == "dynamic"
    assert member.state_interface == f"hint:{bob.extension}@t{demo.tenant.pk}-hints"
    assert len(support.members) == 3


def test_nothing_changed_sends_nothing_to_asterisk(applied, fake):
    result = apply_node(applied)
    assert result.ok and result.nothing_changed
    assert fake.ami.received == [] and fake.ari.requests == []
    assert result.message == "Nothing changed."


# --------------------------------------------------------------------------------------------- one company


def test_a_new_person_is_live_without_a_dialplan_reload(applied, fake, demo, exempel, alice):
    other_hints = [h for h in fake.state.hints if h.context == f"t{exempel.tenant.pk}-hints"]
    person = actions.do_create_user(alice, demo.tenant, email="nils@demo.example", first_name="Nils",
                                    extension="1050")
    actions.do_create_device(alice, person)
    result = apply_node(applied, tenant_ids=[demo.tenant.pk])
    assert result.ok, result.message
    assert result.reloads == ["res_pjsip.so"]
    assert not [r for r in _requests(fake) if r.action == "Command" and "reload" in r.get("Command")]
    assert set(names(fake)) <= {"Reload", "DialplanExtensionAdd", "DialplanExtensionRemove", "Command",
                                        "QueueStatus"}
    prefix = f"t{demo.tenant.pk}-"
    assert contexts_touched(fake) and all(c.startswith(prefix) for c in contexts_touched(fake))
    assert fake.state.find_hint("1050", f"t{demo.tenant.pk}-hints") is not None
    assert [h for h in fake.state.hints if h.context == f"t{exempel.tenant.pk}-hints"] == other_hints
    assert result.render_scope == f"companies {demo.tenant.pk}" and result.check_scope == "what changed"
    assert on_disk(applied) == render_from_db(node=applied)


def test_a_new_queue_agent_is_added_to_the_queue_and_the_agents_context(applied, fake, demo, alice, eva):
    queue = demo.queues["Sales"]
    actions.do_save_object(alice, QueueAgent(tenant=demo.tenant, queue=queue, user=eva, logged_in=True))
    result = apply_node(applied, tenant_ids=[demo.tenant.pk])
    assert result.ok, result.message
    assert "pbx_config" not in fake.ami.reloads and result.reloads == []
    assert contexts_touched(fake) == {f"t{demo.tenant.pk}-agents"}
    adds = fake.ami.actions("QueueAdd")
    assert [(r.get("Queue"), r.get("Interface")) for r in adds] == [
        (f"t{demo.tenant.pk}-q{queue.pk}", f"Local/{eva.pk}@t{demo.tenant.pk}-agents/n")]
    assert result.actions["QueueAdd"] == 1


def test_an_edited_menu_changes_only_that_menu(applied, fake, demo, alice):
    option = IvrOption.objects.get(menu=demo.menu, digit="0")
    option.digit = "9"
    actions.do_save_object(alice, option)
    result = apply_node(applied, tenant_ids=[demo.tenant.pk])
    assert result.ok, result.message
    assert result.reloads == [] and not result.dialplan_reload
    assert contexts_touched(fake) == {f"t{demo.tenant.pk}-menu-{demo.menu.pk}"}
    context = f"t{demo.tenant.pk}-menu-{demo.menu.pk}"
    assert (context, "9", "1") in fake.state.extensions and (context, "0", "1") not in fake.state.extensions


def test_a_changed_queue_reloads_only_app_queue(applied, fake, demo, alice):
    queue = demo.queues["Support"]
    queue.wrapup_seconds = 42
    actions.do_save_object(alice, queue)
    result = apply_node(applied, tenant_ids=[demo.tenant.pk])
    assert result.ok, result.message
    assert result.changed_files == ["queues.conf"]
    assert [(r.action, r.get("Module")) for r in _requests(fake) if r.action == "Reload"] == [
        ("Reload", "app_queue.so")]
    assert "DialplanExtensionAdd" not in names(fake)


def test_an_apply_for_one_company_renders_only_that_company(applied, fake, exempel, carol, demo):
    queue = exempel.queues["Support"]
    queue.wrapup_seconds = 7
    actions.do_save_object(carol, queue)
    result = apply_node(applied, tenant_ids=[demo.tenant.pk])
    assert result.ok and result.nothing_changed and result.render_scope == f"companies {demo.tenant.pk}"
    whole = apply_node(applied)  # the command, or the next apply that names Exempel
    assert whole.render_scope == "whole node" and whole.changed_files == ["queues.conf"]
    assert on_disk(applied) == render_from_db(node=applied)


def test_new_phones_go_through_ari_when_pjsip_has_a_writable_wizard(applied, fake, demo, alice, settings):
    settings.ASTERISK_PJSIP_DYNAMIC = True
    fake.fake.ari.sorcery_writable = {"endpoint", "auth", "aor"}
    device = actions.do_create_device(alice, demo.users[0], kind="soft", label="Mobil")
    result = apply_node(applied, tenant_ids=[demo.tenant.pk])
    assert result.ok, result.message
    assert "res_pjsip" not in fake.ami.reloads
    puts = [r.path for r in fake.ari.requests if r.method == "PUT"]
    endpoint = f"t{demo.tenant.pk}-{device.sip_username}"
    assert f"/ari/asterisk/config/dynamic/res_pjsip/endpoint/{endpoint}" in puts
    assert [p.split("/")[-2] for p in puts] == ["auth", "aor", "endpoint"]


def test_a_later_pjsip_reload_drops_the_memory_copies(applied, fake, demo, alice, settings):
    """After the reload the file has every object; a memory copy would outlive the device's deletion."""
    settings.ASTERISK_PJSIP_DYNAMIC = True
    fake.fake.ari.sorcery_writable = {"endpoint", "auth", "aor"}
    device = actions.do_create_device(alice, demo.users[0], kind="soft", label="Mobil")
    assert apply_node(applied, tenant_ids=[demo.tenant.pk]).ok
    assert len(fake.ari.config_objects) == 3
    actions.do_delete_object(alice, device)
    result = apply_node(applied, tenant_ids=[demo.tenant.pk])
    assert result.ok, result.message
    assert "res_pjsip" in fake.ami.reloads
    assert fake.ari.config_objects == {} and result.actions["ARI DELETE"] == 3
    assert not (Path(applied.generated_dir) / APPLIED_DIR / "dynamic-pjsip.json").exists()


def test_without_a_writable_wizard_new_phones_fall_back_to_the_pjsip_reload(applied, fake, demo, alice, settings):
    settings.ASTERISK_PJSIP_DYNAMIC = True
    actions.do_create_device(alice, demo.users[0], kind="soft", label="Mobil")
    result = apply_node(applied, tenant_ids=[demo.tenant.pk])
    assert result.ok, result.message
    assert "res_pjsip" in fake.ami.reloads
    assert any("memory wizard" in note for note in result.notes)


def test_async_code_applies_with_its_own_connection(applied, fake, demo, alice):
    """The bridge's way: aapply_node with the AMI client of its own loop."""
    from asgiref.sync import async_to_sync

    from pbx.asterisk.ami import AmiClient
    from pbx.asterisk.apply import aapply_node

    queue = demo.queues["Support"]
    queue.wrapup_seconds = 31
    actions.do_save_object(alice, queue)

    async def with_client():
        client = AmiClient("127.0.0.1", fake.ami.port, DEFAULT_USERNAME, DEFAULT_SECRET, events=False)
        await client.start()
        await client.wait_connected(5)
        try:
            return await aapply_node(applied, ami=client, tenant_ids=[demo.tenant.pk])
        finally:
            await client.stop()

    result = async_to_sync(with_client)()
    assert result.ok and result.reloads == ["app_queue.so"]
    assert len({session for session, _request in fake.ami.received}) == 1  # no second connection


# --------------------------------------------------------------------------------------------- failures


def test_a_failing_check_writes_nothing_and_keeps_asterisk_as_it_is(applied, fake, demo, alice, settings):
    before = on_disk(applied)
    prompt = Prompt.objects.get(pk=demo.menu.prompt_id)
    missing = Path(settings.ASTERISK_SOUNDS_DIR) / f"{prompt.sound_name.removeprefix('custom/')}.wav"
    saved = missing.read_bytes()
    missing.unlink()  # the menu's prompt is gone from the disk, and the menu changes
    try:
        demo.menu.timeout_seconds = 7
        actions.do_save_object(alice, demo.menu)
        result = apply_node(applied, tenant_ids=[demo.tenant.pk])
    finally:
        missing.write_bytes(saved)
    # The company's part is refused, so the company stays as it runs: nothing else changed, nothing to do.
    assert list(result.held) == [demo.tenant.pk]
    assert result.held[demo.tenant.pk][0]["code"] == "missing-prompt"
    assert prompt.sound_name in result.held[demo.tenant.pk][0]["detail"]
    assert on_disk(applied) == before
    assert fake.ami.received == []
    applied.refresh_from_db()
    assert applied.last_apply_ok is False
    assert f"Company {demo.tenant.pk} is held" in applied.last_apply_message
    assert prompt.sound_name in applied.last_apply_message
    demo.tenant.refresh_from_db()
    assert demo.tenant.config_held_at is not None


def test_a_failing_reload_restores_the_previous_files(applied, fake, demo, alice):
    before = on_disk(applied)
    fake.ami.fail_reload("app_queue")
    queue = demo.queues["Support"]
    queue.wrapup_seconds = 21
    actions.do_save_object(alice, queue)
    result = apply_node(applied, tenant_ids=[demo.tenant.pk])
    assert not result.ok
    assert "Reload app_queue.so failed" in result.message
    assert on_disk(applied) == before
    assert read_running(Path(applied.generated_dir)) == before
    applied.refresh_from_db()
    assert applied.last_apply_ok is False and "Reload app_queue.so failed" in applied.last_apply_message
    fake.ami.reload_failures.clear()
    again = apply_node(applied, tenant_ids=[demo.tenant.pk])
    assert again.ok and again.changed_files == ["queues.conf"]


def test_a_refused_dialplan_action_undoes_the_ones_before_it(applied, fake, demo, alice):
    """A person and their menu entry: the second context's action fails, the first one is taken back."""
    before = on_disk(applied)
    extensions_before = dict(fake.state.extensions)
    person = actions.do_create_user(alice, demo.tenant, email="nils@demo.example", first_name="Nils",
                                    extension="1050")
    actions.do_create_device(alice, person)
    hints = f"t{demo.tenant.pk}-hints"
    # Someone added the same hint behind our back: DialplanExtensionAdd without Replace is refused.
    fake.run(lambda: fake.state.extensions.__setitem__((hints, "1050", "hint"), ("PJSIP/x", "")))
    result = apply_node(applied, tenant_ids=[demo.tenant.pk])
    assert not result.ok and "DialplanExtensionAdd 1050@" in result.message
    assert on_disk(applied) == before
    added = {k for k in fake.state.extensions if k not in extensions_before and k != (hints, "1050", "hint")}
    assert added == set()


def test_an_unreachable_asterisk_leaves_the_files_alone(applied, demo, alice):
    before = on_disk(applied)
    applied.ami_port = 1  # nothing listens there
    applied.save()
    queue = demo.queues["Support"]
    queue.wrapup_seconds = 33
    actions.do_save_object(alice, queue)
    result = apply_node(applied)
    assert not result.ok and "not reachable" in result.message
    assert on_disk(applied) == before


# --------------------------------------------------------------------------------------------- queue members


def test_the_apply_makes_the_queue_members_match_the_database(applied, fake, demo, alice):
    support = demo.queues["Support"]
    name = f"t{demo.tenant.pk}-q{support.pk}"
    bob, cecilia = demo.agents[0], demo.agents[1]
    QueueAgent.objects.filter(queue=support, user=cecilia).update(logged_in=False)
    QueueAgent.objects.filter(queue=support, user=bob).update(paused=True, pause_reason="Lunch")

    def stale():
        queue = fake.state.queues[name]
        queue.members["local/999@x-agents/n"] = QueueMember("Local/999@x-agents/n", "999", "Local/999@x-agents/n")

    fake.run(stale)
    support.wrapup_seconds = 9
    actions.do_save_object(alice, support)
    result = apply_node(applied, tenant_ids=[demo.tenant.pk])
    assert result.ok, result.message
    members = fake.state.queues[name].members
    assert f"local/{cecilia.pk}@t{demo.tenant.pk}-agents/n" not in members
    assert "local/999@x-agents/n" not in members
    assert members[f"local/{bob.pk}@t{demo.tenant.pk}-agents/n"].paused is True
    assert result.actions["QueueRemove"] == 2 and result.actions["QueuePause"] == 1


# --------------------------------------------------------------------------------------------- debounce


def test_many_edits_give_one_apply(applied, fake, demo, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for n, queue in enumerate(demo.queues.values()):
            queue.wrapup_seconds = 50 + n
            actions.do_save_object(alice, queue)
        actions.do_save_object(alice, Device(tenant=demo.tenant, user=demo.users[1], kind="soft"))
        demo.menu.timeout_seconds = 8
        actions.do_save_object(alice, demo.menu)
    assert pending().nodes() == [applied.pk]
    results = flush_pending_applies()
    assert len(results) == 1 and results[0].ok, results[0].message
    assert sorted(results[0].changed_files) == ["extensions.conf", "pjsip.conf", "queues.conf"]
    assert names(fake).count("Reload") == 2
    assert pending().nodes() == []
    assert flush_pending_applies() == []


def test_one_companys_failing_check_does_not_hold_back_the_others(applied, fake, demo, exempel, alice, carol,
                                                                  settings, django_capture_on_commit_callbacks):
    prompt = Prompt.objects.get(pk=demo.menu.prompt_id)
    missing = Path(settings.ASTERISK_SOUNDS_DIR) / f"{prompt.sound_name.removeprefix('custom/')}.wav"
    saved = missing.read_bytes()
    missing.unlink()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            demo.menu.timeout_seconds = 6
            actions.do_save_object(alice, demo.menu)
            queue = exempel.queues["Support"]
            queue.wrapup_seconds = 17
            actions.do_save_object(carol, queue)
        flush_pending_applies()
    finally:
        missing.write_bytes(saved)
    assert read_running(Path(applied.generated_dir))["queues.conf"] == render_from_db(node=applied)["queues.conf"]
    assert [r.get("Module") for r in fake.ami.actions("Reload")] == ["app_queue.so"]
    applied.refresh_from_db()
    assert applied.last_apply_ok is False
    assert f"Company {demo.tenant.pk} is held at its last good configuration" in applied.last_apply_message
    # Not retried with every apply: the company's next change (or a whole-node apply) tries it again.
    assert pending().take(applied.pk) == set()
    demo.tenant.refresh_from_db()
    exempel.tenant.refresh_from_db()
    assert demo.tenant.config_held_problems and exempel.tenant.config_held_at is None


def test_the_task_fails_for_a_retry_while_asterisk_is_away(applied, demo, alice):
    from pbx.asterisk.apply import ApplyError
    from pbx.tasks import apply_tenant_config

    applied.ami_port = 1
    applied.save()
    queue = demo.queues["Support"]
    queue.wrapup_seconds = 19
    actions.do_save_object(alice, queue)
    request_apply(applied.pk, demo.tenant.pk)
    with pytest.raises(ApplyError, match="not reachable"):
        apply_tenant_config.call_local(applied.pk)
    assert pending().take(applied.pk) == {demo.tenant.pk}  # the retry applies the same companies


def test_an_edit_after_the_apply_asks_for_another(applied, demo, alice, django_capture_on_commit_callbacks):
    store = MemoryPending()
    assert store.add(applied.pk, demo.tenant.pk) is True
    assert store.add(applied.pk, demo.tenant.pk + 1) is False
    assert store.take(applied.pk) == {demo.tenant.pk, demo.tenant.pk + 1}
    assert store.add(applied.pk, demo.tenant.pk) is True


def test_with_a_worker_the_first_edit_schedules_one_delayed_apply(monkeypatch, demo):
    import pbx.tasks as tasks

    scheduled = []

    class Queue:
        immediate = False

    store = MemoryPending()
    monkeypatch.setattr(tasks, "HUEY", Queue)
    monkeypatch.setattr(tasks, "_pending", store)
    monkeypatch.setattr(tasks.apply_tenant_config, "schedule",
                        lambda args, delay: scheduled.append((args, delay)))
    for _ in range(5):
        request_apply(7, demo.tenant.pk)
    assert scheduled == [((7,), tasks.DEBOUNCE_SECONDS)]
    store.take(7)
    request_apply(7, demo.tenant.pk)
    assert len(scheduled) == 2


def test_the_redis_store_collects_companies_until_taken():
    from django.conf import settings

    if not settings.REDIS_URL:
        pytest.skip("no REDIS_URL")
    from pbx.tasks import RedisPending

    store = RedisPending(settings.REDIS_URL)
    node_id = 987654
    store.take(node_id)
    assert store.add(node_id, 1) is True
    assert store.add(node_id, 2) is False
    assert node_id in store.nodes()
    assert store.take(node_id) == {1, 2}
    assert store.add(node_id, 3) is True
    assert store.take(node_id) == {3}


def test_config_changed_is_received_and_waits_for_the_flush(applied, demo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        config_changed.send(sender=None, tenant_id=demo.tenant.pk)
    assert pending().nodes() == [applied.pk]


# --------------------------------------------------------------------------------------------- the command


def test_the_command_prints_what_it_did(applied, fake, demo, alice):
    queue = demo.queues["Support"]
    queue.wrapup_seconds = 44
    actions.do_save_object(alice, queue)
    out = io.StringIO()
    call_command("apply_asterisk", "--node", applied.name, stdout=out)
    text = out.getvalue()
    assert f"node {applied.name}: OK" in text
    assert "files changed: queues.conf" in text and "module reloads: app_queue.so" in text
    assert "dialplan: 0 AMI actions" in text


def test_the_command_dry_run_writes_and_sends_nothing(applied, fake, demo, alice):
    before = on_disk(applied)
    queue = demo.queues["Support"]
    queue.wrapup_seconds = 45
    actions.do_save_object(alice, queue)
    out = io.StringIO()
    call_command("apply_asterisk", "--node", applied.name, "--dry-run", stdout=out)
    assert "dry run" in out.getvalue() and "files changed: queues.conf" in out.getvalue()
    assert on_disk(applied) == before and fake.ami.received == []


def test_the_command_exits_non_zero_on_failure(applied, fake, demo, alice):
    fake.ami.fail_reload("app_queue")
    queue = demo.queues["Support"]
    queue.wrapup_seconds = 46
    actions.do_save_object(alice, queue)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("apply_asterisk", "--node", applied.name, stdout=out, stderr=err)
    assert exit_info.value.code == 1
    assert "FAILED" in out.getvalue() and "Reload app_queue.so failed" in out.getvalue()


def test_the_command_force_reloads_everything(applied, fake):
    out = io.StringIO()
    call_command("apply_asterisk", "--node", applied.name, "--force", stdout=out)
    assert "pbx_config" in fake.ami.reloads and "app_queue" in fake.ami.reloads


def test_an_applied_directory_keeps_what_asterisk_runs(applied):
    directory = Path(applied.generated_dir)
    for name in GENERATED:
        assert (directory / APPLIED_DIR / name).samefile(directory / name)


def test_queue_model_names_match_the_generated_queues(applied, fake, demo):
    for queue in Queue.objects.filter(tenant=demo.tenant):
        assert f"t{demo.tenant.pk}-q{queue.pk}" in fake.state.queues


def test_the_pjsip_difference_keeps_templates_and_changed_sections_only():
    from pbx.asterisk.apply import pjsip_difference

    old = "; head\n\n[tpl](!)\ntype = endpoint\n\n[a](tpl)\nallow = ulaw\n\n[b](tpl)\nallow = alaw\n"
    new = old + "\n[c](tpl)\nallow = g722\n"
    before, after = pjsip_difference(old, new)
    assert "[a]" not in before and "[a]" not in after  # the same text on both sides: left out
    assert "[tpl](!)" in before and "[tpl](!)" in after and "[c](tpl)" in after
    changed_template = new.replace("type = endpoint", "type = endpoint\ncontext = x")
    assert pjsip_difference(old, changed_template) == (old, changed_template)
