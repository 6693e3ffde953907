"""The database, read once, as plain data the generators can render without another query.

One query per table (``values_list``, ordered by id), grouped per tenant in Python. Nothing here
depends on the clock or on the order rows were inserted in, so the same database always gives the
same snapshot, and so the same files.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Q

from pbx.validators import COUNTRY_CODE_RE as COUNTRY_CODE_RE
from pbx.validators import EMERGENCY_RE as EMERGENCY_RE


@dataclass(frozen=True, slots=True)
class Device:
    id: int
    user_id: int
    kind: str
    sip_username: str
    secret: str
    tenant_id: int

    @property
    def endpoint(self) -> str:
        return f"t{self.tenant_id}-{self.sip_username}"


@dataclass(slots=True)
class User:
    id: int
    tenant_id: int
    extension: str
    name: str
    is_admin: bool
    devices: list[Device] = field(default_factory=list)
    mailbox: str = ""  # the number of the person's own enabled voicemail box
    has_mobile_number: bool = False  # a mobile Number routes to this person
    is_agent_member: bool = False  # agent of at least one queue
    is_operator: bool = False  # answers waiting calls from the console

    @property
    def takes_calls_directly(self) -> bool:
        """Reached through ``t<id>-agents`` (all phones, transfer keys, no forwarding): queue agents
        (queue members) and console users (an operator who answers a waiting caller)."""
        return self.is_agent_member or self.is_operator or self.is_admin


@dataclass(frozen=True, slots=True)
class Destination:
    id: int
    kind: str
    user_id: int | None
    queue_id: int | None
    menu_id: int | None
    voicemail_box_id: int | None
    conference_id: int | None
    external_number: str


@dataclass(frozen=True, slots=True)
class Number:
    id: int
    tenant_id: int
    e164: str
    kind: str
    user_id: int | None
    destination_id: int | None
    schedule_id: int | None
    closed_destination_id: int | None
    welcome_prompt_id: int | None
    forward_to: str
    trunk_id: int | None


@dataclass(frozen=True, slots=True)
class Trunk:
    id: int
    tenant_id: int
    is_shared: bool
    host: str
    username: str
    password: str
    register: bool
    identify_match: str
    port: int | None = None

    @property
    def endpoint(self) -> str:
        return f"trunk-{self.id}" if self.is_shared else f"t{self.tenant_id}-trunk-{self.id}"


@dataclass(frozen=True, slots=True)
class Queue:
    id: int
    tenant_id: int
    extension: str
    strategy: str
    agent_ring_seconds: int
    retry_seconds: int
    wrapup_seconds: int
    max_wait_seconds: int
    max_callers: int
    announce_position: bool
    announce_wait_time: bool
    announce_every_seconds: int
    periodic_prompt_id: int | None
    periodic_prompt_seconds: int
    music_on_hold: str
    overflow_destination_id: int | None
    no_agents_destination_id: int | None
    callback_enabled: bool
    service_level_seconds: int

    @property
    def asterisk_name(self) -> str:
        return f"t{self.tenant_id}-q{self.id}"


@dataclass(slots=True)
class Menu:
    id: int
    tenant_id: int
    prompt_id: int | None
    timeout_seconds: int
    max_attempts: int
    invalid_prompt_id: int | None
    timeout_destination_id: int | None
    invalid_destination_id: int | None
    options: list[tuple[str, int]] = field(default_factory=list)  # (digit, destination id)


@dataclass(frozen=True, slots=True)
class SpecialDay:
    id: int
    start_date: datetime.date
    end_date: datetime.date
    is_closed: bool
    open_time: datetime.time | None
    close_time: datetime.time | None


@dataclass(slots=True)
class Schedule:
    id: int
    tenant_id: int
    weekly: list[tuple[int, datetime.time, datetime.time]] = field(default_factory=list)
    special_days: list[SpecialDay] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class VoicemailBox:
    id: int
    tenant_id: int
    number: str
    name: str
    kind: str
    owner_id: int | None
    pin: str
    email: str
    attach_audio: bool
    greeting_prompt_id: int | None


@dataclass(frozen=True, slots=True)
class Conference:
    id: int
    tenant_id: int
    extension: str
    pin: str
    max_members: int


@dataclass(frozen=True, slots=True)
class PresenceStatus:
    id: int
    code: int
    asterisk_state: str
    forward_to_id: int | None


@dataclass(slots=True)
class RecordingPolicy:
    """The structural part of a company's call-recording policy (the switches are AstDB's: recording.astdb).
    Only for a company whose recording service is on."""

    queue_policies: dict[int, str] = field(default_factory=dict)  # queue id → always / never
    approved: frozenset[str] = frozenset()  # approved direct numbers, E.164
    announcement: str = ""  # sound name of the "this call is recorded" prompt


@dataclass(slots=True)
class Tenant:
    id: int
    language: str
    time_zone: str
    country_code: str  # "" when the company's is not a valid calling code: no national forms then
    emergency_numbers: tuple[str, ...]
    users: dict[int, User] = field(default_factory=dict)
    destinations: dict[int, Destination] = field(default_factory=dict)
    numbers: list[Number] = field(default_factory=list)
    trunks: list[Trunk] = field(default_factory=list)  # its own, not shared
    queues: dict[int, Queue] = field(default_factory=dict)
    prompts: dict[int, str] = field(default_factory=dict)  # id → sound name
    menus: dict[int, Menu] = field(default_factory=dict)
    schedules: dict[int, Schedule] = field(default_factory=dict)
    voicemail_boxes: dict[int, VoicemailBox] = field(default_factory=dict)
    conferences: dict[int, Conference] = field(default_factory=dict)
    statuses: list[PresenceStatus] = field(default_factory=list)
    recording: RecordingPolicy | None = None

    @property
    def prefix(self) -> str:
        return f"t{self.id}"

    @property
    def main_number(self) -> str:
        """The number shown when a person chose none: the company's first main number."""
        for number in self.numbers:
            if number.kind == "main":
                return number.e164
        return ""


