"""plan_changes: which reloads and which AMI dialplan actions take Asterisk from old files to new.

The dialplan actions are also *played* on a model of Asterisk's dialplan (add, replace, remove,
includes, contexts, with Asterisk's rules: no add over an existing priority without Replace, a
context exists once an extension is added to it) and must give exactly the new file's dialplan.
"""

from __future__ import annotations

import pytest

from pbx import actions
from pbx.asterisk.confgen import render_from_db
from pbx.asterisk.confgen.parse import parse_dialplan_text
from pbx.asterisk.plan import plan_changes
from pbx.models import IvrOption, Queue


def dialplan_model(text: str) -> dict[str, dict]:
    model = {}
    for name, context in parse_dialplan_text(text).contexts.items():
        extensions = {}
        for exten, extension in context.extensions.items():
            priorities = {str(n): (p.app, p.data) for n, p in extension.priorities.items()}
            if extension.hint is not None:
                priorities["hint"] = (extension.hint.data, "")
            extensions[exten] = priorities
        model[name] = {"extensions": extensions, "includes": list(context.includes)}
    return model


def play(model: dict[str, dict], plan_actions: list[dict[str, str]]) -> dict[str, dict]:
    """Apply AMI actions the way Asterisk does, refusing what Asterisk would refuse."""
    for action in plan_actions:
        kind = action["Action"]
        if kind == "DialplanExtensionAdd":
            assert action["Priority"] == "hint" or action["Priority"].isdigit(), action
            assert action["Application"], action
            context = model.setdefault(action["Context"], {"extensions": {}, "includes": []})
            priorities = context["extensions"].setdefault(action["Extension"], {})
            if action["Priority"] in priorities:
                assert action.get("Replace") == "yes", f"would fail without Replace: {action}"
            priorities[action["Priority"]] = (action["Application"], action["ApplicationData"])
        elif kind == "DialplanExtensionRemove":
            extensions = model[action["Context"]]["extensions"]
            if "Priority" in action:
                del extensions[action["Extension"]][action["Priority"]]
                if not extensions[action["Extension"]]:
                    del extensions[action["Extension"]]
            else:
                del extensions[action["Extension"]]
        elif kind == "Command":
            words = action["Command"].split()
            if words[:3] == ["dialplan", "add", "include"]:
                model[words[5]]["includes"].append(words[3])
            elif words[:3] == ["dialplan", "remove", "include"]:
                model[words[5]]["includes"].remove(words[3])
            elif words[:3] == ["dialplan", "remove", "context"]:
                del model[words[3]]
            else:
                raise AssertionError(f"unexpected command {action}")
        else:
            raise AssertionError(f"unexpected action {action}")
    return model


def assert_plays_to_the_new_dialplan(old: dict[str, str], new: dict[str, str]) -> None:
    plan = plan_changes(old, new)
    assert not plan.dialplan_reload, plan.reasons
    assert play(dialplan_model(old["extensions.conf"]), plan.dialplan_actions) == dialplan_model(new["extensions.conf"])


def test_nothing_changed_is_an_empty_plan(demo, exempel):
    files = render_from_db()
    plan = plan_changes(files, files)
    assert plan.is_empty
    assert plan.ami_actions() == []
    assert plan.changed_files == []


def test_a_new_person_touches_only_that_companys_contexts_and_pjsip(demo, exempel):
    old = render_from_db()
    user = actions.do_create_user(None, demo.tenant, email="new@demo.example", first_name="Nea", extension="1099")
    actions.do_create_device(None, user)
    new = render_from_db()
    plan = plan_changes(old, new)
    assert plan.changed_files == ["extensions.conf", "pjsip.conf"]
    assert plan.reload_modules == ["res_pjsip.so"]
    prefix = f"t{demo.tenant.pk}-"
    assert plan.changed_contexts == [f"{prefix}extensions", f"{prefix}hints", f"{prefix}pickup", f"{prefix}user-{user.pk}"]
    assert all(a["Action"] == "DialplanExtensionAdd" and a["Context"].startswith(prefix) for a in plan.dialplan_actions)
    hint = next(a for a in plan.dialplan_actions if a["Priority"] == "hint")
    assert hint["Extension"] == "1099"
    assert hint["Application"].endswith(f",CustomPresence:{prefix}u{user.pk}")
    assert {"Action": "Command", "Command": "dialplan reload"} not in plan.ami_actions()
    assert_plays_to_the_new_dialplan(old, new)


