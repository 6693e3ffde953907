"""Call control: what the console, the user web and the API make live calls do.

Every action here

- finds the call in the actor's own company's live state (``live_state().snapshot(tenant)``, what the
  event bridge saw): a call id is never trusted, a call of another company reads as an ended call, and the
  channels an action names are the ones the bridge saw in that call, never anything the browser sent;
- checks the actor may do it (a party of the call, or an operator / company admin; listen-in only for
  operators, company admins and recording super users); whether a licence is free for a recording or a
  listen-in is Asterisk's to say: one pool per company, shared with automatic recording
  (pbx/asterisk/licences.py);
- builds the AMI actions and has the event bridge of the company's node run them
  (``pbx.asterisk.control``), then writes the audit row. Nothing is written when Asterisk refused, and an
  action whose channel has just gone says so (``CallGone``);
- returns a small dict for the UI.

What reaches Asterisk (the contexts are those of pbx/asterisk/confgen, see docs/dialplan.md):

===================  ==============================================================================
click-to-call        Originate PJSIP/<actor's device> → t<T>-internal,<number>,1 (Async; the phone
                     rings first, then the dialplan calls the number)
answer waiting call  Redirect <that caller's channel> → t<T>-agents,<actor id>,1 (all the actor's
                     phones, transfer keys on) or, for someone who is no agent, t<T>-user-<id>,s,1;
                     Asterisk takes the caller out of Queue() (QueueCallerLeave), not the oldest
transfer (blind)     Redirect <the other party's channel> → t<T>-forward,<extension or +E.164>,1
transfer (announced) Atxfer <actor's channel> → t<T>-internal,<extension or 00…>: the feature code and
                     digits as DTMF (needs Dial/Queue option t, which the dialplan sets)
complete / cancel    Hangup <actor's channel> (the transferer hanging up joins caller and target) /
                     CancelAtxfer <actor's channel>
hang up              Hangup of every party's channel (the first must exist, the rest may have gone
                     along)
hold / resume        Setvar VOLUME(RX) and VOLUME(TX) of the actor's channel -100000 / 0, and music
                     to each other party: ARI snoop on its channel (whisper out) hold-<n>-<actor's
                     Uniqueid> + moh on the snoop / DELETE of the snoop (see do_hold_call,
                     pbx/asterisk/hold.py)
record               licence "take" on the person's channel (the bridge: DBGet, GROUP(pbxrec), GROUP_COUNT),
                     then MixMonitor <that channel> Options b r(pbx/t<T>/<yyyymmdd>/<Uniqueid>-<epoch>-
                     person.wav) t(...-other.wav) and the Recording row (reason on demand, who asked);
                     pause/resume MixMonitorMute Direction both State 1/0 and stop StopMixMonitor + licence
                     "release" on the channel MixMonitor runs on (the call's "recorders": a queue member's
                     Local;1 for a queue's recording)
listen-in            Originate PJSIP/<actor's device> Context pbx-listen Exten listen|whisper|barge with
                     PBX_SPY=<the person's channel>: the dialplan takes the licence, then ChanSpy qE
                     (whisper qEw, barge qEB), or says all licences are in use
===================  ==============================================================================
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from pbx.asterisk import control
from pbx.asterisk import hold as hold_music
from pbx.asterisk.control import CHANNEL_RE, ControlError, ari_step, licence_step, step
from pbx.events import send_event_on_commit
from pbx.models import AuditLog, Conference, Device, Queue, QueueAgent, Tenant, User
from pbx.validators import normalize_number, validate_e164

from .errors import ActionRefused, CallGone

RECORD_ACTIONS = ("start", "pause", "resume", "stop")
# ChanSpy's options per mode, as pbx-listen's extensions set them: quiet, exit with the spied-on channel.
LISTEN_MODES = {"listen": "qE", "whisper": "qEw", "barge": "qEB"}
RING_MS = 30_000  # how long the actor's phone rings for click-to-call and listen-in


# ------------------------------------------------------------------------------------ the call as the bridge saw it


@dataclass
class LiveCall:
    tenant: Tenant
    view: dict[str, Any]
    waiting: dict[str, Any] | None

    @property
    def id(self) -> str:
        return self.view["id"]

    @property
    def state(self) -> str:
        return self.view.get("state", "")

    @property
    def parties(self) -> list[dict[str, Any]]:
        return [p for p in self.view.get("parties", ()) if CHANNEL_RE.match(p.get("channel") or "")]

    def leg_of(self, user: User) -> dict[str, Any] | None:
        """The actor's own channel in the call (the one that is up, if they have several)."""
        mine = [p for p in self.parties if p.get("kind") == "user" and p.get("user_id") == user.pk]
        mine.sort(key=lambda p: p.get("state") != "up")
        return mine[0] if mine else None

    def caller_leg(self) -> dict[str, Any] | None:
        callers = [p for p in self.parties if p.get("role") == "caller"]
        return (callers or self.parties or [None])[0]

    def others(self, user: User) -> list[dict[str, Any]]:
        return [p for p in self.parties if not (p.get("kind") == "user" and p.get("user_id") == user.pk)]

    def describe(self) -> str:
        caller = self.view.get("caller") or {}
        who = caller.get("name") or caller.get("number") or "?"
        queue = (self.view.get("queue") or {}).get("name")
        return (f"call from {who}" + (f" in {queue}" if queue else ""))[:200]


