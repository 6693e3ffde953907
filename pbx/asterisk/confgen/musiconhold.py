"""musiconhold.conf: a company's own music classes, the ones its queues name.

``default`` is the base config's class. Any other class a queue names becomes
``t<tenant>-<name>``, playing the files the company put in ``sounds/custom/t<id>/moh-<name>``.
"""

from __future__ import annotations

import sys

from . import writer as w
from .queues import moh_class
from .snapshot import Snapshot, Tenant

PER_TENANT = True


def generate(snapshot: Snapshot) -> str:
    return w.generate_file(sys.modules[__name__], snapshot)


def tenant_part(snapshot: Snapshot, tenant: Tenant) -> str:
    out = w.ConfWriter(None)
    for cls in sorted({moh_class(tenant.id, q.music_on_hold) for q in tenant.queues.values()} - {"default"}):
        out.section(w.name(cls, "music class"))
        out.raw("mode = files")
        out.raw(f"directory = sounds/custom/{tenant.prefix}/moh-{cls.split('-', 1)[1]}")
        out.raw("sort = alpha")
    return out.text()
