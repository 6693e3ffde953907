"""Automatic recording on an answering channel, as the generated ``pbx-rec-answer`` does it on Asterisk 22.

- ``Groups``: app.c's channel groups. ``GROUP(category)=name`` removes the channel's entry of that category
  and adds the new one, ``GROUP_COUNT(name@category)`` counts the entries, both under one list lock
  (``AST_RWLIST_WRLOCK(&groups)``); an empty name only removes; names compare case-insensitively; a hangup
  drops the channel's entries.
- ``NamedLocks``: func_lock's ``LOCK(name)`` (a named mutex, the same channel may take it again, a wait of at
  most 3 s, "0" when it times out) and ``UNLOCK(name)``.
- ``answer()``: ``pbx-rec-decide`` from the fake's AstDB and the channel's inherited variables (the
  precedence of ``recording.policy``), for the callee, else (an internal call) for the calling colleague with
  the sides swapped; then ``pbx-rec-answer``'s ``go`` steps in the dialplan's order (``GO_STEPS``, held to the
  rendered dialplan by tests/test_fake_recording.py): join the company's group, count, leave when over the
  licences; then ``MixMonitorStart`` and ``UserEvent PbxRecording``, or ``UserEvent PbxRecordingRefused``, with
  the headers the real runs showed (tests/fixtures/asterisk-real/ami/recording_*).
- ``dial_option()``: what Dial's ``U(pbx-rec-answer^...)`` asks for (the fake's Dial runs ``answer()`` on the
  answering phone or trunk leg before the bridge, as Asterisk runs U()); the recording is that channel's, so it
  ends with it (a transfer on leaves the next person's Dial to record them).

- ``listen()``: the generated ``pbx-listen`` (listen-in: the same pool, on the listener's channel, then ChanSpy).
- ``read_function``/``write_function``: ``GROUP()``, ``GROUP_COUNT()`` and ``CHANNEL_EXISTS()`` as AMI
  ``Getvar``/``Setvar`` on a channel reach them (the bridge's licence procedure, pbx/asterisk/licences.py);
  ``LOCK()``/``UNLOCK()`` only from the dialplan (AMI may not: ami_actions.ESCALATING_READS).

Each step may be given a ``pause`` between steps, so concurrent answers (threads, as Asterisk runs one thread
per channel) interleave at every step, the worst case for the licence count.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .dialplan_apps import user_event_headers
from .state import Channel

CATEGORY = "pbxrec"
# Markers of the generated [pbx-rec-answer] "go" priorities, in order (what this module does, step by step).
GO_STEPS = ("rec/lic", "LOCK(pbxrec-", "Set(GROUP(pbxrec)=t", "GROUP_COUNT(", "Set(GROUP(pbxrec)=))", "UNLOCK(",
            "?full,1", "Set(LOCAL(f)=", "Set(LOCAL(other)=", "MixMonitor(", "UserEvent(PbxRecording,")


class Groups:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: list[tuple[str, str, str]] = []  # (channel uniqueid, group, category)

    def set(self, uniqueid: str, group: str, category: str) -> None:
        with self._lock:
            self._rows = [r for r in self._rows if not (r[0] == uniqueid and r[2].lower() == category.lower())]
            if group:
                self._rows.append((uniqueid, group, category))

    def count(self, group: str, category: str) -> int:
        with self._lock:
            return sum(1 for _u, g, c in self._rows if g.lower() == group.lower() and c.lower() == category.lower())

    def group_of(self, uniqueid: str, category: str) -> str:
        with self._lock:
            return next((g for u, g, c in self._rows if u == uniqueid and c.lower() == category.lower()), "")

    def forget(self, uniqueid: str) -> None:
        with self._lock:
            self._rows = [r for r in self._rows if r[0] != uniqueid]


class NamedLocks:
    """func_lock.c: a named lock owned by a *channel* (not a thread): its owner may take it again (a count), anyone
    else waits at most ``timeout`` seconds (then LOCK() gives "0"); UNLOCK() by a channel that does not own it
    gives "0"; the channel's hangup releases what it holds (the lock datastore's destroy)."""

    def __init__(self, timeout: float = 3.0) -> None:
        self.timeout = timeout
        self._cond = threading.Condition()
        self._owners: dict[str, tuple[str, int]] = {}  # lock name -> (owning channel's uniqueid, count)

    def acquire(self, name: str, owner: str) -> bool:
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while True:
                held = self._owners.get(name)
                if held is None or held[0] == owner:
                    self._owners[name] = (owner, (held[1] if held else 0) + 1)
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)

    def release(self, name: str, owner: str) -> bool:
        with self._cond:
            held = self._owners.get(name)
            if held is None or held[0] != owner:
                return False
            if held[1] > 1:
                self._owners[name] = (owner, held[1] - 1)
            else:
                del self._owners[name]
                self._cond.notify_all()
            return True

    def forget(self, owner: str) -> None:
        with self._cond:
            for name in [n for n, (o, _c) in self._owners.items() if o == owner]:
                del self._owners[name]
            self._cond.notify_all()


POOL_FUNCTIONS = frozenset({"GROUP", "GROUP_COUNT", "CHANNEL_EXISTS"})


def read_function(state, ch: Channel | None, func: str, arg: str) -> str | None:
    """What ``${FUNC(arg)}`` gives for the pool's functions, None for any other. AMI reaches only
    POOL_FUNCTIONS (LOCK/UNLOCK are escalating reads Asterisk refuses from AMI); the dialplan, all."""
    if func == "GROUP_COUNT":
        group, _, category = arg.partition("@")
        return str(state.groups.count(group, category))
    if func == "GROUP" and ch is not None:
        return state.groups.group_of(ch.uniqueid, arg)
    if func == "LOCK" and ch is not None:
        return "1" if state.named_locks.acquire(arg, ch.uniqueid) else "0"
    if func == "UNLOCK" and ch is not None:
        return "1" if state.named_locks.release(arg, ch.uniqueid) else "0"
    if func == "CHANNEL_EXISTS":
        return "1" if state.channel_by_name(arg) is not None or arg in state.channels else "0"
    return None


def write_function(state, ch: Channel, func: str, arg: str, value: str) -> bool:
    """``Set(GROUP(category)=value)`` (AMI Setvar on a channel): False for any other function."""
    if func != "GROUP":
        return False
    state.groups.set(ch.uniqueid, value, arg)
    return True


def decide(astdb: dict[str, str], variables: dict[str, str], tenant: int, user: int) -> str:
    """``pbx-rec-decide``: why the person's call is recorded, or ""."""
    db = f"/pbx/t{tenant}"
    if astdb.get(f"{db}/rec/auto") != "1":
        return ""
    other = "".join(c for c in variables.get("PBX_RECO", "") if c.isdigit())
    excluded = astdb.get(f"{db}/rec/x", "")
    if other and excluded and f":{other}:" in excluded:
        return ""
    person = astdb.get(f"{db}/u{user}/rec", "")
    if not person.startswith("e"):
        return ""
    queue = variables.get("PBX_RECQ", "")
    if queue == "never":
        return ""
    if queue == "always":
        return "queue"
    kind = variables.get("PBX_RECK", "")
    if kind and kind in person[1:]:
        return "department"
    if variables.get("PBX_RECN") == "1":
        return "approved_number"
    return ""


