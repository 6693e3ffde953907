"""extensions.conf: every company's call flows in its own ``t<id>-`` contexts.

Layout per company (``t1`` below; docs/dialplan.md explains the whole design):

``t1-internal``   the devices' context: feature codes; includes emergency, extensions, inbound
                  (own numbers dialled internally) and outbound, in that order.
``t1-inbound``    one exact extension per number of the company (E.164); schedule, welcome, target.
``t1-from-trunk`` the company's own trunks enter here: only its numbers, in the forms operators use.
``t1-user-<id>``, ``t1-queue-<id>``, ``t1-menu-<id>``, ``t1-schedule-<id>``, ``t1-conf-<id>``,
``t1-cbreq-<destination id>``: one context per object, entered at ``s,1``.
``t1-hints``      BLF hints only (the devices' ``subscribe_context``); see the scale notes.

No context uses priority labels: every jump goes to ``<exten>,1``, because labels cannot be
created through AMI's DialplanExtensionAdd, and plan.py applies a company's change that way.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from pbx.asterisk.astdb import MAX_SCHEDULED_PROFILES

from . import writer as w
from .dialplan_shared import SHARED_DIALPLAN
from .snapshot import Number, Schedule, Snapshot, Tenant

# Stock Asterisk sounds the flows use (core-sounds-en); custom prompts are custom/t<id>/prompt-<id>.
SOUND_INVALID = "invalid"  # core sounds: "That is not valid, try again."
SOUND_THANKS = "auth-thankyou"
CALLBACK_KEY = "1"  # pressed while waiting in a queue that offers callback
RECORDING_FEATURES = "pbxrec#pbxrecpause"  # features.conf applicationmap items, enabled per device


class Dialplan:
    """Lines of extensions.conf. Callers pass pieces already checked by ``writer``."""

    __slots__ = ("lines",)

    def __init__(self) -> None:
        self.lines: list[str] = []

    def context(self, name: str, *includes: str) -> None:
        self.lines.append("")
        self.lines.append(f"[{name}]")
        for include in includes:
            self.lines.append(f"include => {include}")

    def comment(self, text: str) -> None:
        self.lines.append(f"; {text}")

    def exten(self, exten: str, app: str, data: str = "") -> None:
        self.lines.append(f"exten => {exten},1,{app}({data})")

    def same(self, app: str, data: str = "") -> None:
        self.lines.append(f" same => n,{app}({data})")

    def hint(self, exten: str, devices: str, presence: str) -> None:
        self.lines.append(f"exten => {exten},hint,{devices},{presence}")


PER_TENANT = True


def generate(snapshot: Snapshot) -> str:
    return w.generate_file(sys.modules[__name__], snapshot)


def head(snapshot: Snapshot) -> str:
    """The shared subroutines and ``[from-trunk]`` (every company's numbers on shared trunks)."""
    dp = Dialplan()
    dp.lines.append(w.HEADER.rstrip("\n"))
    dp.lines.append(SHARED_DIALPLAN.rstrip("\n"))
    _from_trunk(dp, snapshot)
    return "\n".join(dp.lines) + "\n"


def tail(snapshot: Snapshot) -> str:
    return ""


def tenant_part(snapshot: Snapshot, tenant: Tenant) -> str:
    dp = Dialplan()
    TenantDialplan(dp, snapshot, tenant).render()
    return "\n".join(dp.lines) + "\n"


def number_forms(country_code: str, e164: str) -> list[str]:
    """How operators present a dialled number: +E.164, E.164 without +, national (0...)."""
    forms = [e164, e164[1:]]
    if country_code and e164.startswith(f"+{country_code}"):
        forms.append("0" + e164[1 + len(country_code):])
    return forms


def _from_trunk(dp: Dialplan, snapshot: Snapshot) -> None:
    """Shared trunks enter ``from-trunk``: exact numbers only, each to its company's inbound."""
    entries: dict[str, list[tuple[int, str]]] = {}
    held = snapshot.held_inbound
    for tenant_id, country_code, raw in snapshot.shared_inbound():
        if tenant_id in held:
            continue
        if not w.E164_RE.match(raw or ""):
            # That company's own part refuses the number (so the company is held at its running
            # configuration, whose entries come from ``held``); the others' entries are not its hostage.
            continue
        for form in number_forms(country_code, raw):
            entries.setdefault(form, []).append((tenant_id, raw))
    for tenant_id, forms in held.items():
        for form, e164 in forms:
            entries.setdefault(form, []).append((tenant_id, e164))
    dp.context("from-trunk")
    dp.comment("Calls from shared trunks: only the companies' own numbers, matched exactly.")
    for form in sorted(entries):
        targets = entries[form]
        if len(targets) > 1:
            # The same national form of two countries' numbers: ambiguous, so not offered.
            continue
        tid, e164 = targets[0]
        dp.exten(form, "Goto", f"t{tid}-inbound,{e164},1")


class TenantDialplan:
    def __init__(self, dp: Dialplan, snapshot: Snapshot, tenant: Tenant):
        self.dp = dp
        self.snapshot = snapshot
        self.t = tenant
        self.p = tenant.prefix
        self.tz = w.time_zone(tenant.time_zone, f"time zone of company {tenant.id}")
        self.cc = tenant.country_code
        self._cbdial_done = False

    # -- helpers ------------------------------------------------------------------------------

    def sound(self, prompt_id: int | None) -> str:
        """A prompt's sound name, or '' when there is none (nothing is played)."""
        if prompt_id is None or prompt_id not in self.t.prompts:
            return ""
        return w.sound(self.t.prompts[prompt_id], f"prompt {prompt_id}")

    def target(self, dest_id: int | None) -> str:
        """Where a destination goes, as a Goto target. Anything missing or disabled hangs up."""
        p, t = self.p, self.t
        dest = t.destinations.get(dest_id) if dest_id is not None else None
        hangup = f"{p}-hangup,s,1"
        if dest is None:
            return hangup
        kind = dest.kind
        if kind == "user" and dest.user_id in t.users:
            return f"{p}-user-{dest.user_id},s,1"
        if kind == "queue" and dest.queue_id in t.queues:
            return f"{p}-queue-{dest.queue_id},s,1"
        if kind == "menu" and dest.menu_id in t.menus:
            return f"{p}-menu-{dest.menu_id},s,1"
        if kind == "voicemail" and dest.voicemail_box_id in t.voicemail_boxes:
            box = t.voicemail_boxes[dest.voicemail_box_id]
            return f"{p}-voicemail,{w.extension(box.number, f'voicemail box {box.id}')},1"
        if kind == "external" and dest.external_number:
            return f"{p}-forward,{w.dialable(dest.external_number, f'destination {dest.id}')},1"
        if kind == "conference" and dest.conference_id in t.conferences:
            return f"{p}-conf-{dest.conference_id},s,1"
        if kind == "callback" and dest.queue_id in t.queues:
            return f"{p}-cbreq-{dest.id},s,1"
        return hangup

    def goto(self, dest_id: int | None) -> None:
        self.dp.same("Goto", self.target(dest_id))

    # -- the company ---------------------------------------------------------------------------

    def render(self) -> None:
        for part in self._parts():
            part()

    def _parts(self) -> list[Callable[[], None]]:
        return [
            self.internal, self.emergency, self.extensions, self.inbound, self.closed, self.from_trunk, self.outbound,
            self.dialout, self.forward, self.hangup, self.person, self.status_forward, self.presence,
            self.agent_codes, self.pickup, self.record_prompt, self.hints, self.agents, self.users, self.profiles,
            self.queues, self.callback_requests, self.menus, self.schedules, self.voicemail, self.conferences,
        ]

    def internal(self) -> None:
        dp, p = self.dp, self.p
        dp.context(f"{p}-internal", f"{p}-emergency", f"{p}-extensions", f"{p}-inbound", f"{p}-outbound")
        dp.comment("presence: *20<code> sets a status, *21 clears it")
        dp.exten("_*20X", "Goto", f"{p}-presence,${{EXTEN:3}},1")
        dp.exten("_*20XX", "Goto", f"{p}-presence,${{EXTEN:3}},1")
        dp.exten("*21", "Goto", f"{p}-presence,clear,1")
        dp.comment("queues: *45 log in, *46 log out, *47 pause or resume (optionally followed by the queue's extension)")
        dp.exten("_*4[567]", "Set", "PBX_QEXT=")
        dp.same("Goto", f"{p}-agentcode,${{EXTEN:1}},1")
        dp.exten("_*4[567]X.", "Set", "PBX_QEXT=${FILTER(0123456789,${EXTEN:3})}")
        dp.same("Goto", f"{p}-agentcode,${{FILTER(0123456789,${{EXTEN:1:2}})}},1")
        dp.comment("voicemail: *97 own box, *98 any box of the company")
        dp.exten("*97", "Answer")
        dp.same("VoiceMailMain", f'${{IF($["${{PBX_MAILBOX}}" = ""]?@{p}:${{PBX_MAILBOX}})}}')
        dp.same("Hangup")
        dp.exten("*98", "Answer")
        dp.same("VoiceMailMain", f"@{p}")
        dp.same("Hangup")
        dp.comment("pickup: *8 a call ringing in the company, **<extension> a colleague's call")
        dp.exten("*8", "Pickup")
        dp.same("Hangup")
        dp.exten("_**X.", "Goto", f"{p}-pickup,${{FILTER(0123456789,${{EXTEN:2}})}},1")
        dp.comment("record a prompt by phone (company admins): *99<prompt id> (X. needs two digits: X for one)")
        for pattern in ("_*99X", "_*99X."):
            dp.exten(pattern, "Goto", f"{p}-recprompt,${{FILTER(0123456789,${{EXTEN:3}})}},1")

    def emergency(self) -> None:
        dp, p = self.dp, self.p
        dp.context(f"{p}-emergency")
        dp.comment("always routed, before any extension of the company")
        for number in self.t.emergency_numbers:
            dp.exten(w.digits(number, "emergency number"), "Set", f"PBX_NUM={number}")
            dp.same("Goto", f"{p}-dialout,s,1")

    def extensions(self) -> None:
        dp, p, t = self.dp, self.p, self.t
        dp.context(f"{p}-extensions")
        entries: list[tuple[str, str]] = []
        for user in t.users.values():
            if user.extension:
                entries.append((w.extension(user.extension, f"extension of user {user.id}"), f"{p}-user-{user.id},s,1"))
        for queue in t.queues.values():
            if queue.extension:
                entries.append((w.extension(queue.extension, f"extension of queue {queue.id}"), f"{p}-queue-{queue.id},s,1"))
        for conf in t.conferences.values():
            entries.append((w.extension(conf.extension, f"extension of conference {conf.id}"), f"{p}-conf-{conf.id},s,1"))
        seen: set[str] = set()
        for exten, target in sorted(entries, key=lambda e: (len(e[0]), e[0], e[1])):
            if exten in seen:
                continue  # two objects share an extension; the first (users, then queues) wins
            seen.add(exten)
            dp.exten(exten, "Goto", target)

    def inbound(self) -> None:
        dp, p, t = self.dp, self.p, self.t
        dp.context(f"{p}-inbound")
        language = w.name(t.language, f"language of company {t.id}")
        for number in t.numbers:
            e164 = w.e164(number.e164, f"number {number.id}")
            rec = t.recording
            if rec is None:
                dp.exten(e164, "MSet", f"__PBX_DDI={e164},CHANNEL(language)={language}")
            else:
                # Recording (docs/recording.md): an approved direct number records its calls; the caller's
                # number as +E.164 digits is what the excluded numbers are compared with.
                approved = ",__PBX_RECN=1" if e164 in rec.approved else ""
                dp.exten(e164, "MSet", f"__PBX_DDI={e164},CHANNEL(language)={language}{approved}")
                dp.same("Gosub", f"pbx-e164,s,1(${{FILTER(+0123456789,${{CALLERID(num)}})}},{self.cc})")
                dp.same("Set", "__PBX_RECO=${FILTER(0123456789,${GOSUB_RETVAL})}")
            self._number_flow(number)

    def _number_flow(self, number: Number) -> None:
        dp, p, t = self.dp, self.p, self.t
        if number.kind == "reserved":
            if number.forward_to:
                dp.same("Goto", f"{p}-forward,{w.dialable(number.forward_to, f'number {number.id}')},1")
            else:
                dp.same("Hangup", "1")
            return
        welcome = self.sound(number.welcome_prompt_id)
        if welcome:
            dp.same("Answer")
            dp.same("Playback", welcome)
        open_target = self.target(number.destination_id)
        dest = t.destinations.get(number.destination_id) if number.destination_id else None
        if number.kind == "mobile" and dest is not None and dest.kind == "user" and dest.user_id in t.users:
            open_target = f"{p}-user-{dest.user_id},mobile,1"
        if number.destination_id is None:
            open_target = f"{p}-hangup,s,1"
        if number.schedule_id in t.schedules:
            dp.same("Gosub", f"{p}-schedule-{number.schedule_id},s,1")
            closed = self.target(number.closed_destination_id)
            if dest is not None and dest.kind == "queue" and dest.queue_id in t.queues:
                closed = f"{p}-closed,n{number.id},1"  # logged against the queue it would have reached
            dp.same("GotoIf", f'$["${{GOSUB_RETVAL}}" = "open"]?{open_target}:{closed}')
        else:
            dp.same("Goto", open_target)

    def closed(self) -> None:
        """A number that leads to a queue, called while its schedule says closed: the call log counts the
        call for that queue (PbxQueueResult closed), then the closed destination takes it."""
        dp, p, t = self.dp, self.p, self.t
        started = False
        for number in t.numbers:
            dest = t.destinations.get(number.destination_id) if number.destination_id else None
            if (number.kind == "reserved" or number.schedule_id not in t.schedules or dest is None
                    or dest.kind != "queue" or dest.queue_id not in t.queues):
                continue
            if not started:
                dp.context(f"{p}-closed")
                started = True
            dp.exten(f"n{number.id}", "UserEvent", f"PbxQueueResult,Tenant: {t.id},Queue: {dest.queue_id},Result: closed")
            dp.same("Goto", self.target(number.closed_destination_id))

    def from_trunk(self) -> None:
        if not self.t.trunks:
            return
        dp, p, t = self.dp, self.p, self.t
        dp.context(f"{p}-from-trunk")
        dp.comment("the company's own trunks: only its numbers, matched exactly")
        forms: dict[str, str] = {}
        for number in t.numbers:
            e164 = w.e164(number.e164, f"number {number.id}")
            for form in number_forms(t.country_code, e164):
                forms.setdefault(form, e164)
        for form in sorted(forms):
            dp.exten(form, "Goto", f"{p}-inbound,{forms[form]},1")

    def outbound(self) -> None:
        dp, p, cc = self.dp, self.p, self.cc
        dp.context(f"{p}-outbound")
        dp.comment("the dialled number is only ever used through FILTER(), never as typed")
        dp.exten("_+X.", "Set", "PBX_NUM=+${FILTER(0123456789,${EXTEN:1})}")
        dp.same("Goto", f"{p}-dialout,s,1")
        dp.exten("_00X.", "Set", "PBX_NUM=+${FILTER(0123456789,${EXTEN:2})}")
        dp.same("Goto", f"{p}-dialout,s,1")
        if cc:
            dp.exten("_0X.", "Set", f"PBX_NUM=+{w.digits(cc, 'country code')}${{FILTER(0123456789,${{EXTEN:1}})}}")
            dp.same("Goto", f"{p}-dialout,s,1")

    def dialout(self) -> None:
        """Out through the company's trunk, with the caller ID the person chose (AstDB ``cli``)."""
        dp, p, t = self.dp, self.p, self.t
        dp.context(f"{p}-dialout")
        dp.comment("PBX_NUM: +E.164 or an emergency number, digits only")
        main = w.e164(t.main_number, f"main number of company {t.id}") if t.main_number else ""
        dp.exten("s", "Set", "PBX_CLI=")
        dp.same("ExecIf", f'$["${{PBX_USER}}" != ""]?Set(PBX_CLI=${{FILTER(+0123456789,${{DB(pbx/{p}/u${{PBX_USER}}/cli)}})}})')
        dp.same("Set", "PBX_CID=${FILTER(+0123456789,${CALLERID(num)})}")
        dp.same("ExecIf", '$["${PBX_CLI}" = "" & "${PBX_USER}" = "" & "${PBX_CID:0:1}" = "+"]?Set(PBX_CLI=${PBX_CID})')
        dp.same("Set", f'CALLERID(num)=${{IF($["${{PBX_CLI}}" = ""]?{main}:${{PBX_CLI}})}}')
        for e164 in sorted(t.recording.approved if t.recording else ()):
            e164 = w.e164(e164, f"approved number of company {t.id}")
            dp.same("ExecIf", f'$["${{CALLERID(num)}}" = "{e164}"]?Set(__PBX_RECN=1)')
        dp.same("Gosub", f"pbx-recording-hook,s,1({t.id},out,${{PBX_USER}})")
        trunk = self.snapshot.outbound_trunk(t)
        if trunk is None:
            dp.same("Playback", "ss-noservice")
            dp.same("Hangup", "34")
            return
        options = "${PBX_COPTS}${PBX_RECOPT}" if t.recording else "${PBX_COPTS}"
        dp.same("Dial", f"PJSIP/${{FILTER(+0123456789,${{PBX_NUM}})}}@{w.name(trunk.endpoint, 'trunk')},,{options}")
        dp.same("Hangup")

    def forward(self) -> None:
        """Forwarding targets (profiles, statuses, reserved numbers): like a colleague dialling."""
        dp, p = self.dp, self.p
        dp.context(f"{p}-forward", f"{p}-emergency", f"{p}-extensions", f"{p}-inbound", f"{p}-outbound")
        dp.exten("i", "Hangup")

    def hangup(self) -> None:
        self.dp.context(f"{self.p}-hangup")
        self.dp.exten("s", "Hangup")

    def person(self) -> None:
        """What pbx-person decided, carried out with the company's own contexts."""
        dp, p = self.dp, self.p
        dp.context(f"{p}-person")
        tid, person = self.t.id, "${FILTER(0123456789,${PBX_PERSON})}"
        dp.exten("status", "Goto", f"{p}-status-fwd,${{PBX_ST}},1")
        # The call log's "forwarded to" and "voicemail": no standard AMI event says either.
        dp.exten("forward", "UserEvent", f"PbxForward,Tenant: {tid},User: {person},Reason: ${{FILTER(a-z,${{PBX_STEP}})}},"
                 "To: ${FILTER(+0123456789,${PBX_FWD})}")
        dp.same("Goto", f"{p}-forward,${{PBX_FWD}},1")
        for exten, flag in (("vmbusy", "b"), ("vmunavail", "u")):
            dp.exten(exten, "UserEvent", f"PbxVoicemail,Tenant: {tid},User: {person},Mailbox: ${{PBX_VM}}")
            dp.same("VoiceMail", f"${{PBX_VM}},{flag}")
            dp.same("Hangup")
        dp.exten("busy", "Busy", "10")
        dp.exten("hangup", "Hangup")
        dp.exten("i", "Hangup")

    def status_forward(self) -> None:
        """Activity-driven forwarding: a status with a destination sends its holder's calls there."""
        dp, p = self.dp, self.p
        dp.context(f"{p}-status-fwd")
        for status in self.t.statuses:
            if status.forward_to_id is not None:
                dp.exten(str(status.code), "UserEvent",
                         f"PbxForward,Tenant: {self.t.id},User: ${{FILTER(0123456789,${{PBX_PERSON}})}},Reason: status,"
                         f"To: dest:{status.forward_to_id}")
                dp.same("Goto", self.target(status.forward_to_id))

    def presence(self) -> None:
        """*20<code> / *21: pbx-presence asks the orchestrator (do_set_presence) and says what it answered;
        the company's time zone is where the phone says until when."""
        dp, p, tid = self.dp, self.p, self.t.id
        zone = w.time_zone(self.t.time_zone, f"time zone of company {tid}")
        dp.context(f"{p}-presence")
        for status in self.t.statuses:
            dp.exten(str(status.code), "Gosub", f"pbx-presence,s,1({tid},{status.code},{zone})")
        dp.exten("clear", "Gosub", f"pbx-presence,s,1({tid},,{zone})")
        dp.exten("i", "Playback", SOUND_INVALID)

    def agent_codes(self) -> None:
        """Queue log-in/out/pause by phone: an event the orchestrator turns into do_queue_login &c."""
        dp, p, tid = self.dp, self.p, self.t.id
        dp.context(f"{p}-agentcode")
        for code, action, sound in (("45", "login", "agent-loginok"), ("46", "logout", "agent-loggedoff"),
                                    ("47", "pause", "beep")):
            dp.exten(code, "Gosub", f"pbx-agent,s,1({tid},{action},{sound})")

    def pickup(self) -> None:
        dp, p = self.dp, self.p
        dp.context(f"{p}-pickup")
        for user in self.t.users.values():
            if user.extension and user.devices:
                channels = "&".join(f"PJSIP/{d.endpoint}-" for d in user.devices)
                dp.exten(user.extension, "PickupChan", f"{channels},p")
        dp.exten("i", "Hangup")

    def record_prompt(self) -> None:
        """A company admin records a prompt; the orchestrator converts and installs it (event)."""
        dp, p = self.dp, self.p
        dp.context(f"{p}-recprompt")
        for prompt_id in self.t.prompts:
            recorded = f"custom/{p}/recorded-prompt-{prompt_id}"
            dp.exten(str(prompt_id), "ExecIf", '$["${PBX_ADMIN}" != "1"]?Hangup()')
            dp.same("Answer")
            # An absolute path: Asterisk 22's Record makes the destination directory from a relative name
            # including the file's own name (app_record.c create_destination_directory), leaving a directory
            # "recorded-prompt-<id>" beside the file.
            dp.same("Record", f"${{ASTDATADIR}}/sounds/{recorded}.wav,3,300")
            dp.same("Playback", recorded)
            dp.same("Read", "PBX_OK,if-correct-press&digits/1,1,,1,5")
            dp.same("GotoIf", f'$["${{FILTER(0123456789,${{PBX_OK}})}}" != "1"]?{p}-recprompt,{prompt_id},1')
            dp.same("MSet", "PBX_ANSWER=,PBX_UNTIL=")
            dp.same("UserEvent", f"PbxPromptRecorded,Tenant: {self.t.id},Prompt: {prompt_id},"
                                 f"User: ${{FILTER(0123456789,${{PBX_USER}})}},File: {recorded}")
            # The orchestrator converts and installs the file before it answers: give it time.
            dp.same("Gosub", f"pbx-feature-answer,s,1({SOUND_THANKS},,15)")
            dp.same("Hangup")
        dp.exten("i", "Hangup")

    def hints(self) -> None:
        """BLF: device states of all of a person's devices plus their presence, per extension."""
        dp, p = self.dp, self.p
        dp.context(f"{p}-hints")
        for user in self.t.users.values():
            if user.extension:
                devices = "&".join(f"PJSIP/{d.endpoint}" for d in user.devices)
                dp.hint(user.extension, devices, f"CustomPresence:{p}-u{user.id}")

    def agents(self) -> None:
        """Queue members are Local/<user id>@t1-agents/n (added through AMI), and a console user answering
        a waiting caller is reached here too: their reachable phones ring (pbx-reachable), transfer keys on,
        no forwarding; with none reachable the member is unavailable (cause 20), so the queue tries another.

        Automatic recording (docs/recording.md) decides on the agent's phone when it answers (Dial's U()), for
        a call of this company that passed pbx-recording-hook: the recording is the agent's own leg, so it
        ends when the agent leaves the call, also by transferring it on (the member's Local pair stays up)."""
        dp, p, tid = self.dp, self.p, self.t.id
        dp.context(f"{p}-agents")
        for user in self.t.users.values():
            if user.takes_calls_directly:
                if user.devices:
                    options = "t"
                    if self.t.recording is not None:
                        options += f'${{IF($["${{PBX_RECT}}" = "{tid}"]?U(pbx-rec-answer^r^{user.id}^^^q))}}'
                    dp.exten(str(user.id), "Gosub", f"pbx-reachable,s,1({self.endpoints(user)})")
                    dp.same("GotoIf", "$[${LEN(${GOSUB_RETVAL})} = 0]?none,1")
                    dp.same("Dial", f"${{GOSUB_RETVAL}},,{options}")
                else:
                    dp.exten(str(user.id), "Hangup", "20")
        dp.exten("none", "Hangup", "20")

    @staticmethod
    def endpoints(user) -> str:
        """A person's devices for pbx-reachable / pbx-person: endpoint names joined by & (no PJSIP/)."""
        return "&".join(w.name(d.endpoint, "endpoint") for d in user.devices)

    def users(self) -> None:
        dp, p, t = self.dp, self.p, self.t
        for user in t.users.values():
            devices = self.endpoints(user)
            mailbox = f"{w.extension(user.mailbox, f'mailbox of user {user.id}')}@{p}" if user.mailbox else ""
            hint = f"{user.extension}@{p}-hints" if user.extension else ""
            dp.context(f"{p}-user-{user.id}")
            lines = ("fixed", "mobile") if user.has_mobile_number else ("fixed",)
            for line in lines:
                dp.exten("s" if line == "fixed" else line, "Gosub", f"{p}-profile,s,1({user.id})")
                dp.same("Gosub", f"pbx-person,s,1({t.id},{user.id},{line},{devices},{mailbox},{hint},${{GOSUB_RETVAL}})")
                dp.same("Goto", f"{p}-person,${{GOSUB_RETVAL}},1")

    def profiles(self) -> None:
        """Scheduled forwarding profiles, decided at call time so they switch on time while Django is down.

        AstDB lists a person's scheduled profiles (``sp1``, ``sp2``... in name order, docs/astdb.md); the
        first whose schedule is open now (the schedule's own context: its override, holidays, hours, in the
        company's time zone, so daylight saving is Asterisk's tz database) gives the rules. A profile switched
        on by hand (``profile``) wins over every schedule. ``t1-profsched`` is the only way from a number in
        AstDB to a schedule's context: a schedule that is gone has no extension there and is skipped.
        """
        dp, p = self.dp, self.p
        dp.context(f"{p}-profile")
        if not self.t.schedules:
            dp.exten("s", "Return")  # no schedule, so no scheduled profile can be in force
            return
        dp.comment("Gosub(<user id>): returns \"\" (the base keys: by hand or defaults) or \"sp<N>/\" (scheduled, open now)")
        dp.exten("s", "Set", f"LOCAL(db)=pbx/{p}/u${{FILTER(0123456789,${{ARG1}})}}")
        dp.same("GotoIf", '$["${FILTER(0123456789,${DB(${db}/profile)})}" != ""]?base,1')
        dp.same("Set", "LOCAL(i)=0")
        dp.same("Goto", "next,1")
        dp.exten("next", "Set", "LOCAL(i)=$[${i} + 1]")
        dp.same("Set", "LOCAL(s)=${FILTER(0123456789,${DB(${db}/sp${i}/schedule)})}")
        dp.same("GotoIf", f'$["${{s}}" = "" | ${{i}} > {MAX_SCHEDULED_PROFILES}]?base,1')
        dp.same("GotoIf", f"$[!${{DIALPLAN_EXISTS({p}-profsched,${{s}},1)}}]?next,1")
        dp.same("Gosub", f"{p}-profsched,${{s}},1")
        dp.same("GotoIf", '$["${GOSUB_RETVAL}" != "open"]?next,1')
        dp.same("Return", "sp${i}/")
        dp.exten("base", "Return")
        dp.context(f"{p}-profsched")
        for schedule_id in sorted(self.t.schedules):
            dp.exten(str(schedule_id), "Goto", f"{p}-schedule-{schedule_id},s,1")

    def queues(self) -> None:
        dp, p, t = self.dp, self.p, self.t
        for queue in t.queues.values():
            name = queue.asterisk_name
            dp.context(f"{p}-queue-{queue.id}")
            dp.exten("s", "Set", f"__PBX_QUEUE={queue.id}")
            dp.same("Answer")
            dp.same("GotoIf", f"$[${{QUEUE_MEMBER({name},logged)}} = 0]?noagents,1")
            timeout = str(queue.max_wait_seconds) if queue.max_wait_seconds else ""
            if t.recording is None:
                dp.same("Gosub", f"pbx-recording-hook,s,1({t.id},queue,{queue.id})")
                dp.same("Queue", f"{name},t,,,{timeout}")
            else:
                # The queue's policy goes with the call; the agent's phone decides when it answers (t<T>-agents), and
                # Queue()'s gosub tells the agent the queue chose.
                policy = t.recording.queue_policies.get(queue.id, "")
                dp.same("Gosub", f"pbx-recording-hook,s,1({t.id},queue,{queue.id},{policy})")
                if policy == "always" and t.recording.announcement:
                    # The caller is told before the queue; a transfer later does not tell them again.
                    announcement = w.sound(t.recording.announcement, f"recording announcement of company {t.id}")
                    dp.same("ExecIf", '$["${PBX_RECT}" != ""]?Set(MASTER_CHANNEL(PBX_RECHEARD)=1)')
                    dp.same("ExecIf", f'$["${{PBX_RECT}}" != ""]?Playback({announcement})')
                dp.same("Queue", f"{name},t,,,{timeout},,pbx-rec-queue")
            dp.same("GotoIf", '$["${QUEUESTATUS}" = "JOINEMPTY" | "${QUEUESTATUS}" = "LEAVEEMPTY"]?noagents,1')
            dp.same("GotoIf", '$["${QUEUESTATUS}" = "JOINUNAVAIL" | "${QUEUESTATUS}" = "LEAVEUNAVAIL"]?noagents,1')
            dp.same("Goto", "overflow,1")
            # Why the queue did not take the call, for the call log (PbxQueueResult): the check before
            # Queue() raises no queue event at all, and QueueCallerLeave does not say timeout from full.
            result = f"PbxQueueResult,Tenant: {t.id},Queue: {queue.id},Result: "
            dp.exten("overflow", "UserEvent", result + '${IF($["${QUEUESTATUS}" = "FULL"]?overflow:timeout)}')
            dp.same("Goto", self.target(queue.overflow_destination_id))
            no_agents = queue.no_agents_destination_id or queue.overflow_destination_id
            dp.exten("noagents", "UserEvent", result + "noagents")
            dp.same("Goto", self.target(no_agents))
            if queue.callback_enabled:
                self._queue_callback(queue.id, name, queue.max_wait_seconds)

    def _queue_callback(self, queue_id: int, name: str, max_wait: int) -> None:
        """Callback keeping the caller's place: a Local channel waits in the queue for them.

        The caller presses 1 (queues.conf ``context``), confirms a number and hangs up. Originate
        starts ``Local/s@t1-qcbwait-<q>/n``: its ;2 side joins the queue at the caller's old
        position (Queue's ``position`` argument); when an agent answers, ;1 is answered and runs
        ``t1-qcbdial``, which dials the customer while the agent hears it ring.
        """
        dp, p, t = self.dp, self.p, self.t
        wait = str(min(max_wait or 7200, 7200) + 60)
        dp.context(f"{p}-qexit-{queue_id}")
        dp.exten(CALLBACK_KEY, "Set", "PBX_CBPOS=${FILTER(0123456789,${QUEUEPOSITION})}")
        dp.same("Gosub", f"pbx-callback-capture,s,1({self.cc})")
        dp.same("Set", "PBX_CBNUM=${FILTER(+0123456789,${GOSUB_RETVAL})}")
        dp.same("GotoIf", f'$["${{PBX_CBNUM}}" = ""]?{p}-queue-{queue_id},s,1')
        dp.same("UserEvent", f"PbxCallback,Tenant: {t.id},Queue: {queue_id},Number: ${{PBX_CBNUM}},Position: ${{PBX_CBPOS}}")
        dp.same("Originate", f"Local/s@{p}-qcbwait-{queue_id}/n,exten,{p}-qcbdial,s,1,{wait},"
                             "av(PBX_CBNUM=${PBX_CBNUM}^PBX_CBPOS=${PBX_CBPOS}^PBX_CBKIND=queue)")
        dp.same("Playback", SOUND_THANKS)
        dp.same("Hangup")
        dp.context(f"{p}-qcbwait-{queue_id}")
        dp.exten("s", "Set", "CALLERID(num)=${FILTER(+0123456789,${PBX_CBNUM})}")
        dp.same("Queue", f"{name},,,,{max_wait or ''},,,,${{FILTER(0123456789,${{PBX_CBPOS}})}}")
        # Queue() returns only when no agent took the callback (an answered one hangs up: no "c" option):
        # it timed out, or every agent was or became unavailable (joinempty/leavewhenempty; seen on Asterisk
        # 22.10.1 when the last agent's phone went away). A queue's own callback has no other trace on
        # anyone's list, so the bridge puts it there; a menu's request (no PBX_CBKIND) is listed already.
        dp.same("GotoIf", f'$["${{PBX_CBKIND}}" = ""]?{p}-hangup,s,1')
        dp.same("UserEvent", f"PbxCallbackUnserved,Tenant: {t.id},Queue: {queue_id},Number: ${{PBX_CBNUM}},"
                             "Result: ${QUEUESTATUS}")
        dp.same("Hangup")
        if not self._cbdial_done:
            self._callback_dial()

    def _callback_dial(self) -> None:
        dp, p, t = self.dp, self.p, self.t
        self._cbdial_done = True
        main = w.e164(t.main_number, f"main number of company {t.id}") if t.main_number else ""
        dp.context(f"{p}-qcbdial")
        dp.comment("an agent took a callback: call the customer, showing the company's main number")
        dp.exten("s", "Set", "PBX_NUM=${FILTER(+0123456789,${PBX_CBNUM})}")
        dp.same("Set", "PBX_USER=")
        dp.same("Set", f"CALLERID(num)={main}")
        dp.same("Goto", f"{p}-dialout,s,1")

    def callback_requests(self) -> None:
        """A menu's callback choice: number captured, kept in AstDB, announced, queued for call-back."""
        dp, p, t = self.dp, self.p, self.t
        for dest in t.destinations.values():
            if dest.kind != "callback" or dest.queue_id not in t.queues:
                continue
            queue = t.queues[dest.queue_id]
            wait = str(min(queue.max_wait_seconds or 7200, 7200) + 60)
            dp.context(f"{p}-cbreq-{dest.id}")
            dp.exten("s", "Answer")
            dp.same("Gosub", f"pbx-callback-capture,s,1({self.cc})")
            dp.same("Set", "PBX_CBNUM=${FILTER(+0123456789,${GOSUB_RETVAL})}")
            dp.same("GotoIf", f'$["${{PBX_CBNUM}}" = ""]?{p}-hangup,s,1')
            dp.same("Set", f"DB(pbxcb/{p}/${{UNIQUEID}})={dest.id}:{queue.id}:${{PBX_CBNUM}}:${{EPOCH}}")
            dp.same("UserEvent", f"PbxCallbackRequest,Tenant: {t.id},Destination: {dest.id},Queue: {queue.id},Number: ${{PBX_CBNUM}}")
            if queue.callback_enabled:
                dp.same("Set", "PBX_CBPOS=")
                dp.same("Originate", f"Local/s@{p}-qcbwait-{queue.id}/n,exten,{p}-qcbdial,s,1,{wait},"
                                     "av(PBX_CBNUM=${PBX_CBNUM}^PBX_CBPOS=)")
            dp.same("Playback", SOUND_THANKS)
            dp.same("Hangup")

    def menus(self) -> None:
        dp, p, t = self.dp, self.p, self.t
        for menu in t.menus.values():
            prompt = self.sound(menu.prompt_id)
            invalid = self.sound(menu.invalid_prompt_id) or SOUND_INVALID
            dp.context(f"{p}-menu-{menu.id}")
            dp.exten("s", "Set", "PBX_TRIES=0")
            dp.same("Answer")
            dp.same("Goto", "play,1")
            dp.exten("play", "Set", "PBX_TRIES=$[${PBX_TRIES} + 1]")
            if prompt:
                dp.same("Background", prompt)
            dp.same("WaitExten", str(menu.timeout_seconds))
            for digit, dest_id in menu.options:
                if digit not in "0123456789*#" or len(digit) != 1:
                    raise w.ConfigError(f"menu {menu.id}: {digit!r} is not a key")
                dp.exten(digit, "Goto", self.target(dest_id))
            dp.exten("t", "GotoIf", f"$[${{PBX_TRIES}} < {menu.max_attempts}]?play,1")
            self.goto(menu.timeout_destination_id)
            dp.exten("i", "Playback", invalid)
            dp.same("GotoIf", f"$[${{PBX_TRIES}} < {menu.max_attempts}]?play,1")
            self.goto(menu.invalid_destination_id if menu.invalid_destination_id else menu.timeout_destination_id)

    def schedules(self) -> None:
        for schedule in self.t.schedules.values():
            self._schedule(schedule)

    def _schedule(self, schedule: Schedule) -> None:
        """Gosub returning open/closed: manual override (AstDB), special days, weekly hours."""
        dp, p, tz = self.dp, self.p, self.tz
        key = f"pbx/{p}/s{schedule.id}"
        dp.context(f"{p}-schedule-{schedule.id}")
        dp.exten("s", "Set", f"LOCAL(ov)=${{FILTER(a-z,${{DB({key}/override)}})}}")
        dp.same("Set", f"LOCAL(until)=${{FILTER(0123456789,${{DB({key}/until)}})}}")
        dp.same("GotoIf", '$["${ov}" = "" | (0${until} > 0 & ${EPOCH} >= 0${until})]?rules,1')
        dp.same("Return", '${IF($["${ov}" = "open"]?open:closed)}')
        dp.exten("rules", "Set", f"LOCAL(today)=${{STRFTIME(${{EPOCH}},{tz},%Y%m%d)}}")
        for day in sorted(schedule.special_days, key=lambda d: (d.start_date, d.end_date, d.id)):
            start, end = day.start_date.strftime("%Y%m%d"), day.end_date.strftime("%Y%m%d")
            target = "closed,1" if day.is_closed or not (day.open_time and day.close_time) else f"day{day.id},1"
            dp.same("GotoIf", f"$[${{today}} >= {start} & ${{today}} <= {end}]?{target}")
        for weekday, opens, closes in schedule.weekly:
            dp.same("GotoIfTime", f"{_time_range(opens, closes)},{WEEKDAYS[weekday]},*,*,{tz}?open,1")
        dp.same("Return", "closed")
        for day in sorted(schedule.special_days, key=lambda d: d.id):
            if not day.is_closed and day.open_time and day.close_time:
                dp.exten(f"day{day.id}", "GotoIfTime", f"{_time_range(day.open_time, day.close_time)},*,*,*,{tz}?open,1")
                dp.same("Return", "closed")
        dp.exten("open", "Return", "open")
        dp.exten("closed", "Return", "closed")

    def voicemail(self) -> None:
        dp, p = self.dp, self.p
        dp.context(f"{p}-voicemail")
        for box in sorted(self.t.voicemail_boxes.values(), key=lambda b: (b.number, b.id)):
            number = w.extension(box.number, f"voicemail box {box.id}")
            dp.exten(number, "Answer")
            dp.same("UserEvent", f"PbxVoicemail,Tenant: {self.t.id},Mailbox: {number}")
            greeting = self.sound(box.greeting_prompt_id)
            if greeting:
                dp.same("Playback", greeting)
            dp.same("VoiceMail", f"{number}@{p},{'su' if greeting else 'u'}")

    def conferences(self) -> None:
        dp, p = self.dp, self.p
        for conf in self.t.conferences.values():
            name = f"{p}-conf-{conf.id}"
            dp.context(name)
            dp.exten("s", "Answer")
            dp.same("ConfBridge", f"{name},{name}-bridge,{name}-user")
            dp.same("Hangup")


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _time_range(opens, closes) -> str:
    """GotoIfTime's ranges include their last minute (main/pbx_timing.c), so 17:00 ends at 16:59."""
    end = closes.hour * 60 + closes.minute - (0 if closes.second else 1)
    end = max(end, opens.hour * 60 + opens.minute)
    return f"{opens.hour:02d}:{opens.minute:02d}-{end // 60:02d}:{end % 60:02d}"
