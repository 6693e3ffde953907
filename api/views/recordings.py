"""Call recordings (``/recordings/``): the recording web's list, player, evaluation and deletion, for scripts.

Access is the recording web's, to the letter. Rows come from ``recording.selectors.recordings_visible_to``
(no recording role: 403; "own": one's own; a restricted user: their chosen departments; a super user: the
whole company; another company's id, or one outside the role, is 404). Every change is the recording web's
own action (``do_log_listen`` for a play, ``do_evaluate_recording``, ``do_delete_recordings``), and the file
goes out through the same streaming (``recording.media``: HTTP Range, If-Range). With the browser session
the recording web's two-factor rule applies; a company key needs ``recordings:read`` / ``recordings:write``
and acts with the recording role of the admin who made it.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from pbx.models import Queue, User
from portal.mfa import lacks_required_two_factor
from recording import actions
from recording import media as recording_media
from recording.forms import Period, period_bounds
from recording.models import EvaluationAnswer, EvaluationChoice, EvaluationQuestion, Recording
from recording.selectors import may_use_recording_web, recordings_visible_to
from stats.periods import zone_of

from ..conventions import ETagMixin, StrictOrderingFilter, check_if_match, etag_of_data, require_if_match
from ..permissions import CompanyMember
from ..problems import problem
from ..serializers import ScopedPrimaryKeyRelatedField, StrictSerializer, StrictStrings
from .base import IF_MATCH

RECORDING_WEB = "/recordings/"  # the path whose two-factor rule (portal.mfa.ALWAYS_TWO_FACTOR) the API keeps
PERIODS = [(value, label) for value, label in Period.CHOICES if value != Period.CUSTOM]


class RecordingAccess(permissions.BasePermission):
    """A recording role, and with the browser session the second factor the recording web asks of everyone."""

    def has_permission(self, request, view) -> bool:
        if not hasattr(view, request.method.lower()) or (hasattr(view, "action_map") and view.action is None):
            return True  # a method the endpoint does not have: 405 follows
        if not may_use_recording_web(request.user):
            self.message = _("You have no access to call recordings.")
            return False
        if request.auth is None and lacks_required_two_factor(request.user, RECORDING_WEB):
            self.message = _("Set up two-factor sign-in first: call recordings require it.")
            return False
        return True


# --------------------------------------------------------------------------------------------- the list


def _people(request):
    tenant_id = getattr(getattr(request, "user", None), "tenant_id", None)
    return User.objects.filter(tenant_id=tenant_id) if tenant_id else User.objects.none()


def _queues(request):
    tenant_id = getattr(getattr(request, "user", None), "tenant_id", None)
    return Queue.objects.filter(tenant_id=tenant_id) if tenant_id else Queue.objects.none()


class RecordingFilter(django_filters.FilterSet):
    """The recording web's filters that an integration needs. Dates are the company's calendar days."""

    period = django_filters.ChoiceFilter(choices=PERIODS, method="filter_period",
                                         help_text="A period of the company's calendar, as the recording web's.")
    date_from = django_filters.DateFilter(method="filter_date_from", help_text="From this local day.")
    date_to = django_filters.DateFilter(method="filter_date_to", help_text="To this local day, inclusive.")
    person = django_filters.ModelChoiceFilter(field_name="user", queryset=_people,
                                              help_text="The person recorded (a person's id).")
    queue = django_filters.ModelChoiceFilter(queryset=_queues, help_text="The queue the call came through.")
    number = django_filters.CharFilter(method="filter_number", max_length=20,
                                       help_text="The other party's or the dialled number, or part of it.")

    class Meta:
        model = Recording
        fields = ("period", "date_from", "date_to", "person", "queue", "reason", "status", "direction", "flag")

    @property
    def zone(self):
        return zone_of(self.request.user.tenant)

    def _midnight(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.min, tzinfo=self.zone)

    def filter_period(self, queryset, name, value):
        first, last = period_bounds(value, None, None, timezone.now().astimezone(self.zone).date())
        return queryset.filter(started_at__gte=self._midnight(first),
                               started_at__lt=self._midnight(last + dt.timedelta(days=1)))

    def filter_date_from(self, queryset, name, value):
        return queryset.filter(started_at__gte=self._midnight(value))

    def filter_date_to(self, queryset, name, value):
        return queryset.filter(started_at__lt=self._midnight(value + dt.timedelta(days=1)))

    def filter_number(self, queryset, name, value):
        digits = value.strip().replace(" ", "").replace("-", "")
        if not digits.lstrip("+").isdigit():
            raise exceptions.ValidationError({"number": [_("Only digits and a leading +.")]})
        return queryset.filter(Q(other_number__contains=digits) | Q(dialled_number__contains=digits))


class RecordingSerializer(StrictStrings, serializers.ModelSerializer):
    person = serializers.IntegerField(source="user_id", allow_null=True, read_only=True)
    person_name = serializers.SerializerMethodField()
    content_type = serializers.SerializerMethodField(help_text="audio/ogg (Opus) or audio/wav.")
    media = serializers.SerializerMethodField(help_text="Where the sound is: GET it, with Range to seek.")
    # Declared: DRF drops allow_blank from a read-only model field, and the schema would then refuse "".
    flag = serializers.ChoiceField(choices=Recording.Flag.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Recording
        fields = ("id", "call", "linkedid", "started_at", "ended_at", "duration_s", "paused", "person", "person_name",
                  "extension", "other_number", "other_name", "dialled_number", "direction", "queue", "department",
                  "office", "cost_centre", "reason", "status", "stored_size", "content_type", "media",
                  "talk_person_s", "talk_other_s", "overtalk_s", "longest_silence_s", "other_share", "tag", "flag",
                  "call_result", "customer_response", "notes", "score")
        read_only_fields = fields

    def get_person_name(self, recording) -> str:
        return recording.user.display_name if recording.user_id and recording.user else ""

    def get_content_type(self, recording) -> str | None:
        return recording_media.content_type(recording) if recording.stored_path else None

    def get_media(self, recording) -> str | None:
        if recording.status != Recording.Status.STORED:
            return None
        return reverse("api:recording-media", args=[recording.pk])


# --------------------------------------------------------------------------------------------- evaluation


class AnswerSerializer(StrictSerializer):
    question = ScopedPrimaryKeyRelatedField(queryset=EvaluationQuestion.objects.filter(active=True),
                                            help_text="A question of the company's evaluation form (in use).")
    text = serializers.CharField(read_only=True)
    answer = serializers.ChoiceField(choices=EvaluationAnswer.Answer.choices, allow_null=True,
                                     help_text="yes, no or na (not applicable); null clears it.")


class EvaluationSerializer(StrictSerializer):
    """"Samtalsanteckningar" and "Utvärdera": result, response, flag, tag, notes and the form's answers."""

    call_result = ScopedPrimaryKeyRelatedField(
        queryset=EvaluationChoice.objects.filter(kind=EvaluationChoice.Kind.RESULT), allow_null=True,
        required=False, help_text="One of the company's call results.")
    customer_response = ScopedPrimaryKeyRelatedField(
        queryset=EvaluationChoice.objects.filter(kind=EvaluationChoice.Kind.RESPONSE), allow_null=True,
        required=False, help_text="One of the company's customer responses.")
    flag = serializers.ChoiceField(choices=Recording.Flag.choices, allow_blank=True, required=False,
                                   help_text="Empty: no flag.")
    tag = serializers.CharField(max_length=60, allow_blank=True, required=False)
    notes = serializers.CharField(max_length=4000, allow_blank=True, required=False, trim_whitespace=False)
    answers = AnswerSerializer(many=True, required=False,
                               help_text="Every question of the form in use, with its answer (null: none yet). "
                                         "PUT: questions left out are cleared; PATCH: they are kept.")
    score = serializers.IntegerField(read_only=True, allow_null=True,
                                     help_text="Yes answers as a percentage of the yes and no answers.")

    def validate_answers(self, value):
        questions = [item["question"].pk for item in value]
        if len(questions) != len(set(questions)):
            raise serializers.ValidationError(_("Each question once."))
        return value


