"""The worker's side of recording: post-processing, retries, retention and purges (huey).

``process_recording(recording_id)`` turns a finished recording's raw MixMonitor files into the stored form
(:mod:`recording.audio`): the Opus file is written to the recordings storage and read back (exists, same
size) *before* the row says ``stored``, and only after that commit are the raw files removed. A crash at
any point leaves the raw files where they were: the task retries (huey ``retries``), and the sweep below
re-queues rows a dead worker left behind. After ``MAX_ATTEMPTS`` the row is ``failed``, raw files kept.

``purge_recordings`` runs every quarter of an hour: recordings past their company's
``recording_retention_days`` and those deleted from the web (``deleted_at``) lose their file and row, so a
deletion is gone within the hour the guide promises ("raderas och avlägsnas inom en timme").
"""

from __future__ import annotations

import datetime
import logging
import tempfile
from pathlib import Path

from django.core.files import File
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from pbx.actions.base import record
from pbx.models import Tenant

from .models import Recording
from .storage import raw_file, recordings_storage, stored_name

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_DELAY_S = 60
STUCK_AFTER = datetime.timedelta(minutes=15)  # "processing" this long: its worker died
PURGE_BATCH = 500


@db_task(retries=MAX_ATTEMPTS - 1, retry_delay=RETRY_DELAY_S)
def process_recording(recording_id: int) -> str:
    return run_processing(recording_id)


def run_processing(recording_id: int) -> str:
    """The task's body (also called directly by tests and the bench); returns the row's new status."""
    # numpy and webrtcvad are imported here, not when huey discovers this module in every web process.
    from . import audio

    with transaction.atomic():
        recording = Recording.objects.select_for_update().filter(pk=recording_id).first()
        if recording is None or recording.deleted_at is not None:
            return "gone"
        if recording.status not in (Recording.Status.RAW, Recording.Status.PROCESSING):
            return recording.status
        recording.status = Recording.Status.PROCESSING
        recording.attempts = F("attempts") + 1
        recording.save(update_fields=["status", "attempts", "updated_at"])
    recording.refresh_from_db()
    try:
        sources = [raw_file(p) for p in (recording.raw_person_path, recording.raw_other_path) if p]
        name = _store(recording, sources)
    except Exception as exc:
        permanent = isinstance(exc, audio.ProcessingError | ValueError) and getattr(exc, "permanent", True)
        last = permanent or recording.attempts >= MAX_ATTEMPTS
        Recording.objects.filter(pk=recording.pk).update(
            status=Recording.Status.FAILED if last else Recording.Status.RAW, error=str(exc)[:300],
            updated_at=timezone.now())
        log.warning("recording %s: processing failed (attempt %s): %s", recording.pk, recording.attempts, exc)
        if last:
            return Recording.Status.FAILED
        raise  # huey retries it later
    transaction.on_commit(lambda: _remove_raw(sources))
    return Recording.Status.STORED if name else Recording.Status.FAILED


def _store(recording: Recording, sources: list[Path]) -> str:
    from . import audio

    storage = recordings_storage()
    with tempfile.TemporaryDirectory(prefix="pbx-rec-") as work:
        target = Path(work) / "stored.opus"
        samples = audio.load(sources)
        _mask_pauses(samples, recording.paused)
        processed = audio.process_samples(samples, target)
        size = target.stat().st_size
        with target.open("rb") as handle:
            name = storage.save(stored_name(recording), File(handle))
    # Confirmed written: the storage has it, whole. Only then may anything raw go.
    if not storage.exists(name) or storage.size(name) != size:
        raise audio.ProcessingError(f"the stored file {name} did not arrive whole")
    talk = processed.talk
    with transaction.atomic():
        updated = Recording.objects.filter(pk=recording.pk, deleted_at__isnull=True).update(
            status=Recording.Status.STORED, stored_path=name, stored_size=size, error="",
            duration_s=processed.duration_ms / 1000, peaks=processed.peaks,
            talk_person_s=talk.agent_s, talk_other_s=talk.customer_s, overtalk_s=talk.overtalk_s,
            longest_silence_s=talk.longest_silence_s, other_share=talk.customer_share, updated_at=timezone.now())
        if not updated:  # deleted from the web meanwhile: the purge takes the raw files; drop what we wrote
            transaction.on_commit(lambda: storage.delete(name))
            return ""
        _tell_webhooks(recording, processed.duration_ms / 1000, talk)
    return name


