"""A live product for the browser tests: the embedded run (uvicorn + event bridge + fake Asterisk with Demo AB's
phones and queues, ``pbx.management.commands.run_embedded.Embedded``) on its own event loop in a background
thread, over the session's test database, and headless Chromium driven by Playwright.

pytest-django's ``live_server`` is WSGI only; the console needs websockets, so this serves the ASGI application
itself. The server's threads have their own database connections, so the browser tests use no per-test
transaction: they run against the committed two-company world of tests/conftest.py (this session's database
only) and are written to be independent of each other's leftovers. The channel layer and the live state are
the in-memory ones (the embedded default: web and bridge share this process), whatever REDIS_URL says.

The simulated people still answer their phones (the operator's at once, a colleague's after a few seconds),
but no simulated caller arrives: the tests place their callers themselves, and the queues' agents are paused,
so a test's caller waits until the operator answers it.

Run apart from the other tests (sync Playwright cannot share a run with pytest-asyncio's loop):
``make test-browser``. Chromium: Debian's ``/usr/bin/chromium`` (``CHROMIUM`` overrides).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
NODE_SETTINGS = ("ASTERISK_AMI_HOST", "ASTERISK_AMI_PORT", "ASTERISK_ARI_URL")


class LiveServer:
    """The embedded product on a loop of its own; ``run`` does something on that loop (the fake's state is
    only ever touched there)."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="embedded", daemon=True)
        self.embedded = None
        self.url = ""

    def call(self, coro, timeout: float = 60.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def run(self, func: Callable, *args, timeout: float = 10.0):
        async def wrapper():
            return func(*args)

        return self.call(wrapper(), timeout)

    @property
    def fake(self):
        return self.embedded.fake

    def start(self, embedded) -> LiveServer:
        self.thread.start()
        self.embedded = embedded
        self.call(embedded.start())
        self.url = f"http://{embedded.host}:{embedded.port}"
        return self

    def stop(self) -> None:
        from asgiref.sync import sync_to_async
        from django.db import connections

        try:
            if self.embedded is not None:
                self.call(self.embedded.stop())
            # The database connection of the server's worker thread (pages, consumers, the bridge).
            self.call(sync_to_async(connections.close_all)())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)

    # ---- the fake Asterisk, from the test's thread

    def wait_for(self, condition: Callable[[], object], timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.run(condition)
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{getattr(condition, '__name__', condition)} did not happen within {timeout} s")

    def queue_caller(self, world, queue_label: str, number: str, name: str):
        """Someone outside calls the company number of a queue and waits in it."""
        from tests.fake_asterisk.demo_traffic import TRUNK

        info = next(q for q in world.queues if q.label == queue_label)
        return self.run(lambda: self.fake.place_call(TRUNK, info.number, context=f"t{world.tenant_id}-queue-{info.queue_id}",
                                                     caller_num=number, caller_name=name))

    def ringing_phone(self, endpoints: list[str]):
        """The first phone of ``endpoints`` that rings now, or None."""
        for ch in self.fake.state.channels.values():
            if ch.state == 5 and ch.endpoint and ch.endpoint.split("/", 1)[1] in endpoints:
                return ch
        return None

    def pick_up(self, endpoints: list[str], timeout: float = 10.0) -> None:
        """Wait for one of the phones to ring and answer it (as the person would)."""
        def answer():
            ch = self.ringing_phone(endpoints)
            if ch is None:
                return False
            self.fake.answer(ch)
            return True

        answer.__name__ = f"a ringing phone of {endpoints}"
        self.wait_for(answer, timeout)

    def hang_up_caller(self, number: str) -> None:
        def hangup():
            for ch in list(self.fake.state.channels.values()):
                if ch.caller_num == number and ch.endpoint:
                    self.fake.hangup(ch)
                    return True
            return False

        self.wait_for(hangup, 5)


def prepare_world() -> None:
    """The queues' agents paused (no simulated agent takes the tests' callers); the operator is an agent of
    Sales, logged out (her "my queues" has something to log in to)."""
    from pbx.models import Queue, QueueAgent, Tenant, User

    demo = Tenant.objects.get(slug="demo")
    QueueAgent.objects.filter(tenant=demo).update(paused=True, pause_reason="Utbildning")
    olle = User.objects.get(tenant=demo, is_operator=True)
    sales = Queue.objects.get(tenant=demo, name="Sales")
    QueueAgent.objects.update_or_create(tenant=demo, queue=sales, user=olle,
                                        defaults={"priority": 5, "logged_in": False, "paused": False})


def on_test_database() -> bool:
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    return name.startswith(("test_", "file:memorydb")) or name == ":memory:"


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker):
    """The test database and the two-company world, whether or not a test asks for ``db``.

    pytest-django creates test databases only for runs with a test that uses one through its own fixtures;
    these tests reach the database through the served product instead (no per-test transaction: the server's
    threads could not see it), so the database is set up here, and never the development one.
    """
    from django.test.utils import setup_databases, teardown_databases

    from pbx.demo import build_company

    with django_db_blocker.unblock():
        config = None
        if not on_test_database():  # not already set up by a non-browser test of the same run
            config = setup_databases(verbosity=0, interactive=False, aliases={"default"}, serialized_aliases=set())
        assert on_test_database()
        build_company("Demo AB", "demo", 1)
        build_company("Exempel AB", "exempel", 2)
    yield
    if config is not None:
        with django_db_blocker.unblock():
            drop_other_sessions()
            teardown_databases(config, verbosity=0)