def evaluation_of(recording: Recording) -> dict:
    given = dict(EvaluationAnswer.objects.filter(recording=recording).values_list("question_id", "answer"))
    questions = EvaluationQuestion.objects.filter(tenant_id=recording.tenant_id, active=True)
    return {
        "call_result": recording.call_result_id, "customer_response": recording.customer_response_id,
        "flag": recording.flag, "tag": recording.tag, "notes": recording.notes, "score": recording.score,
        "answers": [{"question": q.pk, "text": q.text, "answer": given.get(q.pk)} for q in questions],
    }


def evaluation_response(recording: Recording) -> Response:
    data = evaluation_of(recording)
    return Response(data, headers={"ETag": etag_of_data(data)})


# --------------------------------------------------------------------------------------------- the viewset

MEDIA = {(status, kind): OpenApiTypes.BINARY for status in (200, 206) for kind in ("audio/ogg", "audio/wav")}
RANGE = OpenApiParameter("Range", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                         description="One byte range, e.g. bytes=0-65535, bytes=65536- or bytes=-4096: 206 with "
                                     "Content-Range. Anything else: the whole file.")
IF_RANGE = OpenApiParameter("If-Range", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                            description="The media's ETag: the Range holds only if the file is still that one.")


@extend_schema_view(destroy=extend_schema(parameters=[IF_MATCH]))
class RecordingViewSet(ETagMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                       viewsets.GenericViewSet):
    """Call recordings as the recording web shows them to you: your own ("My Console"), your departments' (a
    restricted user) or the company's (a recording super user). Newest first, keyset-paginated."""

    serializer_class = RecordingSerializer
    scope_area = "recordings"
    schema_tags = ["recordings"]
    permission_classes = [CompanyMember, RecordingAccess]
    filter_backends = (django_filters.rest_framework.DjangoFilterBackend, StrictOrderingFilter)
    filterset_class = RecordingFilter
    ordering_fields, ordering = ("started_at", "id"), ("-started_at", "-id")
    problem_statuses = {"media": ("416",)}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Recording.objects.none()
        return recordings_visible_to(self.request.user).select_related("user")

    def perform_content_negotiation(self, request, force=False):
        # The media answers audio whatever Accept says (a player asks for audio/*); refusals stay problem+json.
        return super().perform_content_negotiation(request, force=force or self.action == "media")

    def destroy(self, request, *args, **kwargs):
        """Delete the recording (recording super users, as "Radera markerade"): gone from every list at once,
        its file removed within the hour."""
        recording = self.get_object()
        actions.require_recording_super(request.user, recording)
        check_if_match(request, recording)
        actions.do_delete_recordings(request.user, recordings_visible_to(request.user).filter(pk=recording.pk))
        return Response(status=204)

    @extend_schema(responses=MEDIA, parameters=[RANGE, IF_RANGE])
    @action(detail=True, methods=["get"])
    def media(self, request, pk=None):
        """The sound, as the recording web's player gets it: the whole file (200) or one byte range (206), with
        an ETag for If-Range. A GET from the first byte is audited as a play ("who listened to what")."""
        recording = self.get_object()
        try:
            response = recording_media.stream(request, recording, attachment=False)
        except recording_media.RangeNotSatisfiable as refused:
            return problem(416, _("That range starts beyond the end of the recording."), code="range_not_satisfiable",
                           headers={"Content-Range": f"bytes */{refused.size}"})
        if recording_media.starts_a_play(request, response):
            actions.do_log_listen(request.user, recording, "played")
        return response

    @extend_schema(methods=["GET"], request=None, responses=EvaluationSerializer)
    @extend_schema(methods=["PUT", "PATCH"], request=EvaluationSerializer, responses=EvaluationSerializer,
                   parameters=[IF_MATCH])
    @action(detail=True, methods=["get", "put", "patch"])
    def evaluation(self, request, pk=None):
        """The recording's evaluation, with its ETag; PUT replaces it, PATCH changes what it names (If-Match).
        Whoever may hear the recording may evaluate it, as on the recording web."""
        recording = self.get_object()
        if request.method == "GET":
            return evaluation_response(recording)
        partial = request.method == "PATCH"
        data = EvaluationSerializer(data=request.data, partial=partial, context={"request": request})
        data.is_valid(raise_exception=True)
        require_if_match(request, lambda: etag_of_data(evaluation_of(recording)))
        values = data.validated_data

        def kept(name, default):
            return values.get(name, default if partial else None)

        # PUT is the whole form: a question it leaves out is cleared, as the web's form posts every question.
        answers = {} if partial else {q["question"]: "" for q in evaluation_of(recording)["answers"]}
        answers.update({item["question"].pk: item["answer"] or "" for item in values.get("answers", ())})
        actions.do_evaluate_recording(
            request.user, recording,
            call_result=kept("call_result", recording.call_result),
            customer_response=kept("customer_response", recording.customer_response),
            flag=kept("flag", recording.flag) or "", tag=kept("tag", recording.tag) or "",
            notes=kept("notes", recording.notes) or "", answers=answers)
        return evaluation_response(Recording.objects.get(pk=recording.pk))
