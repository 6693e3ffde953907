"""Apply the generated configuration to an Asterisk node, with the least work Asterisk can do.

``apply_node(node, tenant_ids=None)`` (docs/apply.md):

1. **Render.** The files on disk are always complete (a restart loads them). With ``tenant_ids`` (the
   debounced automatic path names the companies that changed) only those companies are rendered and
   spliced into the running files (``confgen.render_update``: byte-identical to a full render); without
   them, or when the running files were not applied by us, the whole node is rendered.
2. **Compare** with what Asterisk runs: the copies kept in ``<generated>/.applied/`` after the last
   successful apply (hard links, no copy), else the files themselves. Nothing different → done, no AMI
   action at all (unless ``force``).
3. **Check** (:mod:`pbx.asterisk.checker`): only what changed (``check_changes``) when the running files
   passed the check before, else everything. A company whose part raised while rendering or holds a
   finding is *held* (:mod:`pbx.asterisk.confgen.isolated`, :mod:`pbx.asterisk.held`): its part goes back
   to what Asterisk runs, the rest is rendered and checked again, and every other company is applied;
   its admins see why on their company page. A finding no company owns aborts: nothing is written,
   Asterisk keeps running what it has, and the node's ``last_apply_*`` shows the findings.
4. **Plan** (:func:`pbx.asterisk.plan.plan_changes`): reload only the modules whose files changed; the
   dialplan difference as ``DialplanExtensionAdd/Remove`` and ``dialplan add/remove include`` actions
   (never ``dialplan reload`` for a company's change: the 10,000 hints of the others stay, BLF
   subscriptions and live calls are untouched); new phones through ARI dynamic configuration when
   ``settings.ASTERISK_PJSIP_DYNAMIC`` says sorcery.conf has a writable wizard, else
   ``module reload res_pjsip.so``.
5. **Write** the changed files atomically (temporary file, fsync, ``os.replace``), keeping the previous
   text to roll back.
6. **Tell Asterisk** through AMI (and ARI): pjsip objects, module reloads, dialplan actions (pipelined,
   in plan order). A failure restores the previous files, undoes what was already done (the inverse
   dialplan plan, reloads of the restored files, ARI deletes) and is recorded on the node.
7. **Queue members**: ``QueueStatus``, then ``QueueAdd`` / ``QueueRemove`` / ``QueuePause`` /
   ``QueuePenalty`` so app_queue's dynamic members match ``QueueAgent.logged_in/paused``.

One apply per node at a time: an exclusive ``flock`` on ``<generated>/.apply.lock`` (the web, the worker,
the command and the bridge share that directory).

Without ``ami`` a short-lived AMI connection (``Events: off``) is opened to the node; from async code
(the bridge, with its own connection) use :func:`aapply_node`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import json
import logging
import os
import shutil
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from pbx.asterisk.astdb_sync import desired_members, node_tenant_ids, send_all, sync_queue_members
from pbx.asterisk.checker import Finding, check, check_changes, format_findings, stock_prompts
from pbx.asterisk.confgen import GENERATORS
from pbx.asterisk.confgen.isolated import render_companies, render_node
from pbx.asterisk.confgen.parse import block_difference, context_blocks, layout
from pbx.asterisk.errors import AsteriskError
from pbx.asterisk.held import finding_problem, held_tenant_ids, hold, owners, release, render_problem
from pbx.asterisk.plan import Plan, plan_changes
from pbx.numbering import NumberPolicy

log = logging.getLogger(__name__)

APPLIED_DIR = ".applied"  # what Asterisk runs: hard links to the files of the last successful apply
LOCK_FILE = ".apply.lock"
DYNAMIC_FILE = "dynamic-pjsip.json"  # ARI paths of pjsip objects created in a memory wizard
LOCK_TIMEOUT = 600.0
RELOAD_TIMEOUT = 120.0  # `dialplan reload` of a 1,000-company node takes 12 s on a real Asterisk
MAX_FINDINGS_SHOWN = 50
MAX_HOLD_ROUNDS = 8  # each round holds every company with a finding; more rounds: not one company's doing


class ApplyError(AsteriskError):
    def __init__(self, result: ApplyResult):
        super().__init__(result.message, permanent=bool(result.findings))
        self.result = result


@dataclass
class ApplyResult:
    node: str
    ok: bool = True
    dry_run: bool = False
    forced: bool = False
    changed_files: list[str] = field(default_factory=list)
    reloads: list[str] = field(default_factory=list)
    dialplan_reload: bool = False
    dialplan_actions: int = 0
    ari_requests: int = 0
    actions: Counter = field(default_factory=Counter)  # every AMI action / ARI request sent, by type
    findings: list[Finding] = field(default_factory=list)
    held: dict[int, list[dict[str, str]]] = field(default_factory=dict)  # companies kept at their running part
    render_scope: str = ""
    check_scope: str = ""
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def nothing_changed(self) -> bool:
        return self.ok and not self.changed_files

    @property
    def message(self) -> str:
        if self.error:
            return self.error
        if not self.changed_files:
            return " ".join(["Nothing changed.", *self.notes])
        work = ", ".join(f"{n} × {k}" for k, n in sorted(self.actions.items())) or "no Asterisk action"
        verb = "Would change" if self.dry_run else "Changed"
        text = f"{verb} {', '.join(self.changed_files)}; {work}."
        return " ".join([text, *self.notes])

    def lines(self) -> list[str]:
        """What the command prints."""
        out = [f"node {self.node}: {'dry run, ' if self.dry_run else ''}{'OK' if self.ok else 'FAILED'}"]
        if self.error:
            out.append(f"  error: {self.error.splitlines()[0]}")
            out += [f"    {line}" for line in self.error.splitlines()[1:]]
        out.append(f"  files changed: {', '.join(self.changed_files) or 'none'}")
        if self.render_scope:
            out.append(f"  rendered: {self.render_scope}")
        if self.check_scope:
            out.append(f"  checked: {self.check_scope}")
        if self.changed_files:
            out.append(f"  module reloads: {', '.join(self.reloads) or 'none'}")
            out.append(f"  dialplan: {'dialplan reload' if self.dialplan_reload else f'{self.dialplan_actions} AMI actions'}")
            if self.ari_requests:
                out.append(f"  pjsip objects through ARI: {self.ari_requests}")
            out.append("  sent: " + (", ".join(f"{k} {n}" for k, n in sorted(self.actions.items())) or "nothing"))
        out += [f"  note: {r}" for r in [*self.reasons, *self.notes]]
        if self.timings:
            out.append("  seconds: " + ", ".join(f"{k} {v:.3f}" for k, v in self.timings.items()))
        return out

    def raise_for_error(self) -> ApplyResult:
        if not self.ok:
            raise ApplyError(self)
        return self


# ----------------------------------------------------------------------------- files


def generated_dir(node) -> Path:
    return Path(node.generated_dir or settings.ASTERISK_GENERATED_DIR)


def read_running(directory: Path) -> dict[str, str]:
    """The generated files Asterisk runs: the last applied copies, else what is in the directory."""
    files = {}
    for name in GENERATORS:
        for path in (directory / APPLIED_DIR / name, directory / name):
            if path.is_file():
                files[name] = path.read_text(encoding="utf-8")
                break
    return files


def applied_complete(directory: Path) -> bool:
    """Whether every generated file has an applied copy (so it passed the check before)."""
    return all((directory / APPLIED_DIR / name).is_file() for name in GENERATORS)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    """Readers (Asterisk) see the old file or the new one, never half of one, also after a crash."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_files(directory: Path, files: dict[str, str], names: list[str]) -> None:
    for name in names:
        write_atomic(directory / name, files[name])
    _fsync_dir(directory)


