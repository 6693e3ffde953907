"""Every state change of the recording web: one ``do_*`` function each, checked, audited.

Listening is audited too ("who listened to what"): a play, a download, a share, a shared link opened and a
deletion each write an ``AuditLog`` row on the recording.
"""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pbx.actions.base import record, require_same_tenant, snapshot, tenant_id_of
from pbx.actions.numbers import POLICIES
from pbx.notifications.send import send_email
from pbx.signals import config_changed_on_commit

from .models import EvaluationAnswer, EvaluationChoice, EvaluationQuestion, Recording, RecordingSettings, ShareLink
from .selectors import is_recording_super, recordings_visible_to


def require_recording_super(actor, obj: models.Model | None = None) -> None:
    if actor is None:
        return
    if obj is not None:
        require_same_tenant(actor, obj)
    if not is_recording_super(actor):
        raise PermissionDenied(_("Only a recording super user may do this."))


def require_may_hear(actor, recording: Recording) -> None:
    if actor is not None and not recordings_visible_to(actor).filter(pk=recording.pk).exists():
        raise PermissionDenied(_("You may not hear this recording."))


def do_log_listen(actor, recording: Recording, verb: str, *, share: ShareLink | None = None) -> None:
    """An audit row for a play, a download or a shared link opened (verb: played/downloaded/share_opened)."""
    after = {"share": share.pk, "to": share.email} if share else None
    record(actor, f"recording.{verb}", recording, None, after)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def do_share_recording(actor, recording: Recording, *, email: str, subject: str, link_for) -> ShareLink:
    """E-mails a link that opens this one recording for 24 hours without an account.

    ``link_for(token)`` makes the absolute URL (the view knows the host the person used).
    """
    require_may_hear(actor, recording)
    token = secrets.token_urlsafe(32)
    share = ShareLink(tenant_id=recording.tenant_id, recording=recording, email=email, subject=subject,
                      created_by=actor, token_hash=token_hash(token))
    share.full_clean(exclude=["token_hash", "created_by"])
    sender = actor.display_name if actor else ""
    body = _("%(sender)s shared a call recording with you:\n\n%(url)s\n\nThe link works for 24 hours.") % {
        "sender": sender, "url": link_for(token)}
    with transaction.atomic():
        share.save()
        record(actor, "recording.shared", recording, None, {"share": share.pk, "to": email, "subject": subject})
        send_email(recording.tenant_id, email, subject, body, topic="recording_share", key=f"share-{share.pk}")
    return share


def shared_recording(token: str) -> ShareLink | None:
    """The share a link's token opens, if it is still valid (not revoked, within its 24 hours)."""
    share = ShareLink.objects.select_related("recording").filter(token_hash=token_hash(token)).first()
    if share is None or not share.is_valid or share.recording.deleted_at is not None:
        return None
    if share.recording.status != Recording.Status.STORED:
        return None
    return share


def do_revoke_share(actor, share: ShareLink) -> None:
    require_may_hear(actor, share.recording)
    if share.created_by_id != getattr(actor, "pk", None):
        require_recording_super(actor, share)
    with transaction.atomic():
        share.revoked_at = timezone.now()
        share.save(update_fields=["revoked_at"])
        record(actor, "recording.share_revoked", share.recording, None, {"share": share.pk, "to": share.email})


