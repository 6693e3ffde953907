"""A company's recording and listen-in licences: ONE pool, kept by Asterisk itself.

Every recording and every listen-in holds a licence as long as it runs, and the pool is the channel group
``t<T>`` of category ``pbxrec`` (app.c's ``GROUP()``): a channel that records or listens is in the group, a
hangup takes it out, and ``GROUP_COUNT(t<T>@pbxrec)`` is the number of licences in use. The limit is
Asterisk's copy of the company's licence count, AstDB ``pbx/t<T>/rec/lic`` (docs/astdb.md).

Three ways into the pool, one rule: join first, then count, and leave again when the count is over the
limit, under the named lock ``LOCK(pbxrec-t<T>)`` (func_lock), so a burst never takes more licences than
there are (joining before counting: the later of two counts sees both) and never fewer (the lock serialises
them: nobody counts a channel that is about to leave again).

- automatic recording: the generated ``pbx-rec-answer`` (pbx/asterisk/confgen/dialplan_shared.py), on the
  answering channel;
- listen-in: the generated ``pbx-listen``, on the listener's phone channel, before ``ChanSpy``;
- recording on demand (``*9``, the console, the API): :func:`take` here, run by the event bridge on the
  recorded channel through AMI. ``Getvar LOCK(pbxrec-t<T>)`` with that channel takes the dialplan's own lock
  in the channel's name (func_lock's owner is the channel, not the caller; an AMI session is a "user
  interface" thread, so LOCK() puts no channel into autoservice and the call's audio is untouched), then
  ``Setvar GROUP(pbxrec)``, ``Getvar GROUP_COUNT()``, the leave when over, and ``UNLOCK()``, all in one
  go in the bridge, without a round trip to the web process in between. Should the bridge die with the
  lock held, the lock goes with the channel's hangup; meanwhile a ``LOCK()`` in the dialplan gives up
  after 3 s and counts without it (join-before-count still never exceeds the licences).

:func:`release` takes a stopped recording's channel out of the pool (``Setvar GROUP(pbxrec)=`` with an empty
value, as the dialplan's ``Set(GROUP(pbxrec)=)``). :func:`in_use` only reads the count: a quick check
before a listen-in rings the listener's phone, never the authority.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

CATEGORY = "pbxrec"
TENANT_RE = re.compile(r"\A[0-9]{1,9}\Z")

Action = Callable[[Mapping[str, Any]], Awaitable[Any]]


def group(tenant_id: int) -> str:
    return f"t{int(tenant_id)}"


def lock_name(tenant_id: int) -> str:
    return f"pbxrec-t{int(tenant_id)}"


def limit_variable(tenant_id: int) -> str:
    return f"DB(pbx/t{int(tenant_id)}/rec/lic)"


def count_variable(tenant_id: int) -> str:
    return f"GROUP_COUNT({group(tenant_id)}@{CATEGORY})"


def _digits(value: Any) -> int:
    text = "".join(c for c in str(value or "") if c.isdigit())
    return int(text) if text else 0


async def _get(action: Action, variable: str, channel: str | None = None) -> str:
    request = {"Action": "Getvar", "Variable": variable}
    if channel:
        request["Channel"] = channel
    answer = await action(request)
    return str(answer.get("Value", "") if isinstance(answer, Mapping) else "")


async def _set(action: Action, channel: str, value: str) -> None:
    await action({"Action": "Setvar", "Channel": channel, "Variable": f"GROUP({CATEGORY})", "Value": value})


async def take(action: Action, tenant_id: int, channel: str) -> dict[str, Any]:
    """Put ``channel`` into the company's pool if a licence is free. Returns ``{"taken": bool, "in_use": n,
    "limit": n}`` (``in_use`` without this channel when refused, with it when taken); ``"held": True`` when
    the channel already holds a licence (it records already: nothing changed)."""
    name = group(tenant_id)
    limit = _digits(await _get(action, limit_variable(tenant_id)))
    if (await _get(action, f"GROUP({CATEGORY})", channel)).lower() == name:
        return {"taken": False, "held": True, "in_use": _digits(await _get(action, count_variable(tenant_id))),
                "limit": limit}
    locked = await _get(action, f"LOCK({lock_name(tenant_id)})", channel) == "1"
    try:
        await _set(action, channel, name)
        count = _digits(await _get(action, count_variable(tenant_id), channel))
        if count > limit:
            await _set(action, channel, "")
    finally:
        if locked:
            await _get(action, f"UNLOCK({lock_name(tenant_id)})", channel)
    taken = count <= limit
    return {"taken": taken, "held": False, "in_use": count if taken else count - 1, "limit": limit}


async def release(action: Action, channel: str) -> None:
    """The recording on ``channel`` stopped: its licence is free again."""
    await _set(action, channel, "")


async def in_use(action: Action, tenant_id: int) -> dict[str, Any]:
    """How many of the company's licences are in use now (a reading, not a reservation)."""
    limit = _digits(await _get(action, limit_variable(tenant_id)))
    return {"in_use": _digits(await _get(action, count_variable(tenant_id))), "limit": limit}


OPERATIONS: dict[str, Callable[..., Awaitable[Any]]] = {"take": take, "release": release, "in_use": in_use}


__all__ = ["CATEGORY", "OPERATIONS", "count_variable", "group", "in_use",
           "limit_variable", "lock_name", "release", "take"]
