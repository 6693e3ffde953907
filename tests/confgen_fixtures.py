"""A tiny company as a confgen snapshot, built by hand: fixed ids, so exact text can be compared.

Company 7 ("t7"): Anna (1001, desk phone + browser, admin, agent, mailbox 1001) and Björn (1002,
a desk phone, reachable on a mobile number too, mailbox 1002); a shared voicemail box 800; the
queue "Support" (200, callback offered, Anna is an agent); a menu (1 → Support, 2 → callback
request, 0 → Anna); opening hours Monday and Friday with Christmas closed and one short day; a
conference 300; numbers: main (menu, scheduled, welcome prompt), Björn's mobile, a reserved one;
statuses Lunch (away) and Vacation (forward to the shared mailbox); its own trunk; the platform's
shared trunk belongs to company 1.
"""

from __future__ import annotations

import datetime

from pbx.asterisk.confgen import snapshot as s


def tiny_snapshot() -> s.Snapshot:
    anna = s.User(31, 7, "1001", "Anna Åberg", is_admin=True, mailbox="1001", is_agent_member=True)
    anna.devices = [
        s.Device(41, 31, "desk", "a1b2c3d4e5", "secret-anna;desk", 7),
        s.Device(42, 31, "webrtc", "f6e5d4c3b2", "secret-anna-web", 7),
    ]
    bjorn = s.User(32, 7, "1002", 'Björn "BB" <Berg>', is_admin=False, mailbox="1002", has_mobile_number=True)
    bjorn.devices = [s.Device(43, 32, "desk", "0a0b0c0d0e", "secret-bjorn", 7)]
    tenant = s.Tenant(7, "sv", "Europe/Stockholm", "46", ("112",))
    tenant.users = {31: anna, 32: bjorn}
    tenant.destinations = {
        51: s.Destination(51, "user", 31, None, None, None, None, ""),
        52: s.Destination(52, "queue", None, 61, None, None, None, ""),
        53: s.Destination(53, "voicemail", None, None, None, 73, None, ""),
        54: s.Destination(54, "menu", None, None, 81, None, None, ""),
        55: s.Destination(55, "callback", None, 61, None, None, None, ""),
        56: s.Destination(56, "user", 32, None, None, None, None, ""),
        57: s.Destination(57, "external", None, None, None, None, None, "+46701234567"),
    }
    tenant.voicemail_boxes = {
        71: s.VoicemailBox(71, 7, "1001", "Anna Åberg", "personal", 31, "1234", "anna@example.org", True, None),
        72: s.VoicemailBox(72, 7, "1002", "Björn, the; boss", "personal", 32, "5678", "bad,address@x", True, None),
        73: s.VoicemailBox(73, 7, "800", "Växeln", "shared", None, "4242", "vaxel@example.org", False, 92),
    }
    tenant.prompts = {91: "custom/t7/prompt-91", 92: "custom/t7/prompt-92"}
    tenant.queues = {
        61: s.Queue(61, 7, "200", "ringall", 20, 3, 10, 300, 0, True, True, 60, 92, 45, "Jazz Night", 54, 53, True, 20),
    }
    tenant.menus = {81: s.Menu(81, 7, 91, 5, 3, None, 51, None, options=[("0", 51), ("1", 52), ("2", 55)])}
    tenant.schedules = {
        101: s.Schedule(
            101, 7,
            weekly=[(0, datetime.time(8), datetime.time(17)), (4, datetime.time(8, 30), datetime.time(15, 0, 30))],
            special_days=[
                s.SpecialDay(111, datetime.date(2026, 12, 24), datetime.date(2026, 12, 26), True, None, None),
                s.SpecialDay(112, datetime.date(2026, 12, 30), datetime.date(2026, 12, 30), False,
                             datetime.time(9), datetime.time(12)),
            ],
        )
    }
    tenant.conferences = {121: s.Conference(121, 7, "300", "2468", 10)}
    tenant.statuses = [s.PresenceStatus(131, 1, "away", None), s.PresenceStatus(132, 4, "xa", 53)]
    tenant.numbers = [
        s.Number(141, 7, "+46812340000", "main", None, 54, 101, 53, 91, "", None),
        s.Number(142, 7, "+46701110002", "mobile", 32, 56, None, None, None, "", 151),
        s.Number(143, 7, "+46812349999", "reserved", None, None, None, None, None, "+46812340000", None),
    ]
    tenant.trunks = [s.Trunk(151, 7, False, "sip.operator.example", "t7user;x", "pa;ss--word", True, "81.2.3.10", 5060)]
    shared = s.Trunk(161, 1, True, "trunk.platform.example", "", "", False, "")
    return s.Snapshot(tenants=[tenant], shared_trunks=[shared])
