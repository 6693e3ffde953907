"""``manage.py create_api_key <e-mail> --name CRM [--scopes stats:read,calls:control]``: print a new key.

Without ``--scopes`` a personal access token of that person; with them a company API key, which the person
(a company admin) owns and which acts in their name. The key is printed once, alone on stdout (for scripts).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from api.auth import do_create_api_key
from api.models import ApiKey
from pbx.models import User


class Command(BaseCommand):
    help = "Create an API key for a person (personal token) or, with --scopes, a company key of theirs."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--name", required=True)
        parser.add_argument("--scopes", default="", help="Comma-separated, e.g. stats:read,calls:control")

    def handle(self, *args, email, name, scopes, **options):
        try:
            user = User.objects.get(email=email.lower(), tenant__isnull=False)
        except User.DoesNotExist:
            raise CommandError(f"No person of a company has the e-mail address {email}.") from None
        wanted = [s.strip() for s in scopes.split(",") if s.strip()]
        kind = ApiKey.Kind.COMPANY if wanted else ApiKey.Kind.PERSONAL
        try:
            _key, secret = do_create_api_key(user, user, name=name, kind=kind, scopes=wanted)
        except Exception as error:
            raise CommandError(str(error)) from error
        self.stdout.write(secret)
