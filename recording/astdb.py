"""The AstDB keys the dialplan's recording decision reads at answer time (docs/recording.md, docs/astdb.md).

    pbx t<T>/rec/auto    "1" when automatic recording is on (service on, kill switch off), else "0"
    pbx t<T>/rec/lic     the company's recording + listen-in licences
    pbx t<T>/rec/ann     the id of the "this call is recorded" prompt ("" = none)
    pbx t<T>/rec/x       the excluded customer numbers as ":46701234567:46812345678:" ("" for none)
    pbx t<T>/u<U>/rec    "" when the person is not recorded; else "e" + the letters of their department's
                         rule: i inbound external, o outbound external, n internal

The excluded numbers are one value, so adding or removing one is a single DBPut: there is never a moment
when a number removed from the list is still excluded, or one added is not yet, and no key is left behind.
A value is at most MAX_EXCLUDED numbers long, well inside what DB() reads (4,096 bytes).
"""

from __future__ import annotations

FAMILY = "pbx"
MAX_EXCLUDED = 250


def excluded_value(numbers) -> str:
    digits = sorted({n.lstrip("+") for n in numbers if n})
    return f":{':'.join(digits)}:" if digits else ""


def person_value(enabled: bool, inbound: bool, outbound: bool, internal: bool) -> str:
    if not enabled:
        return ""
    return "e" + ("i" if inbound else "") + ("o" if outbound else "") + ("n" if internal else "")


def recording_keys(tenant_filter: dict, user_filter: dict | None = None) -> dict[tuple[str, str], str]:
    """Keys of the companies matching ``tenant_filter`` (Tenant lookups); with ``user_filter`` (User
    lookups) only those people's ``u<U>/rec``."""
    from pbx.models import Tenant, User

    from .models import DepartmentRule, ExcludedNumber, RecordedPerson, RecordingSettings

    state: dict[tuple[str, str], str] = {}
    if user_filter is None:
        tenants = dict(Tenant.objects.filter(**tenant_filter).values_list("id", "max_recording_channels"))
        if not tenants:
            return state
        settings = {tid: (enabled, kill, ann if sound else None) for tid, enabled, kill, ann, sound in
                    RecordingSettings.objects.filter(tenant_id__in=tenants).values_list(
                        "tenant_id", "enabled", "kill_switch", "announcement_id", "announcement__sound_name")}
        excluded: dict[int, list[str]] = {}
        for tid, e164 in ExcludedNumber.objects.filter(tenant_id__in=tenants).values_list("tenant_id", "e164"):
            excluded.setdefault(tid, []).append(e164)
        for tid, licences in tenants.items():
            enabled, kill, announcement = settings.get(tid, (False, False, None))
            state[(FAMILY, f"t{tid}/rec/auto")] = "1" if enabled and not kill else "0"
            state[(FAMILY, f"t{tid}/rec/ann")] = str(announcement) if announcement else ""
            state[(FAMILY, f"t{tid}/rec/lic")] = str(licences)
            state[(FAMILY, f"t{tid}/rec/x")] = excluded_value(excluded.get(tid, ())[:MAX_EXCLUDED])
        users = User.objects.filter(tenant_id__in=tenants, is_active=True)
    else:
        users = User.objects.filter(tenant__isnull=False, is_active=True, **user_filter)
    rows = list(users.order_by("id").values_list("id", "tenant_id", "department_id"))
    if not rows:
        return state
    enabled = dict(RecordedPerson.objects.filter(user_id__in=[r[0] for r in rows]).values_list("user_id", "enabled"))
    rules = {dep: (i, o, n) for dep, i, o, n in DepartmentRule.objects.filter(
        department_id__in={r[2] for r in rows} - {None}).values_list(
        "department_id", "inbound_external", "outbound_external", "internal")}
    for uid, tid, department_id in rows:
        state[(FAMILY, f"t{tid}/u{uid}/rec")] = person_value(enabled.get(uid, False),
                                                              *rules.get(department_id, (False, False, False)))
    return state