def _tell_webhooks(recording: Recording, duration_s: float, talk) -> None:
    """``recording.ready`` to the company's webhooks (docs/webhooks.md): the facts, never the audio."""
    from pbx.webhooks.emit import emit_on_commit

    emit_on_commit(recording.tenant_id, "recording.ready", {
        "recording_id": recording.pk, "call_id": recording.linkedid, "call_log_id": recording.call_id,
        "user_id": recording.user_id, "queue_id": recording.queue_id, "direction": recording.direction,
        "other_number": recording.other_number, "dialled_number": recording.dialled_number,
        "started_at": recording.started_at.isoformat() if recording.started_at else None,
        "duration_s": round(duration_s, 1), "talk_person_s": round(talk.agent_s, 1),
        "talk_other_s": round(talk.customer_s, 1), "reason": recording.reason,
    }, order_key=f"call:{recording.linkedid}")


def _mask_pauses(samples, paused: list) -> None:
    """Silence what was said while the recording was paused (MixMonitorMute mutes it too; belt and braces)."""
    from . import audio

    for interval in paused or []:
        try:
            start, end = interval
            first = max(0, int(float(start) * audio.RATE))
            last = len(samples) if end is None else min(len(samples), int(float(end) * audio.RATE))
        except (TypeError, ValueError):
            continue
        if first < last:
            samples[first:last] = 0


def _remove_raw(sources: list[Path]) -> None:
    for path in sources:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove raw recording %s: %s", path, exc)


@db_periodic_task(crontab(minute="*/10"))
def requeue_stuck_recordings() -> int:
    """Rows whose worker died mid-way (or whose task was lost) are queued again."""
    cutoff = timezone.now() - STUCK_AFTER
    ids = list(Recording.objects.filter(
        Q(status=Recording.Status.RAW) | Q(status=Recording.Status.PROCESSING),
        updated_at__lt=cutoff, attempts__lt=MAX_ATTEMPTS, deleted_at__isnull=True,
    ).values_list("pk", flat=True)[:PURGE_BATCH])
    for pk in ids:
        process_recording(pk)
    return len(ids)


@db_periodic_task(crontab(minute="*/15"))
def purge_recordings_task() -> int:
    return purge_recordings()


def purge_recordings(now: datetime.datetime | None = None) -> int:
    """Deletes (file, then row) what the web deleted and what is past the company's retention."""
    now = now or timezone.now()
    past_retention = Q()
    for tenant_id, days in Tenant.objects.filter(
            pk__in=Recording.objects.values("tenant_id")).values_list("pk", "recording_retention_days"):
        past_retention |= Q(tenant_id=tenant_id, started_at__lt=now - datetime.timedelta(days=days))
    expired = Recording.objects.filter(Q(deleted_at__isnull=False) | past_retention).exclude(
        status__in=[Recording.Status.RECORDING, Recording.Status.PROCESSING]).order_by("pk")
    storage = recordings_storage()
    removed = 0
    kept: list[int] = []  # files that would not go this run: their rows stay for the next one
    while True:
        batch = list(expired.exclude(pk__in=kept).only(
            "pk", "tenant_id", "stored_path", "raw_person_path", "raw_other_path", "deleted_at", "started_at",
            "extension", "other_number")[:PURGE_BATCH])
        if not batch:
            return removed
        done = []
        for recording in batch:
            try:
                if recording.stored_path:
                    storage.delete(recording.stored_path)
                _remove_raw(_raw_files(recording))
            except Exception as exc:
                log.warning("recording %s: file not deleted: %s", recording.pk, exc)
                kept.append(recording.pk)
                continue
            done.append(recording)
        with transaction.atomic():
            for recording in done:
                if recording.deleted_at is None:  # web deletions were audited when they were asked for
                    record(None, "recording.expired", recording)
            Recording.objects.filter(pk__in=[r.pk for r in done]).delete()
        removed += len(done)


def _raw_files(recording: Recording) -> list[Path]:
    """The raw files of a row that are ours to delete (a path outside RECORDINGS_DIR is never touched)."""
    files = []
    for reported in (recording.raw_person_path, recording.raw_other_path):
        try:
            files.append(raw_file(reported))
        except ValueError:
            continue
    return files
