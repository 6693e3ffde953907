"""What a person's feature code does: the handlers of ``dialplan_events.HANDLERS``.

Each takes the parsed ``FeatureCodeUsed`` (the dialplan's UserEvent) and calls the same ``do_*`` action the
web and the console call, with the person who dialled as actor: the same permission checks, audit row, AstDB
write (on commit, ``pbx.asterisk.astdb_sync``) and browser event. A handler returns ``Done`` (the phone says
so) or raises: ``Refused`` / an action's ``PermissionDenied`` or ``ValidationError`` become the phone's
refusal. Every id in the event is only text from the dialplan: the person must be an active member of the
company the event names (``subscriptions.on_user_event`` already checked the channel is that company's),
the queue, status, call and prompt must be theirs.

=======================  ===============================================================================
``PbxQueueAgent``        ``login``/``logout``: do_queue_login/logout for the queue with ``QueueExtension``
                         (empty: every queue the person is an agent of); ``pause``: toggles, for the queues
                         the person is logged in to: pause (with DEFAULT_PAUSE_REASON) if any is unpaused,
                         else resume
``PbxPresence``          ``Code`` empty: do_clear_presence; else do_set_presence with the company's status of
                         that code, ending at ``default_until`` when the status needs an end time
``PbxOnDemandRecording`` ``toggle``: do_record_call start, or stop when the call is being recorded;
                         ``pause``: pause, or resume when the call's recording is paused
``PbxPromptRecorded``    do_upload_prompt of the file the dialplan recorded (converted like an upload; the
                         old audio stays until the new one is written); company admins only
=======================  ===============================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy

from pbx.audio import AudioError
from pbx.models import PresenceStatus, Prompt, QueueAgent, User

from .domain import FeatureCodeUsed

DEFAULT_PAUSE_REASON = gettext_lazy("Break")


class Refused(Exception):
    """The feature code cannot do what was asked (the phone plays the refusal)."""


@dataclass(frozen=True)
class Done:
    until: int | None = None  # Unix time the change lasts until, for the phone to say


def digits(value: str | None, limit: int = 12) -> str:
    text = str(value or "")
    return text if text.isdigit() and len(text) <= limit else ""


def person(event: FeatureCodeUsed) -> User:
    """The person who dialled, as the dialplan named them: active, and of the event's company."""
    if event.user_id is None or event.tenant_id is None:
        raise Refused("no person on this channel")
    found = User.objects.filter(pk=event.user_id, tenant_id=event.tenant_id, is_active=True,
                                tenant__is_active=True).select_related("tenant").first()
    if found is None:
        raise Refused("not a person of that company")
    return found


# ------------------------------------------------------------------------------------------- queues


def queue_agent(event: FeatureCodeUsed) -> Done:
    from pbx.actions import do_queue_login, do_queue_logout, do_queue_pause

    actor = person(event)
    what = event.values.get("Action", "")
    if what not in ("login", "logout", "pause"):
        raise Refused(f"no such queue action: {what[:20]!r}")
    agents = QueueAgent.objects.filter(tenant_id=actor.tenant_id, user=actor).select_related("queue")
    raw_extension = event.values.get("QueueExtension", "")
    extension = digits(raw_extension)
    if raw_extension and not extension:
        raise Refused("not a queue extension")
    if extension:
        agents = agents.filter(queue__extension=extension)
    agents = list(agents.order_by("queue_id"))
    if not agents:
        raise Refused("not an agent of that queue" if extension else "not an agent of any queue")
    if what == "login":
        for agent in agents:
            do_queue_login(actor, agent)
    elif what == "logout":
        for agent in agents:
            do_queue_logout(actor, agent)
    else:
        working = [a for a in agents if a.logged_in]
        if not working:
            raise Refused("not logged in to that queue")
        pause = any(not a.paused for a in working)
        reason = pause_reason_for(actor) if pause else ""
        for agent in working:
            do_queue_pause(actor, agent, paused=pause, reason=reason)
    return Done()


def pause_reason_for(actor: User) -> str:
    """The default pause reason in the person's language (the console shows it as they would have typed it)."""
    with translation.override(actor.language or actor.tenant.language or settings.LANGUAGE_CODE):
        return str(DEFAULT_PAUSE_REASON)


# ------------------------------------------------------------------------------------------- presence


def presence(event: FeatureCodeUsed) -> Done:
    from pbx.actions import do_clear_presence, do_set_presence
    from pbx.actions.presence import default_until

    actor = person(event)
    raw_code = event.values.get("Code", "")
    if not raw_code:
        do_clear_presence(actor, actor)
        return Done()
    code = digits(raw_code, 2)
    status = PresenceStatus.objects.filter(tenant_id=actor.tenant_id, code=int(code)).first() if code else None
    if status is None:
        raise Refused("no status with that code")
    until: datetime | None = default_until(status) if status.needs_end_time else None
    do_set_presence(actor, actor, status, until=until)
    return Done(int(until.timestamp()) if until is not None else None)


# ------------------------------------------------------------------------------------------- recording


def on_demand_recording(event: FeatureCodeUsed) -> Done:
    from pbx.actions import calls

    actor = person(event)
    key = event.values.get("Key", "")
    if key not in ("toggle", "pause"):
        raise Refused(f"no such recording key: {key[:20]!r}")
    call = _call_of(actor, event)
    if key == "toggle":
        action = "stop" if call.view.get("recording") else "start"
    else:  # paused as Asterisk reported it (MixMonitorMute), whoever paused it: the console, the API or *7
        action = "resume" if call.view.get("recording_paused") else "pause"
    calls.do_record_call(actor, call.id, action)
    return Done()


def _call_of(actor: User, event: FeatureCodeUsed):
    """The live call the key was pressed in: the one the pressing channel is a party of (a transfer may have
    given the call another id than the channel's Linkedid), else the Linkedid's."""
    from pbx.actions import calls

    snapshot = calls._snapshot(actor.tenant_id)
    for view in snapshot.get("calls", ()):
        if any(p.get("channel") == event.channel for p in view.get("parties", ())):
            return calls.find_call(actor, view["id"])
    return calls.find_call(actor, event.call_id)


# ------------------------------------------------------------------------------------------- prompts


def recorded_prompt_path(tenant_id: int, prompt_id: int):
    """Where ``Record(custom/t<T>/recorded-prompt-<id>.wav)`` wrote: Asterisk puts a relative name under its
    sounds directory, whose ``custom/`` is ASTERISK_SOUNDS_DIR. Computed from ids, never from the event's File."""
    return settings.ASTERISK_SOUNDS_DIR / f"t{tenant_id}" / f"recorded-prompt-{prompt_id}.wav"


def prompt_recorded(event: FeatureCodeUsed) -> Done:
    from pbx.actions import do_upload_prompt
    from pbx.actions.base import require_company_admin

    actor = person(event)
    prompt_id = digits(event.values.get("Prompt"))
    prompt = Prompt.objects.filter(tenant_id=actor.tenant_id, pk=int(prompt_id)).first() if prompt_id else None
    if prompt is None:
        raise Refused("no such prompt")
    require_company_admin(actor, prompt)
    path = recorded_prompt_path(actor.tenant_id, prompt.pk)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise Refused("nothing was recorded") from None
    try:
        do_upload_prompt(actor, actor.tenant, name=prompt.name, data=data, filename=path.name, prompt=prompt)
    except AudioError as exc:
        raise Refused(str(exc)) from None
    path.unlink(missing_ok=True)
    return Done()


__all__ = ["DEFAULT_PAUSE_REASON", "Done", "Refused", "on_demand_recording", "presence", "prompt_recorded",
           "queue_agent"]
