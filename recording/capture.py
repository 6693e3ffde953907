"""Indexing what Asterisk records: the ``Recording`` rows, from the dialplan's events to the finished call.

- ``PbxRecording`` (``pbx-rec-answer`` started MixMonitor on the answering channel): a row in status
  ``recording``, with the person, the other party, the DDI, the queue and the person's department, office and
  cost centre as they are now.
- ``PbxRecordingRefused`` (every licence in use, for an automatic recording or a listen-in): a ``LicenceRefusal``
  row; a listen-in's listener is told in the console (``listen_in.refused``).
- Recording on demand (``*9``, the console, the API: ``pbx.actions.calls.do_record_call``): the action, once
  Asterisk took the licence and started MixMonitor, writes the row with :func:`start_on_demand` (reason
  ``on_demand``, who asked), the same two files as an automatic one.
- ``MixMonitorMute`` (pause/resume, wherever the recording runs): the row's ``paused`` intervals
  (:func:`on_recording_paused`); ``MixMonitorStop`` (``StopMixMonitor``: *9 again, the console's stop): the
  row's end (:func:`on_recording_stopped`).
- The call ended (the bridge wrote its call-log row, ``close_call_recordings``): the call's open recordings get
  their end (their own channel's, when that person left the call earlier) and the call-log link, turn ``raw``
  and the worker's ``process_recording`` is queued on commit.

Headers are only text: the company comes from the event (which the bridge has already matched against the
channel's own company), every id is looked up inside that company, and the file name must be exactly what the
dialplan writes under the company's own directory.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from django.db import IntegrityError, transaction

from .models import LicenceRefusal, Recording

log = logging.getLogger(__name__)

# ${ASTSPOOLDIR}/monitor/pbx/t<T>/<yyyymmdd>/<Uniqueid>-<epoch> (pbx-rec-answer); MixMonitor adds -person.wav
# and -other.wav.
FILE_RE = re.compile(r"\A(/[A-Za-z0-9_./-]*)?/monitor/pbx/t([0-9]+)/[0-9]{8}/([0-9]{1,20}\.[0-9]{1,10})-[0-9]{1,12}\Z")
DIRECTIONS = {"i": Recording.Direction.IN, "o": Recording.Direction.OUT, "n": Recording.Direction.INTERNAL}
REASONS = {r.value for r in Recording.Reason}


def when(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC)


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def on_recording_started(event) -> None:
    """The dialplan's ``PbxRecording``: the row of an automatic recording (idempotent per file)."""
    from pbx.asterisk.astdb_sync import node_for_tenant
    from pbx.models import Queue, User

    values, tenant_id = event.values, event.tenant_id
    base = values.get("File", "")
    match = FILE_RE.fullmatch(base)
    if match is None or int(match[2]) != tenant_id or ".." in base:
        log.warning("company %s: PbxRecording with a file name the dialplan does not write: %r", tenant_id, base)
        return None
    reason = values.get("Reason", "")
    if reason not in REASONS:
        return None
    user = User.objects.filter(tenant_id=tenant_id, pk=event.user_id).first() if event.user_id else None
    queue_id = values.get("Queue", "")
    queue = Queue.objects.filter(tenant_id=tenant_id, pk=int(queue_id)).first() if queue_id.isdigit() else None
    direction = DIRECTIONS.get(values.get("Kind", ""), Recording.Direction.IN)
    other = _digits(values.get("Other", ""))
    if other and direction != Recording.Direction.INTERNAL:
        other = f"+{other}"
    node = node_for_tenant(tenant_id)
    try:
        with transaction.atomic():
            Recording.objects.get_or_create(
                node=node, key=base.rsplit("/", 1)[1],
                defaults={
                    "tenant_id": tenant_id, "linkedid": event.call_id[:64], "uniqueid": match[3],
                    "raw_person_path": f"{base}-person.wav", "raw_other_path": f"{base}-other.wav",
                    "started_at": when(event.at), "user": user, "extension": user.extension if user else "",
                    "other_number": other[:40], "dialled_number": "+" + _digits(values.get("Ddi", "")) if
                    _digits(values.get("Ddi", "")) else "", "direction": direction, "queue": queue,
                    "department_id": user.department_id if user else None,
                    "office_id": user.office_id if user else None,
                    "cost_centre_id": user.cost_centre_id if user else None,
                    "reason": reason,
                },
            )
    except IntegrityError:  # the same event twice at once: the first row stands
        pass
    return None


