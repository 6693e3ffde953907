"""Forms of the recording web. Every choice comes from the signed-in person's company."""

from __future__ import annotations

import datetime

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pbx.models import CostCentre, Department, Office, User
from pbx.validators import validate_plain_text
from portal.forms import PlainSelect

from .models import (
    ApprovedNumber,
    DepartmentRule,
    EvaluationAnswer,
    EvaluationChoice,
    EvaluationQuestion,
    ExcludedNumber,
    Recording,
)

OFFICE_HOURS = (datetime.time(8, 0), datetime.time(17, 0))  # "Kontorstid": Monday to Friday
ROW_LIMITS = (25, 50, 100, 250, 500)
# Sortable columns: URL name → model field.
SORTS = {
    "started": "started_at", "extension": "extension", "person": "user__last_name", "other": "other_number",
    "ddi": "dialled_number", "duration": "duration_s", "tag": "tag", "flag": "flag", "score": "score",
}


class Period:
    TODAY, YESTERDAY, WEEK, LAST_7, MONTH, LAST_MONTH, LAST_30, CUSTOM = (
        "today", "yesterday", "week", "7d", "month", "last_month", "30d", "custom")
    CHOICES = (
        (TODAY, _("Today")), (YESTERDAY, _("Yesterday")), (WEEK, _("This week")), (LAST_7, _("Last 7 days")),
        (MONTH, _("This month")), (LAST_MONTH, _("Last month")), (LAST_30, _("Last 30 days")),
        (CUSTOM, _("Chosen dates")),
    )


