"""The two-company world every test starts from.

Demo AB: Alice admins it, Olle is its operator, Bob, Cecilia and David are agents, Eva and
Filip are users. Exempel AB: Carol admins it, Petra operates, Dave, Gustav and Hanna are agents,
Ivar and Julia users. Built once per test session (through the real actions) and rolled back
around each test, so every test sees the same world.
"""

from __future__ import annotations

import pytest

from pbx.demo import DemoCompany, build_company, load_company


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        build_company("Demo AB", "demo", 1)
        build_company("Exempel AB", "exempel", 2)


@pytest.fixture(scope="session", autouse=True)
def swedish_catalogue():
    """The Swedish .mo is compiled, not committed (locale/.gitignore): a bare ``pytest`` in a fresh checkout, or
    after editing the .po, compiles it first, so the tests that read Swedish pages see Swedish."""
    import shutil
    from pathlib import Path

    po = Path(__file__).resolve().parent.parent / "locale" / "sv" / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    if (mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime) or shutil.which("msgfmt") is None:
        return
    from django.core.management import call_command
    from django.utils.translation import trans_real

    call_command("compilemessages", locale=["sv"], ignore_patterns=[".*", "var", "node_modules"], verbosity=0)
    trans_real._translations = {}
    trans_real._default = None


@pytest.fixture(autouse=True)
def default_language():
    """Every test starts in the site's language: a request of the test client runs LocaleMiddleware in the
    test's own thread, and a test that switched to Swedish would otherwise leave Swedish active for the next."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def demo(db) -> DemoCompany:
    from pbx.models import Tenant

    return load_company(Tenant.objects.get(slug="demo"))


@pytest.fixture
def exempel(db) -> DemoCompany:
    from pbx.models import Tenant

    return load_company(Tenant.objects.get(slug="exempel"))


@pytest.fixture
def alice(demo):
    return demo.admin


@pytest.fixture
def olle(demo):
    return demo.operator


@pytest.fixture
def bob(demo):
    return demo.agents[0]


@pytest.fixture
def eva(demo):
    return demo.users[0]


@pytest.fixture
def carol(exempel):
    return exempel.admin


@pytest.fixture
def dave(exempel):
    return exempel.agents[0]


@pytest.fixture
def superuser(db):
    from pbx.models import User

    return User.objects.create_superuser("root@example.org", "root-Password-1!")
