"""My call history ("samtalshistorik"): calls to and from my own numbers, and my queues' calls."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from pbx.models import Number, Queue
from portal.forms import CALLABLE_RE, SEPARATORS_RE
from stats.models import CallLog
from stats.selectors import with_names

from .common import me_view

PAGE_SIZE = 25


def own_numbers(user) -> list[str]:
    numbers = {n for n in (user.direct_number, user.mobile_number) if n}
    numbers.update(Number.objects.filter(user=user, tenant_id=user.tenant_id).values_list("e164", flat=True))
    return sorted(numbers)


def my_queues(user):
    return Queue.objects.filter(tenant_id=user.tenant_id, agents__user=user).order_by("name")


def calls_visible_to(user, *, queue: Queue | None = None, only_mine: bool = False):
    """A person sees the calls their phones took part in or that used their own numbers; an agent
    also sees every call of their queues. Always inside the person's company."""
    calls = CallLog.objects.filter(tenant_id=user.tenant_id)
    if queue is not None:
        return calls.filter(queue=queue)
    took_part = CallLog.users.through.objects.filter(user_id=user.pk).values("calllog_id")
    mine = Q(pk__in=took_part) | Q(caller=user) | Q(answered_by=user) | Q(forwarded_from=user)
    numbers = own_numbers(user)
    if numbers:
        mine |= Q(from_number__in=numbers) | Q(to_number__in=numbers) | Q(dialled_number__in=numbers)
    if user.extension:
        # An extension is only meaningful inside the company: an outside caller's number that
        # happens to read "1005" is not this person.
        inside = [CallLog.Direction.INTERNAL, CallLog.Direction.OUT]
        mine |= Q(direction__in=inside, from_number=user.extension)
        mine |= Q(direction=CallLog.Direction.INTERNAL, to_number=user.extension)
    if not only_mine:
        mine |= Q(queue__in=my_queues(user))
    return calls.filter(mine)


def call_back_number(call: CallLog, user, own: set[str]) -> str:
    """The other party's number of a call, when it can be dialled back; else ""."""
    if call.direction == CallLog.Direction.IN:
        other = call.from_number
    elif call.direction == CallLog.Direction.OUT:
        other = call.to_number or call.dialled_number
    else:  # internal: whichever end was not me
        other = call.to_number if call.from_number == user.extension else call.from_number
    other = SEPARATORS_RE.sub("", other or "")
    if not other or other in own or not CALLABLE_RE.match(other):
        return ""  # withheld, anonymous, or myself
    return other


@me_view
@require_GET
def calls(request):
    user = request.user
    queues = list(my_queues(user))
    scope = request.GET.get("scope", "")
    queue = next((q for q in queues if scope == f"queue-{q.pk}"), None)
    if queue is None and scope not in ("", "mine"):
        scope = ""  # an unknown or someone else's queue: show the default, never their calls
    rows = calls_visible_to(user, queue=queue, only_mine=scope == "mine").select_related(
        "queue", "caller", "answered_by", "forwarded_from")
    page = Paginator(rows.order_by("-started_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    own = set(own_numbers(user)) | ({user.extension} if user.extension else set())
    page.object_list = with_names(list(page.object_list), user.tenant_id)
    for row in page.object_list:
        row.call_back = call_back_number(row, user, own)
    scope_options = [("", _("My calls and my queues' calls")), ("mine", _("Only my own calls"))]
    scope_options += [(f"queue-{q.pk}", _("Queue %(queue)s") % {"queue": q.name}) for q in queues]
    return render(request, "portal/me/calls.html", {
        "page": page, "queues": queues, "scope": scope, "scope_options": scope_options,
    })
