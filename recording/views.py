"""The recording web ("Samtalsinspelning", /recordings/): start pages, the list, the player, evaluation,
sharing and deletion. Views validate and authorise; the actions in :mod:`recording.actions` change things.

Every recording is looked up in :func:`recording.selectors.recordings_visible_to`, so another company's id,
or a recording outside the person's role, is a 404 like an id that does not exist.
"""

from __future__ import annotations

import datetime
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST, require_safe

from portal.views.common import me_view, messages_of
from stats.models import CallLog

from . import actions, media
from .forms import DeleteForm, EvaluationForm, Period, RecordingFilterForm, ShareForm, period_bounds
from .models import Recording, ShareLink
from .selectors import is_recording_super, may_use_recording_web, recordings_visible_to


def recording_view(view):
    """A page of the recording web: signed in, in a company, with a recording role."""

    @me_view
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not may_use_recording_web(request.user):
            raise PermissionDenied(_("You have no access to call recordings."))
        return view(request, *args, **kwargs)

    return wrapper


def visible(request, recording_id: int) -> Recording:
    return get_object_or_404(recordings_visible_to(request.user).select_related("user", "call_result",
                                                                               "customer_response"),
                             pk=recording_id)


# -- start page -------------------------------------------------------------------------------------

@recording_view
@require_GET
def start(request):
    """"Min kontrollpanel" (own call history and counts) and, for super users, the call overview."""
    period = request.GET.get("period") or Period.TODAY
    if period not in dict(Period.CHOICES) or period == Period.CUSTOM:
        period = Period.TODAY
    first, last = period_bounds(period, None, None, timezone.localdate())
    zone = timezone.get_current_timezone()
    start_at = datetime.datetime.combine(first, datetime.time.min, tzinfo=zone)
    end_at = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone)
    user = request.user
    own_calls = CallLog.objects.filter(tenant_id=user.tenant_id, started_at__gte=start_at, started_at__lt=end_at)
    own_calls = own_calls.filter(Q(users=user) | Q(caller=user) | Q(answered_by=user)).distinct()
    counts = own_calls.aggregate(
        made=Count("pk", filter=Q(caller=user)), received=Count("pk", filter=~Q(caller=user)))
    recordings = recordings_visible_to(user).filter(started_at__gte=start_at, started_at__lt=end_at)
    context = {
        "period": period, "periods": [c for c in Period.CHOICES if c[0] != Period.CUSTOM],
        "first": first, "last": last, "counts": counts,
        "history": own_calls.select_related("queue").order_by("-started_at")[:20],
        "recording_count": recordings.count(), "is_super": is_recording_super(user),
    }
    if context["is_super"]:
        company = CallLog.objects.filter(tenant_id=user.tenant_id, started_at__gte=start_at, started_at__lt=end_at)
        context["overview"] = company.aggregate(
            total=Count("pk"), inbound=Count("pk", filter=Q(direction="in")),
            outbound=Count("pk", filter=Q(direction="out")), answered=Count("pk", filter=Q(result="answered")))
        context["recorded"] = Recording.objects.filter(
            tenant_id=user.tenant_id, deleted_at__isnull=True, started_at__gte=start_at, started_at__lt=end_at
        ).aggregate(total=Count("pk"), failed=Count("pk", filter=Q(status=Recording.Status.FAILED)))
    return render(request, "recording/start.html", context)


# -- the list -------------------------------------------------------------------------------------

def _filtered(request, data):
    form = RecordingFilterForm(data, user=request.user)
    rows, meaning = form.apply(recordings_visible_to(request.user))
    return form, rows, meaning


LIST_COLUMNS = ("id", "tenant_id", "status", "started_at", "extension", "other_number", "dialled_number",
                "duration_s", "tag", "flag", "score", "user__id", "user__first_name", "user__last_name", "user__email")


@recording_view
@require_GET
def recording_list(request):
    form, rows, meaning = _filtered(request, request.GET)
    # A row of the list shows a dozen columns: not the waveform, notes or the person's whole row.
    page = list(rows.select_related("user").only(*LIST_COLUMNS)[: meaning["limit"] + 1])
    more = len(page) > meaning["limit"]
    query = request.GET.copy()
    query.pop("sort", None)
    return render(request, "recording/list.html", {
        "form": form, "recordings": page[: meaning["limit"]], "more": more, "meaning": meaning,
        "is_super": is_recording_super(request.user), "query": query.urlencode(),
        "base": reverse("recording:start"),  # rows link to base + id: one reverse() per page, not three per row
        "delete_form": DeleteForm(initial={"scope": "selected"}),
        "columns": [("started", _("Date and time")), ("extension", _("Extension")), ("person", _("User")),
                    ("other", _("Number")), ("ddi", _("Direct number (DDI)")), ("duration", _("Duration")),
                    ("tag", _("Call tag")), ("flag", _("Flag")), ("score", _("Score"))],
    })


