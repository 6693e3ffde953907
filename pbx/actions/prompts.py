from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction

from pbx.audio import ConvertedPrompt, convert_prompt, write_atomically
from pbx.models import Prompt, Tenant
from pbx.signals import config_changed_on_commit

from .base import record, require_company_admin, snapshot

UPLOAD_SUFFIXES = {".wav", ".mp3", ".m4a", ".ogg", ".oga", ".flac", ".aac", ".webm"}


def prompt_sound_name(prompt: Prompt) -> str:
    """Asterisk's name for the prompt, relative to its sounds directory (no extension)."""
    return f"custom/t{prompt.tenant_id}/prompt-{prompt.pk}"


def do_upload_prompt(actor, tenant: Tenant, *, name: str, data: bytes | str | os.PathLike, filename: str = "",
                     prompt: Prompt | None = None, converted: ConvertedPrompt | None = None) -> Prompt:
    """Convert a sound (its bytes, or the path of an upload or a recording) and store it for the
    company; a new file replaces an old prompt's.

    Conversion happens before anything is saved, so a file that is not audio changes nothing.
    A form that has already converted the file (to show a refusal on the field) passes the result
    as ``converted``, so the file is decoded once. The converted files are written (atomically)
    only after the row commits, so the old sound plays until the new one is in place.
    """
    prompt = prompt or Prompt(tenant=tenant)
    require_company_admin(actor, prompt)
    if converted is None:
        converted = convert_prompt(data)  # raises AudioError (a ValidationError) with a clear message
    prompt.name = name
    prompt.full_clean(exclude=["original"])
    with transaction.atomic():
        before = snapshot(Prompt.objects.filter(pk=prompt.pk).first()) if prompt.pk else None
        prompt.duration_ms = converted.duration_ms
        prompt.save()
        suffix = next((s for s in UPLOAD_SUFFIXES if filename.lower().endswith(s)), "")
        original_name = f"t{tenant.pk}/prompt-{prompt.pk}{suffix}"
        if isinstance(data, bytes | bytearray):
            prompt.original.save(original_name, ContentFile(data), save=False)
        else:
            with Path(data).open("rb") as handle:
                prompt.original.save(original_name, File(handle), save=False)
        prompt.sound_name = prompt_sound_name(prompt)
        prompt.save(update_fields=["original", "duration_ms", "sound_name"])
        record(actor, "created" if before is None else "changed", prompt, before, snapshot(prompt))

        base = settings.ASTERISK_SOUNDS_DIR / f"t{tenant.pk}" / f"prompt-{prompt.pk}"

        def write_files() -> None:
            for fmt, content in converted.files.items():
                write_atomically(base.with_suffix(f".{fmt}"), content)

        transaction.on_commit(write_files)
        config_changed_on_commit(tenant.pk)
    return prompt
