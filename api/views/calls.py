"""Calls: the call log and queue log (kept), and the live calls (what the event bridge sees now) with the
console's controls. Every control is the console's own action (pbx.actions.calls): the call is looked up in
the caller's company's live state, the channels are the ones the bridge saw, never anything sent here."""

from __future__ import annotations

import django_filters
from asgiref.sync import async_to_sync
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from pbx.actions import calls as call_actions
from pbx.models import Device
from stats.models import CallLog, QueueEvent

from ..conventions import idempotent
from ..permissions import CompanyMember, runs_switchboard
from ..serializers import ScopedPrimaryKeyRelatedField, StrictSerializer, StrictStrings
from .base import IDEMPOTENCY_KEY, ReadOnlyCompanyViewSet

# --------------------------------------------------------------------------------------------- call log


class CallLogSerializer(StrictStrings, serializers.ModelSerializer):
    class Meta:
        model = CallLog
        fields = ("id", "linkedid", "started_at", "answered_at", "ended_at", "direction", "from_number", "from_name",
                  "to_number", "dialled_number", "caller", "answered_by", "queue", "wait_s", "queue_result", "talk_s",
                  "result", "forwarded_from", "forwarded_to", "forward_reason", "voicemail_box", "hangup_cause",
                  "transfers", "recorded", "complete")