def mark_applied(directory: Path, names: list[str]) -> None:
    """Remember these files as what Asterisk runs: a hard link keeps that version whatever comes next."""
    applied = directory / APPLIED_DIR
    applied.mkdir(exist_ok=True)
    for name in names:
        tmp = applied / f".{name}.tmp"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        try:
            os.link(directory / name, tmp)
        except OSError:  # a filesystem without hard links
            shutil.copyfile(directory / name, tmp)
        os.replace(tmp, applied / name)


class NodeLock:
    """An exclusive flock on the node's generated directory: two applies never run at once."""

    def __init__(self, directory: Path, timeout: float = LOCK_TIMEOUT):
        self.path = directory / LOCK_FILE
        self.timeout = timeout
        self._handle = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held until release()
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.close()
                    raise AsteriskError(f"another apply holds {self.path} for more than {self.timeout:.0f}s") \
                        from None
                time.sleep(0.05)
        self._handle = handle

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


# ----------------------------------------------------------------------------- the check


def pjsip_difference(old: str, new: str) -> tuple[str, str]:
    """Only the pjsip sections that differ (plus every template, for their expansion), for the plan.

    ``plan_changes(..., pjsip_dynamic=True)`` parses and expands pjsip.conf to tell pure additions
    from changes; on 10,000 endpoints that is a second, for the three sections of a new phone.
    Sections the two texts share verbatim cannot change its verdict, so they are left out (unless a
    template changed: then the whole texts go).
    """
    difference = block_difference(old, new)
    old_blocks, new_blocks = difference.old, difference.new
    changed = difference.changed() | difference.removed()

    def templates_of(blocks: dict[str, str]) -> set[str]:
        return {name for name, block in blocks.items() if name and "(!" in block.split("\n", 1)[0]}

    if changed & (templates_of(old_blocks) | templates_of(new_blocks)) or old_blocks.get("") != new_blocks.get(""):
        return old, new  # a template changed: every object using it did too
    # The templates did not change, so the new file's serve both sides. A composed file keeps them in its
    # shared head and tail (a company's part is in the difference when it changed).
    all_new = dict(new_blocks)
    if not difference.whole:
        plan = layout(new)
        for shared in (plan.head(), plan.tail()):
            all_new.update({n: b for n, b in context_blocks(shared).items() if n and n not in all_new})
    templates = templates_of(all_new)
    keep = sorted(changed | templates)
    return ("".join(old_blocks.get(n) or all_new.get(n, "") for n in keep if n in old_blocks or n in templates),
            "".join(all_new.get(n, "") for n in keep if n in all_new))


