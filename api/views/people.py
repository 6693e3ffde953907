"""A person's own things: presence ("hänvisning"), forwarding profiles, caller ID, voicemail messages.

The same rules as the user web: oneself, or a company admin for anyone (voicemail: the box's owner and
members only, not even an admin).
"""

from __future__ import annotations

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from pbx import voicemail_store as store
from pbx.actions import (
    do_activate_profile,
    do_create_forwarding_profile,
    do_delete_forwarding_profile,
    do_delete_voicemail,
    do_mark_voicemail_heard,
    do_save_forwarding_profile,
    do_set_caller_id,
    do_set_presence,
)
from pbx.actions.selfservice import caller_id_choices, voicemail_boxes_of
from pbx.models import ForwardingProfile, ForwardingRule, Number, PresenceStatus, Schedule, User, UserPresence

from ..permissions import CompanyMember
from ..serializers import ActionSerializer, ScopedPrimaryKeyRelatedField, StrictSerializer, StrictStrings
from .base import CompanyViewSet
from .routing import serializer_for

# --------------------------------------------------------------------------------------------- presence

PresenceStatusSerializer = serializer_for(PresenceStatus)


class PresenceStatusViewSet(CompanyViewSet):
    """The company's statuses ("Lunch", "Meeting"...), each with where calls go meanwhile."""

    model, serializer_class, scope_area = PresenceStatus, PresenceStatusSerializer, "presence"
    ordering_fields, ordering = ("sort_order", "name", "id"), ("sort_order", "name", "id")
    filterset_fields = ("code", "asterisk_state")


