"""queues.conf: one queue per Queue, ``t<tenant>-q<id>``. No members here.

Members are dynamic: the orchestrator adds them through AMI (QueueAdd) from the database's
``QueueAgent.logged_in`` state, as ``Local/<user id>@t<tenant>-agents/n`` (every device of the
person rings) with their hint as state interface; see :func:`queue_member`. A file reload never
drops them (app_queue keeps dynamic members across ``module reload app_queue.so``).
"""

from __future__ import annotations

import sys

from . import writer as w
from .snapshot import Snapshot, Tenant


def moh_class(tenant_id: int, value: str) -> str:
    """A queue's music class as Asterisk knows it: ``default``, or the company's own class."""
    slug = "".join(c for c in (value or "").lower() if c.isascii() and (c.isalnum() or c == "-")).strip("-")[:30]
    return "default" if slug in ("", "default") else f"t{tenant_id}-{slug}"


def queue_member(tenant_id: int, user_id: int, extension: str = "") -> dict[str, str]:
    """The QueueAdd fields for a logged-in agent (used by the code that writes AMI).

    MemberName is the user id: the base queues.conf logs agents by member name
    (log_membername_as_agent), which stays the same when a person's devices change."""
    member = {"Interface": f"Local/{user_id}@t{tenant_id}-agents/n", "MemberName": str(user_id)}
    if extension:
        member["StateInterface"] = f"hint:{extension}@t{tenant_id}-hints"
    return member


PER_TENANT = True


def generate(snapshot: Snapshot) -> str:
    return w.generate_file(sys.modules[__name__], snapshot)


def tenant_part(snapshot: Snapshot, tenant: Tenant) -> str:
    out = w.ConfWriter(None)
    for queue in tenant.queues.values():
        out.section(w.name(queue.asterisk_name, f"queue {queue.id}"))
        out.raw(f"strategy = {w.name(queue.strategy, f'strategy of queue {queue.id}')}")
        out.raw(f"timeout = {queue.agent_ring_seconds}")
        out.raw(f"retry = {queue.retry_seconds}")
        out.raw(f"wrapuptime = {queue.wrapup_seconds}")
        out.raw(f"servicelevel = {queue.service_level_seconds}")
        out.raw(f"maxlen = {queue.max_callers}")
        announce = queue.announce_position or queue.announce_wait_time
        out.raw(f"announce-frequency = {queue.announce_every_seconds if announce else 0}")
        out.raw(f"announce-position = {w.bool_value(queue.announce_position)}")
        out.raw(f"announce-holdtime = {w.bool_value(queue.announce_wait_time)}")
        periodic = tenant.prompts.get(queue.periodic_prompt_id) if queue.periodic_prompt_id else None
        if periodic:
            out.raw(f"periodic-announce = {w.sound(periodic, f'prompt {queue.periodic_prompt_id}')}")
            out.raw(f"periodic-announce-frequency = {queue.periodic_prompt_seconds}")
        out.raw(f"musicclass = {moh_class(tenant.id, queue.music_on_hold)}")
        # Empty (no member logged in) or only unreachable members: the caller goes to the
        # "no agents" destination (QUEUESTATUS JOINEMPTY/LEAVEEMPTY in the dialplan).
        out.raw("joinempty = unavailable,invalid")
        out.raw("leavewhenempty = unavailable,invalid")
        out.raw("ringinuse = no")
        out.raw("setinterfacevar = yes")
        out.raw("setqueueentryvar = yes")
        if queue.callback_enabled:
            out.raw(f"context = {tenant.prefix}-qexit-{queue.id}")
    return out.text()
