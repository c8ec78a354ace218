"""Custom status (chatd/status.c) and privacy settings (chatd/privacy.c),
both over sql/chat/008_status.sql: /api/status, /api/status/update,
/api/status/user, /api/privacy{,/update,/export,/reset}; the lazy expiry
of a status; show_online_status = false enforced on every presence path
(REST, the presence-update events, the reference socket's
online-users-list, a live WebSocket) while the user still sees their own
status; allow_direct_messages refusing direct messages (docs/status-privacy.md).

Sockets are reported to chatd as gatewayd does (test_chat_presence.sockets)
except in the WebSocket tests, which open real ones."""

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
import websockets

from authlib import (assert_error, client_ip, get, pg_exec, pg_rows, post, put,  # noqa: F401
                     request)
from chatlib import join, new_room, real_user, token_user
from stacklib import RFC3339_RE
from test_chat_presence import (GW1, assert_presence_event, presence_events, room_list,
                                shown, sockets, two_rooms, update, user_presence,
                                ws_presence_of)
from test_chat_typing import events, ws_subscribe, ws_url  # noqa: F401 - events: a fixture
from test_chat_ws import run
from test_chat_ws_compat import compat

STATUS_KEYS = {"user_id", "status", "status_text", "status_emoji", "expires_at", "updated_at"}
PRIVACY_KEYS = {"user_id", "allow_direct_messages", "allow_group_invites",
                "allow_friend_requests", "show_online_status", "updated_at"}
PRIVACY_DEFAULTS = {"allow_direct_messages": "everyone", "allow_group_invites": "everyone",
                    "allow_friend_requests": "everyone", "show_online_status": True}


