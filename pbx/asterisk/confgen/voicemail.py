"""voicemail.conf: one voicemail context per company (``t<id>``), personal and shared boxes."""

from __future__ import annotations

import sys

from . import writer as w
from .snapshot import Snapshot, Tenant

PER_TENANT = True
ZONE_FORMAT = "'vm-received' Q 'digits/at' HM"


def generate(snapshot: Snapshot) -> str:
    return w.generate_file(sys.modules[__name__], snapshot)


def head(snapshot: Snapshot) -> str:
    # Every company adds its own zone to this section with [zonemessages](+): a (+) needs an
    # existing section, and app_voicemail reads only the first [zonemessages].
    return w.HEADER + "\n[zonemessages]\n"


def tail(snapshot: Snapshot) -> str:
    return ""


def tenant_part(snapshot: Snapshot, tenant: Tenant) -> str:
    out = w.ConfWriter(None)
    boxes = sorted(tenant.voicemail_boxes.values(), key=lambda b: (b.number, b.id))
    if not boxes:
        return ""
    # Message times (the envelope, the e-mail) in the company's own time zone.
    out.raw("")
    out.raw("[zonemessages](+)")
    out.raw(f"{tenant.prefix} = {w.time_zone(tenant.time_zone, f'time zone of company {tenant.id}')}|{ZONE_FORMAT}")
    out.section(tenant.prefix)
    for box in boxes:
        number = w.extension(box.number, f"voicemail box {box.id}")
        pin = w.pin(box.pin, f"PIN of voicemail box {box.id}")
        # The name is a field of one comma-separated value: it keeps no separator (display_text).
        # The e-mail field stays empty: app_voicemail would hand the message to a sendmail that the
        # Asterisk container does not have; the worker mails it from the spool (pbx.notifications.voicemail).
        name = w.display_text(box.name) or number
        options = f"attach=no|tz={tenant.prefix}"
        out.option(number, f"{pin},{name},,,{options}", f"voicemail box {box.id}", op="=>")
    return out.text()
