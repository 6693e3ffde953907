"""Numbers and destinations; queues and their agents; menus, schedules, prompts, voicemail boxes, conferences."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from pbx.actions import do_queue_login, do_queue_logout, do_queue_pause, do_set_schedule_override, do_upload_prompt
from pbx.models import (
    Conference,
    Destination,
    IvrMenu,
    IvrOption,
    Number,
    Prompt,
    Queue,
    QueueAgent,
    Schedule,
    SpecialDay,
    VoicemailBox,
    WeeklyHours,
)

from ..serializers import ActionSerializer, StrictSerializer
from .base import CompanyViewSet


def serializer_for(model_class, *, read_only=(), write_only=(), name=None, declared=None):
    """Every field of the model but its company; generated fields (editable=False) read only."""
    meta = type("Meta", (ActionSerializer.Meta,), {
        "model": model_class, "exclude": ("tenant",), "read_only_fields": tuple(read_only),
        "extra_kwargs": {f: {"write_only": True} for f in write_only},
    })
    return type(name or f"{model_class.__name__}Serializer", (ActionSerializer,), {"Meta": meta, **(declared or {})})


# --------------------------------------------------------------------------------------------- numbers

NumberSerializer = serializer_for(Number, read_only=("is_verified",))
DestinationSerializer = serializer_for(Destination)


class NumberViewSet(CompanyViewSet):
    """The company's phone numbers and where each one leads (open / closed by schedule)."""

    model, serializer_class, scope_area = Number, NumberSerializer, "numbers"
    ordering_fields, ordering = ("e164", "id"), ("e164",)
    filterset_fields = ("kind", "user", "destination", "schedule", "e164")


class DestinationViewSet(CompanyViewSet):
    """Where calls go: a person, a queue, a menu, a mailbox, a conference, an outside number, a callback..."""

    model, serializer_class, scope_area = Destination, DestinationSerializer, "numbers"
    ordering_fields, ordering = ("id", "kind", "label"), ("id",)
    filterset_fields = ("kind", "user", "queue", "menu", "voicemail_box", "conference")


# --------------------------------------------------------------------------------------------- queues

QueueSerializer = serializer_for(Queue)
QueueAgentSerializer = serializer_for(QueueAgent, read_only=("logged_in", "paused", "pause_reason"))


class PauseSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")


class QueueViewSet(CompanyViewSet):
    """Queues ("svarsgrupper")."""

    model, serializer_class, scope_area = Queue, QueueSerializer, "queues"
    ordering_fields, ordering = ("name", "extension", "id"), ("name",)
    filterset_fields = ("extension", "strategy", "callback_enabled")