@dataclass(slots=True)
class Snapshot:
    tenants: list[Tenant]
    shared_trunks: list[Trunk]
    # (tenant id, country code, E.164) of every number arriving on shared trunks, when it was
    # loaded for all companies although only some are in ``tenants`` (render_update).
    inbound: list[tuple[int, str, str]] | None = None
    # Companies held at the configuration Asterisk runs (their part failed to render or the check):
    # their ``[from-trunk]`` entries as running, {tenant id: [(dialled form, E.164)]} (confgen.isolated).
    held_inbound: dict[int, list[tuple[str, str]]] = field(default_factory=dict)

    def shared_inbound(self) -> list[tuple[int, str, str]]:
        """The numbers ``[from-trunk]`` lists: those with no trunk or a shared one."""
        if self.inbound is not None:
            return self.inbound
        shared = {t.id for t in self.shared_trunks}
        return [
            (tenant.id, tenant.country_code, number.e164)
            for tenant in self.tenants for number in tenant.numbers
            if number.trunk_id is None or number.trunk_id in shared
        ]

    def tenant(self, tenant_id: int) -> Tenant | None:
        return next((t for t in self.tenants if t.id == tenant_id), None)

    def outbound_trunk(self, tenant: Tenant) -> Trunk | None:
        """A company calls out through its own first trunk, else through the first shared one."""
        if tenant.trunks:
            return tenant.trunks[0]
        return self.shared_trunks[0] if self.shared_trunks else None


