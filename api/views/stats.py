"""Statistics (``/stats/queues/``, ``/stats/agents/``, ``/stats/volumes/``): the figures /stats/ shows.

Each answer is read through ``stats.reports`` (the 15-minute intervals) and derived by ``stats.definitions``,
the one place the web, the exports and the wallboard read: no figure is computed here. Visibility is
/stats/'s (``stats.access.scope_of``): everyone their own calls; a queue's agents that queue's figures and
their own agent figures; company admins and operators the company. A queue or person outside that, or of
another company, is 404.
"""

from __future__ import annotations

from dataclasses import fields

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from pbx.models import Queue, User
from stats import definitions as defs
from stats import periods, reports
from stats.access import Scope, scope_of
from stats.models import CallLog

from ..permissions import CompanyMember

MAX_DAYS = 400  # as /stats/: a range is at most this long
DIRECTIONS = tuple(CallLog.Direction.values)
PERIODS = ("today", "week", "month")
KIND_OF = {"today": "day", "week": "week", "month": "month"}

# ------------------------------------------------------------------------------------------------ the query


class StatsQuerySerializer(serializers.Serializer):
    """The period (``period``, or ``from`` and ``to``) and the optional narrowing."""

    period = serializers.ChoiceField(choices=PERIODS, required=False,
                                     help_text="The company's today, this week (Monday–Sunday) or this month. "
                                               "Without it and without from/to: today.")
    queue = serializers.IntegerField(required=False, min_value=1, help_text="Only this queue (its id).")
    agent = serializers.IntegerField(required=False, min_value=1, help_text="Only this person (their id).")

    def get_fields(self):
        fields = super().get_fields()
        # "from" is a keyword in Python: the two dates are added by name.
        fields["from"] = serializers.DateField(required=False, help_text="First day (YYYY-MM-DD), the company's zone.")
        fields["to"] = serializers.DateField(required=False, help_text="Last day, inclusive.")
        return fields

    def validate(self, attrs):
        first, last = attrs.get("from"), attrs.get("to")
        if (first is None) != (last is None):
            raise serializers.ValidationError({"from" if first is None else "to": [_("Give both from and to.")]})
        if first is not None and "period" in attrs:
            raise serializers.ValidationError({"period": [_("Give a period or from and to, not both.")]})
        if first is not None and last < first:
            raise serializers.ValidationError({"to": [_("The last day comes before the first.")]})
        if first is not None and (last - first).days >= MAX_DAYS:
            raise serializers.ValidationError({"to": [_("At most %(days)d days at a time.") % {"days": MAX_DAYS}]})
        return attrs


class PeriodSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["day", "week", "month", "range"])
    first = serializers.DateField()
    last = serializers.DateField(help_text="Inclusive.")
    time_zone = serializers.CharField()
    start = serializers.DateTimeField(help_text="The first day's local midnight.")
    end = serializers.DateTimeField(help_text="The local midnight after the last day (exclusive).")


def _period_data(span: periods.Period) -> dict:
    # The instants in the company's zone whatever the credential (a key's request has no zone of its own).
    return {"kind": span.kind, "first": span.first, "last": span.last, "time_zone": span.zone.key,
            "start": span.start.astimezone(span.zone).isoformat(), "end": span.end.astimezone(span.zone).isoformat()}


def _figures_serializer(name: str, cls, derived: dict) -> type[serializers.Serializer]:
    """A serializer of a figures class of stats.definitions: its counters and its derived figures."""
    attrs = {}
    for f in fields(cls):
        if f.type in ("int", int):
            attrs[f.name] = serializers.IntegerField()
        elif f.type in ("float", float):
            attrs[f.name] = serializers.FloatField()
    attrs.update(derived)
    return type(name, (serializers.Serializer,), attrs)


QueueFiguresSerializer = _figures_serializer("QueueFigures", defs.QueueFigures, {
    "unanswered": serializers.IntegerField(), "missed": serializers.IntegerField(),
    "service_level_pct": serializers.FloatField(allow_null=True), "answered_pct": serializers.FloatField(allow_null=True),
    "wait_avg_s": serializers.FloatField(allow_null=True), "talk_avg_s": serializers.FloatField(allow_null=True),
})
AgentFiguresSerializer = _figures_serializer("AgentFigures", defs.AgentFigures, {
    "paused_by_reason": serializers.DictField(child=serializers.FloatField(), help_text="Seconds per pause reason."),
    "aht_s": serializers.FloatField(allow_null=True), "talk_avg_s": serializers.FloatField(allow_null=True),
})