class QueueAgentViewSet(CompanyViewSet):
    """Who answers which queue. A company admin adds and removes agents; an agent logs in and out, pauses and
    resumes (their own memberships; an admin anyone's), as from the phone, the user web or the console."""

    model, serializer_class, scope_area = QueueAgent, QueueAgentSerializer, "queues"
    ordering_fields, ordering = ("id", "priority"), ("id",)
    filterset_fields = ("queue", "user", "logged_in", "paused")

    def _done(self, agent):
        agent.refresh_from_db()
        return self.with_etag(Response(QueueAgentSerializer(agent, context={"request": self.request}).data), agent)

    @extend_schema(request=None, responses=QueueAgentSerializer)
    @action(detail=True, methods=["post"])
    def login(self, request, pk=None):
        """Log the agent in to the queue."""
        return self._done(do_queue_login(request.user, self.get_object()))

    @extend_schema(request=None, responses=QueueAgentSerializer)
    @action(detail=True, methods=["post"])
    def logout(self, request, pk=None):
        """Log the agent out of the queue."""
        return self._done(do_queue_logout(request.user, self.get_object()))

    @extend_schema(request=PauseSerializer, responses=QueueAgentSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        """Pause a logged-in agent (with a reason)."""
        agent = self.get_object()
        data = PauseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not agent.logged_in:
            raise exceptions.ValidationError({"non_field_errors": [
                _("Log in to %(queue)s before pausing.") % {"queue": agent.queue.name}]})
        return self._done(do_queue_pause(request.user, agent, paused=True, reason=data.validated_data["reason"]))

    @extend_schema(request=None, responses=QueueAgentSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """End the agent's pause."""
        return self._done(do_queue_pause(request.user, self.get_object(), paused=False))


# --------------------------------------------------------------------------------------------- call flow

IvrMenuSerializer = serializer_for(IvrMenu)
IvrOptionSerializer = serializer_for(IvrOption)
ScheduleSerializer = serializer_for(Schedule, read_only=("override", "override_until"))
WeeklyHoursSerializer = serializer_for(WeeklyHours)
SpecialDaySerializer = serializer_for(SpecialDay)
VoicemailBoxSerializer = serializer_for(VoicemailBox, write_only=("pin",))
ConferenceSerializer = serializer_for(Conference, write_only=("pin",))


class OverrideSerializer(StrictSerializer):
    override = serializers.ChoiceField(choices=[("", "follow the schedule"), *Schedule.Override.choices],
                                       allow_blank=True)
    until = serializers.DateTimeField(required=False, allow_null=True, default=None)


class IvrMenuViewSet(CompanyViewSet):
    """IVR menus ("knappval")."""

    model, serializer_class, scope_area = IvrMenu, IvrMenuSerializer, "callflow"
    ordering_fields, ordering = ("name", "id"), ("name",)
    filterset_fields = ("name",)


class IvrOptionViewSet(CompanyViewSet):
    """A menu's keys: which digit leads where."""

    model, serializer_class, scope_area = IvrOption, IvrOptionSerializer, "callflow"
    ordering_fields, ordering = ("id", "digit"), ("id",)
    filterset_fields = ("menu", "digit")


class ScheduleViewSet(CompanyViewSet):
    """Opening-hours schedules; ``override`` forces open or closed now (until a time), as the console does."""

    model, serializer_class, scope_area = Schedule, ScheduleSerializer, "callflow"
    ordering_fields, ordering = ("name", "id"), ("name",)
    filterset_fields = ("name", "override")

    @extend_schema(request=OverrideSerializer, responses=ScheduleSerializer)
    @action(detail=True, methods=["post"])
    def override(self, request, pk=None):
        """Force the schedule open or closed (until a time, or until cleared); an empty override follows it again."""
        schedule = self.get_object()
        data = OverrideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        schedule = do_set_schedule_override(request.user, schedule, data.validated_data["override"],
                                            until=data.validated_data["until"])
        return self.with_etag(Response(ScheduleSerializer(schedule, context={"request": request}).data), schedule)


class WeeklyHoursViewSet(CompanyViewSet):
    """A schedule's weekly opening hours."""

    model, serializer_class, scope_area = WeeklyHours, WeeklyHoursSerializer, "callflow"
    ordering_fields, ordering = ("id", "weekday"), ("id",)
    filterset_fields = ("schedule", "weekday")


class SpecialDayViewSet(CompanyViewSet):
    """A schedule's holidays and special days."""

    model, serializer_class, scope_area = SpecialDay, SpecialDaySerializer, "callflow"
    ordering_fields, ordering = ("id", "start_date"), ("id",)
    filterset_fields = ("schedule",)


class VoicemailBoxViewSet(CompanyViewSet):
    """Voicemail boxes (their PIN is write-only). Messages: ``/voicemail-boxes/{id}/messages/``."""

    model, serializer_class, scope_area = VoicemailBox, VoicemailBoxSerializer, "callflow"
    ordering_fields, ordering = ("number", "id"), ("number",)
    filterset_fields = ("kind", "owner", "number")


class ConferenceViewSet(CompanyViewSet):
    """Conference rooms (their PIN is write-only)."""

    model, serializer_class, scope_area = Conference, ConferenceSerializer, "callflow"
    ordering_fields, ordering = ("name", "extension", "id"), ("name",)
    filterset_fields = ("extension",)


# --------------------------------------------------------------------------------------------- prompts


class PromptSerializer(ActionSerializer):
    file = serializers.FileField(write_only=True, help_text="A sound file (wav, mp3, m4a, ogg, flac, aac, webm); "
                                 "converted for Asterisk, refused if it is not audio.")

    class Meta(ActionSerializer.Meta):
        model = Prompt
        fields = ("id", "name", "duration_ms", "sound_name", "created_at", "file")
        read_only_fields = ("duration_ms", "sound_name", "created_at")

    def validate_file(self, value):
        if value.size > settings.PROMPT_MAX_UPLOAD_BYTES:
            raise serializers.ValidationError(_("The file is too large."))
        return value

    def _upload(self, validated_data, prompt=None):
        upload = validated_data.get("file")
        name = validated_data.get("name", prompt.name if prompt else "")
        if upload is None:
            raise exceptions.ValidationError({"file": [_("Send the sound file.")]})
        from pbx.models import Tenant

        return do_upload_prompt(self.actor, Tenant.objects.get(pk=self.actor.tenant_id), name=name,
                                data=upload.read(), filename=upload.name or "", prompt=prompt)

    def create(self, validated_data):
        return self._upload(validated_data)

    def update(self, instance, validated_data):
        if "file" in validated_data:
            return self._upload(validated_data, instance)
        return super().update(instance, validated_data)


class PromptViewSet(CompanyViewSet):
    """Voice prompts: uploaded as multipart/form-data and converted through the same safe audio path as the
    admin (pbx.audio.convert_prompt: a file that is not audio changes nothing)."""

    model, serializer_class, scope_area = Prompt, PromptSerializer, "callflow"
    ordering_fields, ordering = ("name", "id"), ("name",)
    filterset_fields = ("name",)
    parser_classes = (MultiPartParser, FormParser)

    def get_serializer(self, *args, **kwargs):
        if self.action in ("update", "partial_update"):
            kwargs["partial"] = True  # a new name, a new file, or both
        return super().get_serializer(*args, **kwargs)


