"""My voicemail ("röstbrevlåda"): my personal box and the shared boxes I belong to.

Messages live in Asterisk's spool (pbx.voicemail_store). A message is addressed by the box's id
(checked against the signed-in person), a folder from a fixed list and its number; the audio is
streamed by this view only, never from a public URL.
"""

from __future__ import annotations

import re

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST, require_safe

from pbx import voicemail_store as store
from pbx.actions import do_delete_voicemail, do_mark_voicemail_heard
from pbx.actions.selfservice import voicemail_boxes_of
from portal.forms import VoicemailMessageForm

from .common import me_view, messages_of

# URL slug ↔ Asterisk folder name.
FOLDER_SLUGS = {"urgent": store.URGENT, "inbox": store.INBOX, "old": store.OLD}
SLUG_OF = {folder: slug for slug, folder in FOLDER_SLUGS.items()}
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def my_box(request, box_id: int):
    return get_object_or_404(voicemail_boxes_of(request.user), pk=box_id)


def _folder(slug: str) -> str:
    try:
        return FOLDER_SLUGS[slug]
    except KeyError:
        raise Http404 from None


@me_view
@require_GET
def voicemail(request):
    boxes = []
    for box in voicemail_boxes_of(request.user):
        try:
            box_messages = store.list_messages(box.tenant_id, box.number)
        except ValueError:  # a mailbox number the spool cannot hold: nothing to show
            box_messages = []
        boxes.append({
            "box": box,
            "messages": [{"message": m, "slug": SLUG_OF[m.folder]} for m in box_messages],
            "new": sum(1 for m in box_messages if m.is_new),
        })
    return render(request, "portal/me/voicemail.html", {"boxes": boxes})


def _message(request, box, slug: str, number: int, msg_id: str = ""):
    try:
        return store.get_message(box.tenant_id, box.number, _folder(slug), number, msg_id)
    except (store.MessageNotFound, ValueError):
        raise Http404(_("The message is no longer there.")) from None


@me_view
@require_safe
def voicemail_audio(request, box_id: int, folder: str, number: int):
    box = my_box(request, box_id)
    form = VoicemailMessageForm(request.GET)
    msg_id = form.cleaned_data["msg_id"] if form.is_valid() else ""
    message = _message(request, box, folder, number, msg_id)
    if message.audio is None:
        raise Http404(_("This message has no recording."))
    return _stream(request, message.audio, message.content_type)


def _stream(request, path, content_type: str):
    """The file, or the byte range the player asked for (so seeking works without a full reload)."""
    handle = path.open("rb")
    size = path.stat().st_size
    match = RANGE_RE.match(request.headers.get("Range", "").strip())
    if match and (match.group(1) or match.group(2)):
        first, last = match.groups()
        if first:
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        else:  # "bytes=-N": the last N bytes
            start, end = max(size - int(last), 0), size - 1
        if start > end or start >= size:
            handle.close()
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        handle.seek(start)
        body = handle.read(end - start + 1)
        handle.close()
        response = HttpResponse(body, status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    else:
        response = FileResponse(handle, content_type=content_type)
        response["Content-Length"] = str(size)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = "inline"
    # A voicemail is private: never kept by a shared cache or the browser's disk cache.
    response["Cache-Control"] = "private, no-store"
    return response


def _change(request, box_id: int, folder: str, number: int, action, done: str):
    box = my_box(request, box_id)
    form = VoicemailMessageForm(request.POST)
    if not form.is_valid():
        raise Http404
    try:
        action(request.user, box, _folder(folder), number, msg_id=form.cleaned_data["msg_id"])
    except store.VoicemailError as error:
        messages.error(request, str(error))
    except ValidationError as error:
        messages.error(request, messages_of(error))
    except ValueError:
        raise Http404 from None
    else:
        messages.success(request, done)
    return redirect("portal:me_voicemail")


@me_view
@require_POST
def voicemail_heard(request, box_id: int, folder: str, number: int):
    return _change(request, box_id, folder, number, do_mark_voicemail_heard, _("The message is marked as heard."))


@me_view
@require_POST
def voicemail_delete(request, box_id: int, folder: str, number: int):
    return _change(request, box_id, folder, number, do_delete_voicemail, _("The message is deleted."))