def _base_files() -> dict[str, str] | None:
    base = Path(settings.BASE_DIR) / "asterisk_conf"
    if not base.is_dir():
        return None
    return {name: (base / name).read_text(encoding="utf-8") for name in GENERATORS if (base / name).is_file()}


# ----------------------------------------------------------------------------- one apply


class ApplyJob:
    """The steps of one apply; the database parts are synchronous, the Asterisk part is a coroutine."""

    def __init__(self, node, *, tenant_ids=None, force: bool = False, dry_run: bool = False):
        self.node = node
        self.directory = generated_dir(node)
        self.tenant_ids = sorted(set(tenant_ids)) if tenant_ids else None
        self.force = force
        self.result = ApplyResult(node.name, dry_run=dry_run, forced=force)
        self.files: dict[str, str] = {}
        self.running: dict[str, str] = {}
        self.plan = Plan()
        self.members: dict = {}
        self.member_queues: list[str] | None = None
        self.pjsip_dynamic = bool(getattr(settings, "ASTERISK_PJSIP_DYNAMIC", False))
        self.held: dict[int, list[dict[str, str]]] = {}  # company → why it stays at its running part
        self.keep: set[int] = set()  # companies held by an earlier apply that this one does not render
        self._started = time.perf_counter()
        self._lap = self._started

    def _time(self, step: str) -> None:
        now = time.perf_counter()
        self.result.timings[step] = round(now - self._lap, 4)
        self._lap = now

    @property
    def needs_asterisk(self) -> bool:
        return self.result.ok and bool(self.result.changed_files) and not self.result.dry_run

    def fail(self, message: str) -> None:
        self.result.ok = False
        self.result.error = message

    # -- database and CPU: render, compare, check, plan ------------------------------------------

    def prepare(self) -> None:
        result = self.result
        self.running = read_running(self.directory)
        self._time("read")
        # Only the named companies are rendered and only what changed is checked when the running
        # files are complete and were applied (so checked) by us; anything else is done whole.
        incremental = bool(self.tenant_ids) and not self.force and set(self.running) == set(GENERATORS) \
            and applied_complete(self.directory)
        # A company held earlier stays at its running part unless this apply renders it again.
        keep = self.keep = self._held_elsewhere() if incremental else set()
        for _round in range(MAX_HOLD_ROUNDS):
            try:
                if incremental:
                    rendered = render_companies(self.running, self.tenant_ids, node=self.node,
                                                keep=keep | set(self.held))
                else:
                    rendered = render_node(self.node, self.running, keep=set(self.held))
            except Exception as exc:
                self.fail(f"The configuration could not be rendered: {exc}")
                return
            for tenant_id, exc in rendered.broken.items():
                self.held.setdefault(tenant_id, [render_problem(exc)])
            self.files = rendered.files
            result.render_scope = "whole node" if rendered.whole else \
                "companies " + ", ".join(str(t) for t in self.tenant_ids)
            self._time("render")
            result.changed_files = sorted(n for n in self.files if self.force or self.files[n] != self.running.get(n))
            self._time("compare")
            if not result.changed_files:
                break
            findings = self._check(incremental)
            if not findings:
                break
            # A finding in a company's part holds that company (its part goes back to what runs) and the
            # rest is rendered and checked again; one nobody owns stops the whole apply, as before.
            new = {tid: found for tid, found in owners(findings, self.files).items()
                   if tid is not None and tid not in self.held and tid not in keep}
            if not new:
                self._fail_check(findings)
                return
            for tenant_id, found in new.items():
                self.held[tenant_id] = [finding_problem(f) for f in found]
        else:
            self._fail_check(findings)
            return
        for tenant_id, problems in sorted(self.held.items()):
            result.notes.append(f"Company {tenant_id} is held at its last good configuration: {problems[0]['detail']}")
        if not result.changed_files:
            return
        old_files = {} if self.force else self.running
        if self.pjsip_dynamic and "pjsip.conf" in old_files and "pjsip.conf" in result.changed_files:
            old_pjsip, new_pjsip = pjsip_difference(old_files["pjsip.conf"], self.files["pjsip.conf"])
            self.plan = plan_changes({**old_files, "pjsip.conf": old_pjsip}, {**self.files, "pjsip.conf": new_pjsip},
                                     pjsip_dynamic=True)
        else:
            self.plan = plan_changes(old_files, self.files, pjsip_dynamic=self.pjsip_dynamic)
        result.reloads = list(self.plan.reload_modules)
        result.dialplan_reload = self.plan.dialplan_reload
        result.dialplan_actions = 0 if self.plan.dialplan_reload else len(self.plan.dialplan_actions)
        result.ari_requests = len(self.plan.ari_requests)
        result.reasons = list(self.plan.reasons)
        self._time("plan")
        self._load_members()
        self._time("queue_members_db")

    def _held_elsewhere(self) -> set[int]:
        """Companies of this node held at their running part that this apply does not render."""
        return held_tenant_ids(self.node) - set(self.tenant_ids or ())

    def _fail_check(self, findings: list[Finding]) -> None:
        self.result.findings = findings
        shown = format_findings(findings[:MAX_FINDINGS_SHOWN])
        more = f"\n... and {len(findings) - MAX_FINDINGS_SHOWN} more" if len(findings) > MAX_FINDINGS_SHOWN else ""
        self.fail(f"The check found {len(findings)} problem(s); nothing was applied, Asterisk keeps "
                  f"the running configuration.\n{shown}{more}")

    def _check(self, incremental: bool) -> list[Finding]:
        sounds = Path(settings.ASTERISK_SOUNDS_DIR)
        base = _base_files()
        stock = stock_prompts(settings.ASTERISK_STOCK_SOUNDS_DIR)
        numbers = NumberPolicy.from_db()
        if incremental:
            findings = check_changes(self.running, self.files, sounds_dir=sounds, base=base, stock_sounds=stock,
                                     numbers=numbers)
            self.result.check_scope = "what changed"
        else:
            findings = check(self.files, sounds_dir=sounds, base=base, stock_sounds=stock, numbers=numbers)
            self.result.check_scope = "whole node"
        self._time("check")
        return findings

    def _load_members(self) -> None:
        """Queue members to sync after the apply: of the companies that changed, or of the whole node."""
        from pbx.models import Queue

        held = set(self.held) | self.keep
        if self.force or self.tenant_ids is None:
            tenants = set(node_tenant_ids(self.node)) - held
            self.members = desired_members(tenant_ids=tenants)
            # A held company's queues are as they run: its members are left as they are.
            self.member_queues = None if not held else [
                f"t{tid}-q{qid}" for tid, qid in
                Queue.objects.filter(tenant_id__in=tenants).values_list("tenant_id", "id")]
            return
        tenants = set(self.tenant_ids) - held
        for context in self.plan.changed_contexts:
            prefix = context.split("-", 1)[0]
            if prefix[:1] == "t" and prefix[1:].isdigit() and int(prefix[1:]) not in held:
                tenants.add(int(prefix[1:]))
        self.members = desired_members(tenant_ids=tenants)
        self.member_queues = [f"t{tid}-q{qid}" for tid, qid in
                              Queue.objects.filter(tenant_id__in=tenants).values_list("tenant_id", "id")]

    # -- Asterisk ---------------------------------------------------------------------------------

    async def execute(self, ami) -> None:
        """Write the files, make Asterisk take them; on failure restore and undo. (Runs in the loop.)"""
        result = self.result
        write_files(self.directory, self.files, result.changed_files)
        self._time("write")
        done = _Done()
        try:
            await self._pjsip_objects(done)
            for module in result.reloads:
                await self._send(ami, {"Action": "Reload", "Module": module}, timeout=RELOAD_TIMEOUT)
                done.reloaded.append(module)
            done.dialplan = True
            if self.plan.dialplan_reload:
                await self._send(ami, {"Action": "Command", "Command": "dialplan reload"}, timeout=RELOAD_TIMEOUT)
            elif self.plan.dialplan_actions:
                result.actions.update(a["Action"] for a in self.plan.dialplan_actions)
                errors = await send_all(ami, self.plan.dialplan_actions)
                if errors:
                    action = getattr(errors[0], "action", {})
                    raise AsteriskError(f"{_describe(action)} failed: {errors[0].message}")
            if "res_pjsip.so" in done.reloaded:
                await self._forget_dynamic_objects()
        except AsteriskError as exc:
            self.fail(f"Asterisk refused the change ({exc.message}); the previous files were restored"
                      f"{' and the change undone' if done.anything else ''}.")
            self._time("asterisk")
            await self._roll_back(ami, done)
            self._time("roll_back")
            return
        self._time("asterisk")
        mark_applied(self.directory, result.changed_files)
        try:
            result.actions += await sync_queue_members(ami, self.members, queues=self.member_queues)
        except AsteriskError as exc:
            self.result.ok = False
            self.result.error = f"The configuration was applied, but the queue members could not be synced: " \
                                f"{exc.message}"
        self._time("queue_members")

    async def _send(self, ami, action: dict[str, str], *, timeout: float | None = None):
        self.result.actions[action["Action"]] += 1
        try:
            return await ami.action(action, timeout=timeout)
        except AsteriskError as exc:
            raise AsteriskError(f"{_describe(action)} failed: {exc.message}", permanent=exc.permanent) from exc

    async def _pjsip_objects(self, done: _Done) -> None:
        """New endpoint/auth/aor objects through ARI; a node without a writable wizard gets the reload."""
        if not self.plan.ari_requests:
            return
        from pbx.asterisk.ari import AriClient, AriError

        ari = AriClient(self.node.ari_url, self.node.ari_username, self.node.ari_password, self.node.ari_app)
        try:
            for request in self.plan.ari_requests:
                self.result.actions[f"ARI {request.method}"] += 1
                try:
                    await ari.request(request.method, request.path, body=request.body())
                except AriError as exc:
                    if exc.status in (403, 404) and not done.ari_created:
                        self.result.notes.append(
                            f"ARI cannot create pjsip objects ({exc.message}): res_pjsip.so is reloaded instead "
                            "(sorcery.conf needs a memory wizard after the config one)")
                        if "res_pjsip.so" not in self.result.reloads:
                            self.result.reloads.insert(0, "res_pjsip.so")
                        return
                    raise
                done.ari_created.append(request.path)
        finally:
            await ari.stop()
        self._remember_dynamic_objects(done.ari_created)

    def _dynamic_path(self) -> Path:
        return self.directory / APPLIED_DIR / DYNAMIC_FILE

    def _remember_dynamic_objects(self, paths: list[str]) -> None:
        path = self._dynamic_path()
        known = json.loads(path.read_text()) if path.is_file() else []
        path.parent.mkdir(exist_ok=True)
        write_atomic(path, json.dumps(sorted(set(known) | set(paths))))

    async def _forget_dynamic_objects(self) -> None:
        """After a pjsip reload the file has every object: memory copies would only shadow deletions."""
        path = self._dynamic_path()
        if not path.is_file():
            return
        from pbx.asterisk.ari import AriClient, AriError

        paths = json.loads(path.read_text())
        ari = AriClient(self.node.ari_url, self.node.ari_username, self.node.ari_password, self.node.ari_app)
        try:
            for object_path in paths:
                self.result.actions["ARI DELETE"] += 1
                with contextlib.suppress(AriError):
                    await ari.request("DELETE", object_path)
        finally:
            await ari.stop()
        path.unlink()

    async def _roll_back(self, ami, done: _Done) -> None:
        """Previous files back, then Asterisk back to them; every step best effort (and logged)."""
        previous = [n for n in self.result.changed_files if n in self.running]
        write_files(self.directory, self.running, previous)
        for name in self.result.changed_files:
            if name not in self.running:
                with contextlib.suppress(FileNotFoundError):
                    (self.directory / name).unlink()
        if done.ari_created:
            from pbx.asterisk.ari import AriClient, AriError

            ari = AriClient(self.node.ari_url, self.node.ari_username, self.node.ari_password, self.node.ari_app)
            try:
                for object_path in done.ari_created:
                    with contextlib.suppress(AriError):
                        await ari.request("DELETE", object_path)
            finally:
                await ari.stop()
        undo: list[dict[str, str]] = []
        if done.dialplan and "extensions.conf" in self.running:
            if self.plan.dialplan_reload:
                undo.append({"Action": "Command", "Command": "dialplan reload"})
            else:
                back = plan_changes({"extensions.conf": self.files["extensions.conf"]},
                                    {"extensions.conf": self.running["extensions.conf"]})
                undo += [{"Action": "Command", "Command": "dialplan reload"}] if back.dialplan_reload \
                    else back.dialplan_actions
        undo += [{"Action": "Reload", "Module": m} for m in done.reloaded]
        errors = await send_all(ami, undo, ignore_errors=True) if undo else []
        for error in errors:
            log.warning("%s: undo %s: %s", self.node, _describe(getattr(error, "action", {})), error.message)

    # -- bookkeeping ------------------------------------------------------------------------------

    def record(self) -> None:
        """The outcome on the node (shown to admins); a dry run records nothing."""
        self.result.timings["total"] = round(time.perf_counter() - self._started, 4)
        if self.result.dry_run:
            return
        node = self.node
        node.last_apply_at = timezone.now()
        node.last_apply_ok = self.result.ok and not self.held
        node.last_apply_message = self.result.message[:20000]
        node.save(update_fields=["last_apply_at", "last_apply_ok", "last_apply_message"])
        self._record_held()
        level = logging.INFO if self.result.ok else logging.WARNING
        log.log(level, "apply %s: %s", node.name, self.result.message.splitlines()[0])


    def _record_held(self) -> None:
        """Held companies are marked (their admins see why); those that went through are released."""
        from pbx.asterisk.astdb_sync import node_tenant_ids

        hold(self.held)
        self.result.held = dict(self.held)
        if self.result.ok:
            rendered = set(self.tenant_ids) if self.tenant_ids and self.result.render_scope != "whole node" \
                else set(node_tenant_ids(self.node))
            release(rendered - set(self.held))


