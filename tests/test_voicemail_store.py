"""Asterisk's voicemail spool on a temporary directory, laid out the way app_voicemail writes it.

The .txt of each message follows the real file captured from Asterisk 22
(tests/fixtures/asterisk/ami/o_voicemail.msg0000.txt).
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

from pbx import voicemail_store as store

FIXTURE_TXT = Path(__file__).parent / "fixtures" / "asterisk" / "ami" / "o_voicemail.msg0000.txt"
TENANT = 7
MAILBOX = "1005"


def message_txt(callerid: str, origtime: int, duration: int, msg_id: str) -> str:
    # The same keys, order and comments app_voicemail writes (see FIXTURE_TXT).
    return (
        ";\n; Message Information file\n;\n[message]\norigmailbox=1005\ncontext=t7-inbound\nmacrocontext=\n"
        f"exten=1005\nrdnis=unknown\npriority=2\ncallerchan=PJSIP/trunk-00000001\ncallerid={callerid}\n"
        f"origdate=Mon Nov 23 04:04:02 AM UTC 2026\norigtime={origtime}\ncategory=\nmsg_id={msg_id}\nflag=\n"
        f"duration={duration}\n"
    )


def leave_message(spool: Path, folder: str, callerid: str = '"Anna Svensson" <+46701234567>',
                  origtime: int = 1795406642, duration: int = 16, msg_id: str | None = None,
                  audio: bytes = b"RIFF....WAVEfmt ", formats=("wav", "WAV", "gsm")) -> int:
    """Append a message to a folder, numbered as app_voicemail numbers it (first free from 0)."""
    directory = spool / f"t{TENANT}" / MAILBOX / folder
    directory.mkdir(parents=True, exist_ok=True)
    number = len([n for n in os.listdir(directory) if n.endswith(".txt")])
    stem = directory / f"msg{number:04d}"
    for ext in formats:
        stem.with_suffix(f".{ext}").write_bytes(audio + ext.encode())
    stem.with_suffix(".txt").write_text(message_txt(callerid, origtime, duration, msg_id or f"{origtime}-{number:08x}"))
    return number


def names(spool: Path, folder: str) -> list[str]:
    directory = spool / f"t{TENANT}" / MAILBOX / folder
    return sorted(n for n in os.listdir(directory) if not n.startswith(".")) if directory.exists() else []


@pytest.fixture
def spool(settings, tmp_path) -> Path:
    settings.VOICEMAIL_DIR = tmp_path / "voicemail"
    return settings.VOICEMAIL_DIR


def test_it_reads_the_message_file_asterisk_really_writes(spool):
    directory = spool / "t7" / MAILBOX / "INBOX"
    directory.mkdir(parents=True)
    (directory / "msg0000.txt").write_text(FIXTURE_TXT.read_text())
    (directory / "msg0000.wav").write_bytes(b"RIFF")

    [message] = store.list_messages(TENANT, MAILBOX)

    assert message.caller_name == "VM Test"
    assert message.caller_number == "7777"
    assert message.duration_s == 16
    assert message.msg_id == "1795406642-00000000"
    assert message.received == datetime.datetime.fromtimestamp(1795406642, tz=datetime.UTC)
    assert message.is_new and message.folder == "INBOX" and message.number == 0
    assert message.audio == directory / "msg0000.wav" and message.content_type == "audio/wav"


def test_it_lists_new_and_heard_messages_newest_first(spool):
    leave_message(spool, "INBOX", origtime=1000)
    leave_message(spool, "INBOX", origtime=3000)
    leave_message(spool, "Old", origtime=2000)
    leave_message(spool, "Urgent", origtime=500)

    listed = store.list_messages(TENANT, MAILBOX)

    assert [(m.folder, m.number) for m in listed] == [("INBOX", 1), ("Old", 0), ("INBOX", 0), ("Urgent", 0)]
    assert store.count_messages(TENANT, MAILBOX) == (3, 1)


def test_an_empty_or_missing_mailbox_has_no_messages(spool):
    assert store.list_messages(TENANT, MAILBOX) == []
    assert store.count_messages(TENANT, MAILBOX) == (0, 0)


def test_a_message_is_counted_by_its_txt_file_like_asterisk_does(spool):
    leave_message(spool, "INBOX")
    # An audio file without its .txt (a recording being written) is not a message yet.
    (spool / "t7" / MAILBOX / "INBOX" / "msg0001.wav").write_bytes(b"RIFF")

    assert [m.number for m in store.list_messages(TENANT, MAILBOX)] == [0]


@pytest.mark.parametrize("callerid, name, number", [
    ('"Anna Svensson" <+46701234567>', "Anna Svensson", "+46701234567"),
    ("<0812345678>", "", "0812345678"),
    ("0812345678", "", "0812345678"),
    ("Unknown", "", ""),
    ("", "", ""),
    ('"Evil <script>" <1234>', "Evil <script>", "1234"),
])
def test_it_parses_caller_ids_the_way_asterisk_writes_them(spool, callerid, name, number):
    leave_message(spool, "INBOX", callerid=callerid)

    [message] = store.list_messages(TENANT, MAILBOX)

    assert (message.caller_name, message.caller_number) == (name, number)


def test_a_broken_message_file_still_lists_with_what_is_known(spool):
    directory = spool / "t7" / MAILBOX / "INBOX"
    directory.mkdir(parents=True)
    (directory / "msg0000.txt").write_bytes(b"not an ini file \xff\xfe\n[message\nduration=abc")

    [message] = store.list_messages(TENANT, MAILBOX)

    assert message.duration_s == 0 and message.received is None and message.audio is None


def test_it_prefers_plain_wav_for_the_browser(spool):
    leave_message(spool, "INBOX", formats=("gsm", "WAV"))

    [message] = store.list_messages(TENANT, MAILBOX)

    assert message.audio.name == "msg0000.WAV"
    assert message.content_type == "audio/wav"


def test_deleting_a_message_renumbers_the_rest_without_gaps(spool):
    for t in (1000, 2000, 3000):
        leave_message(spool, "INBOX", origtime=t)

    deleted = store.delete_message(TENANT, MAILBOX, "INBOX", 0, expected_id="1000-00000000")

    assert deleted.received.timestamp() == 1000
    assert names(spool, "INBOX") == [f"msg{n:04d}.{ext}" for n in (0, 1) for ext in ("WAV", "gsm", "txt", "wav")]
    assert [m.msg_id for m in store.list_messages(TENANT, MAILBOX)] == ["3000-00000002", "2000-00000001"]
    assert store.get_message(TENANT, MAILBOX, "INBOX", 0).received.timestamp() == 2000


def test_marking_heard_moves_the_message_to_the_end_of_old(spool):
    leave_message(spool, "Old", origtime=100)
    leave_message(spool, "INBOX", origtime=1000)
    leave_message(spool, "INBOX", origtime=2000)

    moved = store.mark_heard(TENANT, MAILBOX, "INBOX", 0)

    assert (moved.folder, moved.number, moved.received.timestamp()) == ("Old", 1, 1000)
    assert names(spool, "Old") == [f"msg{n:04d}.{ext}" for n in (0, 1) for ext in ("WAV", "gsm", "txt", "wav")]
    assert names(spool, "INBOX") == [f"msg0000.{ext}" for ext in ("WAV", "gsm", "txt", "wav")]
    assert store.get_message(TENANT, MAILBOX, "INBOX", 0).received.timestamp() == 2000
    assert store.count_messages(TENANT, MAILBOX) == (1, 2)


def test_marking_heard_creates_the_old_folder_when_asterisk_has_not_yet(spool):
    leave_message(spool, "Urgent")

    moved = store.mark_heard(TENANT, MAILBOX, "Urgent", 0)

    assert (moved.folder, moved.number) == ("Old", 0)
    assert names(spool, "Urgent") == []


def test_marking_heard_fills_a_gap_left_in_old(spool):
    leave_message(spool, "Old", origtime=100)
    leave_message(spool, "Old", origtime=200)
    for path in (spool / "t7" / MAILBOX / "Old").glob("msg0000.*"):
        path.unlink()
    leave_message(spool, "INBOX", origtime=1000)

    moved = store.mark_heard(TENANT, MAILBOX, "INBOX", 0)

    assert moved.number == 1
    assert [m.received.timestamp() for m in store.list_messages(TENANT, MAILBOX, ("Old",))] == [1000, 200]


def test_a_full_old_folder_refuses_the_move_and_keeps_the_message(spool):
    leave_message(spool, "Old")
    leave_message(spool, "INBOX")

    with pytest.raises(store.FolderFull):
        store.mark_heard(TENANT, MAILBOX, "INBOX", 0, max_messages=1)

    assert store.count_messages(TENANT, MAILBOX) == (1, 1)


def test_a_renumbered_folder_is_never_acted_on_blindly(spool):
    leave_message(spool, "INBOX", origtime=1000)
    leave_message(spool, "INBOX", origtime=2000)
    store.delete_message(TENANT, MAILBOX, "INBOX", 0)

    # The page still shows message 1 (now renumbered 0): the stale address finds nothing.
    with pytest.raises(store.MessageNotFound):
        store.delete_message(TENANT, MAILBOX, "INBOX", 1, expected_id="2000-00000001")
    with pytest.raises(store.MessageNotFound):
        store.delete_message(TENANT, MAILBOX, "INBOX", 0, expected_id="1000-00000000")
    assert store.count_messages(TENANT, MAILBOX) == (1, 0)


def test_it_waits_for_asterisks_lock_and_gives_up_cleanly(spool, monkeypatch):
    leave_message(spool, "INBOX")
    lock = spool / "t7" / MAILBOX / "INBOX" / ".lock"
    lock.write_text("")  # Asterisk holds the folder (ast_lock_path)
    monkeypatch.setattr(store, "LOCK_TIMEOUT_S", 0.05)

    with pytest.raises(store.MailboxBusy):
        store.delete_message(TENANT, MAILBOX, "INBOX", 0)

    assert store.count_messages(TENANT, MAILBOX) == (1, 0)
    assert lock.exists()  # never ours to remove
    assert not list(lock.parent.glob(".lock-*"))  # our private link file is cleaned up


def test_it_releases_its_lock_after_a_change(spool):
    leave_message(spool, "INBOX")

    store.mark_heard(TENANT, MAILBOX, "INBOX", 0)

    for folder in ("INBOX", "Old"):
        assert not [n for n in os.listdir(spool / "t7" / MAILBOX / folder) if n.startswith(".lock")]


@pytest.mark.parametrize("tenant, mailbox, folder", [
    (7, "../1005", "INBOX"),
    (7, "1005/../../t8/1005", "INBOX"),
    (7, "", "INBOX"),
    ("7", "1005", "INBOX"),
    (0, "1005", "INBOX"),
    (7, "1005", "../Old"),
    (7, "1005", "Deleted"),
])
def test_paths_are_built_only_from_checked_parts(spool, tenant, mailbox, folder):
    with pytest.raises(ValueError):
        store.folder_dir(tenant, mailbox, folder)


def test_message_numbers_outside_asterisks_range_are_refused(spool):
    with pytest.raises(ValueError):
        store.get_message(TENANT, MAILBOX, "INBOX", 10000)
    with pytest.raises(ValueError):
        store.get_message(TENANT, MAILBOX, "INBOX", -1)


def test_the_voicemail_context_is_the_tenants_t_prefix(spool):
    assert store.mailbox_dir(42, "800") == spool / "t42" / "800"
