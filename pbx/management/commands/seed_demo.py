from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from pbx.demo import DEMO_PASSWORD, seed_demo
from pbx.models import AsteriskNode

FORCE = "--i-know-this-sets-known-passwords"


class Command(BaseCommand):
    help = ("Create the demo companies Demo AB and Exempel AB (idempotent). Every demo person, admins included, "
            "gets the password printed in the repository: only for DEBUG or the embedded first look, unless "
            f"forced with {FORCE}.")

    def add_arguments(self, parser):
        parser.add_argument(FORCE, dest="force", action="store_true",
                            help="Run outside DEBUG/embedded too, knowing that anyone who has read the repository "
                                 "can then log in as a demo company admin.")

    def handle(self, *args, **options):
        if not (settings.DEBUG or getattr(settings, "EMBEDDED", False) or options["force"]):
            raise CommandError(
                "seed_demo gives every demo person, admins included, a password printed in the repository. "
                f"It runs only with DEBUG=1 or PBX_EMBEDDED=1; on any other database add {FORCE}.")
        node = AsteriskNode.default()
        for company in seed_demo(node):
            self.stdout.write(
                f"{company.tenant.name}: admin {company.admin.email}, operator {company.operator.email}, "
                f"{len(company.agents)} agents, {len(company.users)} users"
            )
        self.stdout.write(f"Password for every demo person: {DEMO_PASSWORD}")