def do_evaluate_recording(actor, recording: Recording, *, call_result: EvaluationChoice | None,
                          customer_response: EvaluationChoice | None, flag: str, tag: str, notes: str,
                          answers: dict[int, str]) -> Recording:
    """Saves the evaluation ("Samtalsanteckningar" and "Utvärdera"); the score is the share of yes answers."""
    require_may_hear(actor, recording)
    for choice, kind in ((call_result, EvaluationChoice.Kind.RESULT), (customer_response, EvaluationChoice.Kind.RESPONSE)):
        if choice is not None and (choice.tenant_id != recording.tenant_id or choice.kind != kind):
            raise ValidationError(_("That choice is not one of your company's."))
    questions = {q.pk: q for q in EvaluationQuestion.objects.filter(tenant_id=recording.tenant_id, active=True)}
    valid = set(EvaluationAnswer.Answer.values)
    with transaction.atomic():
        before = snapshot(recording)
        recording.call_result, recording.customer_response = call_result, customer_response
        recording.flag, recording.tag, recording.notes = flag, tag, notes
        for question_id, answer in answers.items():
            if question_id not in questions or answer not in valid | {""}:
                raise ValidationError(_("That question is not on your company's evaluation form."))
            if answer:
                EvaluationAnswer.objects.update_or_create(
                    recording=recording, question_id=question_id,
                    defaults={"answer": answer, "tenant_id": recording.tenant_id})
            else:
                EvaluationAnswer.objects.filter(recording=recording, question_id=question_id).delete()
        given = list(EvaluationAnswer.objects.filter(recording=recording, question_id__in=questions)
                     .exclude(answer=EvaluationAnswer.Answer.NOT_APPLICABLE).values_list("answer", flat=True))
        recording.score = round(100 * given.count("yes") / len(given)) if given else None
        recording.full_clean(validate_unique=False, validate_constraints=False)
        recording.save(update_fields=["call_result", "customer_response", "flag", "tag", "notes", "score",
                                      "updated_at"])
        record(actor, "recording.evaluated", recording, before, snapshot(recording))
    return recording


def do_delete_recordings(actor, recordings) -> int:
    """Deletes the given recordings (super users only): hidden at once, file and row gone within the hour."""
    if actor is not None and not is_recording_super(actor):
        raise PermissionDenied(_("Only a recording super user may delete recordings."))
    now = timezone.now()
    with transaction.atomic():
        rows = list(recordings.select_for_update().filter(deleted_at__isnull=True))
        for recording in rows:
            require_recording_super(actor, recording)
            record(actor, "recording.deleted", recording, None, None)
        Recording.objects.filter(pk__in=[r.pk for r in rows]).update(deleted_at=now, updated_at=now)
    return len(rows)


def _after_change(obj: models.Model, tenant_id: int) -> None:
    """As ``pbx.actions.objects`` does after a save: the company's config apply, then the model's follow-up
    (for the recording policy: its AstDB keys, registered by recording.signals), after commit."""
    config_changed_on_commit(tenant_id)
    _check, follow_up = POLICIES.get(type(obj), (None, None))
    if follow_up is not None:
        follow_up(obj)


def do_save_recording_config(actor, obj: models.Model) -> models.Model:
    """Saves a policy or evaluation row of the recording service (super users); Asterisk gets the change.

    The same as ``pbx.actions.do_save_object`` but for the recording role "super user", who need not be the
    company's admin (the guide's "Superanvändare" sets the policy on the recording web)."""
    if hasattr(obj, "inherit_tenant"):
        obj.inherit_tenant()
    require_recording_super(actor, obj)
    obj.full_clean()
    check, _follow_up = POLICIES.get(type(obj), (None, None))
    if check is not None:
        check(actor, obj)
    with transaction.atomic():
        before = snapshot(type(obj)._default_manager.filter(pk=obj.pk).first()) if obj.pk else None
        obj.save()
        record(actor, "created" if before is None else "changed", obj, before, snapshot(obj))
        _after_change(obj, tenant_id_of(obj))
    return obj


def do_delete_recording_config(actor, obj: models.Model) -> None:
    require_recording_super(actor, obj)
    with transaction.atomic():
        tenant_id = tenant_id_of(obj)
        record(actor, "deleted", obj, snapshot(obj), None, tenant_id=tenant_id)
        obj.delete()
        _after_change(obj, tenant_id)


def do_set_kill_switch(actor, tenant, on: bool) -> RecordingSettings:
    """The one-click "stop all automatic recording now" (and back on)."""
    settings_row, _created = RecordingSettings.objects.get_or_create(tenant=tenant)
    settings_row.kill_switch = on
    settings_row.kill_switch_changed_at = timezone.now()
    return do_save_recording_config(actor, settings_row)
