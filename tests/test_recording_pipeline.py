"""Post-processing: raw MixMonitor legs → stored Opus with duration, peaks and talk analysis; retries,
never losing the raw file; retention and web deletions purged (file and row)."""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.utils import timezone

from pbx.models import AuditLog
from recording import audio, tasks
from recording.models import Recording
from recording.storage import raw_file, recordings_storage
from tests.recording_fixtures import conversation, make_recording, raw_legs


def probe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,channels:format=duration",
                          "-of", "json", str(path)], capture_output=True, check=True)
    return json.loads(out.stdout)


def test_it_measures_each_sides_talk_overtalk_and_the_longest_silence():
    talk = audio.talk_analysis(conversation(20))
    # 300 ms of hangover after each spurt is counted as talk.
    assert talk.agent_s == pytest.approx(7.6, abs=0.2)
    assert talk.customer_s == pytest.approx(6.3, abs=0.2)
    assert talk.overtalk_s == pytest.approx(1.3, abs=0.2)
    assert talk.longest_silence_s == pytest.approx(6.7, abs=0.2)
    assert talk.customer_share == 45


def test_silence_and_line_noise_are_not_talk():
    rng = np.random.default_rng(0)
    hiss = rng.normal(0, 30, (8000 * 5, 2)).astype(np.int16)
    talk = audio.talk_analysis(hiss)
    assert (talk.agent_s, talk.customer_s, talk.longest_silence_s) == (0, 0, pytest.approx(4.98, abs=0.05))


def test_it_reads_mixmonitors_interleaved_raw_file_left_as_the_person(tmp_path):
    samples = conversation(6)
    samples[:, 1] = 0  # only the person talks
    raw = tmp_path / "call.raw"
    samples.astype("<i2").tofile(raw)
    loaded = audio.load([raw])
    assert loaded.shape == (8000 * 6, 2)
    talk = audio.talk_analysis(loaded)
    assert talk.agent_s > 4 and talk.customer_s == 0


def test_peaks_are_percent_of_full_scale_per_side():
    samples = np.zeros((8000, 2), np.int16)
    samples[:4000, 0] = 16384
    samples[4000:, 1] = -32768
    peaks = audio.peaks(samples, buckets=4)
    assert peaks == {"agent": [50, 50, 0, 0], "customer": [0, 0, 100, 100]}


def raw_recording(demo, bob, name="call", **fields) -> Recording:
    person, other = raw_legs(name)
    return make_recording(demo.tenant, bob, stored=False, raw_person_path=person, raw_other_path=other, **fields)


def test_it_stores_both_sides_as_opus_and_removes_the_raw_files_after(demo, bob, django_capture_on_commit_callbacks):
    recording = raw_recording(demo, bob)
    legs = [raw_file(recording.raw_person_path), raw_file(recording.raw_other_path)]
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.run_processing(recording.pk) == Recording.Status.STORED
    recording.refresh_from_db()
    stored = Path(recordings_storage().path(recording.stored_path))
    info = probe(stored)
    assert info["streams"][0] == {"codec_name": "opus", "channels": 2}
    assert float(info["format"]["duration"]) == pytest.approx(20, abs=0.1)
    assert recording.duration_s == pytest.approx(20)
    assert recording.stored_size == stored.stat().st_size
    assert recording.stored_path.startswith(f"t{demo.tenant.pk}/")
    assert stored.is_relative_to(Path(settings.RECORDINGS_DIR))
    assert len(recording.peaks["agent"]) == audio.PEAKS and max(recording.peaks["customer"]) > 10
    assert recording.talk_person_s == pytest.approx(7.6, abs=0.2) and recording.other_share == 45
    assert not any(path.exists() for path in legs)


def test_a_crash_keeps_the_raw_files_and_the_retry_stores_it(demo, bob, monkeypatch):
    recording = raw_recording(demo, bob)
    legs = [raw_file(recording.raw_person_path), raw_file(recording.raw_other_path)]

    def crash(samples, target):
        raise audio.ProcessingError("ffmpeg was killed")

    monkeypatch.setattr(audio, "encode", crash)
    with pytest.raises(audio.ProcessingError):
        tasks.run_processing(recording.pk)
    recording.refresh_from_db()
    assert (recording.status, recording.attempts, recording.stored_path) == (Recording.Status.RAW, 1, "")
    assert "killed" in recording.error and all(path.exists() for path in legs)
    monkeypatch.undo()
    assert tasks.run_processing(recording.pk) == Recording.Status.STORED


