"""What a person changes about their own calls: forwarding profiles, caller ID, voicemail.

The same checks serve the user web, the API and an admin acting for someone: the actor must be
the person (or a company admin of the same company), every referenced row must belong to the
person's company, and numbers are digits only by the time they get here.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, Q, QuerySet, When
from django.utils.translation import gettext as _

from pbx import voicemail_store
from pbx.asterisk.astdb import MAX_SCHEDULED_PROFILES
from pbx.events import send_event_on_commit
from pbx.models import ForwardingProfile, ForwardingRule, Number, User, VoicemailBox
from pbx.numbering import usable_number_ids
from pbx.signals import state_changed_on_commit
from pbx.validators import validate_plain_text

from .base import record, require_same_tenant, require_self_or_admin, snapshot

# -- forwarding profiles ------------------------------------------------------------------------


def _profile_changed(owner: User) -> None:
    # The active profile and its rules live in AstDB: rewrite them, no config reload.
    state_changed_on_commit(owner.tenant_id, "profile", owner.pk)
    send_event_on_commit(owner.tenant_id, {"type": "profile.changed", "user_id": owner.pk}, user_ids=[owner.pk])


def _require_unique_name(profile: ForwardingProfile) -> None:
    same = ForwardingProfile.objects.filter(user_id=profile.user_id, name__iexact=(profile.name or "").strip())
    if profile.pk:
        same = same.exclude(pk=profile.pk)
    if same.exists():
        raise ValidationError({"name": _("You already have a profile with that name.")})


def _require_room_for_a_scheduled_profile(profile: ForwardingProfile) -> None:
    # The dialplan looks at this many scheduled profiles per person (t<id>-profile), no more.
    others = ForwardingProfile.objects.filter(
        user_id=profile.user_id, activation=ForwardingProfile.Activation.SCHEDULED).exclude(pk=profile.pk)
    if others.count() >= MAX_SCHEDULED_PROFILES:
        raise ValidationError({"activation": _("You can have at most %(n)d profiles that follow a schedule.")
                               % {"n": MAX_SCHEDULED_PROFILES}})


def do_create_forwarding_profile(actor, user: User, name: str) -> ForwardingProfile:
    """A new profile for a person, ringing on both lines and then voicemail, not yet active."""
    require_self_or_admin(actor, user)
    profile = ForwardingProfile(tenant_id=user.tenant_id, user=user, name=(name or "").strip())
    _require_unique_name(profile)
    profile.full_clean()
    with transaction.atomic():
        profile.save()
        record(actor, "created", profile, None, snapshot(profile))
        for line in ForwardingRule.Line.values:
            rule = ForwardingRule(tenant_id=user.tenant_id, profile=profile, line=line)
            rule.full_clean()
            rule.save()
            record(actor, "created", rule, None, snapshot(rule))
        _profile_changed(user)
    return profile


def _save_rule(actor, rule: ForwardingRule) -> bool:
    rule.inherit_tenant()
    require_self_or_admin(actor, rule.profile.user)
    rule.full_clean()
    before = snapshot(ForwardingRule.objects.filter(pk=rule.pk).first()) if rule.pk else None
    rule.save()
    after = snapshot(rule)
    if before == after:
        return False
    record(actor, "created" if before is None else "changed", rule, before, after)
    return True


def do_save_forwarding_rule(actor, rule: ForwardingRule) -> ForwardingRule:
    """Save one line's rule of a profile (new or changed)."""
    with transaction.atomic():
        if _save_rule(actor, rule):
            _profile_changed(rule.profile.user)
    return rule


def do_save_forwarding_profile(actor, profile: ForwardingProfile, rules=()) -> ForwardingProfile:
    """Rename a profile, set how it is activated (by hand or by a schedule) and save its rules,
    all in one transaction."""
    profile.inherit_tenant()
    require_self_or_admin(actor, profile.user)
    if profile.pk and ForwardingProfile.objects.filter(pk=profile.pk).exclude(user_id=profile.user_id).exists():
        raise PermissionDenied(_("A profile cannot be given to someone else."))
    if profile.activation == ForwardingProfile.Activation.MANUAL:
        profile.schedule = None
    else:
        _require_room_for_a_scheduled_profile(profile)
    _require_unique_name(profile)
    profile.full_clean()
    for rule in rules:
        if rule.profile_id != profile.pk:
            raise ValueError("a rule of another profile")
    with transaction.atomic():
        before = snapshot(ForwardingProfile.objects.filter(pk=profile.pk).first()) if profile.pk else None
        profile.save()
        after = snapshot(profile)
        changed = before != after
        if changed:
            record(actor, "created" if before is None else "changed", profile, before, after)
        for rule in rules:
            changed = _save_rule(actor, rule) or changed
        if changed:
            _profile_changed(profile.user)
    return profile


def do_delete_forwarding_profile(actor, profile: ForwardingProfile) -> None:
    """Delete a profile; if it was the active one, the person's calls simply ring again."""
    owner = profile.user
    require_self_or_admin(actor, owner)
    with transaction.atomic():
        record(actor, "deleted", profile, snapshot(profile), None)
        profile.delete()
        _profile_changed(owner)


