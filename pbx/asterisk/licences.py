"""A company's recording and listen-in licences: ONE pool, kept by Asterisk itself.

Every recording and every listen-in holds a licence as long as it runs, and the pool is the channel group
``t<T>`` of category ``pbxrec`` (app.c's ``GROUP()``): a channel that records or listens is in the group, a
hangup takes it out, and ``GROUP_COUNT(t<T>@pbxrec)`` is the number of licences in use. The limit is
Asterisk's copy of the company's licence count, AstDB ``pbx/t<T>/rec/lic`` (docs/astdb.md).

Three ways into the pool, one rule: join first, then count, and leave again when the count is over the
limit. Joining before counting means a burst never takes more licences than there are (the later of two counts
sees both).

- automatic recording: the generated ``pbx-rec-answer`` (pbx/asterisk/confgen/dialplan_shared.py), on the
  answering channel, under the named lock ``LOCK(pbxrec-t<T>)`` (func_lock), so a burst of answers takes
  exactly the licences there are, not fewer (nobody counts a channel that is about to leave again);
- listen-in: the generated ``pbx-listen``, on the listener's phone channel before ``ChanSpy``, under the same
  lock;
- recording on demand (``*9``, the console, the API): :func:`take` here, run by the event bridge on the
  recorded channel through AMI: ``Setvar GROUP(pbxrec)=t<T>`` and ``Getvar GROUP_COUNT(t<T>@pbxrec)`` sent
  back to back (Asterisk runs one session's actions in order, so the count follows the join at once), and
  ``Setvar GROUP(pbxrec)=`` when over. It cannot take the dialplan's lock: with ``live_dangerously = no``
  (asterisk_conf/asterisk.conf) Asterisk refuses ``LOCK()``, ``UNLOCK()`` and ``DB()`` from AMI ("Dangerous
  function LOCK read blocked", an empty value; seen on Asterisk 22.10.1), and the limit is read with
  ``DBGet`` instead. So it can never exceed the licences either; the one thing the lock would add is that an
  answer counting in the millisecond between this join and its leave could be refused although a licence
  was free.

:func:`release` takes a stopped recording's channel out of the pool (``Setvar GROUP(pbxrec)=`` with an empty
value, as the dialplan's ``Set(GROUP(pbxrec)=)``). :func:`in_use` only reads the count: a quick check
before a listen-in rings the listener's phone, never the authority.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .errors import AsteriskError

CATEGORY = "pbxrec"
TENANT_RE = re.compile(r"\A[0-9]{1,9}\Z")

Action = Callable[[Mapping[str, Any]], Awaitable[Any]]


def group(tenant_id: int) -> str:
    return f"t{int(tenant_id)}"


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


async def limit(action: Action, tenant_id: int) -> int:
    """Asterisk's copy of the company's licence count (AstDB pbx/t<T>/rec/lic; none: no licences)."""
    try:
        items = await action({"Action": "DBGet", "Family": "pbx", "Key": f"{group(tenant_id)}/rec/lic"})
    except AsteriskError as exc:
        if "not found" in exc.message.lower():
            return 0
        raise
    return _digits(items[0].get("Val") if isinstance(items, list) and items else "")


async def take(action: Action, tenant_id: int, channel: str) -> dict[str, Any]:
    """Put ``channel`` into the company's pool if a licence is free. Returns ``{"taken": bool, "in_use": n,
    "limit": n}`` (``in_use`` without this channel when refused, with it when taken); ``"held": True`` when
    the channel already holds a licence (it records already: nothing changed)."""
    name = group(tenant_id)
    most = await limit(action, tenant_id)
    if (await _get(action, f"GROUP({CATEGORY})", channel)).lower() == name:
        return {"taken": False, "held": True, "in_use": _digits(await _get(action, count_variable(tenant_id))),
                "limit": most}
    # Both sent before either answer is awaited: the count is Asterisk's next action after the join.
    _joined, counted = await asyncio.gather(_set(action, channel, name),
                                            _get(action, count_variable(tenant_id), channel))
    count = _digits(counted)
    if count > most:
        await _set(action, channel, "")
        return {"taken": False, "held": False, "in_use": count - 1, "limit": most}
    return {"taken": True, "held": False, "in_use": count, "limit": most}


async def release(action: Action, channel: str) -> None:
    """The recording on ``channel`` stopped: its licence is free again."""
    await _set(action, channel, "")


async def in_use(action: Action, tenant_id: int) -> dict[str, Any]:
    """How many of the company's licences are in use now (a reading, not a reservation)."""
    return {"in_use": _digits(await _get(action, count_variable(tenant_id))), "limit": await limit(action, tenant_id)}


OPERATIONS: dict[str, Callable[..., Awaitable[Any]]] = {"take": take, "release": release, "in_use": in_use}


__all__ = ["CATEGORY", "OPERATIONS", "count_variable", "group", "in_use", "limit", "release", "take"]
