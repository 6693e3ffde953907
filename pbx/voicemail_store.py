"""Asterisk's voicemail spool, read and changed the way app_voicemail (file storage) expects.

The layout is ``VOICEMAIL_DIR/<context>/<mailbox>/<folder>/msgNNNN.<ext>``: a ``.txt`` file of
facts ([message] callerid, origtime, duration, msg_id...) and one audio file per recording
format (``.wav``, ``.WAV`` = GSM in a wav container, ``.gsm``...). The company's voicemail
context is ``t<tenant id>`` (the voicemail.conf generator names it so).

What Asterisk assumes, and this module keeps true:

* A message exists when its ``.txt`` exists (``last_message_index``/``count_messages``).
* Numbers in a folder are contiguous from 0: ``open_mailbox`` resequences a folder with gaps and
  ``save_to_folder`` puts a moved message at ``last_message_index + 1``. So after a delete or a
  move the later messages are renamed down, like ``resequence_mailbox`` does.
* A writer holds the folder's lock: ``ast_lock_path`` links a private ``.lock-XXXXXXXX`` file to
  ``<folder>/.lock`` and gives up after 5 s; unlocking removes ``.lock``. Taking the same lock
  here means Asterisk never sees a half-renumbered folder, and we never see a half-written one.

Paths are built only from a tenant id (an int), a mailbox number (digits) and a folder name from
a fixed list, never from anything a person typed.
"""

from __future__ import annotations

import configparser
import contextlib
import datetime
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

# Asterisk's folder names (app_voicemail's mailbox_folders). "Urgent" holds new urgent messages.
INBOX = "INBOX"
OLD = "Old"
URGENT = "Urgent"
NEW_FOLDERS = (URGENT, INBOX)
FOLDERS = (URGENT, INBOX, OLD)

# app_voicemail's default maxmsg (per folder) and its hard limit (msg%04d).
DEFAULT_MAX_MESSAGES = 100
MAX_MESSAGE_LIMIT = 9999

# Formats a browser can play, in order of preference, with their content types. "WAV" is
# Asterisk's wav49 (GSM in a RIFF container): browsers rarely play it, but it is what there is.
AUDIO_TYPES = (("wav", "audio/wav"), ("WAV", "audio/wav"), ("mp3", "audio/mpeg"), ("ogg", "audio/ogg"),
               ("gsm", "audio/x-gsm"))

MAILBOX_RE = re.compile(r"\A[0-9]{2,8}\Z")
MSG_FILE_RE = re.compile(r"\Amsg([0-9]{4})\.([A-Za-z0-9]{1,8})\Z")
CALLERID_RE = re.compile(r'^\s*"?(?P<name>.*?)"?\s*<(?P<number>[^>]*)>\s*$')
LOCK_TIMEOUT_S = 5.0


class VoicemailError(Exception):
    """Something about the spool stopped an operation; the message is fit for a person."""


class MessageNotFound(VoicemailError):
    pass


class MailboxBusy(VoicemailError):
    pass


class FolderFull(VoicemailError):
    pass


@dataclass(frozen=True)
class VoicemailMessage:
    folder: str
    number: int
    msg_id: str
    caller_name: str
    caller_number: str
    received: datetime.datetime | None
    duration_s: int
    audio: Path | None
    content_type: str

    @property
    def is_new(self) -> bool:
        return self.folder in NEW_FOLDERS

    @property
    def is_urgent(self) -> bool:
        return self.folder == URGENT


def spool_dir() -> Path:
    return Path(settings.VOICEMAIL_DIR)


def voicemail_context(tenant_id: int) -> str:
    return f"t{int(tenant_id)}"


def mailbox_dir(tenant_id: int, mailbox: str) -> Path:
    if not isinstance(tenant_id, int) or isinstance(tenant_id, bool) or tenant_id <= 0:
        raise ValueError("a tenant id is a positive int")
    if not MAILBOX_RE.match(mailbox or ""):
        raise ValueError("a mailbox number is 2-8 digits")
    return spool_dir() / voicemail_context(tenant_id) / mailbox


def folder_dir(tenant_id: int, mailbox: str, folder: str) -> Path:
    if folder not in FOLDERS:
        raise ValueError(f"unknown voicemail folder {folder!r}")
    return mailbox_dir(tenant_id, mailbox) / folder


def _stem(number: int) -> str:
    if not 0 <= number < MAX_MESSAGE_LIMIT:
        raise ValueError("a message number is 0-9998")
    return f"msg{number:04d}"


# -- reading ------------------------------------------------------------------------------------