class VolumeFiguresSerializer(serializers.Serializer):
    calls = serializers.IntegerField()
    answered = serializers.IntegerField()
    unanswered = serializers.IntegerField()
    talk_s = serializers.FloatField()


class DirectionsSerializer(serializers.Serializer):
    """Calls by direction: in (from outside), out (to outside), internal."""

    def get_fields(self):
        return {direction: VolumeFiguresSerializer() for direction in DIRECTIONS}


class QueueRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    figures = QueueFiguresSerializer()


class QueueStatsSerializer(serializers.Serializer):
    period = PeriodSerializer()
    queues = QueueRowSerializer(many=True)
    total = QueueFiguresSerializer(allow_null=True, help_text="The queues above together; null: no queue to see.")


class AgentRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    figures = AgentFiguresSerializer()


class AgentStatsSerializer(serializers.Serializer):
    period = PeriodSerializer()
    agents = AgentRowSerializer(many=True)


class PersonVolumeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    directions = DirectionsSerializer()


class NumberVolumeSerializer(serializers.Serializer):
    number = serializers.CharField()
    directions = DirectionsSerializer()


class VolumeStatsSerializer(serializers.Serializer):
    period = PeriodSerializer()
    of = serializers.ChoiceField(choices=["company", "person", "queue"],
                                 help_text="Whose calls the total counts: the company's, one person's, one queue's.")
    total = DirectionsSerializer()
    people = PersonVolumeSerializer(many=True, help_text="Per person (company scope, not narrowed).")
    numbers = NumberVolumeSerializer(many=True, help_text="Per company number (company scope, not narrowed).")


def _volume(figures: defs.VolumeFigures) -> dict:
    return {"calls": figures.calls, "answered": figures.answered, "unanswered": figures.unanswered,
            "talk_s": figures.talk_s}


def _directions(per_direction: dict[str, defs.VolumeFigures]) -> dict:
    return {d: _volume(per_direction.get(d, defs.VolumeFigures())) for d in DIRECTIONS}


# ------------------------------------------------------------------------------------------------ the views


class StatsView(APIView):
    scope_area = "stats"
    schema_tags = ["statistics"]
    permission_classes = [CompanyMember]

    def query(self, request) -> tuple[dict, periods.Period, Scope]:
        data = StatsQuerySerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        user = request.user
        zone = periods.zone_of(user.tenant)
        if values.get("from") is not None:
            span = periods.custom(values["from"], values["to"], zone)
        else:
            span = periods.period(KIND_OF[values.get("period", "today")], periods.today(zone), zone)
        return values, span, scope_of(user)

    def visible_queue(self, scope: Scope, queue_id: int | None) -> int | None:
        """The queue asked for, if the caller sees it (else 404, as /stats/'s drill-down)."""
        if queue_id is not None and not scope.sees_queue(queue_id):
            raise exceptions.NotFound(_("No such queue."))
        return queue_id

    def visible_agent(self, scope: Scope, agent_id: int | None) -> int | None:
        """The person asked for: anyone of the company for its supervisors, else only oneself (else 404)."""
        if agent_id is None:
            return None
        if scope.company:
            if not User.objects.filter(tenant_id=scope.tenant_id, pk=agent_id).exists():
                raise exceptions.NotFound(_("No such person."))
        elif agent_id != scope.user.pk:
            raise exceptions.NotFound(_("No such person."))
        return agent_id

    def names(self, tenant_id: int, ids) -> dict[int, str]:
        return {u.pk: u.display_name for u in User.objects.filter(tenant_id=tenant_id, pk__in=list(ids))}


def _stats_schema(serializer):
    return extend_schema(parameters=[StatsQuerySerializer], responses=serializer)


