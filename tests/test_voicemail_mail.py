"""Voicemail to e-mail, sent by the worker from the spool: the fake Asterisk reports a new message
(``MessageWaiting``, as in o_voicemail) → the event bridge → the worker's job reads the spool → one mail per
message with the audio attached, to the box's own address; never twice, never another company's box."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from pathlib import Path

import pytest

from pbx.models import VoicemailBox
from pbx.notifications.models import Notification
from pbx.notifications.voicemail import mail_recent_voicemail, mail_voicemail
from tests.notify_fixtures import *  # noqa: F403 - line, pushed, sms_requests, test_connection, worlds
from tests.notify_fixtures import act, until

FIXTURES = Path(__file__).parent / "fixtures" / "asterisk" / "ami"
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(64))  # stands in for app_voicemail's msg0000.wav


@pytest.fixture
def spool(tmp_path, settings):
    settings.VOICEMAIL_DIR = tmp_path / "voicemail"
    return settings.VOICEMAIL_DIR


def leave_message(spool: Path, tenant_id: int, mailbox: str, *, number: int = 0, msg_id: str = "1795406642-00000000",
                  caller: str = '"VM Test" <7777>', origtime: int | None = None, folder: str = "INBOX") -> Path:
    """What app_voicemail leaves in the spool: the .txt of o_voicemail's real message, and the audio."""
    directory = spool / f"t{tenant_id}" / mailbox / folder
    directory.mkdir(parents=True, exist_ok=True)
    info = (FIXTURES / "o_voicemail.msg0000.txt").read_text()
    origtime = origtime if origtime is not None else int(dt.datetime.now(dt.UTC).timestamp())
    info = (info.replace("msg_id=1795406642-00000000", f"msg_id={msg_id}")
            .replace('callerid="VM Test" <7777>', f"callerid={caller}")
            .replace("origtime=1795406642", f"origtime={origtime}"))
    stem = directory / f"msg{number:04d}"
    stem.with_suffix(".wav").write_bytes(AUDIO)
    shutil.copyfile(stem.with_suffix(".wav"), stem.with_suffix(".WAV"))
    stem.with_suffix(".txt").write_text(info)
    return stem.with_suffix(".wav")


async def test_a_new_message_is_mailed_with_its_audio_once(line, demo, eva, spool, mailoutbox):
    box = await act(VoicemailBox.objects.get, tenant=demo.tenant, number=eva.extension)
    leave_message(spool, line.t, box.number)
    await line.start_capturing_commits()
    line.fake.leave_voicemail(f"{box.number}@t{line.t}")

    async def queued():
        return await act(Notification.objects.filter(tenant_id=line.t, topic="voicemail").exists)

    await until(queued)
    await line.commit()
    (mail,) = mailoutbox
    assert mail.to == [eva.email]
    assert mail.subject == "Nytt röstmeddelande från VM Test <7777>"
    assert f"röstbrevlådan {box.number} {box.name}" in mail.body and "Längd: 0:16" in mail.body
    ((name, content, mimetype),) = mail.attachments
    assert (name, content, mimetype) == ("voicemail-1795406642-00000000.wav", AUDIO, "audio/wav")

    # Asterisk says it again (the next MessageWaiting, a second bridge): nothing new is mailed.
    line.fake.leave_voicemail(f"{box.number}@t{line.t}")
    await asyncio.sleep(0.3)
    await line.commit()
    assert len(mailoutbox) == 1


async def test_another_company_with_the_same_mailbox_number_gets_its_own_mail_only(line, demo, exempel, spool,
                                                                                   mailoutbox):
    theirs = await act(VoicemailBox.objects.get, tenant=exempel.tenant, number=exempel.agents[0].extension)
    ours = await act(VoicemailBox.objects.get, tenant=demo.tenant, number=theirs.number)  # numbers repeat
    leave_message(spool, exempel.tenant.pk, theirs.number, msg_id="1795406700-00000003")
    await line.start_capturing_commits()
    line.fake.leave_voicemail(f"{theirs.number}@t{exempel.tenant.pk}")

    async def queued():
        return await act(Notification.objects.filter(topic="voicemail").exists)

    await until(queued)
    await line.commit()
    assert [m.to for m in mailoutbox] == [[theirs.email]] and theirs.email != ours.email
    assert await act(Notification.objects.filter(tenant_id=line.t).count) == 0