def period_bounds(period: str, first: datetime.date | None, last: datetime.date | None,
                  today: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The first and last day (inclusive) of a period, in the company's calendar."""
    if period == Period.YESTERDAY:
        day = today - datetime.timedelta(days=1)
        return day, day
    if period == Period.WEEK:
        return today - datetime.timedelta(days=today.weekday()), today
    if period == Period.LAST_7:
        return today - datetime.timedelta(days=6), today
    if period == Period.MONTH:
        return today.replace(day=1), today
    if period == Period.LAST_MONTH:
        end = today.replace(day=1) - datetime.timedelta(days=1)
        return end.replace(day=1), end
    if period == Period.LAST_30:
        return today - datetime.timedelta(days=29), today
    if period == Period.CUSTOM and first:
        return first, last or today
    return today, today


class RecordingFilterForm(forms.Form):
    """"Tillämpa filter": period, time of day, where, which numbers, how long, what kind, tag and flag."""

    period = forms.ChoiceField(label=_("Period"), choices=Period.CHOICES, required=False, widget=PlainSelect)
    date_from = forms.DateField(label=_("From date"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    time_from = forms.TimeField(label=_("From time"), required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    time_to = forms.TimeField(label=_("To time"), required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    office_hours = forms.BooleanField(label=_("Office hours only (Mon–Fri 08–17)"), required=False)
    extension = forms.ChoiceField(label=_("Extension"), required=False, widget=PlainSelect)
    department = forms.ModelChoiceField(label=_("Department"), queryset=Department.objects.none(), required=False,
                                        widget=PlainSelect)
    office = forms.ModelChoiceField(label=_("Office"), queryset=Office.objects.none(), required=False,
                                    widget=PlainSelect)
    cost_centre = forms.ModelChoiceField(label=_("Cost centre"), queryset=CostCentre.objects.none(), required=False,
                                         widget=PlainSelect)
    number = forms.CharField(label=_("Number"), max_length=20, required=False,
                             help_text=_("The other party's or the dialled number, or part of it."))
    min_duration = forms.IntegerField(label=_("At least (seconds)"), min_value=0, max_value=86400, required=False)
    max_duration = forms.IntegerField(label=_("At most (seconds)"), min_value=0, max_value=86400, required=False)
    direction = forms.ChoiceField(label=_("Call type"), required=False, widget=PlainSelect,
                                  choices=[("", _("All")), *Recording.Direction.choices])
    tag = forms.CharField(label=_("Call tag"), max_length=60, required=False)
    flag = forms.ChoiceField(label=_("Call flag"), required=False, choices=[("", _("All")), *Recording.Flag.choices],
                             widget=PlainSelect)
    min_silence = forms.IntegerField(label=_("Silence of at least (seconds)"), min_value=1, max_value=3600,
                                     required=False)
    min_other_share = forms.IntegerField(label=_("Other party talked at least (%)"), min_value=0, max_value=100,
                                         required=False)
    limit = forms.TypedChoiceField(label=_("Limit recordings to"), coerce=int, required=False, widget=PlainSelect,
                                   choices=[(n, n) for n in ROW_LIMITS])
    sort = forms.ChoiceField(required=False, widget=forms.HiddenInput,
                             choices=[(k, k) for name in SORTS for k in (name, f"-{name}")])

    def __init__(self, data, *, user: User, **kwargs):
        super().__init__(data, **kwargs)
        tenant = user.tenant_id
        self.fields["department"].queryset = Department.objects.filter(tenant_id=tenant)
        self.fields["office"].queryset = Office.objects.filter(tenant_id=tenant)
        self.fields["cost_centre"].queryset = CostCentre.objects.filter(tenant_id=tenant)
        people = User.objects.filter(tenant_id=tenant).exclude(extension="").order_by("extension")
        self.fields["extension"].choices = [("", _("All"))] + [
            (p.extension, f"{p.extension} {p.display_name}") for p in people]

    def clean_number(self):
        value = self.cleaned_data["number"].strip().replace(" ", "").replace("-", "")
        if value and not (value.lstrip("+").isdigit()):
            raise forms.ValidationError(_("Only digits and a leading +."))
        return value

    def clean_tag(self):
        value = self.cleaned_data["tag"]
        validate_plain_text(value)
        return value

    def apply(self, rows: QuerySet[Recording]) -> tuple[QuerySet[Recording], dict]:
        """The filtered, sorted rows (unsliced) and what the filter meant (period bounds, limit)."""
        data = self.cleaned_data if self.is_valid() else {}
        zone = timezone.get_current_timezone()
        today = timezone.localdate()
        first, last = period_bounds(data.get("period") or Period.TODAY, data.get("date_from"),
                                    data.get("date_to"), today)
        start = datetime.datetime.combine(first, datetime.time.min, tzinfo=zone)
        end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone)
        rows = rows.filter(started_at__gte=start, started_at__lt=end)
        if data.get("office_hours"):
            rows = rows.filter(started_at__week_day__in=[2, 3, 4, 5, 6],
                               started_at__time__gte=OFFICE_HOURS[0], started_at__time__lt=OFFICE_HOURS[1])
        if data.get("time_from"):
            rows = rows.filter(started_at__time__gte=data["time_from"])
        if data.get("time_to"):
            rows = rows.filter(started_at__time__lt=data["time_to"])
        for name in ("extension", "department", "office", "cost_centre", "direction", "flag"):
            if data.get(name):
                rows = rows.filter(**{name: data[name]})
        if data.get("number"):
            rows = rows.filter(Q(other_number__contains=data["number"]) | Q(dialled_number__contains=data["number"]))
        if data.get("min_duration") is not None:
            rows = rows.filter(duration_s__gte=data["min_duration"])
        if data.get("max_duration") is not None:
            rows = rows.filter(duration_s__lte=data["max_duration"])
        if data.get("tag"):
            rows = rows.filter(tag__icontains=data["tag"])
        if data.get("min_silence"):
            rows = rows.filter(longest_silence_s__gte=data["min_silence"])
        if data.get("min_other_share") is not None:
            rows = rows.filter(other_share__gte=data["min_other_share"])
        sort = data.get("sort") or "-started"
        field = SORTS[sort.lstrip("-")]
        order = [f"-{field}" if sort.startswith("-") else field]
        if field != "started_at":
            order.append("-started_at")
        rows = rows.order_by(*order, "-id")
        return rows, {"first": first, "last": last, "limit": data.get("limit") or ROW_LIMITS[1], "sort": sort}


class EvaluationForm(forms.Form):
    """"Samtalsanteckningar" and "Utvärdera": result, response, flag, tag, notes, then one field per question."""

    call_result = forms.ModelChoiceField(label=_("Call result"), queryset=EvaluationChoice.objects.none(),
                                         required=False)
    customer_response = forms.ModelChoiceField(label=_("Customer response"),
                                               queryset=EvaluationChoice.objects.none(), required=False)
    flag = forms.ChoiceField(label=_("Call flag"), required=False, choices=[("", _("None")), *Recording.Flag.choices])
    tag = forms.CharField(label=_("Call tag"), max_length=60, required=False, validators=[validate_plain_text])
    notes = forms.CharField(label=_("Notes"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, data=None, *, recording: Recording, **kwargs):
        initial = {"call_result": recording.call_result_id, "customer_response": recording.customer_response_id,
                   "flag": recording.flag, "tag": recording.tag, "notes": recording.notes}
        answers = dict(recording.answers.values_list("question_id", "answer"))
        super().__init__(data, initial=initial, **kwargs)
        choices = EvaluationChoice.objects.filter(tenant_id=recording.tenant_id)
        self.fields["call_result"].queryset = choices.filter(kind=EvaluationChoice.Kind.RESULT)
        self.fields["customer_response"].queryset = choices.filter(kind=EvaluationChoice.Kind.RESPONSE)
        self.questions = list(EvaluationQuestion.objects.filter(tenant_id=recording.tenant_id, active=True))
        for question in self.questions:
            self.fields[f"q{question.pk}"] = forms.ChoiceField(
                label=question.text, required=False, initial=answers.get(question.pk, ""),
                choices=[("", "–"), *EvaluationAnswer.Answer.choices])

    def note_fields(self):
        return [self[name] for name in ("call_result", "customer_response", "flag", "tag", "notes")]

    def question_fields(self):
        return [self[f"q{q.pk}"] for q in self.questions]

    def answers(self) -> dict[int, str]:
        return {q.pk: self.cleaned_data.get(f"q{q.pk}", "") for q in self.questions}


class ShareForm(forms.Form):
    email = forms.EmailField(label=_("To"))
    subject = forms.CharField(label=_("Subject"), max_length=120, validators=[validate_plain_text])


class DeleteForm(forms.Form):
    confirm = forms.BooleanField(label=_("I understand the consequences of deleting a recording"), required=True)
    scope = forms.ChoiceField(choices=[("selected", "selected"), ("filtered", "filtered")], widget=forms.HiddenInput)


class ExcludedNumberForm(forms.ModelForm):
    class Meta:
        model = ExcludedNumber
        fields = ["e164", "note"]
        labels = {"e164": _("Customer number (+46…)")}


class DepartmentRuleForm(forms.ModelForm):
    class Meta:
        model = DepartmentRule
        fields = ["department", "inbound_external", "outbound_external", "internal"]

    def __init__(self, *args, tenant_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.filter(tenant_id=tenant_id)


class ApprovedNumberForm(forms.ModelForm):
    class Meta:
        model = ApprovedNumber
        fields = ["number", "active"]

    def __init__(self, *args, tenant_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        from pbx.models import Number

        self.fields["number"].queryset = Number.objects.filter(tenant_id=tenant_id)


class EvaluationChoiceForm(forms.ModelForm):
    class Meta:
        model = EvaluationChoice
        fields = ["kind", "name", "position"]


class EvaluationQuestionForm(forms.ModelForm):
    class Meta:
        model = EvaluationQuestion
        fields = ["text", "position", "active"]


class RestrictedUserForm(forms.Form):
    user = forms.ModelChoiceField(label=_("User"), queryset=User.objects.none())
    role = forms.ChoiceField(label=_("User type"), choices=User.RecordingRole.choices)
    departments = forms.ModelMultipleChoiceField(label=_("Departments"), queryset=Department.objects.none(),
                                                 required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, tenant_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(tenant_id=tenant_id).order_by("first_name", "last_name")
        self.fields["departments"].queryset = Department.objects.filter(tenant_id=tenant_id)