def _tenant_of(actor: User) -> Tenant:
    if actor is None or not getattr(actor, "tenant_id", None):
        raise ActionRefused(_("Call control works only for people of a company."))
    return actor.tenant if getattr(actor, "tenant", None) is not None else Tenant.objects.get(pk=actor.tenant_id)


def _snapshot(tenant_id: int) -> dict[str, Any]:
    from pbx.asterisk.bridge.state import live_state

    return async_to_sync(live_state().snapshot)(tenant_id)


def find_call(actor: User, call_id: str) -> LiveCall:
    """The call ``call_id`` among the actor's company's live calls, or CallGone."""
    tenant = _tenant_of(actor)
    snapshot = _snapshot(tenant.pk)
    call_id = str(call_id or "")
    view = next((c for c in snapshot.get("calls", ()) if c.get("id") == call_id), None)
    waiting = next((w for w in snapshot.get("waiting", ()) if w.get("call_id") == call_id), None)
    if view is None:
        raise CallGone()
    return LiveCall(tenant, view, waiting)


# ------------------------------------------------------------------------------------ who may do what


def is_console_user(actor: User) -> bool:
    return bool(actor.is_operator or actor.is_company_admin)


def _require_control(actor: User, call: LiveCall) -> None:
    """A party of the call, or someone who runs the switchboard (operator, company admin)."""
    if is_console_user(actor) or call.leg_of(actor) is not None:
        return
    raise ActionRefused(_("You can only do that with your own calls."))


def _own_leg(actor: User, call: LiveCall, refusal: str) -> dict[str, Any]:
    leg = call.leg_of(actor)
    if leg is None:
        raise ActionRefused(refusal)
    return leg


def _device(actor: User, device: Device | None = None) -> Device:
    """The phone an action rings: the one asked for (the actor's own), else the actor's first one."""
    if device is not None:
        if device.user_id != actor.pk or not device.is_enabled:
            raise ActionRefused(_("That is not one of your phones."))
        return device
    found = Device.objects.filter(user=actor, is_enabled=True).order_by("id").first()
    if found is None:
        raise ActionRefused(_("You have no phone to take the call on."))
    return found


@dataclass(frozen=True)
class Target:
    exten: str  # what the dialplan gets: an extension, an emergency number, or +E.164
    kind: str  # "extension" | "emergency" | "external"

    @property
    def digits(self) -> str:
        """The target as DTMF (Atxfer): '+' is no key, the dialplan's 00 pattern means the same."""
        return "00" + self.exten[1:] if self.exten.startswith("+") else self.exten


def parse_target(tenant: Tenant, value: str) -> Target:
    """An extension of the company, one of its emergency numbers, or an outside number (made E.164)."""
    raw = str(value or "").strip()
    cleaned = re.sub(r"[\s\-.()/]", "", raw)
    if cleaned.isdigit() and len(cleaned) <= 8:
        taken = (User.objects.filter(tenant=tenant, extension=cleaned, is_active=True).exists()
                 or Queue.objects.filter(tenant=tenant, extension=cleaned).exists()
                 or Conference.objects.filter(tenant=tenant, extension=cleaned).exists())
        if taken:
            return Target(cleaned, "extension")
        emergency = {n.strip() for n in (tenant.emergency_numbers or "").split(",") if n.strip()}
        if cleaned in emergency:
            return Target(cleaned, "emergency")
        if not cleaned.startswith("0"):
            raise ActionRefused(_("Nobody in your company has extension %(number)s.") % {"number": cleaned})
    number = normalize_number(cleaned, tenant.country_code or "46")
    try:
        validate_e164(number)
    except ValidationError:
        raise ActionRefused(_("%(value)s is not an extension or a phone number.") % {"value": raw[:40]}) from None
    return Target(number, "external")


