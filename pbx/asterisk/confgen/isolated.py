"""Rendering in which one company's failure stays that company's.

Every generated file is a shared head, one part per company and a shared tail (writer.compose). A
company whose part cannot be rendered (any exception: a value the writer refuses, a bug) or that the
apply's check refuses is *held*: its parts stay as Asterisk runs them (the running files' parts; none
when it never ran), and so do its entries in the shared ``[from-trunk]`` (which routes its numbers into
its own inbound context, so they must agree with the part that is kept). Every other company is
rendered from the database as usual. With nothing held the result is byte-identical to
:func:`pbx.asterisk.confgen.render`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .parse import gc_paused
from .snapshot import Snapshot, load_snapshot
from .writer import compose, head_of, split_parts, tail_of

FROM_TRUNK_LINE_RE = re.compile(r"^exten => ([^,\n]+),1,Goto\(t(\d+)-inbound,(\+[0-9]+),1\)$", re.M)


@dataclass
class Rendered:
    files: dict[str, str]
    broken: dict[int, Exception] = field(default_factory=dict)  # companies whose part raised (now held)
    whole: bool = True


def _modules():
    from . import MODULES

    return MODULES


def held_inbound(running_extensions: str, tenant_ids: Iterable[int]) -> dict[int, list[tuple[str, str]]]:
    """The ``[from-trunk]`` entries of some companies in the running extensions.conf."""
    wanted = set(tenant_ids)
    held: dict[int, list[tuple[str, str]]] = {tid: [] for tid in wanted}
    if not wanted or not running_extensions:
        return held
    start = running_extensions.find("\n[from-trunk]\n")
    if start == -1:
        return held
    end = running_extensions.find("\n[", start + 1)
    region = running_extensions[start:end if end != -1 else len(running_extensions)]
    for form, tid, e164 in FROM_TRUNK_LINE_RE.findall(region):
        if int(tid) in wanted:
            held[int(tid)].append((form, e164))
    return held


def _running_parts(running: dict[str, str]) -> dict[str, dict[int, str]]:
    return {name: split_parts(running[name])[1] if name in running else {}
            for name, module in _modules().items() if getattr(module, "PER_TENANT", False)}


def render_whole(snapshot: Snapshot, running: dict[str, str], keep: Iterable[int] = ()) -> Rendered:
    """Every company of ``snapshot``; those in ``keep`` and those whose part raises as they run."""
    keep = set(keep)
    modules = _modules()
    per_tenant = {name: m for name, m in modules.items() if getattr(m, "PER_TENANT", False)}
    old: dict[str, dict[int, str]] | None = None  # the running parts, split only when a company is held
    parts: dict[int, dict[str, str | None]] = {}
    broken: dict[int, Exception] = {}
    with gc_paused():
        for tenant in snapshot.tenants:
            if tenant.id not in keep:
                try:
                    parts[tenant.id] = {name: m.tenant_part(snapshot, tenant) for name, m in per_tenant.items()}
                    continue
                except Exception as exc:
                    broken[tenant.id] = exc
            if old is None:
                old = _running_parts(running)
            parts[tenant.id] = {name: old.get(name, {}).get(tenant.id) for name in per_tenant}
        held = (keep & {t.id for t in snapshot.tenants}) | set(broken)
        snapshot.held_inbound = held_inbound(running.get("extensions.conf", ""), held)
        files = {}
        for name, module in modules.items():
            if name not in per_tenant:
                files[name] = module.generate(snapshot)
                continue
            present = [(tid, p[name]) for tid, p in sorted(parts.items()) if p[name] is not None]
            files[name] = compose(head_of(module, snapshot), present, tail_of(module, snapshot))
    return Rendered(files, broken)


def render_node(node, running: dict[str, str], keep: Iterable[int] = ()) -> Rendered:
    with gc_paused():
        return render_whole(load_snapshot(node=node), running, keep)


def render_companies(running: dict[str, str], tenant_ids: Iterable[int], *, node=None, keep: Iterable[int] = ()
                     ) -> Rendered:
    """Only ``tenant_ids`` re-rendered into the running files (confgen.render_update), each on its own: a
    company whose part raises keeps its running part. Companies in ``keep`` are not rendered, and their
    ``[from-trunk]`` entries stay as running. Falls back to a whole render where render_update would."""
    keep = set(keep)
    modules = _modules()
    files = dict(running)
    broken: dict[int, Exception] = {}
    for tenant_id in sorted(set(tenant_ids) - keep):
        # The head's [from-trunk] alone is tens of thousands of lines (every company's numbers): with the
        # cyclic collector on, rendering it set off full collections of the worker's heap (0.2 s).
        with gc_paused():
            snapshot = load_snapshot(tenant_ids=[tenant_id], node=node, all_inbound=True)
            tenant = snapshot.tenant(tenant_id)
            new_files: dict[str, str] = {}
            try:
                for name, module in modules.items():
                    if not getattr(module, "PER_TENANT", False):
                        new_files[name] = module.generate(snapshot)
                        continue
                    if name not in files:
                        return render_node(node, running, keep | set(broken))
                    _head, parts, old_tail = split_parts(files[name])
                    tail = tail_of(module, snapshot)
                    if tail != old_tail:
                        return render_node(node, running, keep | set(broken))
                    if tenant is None:
                        parts.pop(tenant_id, None)
                    else:
                        parts[tenant_id] = module.tenant_part(snapshot, tenant)
                    new_files[name] = compose(head_of(module, snapshot), sorted(parts.items()), tail)
            except Exception as exc:
                broken[tenant_id] = exc
                continue
        files = new_files
    if broken or keep:
        files = _rehead(files, running, keep | set(broken), node)
    return Rendered(files, broken, whole=False)


def _rehead(files: dict[str, str], running: dict[str, str], held: set[int], node) -> dict[str, str]:
    """The heads again, with the held companies' ``[from-trunk]`` entries as they run."""
    with gc_paused():
        snapshot = load_snapshot(tenant_ids=[], node=node, all_inbound=True)
    snapshot.held_inbound = held_inbound(running.get("extensions.conf", ""), held)
    out = dict(files)
    for name, module in _modules().items():
        if getattr(module, "PER_TENANT", False) and name in files and hasattr(module, "head"):
            _head, parts, tail = split_parts(files[name])
            out[name] = compose(head_of(module, snapshot), sorted(parts.items()), tail)
    return out