def drop_other_sessions() -> None:
    """A thread of the served product may still hold a connection to the test database (PostgreSQL then
    refuses to drop it): end them; the database is about to go anyway."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    connection.close()


@pytest.fixture(scope="session")
def live_console(django_db_setup, django_db_blocker):
    from channels.layers import channel_layers
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections
    from django.test.utils import override_settings

    from pbx.asterisk.bridge import state as live
    from pbx.management.commands.run_embedded import Embedded, free_port
    from pbx.models import AsteriskNode

    unblocked = django_db_blocker.unblock()
    unblocked.__enter__()
    assert on_test_database(), "the browser tests change data: only ever on a test database"
    overrides = override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}},
                                  REDIS_URL="")
    overrides.enable()
    channel_layers.backends.clear()
    live._process_state = None
    saved = {name: getattr(settings, name) for name in NODE_SETTINGS}
    node_before = list(AsteriskNode.objects.filter(is_default=True).values())
    server = LiveServer()
    try:
        call_command("collectstatic", interactive=False, verbosity=0)  # the pages' CSS and JS (whitenoise)
        prepare_world()
        embedded = Embedded("127.0.0.1", free_port(), simulate=True, seed=11, log_level="warning",
                            traffic={"arrival": (3600.0, 7200.0), "talk": (900.0, 1200.0), "presence_changes": False})
        server.start(embedded)
        yield server
    finally:
        server.stop()
        for name, value in saved.items():
            setattr(settings, name, value)
        if node_before:
            AsteriskNode.objects.filter(pk=node_before[0]["id"]).update(
                **{k: v for k, v in node_before[0].items() if k != "id"})
        live._process_state = None
        channel_layers.backends.clear()
        overrides.disable()
        connections.close_all()
        unblocked.__exit__(None, None, None)


class People(dict):
    """The two companies' people by first name (lower case), their phones, and Demo AB as the fake sees it."""

    def phones(self, user) -> list[str]:
        return self["_phones"][user.pk]


@pytest.fixture(scope="session")
def people(live_console):
    """Read before Playwright starts: sync Playwright runs an event loop in this thread, and Django refuses
    database work in a thread with a running loop. The tests touch the database through the product only."""
    from pbx.models import Device, User
    from tests.fake_asterisk.demo_traffic import load_world

    found = People({u.first_name.lower(): u for u in User.objects.filter(tenant__slug__in=["demo", "exempel"])})
    phones: dict[int, list[str]] = {}
    for device in Device.objects.filter(user__in=list(found.values())):
        phones.setdefault(device.user_id, []).append(device.endpoint)
    found["_phones"] = phones
    found["world"] = load_world("demo")
    return found


@pytest.fixture(scope="session")
def browser(live_console, people):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_as(browser, live_console):
    """open_as(email, path) → a page of a fresh browser context, signed in as that person."""
    from pbx.demo import DEMO_PASSWORD

    contexts = []
    violations: list[str] = []

    def open_page(email: str, path: str = "/console/", *, locale: str = "sv-SE", width: int = 1400,
                  height: int = 900, mobile: bool = False):
        context = browser.new_context(locale=locale, timezone_id="Europe/Stockholm",
                                      viewport={"width": width, "height": height}, is_mobile=mobile,
                                      has_touch=mobile, device_scale_factor=2 if mobile else 1)
        context.set_default_timeout(10_000)
        # Chromium reports every Content-Security-Policy refusal on the page's console: none may occur.
        context.on("console", lambda message: violations.append(f"{message.page.url if message.page else ''}: "
                                                                  f"{message.text}")
                   if "Content Security Policy" in message.text else None)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{live_console.url}/accounts/login/")
        page.fill("input[name=login]", email)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("form.form button[type=submit]")
        page.wait_for_load_state()
        if "/accounts/login/" in page.url:
            errors = page.locator(".alert, .field__error").all_inner_texts()
            raise AssertionError(f"could not log in as {email}: {errors or page.content()[:3000]}")
        page.goto(f"{live_console.url}{path}")
        return page

    open_page.csp_violations = violations
    yield open_page
    for context in contexts:
        context.close()
    assert violations == [], "pages broke the Content-Security-Policy"


def live(page, timeout: float = 10_000) -> None:
    """The console is connected and has its snapshot."""
    page.wait_for_selector("#conn[data-state=live]", timeout=timeout)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=False)
    return path