class QueueStatsView(StatsView):
    @_stats_schema(QueueStatsSerializer)
    def get(self, request):
        """Queue figures of the period: per queue the caller may see (every queue for the company's admins and
        operators, an agent's own queues), and their total. The same figures as /stats/."""
        values, span, scope = self.query(request)
        if values.get("agent") is not None:
            raise exceptions.ValidationError({"agent": [_("Queue figures are per queue; see /stats/agents/.")]})
        queue_id = self.visible_queue(scope, values.get("queue"))
        queue_ids = [queue_id] if queue_id is not None else scope.queue_ids
        figures = reports.queue_report(scope.tenant_id, span.start, span.end, queue_ids)
        names = dict(Queue.objects.filter(tenant_id=scope.tenant_id, pk__in=queue_ids).values_list("pk", "name"))
        rows = [{"id": pk, "name": name, "figures": figures.get(pk, defs.QueueFigures()).as_dict()}
                for pk, name in sorted(names.items(), key=lambda item: item[1].lower())]
        total = reports.queue_total(figures).as_dict() if queue_ids else None
        return Response(QueueStatsSerializer({"period": _period_data(span), "queues": rows, "total": total}).data)


class AgentStatsView(StatsView):
    @_stats_schema(AgentStatsSerializer)
    def get(self, request):
        """Agent figures of the period: every agent for the company's admins and operators, one's own for an
        agent (their queues' calls, their time logged in and paused). ``queue`` narrows the call figures to
        one queue; time in states covers every queue, as on /stats/."""
        values, span, scope = self.query(request)
        queue_id = self.visible_queue(scope, values.get("queue"))
        agent_id = self.visible_agent(scope, values.get("agent"))
        rows = []
        if scope.company or scope.queue_ids:
            queue_ids = [queue_id] if queue_id is not None else (None if scope.company else scope.queue_ids)
            agent_ids = [agent_id] if agent_id is not None else (None if scope.company else [scope.user.pk])
            agents = reports.agent_report(scope.tenant_id, span.start, span.end, queue_ids, agent_ids)
            names = self.names(scope.tenant_id, agents)
            rows = [{"id": pk, "name": names[pk], "figures": figures.as_dict()}
                    for pk, figures in sorted(agents.items(), key=lambda item: names.get(item[0], "")) if pk in names]
        return Response(AgentStatsSerializer({"period": _period_data(span), "agents": rows}).data)


class VolumeStatsView(StatsView):
    @_stats_schema(VolumeStatsSerializer)
    def get(self, request):
        """Calls by direction in the period: the company's for its admins and operators (with a row per person
        and per company number), one's own for anyone else; ``agent`` or ``queue`` counts one person's or one
        queue's calls instead."""
        values, span, scope = self.query(request)
        if values.get("agent") is not None and values.get("queue") is not None:
            raise exceptions.ValidationError({"queue": [_("Count one person's or one queue's calls, not both.")]})
        queue_id = self.visible_queue(scope, values.get("queue"))
        agent_id = self.visible_agent(scope, values.get("agent"))
        if agent_id is not None:
            of, dimension, keys = "person", "user", [str(agent_id)]
        elif queue_id is not None:
            of, dimension, keys = "queue", "queue", [str(queue_id)]
        elif scope.company:
            of, dimension, keys = "company", "company", None
        else:
            of, dimension, keys = "person", "user", [str(scope.user.pk)]
        total = {d: defs.VolumeFigures() for d in DIRECTIONS}
        for per_direction in reports.volume_report(scope.tenant_id, span.start, span.end, dimension, keys).values():
            for direction, figures in per_direction.items():
                total.setdefault(direction, defs.VolumeFigures()).add(figures)
        people, numbers = [], []
        if scope.company and of == "company":
            per_person = reports.volume_report(scope.tenant_id, span.start, span.end, "user")
            names = self.names(scope.tenant_id, [int(k) for k in per_person if k.isdigit()])
            people = sorted(({"id": int(k), "name": names[int(k)], "directions": _directions(v)}
                             for k, v in per_person.items() if k.isdigit() and int(k) in names),
                            key=lambda row: row["name"])
            per_number = reports.volume_report(scope.tenant_id, span.start, span.end, "number")
            numbers = [{"number": k, "directions": _directions(v)} for k, v in sorted(per_number.items())]
        return Response(VolumeStatsSerializer({
            "period": _period_data(span), "of": of, "total": _directions(total), "people": people,
            "numbers": numbers}).data)