class CallLogFilter(django_filters.FilterSet):
    started_after = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")
    number = django_filters.CharFilter(method="filter_number", help_text="From, to or dialled number.")

    class Meta:
        model = CallLog
        fields = ("direction", "result", "queue", "queue_result", "answered_by", "caller", "recorded")

    def filter_number(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(Q(from_number=value) | Q(to_number=value) | Q(dialled_number=value))


class CallLogViewSet(ReadOnlyCompanyViewSet):
    """The call log: one row per call, written when it ends. Company admins and operators read the company's;
    anyone else the calls their phones took part in. Newest first, keyset-paginated (no count)."""

    model, serializer_class, scope_area = CallLog, CallLogSerializer, "stats"
    schema_tags = ["calls"]
    filterset_class = CallLogFilter
    ordering_fields, ordering = ("started_at", "id"), ("-started_at", "-id")

    def get_queryset(self):
        user = self.request.user
        if getattr(self, "swagger_fake_view", False) or not getattr(user, "tenant_id", None):
            return CallLog.objects.none()
        queryset = CallLog.objects.filter(tenant_id=user.tenant_id)
        if not runs_switchboard(user):
            queryset = queryset.filter(users=user)
        return queryset


class QueueEventSerializer(StrictStrings, serializers.ModelSerializer):
    class Meta:
        model = QueueEvent
        fields = ("id", "call", "linkedid", "queue", "queue_name", "kind", "at", "position", "wait_s", "talk_s",
                  "agent")


class QueueEventFilter(django_filters.FilterSet):
    after = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    before = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = QueueEvent
        fields = ("queue", "kind", "agent", "call")


class QueueEventViewSet(ReadOnlyCompanyViewSet):
    """The queue log: callers entering, connected, abandoning... (company admins and operators)."""

    model, serializer_class, scope_area = QueueEvent, QueueEventSerializer, "stats"
    schema_tags = ["calls"]
    filterset_class = QueueEventFilter
    ordering_fields, ordering = ("at", "id"), ("-at", "-id")

    def visible_to(self, queryset, user):
        return queryset if user.is_operator else queryset.filter(agent=user)


# --------------------------------------------------------------------------------------------- live calls


class PartySerializer(StrictSerializer):
    channel = serializers.CharField()
    role = serializers.CharField()
    state = serializers.CharField()
    kind = serializers.CharField(required=False)
    user_id = serializers.IntegerField(required=False, allow_null=True)
    name = serializers.CharField(required=False, allow_blank=True)
    number = serializers.CharField(required=False, allow_blank=True)


class LiveCallSerializer(StrictSerializer):
    id = serializers.CharField()
    state = serializers.CharField(help_text="ringing, up, held, transferring...")
    direction = serializers.CharField(allow_null=True)
    started_at = serializers.CharField(allow_null=True)
    answered_at = serializers.CharField(allow_null=True)
    caller = serializers.DictField()
    dialled = serializers.CharField(allow_null=True, allow_blank=True)
    parties = PartySerializer(many=True)
    queue = serializers.DictField(allow_null=True)
    waiting = serializers.BooleanField(help_text="Waiting in a queue: it can be answered.")
    held = serializers.BooleanField()
    recording = serializers.BooleanField()
    transfers = serializers.IntegerField()


class CallResultSerializer(StrictSerializer):
    ok = serializers.BooleanField()
    action = serializers.CharField()
    call_id = serializers.CharField()


class CallRequestSerializer(StrictSerializer):
    number = serializers.CharField(max_length=32, help_text="An extension, a queue's extension or a phone number.")
    device = ScopedPrimaryKeyRelatedField(queryset=Device.objects.all(), required=False, allow_null=True,
                                          help_text="Which of your phones rings first (default: your first).")


class TransferSerializer(StrictSerializer):
    target = serializers.CharField(max_length=32, help_text="An extension or a phone number.")
    announced = serializers.BooleanField(default=False,
                                         help_text="Talk to the target first; then complete or cancel.")


class HoldSerializer(StrictSerializer):
    hold = serializers.BooleanField(default=True)


class RecordSerializer(StrictSerializer):
    action = serializers.ChoiceField(choices=call_actions.RECORD_ACTIONS)


class ListenSerializer(StrictSerializer):
    mode = serializers.ChoiceField(choices=tuple(call_actions.LISTEN_MODES))


def live_calls(user) -> list[dict]:
    from pbx.asterisk.bridge.state import live_state

    snapshot = async_to_sync(live_state().snapshot)(user.tenant_id)
    waiting = {w.get("call_id") for w in snapshot.get("waiting", ())}
    calls = []
    for view in snapshot.get("calls", ()):
        mine = any(p.get("kind") == "user" and p.get("user_id") == user.pk for p in view.get("parties", ()))
        if not (runs_switchboard(user) or mine):
            continue
        calls.append({**view, "waiting": view.get("id") in waiting})
    return calls


def _control(summary, request_serializer=None):
    return extend_schema(summary=summary, request=request_serializer, responses=CallResultSerializer,
                         parameters=[IDEMPOTENCY_KEY])


class LiveCallViewSet(viewsets.ViewSet):
    """Live calls of the company (operators and company admins: all; anyone else: their own) and the
    console's controls. Each control POST may carry an Idempotency-Key."""

    scope_area = "calls"
    schema_tags = ["calls"]
    permission_classes = [CompanyMember]
    lookup_value_regex = r"[0-9A-Za-z.\-]{1,64}"

    def _data(self, data_class):
        data = data_class(data=self.request.data, context={"request": self.request})
        data.is_valid(raise_exception=True)
        return data.validated_data

    @extend_schema(responses=LiveCallSerializer(many=True))
    def list(self, request):
        return Response(LiveCallSerializer(live_calls(request.user), many=True).data)

    @extend_schema(responses=LiveCallSerializer)
    def retrieve(self, request, pk=None):
        call = next((c for c in live_calls(request.user) if c["id"] == pk), None)
        if call is None:
            raise call_actions.CallGone()
        return Response(LiveCallSerializer(call).data)

    @_control("Call a number: your phone rings first, then the number (click-to-call)", CallRequestSerializer)
    @idempotent
    def create(self, request):
        values = self._data(CallRequestSerializer)
        result = call_actions.do_click_to_call(request.user, values["number"], device=values.get("device"))
        return Response(result, status=status.HTTP_201_CREATED)

    @_control("Answer a caller waiting in a queue (this one, not the queue's oldest)")
    @action(detail=True, methods=["post"], url_path="answer")
    @idempotent
    def answer(self, request, pk=None):
        return Response(call_actions.do_answer_waiting_call(request.user, pk))

    @_control("Transfer the call, blind or announced", TransferSerializer)
    @action(detail=True, methods=["post"], url_path="transfer")
    @idempotent
    def transfer(self, request, pk=None):
        values = self._data(TransferSerializer)
        return Response(call_actions.do_transfer_call(request.user, pk, values["target"],
                                                      announced=values["announced"]))

    @_control("Complete an announced transfer")
    @action(detail=True, methods=["post"], url_path="complete-transfer")
    @idempotent
    def complete_transfer(self, request, pk=None):
        return Response(call_actions.do_complete_transfer(request.user, pk))

    @_control("Cancel an announced transfer: the call comes back")
    @action(detail=True, methods=["post"], url_path="cancel-transfer")
    @idempotent
    def cancel_transfer(self, request, pk=None):
        return Response(call_actions.do_cancel_transfer(request.user, pk))

    @_control("Put the call on hold (hold: false takes it back)", HoldSerializer)
    @action(detail=True, methods=["post"], url_path="hold")
    @idempotent
    def hold(self, request, pk=None):
        values = self._data(HoldSerializer)
        return Response(call_actions.do_hold_call(request.user, pk, hold=values["hold"]))

    @_control("Hang up the call for everybody on it")
    @action(detail=True, methods=["post"], url_path="hangup")
    @idempotent
    def hangup(self, request, pk=None):
        return Response(call_actions.do_hangup_call(request.user, pk))

    @_control("Start, pause, resume or stop recording", RecordSerializer)
    @action(detail=True, methods=["post"], url_path="record")
    @idempotent
    def record(self, request, pk=None):
        values = self._data(RecordSerializer)
        return Response(call_actions.do_record_call(request.user, pk, values["action"]))

    @_control("Listen in, whisper or barge (your phone rings)", ListenSerializer)
    @action(detail=True, methods=["post"], url_path="listen")
    @idempotent
    def listen(self, request, pk=None):
        values = self._data(ListenSerializer)
        return Response(call_actions.do_listen_in(request.user, pk, values["mode"]))