@dataclass(frozen=True)
class DialRecording:
    """The arguments of Dial's ``U(pbx-rec-answer^<side>^<person>^<colleague>^<colleague's other>^<a|q>)``."""

    side: str
    person: int
    colleague: int | None = None
    colleague_other: str = ""
    how: str = ""  # "a": Dial's A() announced it; "q": a queue agent's phone (the queue's gosub tells them)


U_OPTION = re.compile(r"U\(pbx-rec-answer\^([rt])\^([0-9]+)(?:\^([0-9]*)\^([0-9]*)(?:\^([aq]?))?)?\)")


def dial_option(options: str) -> DialRecording | None:
    match = U_OPTION.search(options or "")
    if match is None:
        return None
    side, person, colleague, other, how = match.groups()
    return DialRecording(side, int(person), int(colleague) if colleague else None, other or "", how or "")


def take_licence(state, ch: Channel, tenant: int, licences: int, step: Callable[[], None]) -> int:
    """The generated steps of the pool (pbx-rec-answer's and pbx-listen's alike): lock, join, count, leave when
    over, unlock. Returns the count (over ``licences``: refused, the channel is out of the group again)."""
    lock = f"pbxrec-t{tenant}"
    locked = state.named_locks.acquire(lock, ch.uniqueid)
    step()
    state.groups.set(ch.uniqueid, f"t{tenant}", CATEGORY)
    step()
    count = state.groups.count(f"t{tenant}", CATEGORY)
    step()
    if count > licences:
        state.groups.set(ch.uniqueid, "", CATEGORY)
    if locked:
        state.named_locks.release(lock, ch.uniqueid)
    step()
    return count