@dataclass
class _Done:
    ari_created: list[str] = field(default_factory=list)
    reloaded: list[str] = field(default_factory=list)
    dialplan: bool = False

    @property
    def anything(self) -> bool:
        return bool(self.ari_created or self.reloaded or self.dialplan)


def _describe(action: dict[str, str]) -> str:
    name = action.get("Action", "?")
    if name == "Reload":
        return f"Reload {action.get('Module', '')}".strip()
    if name == "Command":
        return f"'{action.get('Command', '')}'"
    if name.startswith("Dialplan"):
        return f"{name} {action.get('Extension', '')}@{action.get('Context', '')},{action.get('Priority', '')}"
    return name


# ----------------------------------------------------------------------------- AMI connection


async def open_ami(node, *, timeout: float = 5.0):
    """A short-lived AMI connection to the node (Events: off); a refused connection fails at once."""
    from pbx.asterisk.ami import AmiClient

    client = AmiClient(node.ami_host, node.ami_port, node.ami_username, node.ami_secret, timeout=timeout,
                       ping_interval=30.0, events=False, name=f"apply-{node.name}")
    await client.start()
    deadline = asyncio.get_running_loop().time() + timeout
    while not client.connected:
        if client.last_error is not None or asyncio.get_running_loop().time() > deadline:
            reason = client.last_error.message if client.last_error else f"no answer within {timeout:.0f}s"
            await client.stop()
            raise AsteriskError(f"AMI of node {node.name} ({node.ami_host}:{node.ami_port}) not reachable: {reason}")
        await asyncio.sleep(0.005)
    return client


