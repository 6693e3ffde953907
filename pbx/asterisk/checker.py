"""Proof before apply: read the generated files back and refuse anything that could go wrong.

``check(files)`` parses every file with a real reader of Asterisk's config syntax
(:mod:`pbx.asterisk.confgen.parse`) and returns findings, each naming the file, the line and
what is wrong. An empty list means the configuration may be applied. It fails on:

- dangling references: Goto/GotoIf/GotoIfTime/Gosub/Originate/Local targets (context, extension,
  priority or label; includes followed, patterns matched), queues, endpoints, voicemail boxes,
  conference profiles, music classes and prompt files;
- a company's context that can reach another company's context, endpoint, queue or mailbox
  (edges: includes, jumps, Local channels, Originate, a queue's exit context); shared contexts
  are allowed only if whitelisted, and those may only reach each other;
- ``${EXTEN}`` reaching ``Dial()`` unless through ``FILTER()`` (also through a variable set from
  it), and ``${EXTEN}`` used unfiltered at all in a pattern that matches any character;
- a number routed to a company, sent to it from ``from-trunk`` or shown as its default caller ID that
  the operator did not assign it (given ``numbers``);
- a trunk's ``identify`` that matches a wide, non-public or the node's own network, or overlaps another
  company's (:mod:`pbx.asterisk.identify_check`);
- a control character anywhere in a generated value (only ``\n`` ends lines);
- text that is not escaped where a person could have typed it: an unescaped ``;`` or a block
  comment, a caller ID or mailbox line that does not parse back, a ``CALLERID(name)`` set to
  anything but plain text, and any application or function the generators never write.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pbx.asterisk.confgen.dialplan_shared import SHARED_SUBROUTINES
from pbx.asterisk.confgen.parse import (
    BlockDifference,
    ConfFile,
    Context,
    Dialplan,
    Extension,
    Layout,
    ObjectIndex,
    block_difference,
    context_blocks,
    expanded,
    gc_paused,
    layout,
    parse_conf,
    parse_dialplan_text,
    pattern_regex,
    section_spans,
    split_args,
    split_condition,
)
from pbx.asterisk.identify_check import check_identifies

TENANT_RE = re.compile(r"^t(\d+)-")
ENTRY_GLOBALS = {"from-trunk"}  # contexts outside companies that may jump into them (inbound only)
APPLICATIONS = {
    "Answer", "Background", "Busy", "ChanSpy", "ConfBridge", "Dial", "ExecIf", "Gosub", "Goto", "GotoIf", "GotoIfTime",
    "Hangup", "MixMonitor", "MSet", "NoOp", "Originate", "Pickup", "PickupChan", "Playback", "Queue", "Read", "Record",
    "Return", "SayDigits", "SayUnixTime", "Set", "UserEvent", "VoiceMail", "VoiceMailMain", "WaitExten",
    "WaitForCondition",
}
# MASTER_CHANNEL(): a variable of the call's first channel (its Linkedid's), e.g. that the caller has heard the
# recording announcement (docs/recording.md); a call never reaches another company's channels.
FUNCTIONS = {
    "CALLERID", "CHANNEL", "CHANNEL_EXISTS", "CUT", "DB", "DEVICE_STATE", "DIALPLAN_EXISTS", "EXTENSION_STATE",
    "FILTER", "GROUP", "GROUP_COUNT", "IF", "LEN", "LOCAL", "LOCK", "UNLOCK", "MASTER_CHANNEL", "PJSIP_DIAL_CONTACTS",
    "PRESENCE_STATE", "QUEUE_MEMBER", "STRFTIME",
}
# Shared subroutines given a person's devices as endpoint names joined by "&": (context, argument index).
ENDPOINT_ARGS = {"pbx-reachable": 0, "pbx-person": 3}
FUNC_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\(")
SET_FUNC_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\(")
LOCAL_RE = re.compile(r"Local/([^@&,()\s]+)@([^/&,()\s]+)")
MAILBOX_RE = re.compile(r"(?<![\w@/$-])([0-9]*)@(t\d+)(?![\w-])")
QUEUE_FUNC_RE = re.compile(r"QUEUE_MEMBER\(([^,)]+)")
VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?=[}:])")
SAFE_CALLERID_NAME_RE = re.compile(r'^[^"<>\\;,|${}\[\]()=&^`\x00-\x1f]*$')
CALLERID_RE = re.compile(r'^"[^"<>\\;]*"(?: <[0-9+]*>)?$')
SOUND_APPS = {"Background": 0, "Playback": 0, "Read": 1}
INBOUND_TARGET_RE = re.compile(r"^t(\d+)-inbound,(\+[0-9]+),1$")
CALLERID_CONSTANT_RE = re.compile(r"(?:^CALLERID\(num\)=|[?:])(\+[0-9]+)(?=[:)}]|$)")
SOUND_TOKEN_RE = re.compile(r"\Acustom/[A-Za-z0-9_/-]+\Z")


@dataclass(frozen=True, slots=True)
class Finding:
    file: str
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: [{self.code}] {self.message}"


_TENANTS: dict[str, str | None] = {}


def tenant_of(name: str) -> str | None:
    """The company a ``t<id>-...`` name belongs to (its id as text), None for shared names."""
    try:
        return _TENANTS[name]
    except KeyError:
        match = TENANT_RE.match(name)
        found = _TENANTS[name] = match.group(1) if match else None
        if len(_TENANTS) > 200_000:
            _TENANTS.clear()
        return found


def dynamic(text: str) -> bool:
    return "${" in text or "$[" in text


def remove_filtered(data: str) -> str:
    """The text of ``data`` with every ``${FILTER(...)}`` taken out (its content is safe)."""
    out = []
    i = 0
    while True:
        start = data.find("${FILTER(", i)
        if start == -1:
            out.append(data[i:])
            return "".join(out)
        out.append(data[i:start])
        depth = 0
        j = start + 1
        while j < len(data):
            if data[j] == "{":
                depth += 1
            elif data[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        i = j + 1


class Contexts:
    """The dialplan's contexts by name; those not checked this time are found and parsed only when a
    reference into them has to be resolved (``lazy``: the whole file's layout)."""

    def __init__(self, parsed: dict[str, Context], lazy: Layout | None, skip: frozenset[str] = frozenset()):
        self.parsed = parsed
        self.lazy = lazy
        self.skip = skip  # names whose generated sections were parsed already (into ``parsed``)
        self.missing: set[str] = set()

    def _load(self, name: str) -> Context | None:
        if self.lazy is None or name in self.missing or name in self.skip:
            return None
        found = self.lazy.blocks_named(name)
        if found is None:
            self.missing.add(name)
            return None
        context = self.parsed[name] = parse_dialplan_text(found[0], found[1]).contexts.get(name)
        return context

    def __contains__(self, name: str) -> bool:
        return name in self.parsed or self._load(name) is not None

    def get(self, name: str) -> Context | None:
        context = self.parsed.get(name)
        return context if context is not None else self._load(name)


@dataclass(frozen=True)
class Focus:
    """What changed since a configuration that passed: only this is checked (see check_changes)."""

    contexts: frozenset[str]
    pjsip_sections: frozenset[str]
    queue_sections: frozenset[str]


class _Either:
    """Membership in any of several collections (the base config's endpoints and ours)."""

    def __init__(self, *collections):
        self.collections = collections

    def __contains__(self, name: str) -> bool:
        return any(name in c for c in self.collections)


class Names:
    """Names of one type in an ObjectIndex, as a set-like membership test."""

    def __init__(self, index: ObjectIndex, kind: str):
        self.index, self.kind = index, kind

    def __contains__(self, name: str) -> bool:
        return (name, self.kind) in self.index


class Checker:
    def __init__(self, files: dict[str, str], sounds_dir: Path | None, base: dict[str, str] | None = None,
                 focus: Focus | None = None, stock_sounds: frozenset[str] | None = None, numbers=None,
                 parsed: dict[str, ConfFile] | None = None):
        self.findings: list[Finding] = []
        self.numbers = numbers  # a pbx.numbering.NumberPolicy: which company may use which number
        self.sounds_dir = sounds_dir
        self.stock_sounds = stock_sounds
        self.focus = focus
        dialplan_file = "extensions.conf"
        base = base or {}
        self.pjsip_text = files.get("pjsip.conf")
        self.pjsip_index: ObjectIndex | None = None
        self.queues_text = files.get("queues.conf")
        skipped = {dialplan_file} | ({"pjsip.conf", "queues.conf"} if focus is not None else set())
        parsed = parsed or {}  # files the caller parsed already (the same text)
        self.confs = {name: parsed[name] if name in parsed else parse_conf(text, name)
                      for name, text in files.items() if name not in skipped}
        if focus is not None:
            for name, text, chosen in (("pjsip.conf", self.pjsip_text, focus.pjsip_sections),
                                       ("queues.conf", self.queues_text, focus.queue_sections)):
                if text is not None:
                    self.confs[name] = self._sections(name, text, chosen)
        self.base = {name: parse_conf(text, name) for name, text in base.items() if name != dialplan_file}
        for name, conf in self.confs.items():
            for line, issue in conf.issues:
                self.add(name, line, "unescaped-text", issue)
        text = files.get(dialplan_file, "")
        if focus is None:
            self.dialplan = parse_dialplan_text(text)
            lazy = None
        else:
            # Only the contexts in focus are parsed, at their real lines; the others on demand.
            self.dialplan = Dialplan({}, [])
            lazy = layout(text)
            for name in sorted(focus.contexts):
                found = lazy.blocks_named(name)  # same-named sections joined, as Asterisk joins them
                if found is not None:
                    part = parse_dialplan_text(*found)
                    self.dialplan.contexts.update(part.contexts)
                    self.dialplan.issues.extend(part.issues)
        for line, issue in self.dialplan.issues:
            code = "unescaped-text" if "comment" in issue or "';'" in issue else "syntax"
            self.add(dialplan_file, line, code, issue)
        base_dialplan = parse_dialplan_text(base.get(dialplan_file, ""))
        self.contexts = Contexts(dict(self.dialplan.contexts), lazy, frozenset(focus.contexts) if focus else frozenset())
        # The base config's contexts count where the generated files have none of the name.
        self.base_contexts = {n: c for n, c in base_dialplan.contexts.items() if n not in self.contexts}
        self.contexts.parsed.update(self.base_contexts)
        self.endpoints: set[str] | Names = set()
        self.pjsip_objects: set[tuple[str, str]] = set()
        self.queues: set[str] = set()
        self.mailboxes: set[tuple[str, str]] = set()
        self.voicemail_contexts: set[str] = set()
        self.confbridge_profiles: set[str] = set()
        self.music_classes: set[str] = {"default"}
        self.recorded: set[str] = set()
        self.tainted: set[str] = set()
        self._tainted_at: dict[tuple[str, str], int] = {}
        self._resolve_cache: dict[tuple[str, str], Extension | None] = {}

    @staticmethod
    def _sections(file: str, text: str, names: frozenset[str]) -> ConfFile:
        """The templates and the chosen sections of a file, parsed at their real lines."""
        sections, issues = [], []
        plan = layout(text)
        chosen: list[tuple[str, int]] = []
        for name in sorted(names):
            chosen.extend(plan.sections_named(name))
        # Templates: the composed files keep them in the shared head and tail.
        shared = [(name, block, line) for name, block, line in section_spans(plan.head())]
        tail_line = plan.line_of(plan.body_end)
        shared += [(name, block, line + tail_line - 1) for name, block, line in section_spans(plan.tail())]
        if not plan.parts:  # not a composed file: templates may be anywhere
            shared = list(section_spans(text))
        for name, block, line in shared:
            header = block[:block.find("\n")] if "\n" in block else block
            if "(!" in header and name not in names:
                chosen.append((block, line))
        for block, line in sorted(chosen, key=lambda piece: piece[1]):
            part = parse_conf(block, file, line)
            sections.extend(part.sections)
            issues.extend(part.issues)
        return ConfFile(file, sections, issues, [])

    def add(self, file: str, line: int, code: str, message: str) -> None:
        self.findings.append(Finding(file, line, code, message))

    # -- the other files -----------------------------------------------------------------------

    def load_objects(self) -> None:
        for source in (self.base, self.confs):
            conf = source.get("pjsip.conf")
            if conf is not None and (source is self.base or self.focus is None):
                for section, values in expanded(conf):
                    self.pjsip_objects.add((section.name, (values.get("type") or [""])[-1]))
            conf = source.get("queues.conf")
            if conf is not None and (source is self.base or self.focus is None):
                self.queues.update(s.name for s in conf.sections if s.name != "general" and not s.is_template)
            conf = source.get("voicemail.conf")
            if conf is not None:
                for section in conf.sections:
                    if section.name in ("general", "zonemessages"):
                        continue
                    self.voicemail_contexts.add(section.name)
                    for option in section.options:
                        if option.op == "=>":
                            self.mailboxes.add((option.key, section.name))
            conf = source.get("confbridge.conf")
            if conf is not None:
                self.confbridge_profiles.update(s.name for s in conf.sections)
            conf = source.get("musiconhold.conf")
            if conf is not None:
                self.music_classes.update(s.name for s in conf.sections if s.name != "general")

    def check_pjsip(self) -> None:
        conf = self.confs.get("pjsip.conf")
        if conf is None:
            return
        for section, values in expanded(conf):
            kind = (values.get("type") or [""])[-1]
            line = section.line
            owner = tenant_of(section.name)
            for key, wanted in (("auth", "auth"), ("outbound_auth", "auth"), ("aors", "aor"), ("endpoint", "endpoint")):
                for value in values.get(key, []):
                    for ref in (v.strip() for v in value.split(",") if v.strip()):
                        if not self.has_pjsip(ref, wanted):
                            self.add("pjsip.conf", line, "dangling-reference", f"[{section.name}] {key} = {ref}: no {wanted} of that name")
            if kind != "endpoint":
                continue
            for key in ("context", "subscribe_context"):
                for ctx in values.get(key, []):
                    if ctx not in self.contexts:
                        self.add("pjsip.conf", line, "dangling-context", f"endpoint {section.name}: {key} {ctx} does not exist")
                    elif owner is not None and tenant_of(ctx) != owner:
                        self.add("pjsip.conf", line, "cross-tenant", f"endpoint {section.name} of company {owner} enters {ctx}")
                    elif owner is None and ctx not in ENTRY_GLOBALS:
                        self.add("pjsip.conf", line, "cross-tenant", f"shared endpoint {section.name} enters {ctx}, not from-trunk")
            for callerid in values.get("callerid", []):
                if not CALLERID_RE.match(callerid):
                    self.add("pjsip.conf", line, "unescaped-text", f"endpoint {section.name}: caller ID {callerid!r} is not a plain name and number")
            for mailbox in values.get("mailboxes", []):
                self.check_mailbox_token("pjsip.conf", line, mailbox, owner)

    def check_queues(self) -> None:
        conf = self.confs.get("queues.conf")
        if conf is None:
            return
        for section, values in expanded(conf):
            owner = tenant_of(section.name)
            for ctx in values.get("context", []):
                if ctx not in self.contexts:
                    self.add("queues.conf", section.line, "dangling-context", f"queue {section.name}: context {ctx} does not exist")
                elif tenant_of(ctx) != owner:
                    self.add("queues.conf", section.line, "cross-tenant", f"queue {section.name} exits into {ctx}")
            for music in values.get("musicclass", []):
                if music not in self.music_classes:
                    self.add("queues.conf", section.line, "dangling-reference", f"queue {section.name}: music class {music} is not defined")
            for key in ("periodic-announce", "announce"):
                for value in values.get(key, []):
                    for token in value.split(","):
                        self.check_sound("queues.conf", section.line, token.strip())

    def check_voicemail(self) -> None:
        conf = self.confs.get("voicemail.conf")
        if conf is None:
            return
        for section in conf.sections:
            for option in section.options:
                if option.op != "=>":
                    continue
                fields = option.value.split(",")
                if not option.key.isdigit() or len(fields) != 5 or not fields[0].isdigit():
                    self.add("voicemail.conf", option.line, "unescaped-text",
                             f"mailbox {option.key}@{section.name} does not read back as pin,name,email,pager,options")

    # -- the dialplan --------------------------------------------------------------------------

    def resolve(self, ctx_name: str, exten: str, seen: frozenset[str] = frozenset()) -> Extension | None:
        key = (ctx_name, exten)
        if not seen and key in self._resolve_cache:
            return self._resolve_cache[key]
        context = self.contexts.get(ctx_name)
        found = None
        if context is not None:
            found = context.extensions.get(exten)
            if found is None:
                for pattern in context.patterns:
                    if pattern_regex(pattern.name).match(exten):
                        found = pattern
                        break
            if found is None:
                for include in context.includes:
                    if include not in seen:
                        found = self.resolve(include, exten, seen | {ctx_name})
                        if found is not None:
                            break
        if not seen:
            self._resolve_cache[key] = found
        return found

    def target(self, file: str, line: int, here: Context, exten: Extension, label: str, what: str) -> None:
        """Check one Goto-style label: ``[[context,]exten,]priority``."""
        label = label.strip()
        if not label:
            return
        parts = split_args(label)
        if len(parts) > 3:
            self.add(file, line, "syntax", f"{what} {label!r} has more than context, extension and priority")
            return
        priority = parts[-1].strip()
        if "(" in priority:  # Gosub arguments
            priority = priority[:priority.index("(")]
        ctx_name = parts[0].strip() if len(parts) == 3 else here.name
        exten_name = parts[-2].strip() if len(parts) >= 2 else exten.name
        self.edge(file, line, here, ctx_name, what)
        if dynamic(ctx_name) or ctx_name not in self.contexts:
            return
        if dynamic(exten_name):
            return
        found = exten if (len(parts) == 1) else self.resolve(ctx_name, exten_name)
        if found is None:
            self.add(file, line, "dangling-extension", f"{what} {label!r}: no extension {exten_name} in {ctx_name}")
            return
        if dynamic(priority):
            return
        if priority.isdigit():
            if int(priority) not in found.priorities:
                self.add(file, line, "dangling-priority", f"{what} {label!r}: {exten_name}@{ctx_name} has no priority {priority}")
        elif priority not in found.labels:
            self.add(file, line, "dangling-priority", f"{what} {label!r}: {exten_name}@{ctx_name} has no label {priority}")

    def edge(self, file: str, line: int, here: Context, ctx_name: str, what: str) -> None:
        """A way from one context into another: it must exist and stay inside the company."""
        if dynamic(ctx_name):
            self.add(file, line, "dynamic-context", f"{what} into a computed context {ctx_name!r} cannot be verified")
            return
        if ctx_name not in self.contexts:
            self.add(file, line, "dangling-context", f"{what}: context {ctx_name} does not exist")
            return
        if here.name in self.base_contexts:
            return
        owner = tenant_of(here.name)
        target_owner = tenant_of(ctx_name)
        if owner is not None:
            if target_owner != owner and ctx_name not in SHARED_SUBROUTINES:
                self.add(file, line, "cross-tenant", f"{here.name} (company {owner}) reaches {ctx_name}")
        elif here.name in SHARED_SUBROUTINES:
            if ctx_name not in SHARED_SUBROUTINES:
                self.add(file, line, "cross-tenant", f"shared subroutine {here.name} reaches {ctx_name}")
        elif here.name in ENTRY_GLOBALS:
            if target_owner is None or ctx_name != f"t{target_owner}-inbound":
                self.add(file, line, "cross-tenant", f"{here.name} may only enter a company's inbound context, not {ctx_name}")
        else:
            self.add(file, line, "cross-tenant", f"{here.name} belongs to no company and is not a whitelisted shared context")

    def owned(self, file: str, line: int, here: Context, owner_of_ref: str | None, what: str) -> None:
        owner = tenant_of(here.name)
        if owner is not None and owner_of_ref is not None and owner_of_ref != owner:
            self.add(file, line, "cross-tenant", f"{here.name} (company {owner}) uses {what} of company {owner_of_ref}")

    def check_devices(self, file: str, line: int, here: Context | None, devices: str) -> None:
        """``PJSIP/a&PJSIP/b@trunk&Local/...``: every PJSIP endpoint must exist."""
        for part in split_args(devices, "&"):
            part = part.strip()
            if part.startswith("PJSIP/"):
                self.check_endpoint_token(file, line, here, part[len("PJSIP/"):])

    def check_endpoint_token(self, file: str, line: int, here: Context | None, token: str) -> None:
        endpoint = token.rsplit("@", 1)[1] if "@" in remove_filtered(token) else token
        if dynamic(endpoint):
            return
        endpoint = endpoint.rstrip("-") if endpoint not in self.endpoints else endpoint
        if endpoint not in self.endpoints:
            self.add(file, line, "unknown-endpoint", f"PJSIP/{token}: no endpoint {endpoint} in pjsip.conf")
        elif here is not None:
            self.owned(file, line, here, tenant_of(endpoint), f"endpoint {endpoint}")

    def check_mailbox_token(self, file: str, line: int, token: str, owner: str | None) -> None:
        for part in token.split("&"):
            box, _, ctx = part.strip().partition("@")
            if dynamic(part) or not ctx:
                continue
            if box and (box, ctx) not in self.mailboxes:
                self.add(file, line, "unknown-mailbox", f"voicemail box {box}@{ctx} is not in voicemail.conf")
            elif not box and ctx not in self.voicemail_contexts:
                self.add(file, line, "unknown-mailbox", f"voicemail context {ctx} is not in voicemail.conf")
            if owner is not None and tenant_of(ctx + "-") != owner:
                self.add(file, line, "cross-tenant", f"company {owner} uses voicemail box {part.strip()}")

    def check_sound(self, file: str, line: int, token: str) -> None:
        token = token.strip()
        if not SOUND_TOKEN_RE.match(token):
            # A stock prompt: it must be in the installed sound set (when the checker was told which).
            if self.stock_sounds is not None and token and not dynamic(token) and token not in self.stock_sounds:
                self.add(file, line, "missing-prompt", f"prompt {token} is not in the installed sound set")
            return
        if self.sounds_dir is None or token in self.recorded:
            return
        if not (self.sounds_dir / (token[len("custom/"):] + ".wav")).is_file():
            self.add(file, line, "missing-prompt", f"prompt {token}: {token[len('custom/'):]}.wav is not in {self.sounds_dir}")

    def check_dialplan(self) -> None:
        file = "extensions.conf"
        for context in self.dialplan.contexts.values():
            for extension in context.extensions.values():
                for priority in extension.priorities.values():
                    if priority.app == "Record":  # a sound name, possibly under ${ASTDATADIR}/sounds/
                        name = split_args(priority.data)[0].rsplit(".", 1)[0]
                        self.recorded.add(name.removeprefix("${ASTDATADIR}/sounds/"))
                    if priority.app in ("Set", "MSet"):
                        self.taint(priority.data, priority.app)
        for context in self.dialplan.contexts.values():
            if tenant_of(context.name) is None and context.name not in SHARED_SUBROUTINES \
                    and context.name not in ENTRY_GLOBALS and context.name not in self.base_contexts:
                self.add(file, context.line, "cross-tenant",
                         f"[{context.name}] belongs to no company and is not a whitelisted shared context")
            for include in context.includes:
                self.edge(file, context.line, context, include, "include")
            for extension in context.extensions.values():
                if extension.hint is not None:
                    self.check_devices(file, extension.hint.line, context, split_args(extension.hint.data)[0])
                if context.name in ENTRY_GLOBALS and extension.is_pattern:
                    line = min(p.line for p in extension.priorities.values()) if extension.priorities else context.line
                    self.add(file, line, "cross-tenant", f"{context.name} must match numbers exactly, not the pattern {extension.name}")
                for priority in extension.priorities.values():
                    self.application(file, context, extension, priority.app, priority.data, priority.line)
            if self.numbers is not None:
                self.check_numbers(file, context)

    def check_numbers(self, file: str, context: Context) -> None:
        """An E.164 number reaches a company's inbound context, ``from-trunk`` or its default caller ID
        only if the operator assigned it to that company (or it is a verified mobile number)."""
        owner = tenant_of(context.name)
        if owner is not None and context.name == f"t{owner}-inbound":
            for extension in context.extensions.values():
                if extension.name.startswith("+") and not self.numbers.allows(int(owner), extension.name):
                    line = min(p.line for p in extension.priorities.values()) if extension.priorities else context.line
                    self.add(file, line, "unassigned-number",
                             f"{extension.name} is routed by company {owner}, which it is not assigned to")
        for extension in context.extensions.values():
            for priority in extension.priorities.values():
                found = None
                if context.name in ENTRY_GLOBALS and priority.app == "Goto":
                    target = INBOUND_TARGET_RE.match(priority.data)
                    found = (target.group(1), target.group(2)) if target else None
                elif owner is not None and priority.app == "Set" and priority.data.startswith("CALLERID(num)="):
                    shown = CALLERID_CONSTANT_RE.search(priority.data)
                    found = (owner, shown.group(1)) if shown else None
                if found and not self.numbers.allows(int(found[0]), found[1]):
                    self.add(file, priority.line, "unassigned-number",
                             f"{found[1]} reaches company {found[0]} (routing or caller ID) but is not assigned to it")

    def taint(self, data: str, app: str) -> None:
        if "${" not in data:
            return
        # Every company's dialplan repeats the same few assignments: one seen while ``tainted`` had the
        # same members (it only grows, so the same size) would give the same answer again.
        if self._tainted_at.get((app, data)) == len(self.tainted):
            return
        self._tainted_at[(app, data)] = len(self.tainted)
        assignments = split_args(data) if app == "MSet" else [data]
        for assignment in assignments:
            name, _, value = assignment.partition("=")
            unfiltered = remove_filtered(value)
            if "${EXTEN" in unfiltered or any(f"${{{var}" in unfiltered for var in self.tainted):
                self.tainted.add(name.strip().lstrip("_"))

    def application(self, file: str, here: Context, exten: Extension, app: str, data: str, line: int) -> None:
        if app not in APPLICATIONS:
            self.add(file, line, "unknown-application", f"{app}() is not an application the generators write")
            return
        if "${" not in data:
            unfiltered = data
        else:
            for func in FUNC_RE.findall(data):
                if func not in FUNCTIONS:
                    self.add(file, line, "unknown-function", f"${{{func}(...)}} is not a function the generators write")
            unfiltered = remove_filtered(data) if "${FILTER(" in data else data
        if exten.is_pattern and ("." in exten.name or "!" in exten.name) and "${EXTEN" in unfiltered \
                and app not in ("Set", "MSet", "NoOp"):
            self.add(file, line, "unfiltered-exten", f"{app}() uses ${{EXTEN}} of {exten.name}, which matches any character, without FILTER()")
        if app == "Dial":
            used = set(VAR_RE.findall(unfiltered))
            if "${EXTEN" in unfiltered or used & self.tainted:
                self.add(file, line, "unfiltered-exten", "Dial() is given the dialled number unfiltered (${EXTEN} or a variable set from it)")
        if "QUEUE_MEMBER(" in data:
            for queue in QUEUE_FUNC_RE.findall(data):
                self.check_queue(file, line, here, queue)
        if "@" in data:
            for box, ctx in MAILBOX_RE.findall(data):
                self.check_mailbox_token(file, line, f"{box}@{ctx}", tenant_of(here.name))
            for local_exten, local_ctx in LOCAL_RE.findall(data):
                self.target(file, line, here, exten, f"{local_ctx},{local_exten},1", "Local channel")
        handler = getattr(self, f"app_{app}", None)
        if handler is not None:
            handler(file, here, exten, data, line)

    def check_queue(self, file: str, line: int, here: Context, queue: str) -> None:
        queue = queue.strip()
        if dynamic(queue):
            return
        if queue not in self.queues:
            self.add(file, line, "unknown-queue", f"queue {queue} is not defined in queues.conf")
        else:
            self.owned(file, line, here, tenant_of(queue), f"queue {queue}")

    # One method per application that refers to something.

    def app_Goto(self, file, here, exten, data, line):
        self.target(file, line, here, exten, data, "Goto")

    def app_Gosub(self, file, here, exten, data, line):
        self.target(file, line, here, exten, data, "Gosub")
        context, _, args = data.partition(",")
        if context.strip() in ENDPOINT_ARGS and "(" in args and args.endswith(")"):
            values = split_args(args[args.index("(") + 1:-1])
            index = ENDPOINT_ARGS[context.strip()]
            if index < len(values):
                for endpoint in values[index].split("&"):
                    if endpoint.strip():
                        self.check_endpoint_token(file, line, here, endpoint.strip())

    def app_GotoIf(self, file, here, exten, data, line, app="GotoIf"):
        _cond, yes, no = split_condition(data)
        self.target(file, line, here, exten, yes, app)
        self.target(file, line, here, exten, no, app)

    def app_GotoIfTime(self, file, here, exten, data, line):
        self.app_GotoIf(file, here, exten, data, line, app="GotoIfTime")

    def app_ExecIf(self, file, here, exten, data, line):
        _cond, yes, no = split_condition(data)
        for inner in (yes, no):
            if inner.strip():
                name, _, rest = inner.partition("(")
                self.application(file, here, exten, name.strip(), rest[:-1] if rest.endswith(")") else rest, line)

    def app_Originate(self, file, here, exten, data, line):
        args = split_args(data)
        if len(args) >= 4 and args[1].strip() == "exten":
            self.target(file, line, here, exten, ",".join(a.strip() for a in args[2:5]), "Originate")

    def app_Dial(self, file, here, exten, data, line):
        self.check_devices(file, line, here, split_args(data)[0])

    app_PickupChan = app_Dial

    def app_Queue(self, file, here, exten, data, line):
        args = split_args(data)
        self.check_queue(file, line, here, args[0])
        if len(args) > 6 and args[6].strip() and not dynamic(args[6]):  # the member's gosub: <context>,s,1
            self.target(file, line, here, exten, f"{args[6].strip()},s,1", "Queue gosub")

    def app_ConfBridge(self, file, here, exten, data, line):
        for profile in split_args(data)[1:3]:
            profile = profile.strip()
            if profile and not dynamic(profile) and profile not in self.confbridge_profiles:
                self.add(file, line, "dangling-reference", f"ConfBridge profile {profile} is not in confbridge.conf")

    def app_VoiceMail(self, file, here, exten, data, line):
        self.check_mailbox_token(file, line, split_args(data)[0], tenant_of(here.name))

    app_VoiceMailMain = app_VoiceMail

    def app_Set(self, file, here, exten, data, line):
        name, _, value = data.partition("=")
        if name.strip().upper().startswith("CALLERID(NAME") and (dynamic(value) or not SAFE_CALLERID_NAME_RE.match(value)):
            self.add(file, line, "unescaped-text", f"CALLERID(name) is set to {value!r}, not to plain text")
        func = SET_FUNC_RE.match(name.strip())
        if func and func.group(1) not in FUNCTIONS:
            self.add(file, line, "unknown-function", f"{func.group(1)}() is not a function the generators write")

    def app_MSet(self, file, here, exten, data, line):
        for assignment in split_args(data):
            self.app_Set(file, here, exten, assignment, line)

    def app_Playback(self, file, here, exten, data, line):
        index = SOUND_APPS["Playback"]
        for token in split_args(data)[index].split("&"):
            self.check_sound(file, line, token)

    app_Background = app_Playback

    def app_Read(self, file, here, exten, data, line):
        args = split_args(data)
        if len(args) > 1:
            for token in args[1].split("&"):
                self.check_sound(file, line, token)

    def has_pjsip(self, name: str, kind: str) -> bool:
        return (name, kind) in self.pjsip_objects or (self.pjsip_index is not None and (name, kind) in self.pjsip_index)

    def run(self) -> list[Finding]:
        self.load_objects()
        self.pjsip_index = ObjectIndex(self.pjsip_text) if self.focus is not None and self.pjsip_text else None
        if self.pjsip_index is not None:
            self.endpoints = Names(self.pjsip_index, "endpoint")
            if self.base.get("pjsip.conf") is not None:
                self.endpoints = _Either(self.endpoints, {n for n, k in self.pjsip_objects if k == "endpoint"})
            if self.queues_text is not None:
                self.queues |= {n for n in context_blocks(self.queues_text) if n and n != "general"}
        else:
            self.endpoints = {name for name, kind in self.pjsip_objects if kind == "endpoint"}
        self.check_pjsip()
        if self.pjsip_text:
            check_identifies(self.pjsip_text, self.add)
        self.check_queues()
        self.check_voicemail()
        self.check_dialplan()
        return sorted(set(self.findings), key=lambda f: (f.file, f.line, f.code, f.message))


# Any control character but the line feed that ends each line: a value carrying one was written past
# the writer's guard (Asterisk's parser splits at \n and drops \r, so a line break inside a value has
# already become two lines by then; these are what is left to see: \r, \v, NUL, escape...). Also what
# Python's splitlines() splits at, so no reader of ours sees lines Asterisk does not.
CONTROL_CHAR_RE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def control_characters(name: str, text: str, old: str | None = None) -> list[Finding]:
    """A finding per control character in ``text``; with ``old``, only in the regions (head, a company's
    part, tail) that differ from it, as the rest passed this check before."""
    if old == text:
        return []
    if old is None:
        regions, lines = [(0, len(text))], None
    else:
        before, after = layout(old), layout(text)
        regions = []
        if before.head() != after.head():
            regions.append((0, after.head_end))
        for tenant_id, (start, end) in after.parts.items():
            if before.part(tenant_id) != text[start:end]:
                regions.append((start, end))
        if before.tail() != after.tail():
            regions.append((after.body_end, len(text)))
        lines = after
    found = []
    for start, end in regions:
        for match in CONTROL_CHAR_RE.finditer(text, start, end):
            line = lines.line_of(match.start()) if lines is not None else text.count("\n", 0, match.start()) + 1
            found.append(Finding(name, line, "control-character",
                                 f"a control character {match.group()!r} inside a value (it breaks the line for Asterisk)"))
    return found


EXTEN_LINE_RE = re.compile(r"^.*?(?:Set|MSet)\((.*\$\{EXTEN.*)\)\s*$")


def _preamble(text: str) -> str:
    end = text.find("\n[")
    return text if end == -1 else text[:end]


def _exten_assignments(text: str) -> list[tuple[str, str]]:
    """(application, data) of every Set/MSet line that reads ${EXTEN}, found without parsing."""
    found = []
    position = text.find("${EXTEN")
    while position != -1:
        start = text.rfind("\n", 0, position) + 1
        end = text.find("\n", position)
        end = len(text) if end == -1 else end
        line = text[start:end]
        match = EXTEN_LINE_RE.match(line)
        if match:
            found.append(("MSet" if "MSet(" in line else "Set", match.group(1)))
        position = text.find("${EXTEN", end)
    return found


def _difference(files_old: dict[str, str], files_new: dict[str, str], name: str) -> BlockDifference:
    """What may differ in one file (nothing when its text is the same)."""
    old, new = files_old.get(name, ""), files_new.get(name, "")
    return BlockDifference({}, {}, {}, False) if old == new else block_difference(old, new)


def _mentioning(text: str, tokens: set[str], skip: set[str], origin: dict[str, int | None] | None = None) -> set[str]:
    """Sections whose text mentions any of ``tokens``: one regex pass over the text.

    A token found in company X's part (``origin``) that is still there is only looked for in X's part and
    the shared head and tail: every other company's unchanged sections passed the check, so they name
    nothing of X's. Any other token (shared, or gone) is looked for in the whole text."""
    if not tokens:
        return set()
    origin = origin or {}
    by_region: dict[int | None, set[str]] = {}
    for token in tokens:
        by_region.setdefault(origin.get(token), set()).add(token)
    plan = layout(text)
    found: set[str] = set()
    for tenant_id, group in by_region.items():
        if tenant_id is None or tenant_id not in plan.parts:
            regions = [(0, len(text))]
        else:
            regions = [(0, plan.head_end), plan.parts[tenant_id], (plan.body_end, len(text))]
        pattern = re.compile("|".join(re.escape(t) for t in sorted(group, key=len, reverse=True)))
        for start, end in regions:
            for match in pattern.finditer(text, start, end):
                header = text.rfind("\n[", 0, match.start() + 1)
                if header == -1 and not text.startswith("["):
                    continue
                begin = header + 1
                found.add(text[begin + 1:text.find("]", begin)].strip())
    return found - skip - {""}


def check_changes(old_files: dict[str, str], new_files: dict[str, str], *, sounds_dir: Path | None = None,
                  base: dict[str, str] | None = None, stock_sounds: frozenset[str] | None = None,
                  numbers=None) -> list[Finding]:
    """Findings for ``new_files``, checking only what differs from ``old_files``.

    Valid when ``old_files`` passed :func:`check` (the running configuration did): changed and
    new contexts and pjsip sections are checked in full, and so is every unchanged one that
    mentions a changed or removed context, endpoint, queue or mailbox, since a reference of
    theirs may dangle now. References are resolved against the whole new configuration, parsing
    only the contexts they lead into. A one-company change on a 1,000-company node checks in a
    fraction of a second instead of seconds.
    """
    if old_files == new_files:
        return []
    if set(old_files) != set(new_files) or any(_preamble(old_files[n]) != _preamble(new_files[n]) for n in new_files):
        return check(new_files, sounds_dir=sounds_dir, base=base, stock_sounds=stock_sounds, numbers=numbers)
    with gc_paused():
        new_dp = new_files.get("extensions.conf", "")
        dialplan, pjsip, queues = (_difference(old_files, new_files, name)
                                   for name in ("extensions.conf", "pjsip.conf", "queues.conf"))
        origin = {**dialplan.origin, **pjsip.origin, **queues.origin}
        contexts, gone_contexts = dialplan.changed(), dialplan.removed()
        pjsip_changed, pjsip_gone = pjsip.changed(), pjsip.removed()
        queues_changed, queues_gone = queues.changed(), queues.removed()
        # What changed or went may leave a reference dangling; what is new cannot (nothing named it).
        tokens = {n for n in contexts if n in dialplan.old} | gone_contexts
        tokens |= pjsip_changed | pjsip_gone | queues_changed | queues_gone
        for name in ("confbridge.conf", "musiconhold.conf"):
            other = _difference(old_files, new_files, name)
            tokens |= other.changed() | other.removed()
        music_changed = old_files.get("musiconhold.conf") != new_files.get("musiconhold.conf")
        parsed: dict[str, ConfFile] = {}
        if old_files.get("voicemail.conf") != new_files.get("voicemail.conf"):
            old_boxes = parse_conf(old_files.get("voicemail.conf", ""))
            if "voicemail.conf" in new_files:
                parsed["voicemail.conf"] = parse_conf(new_files["voicemail.conf"], "voicemail.conf")
            boxes = [
                {f"{o.key}@{sec.name}" for sec in conf.sections for o in sec.options if o.op == "=>"}
                for conf in (old_boxes, parsed.get("voicemail.conf") or parse_conf(""))
            ]
            tokens |= boxes[0] ^ boxes[1]
        contexts |= _mentioning(new_dp, tokens, contexts, origin)
        pjsip_sections = pjsip_changed | _mentioning(new_files.get("pjsip.conf", ""), gone_contexts | pjsip_gone,
                                                     pjsip_changed)
        queue_sections = queues_changed | _mentioning(new_files.get("queues.conf", ""), gone_contexts, queues_changed)
        if music_changed:  # a music class may be gone: every queue naming a class is checked
            queue_sections = {n for n in context_blocks(new_files.get("queues.conf", "")) if n}
        focus = Focus(frozenset(contexts), frozenset(pjsip_sections), frozenset(queue_sections))
        checker = Checker(new_files, sounds_dir, base, focus=focus, stock_sounds=stock_sounds, numbers=numbers,
                          parsed=parsed)
        # Taint comes from anywhere in the file: variables set from ${EXTEN} in unchanged contexts too.
        for app, data in _exten_assignments(new_dp):
            checker.taint(data, app)
        for name, text in new_files.items():
            checker.findings += control_characters(name, text, old_files.get(name))
        return checker.run()


def check(files: dict[str, str], *, sounds_dir: Path | None = None, base: dict[str, str] | None = None,
          stock_sounds: frozenset[str] | None = None, numbers=None) -> list[Finding]:
    """Findings for a set of generated files (empty: safe to apply).

    ``sounds_dir`` is where ``custom/`` prompts live (settings.ASTERISK_SOUNDS_DIR); ``base`` the
    hand-written config, whose contexts and objects may be referred to; ``stock_sounds`` the names of
    the installed stock prompts (:func:`stock_prompts`), None to leave them unchecked; ``numbers`` a
    :class:`pbx.numbering.NumberPolicy` (the operator's assignments), None to leave numbers unchecked.
    """
    with gc_paused():
        checker = Checker(files, sounds_dir, base, stock_sounds=stock_sounds, numbers=numbers)
        for name, text in files.items():
            checker.findings += control_characters(name, text)
        return checker.run()


@functools.lru_cache(maxsize=4)
def stock_prompts(directory: str | Path | None) -> frozenset[str] | None:
    """The stock prompts under ``directory`` (Asterisk's ``sounds/<language>``), as the dialplan names
    them: ``beep``, ``digits/1``... in any format. None when there is no such directory."""
    if not directory:
        return None
    root = Path(directory)
    if not root.is_dir():
        return None
    names = set()
    for path in root.rglob("*"):
        if path.is_file() and path.suffix:
            names.add(path.relative_to(root).with_suffix("").as_posix())
    return frozenset(names)


def format_findings(findings: Iterable[Finding]) -> str:
    return "\n".join(str(f) for f in findings)
