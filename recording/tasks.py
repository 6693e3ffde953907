"""The worker's part of call recording.

``process_recording(recording_id)`` is queued by the event bridge when a recorded call ends
(``recording.capture.close_call_recordings``), once per recording, with its raw files as Asterisk wrote them
(``raw_person_path``, ``raw_other_path``). The post-processing (compression, peaks, talk analysis, storage) is
built on this task; until then it only confirms that the row is ready for it (status ``raw``).
"""

from __future__ import annotations

import logging

from huey.contrib.djhuey import db_task

log = logging.getLogger(__name__)


@db_task()
def process_recording(recording_id: int) -> str | None:
    from .models import Recording

    status = Recording.objects.filter(pk=recording_id).values_list("status", flat=True).first()
    if status is None:
        log.info("recording %s is gone: nothing to process", recording_id)
        return None
    log.info("recording %s is %s, ready for processing", recording_id, status)
    return status