def test_nothing_raw_is_deleted_when_the_storage_did_not_keep_the_file(demo, bob, monkeypatch):
    recording = raw_recording(demo, bob)
    storage = recordings_storage()
    monkeypatch.setattr(storage, "exists", lambda name: False)
    monkeypatch.setattr(tasks, "recordings_storage", lambda: storage)
    with pytest.raises(audio.ProcessingError, match="did not arrive whole"):
        tasks.run_processing(recording.pk)
    recording.refresh_from_db()
    assert recording.status == Recording.Status.RAW
    assert raw_file(recording.raw_person_path).exists()


def test_after_the_last_attempt_it_is_failed_and_the_raw_files_stay(demo, bob, monkeypatch):
    recording = raw_recording(demo, bob, attempts=tasks.MAX_ATTEMPTS - 1)
    monkeypatch.setattr(audio, "encode", lambda samples, target: (_ for _ in ()).throw(audio.ProcessingError("no")))
    assert tasks.run_processing(recording.pk) == Recording.Status.FAILED
    assert raw_file(recording.raw_person_path).exists()


def test_the_paused_part_is_silent_in_the_stored_form(demo, bob, monkeypatch):
    recording = raw_recording(demo, bob, paused=[[0, 6]])
    assert tasks.run_processing(recording.pk) == Recording.Status.STORED
    recording.refresh_from_db()
    # Without the pause the person talks 7.6 s; 0-5 s was paused, so only 11-13 s remains.
    assert recording.talk_person_s == pytest.approx(2.3, abs=0.2)


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "t1/../../x.wav", ""])
def test_a_raw_path_outside_the_recordings_directory_is_refused(path, settings):
    with pytest.raises(ValueError):
        raw_file(path)


def test_asterisks_own_monitor_path_maps_into_the_recordings_directory():
    assert raw_file("/var/spool/asterisk/monitor/t1/a.wav") == Path(settings.RECORDINGS_DIR).resolve() / "t1/a.wav"


def test_retention_and_web_deletions_remove_file_and_row(demo, exempel, bob, dave):
    demo.tenant.recording_retention_days = 30
    demo.tenant.save(update_fields=["recording_retention_days"])
    now = timezone.now()
    old = make_recording(demo.tenant, bob, started_at=now - datetime.timedelta(days=31))
    recent = make_recording(demo.tenant, bob, started_at=now - datetime.timedelta(days=29))
    deleted = make_recording(demo.tenant, bob, deleted_at=now)
    other_company = make_recording(exempel.tenant, dave, started_at=now - datetime.timedelta(days=31))
    still_recording = make_recording(demo.tenant, bob, started_at=now - datetime.timedelta(days=40), stored=False,
                                     status=Recording.Status.RECORDING)
    files = {r.pk: r.stored_path for r in (old, recent, deleted)}
    assert tasks.purge_recordings(now) == 2
    left = set(Recording.objects.values_list("pk", flat=True))
    assert {recent.pk, other_company.pk, still_recording.pk} <= left
    assert not {old.pk, deleted.pk} & left
    storage = recordings_storage()
    assert storage.exists(files[recent.pk])
    assert not storage.exists(files[old.pk]) and not storage.exists(files[deleted.pk])
    assert AuditLog.objects.filter(action="recording.expired", object_id=str(old.pk), tenant=demo.tenant).exists()
    # Exempel keeps its default retention (92 days).
    assert exempel.tenant.recording_retention_days == 92


def test_the_queued_task_stores_it(demo, bob):
    recording = raw_recording(demo, bob)
    tasks.process_recording(recording.pk)  # huey, immediate in tests: what the bridge queues at the call's end
    recording.refresh_from_db()
    assert recording.status == Recording.Status.STORED and recordings_storage().exists(recording.stored_path)


