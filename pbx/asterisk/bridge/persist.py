"""Writing finished calls: the call log and the queue log, idempotent per node and Asterisk id."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction

from pbx.models import AsteriskNode, Destination, Queue, User
from stats.models import CallLog, QueueEvent

from .domain import CallRecord

log = logging.getLogger(__name__)

def when(ts: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC) if ts is not None else None


def node_id(name: str) -> int | None:
    return AsteriskNode.objects.filter(name=name).values_list("pk", flat=True).first()


def forward_target(tenant_id: int, to: str) -> str:
    """Where a forward went, for people: a number as dialled, a status's destination (``dest:<id>``, the
    dialplan's id) by its name, looked up in the call's own company only."""
    kind, sep, ident = to.partition(":")
    if not sep:
        return to
    if kind == "dest" and ident.isdigit():
        dest = Destination.objects.filter(tenant_id=tenant_id, pk=int(ident)).select_related(
            "user", "queue", "menu", "voicemail_box", "conference").first()
        if dest is not None:
            return dest.external_number if dest.kind == "external" else str(dest)
    return ""


def persist_call(record: CallRecord) -> CallLog | None:
    """Write (or rewrite) one finished call and its queue log rows; None when there is nothing to keep."""
    if not record.loggable or record.tenant_id is None:
        return None
    node = node_id(record.node)
    if node is None:
        log.warning("call %s: no Asterisk node named %r, not logged", record.call_id, record.node)
        return None
    tenant_id = record.tenant_id
    # Only this company's people and queues: a stray id must not even reach the database's check.
    wanted = {*record.user_ids, record.caller_user_id, record.answered_user_id, record.forwarded_from_user_id,
              record.voicemail_user_id, *(row.agent_user_id for row in record.queue_log)} - {None}
    users = set(User.objects.filter(tenant_id=tenant_id, pk__in=wanted).values_list("pk", flat=True)) if wanted else set()
    queue_ids = {record.queue_id, *(row.queue_id for row in record.queue_log)} - {None}
    queues = set(Queue.objects.filter(tenant_id=tenant_id, pk__in=queue_ids).values_list("pk", flat=True)) if queue_ids else set()

    def user(pk: int | None) -> int | None:
        return pk if pk in users else None

    def queue(pk: int | None) -> int | None:
        return pk if pk in queues else None

    to_number = record.to_number
    forwarded_from = user(record.forwarded_from_user_id)
    # The person the caller wanted, not where their status or profile sent the call ("s", a queue...), nor
    # the number they dialled when it ended in that person's voicemail.
    wanted_person = forwarded_from
    if wanted_person is None and record.answered_user_id is None:
        wanted_person = user(record.voicemail_user_id)
    if wanted_person is not None:
        to_number = User.objects.filter(pk=wanted_person).values_list("extension", flat=True).first() or to_number

    with transaction.atomic():
        entry, _created = CallLog.objects.update_or_create(
            node_id=node, linkedid=record.call_id,
            defaults={
                "tenant_id": tenant_id,
                "started_at": when(record.started_at),
                "answered_at": when(record.answered_at),
                "ended_at": when(record.ended_at),
                "direction": record.direction,
                "from_number": record.from_number[:40],
                "from_name": record.from_name[:80],
                "to_number": to_number[:40],
                "dialled_number": record.dialled_number[:40],
                "caller_id": user(record.caller_user_id),
                "answered_by_id": user(record.answered_user_id),
                "queue_id": queue(record.queue_id),
                "wait_s": record.wait_s,
                "talk_s": record.talk_s,
                "result": record.result,
                "hangup_cause": record.cause,
                "transfers": record.transfers,
                "recorded": record.recorded,
                "complete": record.complete,
                "queue_result": record.queue_result,
                "forwarded_from_id": forwarded_from,
                "forwarded_to": forward_target(tenant_id, record.forwarded_to)[:80],
                "forward_reason": record.forward_reason,
                "voicemail_box": record.voicemail_box[:20],
            },
        )
        entry.users.set([pk for pk in record.user_ids if pk in users])
        if record.queue_log:
            rows = [
                QueueEvent(
                    tenant_id=tenant_id, node_id=node, key=row.key, call=entry, linkedid=record.call_id,
                    uniqueid=row.uniqueid, queue_id=queue(row.queue_id), queue_name=row.queue[:80], kind=row.kind,
                    at=when(row.at), position=row.position, wait_s=row.wait_s, talk_s=row.talk_s,
                    agent_id=user(row.agent_user_id), agent_interface=row.agent[:120],
                )
                for row in record.queue_log
            ]
            QueueEvent.objects.bulk_create(
                rows, update_conflicts=True, unique_fields=["node", "key"],
                update_fields=["call", "queue", "queue_name", "kind", "at", "position", "wait_s", "talk_s", "agent",
                               "agent_interface", "linkedid", "uniqueid"],
            )
        # The call's recordings: linked to this row; the ones still open end here and go to the worker.
        from recording.capture import close_call_recordings

        close_call_recordings(node, record.call_id, entry, when(record.ended_at),
                              {uid: when(at) for uid, at in record.recording_ends.items()})
    return entry


def update_statistics(node: str, events: list) -> None:
    """The statistics' intervals after a batch (``stats.aggregate``): finished calls rebuild the intervals they
    touched (once per interval); agents' log-ins, log-outs and pauses are written to the agent log."""
    from stats import aggregate

    from . import domain as d

    touched: dict[int, set[dt.datetime]] = {}
    node_pk: int | None = None
    for event in events:
        if isinstance(event, d.CallEnded) and event.record is not None and event.record.loggable:
            record = event.record
            if record.tenant_id is None:
                continue
            instants = touched.setdefault(record.tenant_id, set())
            instants.add(when(record.started_at))
            instants.update(when(row.at) for row in record.queue_log if row.kind in ("enter", "noagents", "closed",
                                                                                      "overflow"))
        elif isinstance(event, (d.AgentLoggedIn, d.AgentLoggedOut, d.AgentPaused)):
            if event.tenant_id is None or event.user_id is None:
                continue
            if isinstance(event, d.AgentLoggedIn):
                kind = "login"
            elif isinstance(event, d.AgentLoggedOut):
                kind = "logout"
            else:
                kind = "pause" if event.paused else "unpause"
            if node_pk is None:
                node_pk = node_id(node)
            queue = event.queue_id if Queue.objects.filter(tenant_id=event.tenant_id, pk=event.queue_id).exists() else None
            if not User.objects.filter(tenant_id=event.tenant_id, pk=event.user_id).exists():
                continue  # only this company's people: a stray id must not reach the agent log
            aggregate.record_agent_event(event.tenant_id, node_pk, event.user_id, queue, event.queue, kind,
                                         event.reason if kind == "pause" else "", when(event.at))
    if touched:
        aggregate.refresh_calls(touched)