@recording_view
@require_POST
def delete_recordings(request):
    """"Radera markerade" / "Radera allt", after "Jag förstår följderna…"."""
    if not is_recording_super(request.user):
        raise PermissionDenied(_("Only a recording super user may delete recordings."))
    form = DeleteForm(request.POST)
    back = reverse("recording:list") + "?" + request.POST.get("query", "")
    if not form.is_valid():
        messages.error(request, _("Tick “I understand the consequences” to delete."))
        return redirect(back)
    if form.cleaned_data["scope"] == "filtered":

        filter_form, rows, _meaning = _filtered(request, QueryDict(request.POST.get("query", "")))
        if not filter_form.is_valid():  # never "all" because a filter did not apply
            messages.error(request, _("The filter is not valid; nothing was deleted."))
            return redirect(back)
    else:
        ids = [int(v) for v in request.POST.getlist("ids") if v.isdigit()]
        rows = recordings_visible_to(request.user).filter(pk__in=ids)
    count = actions.do_delete_recordings(request.user, rows)
    messages.success(request, _("%(n)d recordings will be deleted and removed within an hour.") % {"n": count})
    return redirect(back)


# -- one recording ----------------------------------------------------------------------------------

@recording_view
@require_GET
def recording_detail(request, recording_id: int):
    recording = visible(request, recording_id)
    return render(request, "recording/detail.html", {
        "recording": recording, "form": EvaluationForm(recording=recording), "share_form": ShareForm(),
        "shares": recording.shares.filter(revoked_at__isnull=True, expires_at__gt=timezone.now()),
        "audio_url": reverse("recording:audio", args=[recording.pk]),
        "download_url": reverse("recording:download", args=[recording.pk]),
        "tab": request.GET.get("tab", "notes"),
    })


@recording_view
@require_POST
def evaluate(request, recording_id: int):
    recording = visible(request, recording_id)
    form = EvaluationForm(request.POST, recording=recording)
    if form.is_valid():
        data = form.cleaned_data
        try:
            actions.do_evaluate_recording(
                request.user, recording, call_result=data["call_result"], customer_response=data["customer_response"],
                flag=data["flag"], tag=data["tag"], notes=data["notes"], answers=form.answers())
        except ValidationError as error:
            messages.error(request, messages_of(error))
        else:
            messages.success(request, _("The evaluation is saved."))
            return redirect("recording:detail", recording.pk)
    return render(request, "recording/detail.html", {
        "recording": recording, "form": form, "share_form": ShareForm(),
        "shares": recording.shares.filter(revoked_at__isnull=True, expires_at__gt=timezone.now()),
        "audio_url": reverse("recording:audio", args=[recording.pk]),
        "download_url": reverse("recording:download", args=[recording.pk]), "tab": "notes",
    }, status=400)


@recording_view
@require_POST
def share(request, recording_id: int):
    recording = visible(request, recording_id)
    form = ShareForm(request.POST)
    if not form.is_valid() or recording.status != Recording.Status.STORED:
        messages.error(request, _("Give an e-mail address and a subject.") if not form.is_valid()
                       else _("This recording is not ready yet."))
        return redirect(reverse("recording:detail", args=[recording.pk]) + "?tab=share")
    actions.do_share_recording(
        request.user, recording, email=form.cleaned_data["email"], subject=form.cleaned_data["subject"],
        link_for=lambda token: request.build_absolute_uri(reverse("recording:shared", args=[token])))
    messages.success(request, _("The link is sent; it works for 24 hours."))
    return redirect(reverse("recording:detail", args=[recording.pk]) + "?tab=share")


@recording_view
@require_POST
def revoke_share(request, share_id: int):
    share_link = get_object_or_404(ShareLink.objects.filter(recording__in=recordings_visible_to(request.user)),
                                   pk=share_id)
    actions.do_revoke_share(request.user, share_link)
    messages.success(request, _("The link no longer works."))
    return redirect(reverse("recording:detail", args=[share_link.recording_id]) + "?tab=share")


def _stream(request, recording: Recording, *, attachment: bool) -> HttpResponse:
    try:
        return media.stream(request, recording, attachment=attachment)
    except media.RangeNotSatisfiable as refused:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{refused.size}"
        return response


@recording_view
@require_safe
def audio(request, recording_id: int):
    recording = visible(request, recording_id)
    response = _stream(request, recording, attachment=False)
    if media.starts_a_play(request, response):
        actions.do_log_listen(request.user, recording, "played")
    return response


@recording_view
@require_GET
def download(request, recording_id: int):
    recording = visible(request, recording_id)
    response = _stream(request, recording, attachment=True)
    actions.do_log_listen(request.user, recording, "downloaded")
    return response


# -- shared links (no account) -------------------------------------------------------------------------

def _shared(token: str) -> ShareLink:
    share_link = actions.shared_recording(token) if len(token) <= 64 else None
    if share_link is None:
        raise Http404(_("This link has expired or was revoked."))
    return share_link


@require_GET
def shared(request, token: str):
    share_link = _shared(token)
    recording = share_link.recording
    with timezone.override(recording.tenant.time_zone):
        return render(request, "recording/shared.html", {
            "share": share_link, "recording": recording,
            "audio_url": reverse("recording:shared_audio", args=[token]),
        })


@require_safe
def shared_audio(request, token: str):
    share_link = _shared(token)
    response = _stream(request, share_link.recording, attachment=False)
    if media.starts_a_play(request, response):
        actions.do_log_listen(None, share_link.recording, "share_opened", share=share_link)
    return response