# ------------------------------------------------------------------------------------ running and auditing


def _audit(actor: User, call: LiveCall | None, tenant: Tenant, verb: str, details: dict[str, Any]) -> None:
    AuditLog.objects.create(
        tenant_id=tenant.pk, actor=actor if getattr(actor, "pk", None) else None, action=f"call_{verb}",
        object_type="call", object_id=(call.id if call else str(details.get("call_id", "")))[:40],
        object_repr=call.describe() if call else str(details.get("number", ""))[:200], before=None, after=details,
    )


def _send(tenant: Tenant, steps: list[dict[str, Any]]) -> list[Any]:
    """Have the node's event bridge run the steps; a vanished channel becomes CallGone."""
    try:
        return control.request(control.node_id_for(tenant), steps)
    except ControlError as exc:
        if exc.gone:
            raise CallGone() from exc
        raise


def _carry_out(actor: User, call: LiveCall | None, tenant: Tenant, verb: str, steps: list[dict[str, Any]],
               details: dict[str, Any], *, event: dict[str, Any] | None = None) -> list[Any]:
    """Asterisk first, then the audit row (and the push): a refused action leaves no trace of having
    happened, and no database transaction is held open while Asterisk answers."""
    results = _send(tenant, steps)
    with transaction.atomic():
        _audit(actor, call, tenant, verb, details)
        if event is not None:
            send_event_on_commit(tenant.pk, event)
    return results


def _first_accepted(tenant: Tenant, attempts: list[list[dict[str, Any]]]) -> int:
    """Try alternatives (e.g. each channel of a call for the one that records) until Asterisk accepts one;
    returns its index, -1 when none was accepted."""
    for index, steps in enumerate(attempts):
        try:
            _send(tenant, steps)
            return index
        except CallGone:
            continue
        except ControlError as exc:
            if not exc.permanent:
                raise
    return -1


def _caller_id(user: User) -> str:
    """A CallerID header value: the name without the characters that would end or nest it."""
    name = re.sub(r'[\x00-\x1f\x7f"<>\\]', "", user.display_name)[:60].strip()
    number = user.extension or ""
    return f'"{name}" <{number}>' if number else f'"{name}"'


# ------------------------------------------------------------------------------------ licences


def _require_licences(tenant: Tenant) -> None:
    """The company has licences at all (a quick refusal; how many are free is Asterisk's to say)."""
    if not Tenant.objects.filter(pk=tenant.pk, max_recording_channels__gt=0).exists():
        raise ActionRefused(_("Your company has no licences for recording or listening in."))


def _all_in_use(tenant: Tenant, kind: str, answer: dict[str, Any], *, call: LiveCall | None = None,
                channel: str = "", user: User | None = None) -> ActionRefused:
    """The refusal row the recording web shows super users, and the refusal for the actor."""
    from recording.capture import refused

    limit = int(answer.get("limit") or 0)
    refused(tenant.pk, kind, at=datetime.now(UTC), linkedid=call.id if call else "", channel=channel, user=user,
            in_use=int(answer.get("in_use") or 0), limit=limit)
    return ActionRefused(
        _("All %(limit)d of your company's recording and listen-in licences are in use.") % {"limit": limit})


# ------------------------------------------------------------------------------------ the actions