# -- caller ID ----------------------------------------------------------------------------------


def caller_id_choices(user: User) -> QuerySet[Number]:
    """The numbers a person may present: the company's main numbers, numbers anyone may show,
    and the person's own direct and mobile numbers, each only if assigned (or a verified mobile)."""
    if not user.tenant_id:
        return Number.objects.none()
    main_first = Case(When(kind=Number.Kind.MAIN, then=0), When(usable_as_caller_id=True, then=1), default=2)
    # Only numbers the operator assigned the company (or verified mobile numbers): never anyone else's.
    usable = usable_number_ids([user.tenant_id])
    return Number.objects.filter(tenant_id=user.tenant_id, pk__in=usable).filter(
        Q(kind=Number.Kind.MAIN)
        | Q(usable_as_caller_id=True)
        | Q(user=user, kind__in=[Number.Kind.DIRECT, Number.Kind.MOBILE])
    ).order_by(main_first, "kind", "e164")


def do_set_caller_id(actor, user: User, number: Number | None) -> User:
    """Choose the number shown when the person calls out; None means the company's main number."""
    require_self_or_admin(actor, user)
    if number is not None:
        require_same_tenant(user, number)
        if not caller_id_choices(user).filter(pk=number.pk).exists():
            raise ValidationError(_("%(number)s cannot be shown as your caller ID.") % {"number": number.e164})
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.caller_id_number_id == (number.pk if number else None):
            return locked
        before = {"caller_id_number": locked.caller_id_number_id}
        locked.caller_id_number = number
        locked.save(update_fields=["caller_id_number"])
        record(actor, "caller_id_set", locked, before, {"caller_id_number": number.pk if number else None})
        # The dialplan reads the choice from AstDB (pbx/t<id>/u<user>/cli) when the person dials out.
        state_changed_on_commit(user.tenant_id, "caller_id", user.pk)
    user.caller_id_number = number
    return user


# -- voicemail ----------------------------------------------------------------------------------


def voicemail_boxes_of(user: User) -> QuerySet[VoicemailBox]:
    """The boxes a person listens to: their personal box and the shared boxes they belong to."""
    if not user.tenant_id:
        return VoicemailBox.objects.none()
    return VoicemailBox.objects.filter(tenant_id=user.tenant_id).filter(
        Q(kind=VoicemailBox.Kind.PERSONAL, owner=user) | Q(kind=VoicemailBox.Kind.SHARED, members=user)
    ).distinct().order_by("kind", "number")


def require_voicemail_access(actor, box: VoicemailBox) -> None:
    """Voicemail is private: only the owner or a member of a shared box, not even an admin."""
    if actor is None or actor.is_superuser:
        return
    require_same_tenant(actor, box)
    if not voicemail_boxes_of(actor).filter(pk=box.pk).exists():
        raise PermissionDenied(_("That voicemail box is not yours."))


def _voicemail_facts(message: voicemail_store.VoicemailMessage) -> dict:
    return {
        "folder": message.folder,
        "number": message.number,
        "msg_id": message.msg_id,
        "caller": message.caller_number,
        "received": message.received.isoformat() if message.received else None,
    }


def _voicemail_changed(box: VoicemailBox) -> None:
    # Asterisk caches mailbox counts for the message-waiting lamp: it needs a VoicemailRefresh.
    state_changed_on_commit(box.tenant_id, "voicemail", box.pk)


def do_delete_voicemail(actor, box: VoicemailBox, folder: str, number: int, *, msg_id: str = "") -> None:
    require_voicemail_access(actor, box)
    validate_plain_text(msg_id)
    with transaction.atomic():
        # The file change last: if it fails (gone, locked) the audit row is rolled back with it.
        audit = record(actor, "voicemail_deleted", box, None, None)
        message = voicemail_store.delete_message(box.tenant_id, box.number, folder, number, msg_id)
        audit.before = _voicemail_facts(message)
        audit.save(update_fields=["before"])
        _voicemail_changed(box)


def do_mark_voicemail_heard(actor, box: VoicemailBox, folder: str, number: int, *, msg_id: str = "") -> None:
    require_voicemail_access(actor, box)
    validate_plain_text(msg_id)
    if folder == voicemail_store.OLD:
        return
    with transaction.atomic():
        audit = record(actor, "voicemail_heard", box, None, None)
        before = voicemail_store.get_message(box.tenant_id, box.number, folder, number, msg_id)
        after = voicemail_store.mark_heard(box.tenant_id, box.number, folder, number, msg_id)
        audit.before, audit.after = _voicemail_facts(before), _voicemail_facts(after)
        audit.save(update_fields=["before", "after"])
        _voicemail_changed(box)


# -- language -----------------------------------------------------------------------------------


def do_set_language(actor, user: User, language: str) -> User:
    """The language the web speaks to the person (set as their language cookie at every login)."""
    from django.conf import settings

    require_self_or_admin(actor, user)
    if language not in dict(settings.LANGUAGES):
        raise ValidationError(_("That language is not available."))
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.language == language:
            return locked
        before = {"language": locked.language}
        locked.language = language
        locked.save(update_fields=["language"])
        record(actor, "language_set", locked, before, {"language": language})
    user.language = language
    return user
