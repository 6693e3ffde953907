"""A simulated PBX for the embedded demo: Demo AB's phones, queues and agents in the fake Asterisk, and
believable traffic on them, so the operator console is alive without an Asterisk.

    python -m tests.fake_asterisk --scenario tests.fake_asterisk.demo_traffic:run   # standalone
    python manage.py run_embedded --simulate                                        # with the web and bridge

``load_world()`` reads the company from the database; ``install()`` builds the fake's state the way the
orchestrator's configuration would make a real Asterisk look (the names of pbx/asterisk/confgen):

- an endpoint ``t<T>-<sip user>`` per device (registered; the simulated people answer, see ``Traffic``);
- the shared trunk ``trunk-1`` the outside world calls through (the company has no trunk of its own);
- hints ``<ext>@t<T>-hints`` = the person's phones + ``CustomPresence:t<T>-u<U>``;
- queues ``t<T>-q<id>`` with the logged-in agents as members ``Local/<user>@t<T>-agents/n`` (state interface
  ``hint:<ext>@t<T>-hints``, penalty = priority), as ``astdb_sync`` adds them, so its rewrite finds nothing
  to change;
- the routes the generated dialplan has: ``t<T>-agents,<user>`` (all the person's phones, transfer keys on),
  ``t<T>-user-<user>,s``, extensions and queues in ``t<T>-internal`` / ``t<T>-forward``, outside numbers
  (+…, 00…, 0…) out through the trunk, and the company's numbers in ``t<T>-inbound``.

``Traffic`` then makes calls happen, bounded to ``max_calls`` at once (6): callers with Swedish numbers reach
the queues every few seconds (now and then a direct number or a colleague), agents' phones answer after a
few seconds (sometimes not: the queue rings again), some callers give up waiting (abandon), calls end after
a minute or two, a softphone drops off the network for a while, a colleague goes to lunch and comes back
(through ``do_set_presence``, as the phone's *20 would; only with ``presence_changes``, which writes the
database: run_embedded turns it on). Whatever the console does (originate, redirect,
atxfer, hangup, ChanSpy...) goes through the fake's AMI like any other call: ringing phones are answered by
the same simulated people.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
from dataclasses import dataclass, field

from .state import AsteriskState, Route

log = logging.getLogger(__name__)

TRUNK = "trunk-1"
FIRST_NAMES = ["Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Sara", "Anders", "Emma", "Per", "Linnea",
               "Mikael", "Ingrid", "Oskar", "Elin", "Nils", "Astrid", "Gunnar", "Maja", "Henrik"]
LAST_NAMES = ["Johansson", "Andersson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
              "Svensson", "Gustafsson", "Lindqvist", "Berglund", "Lundgren", "Sandberg", "Holm"]


@dataclass
class Person:
    user_id: int
    name: str
    extension: str
    endpoints: list[str]
    direct_number: str = ""
    agent: bool = False
    console: bool = False  # operator or company admin: sits at the console, answers at once
    admin: bool = False  # company admin: the devices' set_var has PBX_ADMIN=1 (*99 prompt recording)


@dataclass
class QueueInfo:
    queue_id: int
    label: str
    extension: str
    strategy: str
    number: str  # the company number that reaches it
    agents: list[tuple[int, int, bool, str]] = field(default_factory=list)  # user, priority, paused, reason

    def asterisk_name(self, tenant_id: int) -> str:
        return f"t{tenant_id}-q{self.queue_id}"


@dataclass
class DemoWorld:
    tenant_id: int
    country_code: str
    people: dict[int, Person]
    queues: list[QueueInfo]
    main_number: str = ""
    presence: dict[int, tuple[str, str]] = field(default_factory=dict)  # user -> (asterisk state, message)
    statuses: list[tuple[int, str, bool]] = field(default_factory=list)  # status id, message, needs end time
    status_codes: set[int] = field(default_factory=set)  # every status's *20<code>
    prompt_ids: set[int] = field(default_factory=set)  # *99<prompt id>
    time_zone: str = "Europe/Stockholm"
    # The company's recording service is on: Dial()s carry the generated dialplan's U(pbx-rec-answer^...) (the
    # caller's channel must hold what pbx-recording-hook notes: PBX_RECT, PBX_RECK, PBX_RECO...).
    recording: bool = False


def load_world(slug: str = "demo") -> DemoWorld:
    """The company as the orchestrator would have configured Asterisk for it (sync: reads the database)."""
    from pbx.models import Number, PresenceStatus, Prompt, Queue, QueueAgent, Tenant, User, UserPresence

    tenant = Tenant.objects.get(slug=slug)
    people: dict[int, Person] = {}
    for user in User.objects.filter(tenant=tenant, is_active=True).prefetch_related("devices").order_by("extension"):
        endpoints = [d.endpoint for d in user.devices.all() if d.is_enabled]
        people[user.pk] = Person(user.pk, user.display_name, user.extension, endpoints, user.direct_number,
                                 user.is_agent, user.is_operator or user.is_company_admin, user.is_company_admin)
    numbers = {n.destination.queue_id: n.e164 for n in Number.objects.filter(tenant=tenant, destination__kind="queue")
               .select_related("destination")}
    main = Number.objects.filter(tenant=tenant, kind=Number.Kind.MAIN).order_by("id").values_list("e164", flat=True)
    main_number = main.first() or ""
    queues = []
    for queue in Queue.objects.filter(tenant=tenant).order_by("id"):
        info = QueueInfo(queue.pk, queue.name, queue.extension, queue.strategy, numbers.get(queue.pk, main_number))
        for agent in QueueAgent.objects.filter(queue=queue, logged_in=True, user__is_active=True).order_by("priority"):
            info.agents.append((agent.user_id, agent.priority, agent.paused, agent.pause_reason))
        queues.append(info)
    presence = {}
    for row in UserPresence.objects.filter(tenant=tenant, status__isnull=False).select_related("status"):
        presence[row.user_id] = (row.status.asterisk_state, row.message or row.status.name)
    statuses = [(s.pk, s.default_message or s.name, s.needs_end_time)
                for s in PresenceStatus.objects.filter(tenant=tenant, forward_to__isnull=True).order_by("sort_order")]
    codes = set(PresenceStatus.objects.filter(tenant=tenant).values_list("code", flat=True))
    prompts = set(Prompt.objects.filter(tenant=tenant).values_list("pk", flat=True))
    return DemoWorld(tenant.pk, tenant.country_code or "46", people, queues, main_number, presence, statuses,
                     codes, prompts, tenant.time_zone)


def load_worlds(slug: str = "demo") -> list[DemoWorld]:
    """The company ``slug`` first, then the node's other active companies (their phones and queues exist in
    Asterisk too: the AstDB rewrite adds their agents to their queues)."""
    from pbx.models import Tenant

    first = load_world(slug)
    others = Tenant.objects.filter(is_active=True).exclude(pk=first.tenant_id).order_by("id")
    return [first, *(load_world(t.slug) for t in others)]


class DemoState(AsteriskState):
    """The fake's state for the companies: exact routes, plus each one's outbound patterns (+X. / 00X. / 0X.)."""

    OUTSIDE = re.compile(r"^(\+|00|0)[1-9][0-9]{4,15}$")

    def __init__(self, worlds: list[DemoWorld]):
        super().__init__()
        self.worlds = {w.tenant_id: w for w in worlds}

    def route(self, context: str, exten: str) -> Route | None:
        found = super().route(context, exten)
        if found is not None:
            return found
        match = re.match(r"^t(\d+)-(internal|forward)$", context or "")
        world = self.worlds.get(int(match[1])) if match else None
        if world is not None and self.OUTSIDE.match(exten or ""):
            digits = exten.lstrip("+")
            if exten.startswith("00"):
                digits = exten[2:]
            elif exten.startswith("0"):
                digits = world.country_code + exten[1:]
            return Route("dial", f"PJSIP/+{digits}@{TRUNK}", timeout=60)
        return None


def install(fake, world: DemoWorld, *others: DemoWorld) -> DemoState:
    """Replace the fake's state with the companies' phones, hints, queues, members and routes."""
    state = DemoState([world, *others])
    state.add_endpoint(TRUNK, "Trunk", answer="manual", context="from-trunk")
    for company in (world, *others):
        _install_company(state, company)
    state.snapshot_baseline()
    fake.replace_state(state)
    return state


def _install_company(state: DemoState, world: DemoWorld) -> None:
    t = world.tenant_id
    state.feature_settings[t] = {"status_codes": set(world.status_codes), "prompt_ids": set(world.prompt_ids),
                                 "time_zone": world.time_zone}
    for person in world.people.values():
        for endpoint in person.endpoints:
            ep = state.add_endpoint(endpoint, person.name, answer="manual", context=f"t{t}-internal")
            # pjsip set_var of our devices (confgen/pjsip.py): who is calling, for the dialplan's feature codes
            ep.variables = {"PBX_TENANT": str(t), "PBX_USER": str(person.user_id), "PBX_COPTS": "T",
                            **({"PBX_MAILBOX": f"{person.extension}@t{t}"} if person.extension else {}),
                            **({"PBX_ADMIN": "1"} if person.admin else {}),
                            "DYNAMIC_FEATURES": "pbxrec#pbxrecpause"}
        devices = "&".join(f"PJSIP/{e}" for e in person.endpoints)
        if person.extension:
            state.add_hint(person.extension, f"t{t}-hints", f"{devices},CustomPresence:t{t}-u{person.user_id}")
        if not devices:
            continue
        # pbx-person's and t<T>-agents' Dial options (confgen: extensions.py, dialplan_shared.py)
        person_rec = f"U(pbx-rec-answer^r^{person.user_id}^^)" if world.recording else ""
        agent_rec = f"U(pbx-rec-answer^r^{person.user_id}^^^q)" if world.recording else ""
        state.routes[(f"t{t}-agents", str(person.user_id))] = Route("dial", devices, timeout=600, options="t" + agent_rec)
        state.routes[(f"t{t}-user-{person.user_id}", "s")] = Route("dial", devices, timeout=20,
                                                                   options="t" + person_rec)
        if person.direct_number:
            state.routes[(f"t{t}-inbound", person.direct_number)] = Route("dial", devices, timeout=20,
                                                                          options="t" + person_rec)
        if person.extension:
            for context in (f"t{t}-internal", f"t{t}-forward"):
                state.routes[(context, person.extension)] = Route("dial", devices, timeout=20,
                                                                  options="tT" + person_rec)
    for info in world.queues:
        name = info.asterisk_name(t)
        queue = state.add_queue(name, strategy="ringall" if info.strategy == "ringall" else "linear", timeout=15)
        state.routes[(f"t{t}-queue-{info.queue_id}", "s")] = Route("queue", name)
        state.routes[(f"t{t}-queue-{info.queue_id}", info.number)] = Route("queue", name)
        if info.extension:
            for context in (f"t{t}-internal", f"t{t}-forward"):
                state.routes[(context, info.extension)] = Route("queue", name)
        for user_id, priority, paused, reason in info.agents:
            person = world.people.get(user_id)
            if person is None or not person.extension:
                continue
            state.add_member(queue, f"Local/{user_id}@t{t}-agents/n", str(user_id),
                             state_interface=f"hint:{person.extension}@t{t}-hints", penalty=priority,
                             paused=paused, reason=reason)
    for user_id, (presence, message) in world.presence.items():
        state.presence[f"CustomPresence:t{t}-u{user_id}"] = (presence, "", message)


def swedish_number(rng: random.Random) -> str:
    """A believable caller: mostly mobiles (070/072/073/076/079), some landlines (08, 031, 040, 018...)."""
    if rng.random() < 0.65:
        return f"+467{rng.choice('02369')}{rng.randrange(10**7):07d}"
    area = rng.choice(["8", "31", "40", "18", "13", "19", "60", "90"])
    return f"+46{area}{rng.randrange(10 ** (9 - len(area))):0{9 - len(area)}d}"


class Traffic:
    """Callers, agents and colleagues of one company, acting on the fake (see the module's docstring)."""

    def __init__(self, fake, world: DemoWorld, *, seed: int | None = None, max_calls: int = 6,
                 arrival: tuple[float, float] = (4.0, 10.0), talk: tuple[float, float] = (45.0, 150.0),
                 patience: tuple[float, float] = (25.0, 150.0), presence_changes: bool = False):
        self.fake = fake
        self.world = world
        self.rng = random.Random(seed)
        self.max_calls = max_calls
        self.arrival, self.talk, self.patience = arrival, talk, patience
        self.presence_changes = presence_changes
        self.owner = {e: p for p in world.people.values() for e in p.endpoints}
        self._handled: set[str] = set()  # ringing channels a simulated person has decided about
        self._timed: set[str] = set()  # calls (linkedids) whose end is scheduled
        self._tasks: set[asyncio.Task] = set()

    # -- time
    def scaled(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high) * self.fake.time_scale

    def _soon(self, delay: float, func, *args) -> None:
        async def later():
            await asyncio.sleep(delay)
            try:
                result = func(*args)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # a call that changed under our feet: nothing to do
                log.debug("demo traffic: %s failed", getattr(func, "__name__", func), exc_info=True)

        task = asyncio.get_running_loop().create_task(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the picture
    @property
    def state(self):
        return self.fake.state

    def endpoint_of(self, ch) -> str:
        return ch.endpoint.split("/", 1)[1] if ch.endpoint else ""

    def live_calls(self) -> set[str]:
        """Linkedids of the calls going on (of real phones and the trunk; Local halves do not count)."""
        return {c.linkedid for c in self.state.channels.values() if c.endpoint}

    # -- the people
    def watch_phones(self) -> None:
        """Ringing phones get answered (or not) by the simulated people; connected calls get an end."""
        for ch in list(self.state.channels.values()):
            if ch.state == 5 and ch.endpoint and ch.uniqueid not in self._handled:
                self._handled.add(ch.uniqueid)
                self._decide(ch)
        for bridge in list(self.state.bridges.values()):
            parties = [self.state.channels.get(u) for u in bridge.channels]
            parties = [c for c in parties if c is not None]
            if len(parties) < 2:
                continue
            linkedid = parties[0].linkedid
            if linkedid not in self._timed:
                self._timed.add(linkedid)
                self._soon(self.scaled(*self.talk), self.end_call, linkedid)
        self._handled &= set(self.state.channels)

    def _decide(self, ch) -> None:
        endpoint = self.endpoint_of(ch)
        if endpoint == TRUNK:  # someone outside picks up, or is busy
            roll = self.rng.random()
            if roll < 0.85:
                self._soon(self.scaled(3, 9), self.answer, ch.uniqueid)
            elif roll < 0.93:
                self._soon(self.scaled(2, 5), self.reject, ch.uniqueid)
            return
        person = self.owner.get(endpoint)
        if person is None:
            return
        if person.console:  # the person at the console answers the phone their click made ring
            self._soon(self.scaled(1, 2.5), self.answer, ch.uniqueid)
        elif self.rng.random() < 0.85:
            self._soon(self.scaled(2, 8), self.answer, ch.uniqueid)
        # else: nobody picks up; the queue's ring timeout or the dial timeout moves on

    def answer(self, uniqueid: str) -> None:
        ch = self.state.channels.get(uniqueid)
        if ch is not None and ch.state == 5:
            self.fake.answer(ch)

    def reject(self, uniqueid: str) -> None:
        ch = self.state.channels.get(uniqueid)
        if ch is not None and ch.state == 5:
            self.fake.reject(ch)

    def end_call(self, linkedid: str) -> None:
        self._timed.discard(linkedid)
        parties = [c for c in self.state.channels.values() if c.linkedid == linkedid and c.endpoint and c.bridge]
        if parties:
            self.fake.hangup(self.rng.choice(parties))

    # -- callers
    def caller(self) -> tuple[str, str]:
        number = swedish_number(self.rng)
        name = "" if self.rng.random() < 0.3 else f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"
        return number, name

    def new_call(self) -> None:
        t = self.world.tenant_id
        if len(self.live_calls()) >= self.max_calls:
            return
        roll = self.rng.random()
        people = [p for p in self.world.people.values() if p.endpoints]
        if roll < 0.78 and self.world.queues:
            weights = [0.65 if i == 0 else 0.35 / max(1, len(self.world.queues) - 1)
                       for i in range(len(self.world.queues))]
            info = self.rng.choices(self.world.queues, weights)[0]
            number, name = self.caller()
            call = self.fake.place_call(TRUNK, info.number, context=f"t{t}-queue-{info.queue_id}",
                                        caller_num=number, caller_name=name)
            self._soon(self.scaled(*self.patience), self.give_up, call.caller.uniqueid)
        elif roll < 0.92:
            reachable = [p for p in people if p.direct_number and not p.console]
            if reachable:
                person = self.rng.choice(reachable)
                number, name = self.caller()
                self.fake.place_call(TRUNK, person.direct_number, context=f"t{t}-inbound", caller_num=number,
                                     caller_name=name)
        elif len(people) > 1:
            a, b = self.rng.sample([p for p in people if p.extension], 2)
            self.fake.place_call(self.rng.choice(a.endpoints), b.extension, caller_num=a.extension,
                                 caller_name=a.name)

    def give_up(self, uniqueid: str) -> None:
        """A caller still waiting in the queue after their patience ran out hangs up (abandon)."""
        ch = self.state.channels.get(uniqueid)
        call = self.fake.calls.get(uniqueid) if ch is not None else None
        if call is not None and call.kind == "queue" and call.callee is None:
            self.fake.hangup(ch)

    # -- devices and presence
    def flap_softphone(self) -> None:
        """A browser phone drops off the network for a while (UNAVAILABLE), then registers again."""
        idle = [e for e, p in self.owner.items() if not p.console and e in self.state.endpoints
                and self.state.endpoint_device_state(f"PJSIP/{e}") == "NOT_INUSE"]
        if len(idle) < 2:
            return
        endpoint = self.rng.choice(idle)
        self.state.endpoints[endpoint].registered = False
        self.fake.refresh()
        self._soon(self.scaled(20, 60), self.register, endpoint)

    def register(self, endpoint: str) -> None:
        ep = self.state.endpoints.get(endpoint)
        if ep is not None and not ep.registered:
            ep.registered = True
            self.fake.refresh()

    async def change_presence(self) -> None:
        """Someone who is not at the console or in a queue goes to lunch or a meeting, or comes back."""
        from asgiref.sync import sync_to_async

        people = [p for p in self.world.people.values() if not p.console and not p.agent]
        if not people or not self.world.statuses:
            return
        person = self.rng.choice(people)
        status = None if person.user_id in self.world.presence else self.rng.choice(self.world.statuses)
        await sync_to_async(_set_presence)(person.user_id, status)
        if status is None:
            self.world.presence.pop(person.user_id, None)
        else:
            self.world.presence[person.user_id] = ("away", status[1])

    # -- running
    async def run(self) -> None:
        loops = [self._every((0.4, 0.6), self.watch_phones), self._every(self.arrival, self.new_call),
                 self._every((120, 240), self.flap_softphone)]
        if self.presence_changes:
            loops.append(self._every((90, 180), self.change_presence, first=(30, 60)))
        try:
            await asyncio.gather(*loops)
        finally:
            for task in list(self._tasks):
                task.cancel()

    async def _every(self, interval: tuple[float, float], func, *, first: tuple[float, float] | None = None):
        await asyncio.sleep(self.scaled(*(first or interval)))
        while True:
            try:
                result = func()
                if asyncio.iscoroutine(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("demo traffic: %s failed", func.__name__)
            await asyncio.sleep(self.scaled(*interval))


def _set_presence(user_id: int, status: tuple[int, str, bool] | None) -> None:
    """What the phone's *20/*21 leads to: the orchestrator records the status (and writes Asterisk's)."""
    import datetime

    from django.db import close_old_connections
    from django.utils import timezone

    from pbx.actions import do_set_presence
    from pbx.models import PresenceStatus, User

    close_old_connections()
    user = User.objects.get(pk=user_id)
    if status is None:
        do_set_presence(user, user, None)
        return
    presence = PresenceStatus.objects.get(pk=status[0])
    until = timezone.now() + datetime.timedelta(minutes=45) if status[2] else None
    do_set_presence(user, user, presence, message=status[1], until=until)


def _django() -> None:
    from django.conf import settings

    if not settings.configured:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pbx.settings")
        django.setup()


async def run(fake, *, slug: str = "demo", seed: int | None = None, world: DemoWorld | None = None,
              installed: bool = False, **options) -> None:
    """The scenario (``--scenario tests.fake_asterisk.demo_traffic:run``): install the companies, then traffic
    for ``slug`` until cancelled. ``installed``: the caller already ran ``install`` (run_embedded does, before
    its bridge connects, so the bridge's first resynchronisation sees the companies)."""
    from asgiref.sync import sync_to_async

    _django()
    if world is None:
        worlds = await sync_to_async(load_worlds)(slug)
        world = worlds[0]
        if not installed:
            install(fake, *worlds)
    elif not installed:
        install(fake, world)
    log.info("demo traffic for company %s: %d phones, %d queues", world.tenant_id,
             sum(len(p.endpoints) for p in world.people.values()), len(world.queues))
    with contextlib.suppress(asyncio.CancelledError):
        await Traffic(fake, world, seed=seed, **options).run()


__all__ = ["DemoState", "DemoWorld", "Traffic", "install", "load_world", "load_worlds", "run", "swedish_number"]