async def _execute_with(job: ApplyJob, ami) -> None:
    if ami is not None:
        await job.execute(ami)
        return
    try:
        client = await open_ami(job.node)
    except AsteriskError as exc:
        job.fail(f"{exc.message}; nothing was written.")
        return
    try:
        await job.execute(client)
    finally:
        await client.stop()


def _client_loop(ami) -> asyncio.AbstractEventLoop | None:
    runner = getattr(ami, "_runner", None)
    return runner.get_loop() if runner is not None else None


def _run(coro_factory, ami) -> None:
    """Run the Asterisk part from synchronous code: on the client's own loop, else on a fresh one."""
    loop = _client_loop(ami) if ami is not None else None
    if loop is not None and loop.is_running():
        asyncio.run_coroutine_threadsafe(coro_factory(), loop).result()
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro_factory())
        return
    # Called from inside an event loop (synchronous code in an async context): not on this thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro_factory()).result()


def apply_node(node, *, ami=None, tenant_ids=None, force: bool = False, dry_run: bool = False) -> ApplyResult:
    """Render, check and apply ``node``'s configuration (see the module docstring). Never raises for
    Asterisk or check failures: look at ``result.ok`` / ``result.message`` (or ``raise_for_error()``)."""
    job = ApplyJob(node, tenant_ids=tenant_ids, force=force, dry_run=dry_run)
    with NodeLock(job.directory):
        job.prepare()
        if job.needs_asterisk:
            _run(lambda: _execute_with(job, ami), ami)
        job.record()
    return job.result


