"""What Asterisk must do to go from the running files to new ones, without ``dialplan reload``.

``plan_changes(old_files, new_files)`` is pure: it compares two renders and says

- which modules to reload for the files that changed (``Reload`` action, ``Module:`` header):
  pjsip.conf → res_pjsip.so, queues.conf → app_queue.so, voicemail.conf → app_voicemail.so,
  musiconhold.conf → res_musiconhold.so, features.conf → features, confbridge.conf →
  app_confbridge.so;
- for extensions.conf, the difference per context as AMI actions: DialplanExtensionAdd (with
  ``Replace: yes`` for a changed priority), DialplanExtensionRemove, and ``Command`` actions for
  includes (``dialplan add include X into Y`` / ``dialplan remove include X from Y``) and for
  contexts that are gone (``dialplan remove context X``). A change to one company touches only
  its contexts; the 10,000 hints of the others are never reloaded, so BLF subscriptions survive.

When the difference cannot be expressed exactly through AMI, ``dialplan_reload`` is set with the
reason: priority labels (DialplanExtensionAdd has no label field: pbx_config.c passes NULL), a
context that would only hold includes (an include needs an existing context, and AMI creates a
context only by adding an extension to it), changed ``[globals]``, no previous file, or more
actions than ``max_actions``.

pjsip.conf: the default is ``module reload res_pjsip.so`` (about 1 s at 10,000 endpoints; live
calls are not touched). With ``pjsip_dynamic=True`` a change that only *adds* endpoint/auth/aor
objects is expressed as ARI ``PUT /asterisk/config/dynamic/res_pjsip/<type>/<id>`` requests
instead; that needs a writable sorcery wizard after the config one (docs/dialplan.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pbx.asterisk.confgen.parse import (
    Context,
    Extension,
    block_difference,
    expanded,
    gc_paused,
    parse_conf,
    parse_dialplan_text,
)

MODULES = {
    "pjsip.conf": "res_pjsip.so",
    "queues.conf": "app_queue.so",
    "voicemail.conf": "app_voicemail.so",
    "musiconhold.conf": "res_musiconhold.so",
    "features.conf": "features",
    "confbridge.conf": "app_confbridge.so",
}
DYNAMIC_PJSIP_TYPES = ("auth", "aor", "endpoint")  # created in this order: an endpoint needs both


@dataclass(frozen=True)
class AriConfigRequest:
    method: str
    path: str
    fields: tuple[tuple[str, str], ...]

    def body(self) -> dict:
        return {"fields": [{"attribute": k, "value": v} for k, v in self.fields]}


@dataclass
class Plan:
    changed_files: list[str] = field(default_factory=list)
    reload_modules: list[str] = field(default_factory=list)
    dialplan_actions: list[dict[str, str]] = field(default_factory=list)
    dialplan_reload: bool = False
    ari_requests: list[AriConfigRequest] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    changed_contexts: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.reload_modules or self.dialplan_actions or self.dialplan_reload or self.ari_requests)

    def ami_actions(self) -> list[dict[str, str]]:
        """Everything as AMI actions, in the order to send them."""
        actions = [{"Action": "Reload", "Module": module} for module in self.reload_modules]
        if self.dialplan_reload:
            actions.append({"Action": "Command", "Command": "dialplan reload"})
        else:
            actions.extend(self.dialplan_actions)
        return actions


def plan_changes(
    old_files: dict[str, str], new_files: dict[str, str], *, pjsip_dynamic: bool = False, max_actions: int = 20000
) -> Plan:
    with gc_paused():
        return _plan(old_files, new_files, pjsip_dynamic, max_actions)


def _plan(old_files: dict[str, str], new_files: dict[str, str], pjsip_dynamic: bool, max_actions: int) -> Plan:
    plan = Plan()
    for name in sorted(set(old_files) | set(new_files)):
        if old_files.get(name) != new_files.get(name):
            plan.changed_files.append(name)
    for name in plan.changed_files:
        if name == "extensions.conf":
            _plan_dialplan(plan, old_files.get(name), new_files.get(name, ""), max_actions)
        elif name == "pjsip.conf" and pjsip_dynamic and name in old_files:
            requests = _pjsip_additions(old_files[name], new_files.get(name, ""))
            if requests is None:
                plan.reload_modules.append(MODULES[name])
                plan.reasons.append("pjsip.conf: objects changed or removed, so res_pjsip.so is reloaded")
            else:
                plan.ari_requests.extend(requests)
        elif name in MODULES:
            plan.reload_modules.append(MODULES[name])
    return plan


# -- dialplan ---------------------------------------------------------------------------------


def _lines(extension: Extension) -> list[tuple[str, str, str]]:
    """An extension as (priority, application, data) in order; the hint as priority 'hint'."""
    lines = [(str(n), p.app, p.data) for n, p in sorted(extension.priorities.items())]
    if extension.hint is not None:
        lines.append(("hint", extension.hint.data, ""))
    return lines


def _add(context: str, exten: str, priority: str, app: str, data: str, replace: bool) -> dict[str, str]:
    # A hint is stored like pbx_config loads it: the whole "devices,presence" as its application.
    action = {"Action": "DialplanExtensionAdd", "Context": context, "Extension": exten, "Priority": priority,
              "Application": app, "ApplicationData": data}
    if replace:
        action["Replace"] = "yes"
    return action


def _remove(context: str, exten: str, priority: str | None = None) -> dict[str, str]:
    action = {"Action": "DialplanExtensionRemove", "Context": context, "Extension": exten}
    if priority is not None:
        action["Priority"] = priority
    return action


def _command(command: str) -> dict[str, str]:
    return {"Action": "Command", "Command": command}


def _has_labels(context: Context) -> bool:
    return any(p.label for e in context.extensions.values() for p in e.priorities.values())


def _plan_dialplan(plan: Plan, old_text: str | None, new_text: str, max_actions: int) -> None:
    if old_text is None:
        plan.dialplan_reload = True
        plan.reasons.append("extensions.conf: no previous file, the whole dialplan is loaded")
        return
    # Only the contexts whose text differs are parsed: a one-company change on a 1,000-company
    # node parses a few dozen lines, not 300,000.
    difference = block_difference(old_text, new_text)
    old_blocks, new_blocks = difference.old, difference.new
    for special in ("general", "globals"):
        if old_blocks.get(special) != new_blocks.get(special):
            plan.dialplan_reload = True
            plan.reasons.append(f"extensions.conf: [{special}] changed")
            return
    changed = sorted(n for n in set(old_blocks) | set(new_blocks) if n and old_blocks.get(n) != new_blocks.get(n))
    old = parse_dialplan_text("".join(old_blocks[n] for n in changed if n in old_blocks)).contexts
    new = parse_dialplan_text("".join(new_blocks[n] for n in changed if n in new_blocks)).contexts
    created: list[dict[str, str]] = []
    actions: list[dict[str, str]] = []
    include_actions: list[dict[str, str]] = []
    removals: list[dict[str, str]] = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if after is None:
            for include in before.includes:
                removals.append(_command(f"dialplan remove include {include} from {name}"))
            removals.append(_command(f"dialplan remove context {name}"))
            plan.changed_contexts.append(name)
            continue
        if before is not None and _same_context(before, after):
            continue
        plan.changed_contexts.append(name)
        if _has_labels(after):
            plan.dialplan_reload = True
            plan.reasons.append(f"extensions.conf: {name} uses priority labels, which AMI cannot add")
            return
        if before is None and not after.extensions and after.includes:
            plan.dialplan_reload = True
            plan.reasons.append(f"extensions.conf: new context {name} holds only includes; AMI cannot create it")
            return
        _diff_context(created if before is None else actions, name, before, after)
        _diff_includes(include_actions, name, before.includes if before else [], after.includes)
    # New contexts first (so nothing jumps into a context that is not there yet), then changed
    # ones, then includes (their contexts exist by then), then what is gone.
    plan.dialplan_actions = created + actions + include_actions + removals
    if len(plan.dialplan_actions) > max_actions:
        plan.dialplan_actions = []
        plan.dialplan_reload = True
        plan.reasons.append(f"extensions.conf: more than {max_actions} changes, a reload is faster")


def _same_context(a: Context, b: Context) -> bool:
    if a.includes != b.includes or a.extensions.keys() != b.extensions.keys():
        return False
    return all(
        _lines(a.extensions[k]) == _lines(b.extensions[k]) and a.extensions[k].labels == b.extensions[k].labels
        for k in a.extensions
    )


def _diff_context(actions: list[dict[str, str]], name: str, before: Context | None, after: Context) -> None:
    old_extensions = before.extensions if before else {}
    for exten, extension in after.extensions.items():
        new_lines = _lines(extension)
        old_ext = old_extensions.get(exten)
        old_lines = _lines(old_ext) if old_ext else []
        if new_lines == old_lines:
            continue
        old_by_priority = {p: (a, d) for p, a, d in old_lines}
        new_priorities = set()
        for priority, app, data in new_lines:
            new_priorities.add(priority)
            if old_by_priority.get(priority) == (app, data):
                continue
            actions.append(_add(name, exten, priority, app, data, replace=priority in old_by_priority))
        # Priorities that are gone, last first, after the new ones are in place.
        for priority, _app, _data in reversed(old_lines):
            if priority not in new_priorities:
                actions.append(_remove(name, exten, priority))
    for exten in old_extensions:
        if exten not in after.extensions:
            actions.append(_remove(name, exten))


def _diff_includes(actions: list[dict[str, str]], name: str, old: list[str], new: list[str]) -> None:
    """Includes are searched in order and ``dialplan add include`` appends: keep the order right."""
    if old == new:
        return
    kept = [i for i in old if i in new]
    appended_only = new[:len(kept)] == kept and kept == [i for i in new if i in old]
    if not appended_only:
        for include in old:
            actions.append(_command(f"dialplan remove include {include} from {name}"))
        for include in new:
            actions.append(_command(f"dialplan add include {include} into {name}"))
        return
    for include in old:
        if include not in new:
            actions.append(_command(f"dialplan remove include {include} from {name}"))
    for include in new[len(kept):]:
        actions.append(_command(f"dialplan add include {include} into {name}"))


# -- pjsip ----------------------------------------------------------------------------------------


def _pjsip_objects(text: str) -> dict[tuple[str, str], tuple[tuple[str, str], ...]]:
    objects = {}
    for section, values in expanded(parse_conf(text)):
        kind = (values.get("type") or [""])[-1]
        fields = tuple((key, value) for key, items in values.items() if key != "type" for value in items)
        objects[(section.name, kind)] = fields
    return objects


def _pjsip_additions(old_text: str, new_text: str) -> list[AriConfigRequest] | None:
    """ARI requests when the change only adds endpoint/auth/aor objects; None otherwise."""
    old, new = _pjsip_objects(old_text), _pjsip_objects(new_text)
    if any(key not in new or new[key] != fields for key, fields in old.items()):
        return None
    added = [key for key in new if key not in old]
    if any(kind not in DYNAMIC_PJSIP_TYPES for _name, kind in added):
        return None
    order = {kind: i for i, kind in enumerate(DYNAMIC_PJSIP_TYPES)}
    return [
        AriConfigRequest("PUT", f"/asterisk/config/dynamic/res_pjsip/{kind}/{name}", new[(name, kind)])
        for name, kind in sorted(added, key=lambda k: (order[k[1]], k[0]))
    ]
