"""Asterisk's configuration, generated from the database: one generator per file.

``render(snapshot)`` returns ``{file name: text}`` for the files the base config includes from
``generated/``. Every generator is a pure function of the snapshot, so the same database always
gives byte-identical files (no timestamps, everything ordered by id or name).
"""

from __future__ import annotations

from collections.abc import Callable

from . import confbridge, extensions, features, musiconhold, pjsip, queues, voicemail
from .parse import gc_paused
from .snapshot import Snapshot, load_snapshot
from .writer import ConfigError, compose, head_of, split_parts, tail_of

GENERATORS: dict[str, Callable[[Snapshot], str]] = {
    "confbridge.conf": confbridge.generate,
    "extensions.conf": extensions.generate,
    "features.conf": features.generate,
    "musiconhold.conf": musiconhold.generate,
    "pjsip.conf": pjsip.generate,
    "queues.conf": queues.generate,
    "voicemail.conf": voicemail.generate,
}


def render(snapshot: Snapshot) -> dict[str, str]:
    with gc_paused():
        return {name: generate(snapshot) for name, generate in GENERATORS.items()}


def render_from_db(*, tenant_ids=None, node=None) -> dict[str, str]:
    with gc_paused():
        return render(load_snapshot(tenant_ids=tenant_ids, node=node))


MODULES = {
    "confbridge.conf": confbridge, "extensions.conf": extensions, "features.conf": features,
    "musiconhold.conf": musiconhold, "pjsip.conf": pjsip, "queues.conf": queues, "voicemail.conf": voicemail,
}


def render_update(old_files: dict[str, str], tenant_id: int, *, node=None) -> dict[str, str]:
    """The files after a change to one company, rendering only that company.

    Every file is the shared head, one part per company (after a ``; ==== company <id> ====``
    line) and the shared tail; this replaces the company's part (or drops it, or adds it in id
    order) and re-renders the head, whose ``[from-trunk]`` lists every company's numbers (one
    light query). The result is byte-identical to a full render of the same database; when a
    shared part changed too (the shared trunks), or ``old_files`` lack a file, it *is* one.
    """
    with gc_paused():
        snapshot = load_snapshot(tenant_ids=[tenant_id], node=node, all_inbound=True)
        tenant = snapshot.tenant(tenant_id)
        new_files: dict[str, str] = {}
        for name, module in MODULES.items():
            if not getattr(module, "PER_TENANT", False):
                new_files[name] = module.generate(snapshot)
                continue
            if name not in old_files:
                return render_from_db(node=node)
            _head, parts, old_tail = split_parts(old_files[name])
            tail = tail_of(module, snapshot)
            if tail != old_tail:
                return render_from_db(node=node)
            if tenant is None:
                parts.pop(tenant_id, None)
            else:
                parts[tenant_id] = module.tenant_part(snapshot, tenant)
            new_files[name] = compose(head_of(module, snapshot), sorted(parts.items()), tail)
        return new_files


__all__ = ["GENERATORS", "ConfigError", "Snapshot", "load_snapshot", "render", "render_from_db", "render_update"]