def on_recording_refused(event) -> None:
    """The dialplan's ``PbxRecordingRefused``: the company's licences were all in use."""
    from pbx.events import send_event_on_commit
    from pbx.models import User

    values, tenant_id = event.values, event.tenant_id
    user = User.objects.filter(tenant_id=tenant_id, pk=event.user_id).first() if event.user_id else None
    in_use, limit = _digits(values.get("InUse", "")), _digits(values.get("Limit", ""))
    kind = values.get("Kind", "")
    kind = kind if kind in LicenceRefusal.Kind.values else LicenceRefusal.Kind.AUTOMATIC
    with transaction.atomic():
        refused(tenant_id, kind, at=when(event.at), linkedid=event.call_id, channel=event.channel, user=user,
                in_use=int(in_use or 0), limit=int(limit or 0))
        if kind == LicenceRefusal.Kind.LISTEN_IN and user is not None:
            # Only the listener learns of it (their phone said so too); the call listened to never does.
            send_event_on_commit(tenant_id, {"type": "listen_in.refused", "in_use": int(in_use or 0),
                                             "limit": int(limit or 0)}, user_ids=[user.pk])
    log.info("company %s: %s refused, all %s licences in use", tenant_id, kind, limit)
    return None


def refused(tenant_id: int, kind: str, *, at: dt.datetime, linkedid: str = "", channel: str = "", user=None,
            in_use: int = 0, limit: int = 0) -> LicenceRefusal:
    """The refusal row the recording web lists for super users (any of the pool's three kinds)."""
    from pbx.asterisk.astdb_sync import node_for_tenant

    return LicenceRefusal.objects.create(
        tenant_id=tenant_id, node=node_for_tenant(tenant_id), at=at, kind=kind, linkedid=linkedid[:64],
        channel=channel[:120], user=user, in_use=in_use, limit=limit)


def on_demand_base(tenant_id: int, uniqueid: str, at: dt.datetime) -> str:
    """Where a recording on demand writes, relative to Asterisk's monitor directory (MixMonitor puts a relative
    name there and makes the directories): the automatic recordings' layout, ``pbx/t<T>/<yyyymmdd UTC>/
    <Uniqueid>-<epoch>``, plus ``-person.wav`` and ``-other.wav``."""
    if not re.fullmatch(r"[0-9]{1,20}\.[0-9]{1,10}", uniqueid or ""):
        raise ValueError(f"not a channel's Uniqueid: {uniqueid!r}")
    return f"pbx/t{int(tenant_id)}/{at:%Y%m%d}/{uniqueid}-{int(at.timestamp())}"


def start_on_demand(*, tenant_id: int, base: str, linkedid: str, at: dt.datetime, user, requested_by,
                    other_number: str, direction: str, queue_id: int | None, dialled_number: str) -> Recording:
    """The row of a recording started on demand (MixMonitor already runs on the person's channel)."""
    from pbx.asterisk.astdb_sync import node_for_tenant
    from pbx.models import Queue

    queue = Queue.objects.filter(tenant_id=tenant_id, pk=queue_id).first() if queue_id else None
    key = base.rsplit("/", 1)[1]
    recording, _created = Recording.objects.get_or_create(
        node=node_for_tenant(tenant_id), key=key,
        defaults={
            "tenant_id": tenant_id, "linkedid": linkedid[:64], "uniqueid": key.rsplit("-", 1)[0],
            "raw_person_path": f"{base}-person.wav", "raw_other_path": f"{base}-other.wav", "started_at": at,
            "user": user, "extension": user.extension if user else "", "other_number": other_number[:40],
            "dialled_number": dialled_number[:40], "direction": direction if direction in DIRECTIONS.values()
            else Recording.Direction.IN, "queue": queue,
            "department_id": user.department_id if user else None, "office_id": user.office_id if user else None,
            "cost_centre_id": user.cost_centre_id if user else None,
            "reason": Recording.Reason.ON_DEMAND, "requested_by": requested_by,
        },
    )
    return recording