def test_a_recording_left_processing_by_a_dead_worker_is_queued_again(demo, bob):
    recording = raw_recording(demo, bob, status=Recording.Status.PROCESSING)
    Recording.objects.filter(pk=recording.pk).update(updated_at=timezone.now() - tasks.STUCK_AFTER * 2)
    assert tasks.requeue_stuck_recordings.call_local() == 1
    recording.refresh_from_db()
    assert recording.status == Recording.Status.STORED


def test_an_s3_bucket_can_hold_the_stored_recordings_privately(settings):
    from storages.backends.s3 import S3Storage

    settings.STORAGES = {**settings.STORAGES, "recordings": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": "rec", "endpoint_url": "http://127.0.0.1:9", "default_acl": "private",
                    "access_key": "k", "secret_key": "s"}}}
    storage = recordings_storage()
    assert isinstance(storage, S3Storage) and storage.default_acl == "private" and storage.bucket_name == "rec"


REAL = Path(__file__).parent / "fixtures" / "recordings"


def dominant_hz(channel: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(channel[:8000].astype(float)))
    return float(np.argmax(spectrum)) * 8000 / len(channel[:8000])


def test_real_mixmonitor_legs_become_one_stereo_opus_with_each_side_on_its_channel(tmp_path):
    samples = audio.load([REAL / "mixmonitor-r.wav", REAL / "mixmonitor-t.wav"])
    assert (dominant_hz(samples[:, 0]), dominant_hz(samples[:, 1])) == (1004, 440)
    processed = audio.process([REAL / "mixmonitor-r.wav", REAL / "mixmonitor-t.wav"], tmp_path / "out.opus")
    assert processed.duration_ms == 6500
    info = probe(tmp_path / "out.opus")
    assert info["streams"][0] == {"codec_name": "opus", "channels": 2}
    assert float(info["format"]["duration"]) == pytest.approx(6.5, abs=0.05)


def test_a_real_interleaved_D_file_has_the_read_side_left():
    samples = audio.load([REAL / "mixmonitor-D.raw"])
    assert len(samples) == 120960 // 4
    assert (dominant_hz(samples[:, 0]), dominant_hz(samples[:, 1])) == (1004, 440)


def test_a_file_that_will_not_go_keeps_its_row_and_does_not_stop_the_purge(demo, bob, monkeypatch):
    now = timezone.now()
    stuck = make_recording(demo.tenant, bob, deleted_at=now)
    hostile = make_recording(demo.tenant, bob, deleted_at=now, raw_person_path="../../etc/passwd")
    other = make_recording(demo.tenant, bob, deleted_at=now)
    storage = recordings_storage()
    real_delete = storage.delete

    def delete(name):
        if name == stuck.stored_path:
            raise OSError("permission denied")
        real_delete(name)

    monkeypatch.setattr(storage, "delete", delete)
    monkeypatch.setattr(tasks, "recordings_storage", lambda: storage)
    assert tasks.purge_recordings(now) == 2
    assert set(Recording.objects.values_list("pk", flat=True)) >= {stuck.pk}
    assert not Recording.objects.filter(pk__in=[hostile.pk, other.pk]).exists()
    assert Path("/etc/passwd").exists()


def test_a_stored_recording_is_announced_to_the_companys_webhooks(demo, bob, django_capture_on_commit_callbacks):
    """``recording.ready`` (docs/webhooks.md) once the stored form is written: facts, never the audio."""
    from pbx.webhooks.emit import subscriptions
    from pbx.webhooks.models import WebhookEndpoint, WebhookMessage

    WebhookEndpoint.objects.create(tenant=demo.tenant, url="https://crm.demo.example/hooks",
                                   event_types=["recording.ready"])
    subscriptions.forget()
    recording = raw_recording(demo, bob)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert tasks.run_processing(recording.pk) == Recording.Status.STORED
    for callback in callbacks:
        if callback.__qualname__.startswith("emit_on_commit"):
            callback()
    (message,) = WebhookMessage.objects.filter(tenant=demo.tenant, event_type="recording.ready")
    data = message.payload["data"]
    assert (data["recording_id"], data["user_id"], data["duration_s"]) == (recording.pk, bob.pk, 20.0)
    assert "stored_path" not in data and not WebhookMessage.objects.exclude(tenant=demo.tenant).exists()