def test_with_dynamic_pjsip_a_new_device_is_created_through_ari(demo):
    old = render_from_db()
    user = actions.do_create_user(None, demo.tenant, email="ari@demo.example", extension="1098")
    device = actions.do_create_device(None, user)
    plan = plan_changes(old, render_from_db(), pjsip_dynamic=True)
    assert plan.reload_modules == []
    assert [r.path for r in plan.ari_requests] == [
        f"/asterisk/config/dynamic/res_pjsip/auth/{device.endpoint}",
        f"/asterisk/config/dynamic/res_pjsip/aor/{device.endpoint}",
        f"/asterisk/config/dynamic/res_pjsip/endpoint/{device.endpoint}",
    ]
    endpoint = dict(plan.ari_requests[2].fields)
    assert endpoint["context"] == f"t{demo.tenant.pk}-internal"
    assert endpoint["disallow"] == "all"  # the template's options are folded in
    assert plan.ari_requests[0].body()["fields"][0] == {"attribute": "auth_type", "value": "userpass"}


def test_with_dynamic_pjsip_a_changed_secret_still_reloads(demo, bob):
    old = render_from_db()
    actions.do_regenerate_device_secret(None, bob.devices.first())
    plan = plan_changes(old, render_from_db(), pjsip_dynamic=True)
    assert plan.reload_modules == ["res_pjsip.so"] and plan.ari_requests == []


def test_a_queue_setting_reloads_app_queue_only(demo):
    old = render_from_db()
    queue = demo.queues["Sales"]
    queue.wrapup_seconds = 30
    actions.do_save_object(None, queue)
    plan = plan_changes(old, render_from_db())
    assert plan.changed_files == ["queues.conf"]
    assert plan.reload_modules == ["app_queue.so"]
    assert plan.dialplan_actions == []


def test_a_removed_menu_key_removes_that_extension(demo):
    old = render_from_db()
    option = IvrOption.objects.get(menu=demo.menu, digit="2")
    actions.do_delete_object(None, option)
    new = render_from_db()
    plan = plan_changes(old, new)
    assert plan.dialplan_actions == [
        {"Action": "DialplanExtensionRemove", "Context": f"t{demo.tenant.pk}-menu-{demo.menu.pk}", "Extension": "2"}
    ]
    assert_plays_to_the_new_dialplan(old, new)


def test_a_deleted_queue_removes_its_contexts(demo):
    old = render_from_db()
    queue = Queue.objects.create(tenant=demo.tenant, name="Temp", extension="299", callback_enabled=True)
    middle = render_from_db()
    assert_plays_to_the_new_dialplan(old, middle)
    queue_id = queue.pk
    queue.delete()
    plan = plan_changes(middle, render_from_db())
    commands = [a["Command"] for a in plan.dialplan_actions if a["Action"] == "Command"]
    assert f"dialplan remove context t{demo.tenant.pk}-queue-{queue_id}" in commands
    assert f"dialplan remove context t{demo.tenant.pk}-qexit-{queue_id}" in commands
    assert plan.reload_modules == ["app_queue.so"]
    assert_plays_to_the_new_dialplan(middle, render_from_db())


def test_a_shorter_extension_loses_its_last_priorities_after_the_new_ones_are_in(demo):
    old = render_from_db()
    new = dict(old)
    prefix = f"t{demo.tenant.pk}"
    new["extensions.conf"] = old["extensions.conf"].replace(
        f" same => n,VoiceMailMain(@{prefix})\n same => n,Hangup()\n", f" same => n,VoiceMailMain(@{prefix})\n"
    )
    plan = plan_changes(old, new)
    assert plan.dialplan_actions == [
        {"Action": "DialplanExtensionRemove", "Context": f"t{demo.tenant.pk}-internal", "Extension": "*98", "Priority": "3"}
    ]
    assert_plays_to_the_new_dialplan(old, new)


