"""Who sees which statistics, per the seed ("3Koppla Statistikrapporter", "Samtalsloggar"):

* everyone in a company: the calls to and from their own numbers (their volumes, their calls);
* a queue's agents: that queue's figures and calls;
* company admins and operators (the switchboard's supervisors): the whole company — every queue, agent,
  person and number.

Always inside the signed-in person's company; an id of another company's queue or report is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pbx.models import Queue, QueueAgent


@dataclass
class Scope:
    user: object
    company: bool
    queue_ids: list[int] = field(default_factory=list)

    @property
    def tenant_id(self) -> int:
        return self.user.tenant_id

    def sees_queue(self, queue_id: int) -> bool:
        return queue_id in self.queue_ids


def scope_of(user) -> Scope:
    company = bool(user.is_company_admin or user.is_operator)
    queues = Queue.objects.filter(tenant_id=user.tenant_id)
    if not company:
        queues = queues.filter(pk__in=QueueAgent.objects.filter(tenant_id=user.tenant_id, user=user).values("queue_id"))
    return Scope(user, company, list(queues.order_by("name").values_list("pk", flat=True)))


def may_manage_reports(user) -> bool:
    return bool(user.tenant_id and user.is_company_admin)


def reports_visible_to(user):
    from .models import Report

    reports = Report.objects.filter(tenant_id=user.tenant_id)
    if may_manage_reports(user):
        return reports
    return reports.filter(viewers=user)