def do_click_to_call(actor: User, number: str, *, device: Device | None = None) -> dict[str, Any]:
    """Ring the actor's phone; when they answer, the dialplan calls ``number`` (a colleague's extension,
    a queue, or an outside number)."""
    tenant = _tenant_of(actor)
    target = parse_target(tenant, number)
    if target.kind == "extension" and target.exten == actor.extension:
        raise ActionRefused(_("That is your own extension."))
    phone = _device(actor, device)
    # Our own Uniqueid for the first channel: it becomes the call's id, so the console can follow it.
    call_id = f"{time.time():.6f}-{uuid.uuid4().hex[:8]}"
    steps = [step({"Action": "Originate", "Channel": f"PJSIP/{phone.endpoint}", "Context": f"t{tenant.pk}-internal",
                   "Exten": target.exten, "Priority": "1", "CallerID": _caller_id(actor), "Timeout": str(RING_MS),
                   "ChannelId": call_id, "Async": "true"})]
    details = {"call_id": call_id, "number": target.exten, "kind": target.kind, "device": phone.endpoint}
    _carry_out(actor, None, tenant, "click_to_call", steps, details)
    return {"ok": True, "action": "click_to_call", "call_id": call_id, "number": target.exten,
            "device": phone.pk}


def do_answer_waiting_call(actor: User, call_id: str) -> dict[str, Any]:
    """Take this caller (not the queue's oldest) out of the queue to the actor's phones."""
    call = find_call(actor, call_id)
    tenant = call.tenant
    if call.waiting is None:
        raise ActionRefused(_("That caller is no longer waiting in a queue."))
    queue_id = call.waiting.get("queue_id")
    is_agent = QueueAgent.objects.filter(tenant=tenant, user=actor, queue_id=queue_id).exists()
    if not (is_console_user(actor) or is_agent):
        raise ActionRefused(_("Only an operator or an agent of the queue can take that caller."))
    _device(actor)
    caller = call.caller_leg()
    if caller is None:
        raise CallGone()
    # The agents' context dials all of the person's phones with the transfer keys on, like a queue call,
    # whatever their presence or forwarding says: they asked for this caller. It has every queue agent,
    # operator and company admin (confgen: User.takes_calls_directly).
    context, exten = f"t{tenant.pk}-agents", str(actor.pk)
    steps = [step({"Action": "Redirect", "Channel": caller["channel"], "Context": context, "Exten": exten,
                   "Priority": "1"})]
    details = {"call_id": call.id, "queue_id": queue_id, "caller": caller.get("number", ""), "to": context}
    _carry_out(actor, call, tenant, "answer_waiting", steps, details)
    return {"ok": True, "action": "answer_waiting_call", "call_id": call.id, "queue_id": queue_id}


def do_transfer_call(actor: User, call_id: str, target: str, *, announced: bool = False) -> dict[str, Any]:
    """Send the call on to a colleague, a queue or an outside number.

    Blind: the other party goes to the target at once (the actor's leg ends). Announced: the actor's own
    phone calls the target while the other party waits on hold; then ``do_complete_transfer`` joins them,
    ``do_cancel_transfer`` takes the call back.
    """
    call = find_call(actor, call_id)
    tenant = call.tenant
    _require_control(actor, call)
    where = parse_target(tenant, target)
    if announced:
        leg = _own_leg(actor, call, _("You can only announce a transfer of a call you are talking on."))
        console_held = bool(leg.get("console_hold")) and call.state == "held"
        if leg.get("state") != "up" or (call.state != "up" and not console_held):
            raise ActionRefused(_("Announce a transfer once the call is connected."))
        steps = [step({"Action": "Atxfer", "Channel": leg["channel"], "Exten": where.digits,
                       "Context": f"t{tenant.pk}-internal"})]
    else:
        leg = call.leg_of(actor)
        others = call.others(actor) if leg is not None else []
        moving = (others[0] if others else None) if leg is not None else call.caller_leg()
        if moving is None:
            raise ActionRefused(_("There is nobody on that call to transfer."))
        steps = [step({"Action": "Redirect", "Channel": moving["channel"], "Context": f"t{tenant.pk}-forward",
                       "Exten": where.exten, "Priority": "1"})]
    event = None
    if leg is not None and leg.get("console_hold"):
        # Held from the console: the actor hears again (to announce) and the music stops (it would play on
        # into the transferred call) before the transfer.
        steps = _hold_steps(actor, call, leg, False) + steps
        event = {"type": "call.hold", "call_id": call.id, "held": False, "user_id": actor.pk}
    details = {"call_id": call.id, "target": where.exten, "kind": where.kind, "announced": announced}
    _carry_out(actor, call, tenant, "transfer_announced" if announced else "transfer", steps, details, event=event)
    return {"ok": True, "action": "transfer_call", "call_id": call.id, "target": where.exten, "announced": announced}


