"""Render and check the Asterisk configuration of a big node: 1,000 companies, 10,000 people.

The world is written with ``bulk_create`` (no actions: we measure rendering, not seeding): per
company 10 people with a desk phone, voicemail box and direct number each, 2 queues with 4
agents, 1 IVR menu, a schedule with weekly hours and holidays, 5 presence statuses and a main
number. Figures:

``render_s``         load the snapshot and render every file (median of 3)
``render_peak_mib``  peak Python memory during one render (tracemalloc)
``check_s``          parse every file back and check all references
``render_one_tenant_s`` render_update: the files after one new person, rendering only that company
``check_one_tenant_s`` check_changes for one new person in one company (only what changed)
``plan_one_tenant_s`` plan_changes for the same change (AMI actions: extensions; pjsip reload)
``render_check_plan_one_tenant_s`` the three together: the pure part of applying that change
``render_check_plan_next_change_s`` the same for a second change in the same process (warm)
``astdb_state_s``    compute the whole AstDB state of the node
"""

from __future__ import annotations

import datetime
import time
import tracemalloc

from bench import median_seconds, setup_django, throwaway_database

TENANTS = 1000
USERS = 10
QUEUES = 2
MENUS = 1


def build_world(tenants: int = TENANTS, users_per: int = USERS, queues_per: int = QUEUES, menus_per: int = MENUS) -> None:
    from pbx import models as m

    tenant_rows = m.Tenant.objects.bulk_create(
        [m.Tenant(name=f"Company {i}", slug=f"bench-{i}") for i in range(tenants)], batch_size=1000
    )
    users, devices = [], []
    for n, tenant in enumerate(tenant_rows):
        for u in range(users_per):
            users.append(m.User(
                tenant=tenant, email=f"u{u}@c{n}.example", password="!", first_name=f"Person{u}",  # noqa: S106
                last_name=f"Company {n}", extension=str(1001 + u), is_agent=u < 4,
            ))
    users = m.User.objects.bulk_create(users, batch_size=5000)
    for user in users:
        devices.append(m.Device(tenant_id=user.tenant_id, user=user, kind="desk"))
    m.Device.objects.bulk_create(devices, batch_size=5000)
    boxes = m.VoicemailBox.objects.bulk_create([
        m.VoicemailBox(tenant_id=u.tenant_id, number=u.extension, name=f"{u.first_name} {u.last_name}",
                       owner=u, pin="1234", email=u.email)
        for u in users
    ], batch_size=5000)
    by_tenant: dict[int, list] = {}
    for user in users:
        by_tenant.setdefault(user.tenant_id, []).append(user)
    shared_boxes = m.VoicemailBox.objects.bulk_create([
        m.VoicemailBox(tenant=t, number="800", name="Shared", kind="shared", pin="4242") for t in tenant_rows
    ], batch_size=1000)
    queues = m.Queue.objects.bulk_create([
        m.Queue(tenant=t, name=f"Queue {q}", extension=str(200 + q), callback_enabled=q == 0)
        for t in tenant_rows for q in range(queues_per)
    ], batch_size=2000)
    m.QueueAgent.objects.bulk_create([
        m.QueueAgent(tenant_id=q.tenant_id, queue=q, user=user, logged_in=True)
        for q in queues for user in by_tenant[q.tenant_id][:4]
    ], batch_size=5000)
    dests = m.Destination.objects.bulk_create(
        [m.Destination(tenant_id=u.tenant_id, kind="user", user=u) for u in users]
        + [m.Destination(tenant_id=q.tenant_id, kind="queue", queue=q) for q in queues]
        + [m.Destination(tenant_id=b.tenant_id, kind="voicemail", voicemail_box=b) for b in shared_boxes],
        batch_size=5000,
    )
    user_dest = {d.user_id: d for d in dests if d.kind == "user"}
    queue_dests: dict[int, list] = {}
    for d in dests:
        if d.kind == "queue":
            queue_dests.setdefault(d.tenant_id, []).append(d)
    vm_dest = {d.tenant_id: d for d in dests if d.kind == "voicemail"}
    menus = m.IvrMenu.objects.bulk_create([
        m.IvrMenu(tenant=t, name=f"Menu {k}", timeout_destination=user_dest[by_tenant[t.id][0].id])
        for t in tenant_rows for k in range(menus_per)
    ], batch_size=2000)
    m.IvrOption.objects.bulk_create([
        m.IvrOption(tenant_id=menu.tenant_id, menu=menu, digit=str(k + 1), destination=dest)
        for menu in menus for k, dest in enumerate(queue_dests[menu.tenant_id][:2])
    ] + [
        m.IvrOption(tenant_id=menu.tenant_id, menu=menu, digit="0", destination=user_dest[by_tenant[menu.tenant_id][0].id])
        for menu in menus
    ], batch_size=5000)
    menu_dests = m.Destination.objects.bulk_create(
        [m.Destination(tenant_id=menu.tenant_id, kind="menu", menu=menu) for menu in menus], batch_size=2000
    )
    first_menu_dest = {}
    for d in menu_dests:
        first_menu_dest.setdefault(d.tenant_id, d)
    schedules = m.Schedule.objects.bulk_create([m.Schedule(tenant=t, name="Office") for t in tenant_rows])
    m.WeeklyHours.objects.bulk_create([
        m.WeeklyHours(tenant_id=s.tenant_id, schedule=s, weekday=d, open_time=datetime.time(8), close_time=datetime.time(17))
        for s in schedules for d in range(5)
    ], batch_size=5000)
    m.SpecialDay.objects.bulk_create([
        m.SpecialDay(tenant_id=s.tenant_id, schedule=s, name=name, start_date=start, end_date=end)
        for s in schedules
        for name, start, end in (("Christmas", datetime.date(2026, 12, 24), datetime.date(2026, 12, 26)),
                                 ("New year", datetime.date(2027, 1, 1), datetime.date(2027, 1, 1)),
                                 ("Midsummer", datetime.date(2026, 6, 19), datetime.date(2026, 6, 19)))
    ], batch_size=5000)
    schedule_of = {s.tenant_id: s for s in schedules}
    numbers = []
    for n, tenant in enumerate(tenant_rows):
        numbers.append(m.Number(tenant=tenant, e164=f"+46{10000000 + n * 100}", kind="main",
                                destination=first_menu_dest[tenant.id], schedule=schedule_of[tenant.id],
                                closed_destination=vm_dest[tenant.id]))
        for k, user in enumerate(by_tenant[tenant.id]):
            numbers.append(m.Number(tenant=tenant, e164=f"+46{10000000 + n * 100 + k + 1}", kind="direct",
                                    user=user, destination=user_dest[user.id]))
    m.Number.objects.bulk_create(numbers, batch_size=5000)
    # Each company's block of 100, as the platform's operator assigns them (unassigned ones never render).
    m.NumberAssignment.objects.bulk_create([
        m.NumberAssignment(tenant=tenant, first=f"+46{10000000 + n * 100}", last=f"+46{10000000 + n * 100 + 99}")
        for n, tenant in enumerate(tenant_rows)
    ], batch_size=5000)
    m.PresenceStatus.objects.bulk_create([
        m.PresenceStatus(tenant=t, name=name, code=code, asterisk_state=state,
                         forward_to=vm_dest[t.id] if code == 4 else None)
        for t in tenant_rows
        for name, code, state in (("Lunch", 1, "away"), ("Meeting", 2, "dnd"), ("Away", 3, "away"),
                                  ("Vacation", 4, "xa"), ("Sick", 5, "xa"))
    ], batch_size=5000)
    del boxes


