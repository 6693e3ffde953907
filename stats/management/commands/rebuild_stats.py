"""``manage.py rebuild_stats --company demo --from 2026-11-01 --to 2026-11-30``: the statistics' intervals
rebuilt from the raw call log, queue log and agent log (idempotent: running it again changes nothing).

Days are the company's own (its time zone); without --company every company; without --from/--to today.
"""

from __future__ import annotations

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError

CHUNK_DAYS = 7


class Command(BaseCommand):
    help = "Rebuild the statistics' 15-minute intervals from the raw rows for a period."

    def add_arguments(self, parser):
        parser.add_argument("--company", action="append", default=[], help="slug or id (repeatable); default all")
        parser.add_argument("--from", dest="first", help="first local day, YYYY-MM-DD (default today)")
        parser.add_argument("--to", dest="last", help="last local day, YYYY-MM-DD (default the --from day)")

    def handle(self, *args, company, first, last, **options):
        from pbx.models import Tenant
        from stats import aggregate, periods

        tenants = list(Tenant.objects.all().order_by("pk"))
        if company:
            wanted = set(company)
            tenants = [t for t in tenants if t.slug in wanted or str(t.pk) in wanted]
            missing = wanted - {t.slug for t in tenants} - {str(t.pk) for t in tenants}
            if missing:
                raise CommandError(f"no company {', '.join(sorted(missing))}")
        try:
            first_day = dt.date.fromisoformat(first) if first else None
            last_day = dt.date.fromisoformat(last) if last else None
        except ValueError as exc:
            raise CommandError(f"dates are YYYY-MM-DD: {exc}") from exc
        for tenant in tenants:
            zone = periods.zone_of(tenant)
            begin = first_day or periods.today(zone)
            span = periods.custom(begin, last_day or begin, zone)
            started, calls = time.perf_counter(), 0
            day = span.first
            while day <= span.last:
                until = min(span.last, day + dt.timedelta(days=CHUNK_DAYS - 1))
                chunk = periods.custom(day, until, zone)
                calls += aggregate.rebuild(tenant.pk, chunk.start, chunk.end)
                day = until + dt.timedelta(days=1)
            took = time.perf_counter() - started
            self.stdout.write(f"{tenant.slug}: {span.first}–{span.last} rebuilt, {calls} calls in {took:.2f} s")
