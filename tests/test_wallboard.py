"""The wallboard (wallboard/): figures from replayed Asterisk events through the real bridge, the pushes per
company, the websocket for signed-in people and TV links, the pages and who may see them.

Demo AB: Alice admins it, Olle operates it, Bob is an agent. Exempel AB: Carol admins it, Petra operates it;
nothing of Demo's wallboard reaches them. Like tests/test_consumers.py, each websocket scenario runs with
``async_to_sync`` so its database work happens inside the test's transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pbx.asterisk.bridge import domain as d
from pbx.asterisk.bridge import state as live_module
from pbx.asterisk.bridge.persist import persist_call
from pbx.asterisk.bridge.service import NodeBridge
from pbx.asterisk.bridge.state import LiveState, MemoryStore
from pbx.models import AsteriskNode
from stats.models import QueueEvent
from tests.bridge_fixtures import StubAmi, capture, capture_resolver, drive
from tests.helpers import capture_events
from wallboard.actions import do_create_wallboard_link, do_revoke_wallboard_link
from wallboard.feed import WallboardFeed, live_figures, wallboard_group
from wallboard.models import Layout, Tile, WallboardLink
from wallboard.today import today_figures

pytestmark = pytest.mark.django_db

ANSWERED = "d_queue_call_answered_by_agent"
ABANDONED = "e_queue_caller_abandon"


@pytest.fixture(autouse=True)
def memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture(autouse=True)
def keep_test_connection(monkeypatch):
    # Channels and the bridge close "old" connections around database work; inside a test transaction that
    # would drop the test's own connection.
    monkeypatch.setattr("channels.db.close_old_connections", lambda: None)
    monkeypatch.setattr("pbx.asterisk.bridge.service.close_old_connections", lambda: None)


@pytest.fixture(autouse=True)
def live(monkeypatch):
    state = LiveState(MemoryStore())
    monkeypatch.setattr(live_module, "_process_state", state)
    return state


@pytest.fixture
def petra(exempel):
    return exempel.operator


@pytest.fixture
def layout(demo):
    layout = Layout.objects.create(tenant=demo.tenant, name="Kundtjänst", theme=Layout.Theme.CONTRAST, is_default=True)
    Tile.objects.create(tenant=demo.tenant, layout=layout, position=1, waiting_red=0)
    Tile.objects.create(tenant=demo.tenant, layout=layout, position=2, queue=demo.queues["Support"],
                        size=Tile.Size.LARGE, longest_wait_amber=30, longest_wait_red=60, service_level_red=80)
    return layout


def run(scenario, *args):
    """Run an async scenario with its database calls on this (the test's) thread."""
    return async_to_sync(scenario)(*args)


def cookie_for(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


def socket(path: str, session: str | None = None):
    from channels.testing import WebsocketCommunicator

    from pbx.asgi import application

    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if session:
        headers.append((b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={session}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def closed_with(comm) -> int:
    connected, _ = await comm.connect()
    assert connected  # accepted, then closed with a reason the page can read
    message = await comm.receive_output(timeout=5)
    assert message["type"] == "websocket.close"
    return message["code"]


def tiles_pushed(pushed, tenant_id):
    return [e for groups, e in pushed if groups == [wallboard_group(tenant_id)] and e["type"] == "wallboard.tiles"]


def capture_day(name: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(capture(name)[-1].at, tz=dt.UTC)


# ------------------------------------------------------------------------------------------ figures


def test_a_person_in_two_queues_counts_once_for_the_company_by_their_busiest_state():
    agents = {
        "a": {"queue_id": 1, "queue": "q1", "user_id": 7, "member": "PJSIP/7", "paused": False, "status": "idle"},
        "b": {"queue_id": 2, "queue": "q2", "user_id": 7, "member": "PJSIP/7", "paused": False, "status": "in_use"},
        "c": {"queue_id": 1, "queue": "q1", "user_id": 8, "member": "PJSIP/8", "paused": True, "status": "idle"},
    }
    waiting = {"x": {"queue_id": 1, "joined_at": "2026-12-06T10:00:05+00:00"},
               "y": {"queue_id": 1, "joined_at": "2026-12-06T10:00:01+00:00"}}
    tiles = live_figures(waiting, agents)
    assert tiles["q1"] == {"logged_in": 2, "free": 1, "busy": 0, "paused": 1, "waiting": 2,
                           "oldest_joined_at": "2026-12-06T10:00:01+00:00"}
    assert tiles["q2"]["busy"] == 1
    assert tiles["company"] == {"logged_in": 2, "free": 0, "busy": 1, "paused": 1, "waiting": 2,
                                "oldest_joined_at": "2026-12-06T10:00:01+00:00"}


def test_todays_figures_are_the_statistics_definitions_over_todays_queue_log(demo, exempel):
    support, sales = demo.queues["Support"], demo.queues["Sales"]
    support.service_level_seconds, support.short_abandon_seconds = 20, 5
    support.save(update_fields=["service_level_seconds", "short_abandon_seconds"])
    node = AsteriskNode.default()
    now = timezone.now()
    n = 0

    def visit(queue, *kinds_waits, at=now, tenant=demo.tenant):
        """One caller's visit: its queue log rows, keyed as the bridge keys them."""
        nonlocal n
        n += 1
        for seq, (kind, wait) in enumerate(kinds_waits):
            QueueEvent.objects.create(tenant=tenant, node=node, key=f"u{n}:q{queue.pk}:1:{kind}:{seq}", linkedid=str(n),
                                      uniqueid=f"u{n}", queue=queue, queue_name=f"q{queue.pk}", kind=kind,
                                      at=at + dt.timedelta(seconds=seq), wait_s=wait)

    K = QueueEvent.Kind
    visit(support, (K.ENTER, None), (K.CONNECT, 12))  # in time
    visit(support, (K.ENTER, None), (K.CONNECT, 48))  # late
    visit(support, (K.ENTER, None), (K.ABANDON, 3))  # short abandon: neither answered nor missed
    visit(support, (K.ENTER, None), (K.ABANDON, 30))  # missed
    visit(support, (K.ENTER, None), (K.TIMEOUT, 300))  # missed
    visit(sales, (K.NO_AGENTS, 0))  # missed in Sales (turned away)
    visit(support, (K.ENTER, None), (K.CONNECT, 5), at=now - dt.timedelta(days=1))  # yesterday
    visit(exempel.queues["Support"], (K.ENTER, None), (K.CONNECT, 5), tenant=exempel.tenant)  # another company
    figures = today_figures(demo.tenant.pk, now=now)
    # Service level: in time ÷ (offered − short abandons) = 1 ÷ (5 − 1).
    assert figures[f"q{support.pk}"] == {"answered": 2, "missed": 2, "in_time": 1, "service_level": 25.0,
                                         "avg_wait_s": 30.0}
    assert figures[f"q{sales.pk}"]["missed"] == 1 and figures[f"q{sales.pk}"]["service_level"] is None
    assert figures["company"]["answered"] == 2 and figures["company"]["missed"] == 3
    assert set(figures) == {"company", *(f"q{q.pk}" for q in demo.queues.values())}


def test_red_must_be_worse_than_amber(demo, layout):
    tile = Tile(tenant=demo.tenant, layout=layout, waiting_amber=5, waiting_red=3, service_level_amber=80,
                service_level_red=90)
    with pytest.raises(ValidationError) as error:
        tile.full_clean()
    assert set(error.value.message_dict) == {"waiting_red"}
    tile.waiting_red = 8
    with pytest.raises(ValidationError) as error:
        tile.full_clean()
    assert set(error.value.message_dict) == {"service_level_red"}


# ------------------------------------------------------------------------------------------ the bridge


def bridge_for(demo, state, feed):
    return NodeBridge("default", resolver=capture_resolver(demo), state=state, ami=StubAmi(), persist=persist_call,
                      threaded=True, wallboard=feed, astdb=lambda *a: None, followups=None)


def test_replayed_queue_calls_reach_demos_wallboards_as_tiles_and_nothing_reaches_exempel(demo, exempel, live):
    support = demo.queues["Support"]
    support.short_abandon_seconds = 3  # the abandoned caller waited about 5 s: missed
    support.save(update_fields=["short_abandon_seconds"])
    AsteriskNode.default()
    feed = WallboardFeed(live, clock=lambda: capture_day(ABANDONED))
    node = bridge_for(demo, live, feed)
    key = f"q{support.pk}"

    with capture_events() as pushed:
        run(drive, node, ANSWERED)
        mine = tiles_pushed(pushed, demo.tenant.pk)
        # The caller waited (one waiting, and the tile says since when), then was answered and logged.
        waited = [e["tiles"][key] for e in mine if key in e["tiles"] and e["tiles"][key]["waiting"] == 1]
        assert waited and waited[0]["oldest_joined_at"]
        last = mine[-1]["tiles"]
        assert last[key]["waiting"] == 0 and last[key]["answered"] == 1 and last[key]["service_level"] == 100.0
        assert last["company"]["answered"] == 1
        run(drive, node, ABANDONED)
    mine = tiles_pushed(pushed, demo.tenant.pk)
    final = {}
    for event in mine:
        final.update(event["tiles"])
    assert (final[key]["answered"], final[key]["missed"], final[key]["service_level"]) == (1, 1, 50.0)
    assert final["company"]["missed"] == 1
    # Only counts: no caller, number or person in any wallboard message; nothing to Exempel's wallboards.
    text = json.dumps(mine)
    assert "caller" not in text and "user_id" not in text and "+46" not in text
    assert not tiles_pushed(pushed, exempel.tenant.pk)
    # Every event of the batch went to its groups once; a batch without a change sends no tiles.
    before = len(mine)
    with capture_events() as again:
        run(node.handle, [({"Event": "VarSet", "Channel": "x"}, time.time())])
    assert len(tiles_pushed(again, demo.tenant.pk)) == 0 and before > 0


def test_a_resynchronisation_pushes_every_tile_again(demo, live):
    feed = WallboardFeed(live)
    node = bridge_for(demo, live, feed)
    AsteriskNode.default()
    run(live.apply, [d.AgentLoggedIn(demo.tenant.pk, time.time(), demo.queues["Support"].pk, "support",
                                     demo.agents[0].pk, "PJSIP/1003", status="idle")], "default")
    with capture_events() as pushed:
        run(node.resynchronise)
    full = [e for e in tiles_pushed(pushed, demo.tenant.pk) if e["full"]]
    # The stub Asterisk lists nobody: after the restart the picture is empty, and the wallboards are told so.
    assert full and full[-1]["tiles"]["company"]["logged_in"] == 0


# ------------------------------------------------------------------------------------------ the websocket


def test_an_operator_gets_the_layout_and_figures_then_the_bridges_pushes(olle, demo, layout, live):
    support = demo.queues["Support"]

    async def scenario():
        await live.apply([d.QueueCallerJoined(demo.tenant.pk, time.time() - 75, "1.1", support.pk, "support", 1,
                                              d.Party("external", "0701234567", "Kund Ett"))], "t")
        comm = socket(f"/ws/wallboard/{layout.pk}/", await sync_to_async(cookie_for)(olle))
        connected, _ = await comm.connect()
        assert connected
        snap = await comm.receive_json_from(timeout=5)
        feed = WallboardFeed(live)
        await live.apply([d.QueueCallerLeft(demo.tenant.pk, time.time(), "1.1", support.pk, "support", 1)], "t")
        await feed.after([d.QueueCallerLeft(demo.tenant.pk, time.time(), "1.1", support.pk, "support", 1)],
                         lambda f, *a: sync_to_async(f)(*a))
        pushed = await comm.receive_json_from(timeout=5)
        await comm.disconnect()
        return snap, pushed

    snap, pushed = run(scenario)
    assert snap["type"] == "snapshot"
    assert snap["layout"]["theme"] == "contrast"
    assert [t["key"] for t in snap["layout"]["tiles"]] == ["company", f"q{support.pk}"]
    assert snap["layout"]["tiles"][1]["thresholds"]["longest_wait"] == {"amber": 30, "red": 60, "dir": "above"}
    assert snap["tiles"][f"q{support.pk}"]["waiting"] == 1
    assert "0701234567" not in json.dumps(snap)
    assert pushed["type"] == "wallboard.tiles" and pushed["tiles"][f"q{support.pk}"]["waiting"] == 0


@pytest.mark.parametrize(("who", "layout_of", "code"), [
    ("bob", "demo", 4403),  # an agent: not for the wallboard
    ("eva", "demo", 4403),  # a user
    ("carol", "demo", 4404),  # Exempel's admin, Demo's layout
    ("petra", "demo", 4404),
    (None, "demo", 4401),
])
def test_the_socket_refuses_other_roles_other_companies_and_strangers(request, who, layout_of, code, layout):
    session = cookie_for(request.getfixturevalue(who)) if who else None
    assert run(closed_with, socket(f"/ws/wallboard/{layout.pk}/", session)) == code


def test_a_tv_link_shows_its_companys_wallboard_and_revoking_it_closes_the_open_screen(
        alice, demo, layout, live, django_capture_on_commit_callbacks):
    link = WallboardLink(tenant=demo.tenant, name="TV by the kitchen", layout=layout)
    token = do_create_wallboard_link(alice, link)
    stored = json.dumps(list(WallboardLink.objects.filter(pk=link.pk).values()), default=str)
    assert token not in stored  # only its hash is kept

    async def scenario():
        comm = socket(f"/ws/wallboard/tv/{token}/")
        connected, _ = await comm.connect()
        assert connected
        snap = await comm.receive_json_from(timeout=5)

        def revoke():
            with django_capture_on_commit_callbacks(execute=True):
                do_revoke_wallboard_link(alice, link)

        await sync_to_async(revoke)()
        return snap, await comm.receive_output(timeout=5)

    snap, closed = run(scenario)
    assert snap["layout"]["name"] == "Kundtjänst" and snap["layout"]["theme"] == "contrast"
    assert closed == {"type": "websocket.close", "code": 4403}
    assert Client().get(reverse("wallboard:tv", args=[token])).status_code == 404
    assert run(closed_with, socket(f"/ws/wallboard/tv/{token}/")) == 4403


def test_a_made_up_or_hostile_token_is_refused(demo, layout):
    for token in ("x" * 43, "../../etc/passwd", "' OR 1=1 --" + "a" * 30):
        assert Client().get(f"/wallboard/tv/{token}/").status_code == 404
    assert run(closed_with, socket("/ws/wallboard/tv/" + "y" * 43 + "/")) == 4403


# ------------------------------------------------------------------------------------------ pages


def test_the_page_is_for_the_companys_operators_and_admins(client, alice, olle, bob, eva, carol, layout):
    url = reverse("wallboard:wallboard")
    assert client.get(url).status_code == 302  # not signed in: to the login page
    for person in (alice, olle):
        client.force_login(person)
        page = client.get(url)
        assert page.status_code == 200
        assert f"/ws/wallboard/{layout.pk}/" in page.content.decode()
    for person in (bob, eva):
        client.force_login(person)
        assert client.get(url).status_code == 403
    client.force_login(carol)
    assert client.get(reverse("wallboard:layout", args=[layout.pk])).status_code == 404
    page = client.get(url)  # Exempel has no layout: every queue of Exempel, nothing of Demo
    assert page.status_code == 200 and "/ws/wallboard/0/" in page.content.decode()
    assert "Kundtjänst" not in page.content.decode()


def test_the_tv_page_shows_no_person_and_no_tools(alice, demo, layout):
    token = do_create_wallboard_link(alice, WallboardLink(tenant=demo.tenant, name="TV", layout=layout))
    page = Client().get(reverse("wallboard:tv", args=[token]) + "?theme=light")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-theme="light"' in html and "wb--kiosk" in html
    assert alice.first_name not in html and "wb-tools" not in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "<script>" not in html and " style=" not in html


def test_the_company_admin_creates_a_link_in_the_admin_and_exempel_never_sees_it(client, alice, carol, demo, layout):
    client.force_login(alice)
    response = client.post(reverse("admin:wallboard_wallboardlink_add"),
                           {"name": "TV i receptionen", "layout": layout.pk}, follow=True)
    assert response.status_code == 200
    link = WallboardLink.objects.get(tenant=demo.tenant, name="TV i receptionen")
    shown = [str(m) for m in response.context["messages"]]
    assert any("/wallboard/tv/" in m for m in shown) and link.created_by == alice
    client.force_login(carol)
    assert "TV i receptionen" not in client.get(reverse("admin:wallboard_wallboardlink_changelist")).content.decode()
    assert client.get(reverse("admin:wallboard_wallboardlink_change", args=[link.pk])).status_code == 302
    # Carol's own layout cannot take Demo's queue: the tiles' queue choices are Exempel's.
    page = client.get(reverse("admin:wallboard_layout_add"))
    formset = page.context["inline_admin_formsets"][0].formset
    choices = set(formset.empty_form.fields["queue"].queryset.values_list("tenant_id", flat=True))
    assert choices == {carol.tenant_id}