def run() -> dict[str, float]:
    setup_django()
    from pbx import models as m
    from pbx.asterisk.astdb import astdb_state
    from pbx.asterisk.checker import check, check_changes
    from pbx.asterisk.confgen import render_from_db, render_update
    from pbx.asterisk.plan import plan_changes

    with throwaway_database():
        build_world()
        render_from_db()  # warm up: imports, first queries
        render_s = median_seconds(lambda i: render_from_db(), 3)
        tracemalloc.start()
        files = render_from_db()
        _size, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        start = time.perf_counter()
        findings = check(files)
        check_s = time.perf_counter() - start
        if findings:
            raise SystemExit("the big render does not check clean:\n" + "\n".join(str(f) for f in findings[:20]))
        tenant = m.Tenant.objects.order_by("id")[500]
        user = m.User.objects.create(tenant=tenant, email="new@bench.example", extension="1999", first_name="New")
        m.Device.objects.create(tenant=tenant, user=user)
        start = time.perf_counter()
        new_files = render_update(files, tenant.pk)
        render_again_s = time.perf_counter() - start
        assert new_files == render_from_db(), "render_update differs from a full render"
        start = time.perf_counter()
        findings = check_changes(files, new_files)
        check_changes_s = time.perf_counter() - start
        assert findings == [], findings
        start = time.perf_counter()
        plan = plan_changes(files, new_files)
        plan_s = time.perf_counter() - start
        # The next change in the same process: what an apply loop sees (the running files' text
        # was split and indexed when they were checked).
        user = m.User.objects.create(tenant=tenant, email="next@bench.example", extension="1998", first_name="Next")
        m.Device.objects.create(tenant=tenant, user=user)
        start = time.perf_counter()
        third = render_update(new_files, tenant.pk)
        assert check_changes(new_files, third) == []
        plan_changes(new_files, third)
        warm_s = time.perf_counter() - start
        start = time.perf_counter()
        state = astdb_state()
        astdb_s = time.perf_counter() - start
        lines = files["extensions.conf"].count("\n")
    return {
        "render_s": round(render_s, 3),
        "render_peak_mib": round(peak / 2**20, 1),
        "check_s": round(check_s, 3),
        "render_one_tenant_s": round(render_again_s, 3),
        "check_one_tenant_s": round(check_changes_s, 3),
        "plan_one_tenant_s": round(plan_s, 3),
        "render_check_plan_one_tenant_s": round(render_again_s + check_changes_s + plan_s, 3),
        "render_check_plan_next_change_s": round(warm_s, 3),
        "plan_one_tenant_actions": len(plan.dialplan_actions),
        "astdb_state_s": round(astdb_s, 3),
        "astdb_keys": len(state),
        "dialplan_lines": lines,
    }


if __name__ == "__main__":
    print(run())
