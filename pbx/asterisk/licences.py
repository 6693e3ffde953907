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

Who holds the licences is not kept anywhere but in Asterisk: the recordings are rows of their own (the bridge
writes them), the listen-ins are private (only the listener is told of one, the call's view never carries
listeners). :func:`listen_ins` picks a company's listen-ins out of a CoreShowChannels answer on request (the
recording web's "Licences in use" page for super users, pbx/actions/licences.py).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
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


# ------------------------------------------------------------------------------------------ who listens in now

# A phone's channel, PJSIP/t<T>-<sip user name>-<8 hex digits> (chan_pjsip's "%s-%08x"); a trunk's endpoint
# (t<T>-trunk-<id>) is never a listener.
DEVICE_CHANNEL = re.compile(r"\APJSIP/(t([0-9]{1,9})-([A-Za-z0-9._+-]{1,80}))-[0-9a-fA-F]{8}\Z")
_TRUNK = re.compile(r"\Atrunk-?[0-9]+\Z")
# ChanSpy's options that say how the listener takes part (app_chanspy.c): B barge (both parties hear the
# listener), w whisper (only the spied-on channel does); neither: listen only. An option's argument in
# parentheses (r(<name>), e(<exts>), ...) is no option letter.
_OPTION_ARGUMENT = re.compile(r"\([^)]*\)")


@dataclass(frozen=True)
class ListenIn:
    """One live listen-in of a company, as CoreShowChannels shows the listener's channel in ChanSpy.

    ``spied_*`` are empty when the spied-on channel is not the company's own phone (pbx-listen allows no
    other, so this is only ever a stray ChanSpy); ``other_*`` is the spied-on channel's connected line (the
    person's other party); ``seconds`` is how long the listener's channel exists (its ringing included)."""

    channel: str
    uniqueid: str
    endpoint: str
    mode: str  # "listen" | "whisper" | "barge"
    seconds: int
    spied_channel: str = ""
    spied_endpoint: str = ""
    call_id: str = ""  # the spied-on channel's Linkedid: the call listened to
    other_number: str = ""
    other_name: str = ""


def device_endpoint(channel: str, tenant_id: int) -> str:
    """The endpoint of ``channel`` when it is one of the company's phones (``t<T>-<sip user name>``), else ""."""
    match = DEVICE_CHANNEL.match(channel or "")
    if match is None or int(match[2]) != int(tenant_id) or _TRUNK.match(match[3]):
        return ""
    return match[1]


def listen_mode(options: str) -> str:
    letters = _OPTION_ARGUMENT.sub("", options or "")
    if "B" in letters:
        return "barge"
    if "w" in letters:
        return "whisper"
    return "listen"


def _seconds(duration: str) -> int:
    """CoreShowChannel's ``Duration`` (``HH:MM:SS``, the hours may pass 99) in seconds."""
    parts = (duration or "").split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return 0
    hours, minutes, seconds = (int(p) for p in parts)
    return hours * 3600 + minutes * 60 + seconds


def _known(value: Any) -> str:
    text = str(value or "")
    return "" if text == "<unknown>" else text


def listen_ins(channels: list[Mapping[str, Any]], tenant_id: int) -> list[ListenIn]:
    """The company's listen-ins among CoreShowChannels' items (every company's channels of the node): a
    channel of one of its phones whose application is ChanSpy, with ``ApplicationData`` ``<spied-on
    channel>,<options>`` (pbx-listen's ``ChanSpy(${PBX_SPYCH},${PBX_SPYOPT})``). Nothing of another company
    is ever returned, not even the name of a channel it spies on."""
    by_name = {str(item.get("Channel", "")): item for item in channels if isinstance(item, Mapping)}
    found = []
    for name, item in by_name.items():
        if str(item.get("Application", "")).lower() != "chanspy":
            continue
        endpoint = device_endpoint(name, tenant_id)
        if not endpoint:
            continue
        target, _sep, options = str(item.get("ApplicationData", "")).partition(",")
        spied_endpoint = device_endpoint(target, tenant_id)
        spied = by_name.get(target, {}) if spied_endpoint else {}
        found.append(ListenIn(
            channel=name, uniqueid=str(item.get("Uniqueid", "")), endpoint=endpoint, mode=listen_mode(options),
            seconds=_seconds(str(item.get("Duration", ""))), spied_channel=target if spied_endpoint else "",
            spied_endpoint=spied_endpoint, call_id=str(spied.get("Linkedid", "")),
            other_number=_known(spied.get("ConnectedLineNum")), other_name=_known(spied.get("ConnectedLineName"))))
    found.sort(key=lambda listen_in: (-listen_in.seconds, listen_in.channel))
    return found


# A channel named for a company: its phones and trunks (PJSIP/t<T>-...), its dialplan's Local channels
# (Local/<exten>@t<T>-<context>-<n>;1).
_COMPANY_CHANNEL = re.compile(r"\A(?:PJSIP/t([0-9]{1,9})-|Local/[^@/]*@t([0-9]{1,9})-)")


def company_channels(channels: list[Mapping[str, Any]], tenant_id: int) -> frozenset[str]:
    """The Uniqueids of the company's calls' channels in a CoreShowChannels answer: the channels named for the
    company, and those of the same calls (Linkedid) that are not (a shared trunk's leg, which carries every
    company's calls and names none)."""
    tenant = str(int(tenant_id))
    calls = set()
    for item in channels:
        match = _COMPANY_CHANNEL.match(str(item.get("Channel", "")))
        if match is not None and tenant in match.groups():
            calls.add(str(item.get("Linkedid", "")))
    calls.discard("")
    return frozenset(str(item.get("Uniqueid", "")) for item in channels
                     if str(item.get("Linkedid", "")) in calls and item.get("Uniqueid"))


__all__ = ["CATEGORY", "OPERATIONS", "ListenIn", "company_channels", "count_variable", "device_endpoint", "group", "in_use", "limit",
           "listen_ins", "listen_mode", "release", "take"]
