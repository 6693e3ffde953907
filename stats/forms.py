"""The saved report's form: only this company's queues and people can be chosen."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from pbx.models import Queue, User

from . import definitions as defs
from .models import Report

REPORT_FIGURES = [(d.key, d.label) for d in defs.DEFINITIONS if d.group in ("queue", "agent")]


class ReportForm(forms.ModelForm):
    figures = forms.MultipleChoiceField(label=_("Figures"), choices=REPORT_FIGURES,
                                        widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Report
        fields = ("name", "figures", "queues", "agents", "period", "viewers", "schedule", "send_hour")
        widgets = {"queues": forms.CheckboxSelectMultiple, "agents": forms.CheckboxSelectMultiple,
                   "viewers": forms.CheckboxSelectMultiple}

    def __init__(self, *args, tenant_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        people = User.objects.filter(tenant_id=tenant_id, is_active=True).order_by("first_name", "last_name")
        self.fields["queues"].queryset = Queue.objects.filter(tenant_id=tenant_id).order_by("name")
        self.fields["agents"].queryset = people
        self.fields["viewers"].queryset = people
        self.fields["queues"].help_text = _("None chosen: every queue.")
        self.fields["agents"].help_text = _("None chosen: every agent.")