def answer(world, ch: Channel, tenant: int, user: int, side: str, variables: dict[str, str], *,
           pause: Callable[[], None] | None = None, spool: str = "/var/spool/asterisk",
           colleague: int | None = None, colleague_other: str = "", how: str = "") -> str:
    """Run ``pbx-rec-answer`` on ``ch``: "recorded", "refused" or "" (not recorded). Thread-safe."""
    state = world.state
    step = pause or (lambda: None)
    if how == "a":  # the caller heard the announcement (Dial's A()): once per call
        master = state.channels.get(ch.linkedid)
        if master is not None:
            master.variables["PBX_RECHEARD"] = "1"
    other = variables.get("PBX_RECO", "")
    why = decide(state.astdb, variables, tenant, user)
    if not why and colleague is not None:  # an internal call: the caller's rule, the sides swapped
        user, other, side = colleague, colleague_other, "t" if side == "r" else "r"
        why = decide(state.astdb, variables, tenant, user)
    if not why:
        return ""
    licences = int("0" + "".join(c for c in state.astdb.get(f"/pbx/t{tenant}/rec/lic", "") if c.isdigit()))
    count = take_licence(state, ch, tenant, licences, step)
    kind = variables.get("PBX_RECK", "")
    if count > licences:
        world.emit(user_event_headers(ch, f"PbxRecordingRefused,Tenant: {tenant},User: {user},Kind: automatic,"
                                          f"InUse: {count - 1},Limit: {licences}"))
        return "refused"
    now = int(time.time())
    base = f"{spool}/monitor/pbx/t{tenant}/{time.strftime('%Y%m%d', time.gmtime(now))}/{ch.uniqueid}-{now}"
    ch.mixmonitor = f"{base}-person.wav"
    ch.variables["MIXMONITOR_FILENAME"] = ""  # r()/t() only: no mixed file
    from . import events as ev

    world.emit(ev.call_event("MixMonitorStart", ch))
    queue = variables.get("PBX_QUEUE", "")
    world.emit(user_event_headers(
        ch, f"PbxRecording,Tenant: {tenant},User: {user},Reason: {why},Kind: {kind},"
            f"Other: {other},Queue: {queue},Ddi: {variables.get('PBX_DDI', '')},File: {base}"))
    if how == "q":  # the queue's gosub, once the queue chose this agent, plays them the announcement
        master = world.state.channels.get(ch.linkedid)
        if master is not None:
            master.variables[f"PBX_RECU{user}"] = "1"
    return "recorded"


# Markers of the generated [pbx-listen] "s" priorities, in order (the checks, the pool, then ChanSpy at
# LISTEN_CHANSPY_PRIORITY: "s@pbx-listen:17" on the real run).
LISTEN_STEPS = ("CHANNEL(name)", "PBX_SPYCH=${FILTER(", "CHANNEL_EXISTS(", "rec/lic", "LOCK(pbxrec-",
                "Set(GROUP(pbxrec)=t", "GROUP_COUNT(", "Set(GROUP(pbxrec)=))", "UNLOCK(", "?full,1", "ChanSpy(")