def when(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_status(body, user):
    assert set(body) == STATUS_KEYS and body["user_id"] == user.id, body
    for k in ("expires_at", "updated_at"):
        assert body[k] is None or RFC3339_RE.match(body[k]), body
    return body


def my_status(stack, user):
    r = get(stack, "/api/status", token=user.token)
    assert r.status_code == 200, r.text
    return assert_status(r.json(), user)


def set_status(stack, user, body):
    return put(stack, "/api/status/update", body, token=user.token)


def status_ok(stack, user, **body):
    r = set_status(stack, user, body)
    assert r.status_code == 200, r.text
    return assert_status(r.json(), user)


def status_of(stack, viewer, user_id):
    return get(stack, "/api/status/user", token=viewer.token, params={"user_id": user_id})


def seen_status(stack, viewer, user):
    r = status_of(stack, viewer, user.id)
    assert r.status_code == 200, r.text
    return assert_status(r.json(), user)


def privacy(stack, user):
    r = get(stack, "/api/privacy", token=user.token)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == PRIVACY_KEYS and body["user_id"] == user.id, body
    return body


def set_privacy(stack, user, body):
    return put(stack, "/api/privacy/update", body, token=user.token)


def privacy_ok(stack, user, **body):
    r = set_privacy(stack, user, body)
    assert r.status_code == 200, r.text
    assert set(r.json()) == PRIVACY_KEYS and RFC3339_RE.match(r.json()["updated_at"]), r.text
    return r.json()


def status_row(stack, user_id):
    rows = pg_rows(stack, "SELECT status, status_text, status_emoji, expires_at"
                   " FROM chat.presence WHERE user_id = %s", (user_id,))
    return rows[0] if rows else None


def privacy_row(stack, user_id):
    rows = pg_rows(stack, "SELECT allow_direct_messages, allow_group_invites,"
                   " allow_friend_requests, show_online_status FROM chat.privacy"
                   " WHERE user_id = %s", (user_id,))
    return rows[0] if rows else None


def no_presence_event(events, room):
    return events.room_event(room, {"presence-update"}, timeout=0.5) is None


# ------------------------------------------------------------ status

def test_status_defaults(stack):
    u = real_user(stack, "st")
    assert my_status(stack, u) == {"user_id": u.id, "status": "online", "status_text": "",
                                   "status_emoji": "", "expires_at": None,
                                   "updated_at": None}
    assert status_row(stack, u.id) is None	# a read writes nothing


def test_status_update_changes_what_is_given(stack):
    u = real_user(stack, "st")
    body = status_ok(stack, u, status="away", status_text="Lunch 🍔 à midi",
                     status_emoji="🍔")
    assert (body["status"], body["status_text"], body["status_emoji"]) == (
        "away", "Lunch 🍔 à midi", "🍔")
    assert body["expires_at"] is None and RFC3339_RE.match(body["updated_at"])
    assert my_status(stack, u) == body
    assert status_row(stack, u.id) == ("away", "Lunch 🍔 à midi", "🍔", None)
    # Only what is given changes; "" empties; the presence choice is the same.
    assert status_ok(stack, u, status_emoji="")["status_text"] == "Lunch 🍔 à midi"
    assert status_ok(stack, u, status="busy")["status_text"] == "Lunch 🍔 à midi"
    assert update(stack, u, "dnd").status_code == 200
    assert my_status(stack, u)["status"] == "dnd"
    assert status_ok(stack, u)["status"] == "dnd"	# {}: nothing changes
    # Offline clears the text and the emoji, even those given with it.
    body = status_ok(stack, u, status="offline", status_text="gone", status_emoji="x")
    assert (body["status"], body["status_text"], body["status_emoji"]) == ("offline", "", "")
    for s in ("online", "away", "dnd", "invisible", "busy"):
        assert status_ok(stack, u, status=s)["status"] == s
    # The limits are characters, not bytes.
    body = status_ok(stack, u, status_text="é" * 150, status_emoji="🇫🇷👍🏽")
    assert (body["status_text"], body["status_emoji"]) == ("é" * 150, "🇫🇷👍🏽")
    # /api/presence/update keeps the text but for offline, which says nothing.
    assert update(stack, u, "away").status_code == 200
    assert my_status(stack, u)["status_text"] == "é" * 150
    assert update(stack, u, "offline").status_code == 200
    assert (my_status(stack, u)["status_text"], my_status(stack, u)["status_emoji"]) == ("", "")


@pytest.mark.parametrize("body", [
    {"status": "sleeping"}, {"status": "ONLINE"}, {"status": ""}, {"status": 1},
    {"status": ["online"]}, {"status_text": 5}, {"status_text": "x" * 151},
    {"status_text": "é" * 151}, {"status_text": "a\u0001b"}, {"status_text": "two\nlines"},
    {"status_text": "del\u007f"}, {"status_emoji": "🙂" * 11}, {"status_emoji": {}},
    {"status_emoji": "\t"}, {"expires_in": 0}, {"expires_in": 10081}, {"expires_in": -5},
    {"expires_in": 1.5}, {"expires_in": "5"}, {"expires_in": True}, {"expires_in": 1e300},
    {"status": "away", "status_text": "ok", "expires_in": 99999},
])
def test_status_update_refuses_bad_members(stack, body):
    u = real_user(stack, "st")
    assert_error(set_status(stack, u, body), 400, "invalid_parameter")
    assert status_row(stack, u.id) is None	# nothing written


@pytest.mark.parametrize("raw", [
    b'{"status_text": "\xff\xfe"}', b'{"status_emoji": "\xc3"}', b'{"status_text": "\\ud800"}',
    b"[]", b'"away"', b"{", b"",
])
def test_status_update_refuses_bad_json(stack, raw):
    u = real_user(stack, "st")
    r = request(stack, "PUT", "/api/status/update", raw, token=u.token,
                headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"] in ("invalid_json", "invalid_parameter"), r.text
    assert status_row(stack, u.id) is None


def test_status_expires_lazily(stack):
    a, b, rooms = two_rooms(stack)
    sockets(stack, a, "online", GW1)
    body = status_ok(stack, a, status="dnd", status_text="Meeting", status_emoji="📅",
                     expires_in=1)
    left = when(body["expires_at"]) - datetime.now(timezone.utc)
    assert timedelta(seconds=30) < left <= timedelta(seconds=61), body
    assert seen_status(stack, b, a)["status"] == "dnd" and shown(stack, b, a) == "dnd"
    expired = pg_rows(stack, "UPDATE chat.presence SET expires_at = now() - interval '1 second'"
                      " WHERE user_id = %s RETURNING expires_at", (a.id,))[0][0]
    mine = my_status(stack, a)
    assert (mine["status"], mine["status_text"], mine["status_emoji"], mine["expires_at"]) == (
        "online", "", "", None), mine
    assert when(mine["updated_at"]) == expired
    assert seen_status(stack, b, a)["status"] == "online"
    assert shown(stack, b, a) == "online" and room_list(stack, b, rooms[0])[a.id] == "online"
    assert status_row(stack, a.id)[0] == "dnd"	# not swept: read as expired
    # The next write makes it so; text given then is kept, with no expiry.
    body = status_ok(stack, a, status_text="Back")
    assert (body["status"], body["status_text"], body["status_emoji"], body["expires_at"]) == (
        "online", "Back", "", None)
    assert status_row(stack, a.id) == ("online", "Back", "", None)
    # Each update states how long it lasts: without expires_in, none.
    until = status_ok(stack, a, status="away", expires_in=10080)["expires_at"]
    assert when(until) - datetime.now(timezone.utc) > timedelta(days=6, hours=23), until
    assert update(stack, a, "busy").status_code == 200	# the expiry stays
    assert my_status(stack, a)["expires_at"] == until
    assert status_ok(stack, a, status_text="Still away")["expires_at"] is None
    sockets(stack, a, "offline", GW1)


def test_status_of_another_user(stack):
    a, b, _ = two_rooms(stack)
    status_ok(stack, a, status="away", status_text="Out", status_emoji="🌴")
    # Not connected: offline, the text still shown.
    seen = seen_status(stack, b, a)
    assert (seen["status"], seen["status_text"], seen["status_emoji"]) == ("offline", "Out", "🌴")
    sockets(stack, a, "online", GW1)
    seen = seen_status(stack, b, a)
    assert (seen["status"], seen["status_text"]) == ("away", "Out") and seen["updated_at"]
    assert seen_status(stack, a, a)["status"] == "away"
    # Invisible: offline, and nothing of the status shows.
    status_ok(stack, a, status="invisible")
    assert seen_status(stack, b, a) == {"user_id": a.id, "status": "offline", "status_text": "",
                                        "status_emoji": "", "expires_at": None,
                                        "updated_at": None}
    assert my_status(stack, a)["status_text"] == "Out"	# own: the real one
    status_ok(stack, a, status="online")
    assert seen_status(stack, b, a)["status"] == "online"
    # Who may look: as on /api/presence/user.
    stranger = real_user(stack, "st")
    assert_error(status_of(stack, stranger, a.id), 403, "forbidden")
    admin = token_user(stack, admin=True)
    assert seen_status(stack, admin, a)["status"] == "online"
    assert_error(status_of(stack, b, token_user(stack).id), 404, "not_found")
    assert_error(get(stack, "/api/status/user", token=b.token), 400, "missing_parameter")
    assert_error(status_of(stack, b, "nope"), 400, "invalid_parameter")
    sockets(stack, a, "offline", GW1)


def test_status_change_is_announced_like_presence(stack, events):
    a, b, rooms = two_rooms(stack)
    status_ok(stack, a, status="away")	# no socket: nothing shows
    assert no_presence_event(events, rooms[0])
    sockets(stack, a, "online", GW1)
    for room, ev in presence_events(events, rooms).items():
        assert_presence_event(ev, room, a, "away")
    status_ok(stack, a, status="dnd", status_text="Focus")
    for room, ev in presence_events(events, rooms).items():
        assert_presence_event(ev, room, a, "dnd")
    status_ok(stack, a, status_text="Deep focus", status_emoji="🎧")	# status unchanged
    assert no_presence_event(events, rooms[1])
    status_ok(stack, a, status="invisible")
    for room, ev in presence_events(events, rooms).items():
        assert_presence_event(ev, room, a, "offline")
    status_ok(stack, a, status="offline")	# still offline to others
    assert no_presence_event(events, rooms[1])
    sockets(stack, a, "offline", GW1)


# ------------------------------------------------------------ privacy

def test_privacy_defaults_update_export_reset(stack):
    u = real_user(stack, "pv")
    assert privacy(stack, u) == {"user_id": u.id, **PRIVACY_DEFAULTS, "updated_at": None}
    body = privacy_ok(stack, u, allow_direct_messages="friends", show_online_status=False,
                      unknown_field="ignored", allow_group_invites=None)
    assert body == {"user_id": u.id, **PRIVACY_DEFAULTS, "allow_direct_messages": "friends",
                    "show_online_status": False, "updated_at": body["updated_at"]}
    assert privacy(stack, u) == body
    body = privacy_ok(stack, u, allow_group_invites="none", allow_friend_requests="friends")
    assert (body["allow_direct_messages"], body["allow_group_invites"],
            body["allow_friend_requests"], body["show_online_status"]) == (
        "friends", "none", "friends", False)
    assert privacy_row(stack, u.id) == ("friends", "none", "friends", False)
    status_ok(stack, u, status="away", status_text="Out")
    r = get(stack, "/api/privacy/export", token=u.token)
    assert r.status_code == 200, r.text
    exp = r.json()
    assert set(exp) == {"exported_at", "user_id", "privacy", "status"}, exp
    assert exp["user_id"] == u.id and RFC3339_RE.match(exp["exported_at"])
    assert exp["privacy"] == privacy(stack, u) and exp["status"] == my_status(stack, u)
    r = post(stack, "/api/privacy/reset", token=u.token)
    assert r.status_code == 200, r.text
    assert r.json() == {"user_id": u.id, **PRIVACY_DEFAULTS, "updated_at": r.json()["updated_at"]}
    assert RFC3339_RE.match(r.json()["updated_at"])
    assert privacy_row(stack, u.id) == ("everyone", "everyone", "everyone", True)
    assert post(stack, "/api/privacy/reset", {}, token=u.token).status_code == 200


@pytest.mark.parametrize("body,code", [
    ({"allow_direct_messages": "nobody"}, "invalid_parameter"),
    ({"allow_direct_messages": "Everyone"}, "invalid_parameter"),
    ({"allow_group_invites": ""}, "invalid_parameter"),
    ({"allow_friend_requests": 1}, "invalid_parameter"),
    ({"allow_friend_requests": ["none"]}, "invalid_parameter"),
    ({"show_online_status": "false"}, "invalid_parameter"),
    ({"show_online_status": 0}, "invalid_parameter"),
    ({"show_online_status": False, "allow_direct_messages": "all"}, "invalid_parameter"),
    ({"allow_direct_messages": "none", "show_online_status": "no"}, "invalid_parameter"),
    ("[]", "invalid_json"),
    ("{\"allow_direct_messages\": \"none\"", "invalid_json"),
    (b'{"allow_direct_messages": "n\xffne"}', None),
])
def test_privacy_update_refuses_bad_bodies(stack, body, code):
    u = real_user(stack, "pv")
    r = set_privacy(stack, u, body)
    assert r.status_code == 400, r.text
    assert r.json()["error"] in ((code,) if code else ("invalid_json", "invalid_parameter")), r.text
    assert privacy_row(stack, u.id) is None	# nothing written


def test_routes_need_a_user_methods_and_limits(stack):
    routes = (("GET", "/api/status"), ("PUT", "/api/status/update"), ("GET", "/api/status/user"),
              ("GET", "/api/privacy"), ("PUT", "/api/privacy/update"),
              ("GET", "/api/privacy/export"), ("POST", "/api/privacy/reset"))
    for method, path in routes:
        r = request(stack, method, path, {} if method != "GET" else None)
        assert r.status_code == 401, (path, r.text)
    u = token_user(stack)
    for method, path, allowed in (("POST", "/api/status/update", "PUT"),
                                  ("POST", "/api/status", "GET"),
                                  ("POST", "/api/privacy/update", "PUT"),
                                  ("GET", "/api/privacy/reset", "POST"),
                                  ("DELETE", "/api/privacy", "GET")):
        r = request(stack, method, path, {} if method != "GET" else None, token=u.token)
        assert r.status_code == 405 and allowed in r.headers["Allow"], (path, r.status_code)
    r = set_status(stack, u, {"status_text": "x", "pad": "y" * 5000})
    assert r.status_code == 413, r.text
    r = set_privacy(stack, u, {"pad": "y" * 5000})
    assert r.status_code == 413, r.text


# ------------------------------------------------------------ show_online_status

def test_a_hidden_user_is_offline_to_others_on_every_rest_path(stack):
    a, b, (r1, r2) = two_rooms(stack)
    sockets(stack, a, "online", GW1)
    sockets(stack, b, "online", GW1)
    status_ok(stack, a, status="away", status_text="Here", status_emoji="👋")
    assert shown(stack, b, a) == "away" and room_list(stack, b, r1)[a.id] == "away"
    privacy_ok(stack, a, show_online_status=False)
    # Others: offline, no last_seen, not listed, no status.
    assert user_presence(stack, b, a.id).json() == {"user_id": a.id, "status": "offline",
                                                    "last_seen": None}
    admin = token_user(stack, admin=True)
    assert user_presence(stack, admin, a.id).json()["last_seen"] is None
    assert room_list(stack, b, r1) == {b.id: "online"}
    assert room_list(stack, b, r2) == {b.id: "online"}
    assert seen_status(stack, b, a) == {"user_id": a.id, "status": "offline", "status_text": "",
                                        "status_emoji": "", "expires_at": None,
                                        "updated_at": None}
    # The user: their real status everywhere.
    own = user_presence(stack, a, a.id).json()
    assert own["status"] == "away" and RFC3339_RE.match(own["last_seen"]), own
    assert room_list(stack, a, r1) == {a.id: "away", b.id: "online"}
    assert seen_status(stack, a, a)["status_text"] == "Here"
    assert my_status(stack, a)["status"] == "away"
    # Hidden comings and goings leave last_seen as it was.
    before = pg_rows(stack, "SELECT last_seen FROM chat.presence WHERE user_id = %s", (a.id,))
    sockets(stack, a, "offline", GW1)
    sockets(stack, a, "online", GW1)
    assert pg_rows(stack, "SELECT last_seen FROM chat.presence WHERE user_id = %s",
                   (a.id,)) == before
    # Shown again.
    privacy_ok(stack, a, show_online_status=True)
    assert shown(stack, b, a) == "away" and seen_status(stack, b, a)["status_text"] == "Here"
    assert RFC3339_RE.match(user_presence(stack, b, a.id).json()["last_seen"])
    sockets(stack, a, "offline", GW1)
    sockets(stack, b, "offline", GW1)


def test_hiding_is_announced_and_hidden_changes_are_not(stack, events):
    a, b, rooms = two_rooms(stack)
    sockets(stack, a, "online", GW1)
    presence_events(events, rooms)
    privacy_ok(stack, a, show_online_status=False)
    for room, ev in presence_events(events, rooms).items():
        assert_presence_event(ev, room, a, "offline")
    privacy_ok(stack, a, show_online_status=False, allow_direct_messages="none")
    assert no_presence_event(events, rooms[0])
    # Nothing a hidden user does shows.
    status_ok(stack, a, status="dnd")
    assert update(stack, a, "away").status_code == 200
    sockets(stack, a, "offline", GW1)
    sockets(stack, a, "online", GW1)
    assert no_presence_event(events, rooms[1])
    # Reset shows them again, with their status.
    assert post(stack, "/api/privacy/reset", token=a.token).status_code == 200
    for room, ev in presence_events(events, rooms).items():
        assert_presence_event(ev, room, a, "away")
    # Not connected: turning it off or on changes nothing others see.
    sockets(stack, a, "offline", GW1)
    presence_events(events, rooms)
    privacy_ok(stack, a, show_online_status=False)
    privacy_ok(stack, a, show_online_status=True)
    assert no_presence_event(events, rooms[0])


def test_online_users_list_leaves_a_hidden_user_out(stack):
    a, b, c = (real_user(stack, "ol") for _ in range(3))
    room = new_room(stack, a.token)["id"]
    join(stack, b.token, room)
    join(stack, c.token, room)
    privacy_ok(stack, c, show_online_status=False)

    async def go():
        sa, sb, sc = [await compat(stack, u, room) for u in (a, b, c)]
        await asyncio.sleep(0.3)	# all subscribed
        for sender in (sb, sc):	# even the hidden user's own announcement
            await sender.send(type="user-joined")
            online = await sa.expect("online-users-list")
            assert {u["user_id"] for u in online["payload"]} == {a.id, b.id}, online
        await sa.close(), await sb.close(), await sc.close()
    run(go())


def test_ws_hidden_user_comes_and_goes_unseen(stack):
    a, b, (r1, _) = two_rooms(stack)
    privacy_ok(stack, a, show_online_status=False)

    async def go():
        async with websockets.connect(ws_url(stack, b.token)) as wb:
            await ws_subscribe(wb, r1)
            async with websockets.connect(ws_url(stack, a.token)) as wa:
                await ws_subscribe(wa, r1)
                assert await ws_presence_of(wb, a, timeout=1) is None
                assert await asyncio.to_thread(shown, stack, b, a) == "offline"
                assert await asyncio.to_thread(shown, stack, a, a) == "online"
                # Shown while connected: announced; hidden again: offline.
                await asyncio.to_thread(privacy_ok, stack, a, show_online_status=True)
                m = await ws_presence_of(wb, a)
                assert m is not None and m["payload"]["status"] == "online", m
                await asyncio.to_thread(privacy_ok, stack, a, show_online_status=False)
                m = await ws_presence_of(wb, a)
                assert m is not None and m["payload"]["status"] == "offline", m
                await asyncio.to_thread(status_ok, stack, a, status="dnd")
                assert await ws_presence_of(wb, a, timeout=1) is None
            assert await ws_presence_of(wb, a, timeout=1) is None
    asyncio.run(asyncio.wait_for(go(), 40))
    assert shown(stack, b, a) == "offline"


# ------------------------------------------------------------ allow_direct_messages

def dm(stack, sender, receiver, content="hello"):
    return post(stack, "/api/dm/send", {"receiver_id": receiver.id, "content": content},
                token=sender.token)


def test_allow_direct_messages_refuses(stack):
    a, b = real_user(stack, "dm"), real_user(stack, "dm")
    assert dm(stack, a, b).status_code == 200
    privacy_ok(stack, b, allow_direct_messages="friends")
    assert_error(dm(stack, a, b), 403, "not_allowed")
    assert dm(stack, b, a).status_code == 200	# b's setting is about b's inbox
    pg_exec(stack, "INSERT INTO chat.connections (user_id, peer_id, status)"
            " VALUES (%s, %s, 'accepted')", (a.id, b.id))
    assert dm(stack, a, b).status_code == 200
    privacy_ok(stack, b, allow_direct_messages="none")
    assert_error(dm(stack, a, b), 403, "not_allowed")
    pg_exec(stack, "UPDATE chat.connections SET status = 'pending' WHERE user_id = %s", (a.id,))
    privacy_ok(stack, b, allow_direct_messages="friends")
    assert_error(dm(stack, a, b), 403, "not_allowed")	# a request is not a friendship
    assert post(stack, "/api/privacy/reset", token=b.token).status_code == 200
    assert dm(stack, a, b).status_code == 200
    n = pg_rows(stack, "SELECT count(*) FROM chat.dm_messages WHERE sender_id = %s", (a.id,))
    assert n == [(3,)]	# the refused ones were not stored
