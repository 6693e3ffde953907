"""Fast state in AstDB: what the dialplan reads at call time, so a change needs no reload.

Everything lives in the family ``pbx`` under a per-company key prefix ``t<tenant id>/``, so one
``DBDelTree pbx t<id>`` clears a company and the whole state can be rewritten from the database
on every AMI (re)connect. The layout (docs/astdb.md has the full table)::

    pbx t<T>/u<U>/status          presence code of the person's status, "" when available
    pbx t<T>/u<U>/status_until    epoch seconds when it ends, "" for no end
    pbx t<T>/u<U>/dnd             "1" when the status is shown as do-not-disturb, else "0"
    pbx t<T>/u<U>/cw              call waiting: "1" on, "0" off (busy when already on a call)
    pbx t<T>/u<U>/cli             caller ID for outgoing calls, E.164 ("" = company main number)
    pbx t<T>/u<U>/profile         id of the active forwarding profile, "" for none
    pbx t<T>/u<U>/<line>/first    ring | forward | voicemail | none     (<line>: fixed, mobile)
    pbx t<T>/u<U>/<line>/first_to     number for "forward"
    pbx t<T>/u<U>/<line>/ring_s       seconds to ring before "no answer"
    pbx t<T>/u<U>/<line>/noanswer     forward | voicemail | none  (+ noanswer_to)
    pbx t<T>/u<U>/<line>/busy         forward | voicemail | none  (+ busy_to)
    pbx t<T>/u<U>/<line>/unreach      forward | voicemail | none  (+ unreach_to)
    pbx t<T>/u<U>/sp<N>/schedule  schedule id of the person's N-th scheduled profile (name order), "" ends the list
    pbx t<T>/u<U>/sp<N>/profile   its profile id; sp<N>/<line>/<name> its rules, as above
    pbx t<T>/q<Q>/u<U>            queue agent: in | paused | out
    pbx t<T>/s<S>/override        schedule override: open | closed | ""
    pbx t<T>/s<S>/until           epoch seconds when the override ends, "" for no end
    pbx t<T>/rec/auto             "1": automatic recording on (service on, kill switch off), else "0"
    pbx t<T>/rec/lic              recording + listen-in licences (Tenant.max_recording_channels)
    pbx t<T>/rec/x                excluded customer numbers, ":<digits>:<digits>:" ("" = none)
    pbx t<T>/u<U>/rec             "" not recorded; "e" + the department rule's letters (i, o, n)

All functions are pure reads of the database; writing through AMI is the caller's business.
"""

from __future__ import annotations

from collections.abc import Iterable

FAMILY = "pbx"
# Written by the dialplan, read and deleted by the orchestrator: never rewritten from the database.
CALLBACK_FAMILY = "pbxcb"
LINES = ("fixed", "mobile")
# Scheduled profiles per person the dialplan looks at (t<T>-profile), in name order; do_save_forwarding_profile
# refuses more, so a corrupt list in AstDB cannot make a call loop for long either.
MAX_SCHEDULED_PROFILES = 20
KINDS = ("caller_id", "presence", "profile", "queue_agent", "recording", "recording_user", "schedule", "user",
         "voicemail")
# Kinds whose change removes keys instead of writing them.
CLEANUP_KINDS = ("callback",)

Key = tuple[str, str]

# With no active profile (or no rule for a line) a person's phones ring, then voicemail.
DEFAULT_RULE = {
    "first": "ring", "first_to": "", "ring_s": "20", "noanswer": "voicemail", "noanswer_to": "",
    "busy": "voicemail", "busy_to": "", "unreach": "voicemail", "unreach_to": "",
}


def presence_provider(tenant_id: int, user_id: int) -> str:
    """The CustomPresence name in a person's hint (PRESENCE_STATE(CustomPresence:...))."""
    return f"CustomPresence:t{tenant_id}-u{user_id}"


def _epoch(value) -> str:
    return str(int(value.timestamp())) if value is not None else ""


def _action(value: str) -> str:
    return value or "none"


def _rule_values(rule) -> dict[str, str]:
    """A ForwardingRule (or its values tuple) as the per-line keys."""
    action, forward_number, seconds, no_answer, no_answer_number, busy, busy_number, unreach, unreach_number = rule
    return {
        "first": _action(action), "first_to": forward_number if action == "forward" else "",
        "ring_s": str(seconds),
        "noanswer": _action(no_answer), "noanswer_to": no_answer_number if no_answer == "forward" else "",
        "busy": _action(busy), "busy_to": busy_number if busy == "forward" else "",
        "unreach": _action(unreach), "unreach_to": unreach_number if unreach == "forward" else "",
    }


