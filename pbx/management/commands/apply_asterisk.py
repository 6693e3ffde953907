"""``manage.py apply_asterisk``: render, check and apply the configuration of every node (or --node).

Prints per node what it did (files changed, module reloads, dialplan actions, ARI requests, queue
member actions) and exits 1 when any node failed (check findings, Asterisk refusing, unreachable).
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Render, check and apply the generated Asterisk configuration with the least reload work."

    def add_arguments(self, parser):
        parser.add_argument("--node", action="append", default=[], help="only this node (repeatable)")
        parser.add_argument("--dry-run", action="store_true",
                            help="render, check and plan, but write nothing and send nothing")
        parser.add_argument("--force", action="store_true",
                            help="write every file and reload everything (after a manual change in Asterisk)")

    def handle(self, *args, node, dry_run, force, **options):
        from pbx.asterisk.apply import apply_node
        from pbx.models import AsteriskNode

        AsteriskNode.default()  # the node the ASTERISK_* settings describe, kept in step with them
        nodes = list(AsteriskNode.objects.filter(name__in=node) if node else AsteriskNode.objects.all())
        missing = set(node) - {n.name for n in nodes}
        if missing:
            raise CommandError(f"no Asterisk node named {', '.join(sorted(missing))}")
        failed = 0
        for row in nodes:
            result = apply_node(row, force=force, dry_run=dry_run)
            for line in result.lines():
                self.stdout.write(line)
            failed += not result.ok
        if failed:
            self.stderr.write(f"{failed} node(s) failed.")
            sys.exit(1)