def _transferring_leg(actor: User, call: LiveCall) -> dict[str, Any]:
    leg = call.leg_of(actor)
    if leg is None or not leg.get("holding") or leg.get("console_hold") or call.state not in ("transferring", "held"):
        raise ActionRefused(_("You have no announced transfer going on in that call."))
    return leg


def do_complete_transfer(actor: User, call_id: str) -> dict[str, Any]:
    """Join the waiting party with the person the actor consulted; the actor's phone leaves the call."""
    call = find_call(actor, call_id)
    leg = _transferring_leg(actor, call)
    # Asterisk completes an attended transfer when the transferer hangs up (g3_atxfer_completed).
    steps = [step({"Action": "Hangup", "Channel": leg["channel"]})]
    _carry_out(actor, call, call.tenant, "transfer_completed", steps, {"call_id": call.id})
    return {"ok": True, "action": "complete_transfer", "call_id": call.id}


def do_cancel_transfer(actor: User, call_id: str) -> dict[str, Any]:
    """Drop the consultation and take the waiting party back (g4_atxfer_cancelled)."""
    call = find_call(actor, call_id)
    leg = _transferring_leg(actor, call)
    steps = [step({"Action": "CancelAtxfer", "Channel": leg["channel"]})]
    _carry_out(actor, call, call.tenant, "transfer_cancelled", steps, {"call_id": call.id})
    return {"ok": True, "action": "cancel_transfer", "call_id": call.id}


def do_hangup_call(actor: User, call_id: str) -> dict[str, Any]:
    """End the call for everybody on it."""
    call = find_call(actor, call_id)
    _require_control(actor, call)
    legs = [call.caller_leg()] + [p for p in call.parties if p is not call.caller_leg()]
    legs = [p for p in legs if p is not None]
    if not legs:
        raise CallGone()
    # The first leg must still be there; the others may already have gone along with it.
    steps = [step({"Action": "Hangup", "Channel": p["channel"]}, missing_ok=i > 0) for i, p in enumerate(legs)]
    _carry_out(actor, call, call.tenant, "hangup", steps, {"call_id": call.id})
    return {"ok": True, "action": "hangup_call", "call_id": call.id}


def do_hold_call(actor: User, call_id: str, *, hold: bool = True) -> dict[str, Any]:
    """Put the call the actor is talking on on hold (or take it back): neither side hears the other, and the
    waiting party hears music on hold.

    Asterisk 22 has no AMI hold, and ARI's hold works only on channels in a Stasis application, which the
    generated dialplan sends no call into. So hold is the actor's own channel silenced both ways
    (``VOLUME(RX)``/``VOLUME(TX)`` = -100000: every sample divided by 1e5), plus music whispered to every
    other party through an ARI snoop channel (``pbx.asterisk.hold`` says why VOLUME and not MuteAudio).
    The music is best effort: without the node's ARI connection the hold still holds, in silence, and the
    answer says ``music: False``. The consoles learn of it at once through a ``call.hold`` event, and
    the live call shows ``held`` once Asterisk reports the music (the bridge reads the snoop's events).
    """
    call = find_call(actor, call_id)
    leg = _own_leg(actor, call, _("You can only hold a call you are talking on."))
    if leg.get("state") != "up":
        raise ActionRefused(_("That call is not connected yet."))
    steps = _hold_steps(actor, call, leg, hold)
    event = {"type": "call.hold", "call_id": call.id, "held": hold, "user_id": actor.pk}
    results = _carry_out(actor, call, call.tenant, "hold" if hold else "resume", steps,
                         {"call_id": call.id, "held": hold}, event=event)
    music_results = results[len(hold_music.VOLUMES):]
    music = bool(music_results) and not any(isinstance(r, dict) and r.get("error") for r in music_results)
    return {"ok": True, "action": "hold_call", "call_id": call.id, "held": hold, "music": music}