RULE_FIELDS = (
    "action", "forward_number", "no_answer_seconds", "on_no_answer", "no_answer_number", "on_busy", "busy_number",
    "on_unreachable", "unreachable_number",
)


def _user_keys(user_filter: dict, parts: Iterable[str], *, whole: bool = False) -> dict[Key, str]:
    """Keys of the people matching ``user_filter`` (Django lookups on User), a few queries.

    ``whole``: for the full rewrite, which deletes every key it does not list, so a person without
    scheduled profiles needs no ``sp1/schedule`` = "" (10,000 DBPut fewer on a big node)."""
    from django.db.models import Q

    from pbx.models import ForwardingProfile, ForwardingRule, User, UserPresence
    from pbx.numbering import usable_number_ids

    parts = set(parts)
    state: dict[Key, str] = {}
    users = list(
        User.objects.filter(tenant__isnull=False, is_active=True, **user_filter)
        .order_by("id").values_list("id", "tenant_id", "call_waiting", "caller_id_number__e164", "caller_id_number_id")
    )
    if not users:
        return state
    # A chosen number that is no longer assigned (or an unverified mobile) is never presented.
    usable = usable_number_ids({u[1] for u in users if u[4] is not None}) if "user" in parts else set()
    users = [(uid, tid, cw, cli if number_id in usable else None) for uid, tid, cw, cli, number_id in users]
    ids = [u[0] for u in users]
    prefix = {uid: f"t{tid}/u{uid}" for uid, tid, _cw, _cli in users}
    if "user" in parts:
        for uid, _tid, call_waiting, cli in users:
            state[(FAMILY, f"{prefix[uid]}/cw")] = "1" if call_waiting else "0"
            state[(FAMILY, f"{prefix[uid]}/cli")] = cli or ""
    if "presence" in parts:
        presences = {
            uid: (code, state_name, until)
            for uid, code, state_name, until in UserPresence.objects.filter(user_id__in=ids)
            .values_list("user_id", "status__code", "status__asterisk_state", "until")
        }
        for uid in ids:
            code, state_name, until = presences.get(uid, (None, None, None))
            state[(FAMILY, f"{prefix[uid]}/status")] = str(code) if code is not None else ""
            state[(FAMILY, f"{prefix[uid]}/status_until")] = _epoch(until) if code is not None else ""
            state[(FAMILY, f"{prefix[uid]}/dnd")] = "1" if state_name == "dnd" else "0"
    if "profile" in parts:
        active: dict[int, int] = {}
        scheduled: dict[int, list[tuple[int, int]]] = {}
        is_scheduled = Q(activation=ForwardingProfile.Activation.SCHEDULED, schedule__isnull=False)
        for uid, profile_id, is_active, activation, schedule_id in (
            ForwardingProfile.objects.filter(Q(is_active=True) | is_scheduled, user_id__in=ids)
            .order_by("user_id", "name", "id").values_list("user_id", "id", "is_active", "activation", "schedule_id")
        ):
            if is_active:
                active[uid] = profile_id
            if activation == ForwardingProfile.Activation.SCHEDULED and schedule_id is not None:
                scheduled.setdefault(uid, []).append((profile_id, schedule_id))
        profile_ids = set(active.values()) | {pid for entries in scheduled.values() for pid, _sid in entries}
        rules = {
            (profile_id, line): values
            for profile_id, line, *values in ForwardingRule.objects.filter(profile_id__in=profile_ids)
            .values_list("profile_id", "line", *RULE_FIELDS)
        }

        def put_rules(base: str, profile_id: int | None) -> None:
            for line in LINES:
                rule = rules.get((profile_id, line))
                values = _rule_values(rule) if rule else DEFAULT_RULE
                for name, value in values.items():
                    state[(FAMILY, f"{base}/{line}/{name}")] = value

        for uid in ids:
            profile_id = active.get(uid)
            state[(FAMILY, f"{prefix[uid]}/profile")] = str(profile_id) if profile_id else ""
            put_rules(prefix[uid], profile_id)
            entries = scheduled.get(uid, [])[:MAX_SCHEDULED_PROFILES]
            for n, (sched_profile_id, schedule_id) in enumerate(entries, start=1):
                state[(FAMILY, f"{prefix[uid]}/sp{n}/schedule")] = str(schedule_id)
                state[(FAMILY, f"{prefix[uid]}/sp{n}/profile")] = str(sched_profile_id)
                put_rules(f"{prefix[uid]}/sp{n}", sched_profile_id)
            # The dialplan walks sp1, sp2, ... until an empty schedule: this key ends the list, so the keys of a
            # profile removed since (left in AstDB until the next full rewrite) are never read.
            if entries or not whole:
                state[(FAMILY, f"{prefix[uid]}/sp{len(entries) + 1}/schedule")] = ""
    return state