def _message_numbers(directory: Path) -> list[int]:
    """Numbers of the messages in a folder: those whose .txt exists, as Asterisk counts them."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    numbers = []
    for name in names:
        match = MSG_FILE_RE.match(name)
        if match and match.group(2) == "txt":
            numbers.append(int(match.group(1)))
    return sorted(numbers)


def _files_of(directory: Path, number: int) -> list[Path]:
    stem = _stem(number)
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return [directory / name for name in names if (m := MSG_FILE_RE.match(name)) and f"msg{m.group(1)}" == stem]


def _read_info(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=False, comment_prefixes=(";", "#"),
                                       inline_comment_prefixes=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, configparser.Error):
        return {}
    return dict(parser["message"]) if parser.has_section("message") else {}


def _parse_callerid(value: str) -> tuple[str, str]:
    """'"Anna Svensson" <0701234567>' → (name, number); a bare number or name as it comes."""
    value = (value or "").strip()
    if not value or value.lower() == "unknown":
        return "", ""
    match = CALLERID_RE.match(value)
    if match:
        return match.group("name").strip(), match.group("number").strip()
    if re.fullmatch(r"\+?[0-9*#]+", value):
        return "", value
    return value.strip('"'), ""


def _int(value: str | None) -> int | None:
    try:
        return int((value or "").strip())
    except ValueError:
        return None


def _audio(directory: Path, number: int) -> tuple[Path | None, str]:
    stem = _stem(number)
    for ext, content_type in AUDIO_TYPES:
        candidate = directory / f"{stem}.{ext}"
        if candidate.is_file():
            return candidate, content_type
    return None, ""


def _load(directory: Path, folder: str, number: int) -> VoicemailMessage:
    info = _read_info(directory / f"{_stem(number)}.txt")
    name, caller_number = _parse_callerid(info.get("callerid", ""))
    origtime = _int(info.get("origtime"))
    received = datetime.datetime.fromtimestamp(origtime, tz=datetime.UTC) if origtime and origtime > 0 else None
    audio, content_type = _audio(directory, number)
    return VoicemailMessage(
        folder=folder, number=number, msg_id=info.get("msg_id", "").strip(), caller_name=name,
        caller_number=caller_number, received=received, duration_s=max(_int(info.get("duration")) or 0, 0),
        audio=audio, content_type=content_type,
    )


def list_messages(tenant_id: int, mailbox: str, folders: tuple[str, ...] = FOLDERS) -> list[VoicemailMessage]:
    """Every message of a mailbox in the given folders, newest first."""
    messages = []
    for folder in folders:
        directory = folder_dir(tenant_id, mailbox, folder)
        messages.extend(_load(directory, folder, number) for number in _message_numbers(directory))
    epoch = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    return sorted(messages, key=lambda m: (m.received or epoch, m.folder, m.number), reverse=True)


def count_messages(tenant_id: int, mailbox: str) -> tuple[int, int]:
    """(new, old), the way MailboxCount counts them (urgent messages are new)."""
    new = sum(len(_message_numbers(folder_dir(tenant_id, mailbox, f))) for f in NEW_FOLDERS)
    return new, len(_message_numbers(folder_dir(tenant_id, mailbox, OLD)))


def get_message(tenant_id: int, mailbox: str, folder: str, number: int, expected_id: str = "") -> VoicemailMessage:
    """One message; ``expected_id`` (its msg_id, when the page knew one) guards against a folder
    that was renumbered since the page was shown, so we never act on the wrong message."""
    directory = folder_dir(tenant_id, mailbox, folder)
    _stem(number)
    if number not in _message_numbers(directory):
        raise MessageNotFound(_("The message is no longer there; the page may be out of date."))
    message = _load(directory, folder, number)
    if expected_id and message.msg_id != expected_id:
        raise MessageNotFound(_("The message is no longer there; the page may be out of date."))
    return message


# -- changing -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(directory: Path, timeout: float | None = None) -> Iterator[None]:
    """app_voicemail's own lock (ast_lock_path, lockfile mode) on one folder."""
    timeout = LOCK_TIMEOUT_S if timeout is None else timeout
    directory.mkdir(parents=True, exist_ok=True)
    private = directory / f".lock-{secrets.token_hex(4)}"
    lock = directory / ".lock"
    private.touch(exist_ok=False)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                os.link(private, lock)
                break
            except FileExistsError:
                if time.monotonic() >= deadline:
                    raise MailboxBusy(_("The mailbox is busy; try again in a moment.")) from None
                time.sleep(0.02)
    finally:
        private.unlink(missing_ok=True)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _rename_message(src_dir: Path, src: int, dst_dir: Path, dst: int) -> None:
    """Move every file of a message; the .txt last, so it appears complete or not at all."""
    files = _files_of(src_dir, src)
    dst_stem = _stem(dst)
    for path in sorted(files, key=lambda p: p.suffix == ".txt"):
        os.replace(path, dst_dir / f"{dst_stem}{path.suffix}")


def _resequence(directory: Path) -> None:
    """Close the gaps: messages 0, 2, 3 become 0, 1, 2 (Asterisk's resequence_mailbox)."""
    for dest, number in enumerate(_message_numbers(directory)):
        if number != dest:
            _rename_message(directory, number, directory, dest)


def delete_message(tenant_id: int, mailbox: str, folder: str, number: int, expected_id: str = "") -> VoicemailMessage:
    directory = folder_dir(tenant_id, mailbox, folder)
    with _locked(directory):
        message = get_message(tenant_id, mailbox, folder, number, expected_id)
        # The .txt first: from then on Asterisk no longer counts the message.
        for path in sorted(_files_of(directory, number), key=lambda p: p.suffix != ".txt"):
            path.unlink(missing_ok=True)
        _resequence(directory)
    return message


def mark_heard(tenant_id: int, mailbox: str, folder: str, number: int, expected_id: str = "",
               max_messages: int = DEFAULT_MAX_MESSAGES) -> VoicemailMessage:
    """Move a new message to Old at the end, as app_voicemail does once it has been played."""
    if folder == OLD:
        return get_message(tenant_id, mailbox, folder, number, expected_id)
    src_dir = folder_dir(tenant_id, mailbox, folder)
    old_dir = folder_dir(tenant_id, mailbox, OLD)
    # Always the source folder first, then Old: one order, so two movers cannot deadlock.
    with _locked(src_dir), _locked(old_dir):
        get_message(tenant_id, mailbox, folder, number, expected_id)  # still there, still the same one
        existing = _message_numbers(old_dir)
        dest = len(existing)
        if existing and existing[-1] != dest - 1:  # Old has a gap: fill it the way Asterisk would
            _resequence(old_dir)
        if dest >= min(max_messages, MAX_MESSAGE_LIMIT):
            raise FolderFull(_("The folder of heard messages is full; delete some first."))
        _rename_message(src_dir, number, old_dir, dest)
        _resequence(src_dir)
    return get_message(tenant_id, mailbox, OLD, dest)