def load_snapshot(*, tenant_ids: Iterable[int] | None = None, node=None, all_inbound: bool = False) -> Snapshot:
    """Read everything the generated files need, in one query per table.

    ``tenant_ids`` limits the snapshot to some companies (the ``--tenant`` option); ``node`` to the
    companies an Asterisk node serves (companies without a node belong to the default node).
    ``all_inbound`` also loads the numbers of the node's other companies for ``[from-trunk]``.
    Inactive companies, people, disabled devices and trunks are left out.
    """
    from pbx import models as m
    from pbx.numbering import is_usable

    tenant_q = Q(is_active=True)
    if tenant_ids is not None:
        tenant_q &= Q(id__in=list(tenant_ids))
    if node is not None:
        tenant_q &= (Q(node=node) | Q(node__isnull=True)) if node.is_default else Q(node=node)
    # The same condition for the rows of every table, as a join (no list of 1,000 ids to bind).
    row_q = Q(tenant__is_active=True)
    if tenant_ids is not None:
        row_q &= Q(tenant_id__in=list(tenant_ids))
    if node is not None:
        row_q &= (Q(tenant__node=node) | Q(tenant__node__isnull=True)) if node.is_default else Q(tenant__node=node)
    tenants: dict[int, Tenant] = {}
    for tid, language, tz, cc, emergency in (
        m.Tenant.objects.filter(tenant_q).order_by("id")
        .values_list("id", "language", "time_zone", "country_code", "emergency_numbers")
    ):
        # Free text without a validator: only what is certainly a number is kept (else inert).
        numbers = tuple(sorted({n.strip() for n in emergency.split(",") if EMERGENCY_RE.match(n.strip())}))
        tenants[tid] = Tenant(tid, language, tz, cc if COUNTRY_CODE_RE.match(cc or "") else "", numbers)

    def rows(model, *fields, **filters):
        return model.objects.filter(row_q, **filters).order_by("id").values_list(*fields)

    for uid, tid, ext, first, last, admin, operator in rows(
        m.User, "id", "tenant_id", "extension", "first_name", "last_name", "is_company_admin", "is_operator",
        is_active=True
    ):
        tenants[tid].users[uid] = User(uid, tid, ext, f"{first} {last}".strip(), admin, is_operator=operator)

    for did, tid, uid, kind, sip, secret in rows(
        m.Device, "id", "tenant_id", "user_id", "kind", "sip_username", "secret", is_enabled=True
    ):
        user = tenants[tid].users.get(uid)
        if user is not None:
            user.devices.append(Device(did, uid, kind, sip, secret, tid))

    for row in rows(
        m.VoicemailBox, "id", "tenant_id", "number", "name", "kind", "owner_id", "pin", "email",
        "attach_audio", "greeting_id", is_enabled=True,
    ):
        box = VoicemailBox(*row)
        tenant = tenants[box.tenant_id]
        tenant.voicemail_boxes[box.id] = box
        owner = tenant.users.get(box.owner_id) if box.kind == "personal" else None
        if owner is not None and not owner.mailbox:
            owner.mailbox = box.number

    for row in rows(
        m.Destination, "id", "tenant_id", "kind", "user_id", "queue_id", "menu_id", "voicemail_box_id",
        "conference_id", "external_number",
    ):
        did, tid, *rest = row
        tenants[tid].destinations[did] = Destination(did, *rest)

    for row in rows(
        m.SipTrunk, "id", "tenant_id", "is_shared", "host", "username", "password", "register", "identify_match",
        "port", is_enabled=True, is_shared=False,
    ):
        tenants[row[1]].trunks.append(Trunk(*row))
    shared = [
        Trunk(*row)
        for row in m.SipTrunk.objects.filter(is_enabled=True, is_shared=True).order_by("id").values_list(
            "id", "tenant_id", "is_shared", "host", "username", "password", "register", "identify_match", "port"
        )
    ]

    # Numbers the operator did not assign the company (and unverified mobile numbers) stay out of
    # the dialplan and the caller ID altogether, whatever rows the company holds.
    ranges: dict[int, list[tuple[str, str]]] = {}
    for tid, first, last in rows(m.NumberAssignment, "tenant_id", "first", "last"):
        ranges.setdefault(tid, []).append((first, last or first))
    for *row, verified in rows(
        m.Number, "id", "tenant_id", "e164", "kind", "user_id", "destination_id", "schedule_id",
        "closed_destination_id", "welcome_prompt_id", "forward_to", "trunk_id", "is_verified",
    ):
        number = Number(*row)
        if not is_usable(number.kind, number.e164, verified, ranges.get(number.tenant_id, [])):
            continue
        tenant = tenants[number.tenant_id]
        tenant.numbers.append(number)
        dest = tenant.destinations.get(number.destination_id) if number.destination_id else None
        if number.kind == "mobile" and dest is not None and dest.kind == "user" and dest.user_id in tenant.users:
            tenant.users[dest.user_id].has_mobile_number = True

    for pid, tid, sound in rows(m.Prompt, "id", "tenant_id", "sound_name"):
        if sound:
            tenants[tid].prompts[pid] = sound

    for row in rows(
        m.Queue, "id", "tenant_id", "extension", "strategy", "agent_ring_seconds", "retry_seconds",
        "wrapup_seconds", "max_wait_seconds", "max_callers", "announce_position", "announce_wait_time",
        "announce_every_seconds", "periodic_prompt_id", "periodic_prompt_seconds", "music_on_hold",
        "overflow_destination_id", "no_agents_destination_id", "callback_enabled", "service_level_seconds",
    ):
        queue = Queue(*row)
        tenants[queue.tenant_id].queues[queue.id] = queue
    for tid, uid in rows(m.QueueAgent, "tenant_id", "user_id").distinct():
        user = tenants[tid].users.get(uid)
        if user is not None:
            user.is_agent_member = True

    for row in rows(
        m.IvrMenu, "id", "tenant_id", "prompt_id", "timeout_seconds", "max_attempts", "invalid_prompt_id",
        "timeout_destination_id", "invalid_destination_id",
    ):
        menu = Menu(*row)
        tenants[menu.tenant_id].menus[menu.id] = menu
    for tid, menu_id, digit, dest in rows(m.IvrOption, "tenant_id", "menu_id", "digit", "destination_id"):
        tenants[tid].menus[menu_id].options.append((digit, dest))
    for menu in (menu for tenant in tenants.values() for menu in tenant.menus.values()):
        menu.options.sort(key=_digit_order)

    for sid, tid in rows(m.Schedule, "id", "tenant_id"):
        tenants[tid].schedules[sid] = Schedule(sid, tid)
    for tid, sid, weekday, opens, closes in rows(
        m.WeeklyHours, "tenant_id", "schedule_id", "weekday", "open_time", "close_time"
    ):
        tenants[tid].schedules[sid].weekly.append((weekday, opens, closes))
    for schedule in (s for tenant in tenants.values() for s in tenant.schedules.values()):
        schedule.weekly.sort()
    for row in rows(
        m.SpecialDay, "tenant_id", "schedule_id", "id", "start_date", "end_date", "is_closed", "open_time", "close_time"
    ):
        tid, sid, *rest = row
        tenants[tid].schedules[sid].special_days.append(SpecialDay(*rest))

    for row in rows(m.Conference, "id", "tenant_id", "extension", "pin", "max_members"):
        conference = Conference(*row)
        tenants[conference.tenant_id].conferences[conference.id] = conference

    for sid, tid, code, state, forward in rows(
        m.PresenceStatus, "id", "tenant_id", "code", "asterisk_state", "forward_to_id"
    ):
        tenants[tid].statuses.append(PresenceStatus(sid, code, state, forward))
    for tenant in tenants.values():
        tenant.statuses.sort(key=lambda s: (s.code, s.id))

    _load_recording(tenants, rows)

    snapshot = Snapshot(tenants=list(tenants.values()), shared_trunks=shared)
    if all_inbound:
        node_q = Q(tenant__is_active=True)
        if node is not None:
            node_q &= (Q(tenant__node=node) | Q(tenant__node__isnull=True)) if node.is_default else Q(tenant__node=node)
        shared_ids = {t.id for t in shared}
        node_ranges: dict[int, list[tuple[str, str]]] = {}
        for tid, first, last in m.NumberAssignment.objects.filter(node_q).values_list("tenant_id", "first", "last"):
            node_ranges.setdefault(tid, []).append((first, last or first))
        # The trunk is tested here, not in SQL: with "trunk_id IS NULL" in the query PostgreSQL may (with
        # the row estimates of freshly loaded tables) rebuild a bitmap of every such number once per
        # company, 0.12 s on 1,000 companies instead of a few ms; this plain join has no such plan.
        snapshot.inbound = [
            (tid, cc if COUNTRY_CODE_RE.match(cc or "") else "", e164)
            for tid, cc, e164, kind, verified, trunk_id in m.Number.objects.filter(node_q)
            .order_by("tenant_id", "id")
            .values_list("tenant_id", "tenant__country_code", "e164", "kind", "is_verified", "trunk_id")
            if (trunk_id is None or trunk_id in shared_ids) and is_usable(kind, e164, verified, node_ranges.get(tid, []))
        ]
    return snapshot


def _load_recording(tenants: dict[int, Tenant], rows) -> None:
    from recording.models import ApprovedNumber, QueuePolicy, RecordingSettings

    for tid, announcement in rows(RecordingSettings, "tenant_id", "announcement_id", enabled=True):
        tenants[tid].recording = RecordingPolicy(announcement=tenants[tid].prompts.get(announcement, ""))
    if not any(t.recording for t in tenants.values()):
        return
    for tid, queue_id, policy in rows(QueuePolicy, "tenant_id", "queue_id", "policy", policy__in=("always", "never")):
        if tenants[tid].recording is not None:
            tenants[tid].recording.queue_policies[queue_id] = policy
    approved: dict[int, set[str]] = {}
    for tid, e164 in rows(ApprovedNumber, "tenant_id", "number__e164", active=True):
        approved.setdefault(tid, set()).add(e164)
    for tid, numbers in approved.items():
        if tenants[tid].recording is not None:
            tenants[tid].recording.approved = frozenset(numbers)


def _digit_order(option: tuple[str, int]) -> tuple[int, str]:
    digit = option[0]
    return (0 if digit.isdigit() else 1, digit)