def record_failures(node, failed: dict[int, ApplyResult]) -> None:
    """One status for several companies' failed applies (the others went through)."""
    node.last_apply_at = timezone.now()
    node.last_apply_ok = False
    node.last_apply_message = "\n\n".join(f"Company {tenant_id}: {result.message}"
                                           for tenant_id, result in sorted(failed.items()))[:20000]
    node.save(update_fields=["last_apply_at", "last_apply_ok", "last_apply_message"])


async def aapply_node(node, *, ami=None, tenant_ids=None, force: bool = False, dry_run: bool = False
                      ) -> ApplyResult:
    """:func:`apply_node` for async code; ``ami`` must belong to the running loop."""
    from asgiref.sync import sync_to_async

    job = ApplyJob(node, tenant_ids=tenant_ids, force=force, dry_run=dry_run)
    lock = NodeLock(job.directory)
    await sync_to_async(lock.acquire, thread_sensitive=False)()
    try:
        await sync_to_async(job.prepare)()
        if job.needs_asterisk:
            await _execute_with(job, ami)
        await sync_to_async(job.record)()
    finally:
        lock.release()
    return job.result


__all__ = ["ApplyError", "ApplyJob", "ApplyResult", "NodeLock", "aapply_node", "apply_node", "generated_dir",
           "open_ami", "read_running", "record_failures", "write_atomic"]
