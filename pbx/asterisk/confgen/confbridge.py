"""confbridge.conf: a bridge and a user profile per conference, named from its id."""

from __future__ import annotations

import sys

from . import writer as w
from .snapshot import Snapshot, Tenant

PER_TENANT = True


def generate(snapshot: Snapshot) -> str:
    return w.generate_file(sys.modules[__name__], snapshot)


def tenant_part(snapshot: Snapshot, tenant: Tenant) -> str:
    out = w.ConfWriter(None)
    for conf in tenant.conferences.values():
        name = f"{tenant.prefix}-conf-{conf.id}"
        out.section(f"{name}-bridge")
        out.raw("type = bridge")
        out.raw(f"max_members = {conf.max_members}")
        out.raw(f"language = {w.name(tenant.language, 'language')}")
        out.section(f"{name}-user")
        out.raw("type = user")
        out.raw("announce_user_count = yes")
        out.raw("music_on_hold_when_empty = yes")
        if conf.pin:
            out.raw(f"pin = {w.pin(conf.pin, f'PIN of conference {conf.id}')}")
    return out.text()