def test_a_box_without_an_address_or_switched_off_mails_nothing(demo, eva, spool, mailoutbox,
                                                                django_capture_on_commit_callbacks):
    box = VoicemailBox.objects.get(tenant=demo.tenant, number=eva.extension)
    leave_message(spool, demo.tenant.pk, box.number)
    box.email = ""
    box.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert mail_voicemail(demo.tenant.pk, box.number) == []
    box.email, box.is_enabled = eva.email, False
    box.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert mail_voicemail(demo.tenant.pk, box.number) == []
    assert mailoutbox == []


def test_without_attach_the_mail_says_where_to_listen_and_urgent_says_so(demo, eva, spool, mailoutbox,
                                                                         django_capture_on_commit_callbacks):
    box = VoicemailBox.objects.get(tenant=demo.tenant, number=eva.extension)
    box.attach_audio = False
    box.save()
    demo.tenant.language = "en"
    demo.tenant.save()
    leave_message(spool, demo.tenant.pk, box.number, folder="Urgent", caller='"" <+46701112233>')
    with django_capture_on_commit_callbacks(execute=True):
        mail_voicemail(demo.tenant.pk, box.number)
    (mail,) = mailoutbox
    assert mail.subject == "Urgent voicemail from <+46701112233>"
    assert mail.attachments == [] and "Listen to it on your phone or in the user web." in mail.body


def test_the_periodic_look_mails_what_the_bridge_missed_but_nothing_old(demo, eva, spool, mailoutbox,
                                                                        django_capture_on_commit_callbacks):
    box = VoicemailBox.objects.get(tenant=demo.tenant, number=eva.extension)
    leave_message(spool, demo.tenant.pk, box.number, number=0, msg_id="old-1",
                  origtime=int((dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).timestamp()))
    leave_message(spool, demo.tenant.pk, box.number, number=1, msg_id="new-1")
    with django_capture_on_commit_callbacks(execute=True):
        assert mail_recent_voicemail.call_local() == 1
        assert mail_recent_voicemail.call_local() == 0
    (mail,) = mailoutbox
    assert mail.attachments[0][0] == "voicemail-new-1.wav"


def test_a_message_deleted_before_the_worker_ran_fails_clearly(demo, eva, spool, mailoutbox,
                                                               django_capture_on_commit_callbacks):
    box = VoicemailBox.objects.get(tenant=demo.tenant, number=eva.extension)
    audio = leave_message(spool, demo.tenant.pk, box.number)
    (notification,) = mail_voicemail(demo.tenant.pk, box.number)  # queued; the worker runs on commit
    for suffix in (".txt", ".wav", ".WAV"):  # the owner deleted it on the phone meanwhile
        audio.with_suffix(suffix).unlink()
    with django_capture_on_commit_callbacks(execute=True):
        pass
    from pbx.notifications.tasks import attempt

    assert attempt(notification.pk, last=False) == "failed"
    notification.refresh_from_db()
    assert "deleted before it was mailed" in notification.last_error and mailoutbox == []


def test_the_attachment_is_the_message_itself_even_after_app_voicemail_renumbered_the_folder(
        demo, eva, spool, mailoutbox, django_capture_on_commit_callbacks):
    box = VoicemailBox.objects.get(tenant=demo.tenant, number=eva.extension)
    first = leave_message(spool, demo.tenant.pk, box.number, number=0, msg_id="first-1")
    second = leave_message(spool, demo.tenant.pk, box.number, number=1, msg_id="second-2")
    second.write_bytes(AUDIO + b"the second message")
    queued = {n.key.split(":")[2]: n for n in mail_voicemail(demo.tenant.pk, box.number)}
    # Before the worker runs, the first message is deleted and app_voicemail renumbers: msg0001 → msg0000.
    for suffix in (".txt", ".wav", ".WAV"):
        first.with_suffix(suffix).unlink()
        second.with_suffix(suffix).rename(first.with_suffix(suffix))
    from pbx.notifications.tasks import attempt

    assert attempt(queued["second-2"].pk, last=False) == "sent"
    assert attempt(queued["first-1"].pk, last=False) == "failed"
    (mail,) = mailoutbox
    assert mail.attachments[0][1] == AUDIO + b"the second message"
    queued["first-1"].refresh_from_db()
    assert "deleted before it was mailed" in queued["first-1"].last_error

