"""Applying a change on a big node: 1,000 companies, 10,000 people, 2,000 queues, 1,000 IVR menus.

The world is bench_confgen's (bulk_create). The node first gets the whole configuration (every file,
every module reload, ``dialplan reload``, 8,000 queue members); then one company changes and
``apply_node(node, tenant_ids=[it])`` is timed from the call to the last AMI acknowledgement:
render (whole node) + compare + check + plan + write + Asterisk work + queue-member sync.

``tenant_apply_s``        a new person with a desk phone in company #500 (the heaviest of the three)
``tenant_apply_agent_s``  a new queue agent (logged in) in company #501
``tenant_apply_menu_s``   an edited IVR menu in company #502
``tenant_apply_next_person_s`` a second new person in company #500 (caches warm, as in a worker)
``tenant_apply_*``        the parts of tenant_apply_s and the Asterisk work it triggered, by action
``presence_to_astdb_ms``  do_set_presence → its DBPut acknowledged by Asterisk (median of 50)
``node_apply_s``          the first, whole-node apply
``astdb_rewrite_empty_s`` rewrite_all (as on a reconnect) after Asterisk lost its ``pbx`` AstDB family
``astdb_rewrite_in_step_s`` rewrite_all when Asterisk already has everything (three reads)

Against the protocol-level fake by default (it reads the written files like Asterisk on a reload, but
cannot show Asterisk's own reload cost). With ``BENCH_ASTERISK=real`` the node is the one of the
``ASTERISK_*`` variables and the files go to ``ASTERISK_GENERATED_DIR`` of that Asterisk (which is
then given ``BENCH_SETTLE_S``, default 30 s, to work off the whole-node apply before the timing).
New phones go through ARI (the node's sorcery.conf needs a memory wizard after the config one, as
asterisk_conf/sorcery.conf has), not ``module reload res_pjsip.so``; ``ASTERISK_PJSIP_DYNAMIC=0`` reloads instead.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from bench import setup_django, throwaway_database

PRESENCE_SAMPLES = 50


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _node_for_fake(fake, directory: Path):
    from pbx.models import AsteriskNode
    from tests.fake_asterisk import DEFAULT_SECRET, DEFAULT_USERNAME

    node = AsteriskNode.default()
    node.ami_host, node.ami_port = "127.0.0.1", fake.ami.port
    node.ami_username, node.ami_secret = DEFAULT_USERNAME, DEFAULT_SECRET
    node.ari_url = f"http://127.0.0.1:{fake.ari.port}/ari"
    node.ari_username, node.ari_password = DEFAULT_USERNAME, DEFAULT_SECRET
    node.generated_dir = str(directory)
    node.save()
    return node


def _real_node():
    from pbx.models import AsteriskNode

    node = AsteriskNode.default()
    node.generated_dir = os.environ["ASTERISK_GENERATED_DIR"]  # throwaway_database points the setting elsewhere
    node.save(update_fields=["generated_dir"])
    return node


def _one_company_changes(node) -> dict[str, float]:
    from pbx import actions
    from pbx import models as m
    from pbx.asterisk.apply import apply_node

    tenants = list(m.Tenant.objects.order_by("id")[500:503])
    figures: dict[str, float] = {}

    person = m.User.objects.create(tenant=tenants[0], email="new@bench.example", extension="1999", first_name="New",
                                   password="!")  # noqa: S106
    m.UserPresence.objects.create(tenant=tenants[0], user=person)
    m.Device.objects.create(tenant=tenants[0], user=person)
    started = time.perf_counter()
    result = apply_node(node, tenant_ids=[tenants[0].pk])
    figures["tenant_apply_s"] = round(time.perf_counter() - started, 3)
    if not result.ok:
        raise SystemExit(f"the one-company apply failed: {result.message}")
    _say("one new person in company #500: " + result.message)
    _say("  " + "\n  ".join(result.lines()))
    for step in ("read", "render", "compare", "check", "plan", "write", "asterisk", "queue_members"):
        figures[f"tenant_apply_{step}_s"] = round(result.timings.get(step, 0.0), 3)
    figures["tenant_apply_ami_actions"] = sum(n for k, n in result.actions.items() if not k.startswith("ARI"))
    figures["tenant_apply_dialplan_actions"] = result.dialplan_actions
    figures["tenant_apply_module_reloads"] = len(result.reloads)
    figures["tenant_apply_dialplan_reload"] = int(result.dialplan_reload)
    for kind, count in sorted(result.actions.items()):
        figures[f"tenant_apply_n_{kind.replace(' ', '_')}"] = count

    queue = m.Queue.objects.filter(tenant=tenants[1]).order_by("id").first()
    user = m.User.objects.filter(tenant=tenants[1]).order_by("id").last()
    m.QueueAgent.objects.create(tenant=tenants[1], queue=queue, user=user, logged_in=True)
    started = time.perf_counter()
    result = apply_node(node, tenant_ids=[tenants[1].pk])
    figures["tenant_apply_agent_s"] = round(time.perf_counter() - started, 3)
    _say("a new queue agent in company #501: " + result.message)

    second = m.User.objects.create(tenant=tenants[0], email="next@bench.example", extension="1998",
                                   first_name="Next", password="!")  # noqa: S106
    m.UserPresence.objects.create(tenant=tenants[0], user=second)
    m.Device.objects.create(tenant=tenants[0], user=second)
    started = time.perf_counter()
    result = apply_node(node, tenant_ids=[tenants[0].pk])
    figures["tenant_apply_next_person_s"] = round(time.perf_counter() - started, 3)
    _say("the next new person in company #500 (warm): " + result.message)

    menu = m.IvrMenu.objects.filter(tenant=tenants[2]).first()
    menu.timeout_seconds = 9
    actions.do_save_object(None, menu)
    started = time.perf_counter()
    result = apply_node(node, tenant_ids=[tenants[2].pk])
    figures["tenant_apply_menu_s"] = round(time.perf_counter() - started, 3)
    _say("an edited menu in company #502: " + result.message)
    return figures


def _presence_to_astdb(samples: int = PRESENCE_SAMPLES) -> float:
    """do_set_presence → the DBPut acknowledged, through the real receiver on the real signal."""
    from pbx import actions
    from pbx import models as m
    from pbx.asterisk import astdb_sync
    from pbx.signals import state_changed

    futures = []

    def capture(sender, **kwargs):
        futures.append(astdb_sync.on_state_changed(sender, **kwargs))

    state_changed.disconnect(dispatch_uid="pbx.asterisk.receivers.state")
    state_changed.connect(capture, weak=False)
    try:
        user = m.User.objects.filter(tenant__isnull=False).order_by("id")[5000]
        statuses = list(m.PresenceStatus.objects.filter(tenant_id=user.tenant_id, needs_end_time=False)[:2])
        if len(statuses) < 2:
            m.PresenceStatus.objects.filter(tenant_id=user.tenant_id).update(needs_end_time=False)
            statuses = list(m.PresenceStatus.objects.filter(tenant_id=user.tenant_id)[:2])
        actions.do_set_presence(None, user, statuses[0])  # warm: the connection is opened here
        futures.pop().result(10)
        times = []
        for i in range(samples):
            started = time.perf_counter()
            actions.do_set_presence(None, user, statuses[(i + 1) % 2], message=f"sample {i}")
            futures.pop().result(10)
            times.append(time.perf_counter() - started)
    finally:
        state_changed.disconnect(capture)
        state_changed.connect(astdb_sync.on_state_changed, dispatch_uid="pbx.asterisk.receivers.state")
    return statistics.median(times) * 1000


def _rewrite(node, *, empty_first: bool) -> tuple[float, dict]:
    """rewrite_all on a fresh AMI connection (as after a reconnect); with ``empty_first`` Asterisk's
    ``pbx`` family is deleted before (an Asterisk that lost its AstDB)."""
    import asyncio

    from pbx.asterisk.ami import AmiClient
    from pbx.asterisk.astdb_sync import load_node_state, rewrite_all

    async def go():
        client = AmiClient(node.ami_host, node.ami_port, node.ami_username, node.ami_secret, timeout=60,
                           events=False)
        await client.start()
        await client.wait_connected(10)
        try:
            if empty_first:
                await client.db_deltree("pbx")
            started = time.perf_counter()
            counts = await rewrite_all(node, client, state=state)
            return time.perf_counter() - started, counts
        finally:
            await client.stop()

    started = time.perf_counter()
    state = load_node_state(node)
    load_s = time.perf_counter() - started
    seconds, counts = asyncio.run(go())
    return load_s + seconds, dict(counts)


def run() -> dict[str, float]:
    setup_django()
    from django.test.utils import override_settings

    from bench.bench_confgen import build_world
    from pbx.asterisk import astdb_sync
    from pbx.asterisk.apply import apply_node

    real = os.environ.get("BENCH_ASTERISK", "").lower() == "real"
    from django.conf import settings

    # As the settings say (default on): the node's sorcery.conf has a memory wizard after the config one
    # (asterisk_conf/sorcery.conf), so new phones go through ARI; ASTERISK_PJSIP_DYNAMIC=0 reloads res_pjsip.
    dynamic = bool(settings.ASTERISK_PJSIP_DYNAMIC)
    figures: dict[str, float] = {}
    with throwaway_database() as _name, override_settings(ASTERISK_PJSIP_DYNAMIC=dynamic):
        build_world()
        fake = None
        try:
            if real:
                node = _real_node()
            else:
                from django.conf import settings

                from tests.fake_asterisk import AsteriskState
                from tests.fake_asterisk.threaded import ThreadedFake

                directory = Path(settings.ASTERISK_GENERATED_DIR)
                directory.mkdir(parents=True, exist_ok=True)
                fake = ThreadedFake(AsteriskState.empty(), config_dir=directory).start()
                if dynamic:  # the shipped sorcery.conf: endpoint, aor and auth have a writable memory wizard
                    fake.ari.sorcery_writable |= {"endpoint", "aor", "auth"}
                node = _node_for_fake(fake, directory)
            started = time.perf_counter()
            first = apply_node(node, force=True)
            figures["node_apply_s"] = round(time.perf_counter() - started, 3)
            if not first.ok:
                raise SystemExit(f"the whole-node apply failed: {first.message}")
            _say("whole node: " + first.message)
            if real:  # a real Asterisk works off the 8,000 new members' device states for a while
                time.sleep(float(os.environ.get("BENCH_SETTLE_S", "30")))
            figures.update(_one_company_changes(node))
            figures["presence_to_astdb_ms"] = round(_presence_to_astdb(), 2)
            seconds, counts = _rewrite(node, empty_first=True)
            figures["astdb_rewrite_empty_s"] = round(seconds, 3)
            figures["astdb_rewrite_empty_dbput"] = counts.get("DBPut", 0)
            _say(f"AstDB rewrite after losing it: {seconds:.2f} s, {counts}")
            seconds, counts = _rewrite(node, empty_first=False)
            figures["astdb_rewrite_in_step_s"] = round(seconds, 3)
            _say(f"AstDB rewrite of a node in step: {seconds:.2f} s, {counts}")
            figures["tenant_apply_real_asterisk"] = int(real)
            figures["tenant_apply_pjsip_dynamic"] = int(dynamic)
        finally:
            astdb_sync.close_writer()
            if fake is not None:
                fake.stop()
    return figures


if __name__ == "__main__":
    print(run())
