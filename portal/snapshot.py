"""The operator console's picture of one company: live state (from the event bridge) plus the directory.

``console_snapshot(user)`` is what the console receives when it (re)connects; the console then applies
events and replaces everything with the next snapshot, so it never keeps a call the bridge has forgotten.

- live: ``calls``, ``waiting``, ``agents`` (per queue), ``lines``, ``devices``, ``presence`` exactly as
  ``live_state().snapshot(tenant_id)`` gives them;
- directory (from the database): ``people`` (name, extension, department, title, presence from
  ``UserPresence`` merged with the live line status, queue membership), ``queues`` and ``my_queues``
  (the signed-in person's own memberships, for log in / out / pause), ``statuses``, ``callbacks`` (the
  callbacks to make, ``callback.changed`` events keep them current).

The company is always the signed-in person's; nothing here takes a company from the client.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from channels.db import database_sync_to_async
from django.utils import timezone

from pbx.actions.calls import may_listen_in
from pbx.asterisk.bridge import state as live
from pbx.models import CallbackRequest, PresenceStatus, Queue, QueueAgent, User, UserPresence

# Line status as the console shows it, from the many words Asterisk has for it.
FREE, RINGING, IN_CALL, UNAVAILABLE, UNKNOWN = "free", "ringing", "in_call", "unavailable", "unknown"
_LINE_WORDS = {
    # hints / ExtensionStatus (line.state)
    "idle": FREE, "in_use": IN_CALL, "busy": IN_CALL, "on_hold": IN_CALL, "ringing": RINGING,
    "ringinuse": IN_CALL, "in_use_ringing": IN_CALL, "unavailable": UNAVAILABLE,
    # device states (device.state)
    "not_inuse": FREE, "inuse": IN_CALL, "onhold": IN_CALL, "ringinginuse": IN_CALL, "invalid": UNAVAILABLE,
    "unknown": UNKNOWN,
}
# When several sources speak of one person the strongest wins.
_RANK = {UNKNOWN: 0, UNAVAILABLE: 1, FREE: 2, RINGING: 3, IN_CALL: 4}


def can_use_console(user) -> bool:
    """Operators and company admins of a company (never a platform admin without one)."""
    return bool(
        user is not None and user.is_authenticated and user.is_active and user.tenant_id
        and (user.is_operator or user.is_company_admin)
    )


def line_word(state: str | None) -> str:
    return _LINE_WORDS.get((state or "").lower().replace(" ", "_"), UNKNOWN)


def strongest(*states: str) -> str:
    return max(states, key=lambda s: _RANK.get(s, 0)) if states else UNKNOWN


def line_states(live_part: dict[str, Any]) -> dict[int, str]:
    """user id → free / ringing / in_call / unavailable, from the hints, the devices and the calls."""
    by_line: dict[int, str] = {}
    for row in live_part.get("lines", ()):
        if row.get("user_id") is not None:
            by_line[row["user_id"]] = strongest(by_line.get(row["user_id"], UNKNOWN), line_word(row.get("state")))
    devices: dict[int, list[str]] = defaultdict(list)
    for row in live_part.get("devices", ()):
        if row.get("user_id") is not None:
            devices[row["user_id"]].append(line_word(row.get("state")))
    in_calls: dict[int, str] = {}
    for call in live_part.get("calls", ()):
        if call.get("state") == "ended":
            continue
        for party in call.get("parties", ()):
            uid = party.get("user_id")
            if uid is None:
                continue
            word = IN_CALL if party.get("state") == "up" else RINGING
            in_calls[uid] = strongest(in_calls.get(uid, UNKNOWN), word)
    out: dict[int, str] = {}
    for uid in set(by_line) | set(devices) | set(in_calls):
        base = by_line.get(uid)
        if base is None:
            base = strongest(*devices[uid]) if uid in devices else UNKNOWN
        out[uid] = strongest(base, in_calls.get(uid, UNKNOWN))
    return out


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def directory(user: User, live_part: dict[str, Any], *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The database half of the snapshot, for ``user``'s company (a handful of queries, no per-person ones)."""
    tenant_id = user.tenant_id
    now = now or timezone.now()
    presence: dict[int, dict] = {}
    for row in UserPresence.objects.filter(tenant_id=tenant_id, status__isnull=False).values(
            "user_id", "status_id", "status__name", "status__color", "status__asterisk_state", "message", "until"):
        if row["until"] is not None and row["until"] <= now:
            continue  # the status has run out: available again
        presence[row["user_id"]] = {
            "status": row["status__name"], "status_id": row["status_id"], "color": row["status__color"],
            "state": row["status__asterisk_state"], "message": row["message"], "until": _iso(row["until"]),
        }
    queues = list(Queue.objects.filter(tenant_id=tenant_id).order_by("name").values("id", "name", "extension"))
    queue_names = {q["id"]: q["name"] for q in queues}
    live_agents = {
        (agent.get("queue_id"), agent.get("user_id")): agent
        for queue in live_part.get("queues", ()) for agent in queue.get("agents", ())
    }
    memberships: dict[int, list[dict]] = defaultdict(list)
    mine = []
    for row in QueueAgent.objects.filter(tenant_id=tenant_id).order_by("queue__name", "priority").values(
            "id", "queue_id", "user_id", "logged_in", "paused", "pause_reason"):
        agent = live_agents.get((row["queue_id"], row["user_id"]), {})
        entry = {
            "agent_id": row["id"], "queue_id": row["queue_id"], "queue": queue_names.get(row["queue_id"], ""),
            "logged_in": row["logged_in"], "paused": row["paused"], "reason": row["pause_reason"],
            "status": agent.get("status", ""), "in_call": bool(agent.get("in_call")),
        }
        memberships[row["user_id"]].append(entry)
        if row["user_id"] == user.pk:
            mine.append(entry)
    lines = line_states(live_part)
    people = []
    for row in User.objects.filter(tenant_id=tenant_id, is_active=True).order_by(
            "first_name", "last_name", "email").values(
            "id", "first_name", "last_name", "email", "extension", "title", "department__name", "is_operator"):
        name = f"{row['first_name']} {row['last_name']}".strip() or row["email"]
        people.append({
            "user_id": row["id"], "name": name, "extension": row["extension"], "title": row["title"],
            "department": row["department__name"] or "", "operator": row["is_operator"],
            "presence": presence.get(row["id"]), "line": lines.get(row["id"], UNKNOWN),
            "queues": memberships.get(row["id"], []),
        })
    statuses = list(PresenceStatus.objects.filter(tenant_id=tenant_id).values(
        "id", "name", "color", "default_message", "needs_end_time"))
    return {"people": people, "queues": queues, "my_queues": mine, "statuses": statuses,
            "callbacks": open_callbacks(tenant_id)}