def _agent_keys(agent_filter: dict) -> dict[Key, str]:
    from pbx.models import QueueAgent

    state: dict[Key, str] = {}
    for tid, qid, uid, logged_in, paused in (
        QueueAgent.objects.filter(**agent_filter).order_by("id")
        .values_list("tenant_id", "queue_id", "user_id", "logged_in", "paused")
    ):
        state[(FAMILY, f"t{tid}/q{qid}/u{uid}")] = ("paused" if paused else "in") if logged_in else "out"
    return state


def _schedule_keys(schedule_filter: dict) -> dict[Key, str]:
    from pbx.models import Schedule

    state: dict[Key, str] = {}
    for sid, tid, override, until in (
        Schedule.objects.filter(**schedule_filter).order_by("id").values_list("id", "tenant_id", "override", "override_until")
    ):
        state[(FAMILY, f"t{tid}/s{sid}/override")] = override or ""
        state[(FAMILY, f"t{tid}/s{sid}/until")] = _epoch(until) if override else ""
    return state


def _recording_keys(tenant_filter: dict, user_filter: dict | None = None) -> dict[Key, str]:
    """Call recording (docs/recording.md): the company's switches and excluded numbers, and each person's
    "Aktivera samtalsinspelning" with their department rule's letters. ``user_filter``: only those people's
    keys (no company keys)."""
    from recording.astdb import recording_keys

    return recording_keys(tenant_filter, user_filter)


def astdb_state(tenant=None) -> dict[Key, str]:
    """Every AstDB key of one company (a Tenant or its id), or of all active companies (None)."""
    tenant_id = getattr(tenant, "pk", tenant)
    scope = {"tenant_id": tenant_id} if tenant_id is not None else {"tenant__is_active": True}
    state = _user_keys(scope, KINDS, whole=True)
    state.update(_agent_keys({**scope, "user__is_active": True}))
    state.update(_schedule_keys(scope))
    state.update(_recording_keys({"id": tenant_id} if tenant_id is not None else {"is_active": True}))
    return dict(sorted(state.items()))


def astdb_keys_for(kind: str, object_id: int) -> dict[Key, str]:
    """The keys one change touches, for the kinds of ``pbx.signals.state_changed``.

    presence, profile, caller_id, user (all of a person's keys): ``object_id`` is the person's id;
    queue_agent: the QueueAgent's id; schedule: the Schedule's id; voicemail: no keys. A row that no longer exists has no keys (the next full rewrite
    on reconnect removes what is left).
    """
    if kind in ("presence", "profile", "user", "caller_id"):
        parts = {"user": ("user", "presence", "profile"), "caller_id": ("user",)}.get(kind, (kind,))
        keys = _user_keys({"id": object_id}, parts)
        if kind == "caller_id":
            keys = {key: value for key, value in keys.items() if key[1].endswith("/cli")}
        return dict(sorted(keys.items()))
    if kind == "queue_agent":
        return _agent_keys({"id": object_id})
    if kind == "schedule":
        return _schedule_keys({"id": object_id})
    if kind == "recording":  # object: the company
        return _recording_keys({"id": object_id})
    if kind == "recording_user":  # object: the person
        return _recording_keys({}, {"id": object_id})
    if kind == "voicemail":
        return {}  # messages are app_voicemail's own; MWI follows without AstDB
    if kind == "callback":
        return {}  # the dialplan wrote it; a done callback only removes its entry (astdb_keys_to_delete)
    raise ValueError(f"unknown kind of state: {kind!r} (expected one of {', '.join(KINDS)})")


def astdb_keys_to_delete(kind: str, object_id: int) -> list[Key]:
    """The keys one change removes: a callback called back leaves ``pbxcb t<T>/<Uniqueid>``."""
    if kind != "callback":
        return []
    from pbx.models import CallbackRequest

    # Only a menu's request (it has a destination) was written by the dialplan; a queue callback put on the
    # list because nobody took it has no entry to delete.
    callback = CallbackRequest.objects.filter(pk=object_id, status="done", kind="request",
                                              destination__isnull=False).first()
    return [(CALLBACK_FAMILY, callback.astdb_key)] if callback is not None else []


def tenant_families(tenant_id: int) -> list[Key]:
    """What to delete before a full rewrite of one company: ``DBDelTree pbx t<id>``."""
    return [(FAMILY, f"t{tenant_id}")]