def test_a_changed_priority_is_replaced_in_place(demo):
    old = render_from_db()
    prefix = f"t{demo.tenant.pk}"
    new = dict(old)
    new["extensions.conf"] = old["extensions.conf"].replace(f"exten => *98,1,Answer()\n same => n,VoiceMailMain(@{prefix})",
                                                            f"exten => *98,1,Answer()\n same => n,VoiceMailMain(@{prefix},s)")
    assert plan_changes(old, new).dialplan_actions == [{
        "Action": "DialplanExtensionAdd", "Context": f"{prefix}-internal", "Extension": "*98", "Priority": "2",
        "Application": "VoiceMailMain", "ApplicationData": f"@{prefix},s", "Replace": "yes",
    }]


def include_files(includes: list[str]) -> dict[str, str]:
    lines = ["[t1-a]", *(f"include => {i}" for i in includes), "exten => s,1,Hangup()"]
    return {"extensions.conf": "\n".join(lines) + "\n"}


@pytest.mark.parametrize(("before", "after", "commands"), [
    (["t1-x"], ["t1-x", "t1-y"], ["dialplan add include t1-y into t1-a"]),
    (["t1-x", "t1-y"], ["t1-x"], ["dialplan remove include t1-y from t1-a"]),
    (["t1-x", "t1-y"], ["t1-y", "t1-x"], ["dialplan remove include t1-x from t1-a", "dialplan remove include t1-y from t1-a",
                                          "dialplan add include t1-y into t1-a", "dialplan add include t1-x into t1-a"]),
    (["t1-y"], ["t1-x", "t1-y"], ["dialplan remove include t1-y from t1-a", "dialplan add include t1-x into t1-a",
                                  "dialplan add include t1-y into t1-a"]),
])
def test_includes_keep_their_order(before, after, commands):
    old, new = include_files(before), include_files(after)
    plan = plan_changes(old, new)
    assert [a["Command"] for a in plan.dialplan_actions] == commands
    assert play(dialplan_model(old["extensions.conf"]), plan.dialplan_actions) == dialplan_model(new["extensions.conf"])


def test_what_ami_cannot_express_falls_back_to_a_dialplan_reload():
    base = {"extensions.conf": "[t1-a]\nexten => s,1,Hangup()\n"}
    labels = {"extensions.conf": "[t1-a]\nexten => s,1(start),Hangup()\n"}
    plan = plan_changes(base, labels)
    assert plan.dialplan_reload and "labels" in plan.reasons[0]
    assert plan.ami_actions() == [{"Action": "Command", "Command": "dialplan reload"}]
    only_includes = {"extensions.conf": base["extensions.conf"] + "\n[t1-b]\ninclude => t1-a\n"}
    assert "only includes" in plan_changes(base, only_includes).reasons[0]
    assert "no previous file" in plan_changes({}, base).reasons[0]
    globals_changed = {"extensions.conf": "[globals]\nX=1\n\n" + base["extensions.conf"]}
    assert "[globals] changed" in plan_changes(base, globals_changed).reasons[0]
    many = {"extensions.conf": base["extensions.conf"] + "".join(f"exten => {n},1,Hangup()\n" for n in range(100, 200))}
    assert "more than 50 changes" in plan_changes(base, many, max_actions=50).reasons[0]


@pytest.mark.parametrize(("name", "module"), [
    ("voicemail.conf", "app_voicemail.so"), ("musiconhold.conf", "res_musiconhold.so"),
    ("features.conf", "features"), ("confbridge.conf", "app_confbridge.so"), ("queues.conf", "app_queue.so"),
])
def test_each_file_reloads_its_module(name, module):
    assert plan_changes({name: "a\n"}, {name: "b\n"}).reload_modules == [module]