CALLBACKS_SHOWN = 200


def open_callbacks(tenant_id: int) -> list[dict]:
    """The company's callbacks to make, oldest first (the ones a queue makes by itself are not listed)."""
    from pbx.actions.callbacks import callback_view

    rows = (CallbackRequest.objects.filter(tenant_id=tenant_id, kind=CallbackRequest.Kind.REQUEST,
                                           status=CallbackRequest.Status.OPEN)
            .select_related("queue", "done_by").order_by("requested_at", "id")[:CALLBACKS_SHOWN])
    return [callback_view(row) for row in rows]


def me(user: User) -> dict[str, Any]:
    return {
        "user_id": user.pk, "name": user.display_name, "extension": user.extension,
        "admin": bool(user.is_company_admin), "operator": bool(user.is_operator),
        "can_record": user.recording_role != User.RecordingRole.NONE or bool(user.is_company_admin),
        "can_listen": may_listen_in(user),
    }


def assemble(user: User, live_part: dict[str, Any], *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Live half + directory half → the console's snapshot message (sync; the database is queried)."""
    now = now or timezone.now()
    return {
        "type": "snapshot",
        "at": now.isoformat(timespec="milliseconds"),
        "me": me(user),
        "calls": live_part.get("calls", []),
        "waiting": live_part.get("waiting", []),
        "agents": live_part.get("queues", []),
        "lines": live_part.get("lines", []),
        "devices": live_part.get("devices", []),
        "presence": live_part.get("presence", []),
        **directory(user, live_part, now=now),
    }


async def console_snapshot(user: User) -> dict[str, Any]:
    """The snapshot a console gets on every (re)connect, for the signed-in person's own company."""
    if not user.tenant_id:
        raise ValueError("the console needs a company")
    live_part = await live.live_state().snapshot(user.tenant_id)
    return await database_sync_to_async(assemble)(user, live_part)
