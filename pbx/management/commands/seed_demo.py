from django.core.management.base import BaseCommand

from pbx.demo import DEMO_PASSWORD, seed_demo
from pbx.models import AsteriskNode


class Command(BaseCommand):
    help = "Create the demo companies Demo AB and Exempel AB (idempotent)."

    def handle(self, *args, **options):
        node = AsteriskNode.default()
        for company in seed_demo(node):
            self.stdout.write(
                f"{company.tenant.name}: admin {company.admin.email}, operator {company.operator.email}, "
                f"{len(company.agents)} agents, {len(company.users)} users"
            )
        self.stdout.write(f"Password for every demo person: {DEMO_PASSWORD}")