def _hold_steps(actor: User, call: LiveCall, leg: dict[str, Any], hold: bool) -> list[dict[str, Any]]:
    """The actor's line silenced (or heard again), and each other party's music channel started (stopped)."""
    steps = [step({"Action": "Setvar", "Channel": leg["channel"], "Variable": variable,
                   "Value": hold_music.SILENT if hold else "0"}) for variable in hold_music.VOLUMES]
    holder = leg.get("uid") or ""
    held = [p for p in call.others(actor) if p.get("uid")] if holder else []
    for index, party in enumerate(held):
        music = hold_music.snoop_id(holder, index)
        if hold:
            steps.append(ari_step("hold_music", channel=party["uid"], snoop=music, optional=True))
        else:
            steps.append(ari_step("hold_music_stop", snoop=music, missing_ok=True, optional=True))
    return steps


def _may_record(actor: User, call: LiveCall) -> None:
    if is_console_user(actor) or actor.recording_role == User.RecordingRole.SUPER:
        return
    if call.leg_of(actor) is not None and actor.recording_role != User.RecordingRole.NONE:
        return
    raise ActionRefused(_("You may not record that call."))


def _recorded_leg(actor: User, call: LiveCall) -> dict[str, Any]:
    """The channel a recording on demand runs on: the actor's own when they are on the call (the phone that
    pressed *9), else the company's person who is talking on it. What that channel reads is the person."""
    leg = call.leg_of(actor)
    if leg is None or leg.get("state") != "up":
        ours = [p for p in call.parties if p.get("kind") == "user" and p.get("state") == "up"]
        leg = ours[0] if ours else None
    if leg is None or not leg.get("uid"):
        raise ActionRefused(_("Nobody of your company is talking on that call yet."))
    return leg


def _start_recording(actor: User, call: LiveCall) -> dict[str, Any]:
    from pbx.models import User as People
    from recording.capture import on_demand_base, start_on_demand
    from recording.models import LicenceRefusal, Recording

    tenant = call.tenant
    if call.view.get("recording"):
        raise ActionRefused(_("That call is already being recorded."))
    _require_licences(tenant)
    leg = _recorded_leg(actor, call)
    (licence,) = _send(tenant, [licence_step("take", tenant=tenant.pk, channel=leg["channel"])])
    if licence.get("held"):
        raise ActionRefused(_("That call is already being recorded."))
    if not licence.get("taken"):
        with transaction.atomic():
            refusal = _all_in_use(tenant, LicenceRefusal.Kind.ON_DEMAND, licence, call=call, channel=leg["channel"],
                                  user=actor)
        raise refusal
    started = datetime.now(UTC)
    base = on_demand_base(tenant.pk, leg["uid"], started)
    # The person's side is what their channel reads, the other party's what it hears (pbx-rec-answer's "r").
    options = f"br({base}-person.wav)t({base}-other.wav)i(PBX_RECID)"
    try:
        _send(tenant, [step({"Action": "MixMonitor", "Channel": leg["channel"], "Options": options})])
    except Exception:
        with contextlib.suppress(ControlError, CallGone):  # gone: the channel's licence went with it
            _send(tenant, [licence_step("release", channel=leg["channel"])])
        raise
    person = People.objects.filter(tenant=tenant, pk=leg.get("user_id")).first() if leg.get("user_id") else None
    others = [p for p in call.parties if p.get("channel") != leg["channel"]]
    other = (others[0] if others else {}).get("number", "")
    direction = {"in": Recording.Direction.IN, "out": Recording.Direction.OUT}.get(
        call.view.get("direction"), Recording.Direction.INTERNAL)
    details = {"call_id": call.id, "action": "start", "channel": leg["channel"], "file": base}
    with transaction.atomic():
        _audit(actor, call, tenant, "record_start", details)
        start_on_demand(tenant_id=tenant.pk, base=base, linkedid=call.id, at=started, user=person,
                        requested_by=actor, other_number=other or "", direction=direction,
                        queue_id=(call.view.get("queue") or {}).get("id"), dialled_number=call.view.get("dialled") or "")
    return {"ok": True, "action": "record_call", "call_id": call.id, "recording": "start"}


