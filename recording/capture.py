"""Indexing what Asterisk records: the ``Recording`` rows, from the dialplan's events to the finished call.

- ``PbxRecording`` (``pbx-rec-answer`` started MixMonitor on the answering channel): a row in status
  ``recording``, with the person, the other party, the DDI, the queue and the person's department, office and
  cost centre as they are now.
- ``PbxRecordingRefused`` (every licence in use): a ``LicenceRefusal`` row.
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
    from pbx.asterisk.astdb_sync import node_for_tenant
    from pbx.models import User

    values, tenant_id = event.values, event.tenant_id
    user = User.objects.filter(tenant_id=tenant_id, pk=event.user_id).first() if event.user_id else None
    in_use, limit = _digits(values.get("InUse", "")), _digits(values.get("Limit", ""))
    kind = values.get("Kind", "")
    LicenceRefusal.objects.create(
        tenant_id=tenant_id, node=node_for_tenant(tenant_id), at=when(event.at),
        kind=kind if kind in LicenceRefusal.Kind.values else LicenceRefusal.Kind.AUTOMATIC,
        linkedid=event.call_id[:64], channel=event.channel[:120], user=user,
        in_use=int(in_use or 0), limit=int(limit or 0),
    )
    log.info("company %s: recording refused, all %s licences in use", tenant_id, limit)
    return None


def close_call_recordings(node_id: int, call_id: str, call, ended_at: dt.datetime | None,
                          channel_ends: dict[str, dt.datetime] | None = None) -> list[int]:
    """The call is over: link its recordings to the call-log row; the ones still open end, turn ``raw`` and go to
    the worker (on commit). A recording ends when its channel stopped recording (``channel_ends``, by the
    channel's Uniqueid: the person hung up or transferred the call on), else with the call. Returns the ids
    queued."""
    rows = Recording.objects.filter(node_id=node_id, linkedid=call_id, tenant_id=call.tenant_id)
    rows.filter(call__isnull=True).update(call=call)
    ready = list(rows.filter(status=Recording.Status.RECORDING).values_list("pk", "uniqueid", "started_at"))
    if not ready:
        return []
    ends = channel_ends or {}
    for pk, uniqueid, started_at in ready:
        end = ends.get(uniqueid, ended_at)
        if end is not None and end < started_at:
            end = ended_at  # a channel's end from before this recording began (it started again since)
        Recording.objects.filter(pk=pk).update(status=Recording.Status.RAW, ended_at=end)
        if end is not None:
            Recording.objects.filter(pk=pk, duration_s__isnull=True).update(
                duration_s=max(0.0, (end - started_at).total_seconds()))
    ids = [pk for pk, _uniqueid, _started in ready]
    transaction.on_commit(lambda: _enqueue(ids))
    return ids


def _enqueue(ids: list[int]) -> None:
    from .tasks import process_recording

    for recording_id in ids:
        try:
            process_recording(recording_id)
        except Exception:  # the row stays "raw" (nothing is lost): it can be queued again
            log.exception("recording %s: could not queue its processing", recording_id)