class PresenceSerializer(StrictStrings, serializers.ModelSerializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    status = ScopedPrimaryKeyRelatedField(queryset=PresenceStatus.objects.all(), allow_null=True, required=False)

    class Meta:
        model = UserPresence
        fields = ("user", "status", "message", "until", "set_at")
        read_only_fields = ("set_at",)
        validators: list = []


def presence_of(user: User) -> UserPresence:
    return UserPresence.objects.filter(user=user).first() or UserPresence(tenant_id=user.tenant_id, user=user)


# --------------------------------------------------------------------------------------------- caller ID


class CallerIdSerializer(StrictSerializer):
    number = ScopedPrimaryKeyRelatedField(queryset=Number.objects.all(), allow_null=True,
                                          help_text="A number id among the choices; null: the company's main number.")
    choices = serializers.SerializerMethodField()

    def get_choices(self, user) -> list[dict]:
        return [{"id": n.pk, "e164": n.e164, "kind": n.kind, "label": n.label} for n in caller_id_choices(user)]

    def to_representation(self, user):
        return {"number": user.caller_id_number_id, "choices": self.get_choices(user)}


class PersonalMixin:
    """``/people/{id}/presence/`` and ``/people/{id}/caller-id/``, mixed into the people's viewset."""

    action_areas = {"presence": "presence", "caller_id": "presence"}

    @extend_schema(methods=["PUT"], request=PresenceSerializer, responses=PresenceSerializer)
    @extend_schema(methods=["GET", "DELETE"], request=None, responses=PresenceSerializer)
    @action(detail=True, methods=["get", "put", "delete"])
    def presence(self, request, pk=None):
        """The person's status: read it, set it (status, message, until) or clear it (DELETE: available)."""
        user = self.get_object()
        if request.method == "PUT":
            data = PresenceSerializer(data=request.data, context={"request": request})
            data.is_valid(raise_exception=True)
            values = data.validated_data
            do_set_presence(request.user, user, values.get("status"), message=values.get("message", ""),
                            until=values.get("until"))
        elif request.method == "DELETE":
            do_set_presence(request.user, user, None)
        return Response(PresenceSerializer(presence_of(user), context={"request": request}).data)

    @extend_schema(methods=["PUT"], request=CallerIdSerializer, responses=CallerIdSerializer)
    @extend_schema(methods=["GET"], request=None, responses=CallerIdSerializer)
    @action(detail=True, methods=["get", "put"], url_path="caller-id")
    def caller_id(self, request, pk=None):
        """The number shown when the person calls out, and the numbers they may choose from."""
        user = self.get_object()
        if request.method == "GET" and not (request.user.is_company_admin or request.user.pk == user.pk):
            raise exceptions.PermissionDenied(_("You may only change your own settings."))
        if request.method == "PUT":
            data = CallerIdSerializer(user, data=request.data, context={"request": request})
            data.is_valid(raise_exception=True)
            user = do_set_caller_id(request.user, user, data.validated_data["number"])
        return Response(CallerIdSerializer(user, context={"request": request}).data)


# --------------------------------------------------------------------------------------------- forwarding


class RuleSerializer(StrictStrings, serializers.ModelSerializer):
    class Meta:
        model = ForwardingRule
        fields = ("line", "action", "forward_number", "no_answer_seconds", "on_no_answer", "no_answer_number",
                  "on_busy", "busy_number", "on_unreachable", "unreachable_number")
        validators: list = []


class ForwardingProfileSerializer(ActionSerializer):
    rules = RuleSerializer(many=True, required=False,
                           help_text="One rule per line (fixed, mobile); a rule sent replaces that line's rule.")
    schedule = ScopedPrimaryKeyRelatedField(queryset=Schedule.objects.all(), allow_null=True, required=False)

    class Meta(ActionSerializer.Meta):
        model = ForwardingProfile
        fields = ("id", "user", "name", "is_active", "activation", "schedule", "rules")
        read_only_fields = ("is_active",)

    def create(self, validated_data):
        rules = validated_data.pop("rules", None)
        profile = do_create_forwarding_profile(self.actor, validated_data["user"], validated_data["name"])
        if rules or "activation" in validated_data or "schedule" in validated_data:
            return self.update(profile, {**validated_data, "rules": rules or []})
        return profile

    def update(self, instance, validated_data):
        rules_data = validated_data.pop("rules", None) or []
        if "user" in validated_data and validated_data["user"].pk != instance.user_id:
            raise exceptions.ValidationError({"user": [_("A profile cannot be given to someone else.")]})
        for name in ("name", "activation", "schedule"):
            if name in validated_data:
                setattr(instance, name, validated_data[name])
        existing = {rule.line: rule for rule in instance.rules.all()}
        rules = []
        for data in rules_data:
            rule = existing.get(data["line"]) or ForwardingRule(profile=instance, line=data["line"])
            for name, value in data.items():
                setattr(rule, name, value)
            rules.append(rule)
        return do_save_forwarding_profile(self.actor, instance, rules)


class ForwardingProfileViewSet(CompanyViewSet):
    """Forwarding profiles ("profiler"): what happens to a person's calls on each line. One's own, or anyone's
    for a company admin."""

    model, serializer_class, scope_area = ForwardingProfile, ForwardingProfileSerializer, "presence"
    ordering_fields, ordering = ("id", "name"), ("id",)
    filterset_fields = ("user", "is_active", "activation")

    def base_queryset(self):
        return ForwardingProfile.objects.prefetch_related("rules")

    def visible_to(self, queryset, user):
        return queryset.filter(user=user)

    def perform_destroy(self, instance):
        do_delete_forwarding_profile(self.request.user, instance)

    def _done(self, request, profile):
        profile.refresh_from_db()
        return self.with_etag(Response(ForwardingProfileSerializer(profile, context={"request": request}).data),
                              profile)

    @extend_schema(request=None, responses=ForwardingProfileSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        """Make this the person's active profile."""
        profile = self.get_object()
        do_activate_profile(request.user, profile)
        return self._done(request, profile)

    @extend_schema(request=None, responses=ForwardingProfileSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        """No active profile: the person's calls simply ring again."""
        profile = self.get_object()
        if profile.is_active:
            do_activate_profile(request.user, None, user=profile.user)
        return self._done(request, profile)


# --------------------------------------------------------------------------------------------- voicemail

FOLDER_SLUGS = {"urgent": store.URGENT, "inbox": store.INBOX, "old": store.OLD}
SLUG_OF = {folder: slug for slug, folder in FOLDER_SLUGS.items()}


class VoicemailMessageSerializer(StrictSerializer):
    box = serializers.IntegerField()
    folder = serializers.ChoiceField(choices=list(FOLDER_SLUGS))
    number = serializers.IntegerField()
    msg_id = serializers.CharField()
    caller_name = serializers.CharField()
    caller_number = serializers.CharField()
    received = serializers.DateTimeField(allow_null=True)
    duration_s = serializers.IntegerField()
    is_new = serializers.BooleanField()


def _message_data(box, message) -> dict:
    return {"box": box.pk, "folder": SLUG_OF[message.folder], "number": message.number, "msg_id": message.msg_id,
            "caller_name": message.caller_name, "caller_number": message.caller_number, "received": message.received,
            "duration_s": message.duration_s, "is_new": message.is_new}


class VoicemailMixin:
    scope_area = "voicemail"
    schema_tags = ["voicemail"]
    permission_classes = [CompanyMember]

    def box(self, request, box_id: int):
        return get_object_or_404(voicemail_boxes_of(request.user), pk=box_id)

    def folder(self, slug: str) -> str:
        if slug not in FOLDER_SLUGS:
            raise exceptions.NotFound()
        return FOLDER_SLUGS[slug]

    def message(self, request, box_id, folder, number):
        box = self.box(request, box_id)
        try:
            return box, store.get_message(box.tenant_id, box.number, self.folder(folder), number)
        except (store.VoicemailError, ValueError):
            raise exceptions.NotFound() from None


class VoicemailListView(VoicemailMixin, APIView):
    """The messages in the caller's own voicemail boxes (personal, and shared boxes they belong to)."""

    @extend_schema(responses=VoicemailMessageSerializer(many=True))
    def get(self, request):
        found = []
        for box in voicemail_boxes_of(request.user):
            try:
                found += [_message_data(box, m) for m in store.list_messages(box.tenant_id, box.number)]
            except ValueError:
                continue
        return Response(VoicemailMessageSerializer(found, many=True).data)


class VoicemailMessageView(VoicemailMixin, APIView):
    """One message: read it, delete it."""

    @extend_schema(responses=VoicemailMessageSerializer)
    def get(self, request, box_id: int, folder: str, number: int):
        box, message = self.message(request, box_id, folder, number)
        return Response(VoicemailMessageSerializer(_message_data(box, message)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, box_id: int, folder: str, number: int):
        box, message = self.message(request, box_id, folder, number)
        do_delete_voicemail(request.user, box, message.folder, message.number, msg_id=message.msg_id)
        return Response(status=204)


class VoicemailHeardView(VoicemailMixin, APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request, box_id: int, folder: str, number: int):
        """Mark the message heard (it moves to the Old folder)."""
        box, message = self.message(request, box_id, folder, number)
        do_mark_voicemail_heard(request.user, box, message.folder, message.number, msg_id=message.msg_id)
        return Response(status=204)


class VoicemailAudioView(VoicemailMixin, APIView):
    @extend_schema(responses={(200, "audio/wav"): OpenApiTypes.BINARY})
    def get(self, request, box_id: int, folder: str, number: int):
        """The message's sound."""
        _box, message = self.message(request, box_id, folder, number)
        if message.audio is None:
            raise exceptions.NotFound()
        return FileResponse(message.audio.open("rb"), content_type=message.content_type)