def do_record_call(actor: User, call_id: str, action: str) -> dict[str, Any]:
    """Start, pause, resume or stop recording the call.

    Start: MixMonitor on the company's person's channel once Asterisk gave it a licence of the company's pool;
    the same two files as an automatic recording, indexed as a recording on demand. Pause, resume and stop act
    where a recording runs (the call's ``recorders``, as the bridge saw MixMonitorStart: a queue recording runs on
    the member's Local;1), whoever started it; a stop frees its licence."""
    if action not in RECORD_ACTIONS:
        raise ActionRefused(_("Choose one of: %(choices)s.") % {"choices": ", ".join(RECORD_ACTIONS)})
    call = find_call(actor, call_id)
    tenant = call.tenant
    _may_record(actor, call)
    if action == "start":
        return _start_recording(actor, call)
    recorders = [r for r in call.view.get("recorders", ()) if CHANNEL_RE.match(r.get("channel") or "")]
    if not call.view.get("recording") or not recorders:
        raise ActionRefused(_("That call is not being recorded."))
    if action == "stop":
        attempts = [[step({"Action": "StopMixMonitor", "Channel": r["channel"]}),
                     licence_step("release", channel=r["channel"])] for r in recorders]
    else:
        attempts = [[step({"Action": "MixMonitorMute", "Channel": r["channel"], "Direction": "both",
                           "State": "1" if action == "pause" else "0"})] for r in recorders]
    accepted = _first_accepted(tenant, attempts)
    if accepted < 0:
        raise ActionRefused(_("That call is not being recorded."))
    details = {"call_id": call.id, "action": action, "channel": recorders[accepted]["channel"]}
    with transaction.atomic():
        _audit(actor, call, tenant, f"record_{action}", details)
    return {"ok": True, "action": "record_call", "call_id": call.id, "recording": action}


def may_listen_in(actor: User) -> bool:
    return bool(actor.is_operator or actor.is_company_admin or actor.recording_role == User.RecordingRole.SUPER)


def do_listen_in(actor: User, call_id: str, mode: str) -> dict[str, Any]:
    """The actor's phone rings; answered, it hears the call (listen), speaks to the company's person on it
    only (whisper), or to everybody (barge). The generated ``pbx-listen`` takes the licence in Asterisk, from
    the same pool as the recordings, or tells the listener every licence is in use (``PbxRecordingRefused``)."""
    from recording.models import LicenceRefusal

    if mode not in LISTEN_MODES:
        raise ActionRefused(_("Choose one of: %(choices)s.") % {"choices": ", ".join(LISTEN_MODES)})
    tenant = _tenant_of(actor)
    if not may_listen_in(actor):
        raise ActionRefused(_("You are not allowed to listen in on calls."))
    call = find_call(actor, call_id)
    if call.leg_of(actor) is not None:
        raise ActionRefused(_("You are on that call yourself."))
    up = [p for p in call.parties if p.get("state") == "up"]
    # Whisper speaks to the spied-on channel only: the company's own person, not the customer.
    ours = [p for p in up if p.get("kind") == "user"]
    spied = (ours or up or [None])[0]
    if spied is None:
        raise ActionRefused(_("That call is not connected yet."))
    phone = _device(actor)
    _require_licences(tenant)
    # A reading, not a reservation: no phone rings for a listen-in that could not start now. The dialplan
    # decides when the listener answers.
    (pool,) = _send(tenant, [licence_step("in_use", tenant=tenant.pk)])
    if int(pool.get("in_use") or 0) >= int(pool.get("limit") or 0):
        with transaction.atomic():
            refusal = _all_in_use(tenant, LicenceRefusal.Kind.LISTEN_IN, pool, call=call, user=actor)
        raise refusal
    caller = call.view.get("caller") or {}
    label = re.sub(r"[^0-9+]", "", caller.get("number") or "")[:20]
    steps = [step({"Action": "Originate", "Channel": f"PJSIP/{phone.endpoint}", "Context": "pbx-listen",
                   "Exten": mode, "Priority": "1", "Variable": f"PBX_SPY={spied['channel']}",
                   "CallerID": f'"{mode}" <{label}>', "Timeout": str(RING_MS), "Async": "true"})]
    details = {"call_id": call.id, "mode": mode, "channel": spied["channel"], "device": phone.endpoint}
    _carry_out(actor, call, tenant, f"listen_{mode}", steps, details)
    return {"ok": True, "action": "listen_in", "call_id": call.id, "mode": mode}


__all__ = [
    "LiveCall",
    "Target",
    "do_answer_waiting_call",
    "do_cancel_transfer",
    "do_click_to_call",
    "do_complete_transfer",
    "do_hangup_call",
    "do_hold_call",
    "do_listen_in",
    "do_record_call",
    "do_transfer_call",
    "find_call",
    "parse_target",
]
