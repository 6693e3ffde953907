"""Check the generated Asterisk configuration: every reference resolves, no company reaches
another, nothing typed by a person is left unescaped. Exits 1 when anything is found."""

from __future__ import annotations

import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from pbx.asterisk.checker import check, stock_prompts
from pbx.asterisk.confgen import GENERATORS, ConfigError, render_from_db
from pbx.numbering import NumberPolicy


def read_dir(directory: Path, names) -> dict[str, str]:
    return {name: (directory / name).read_text(encoding="utf-8") for name in names if (directory / name).is_file()}


class Command(BaseCommand):
    help = "Render (or read from --dir) the generated Asterisk files and check them; exit 1 on any finding."

    def add_arguments(self, parser):
        parser.add_argument("--dir", help="check the files in this directory instead of rendering them")
        parser.add_argument("--base", help="the hand-written base config directory (asterisk_conf/)")
        parser.add_argument("--tenant", type=int, action="append", help="only this company (repeatable)")

    def handle(self, *args, dir, base, tenant, **options):
        if dir:
            files = read_dir(Path(dir), GENERATORS)
        else:
            try:
                files = render_from_db(tenant_ids=tenant)
            except ConfigError as exc:
                raise CommandError(str(exc)) from exc
        base_files = read_dir(Path(base), GENERATORS) if base else None
        findings = check(files, sounds_dir=Path(settings.ASTERISK_SOUNDS_DIR), base=base_files,
                         stock_sounds=stock_prompts(settings.ASTERISK_STOCK_SOUNDS_DIR), numbers=NumberPolicy.from_db())
        for finding in findings:
            self.stdout.write(str(finding))
        if findings:
            self.stderr.write(f"{len(findings)} finding(s): the configuration must not be applied.")
            sys.exit(1)
        self.stdout.write(f"OK: {', '.join(sorted(files))} check clean.")