def _open_rows(event):
    """The recordings running on the event's channel: (company, Uniqueid, still open)."""
    if event.tenant_id is None or not event.channel_id:
        return Recording.objects.none()
    return Recording.objects.filter(tenant_id=event.tenant_id, uniqueid=event.channel_id,
                                    status=Recording.Status.RECORDING)


def on_recording_paused(event) -> None:
    """``MixMonitorMute`` as the bridge saw it (``RecordingPaused``): a pause starts, or the open one ends."""
    with transaction.atomic():
        for row in _open_rows(event).select_for_update().only("pk", "started_at", "paused"):
            offset = round(max(0.0, event.at - row.started_at.timestamp()), 3)
            intervals = [list(i) for i in row.paused or []]
            still_open = bool(intervals) and intervals[-1][1] is None
            if event.paused and not still_open:
                intervals.append([offset, None])
            elif not event.paused and still_open:
                intervals[-1][1] = max(offset, intervals[-1][0])
            else:
                continue  # Asterisk repeated itself (paused twice): nothing changes
            Recording.objects.filter(pk=row.pk).update(paused=intervals)


def on_recording_stopped(event) -> None:
    """``MixMonitorStop`` (StopMixMonitor: the recording was stopped before the call ended): its end. The row
    turns ``raw`` with the call's end (close_call_recordings), when the call-log row it belongs to exists."""
    _open_rows(event).filter(ended_at__isnull=True).update(ended_at=when(event.at))


def close_call_recordings(node_id: int, call_id: str, call, ended_at: dt.datetime | None,
                          channel_ends: dict[str, dt.datetime] | None = None) -> list[int]:
    """The call is over: link its recordings to the call-log row; the ones still open end, turn ``raw`` and go to
    the worker (on commit). A recording ends where it was stopped (MixMonitorStop: the row has its end already),
    else when its channel stopped recording (``channel_ends``, by the channel's Uniqueid: the person hung up or
    transferred the call on), else with the call; a pause still open ends with it. Returns the ids queued."""
    rows = Recording.objects.filter(node_id=node_id, linkedid=call_id, tenant_id=call.tenant_id)
    rows.filter(call__isnull=True).update(call=call)
    ready = list(rows.filter(status=Recording.Status.RECORDING).values_list(
        "pk", "uniqueid", "started_at", "ended_at", "paused", "duration_s"))
    if not ready:
        return []
    ends = channel_ends or {}
    for pk, uniqueid, started_at, stopped_at, paused, duration_s in ready:
        end = stopped_at or ends.get(uniqueid, ended_at)
        if end is not None and end < started_at:
            end = ended_at  # a channel's end from before this recording began (it started again since)
        fields: dict = {"status": Recording.Status.RAW, "ended_at": end}
        if end is not None:
            duration = max(0.0, (end - started_at).total_seconds())
            if duration_s is None:
                fields["duration_s"] = duration
            intervals = [list(i) for i in paused or []]
            if intervals and intervals[-1][1] is None:
                intervals[-1][1] = max(intervals[-1][0], round(duration, 3))
                fields["paused"] = intervals
        Recording.objects.filter(pk=pk).update(**fields)
    ids = [row[0] for row in ready]
    transaction.on_commit(lambda: _enqueue(ids))
    return ids


def _enqueue(ids: list[int]) -> None:
    from .tasks import process_recording

    for recording_id in ids:
        try:
            process_recording(recording_id)
        except Exception:  # the row stays "raw" (nothing is lost): it can be queued again
            log.exception("recording %s: could not queue its processing", recording_id)