LISTEN_CHANSPY_PRIORITY = 17
# pbx-listen's extensions: ChanSpy's options per mode (quiet, exit with the spied-on; whisper; barge).
LISTEN_OPTIONS = {"listen": "qE", "whisper": "qEw", "barge": "qEB"}
SOUND_ALL_IN_USE = "all-circuits-busy-now&please-try-call-later"
SOUND_NOT_AVAILABLE = "feature-not-avail-line"


def listen(world, ch: Channel, mode: str, *, pause: Callable[[], None] | None = None) -> str:
    """The generated ``pbx-listen`` on the listener's answered phone channel ``ch`` (Originate ... Context
    pbx-listen Exten <mode>, Variable PBX_SPY=<channel>): "listening" (ChanSpy is next), "refused" (every licence
    in use: PbxRecordingRefused, the prompt) or "" (nothing to listen to: not the company's channel, gone). The
    company is the listener's own channel's (PJSIP/t<T>-...). Thread-safe, like ``answer``."""
    state = world.state
    step = pause or (lambda: None)
    options = LISTEN_OPTIONS.get(mode, "")
    tech, _, endpoint = ch.name.partition("/")
    owner = endpoint.split("-", 1)[0]
    tenant = owner[1:]
    target = ch.variables.get("PBX_SPY", "")
    spied = state.channel_by_name(target) if target else None
    allowed = (tech == "PJSIP" and owner == f"t{tenant}" and tenant.isdigit() and bool(options)
               and re.fullmatch(rf"PJSIP/t{tenant}-[-.0-9A-Za-z_+]+", target) is not None
               and target != ch.name and spied is not None)
    if not allowed:
        _playback(world, ch, "no", SOUND_NOT_AVAILABLE)
        return ""
    licences = int("0" + "".join(c for c in state.astdb.get(f"/pbx/t{tenant}/rec/lic", "") if c.isdigit()))
    count = take_licence(state, ch, int(tenant), licences, step)
    if count > licences:
        user = "".join(c for c in ch.variables.get("PBX_USER", "") if c.isdigit())
        body = f"PbxRecordingRefused,Tenant: {tenant},User: {user},Kind: listen_in,InUse: {count - 1},Limit: {licences}"
        world.set_dialplan(ch, "pbx-listen", "full", 1, "UserEvent", body)
        world.emit(user_event_headers(ch, body))
        _playback(world, ch, "full", SOUND_ALL_IN_USE)
        return "refused"
    world.set_dialplan(ch, "pbx-listen", "s", LISTEN_CHANSPY_PRIORITY, "ChanSpy", f"{target},{options}")
    return "listening"


def _playback(world, ch: Channel, exten: str, sound: str) -> None:
    from . import events as ev

    world.set_dialplan(ch, "pbx-listen", exten, 2 if exten == "full" else 1, "Playback", sound)
    world.emit(ev.event("Newexten", "dialplan,all", ev.chan(ch), Extension=exten, Application="Playback",
                        AppData=sound))


def pool_ami(world, *, pause: Callable[[], None] | None = None):
    """The AMI actions the bridge's licence procedure sends (pbx/asterisk/licences.py: DBGet, Getvar and Setvar
    of the pool's functions on a channel), as the fake's AMI answers them, for callers on their own threads (the
    burst test and the bench: one AMI session each, as the bridge's one session runs its actions in order).
    ``pause`` runs before each action: the answers of other channels interleave there."""
    state = world.state
    step = pause or (lambda: None)

    async def action(request):
        step()
        name = request["Action"]
        if name == "DBGet":
            value = state.astdb.get(f"/{request['Family']}/{request['Key']}")
            if value is None:
                from pbx.asterisk.errors import AsteriskError

                raise AsteriskError("Database entry not found", permanent=True)
            return [{"Event": "DBGetResponse", "Family": request["Family"], "Key": request["Key"], "Val": value}]
        ch = state.channel_by_name(request["Channel"]) if request.get("Channel") else None
        func, _, arg = request["Variable"][:-1].partition("(")
        if name == "Setvar":
            write_function(state, ch, func, arg, request.get("Value", ""))
            return {"Response": "Success"}
        return {"Response": "Success", "Variable": request["Variable"],
                "Value": read_function(state, ch, func, arg) if func in POOL_FUNCTIONS else ""}

    return action
