"""Demo companies: used by ``seed_demo`` and by the tests' two-company world.

Everything is created through the actions, so the demo exercises the same checks as an admin.
Idempotent: a company that already exists is left as it is.
"""

from __future__ import annotations

import datetime
import math
import struct
import wave
from dataclasses import dataclass, field
from io import BytesIO

from django.db import transaction
from django.utils import timezone

from pbx import actions
from pbx.models import (
    AsteriskNode,
    CostCentre,
    Department,
    Destination,
    ForwardingProfile,
    ForwardingRule,
    IvrMenu,
    IvrOption,
    Number,
    Office,
    PresenceStatus,
    Queue,
    QueueAgent,
    Schedule,
    SpecialDay,
    Tenant,
    User,
    VoicemailBox,
    WeeklyHours,
)

DEMO_PASSWORD = "demo-Vaxel-2026!"  # noqa: S105 - printed by seed_demo for the first look


def tone_wav(seconds: float = 1.0, freq: float = 440.0, rate: int = 44100) -> bytes:
    """A sine tone as a wav file: a real, decodable upload for prompts."""
    frames = int(seconds * rate)
    buffer = BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        samples = (int(12000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(frames))
        out.writeframes(b"".join(struct.pack("<hh", s, s) for s in samples))
    return buffer.getvalue()


@dataclass
class DemoCompany:
    tenant: Tenant
    admin: User
    operator: User
    agents: list[User]
    users: list[User]
    queues: dict[str, Queue] = field(default_factory=dict)
    menu: IvrMenu | None = None
    main_number: Number | None = None


# (first name, last name, role) per company; numbers are derived from the company's index.
PEOPLE = {
    "demo": [
        ("Alice", "Andersson", "admin"), ("Olle", "Operatör", "operator"),
        ("Bob", "Berg", "agent"), ("Cecilia", "Carlsson", "agent"), ("David", "Dahl", "agent"),
        ("Eva", "Ek", "user"), ("Filip", "Fors", "user"),
    ],
    "exempel": [
        ("Carol", "Cederlund", "admin"), ("Petra", "Persson", "operator"),
        ("Dave", "Dahlberg", "agent"), ("Gustav", "Gran", "agent"), ("Hanna", "Holm", "agent"),
        ("Ivar", "Isaksson", "user"), ("Julia", "Jonsson", "user"),
    ],
}

PRESENCE = [
    # name, code, asterisk state, default message, needs end time
    ("Lunch", 1, "away", "Tillbaka efter lunch", True),
    ("Möte", 2, "dnd", "I möte", True),
    ("Borta", 3, "away", "", False),
    ("Semester", 4, "xa", "På semester", True),
    ("Sjuk", 5, "xa", "", False),
]
# Each status its own colour, as an admin would choose them (the console and My pages show them).
PRESENCE_COLOURS = {"Lunch": "#d97706", "Möte": "#b3261e", "Borta": "#57606a", "Semester": "#1a7f37",
                    "Sjuk": "#8250df"}


def build_company(name: str, slug: str, index: int, *, node: AsteriskNode | None = None,
                  password: str = DEMO_PASSWORD) -> DemoCompany:
    existing = Tenant.objects.filter(slug=slug).first()
    if existing:
        return load_company(existing)
    with transaction.atomic():
        return _build(name, slug, index, node, password)


def load_company(tenant: Tenant) -> DemoCompany:
    people = list(User.objects.filter(tenant=tenant).order_by("extension"))
    return DemoCompany(
        tenant=tenant,
        admin=next(u for u in people if u.is_company_admin),
        operator=next(u for u in people if u.is_operator),
        agents=[u for u in people if u.is_agent],
        users=[u for u in people if not (u.is_agent or u.is_operator or u.is_company_admin)],
        queues={q.name: q for q in Queue.objects.filter(tenant=tenant)},
        menu=IvrMenu.objects.filter(tenant=tenant).first(),
        main_number=Number.objects.filter(tenant=tenant, kind=Number.Kind.MAIN).first(),
    )


def _save(obj):
    obj.full_clean()
    return actions.do_save_object(None, obj)


def _build(name: str, slug: str, index: int, node: AsteriskNode | None, password: str) -> DemoCompany:
    tenant = actions.do_create_tenant(None, name=name, slug=slug, node=node, max_recording_channels=4)
    support = _save(Department(tenant=tenant, name="Kundtjänst"))
    sales = _save(Department(tenant=tenant, name="Försäljning"))
    office = _save(Office(tenant=tenant, name="Stockholm", address="Drottninggatan 1"))
    cost = _save(CostCentre(tenant=tenant, name="Växeln", code=f"CC{index}00"))
    area = f"+468{index}55"  # e.g. +46815500xx for company 1
    # The platform's operator gives each demo company its block of numbers before it uses any.
    actions.do_assign_numbers(None, tenant, f"{area}0000", f"{area}9999", note="Demo block")

    people: list[User] = []
    for n, (first, last, role) in enumerate(PEOPLE.get(slug, PEOPLE["demo"])):
        ext = str(1001 + n)
        user = actions.do_create_user(
            None, tenant, email=f"{first.lower()}@{slug}.example" if role != "admin" else f"admin@{slug}.example",
            password=password, first_name=first, last_name=last, extension=ext,
            direct_number=f"{area}{ext[-3:]}0"[:12], mobile_number=f"+46701{index}{ext}0"[:12],
            department=support if n % 2 == 0 else sales, office=office, cost_centre=cost,
            is_company_admin=role == "admin", is_operator=role == "operator", is_agent=role == "agent",
            recording_role=User.RecordingRole.SUPER if role == "admin" else User.RecordingRole.OWN,
        )
        actions.do_create_device(None, user, kind="desk", label="Skrivbord")
        if role in ("operator", "agent"):
            actions.do_create_device(None, user, kind="webrtc", label="Webbläsare")
        people.append(user)
    admin, operator = people[0], people[1]
    agents = [u for u in people if u.is_agent]
    users = people[5:]

    welcome = actions.do_upload_prompt(None, tenant, name="Välkommen", data=tone_wav(1.0, 440))
    menu_prompt = actions.do_upload_prompt(None, tenant, name="Knappval", data=tone_wav(1.5, 660))

    shared_vm = _save(VoicemailBox(tenant=tenant, number="800", name="Gemensam röstbrevlåda", kind="shared",
                                   pin="4242", email=f"vaxel@{slug}.example"))
    shared_vm.members.set([operator, *agents])
    for user in people:
        _save(VoicemailBox(tenant=tenant, number=user.extension, name=user.display_name, kind="personal",
                           owner=user, pin=f"{user.extension}9", email=user.email))

    def dest(kind, **target):
        return _save(Destination(tenant=tenant, kind=kind, **target))

    to_operator = dest("user", user=operator)
    to_shared_vm = dest("voicemail", voicemail_box=shared_vm)

    queues = {}
    for qname, ext, strategy, members in (
        ("Support", "200", Queue.Strategy.RING_ALL, agents),
        ("Sales", "201", Queue.Strategy.SEQUENTIAL, agents[:2]),
    ):
        queue = _save(Queue(tenant=tenant, name=qname, extension=ext, strategy=strategy,
                            overflow_destination=to_shared_vm, no_agents_destination=to_shared_vm,
                            callback_enabled=qname == "Support", max_wait_seconds=300))
        for priority, agent in enumerate(members):
            _save(QueueAgent(tenant=tenant, queue=queue, user=agent, priority=priority, logged_in=True))
        queues[qname] = queue

    menu = _save(IvrMenu(tenant=tenant, name="Huvudmeny", prompt=menu_prompt, timeout_seconds=5,
                         timeout_destination=to_operator, invalid_destination=to_operator))
    for digit, target in (("1", dest("queue", queue=queues["Support"])),
                          ("2", dest("queue", queue=queues["Sales"])),
                          ("0", to_operator)):
        _save(IvrOption(tenant=tenant, menu=menu, digit=digit, destination=target))

    schedule = _save(Schedule(tenant=tenant, name="Kontorstid"))
    for weekday in range(5):
        _save(WeeklyHours(tenant=tenant, schedule=schedule, weekday=weekday,
                          open_time=datetime.time(8), close_time=datetime.time(17)))
    year = timezone.localdate().year
    for hname, start, end in (("Julafton–annandag jul", (12, 24), (12, 26)), ("Nyårsdagen", (1, 1), (1, 1)),
                              ("Midsommarafton", (6, 19), (6, 19))):
        _save(SpecialDay(tenant=tenant, schedule=schedule, name=hname,
                         start_date=datetime.date(year, *start), end_date=datetime.date(year, *end)))
    _save(SpecialDay(tenant=tenant, schedule=schedule, name="Trettondagsafton", is_closed=False,
                     start_date=datetime.date(year, 1, 5), end_date=datetime.date(year, 1, 5),
                     open_time=datetime.time(8), close_time=datetime.time(13)))

    main = _save(Number(tenant=tenant, e164=f"{area}0000"[:12], kind=Number.Kind.MAIN, label="Växelnummer",
                        destination=dest("menu", menu=menu), schedule=schedule,
                        closed_destination=to_shared_vm, welcome_prompt=welcome))
    _save(Number(tenant=tenant, e164=f"{area}9999"[:12], kind=Number.Kind.MAIN, label="Support",
                 destination=dest("queue", queue=queues["Support"]), usable_as_caller_id=True))
    _save(Number(tenant=tenant, e164=f"{area}8888"[:12], kind=Number.Kind.RESERVED, label="Reserv",
                 forward_to=main.e164))
    for user in people:
        _save(Number(tenant=tenant, e164=user.direct_number, kind=Number.Kind.DIRECT, user=user,
                     destination=dest("user", user=user)))

    for pname, code, state, message, needs_end in PRESENCE:
        _save(PresenceStatus(tenant=tenant, name=pname, code=code, asterisk_state=state,
                             default_message=message, needs_end_time=needs_end, sort_order=code,
                             color=PRESENCE_COLOURS[pname],
                             forward_to=to_operator if pname == "Semester" else None))

    for user in people:
        office_profile = _save(ForwardingProfile(tenant=tenant, user=user, name="På kontoret", is_active=True))
        _save(ForwardingRule(tenant=tenant, profile=office_profile, line="fixed", action="ring",
                             no_answer_seconds=20, on_no_answer="voicemail", on_busy="voicemail",
                             on_unreachable="voicemail"))
        _save(ForwardingRule(tenant=tenant, profile=office_profile, line="mobile", action="ring",
                             no_answer_seconds=25, on_no_answer="voicemail", on_busy="voicemail",
                             on_unreachable="voicemail"))
        away = _save(ForwardingProfile(tenant=tenant, user=user, name="Borta"))
        _save(ForwardingRule(tenant=tenant, profile=away, line="fixed", action="forward",
                             forward_number=user.mobile_number, on_no_answer="voicemail",
                             on_busy="voicemail", on_unreachable="voicemail"))

    return DemoCompany(tenant=tenant, admin=admin, operator=operator, agents=agents, users=users,
                       queues=queues, menu=menu, main_number=main)


DEMO_COMPANIES = (("Demo AB", "demo", 1), ("Exempel AB", "exempel", 2))


def seed_demo(node: AsteriskNode | None = None) -> list[DemoCompany]:
    return [build_company(name, slug, index, node=node) for name, slug, index in DEMO_COMPANIES]
