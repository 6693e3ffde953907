"""Write the generated Asterisk files into a directory (nothing is applied to Asterisk)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from pbx.asterisk.confgen import ConfigError, render_from_db


class Command(BaseCommand):
    help = "Render the generated Asterisk configuration files (pjsip, extensions, queues...) into --out."

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="directory to write the files into")
        parser.add_argument("--tenant", type=int, action="append", help="only this company (repeatable)")

    def handle(self, *args, out, tenant, **options):
        try:
            files = render_from_db(tenant_ids=tenant)
        except ConfigError as exc:
            raise CommandError(str(exc)) from exc
        directory = Path(out)
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in sorted(files.items()):
            path = directory / name
            tmp = path.with_name(f".{name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
            self.stdout.write(f"{path} ({text.count(chr(10))} lines)")
