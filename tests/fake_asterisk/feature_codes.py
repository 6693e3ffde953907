"""Feature codes dialled from a phone, as the generated dialplan runs them on a real Asterisk 22.

``dial_feature_code(endpoint, "*45800")`` walks the priorities pbx/asterisk/confgen writes for that code
(``t<T>-internal`` → ``t<T>-agentcode`` / ``t<T>-presence`` / ``t<T>-recprompt`` → the shared ``pbx-agent`` /
``pbx-presence`` → ``pbx-feature-answer``) and emits what Asterisk emits for them: ``Newchannel``, the
endpoint's ``set_var`` variables as ``VarSet``, a ``Newexten`` per priority (``Extension``/``Application``/
``AppData`` after substitution), ``VarSet`` for every variable a priority sets (``Set``, ``MSet``, Gosub's
``ARG<n>``, ``WAITFORCONDITIONSTATUS``, ``GOSUB_RETVAL``), ``Newstate`` for ``Answer``, the ``UserEvent``
(channel block, ``UserEvent: <name>``, then its own headers in the dialplan's order: app_userevent.c keeps
them in a JSON object, stasis.c ``multi_user_event_to_ami`` writes them after the channel block), then
``WaitForCondition``: polls the channel's ``PBX_ANSWER`` every 0.1 s until the orchestrator's AMI ``Setvar``
(the fake's Setvar emits ``VarSet`` like Asterisk) or the timeout, and plays what the dialplan plays for the
answer (``FeatureDial.played``), then falls off the end: ``Hangup``.

``press_feature_key(channel, "*9")`` is the in-call key (features.conf applicationmap): the same
``pbx-ondemand-rec`` Gosub run on the presser's channel while it stays in its bridge.

The company's settings the dialplan was rendered from (status codes, prompt ids, time zone) are in
``state.feature_settings[<tenant id>]`` (demo_traffic.install fills them); the person's in the endpoint's
``variables`` (PBX_TENANT, PBX_USER, PBX_ADMIN: pjsip ``set_var``).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import events as ev
from .state import Channel

SOUND_REFUSED = "feature-not-avail-line"
SOUND_LATER = "please-try-call-later"
AGENT_CODES = {"45": ("login", "agent-loginok"), "46": ("logout", "agent-loggedoff"), "47": ("pause", "beep")}
IN_CALL_KEYS = {"*9": "toggle", "*7": "pause"}


@dataclass
class FeatureDial:
    channel: Channel
    digits: str
    played: list[str] = field(default_factory=list)  # Playback / SayUnixTime, as the caller heard them
    answer: str = ""  # what PBX_ANSWER was when WaitForCondition ended ("" on timeout)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def heard_ok(self) -> bool:
        return bool(self.played) and self.played[0] not in (SOUND_REFUSED, SOUND_LATER, "invalid")


class FeatureCodeMixin:
    """Mixed into FakeAsterisk (needs World's channel primitives and CallMixin's dialplan_hangup)."""

    answer_timeout_scale = 1.0  # WaitForCondition's seconds are real seconds unless a test shrinks them

    # ------------------------------------------------------------------ the dialplan's primitives
    def _exten(self, ch: Channel, context: str, exten: str, priority: int, app: str, data: str) -> None:
        self.set_dialplan(ch, context, exten, priority, app, data)
        self.emit(ev.event("Newexten", "dialplan,all", ev.chan(ch), Extension=exten, Application=app, AppData=data))

    def _var(self, ch: Channel, name: str, value: str) -> None:
        ch.variables[name] = value
        self.emit(ev.event("VarSet", "dialplan,all", ev.chan(ch), Variable=name, Value=value))

    def _frames_of(self, ch: Channel) -> list[dict[str, str]]:
        """The channel's Gosub stack: per frame, its local variables in the order they were first set."""
        stacks = self.__dict__.setdefault("_gosub_frames", {})
        return stacks.setdefault(ch.uniqueid, [{}])

    def _local(self, ch: Channel, name: str, value: str) -> None:
        """Set(LOCAL(name)=...): app_stack.c keeps it in the Gosub frame; the VarSet names it LOCAL(name)."""
        self._frames_of(ch)[-1][name] = value
        self.emit(ev.event("VarSet", "dialplan,all", ev.chan(ch), Variable=f"LOCAL({name})", Value=value))

    def _gosub_args(self, ch: Channel, *args: str) -> None:
        """Gosub(...(args)): a new frame with LOCAL(ARG1..n) and LOCAL(ARGC), as app_stack.c gosub_exec sets them."""
        self._frames_of(ch).append({})
        for n, value in enumerate(args, 1):
            self._local(ch, f"ARG{n}", value)
        self._local(ch, "ARGC", str(len(args)))

    def _return(self, ch: Channel, context: str, exten: str, priority: int, value: str) -> None:
        """Return(value): the frame's locals are unset newest first (frame_destroy: only those with a value emit
        a VarSet, named without LOCAL()), then GOSUB_RETVAL."""
        self._exten(ch, context, exten, priority, "Return", value)
        frames = self._frames_of(ch)
        frame = frames.pop() if len(frames) > 1 else {}
        for name, old in reversed(frame.items()):
            if old:
                self._var(ch, name, "")
        self._var(ch, "GOSUB_RETVAL", value)

    # ------------------------------------------------------------------ dialling a code
    def dial_feature_code(self, endpoint: str, digits: str, *, recording: bytes | None = None,
                          sounds_dir: Path | None = None) -> FeatureDial:
        """The phone ``endpoint`` dials ``digits``; returns at once, ``FeatureDial.done`` is set after the Hangup.
        ``recording``: what the person says for ``*99<prompt>`` (written where Record() writes, ``sounds_dir``
        being Asterisk's ``sounds/custom``)."""
        ep = self.state.endpoints[endpoint]
        ch = self.new_channel(self.state.new_pjsip_name(ep.name), caller_num=ep.name, caller_name=ep.caller_name,
                              context=ep.context, exten=digits, state=4, endpoint=ep.device)
        ch.dnid = digits
        for name, value in ep.variables.items():
            self._var(ch, name, value)
        self._var(ch, "SIPDOMAIN", self.host)  # chan_pjsip: the domain of the INVITE's request URI
        dial = FeatureDial(ch, digits)
        task = asyncio.get_running_loop().create_task(self._run_code(dial, recording, sounds_dir))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return dial

    async def _run_code(self, dial: FeatureDial, recording: bytes | None, sounds_dir: Path | None) -> None:
        ch, digits = dial.channel, dial.digits
        internal = ch.context
        tenant = _tenant_of(internal)
        settings = self.state.feature_settings.get(tenant, {})
        try:
            agent = re.fullmatch(r"\*(4[567])(\d*)", digits)
            presence = re.fullmatch(r"\*20(\d{1,2})|\*21", digits)
            prompt = re.fullmatch(r"\*99(\d+)", digits)
            if agent:
                end = await self._agent_code(dial, internal, tenant, agent[1], agent[2])
            elif presence:
                end = await self._presence_code(dial, internal, tenant, presence[1], settings)
            elif prompt:
                end = await self._prompt_code(dial, internal, tenant, prompt[1], settings, recording, sounds_dir)
            else:
                self.dialplan_hangup(ch, cause=1)  # no such extension
                return
            if ch.uniqueid not in self.state.channels:
                return
            if end is not None:
                # The dialplan falls off the end (autofallthrough): SoftHangupRequest while the snapshot still
                # names the subroutine's last priority, then the Hangup at the caller's next, missing, priority
                # with cause 0, as the real capture phone_code_login shows.
                self.emit(ev.call_event("SoftHangupRequest", ch, Cause="16"))
                self.set_dialplan(ch, *end)
                self.dialplan_hangup(ch, cause=0)
            else:
                self.dialplan_hangup(ch)
        finally:
            self.__dict__.get("_gosub_frames", {}).pop(ch.uniqueid, None)
            dial.done.set()

    async def _agent_code(self, dial: FeatureDial, internal: str, tenant: int, code: str, queue_ext: str) -> None:
        ch = dial.channel
        # A pattern's Newexten names the dialled digits (Exten and Extension), never the pattern.
        self._exten(ch, internal, ch.exten, 1, "Set", f"PBX_QEXT={queue_ext}")
        self._var(ch, "PBX_QEXT", queue_ext)
        self._exten(ch, internal, ch.exten, 2, "Goto", f"t{tenant}-agentcode,{code},1")
        action, sound = AGENT_CODES[code]
        self._exten(ch, f"t{tenant}-agentcode", code, 1, "Gosub", f"pbx-agent,s,1({tenant},{action},{sound})")
        self._gosub_args(ch, str(tenant), action, sound)
        user = self._person_steps(ch, "pbx-agent")
        if user:
            await self._ask(dial, "pbx-agent", 5, "PbxQueueAgent",
                            [("Action", action), ("Tenant", str(tenant)), ("User", user), ("QueueExtension", queue_ext)],
                            sound, "", 5)
            self._return(ch, "pbx-agent", "s", 7, "")
        else:
            self._return(ch, "pbx-agent", "denied", 2, "")
        return (f"t{tenant}-agentcode", code, 2)

    async def _presence_code(self, dial: FeatureDial, internal: str, tenant: int, code: str | None,
                             settings: dict) -> None:
        ch = dial.channel
        zone = settings.get("time_zone", "Europe/Stockholm")
        if code is None:
            self._exten(ch, internal, "*21", 1, "Goto", f"t{tenant}-presence,clear,1")
            exten, code = "clear", ""
        else:
            self._exten(ch, internal, ch.exten, 1, "Goto", f"t{tenant}-presence,{code},1")
            exten = code
            if int(code) not in settings.get("status_codes", ()) or code != str(int(code)):
                self._exten(ch, f"t{tenant}-presence", "i", 1, "Playback", "invalid")
                dial.played.append("invalid")
                return (f"t{tenant}-presence", "i", 2)
        self._exten(ch, f"t{tenant}-presence", exten, 1, "Gosub", f"pbx-presence,s,1({tenant},{code},{zone})")
        self._gosub_args(ch, str(tenant), code, zone)
        user = self._person_steps(ch, "pbx-presence")
        if user:
            await self._ask(dial, "pbx-presence", 5, "PbxPresence",
                            [("Tenant", str(tenant)), ("User", user), ("Code", code)], "beep", zone, 5)
            self._return(ch, "pbx-presence", "s", 7, "")
        else:
            self._return(ch, "pbx-presence", "denied", 2, "")
        return (f"t{tenant}-presence", exten, 2)

    async def _prompt_code(self, dial: FeatureDial, internal: str, tenant: int, prompt_id: str, settings: dict,
                           recording: bytes | None, sounds_dir: Path | None) -> None:
        ch = dial.channel
        context = f"t{tenant}-recprompt"
        self._exten(ch, internal, ch.exten, 1, "Goto", f"{context},{prompt_id},1")
        if int(prompt_id) not in settings.get("prompt_ids", ()):
            self._exten(ch, context, "i", 1, "Hangup", "")
            return None
        admin = ch.variables.get("PBX_ADMIN", "")
        self._exten(ch, context, prompt_id, 1, "ExecIf", f'{int(admin != "1")}?Hangup()')
        if admin != "1":
            return None
        self._exten(ch, context, prompt_id, 2, "Answer", "")
        self.set_state(ch, 6)
        recorded = f"custom/t{tenant}/recorded-prompt-{prompt_id}"
        # The dialplan records to ${ASTDATADIR}/sounds/custom/... (an absolute path: see confgen's record_prompt).
        custom = Path(sounds_dir) if sounds_dir is not None else Path("/var/lib/asterisk/sounds/custom")
        self._exten(ch, context, prompt_id, 3, "Record", f"{custom}/t{tenant}/recorded-prompt-{prompt_id}.wav,3,300")
        if recording is not None and sounds_dir is not None:
            path = Path(sounds_dir) / f"t{tenant}" / f"recorded-prompt-{prompt_id}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(recording)
        self._var(ch, "RECORD_STATUS", "SILENCE")
        self._exten(ch, context, prompt_id, 4, "Playback", recorded)
        self._var(ch, "PLAYBACKSTATUS", "SUCCESS")
        self._exten(ch, context, prompt_id, 5, "Read", "PBX_OK,if-correct-press&digits/1,1,,1,5")
        self._var(ch, "PBX_OK", "1")
        self._var(ch, "READSTATUS", "OK")
        self._exten(ch, context, prompt_id, 6, "GotoIf", f"0?{context},{prompt_id},1")
        self._exten(ch, context, prompt_id, 7, "MSet", "PBX_ANSWER=,PBX_UNTIL=")
        self._var(ch, "PBX_ANSWER", "")
        self._var(ch, "PBX_UNTIL", "")
        user = ch.variables.get("PBX_USER", "")
        self._exten(ch, context, prompt_id, 8, "UserEvent",
                    f"PbxPromptRecorded,Tenant: {tenant},Prompt: {prompt_id},User: {user},File: {recorded}")
        self._user_event(ch, "PbxPromptRecorded", [("Tenant", str(tenant)), ("Prompt", prompt_id), ("User", user),
                                                   ("File", recorded)])
        self._exten(ch, context, prompt_id, 9, "Gosub", "pbx-feature-answer,s,1(auth-thankyou,,15)")
        self._gosub_args(ch, "auth-thankyou", "", "15")
        await self._feature_answer(dial, "auth-thankyou", "", 15)
        self._exten(ch, context, prompt_id, 10, "Hangup", "")
        return None

    # ------------------------------------------------------------------ in-call keys
    def press_feature_key(self, channel: Channel | str, key: str) -> FeatureDial:
        """The person on ``channel`` presses ``*9`` or ``*7`` during a call (DYNAMIC_FEATURES of our devices)."""
        ch = self._resolve(channel)
        dial = FeatureDial(ch, key)
        task = asyncio.get_running_loop().create_task(self._run_key(dial, IN_CALL_KEYS[key]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return dial

    async def _run_key(self, dial: FeatureDial, what: str) -> None:
        ch = dial.channel
        where = (ch.context, ch.exten, ch.priority, ch.application, ch.appdata)
        try:
            # chan_pjsip_new sets the endpoint's set_var on every channel of it, the called ones too.
            ep = self.state.endpoints.get((ch.endpoint or "/").split("/", 1)[1])
            own = {**(ep.variables if ep is not None else {}), **ch.variables}
            tenant = re.sub(r"\D", "", own.get("PBX_TENANT", ""))
            user = re.sub(r"\D", "", own.get("PBX_USER", ""))
            self._gosub_args(ch)  # the applicationmap's Gosub(pbx-ondemand-rec,<key>,1): a frame without arguments
            self._exten(ch, "pbx-ondemand-rec", what, 1, "MSet", "PBX_ANSWER=,PBX_UNTIL=")
            self._var(ch, "PBX_ANSWER", "")
            self._var(ch, "PBX_UNTIL", "")
            self._exten(ch, "pbx-ondemand-rec", what, 2, "UserEvent",
                        f"PbxOnDemandRecording,Key: {what},Tenant: {tenant},User: {user}")
            self._user_event(ch, "PbxOnDemandRecording", [("Key", what), ("Tenant", tenant), ("User", user)])
            self._exten(ch, "pbx-ondemand-rec", what, 3, "Gosub", "pbx-feature-answer,s,1(beep,,3)")
            self._gosub_args(ch, "beep", "", "3")
            await self._feature_answer(dial, "beep", "", 3)
            self._return(ch, "pbx-ondemand-rec", what, 4, "")
        finally:
            if ch.uniqueid in self.state.channels:
                self.set_dialplan(ch, *where)
            self.__dict__.get("_gosub_frames", {}).pop(ch.uniqueid, None)
            dial.done.set()

    # ------------------------------------------------------------------ the shared subroutines
    def _person_steps(self, ch: Channel, context: str) -> str:
        user = re.sub(r"\D", "", ch.variables.get("PBX_USER", ""))
        self._exten(ch, context, "s", 1, "Set", f"LOCAL(user)={user}")
        self._local(ch, "user", user)
        self._exten(ch, context, "s", 2, "GotoIf", f"{int(not user)}?denied,1")
        if not user:
            self._exten(ch, context, "denied", 1, "Playback", SOUND_REFUSED)
            return ""
        self._exten(ch, context, "s", 3, "Answer", "")
        self.set_state(ch, 6)
        self._exten(ch, context, "s", 4, "MSet", "PBX_ANSWER=,PBX_UNTIL=")
        self._var(ch, "PBX_ANSWER", "")
        self._var(ch, "PBX_UNTIL", "")
        return user

    async def _ask(self, dial: FeatureDial, context: str, priority: int, name: str, fields: list[tuple[str, str]],
                   sound: str, zone: str, seconds: int) -> None:
        ch = dial.channel
        body = ",".join(f"{k}: {v}" for k, v in fields)
        self._exten(ch, context, "s", priority, "UserEvent", f"{name},{body}")
        self._user_event(ch, name, fields)
        self._exten(ch, context, "s", priority + 1, "Gosub", f"pbx-feature-answer,s,1({sound},{zone},{seconds})")
        self._gosub_args(ch, sound, zone, str(seconds))
        await self._feature_answer(dial, sound, zone, seconds)

    def _user_event(self, ch: Channel, name: str, fields: list[tuple[str, str]]) -> None:
        self.emit([*ev.event("UserEvent", "user,all", ev.chan(ch)), ("UserEvent", name), *fields])

    async def _feature_answer(self, dial: FeatureDial, sound: str, zone: str, seconds: int) -> None:
        ch, ctx = dial.channel, "pbx-feature-answer"
        self._exten(ch, ctx, "s", 1, "Set", f"LOCAL(secs)={seconds}")
        self._local(ch, "secs", str(seconds))
        self._exten(ch, ctx, "s", 2, "WaitForCondition", f'#,#["#{{PBX_ANSWER}}" != ""],{seconds},0.1')
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds * self.answer_timeout_scale
        while not ch.variables.get("PBX_ANSWER") and loop.time() < deadline:
            if ch.uniqueid not in self.state.channels:
                return
            await asyncio.sleep(0.1 * min(1.0, self.answer_timeout_scale))
        answer = re.sub(r"[^a-z]", "", ch.variables.get("PBX_ANSWER", ""))
        dial.answer = answer
        self._var(ch, "WAITFORCONDITIONSTATUS", "TRUE" if answer else "TIMEOUT")
        self._exten(ch, ctx, "s", 3, "Set", f"LOCAL(answer)={answer}")
        self._local(ch, "answer", answer)
        self._exten(ch, ctx, "s", 4, "GotoIf", f"{int(answer == 'ok')}?ok,1")
        if answer == "ok":
            self._exten(ch, ctx, "ok", 1, "Playback", sound)
            dial.played.append(sound)
            self._var(ch, "PLAYBACKSTATUS", "SUCCESS")
            until = re.sub(r"\D", "", ch.variables.get("PBX_UNTIL", ""))
            self._exten(ch, ctx, "ok", 2, "Set", f"LOCAL(until)={until}")
            self._local(ch, "until", until)
            self._exten(ch, ctx, "ok", 3, "GotoIf", f"{int(bool(until))}?until,1")
            if until:
                self._exten(ch, ctx, "until", 1, "SayUnixTime", f"{until},{zone},HM")
                dial.played.append(f"time:{until}")
                self._return(ch, ctx, "until", 2, "ok")
            else:
                self._return(ch, ctx, "ok", 4, "ok")
            return
        self._exten(ch, ctx, "s", 5, "GotoIf", f"{int(answer in ('', 'later'))}?later,1")
        if answer in ("", "later"):
            self._exten(ch, ctx, "later", 1, "Playback", SOUND_LATER)
            dial.played.append(SOUND_LATER)
            self._var(ch, "PLAYBACKSTATUS", "SUCCESS")
            self._return(ch, ctx, "later", 2, "later")
            return
        self._exten(ch, ctx, "s", 6, "Playback", SOUND_REFUSED)
        dial.played.append(SOUND_REFUSED)
        self._var(ch, "PLAYBACKSTATUS", "SUCCESS")
        self._return(ch, ctx, "s", 7, "refused")


def _tenant_of(context: str) -> int:
    match = re.match(r"^t(\d+)-", context or "")
    return int(match[1]) if match else 0
