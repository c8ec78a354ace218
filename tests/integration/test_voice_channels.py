"""Voice channels (voiced, docs/voice.md): channels, participants, channel
permissions and voice sessions through gatewayd, with the real stack. The
success and error paths of every route, the role matrix of
docs/permissions.md, the seat count under concurrent joins, private
channels and permissions enforced (the reference did not), one channel at
a time, and the room events on a live socket."""

import asyncio
import concurrent.futures
import uuid

import pytest

from authlib import client_ip  # noqa: F401 - autouse: each test its own client address
from authlib import assert_error, get, pg_exec, pg_rows, post, put, request
from chatlib import (NIL_UUID, RoleRoom, join, kick, leave, new_room, real_user, room_with,
                     set_role, token_user)
from stacklib import RFC3339_RE, UUID_RE
from test_chat_ws import Sock, run

CHANNEL_KEYS = {"id", "room_id", "name", "description", "max_participants", "is_private",
                "created_by", "created_at", "updated_at", "participant_count"}
PARTICIPANT_KEYS = {"id", "channel_id", "user_id", "username", "display_name", "avatar_url",
                    "is_muted", "is_deafened", "is_server_muted", "is_speaking", "joined_at"}
PERMISSION_KEYS = {"id", "channel_id", "user_id", "username", "can_join", "can_speak",
                   "can_mute_others", "can_deafen_others", "can_move_users", "is_priority",
                   "granted_by", "created_at", "updated_at"}
SESSION_KEYS = {"id", "room_id", "room_name", "user_id", "username", "started_at",
                "duration_seconds", "is_active"}
STATS_KEYS = {"total_sessions", "active_sessions", "total_minutes", "avg_duration_seconds"}
UNKNOWN = "00000000-0000-4000-8000-000000000000"


# ------------------------------------------------------------ helpers

def assert_channel(c, full=False):
    keys = CHANNEL_KEYS | ({"participants"} if full else set())
    assert set(c) == keys, f"channel keys: {sorted(c)}"
    assert UUID_RE.match(c["id"]) and UUID_RE.match(c["room_id"]), c
    assert RFC3339_RE.match(c["created_at"]) and RFC3339_RE.match(c["updated_at"]), c
    assert isinstance(c["is_private"], bool), c
    assert 1 <= c["max_participants"] <= 99, c
    if full:
        assert c["participant_count"] == len(c["participants"]), c
        for p in c["participants"]:
            assert_participant(p)
    return c


def assert_participant(p):
    assert set(p) == PARTICIPANT_KEYS, f"participant keys: {sorted(p)}"
    assert UUID_RE.match(p["id"]) and UUID_RE.match(p["user_id"]), p
    assert RFC3339_RE.match(p["joined_at"]), p
    for k in ("is_muted", "is_deafened", "is_server_muted", "is_speaking"):
        assert isinstance(p[k], bool), (k, p)
    return p


def create(stack, token, room_id, **fields):
    body = {"room_id": room_id, "name": f"voice-{uuid.uuid4().hex[:8]}"}
    body.update(fields)
    return post(stack, "/api/voice-channel/create", body, token=token)


def new_channel(stack, token, room_id, **fields):
    r = create(stack, token, room_id, **fields)
    assert r.status_code == 201, f"create: {r.status_code} {r.text[:300]}"
    return assert_channel(r.json())


def vjoin(stack, token, channel_id):
    return post(stack, "/api/voice-channel/join", {"channel_id": channel_id}, token=token)


def joined(stack, user, channel_id, status=201):
    r = vjoin(stack, user.token, channel_id)
    assert r.status_code == status, f"join: {r.status_code} {r.text[:300]}"
    p = assert_participant(r.json())
    assert p["user_id"] == user.id and p["channel_id"] == channel_id, p
    return p


def vleave(stack, token, channel_id, method="POST"):
    return request(stack, method, "/api/voice-channel/leave", token=token,
                   params={"channel_id": channel_id})


def get_channel(stack, token, channel_id):
    return get(stack, "/api/voice-channel", token=token, params={"id": channel_id})


def list_channels(stack, token, room_id):
    return get(stack, "/api/voice-channels", token=token, params={"room_id": room_id})


def update(stack, token, channel_id, body):
    return put(stack, "/api/voice-channel/update", body, token=token,
               params={"id": channel_id})


def delete(stack, token, channel_id):
    return request(stack, "DELETE", "/api/voice-channel/delete", token=token,
                   params={"id": channel_id})


def pupdate(stack, token, body):
    return post(stack, "/api/voice-channel/participant/update", body, token=token)


def perm_set(stack, token, channel_id, user_id, **flags):
    return post(stack, "/api/voice-channel/permission/set",
                {"channel_id": channel_id, "user_id": user_id, **flags}, token=token)


def check(stack, token, channel_id, action):
    return get(stack, "/api/voice-channel/permission/check", token=token,
               params={"channel_id": channel_id, "action": action})


def where(stack, user_id):
    """The channel user_id is in (voice.participants), or None."""
    rows = pg_rows(stack, "SELECT channel_id FROM voice.participants WHERE user_id = %s",
                   (user_id,))
    return str(rows[0][0]) if rows else None


def seated(stack, channel_id):
    return {str(u) for (u,) in pg_rows(
        stack, "SELECT user_id FROM voice.participants WHERE channel_id = %s", (channel_id,))}


def open_sessions(stack, user_id):
    """{channel_id or None} of user_id's open sessions."""
    return [None if c is None else str(c) for (c,) in pg_rows(
        stack, "SELECT channel_id FROM voice.sessions WHERE user_id = %s AND ended_at IS NULL",
        (user_id,))]


@pytest.fixture
def rr(stack):
    """A public room with one user of every standing and a moderator's channel."""
    room = RoleRoom(stack)
    room.channel = new_channel(stack, room.token("moderator"), room.id)
    return room


# ------------------------------------------------------------ create, list, get

def test_create_returns_the_channel_with_the_reference_defaults(stack):
    owner = real_user(stack, "vc")
    room = new_room(stack, owner.token)["id"]
    c = new_channel(stack, owner.token, room, name="General", description="talk here")
    assert c["room_id"] == room and c["name"] == "General" and c["description"] == "talk here"
    assert c["max_participants"] == 10 and c["is_private"] is False
    assert c["created_by"] == owner.id and c["participant_count"] == 0
    for given, stored in ((0, 10), (-5, 10), (1, 1), (99, 99), (150, 99), (None, 10)):
        c = new_channel(stack, owner.token, room, max_participants=given)
        assert c["max_participants"] == stored, (given, c)
    c = new_channel(stack, owner.token, room, is_private=True, description=None)
    assert c["is_private"] is True and c["description"] == ""


@pytest.mark.parametrize("body, message", [
    ({"name": ""}, "Channel name is required"),
    ({"name": "   "}, "Channel name is required"),
    ({"name": None}, "Channel name is required"),
    ({"name": 7}, None),
    ({"name": "x" * 101}, "Channel name must be at most 100 characters"),
    ({"name": "bell\u0007"}, None),
    ({"room_id": None}, None),
    ({"room_id": "nope"}, None),
    ({"room_id": 12}, None),
    ({"description": "d" * 501}, "Description must be at most 500 characters"),
    ({"description": ["x"]}, None),
    ({"max_participants": "5"}, "max_participants must be an integer"),
    ({"max_participants": 2.5}, "max_participants must be an integer"),
    ({"max_participants": True}, "max_participants must be an integer"),
    ({"max_participants": 1e300}, "max_participants must be an integer"),
    ({"is_private": "yes"}, "is_private must be true or false"),
    ({"is_private": 1}, "is_private must be true or false"),
])
def test_create_refuses_a_malformed_body(stack, body, message):
    owner = token_user(stack)
    room = new_room(stack, owner.token)["id"]
    full = {"room_id": room, "name": "ok"}
    full.update(body)
    r = post(stack, "/api/voice-channel/create", full, token=owner.token)
    assert_error(r, 400, "invalid_request", message)
    assert pg_rows(stack, "SELECT count(*) FROM voice.channels WHERE room_id = %s",
                   (room,)) == [(0,)]


def test_create_refuses_what_is_not_a_json_object(stack):
    owner = token_user(stack)
    for raw in (b"", b"[]", b"{", b'{"name": "a"} x', b"null"):
        r = post(stack, "/api/voice-channel/create", raw, token=owner.token,
                 headers={"Content-Type": "application/json"})
        assert_error(r, 400, "invalid_json")
    assert create(stack, owner.token, UNKNOWN).status_code == 404


@pytest.mark.parametrize("private", [False, True], ids=["public", "private"])
def test_create_is_for_moderators_and_up(stack, private):
    room = RoleRoom(stack, is_private=private)
    expected = {"member": 403, "moderator": 201, "admin": 201, "owner": 201,
                "global_admin": 201, "outsider": 404 if private else 403}
    for standing, status in expected.items():
        r = create(stack, room.token(standing), room.id)
        assert r.status_code == status, (standing, r.status_code, r.text)
    assert create(stack, None, room.id).status_code == 401
    assert_error(create(stack, room.token("member"), room.id), 403, "forbidden")


def test_list_shows_private_channels_only_to_who_may_join(stack, rr):
    mod = rr.token("moderator")
    private = new_channel(stack, mod, rr.id, is_private=True, name="secret")
    granted = token_user(stack)
    join(stack, granted.token, rr.id)
    assert perm_set(stack, rr.token("admin"), private["id"], granted.id,
                    can_join=True).status_code == 200
    ids = {}
    for standing in ("member", "moderator", "admin", "owner", "global_admin"):
        r = list_channels(stack, rr.token(standing), rr.id)
        assert r.status_code == 200, (standing, r.text)
        ids[standing] = [assert_channel(c)["id"] for c in r.json()]
    assert ids["member"] == [rr.channel["id"]]
    for standing in ("moderator", "admin", "owner", "global_admin"):
        assert ids[standing] == [rr.channel["id"], private["id"]], standing
    r = list_channels(stack, granted.token, rr.id)
    assert [c["id"] for c in r.json()] == [rr.channel["id"], private["id"]]
    assert_error(list_channels(stack, rr.token("outsider"), rr.id), 403, "not_member")
    assert_error(list_channels(stack, rr.token("member"), "nope"), 400, "invalid_parameter")
    assert_error(get(stack, "/api/voice-channels", token=mod), 400, "missing_parameter")
    assert list_channels(stack, mod, UNKNOWN).status_code == 404
    # a private room hides itself and its channels from outsiders
    hidden = RoleRoom(stack, is_private=True)
    assert list_channels(stack, hidden.token("outsider"), hidden.id).status_code == 404
    assert list_channels(stack, hidden.token("member"), hidden.id).json() == []


def test_get_returns_the_channel_with_its_participants(stack):
    a, b = real_user(stack, "vg"), real_user(stack, "vg")
    room = room_with(stack, a, b)
    c = new_channel(stack, a.token, room)
    joined(stack, a, c["id"])
    joined(stack, b, c["id"])
    r = get_channel(stack, b.token, c["id"])
    assert r.status_code == 200
    got = assert_channel(r.json(), full=True)
    assert [p["user_id"] for p in got["participants"]] == [a.id, b.id]
    assert got["participants"][1]["username"] == b.username
    assert got["participant_count"] == 2
    r = get(stack, "/api/voice-channel/participants", token=b.token,
            params={"channel_id": c["id"]})
    assert r.status_code == 200 and r.json() == got["participants"]
    assert_error(get_channel(stack, a.token, UNKNOWN), 404, "not_found")
    assert_error(get_channel(stack, a.token, "x"), 400, "invalid_parameter", "Invalid id")
    assert_error(get(stack, "/api/voice-channel", token=a.token), 400, "missing_parameter")
    outsider = token_user(stack)
    assert_error(get_channel(stack, outsider.token, c["id"]), 403, "not_member")
    r = get(stack, "/api/voice-channel/participants", token=outsider.token,
            params={"channel_id": c["id"]})
    assert_error(r, 403, "not_member")


def test_a_private_channel_is_not_readable_by_a_plain_member(stack, rr):
    private = new_channel(stack, rr.token("moderator"), rr.id, is_private=True)
    for path, param in (("/api/voice-channel", "id"),
                        ("/api/voice-channel/participants", "channel_id"),
                        ("/api/voice-channel/permissions", "channel_id")):
        r = get(stack, path, token=rr.token("member"), params={param: private["id"]})
        assert_error(r, 403, "private_channel")
        r = get(stack, path, token=rr.token("global_admin"), params={param: private["id"]})
        assert r.status_code == 200, (path, r.text)


# ------------------------------------------------------------ update, delete

def test_update_changes_what_is_given(stack, rr):
    c = rr.channel
    r = update(stack, rr.token("moderator"), c["id"], {"name": "renamed", "max_participants": 150})
    assert r.status_code == 200, r.text
    got = assert_channel(r.json(), full=True)
    assert got["name"] == "renamed" and got["max_participants"] == 99
    assert got["description"] == c["description"] and got["is_private"] is False
    assert got["updated_at"] >= c["updated_at"]
    r = update(stack, rr.token("admin"), c["id"], {"description": "new", "is_private": True})
    assert r.json()["description"] == "new" and r.json()["is_private"] is True
    r = update(stack, rr.token("owner"), c["id"], {})
    assert r.status_code == 200 and r.json()["name"] == "renamed"
    # the reference's POST works too
    r = post(stack, "/api/voice-channel/update", {"name": "by post"}, token=rr.token("owner"),
             params={"id": c["id"]})
    assert r.status_code == 200 and r.json()["name"] == "by post"


@pytest.mark.parametrize("body, message", [
    ({"name": ""}, "Channel name cannot be empty"),
    ({"name": " "}, "Channel name cannot be empty"),
    ({"name": "n" * 101}, "Channel name must be at most 100 characters"),
    ({"max_participants": 0}, "Max participants must be greater than 0"),
    ({"max_participants": -1}, "Max participants must be greater than 0"),
    ({"max_participants": "9"}, "max_participants must be an integer"),
    ({"is_private": "true"}, "is_private must be true or false"),
    ({"description": 5}, None),
])
def test_update_refuses_a_malformed_body(stack, rr, body, message):
    r = update(stack, rr.token("owner"), rr.channel["id"], body)
    assert_error(r, 400, "invalid_request", message)
    assert get_channel(stack, rr.token("owner"), rr.channel["id"]).json()["name"] == \
        rr.channel["name"]


def test_update_and_delete_are_for_moderators_and_up(stack, rr):
    body = {"description": "x"}
    for standing, status in (("member", 403), ("outsider", 403), ("moderator", 200),
                             ("admin", 200), ("owner", 200), ("global_admin", 200)):
        r = update(stack, rr.token(standing), rr.channel["id"], body)
        assert r.status_code == status, (standing, r.text)
    assert update(stack, None, rr.channel["id"], body).status_code == 401
    assert_error(update(stack, rr.token("owner"), UNKNOWN, body), 404, "not_found")
    assert_error(update(stack, rr.token("owner"), "bad", body), 400, "invalid_parameter")
    for standing in ("member", "outsider"):
        assert delete(stack, rr.token(standing), rr.channel["id"]).status_code == 403
    for standing in ("moderator", "admin", "owner", "global_admin"):
        c = new_channel(stack, rr.token("owner"), rr.id)
        r = delete(stack, rr.token(standing), c["id"])
        assert r.status_code == 200 and r.json() == {"message": "Voice channel deleted"}
        assert_error(get_channel(stack, rr.token("owner"), c["id"]), 404, "not_found")
        assert_error(delete(stack, rr.token(standing), c["id"]), 404, "not_found")


def test_max_participants_cannot_go_below_who_is_there(stack):
    a, b = token_user(stack), token_user(stack)
    room = room_with(stack, a, b)
    c = new_channel(stack, a.token, room, max_participants=5)
    joined(stack, a, c["id"])
    joined(stack, b, c["id"])
    assert_error(update(stack, a.token, c["id"], {"max_participants": 1}), 409, "conflict")
    assert update(stack, a.token, c["id"], {"max_participants": 2}).json()[
        "max_participants"] == 2
    late = token_user(stack)
    join(stack, late.token, room)
    assert_error(vjoin(stack, late.token, c["id"]), 403, "channel_full")


def test_delete_removes_everyone_and_ends_their_sessions(stack):
    a, b, c = token_user(stack), token_user(stack), token_user(stack)
    room = room_with(stack, a, b, c)
    ch = new_channel(stack, a.token, room)
    for u in (a, b, c):
        joined(stack, u, ch["id"])
    assert perm_set(stack, a.token, ch["id"], b.id, can_speak=False).status_code == 200
    r = delete(stack, a.token, ch["id"])
    assert r.status_code == 200, r.text
    for u in (a, b, c):
        assert where(stack, u.id) is None and open_sessions(stack, u.id) == []
    assert pg_rows(stack, "SELECT count(*) FROM voice.permissions WHERE channel_id = %s",
                   (ch["id"],)) == [(0,)]
    ended = pg_rows(stack, "SELECT channel_id, ended_at IS NOT NULL FROM voice.sessions"
                    " WHERE user_id = %s", (b.id,))
    assert ended == [(None, True)]
    assert_error(vjoin(stack, a.token, ch["id"]), 404, "not_found")


# ------------------------------------------------------------ join, leave

def test_join_returns_the_participant_once(stack):
    a = real_user(stack, "vj")
    room = new_room(stack, a.token)["id"]
    c = new_channel(stack, a.token, room)
    p = joined(stack, a, c["id"])
    assert p["username"] == a.username and p["display_name"] is not None
    assert not (p["is_muted"] or p["is_deafened"] or p["is_server_muted"] or p["is_speaking"])
    again = joined(stack, a, c["id"], status=200)
    assert again == p
    assert open_sessions(stack, a.id) == [c["id"]]
    # the channel id may come in the query too
    r = post(stack, "/api/voice-channel/join", token=a.token, params={"channel_id": c["id"]})
    assert r.status_code == 200, r.text


def test_join_errors(stack, rr):
    tok = rr.token("member")
    assert_error(vjoin(stack, tok, UNKNOWN), 404, "not_found", "Voice channel not found")
    assert_error(vjoin(stack, tok, "x"), 400, "invalid_request")
    assert_error(post(stack, "/api/voice-channel/join", {}, token=tok), 400,
                 "missing_parameter")
    assert_error(post(stack, "/api/voice-channel/join", {"channel_id": 5}, token=tok), 400,
                 "invalid_request")
    assert_error(post(stack, "/api/voice-channel/join", b"[1]", token=tok), 400,
                 "invalid_json")
    assert_error(vjoin(stack, rr.token("outsider"), rr.channel["id"]), 403, "not_member")
    # a global admin takes part only as a member
    assert_error(vjoin(stack, rr.token("global_admin"), rr.channel["id"]), 403, "not_member")
    assert vjoin(stack, None, rr.channel["id"]).status_code == 401
    hidden = RoleRoom(stack, is_private=True)
    c = new_channel(stack, hidden.token("owner"), hidden.id)
    assert_error(vjoin(stack, hidden.token("outsider"), c["id"]), 404, "not_found")
    assert where(stack, rr["outsider"].id) is None


def test_join_moves_from_the_present_channel(stack):
    a, b = token_user(stack), token_user(stack)
    room = room_with(stack, a, b)
    other_room = room_with(stack, a, b)
    c1, c2 = new_channel(stack, a.token, room), new_channel(stack, a.token, room)
    c3 = new_channel(stack, a.token, other_room)
    joined(stack, b, c1["id"])
    joined(stack, b, c2["id"])
    assert where(stack, b.id) == c2["id"] and seated(stack, c1["id"]) == set()
    assert open_sessions(stack, b.id) == [c2["id"]]
    joined(stack, b, c3["id"])       # another room: leaves that one too
    assert where(stack, b.id) == c3["id"] and open_sessions(stack, b.id) == [c3["id"]]
    closed = pg_rows(stack, "SELECT count(*) FROM voice.sessions WHERE user_id = %s"
                     " AND ended_at IS NOT NULL", (b.id,))
    assert closed == [(2,)]
    assert get_channel(stack, a.token, c2["id"]).json()["participant_count"] == 0


def test_a_full_channel_refuses_a_join(stack):
    a, b, c = token_user(stack), token_user(stack), token_user(stack)
    room = room_with(stack, a, b, c)
    ch = new_channel(stack, a.token, room, max_participants=2)
    joined(stack, a, ch["id"])
    joined(stack, b, ch["id"])
    assert_error(vjoin(stack, c.token, ch["id"]), 403, "channel_full", "Voice channel is full")
    joined(stack, b, ch["id"], status=200)     # who is in stays in
    assert vleave(stack, b.token, ch["id"]).status_code == 200
    joined(stack, c, ch["id"])


def test_concurrent_joins_never_pass_the_seat_count(stack):
    owner = token_user(stack)
    users = [token_user(stack) for _ in range(12)]
    room = room_with(stack, owner, *users)
    ch = new_channel(stack, owner.token, room, max_participants=3)
    ch2 = new_channel(stack, owner.token, room, max_participants=1)
    # one of them starts in another channel: its join races as a move
    joined(stack, users[0], ch2["id"])

    def go(u):
        return vjoin(stack, u.token, ch["id"]).status_code

    with concurrent.futures.ThreadPoolExecutor(len(users)) as pool:
        codes = list(pool.map(go, users))
    assert sorted(codes) == [201] * 3 + [403] * 9, codes
    assert len(seated(stack, ch["id"])) == 3
    winners = {u.id for u, code in zip(users, codes) if code == 201}
    assert seated(stack, ch["id"]) == winners
    # the last seat of a channel, taken by two at once: exactly one wins
    last = new_channel(stack, owner.token, room, max_participants=1)
    pair = [u for u in users if u.id not in winners][:2]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        codes = list(pool.map(lambda u: vjoin(stack, u.token, last["id"]).status_code, pair))
    assert sorted(codes) == [201, 403], codes
    assert len(seated(stack, last["id"])) == 1


def test_one_user_joining_two_channels_at_once_ends_in_one(stack):
    a = token_user(stack)
    room = new_room(stack, a.token)["id"]
    c1, c2 = new_channel(stack, a.token, room), new_channel(stack, a.token, room)
    for _ in range(5):
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            codes = list(pool.map(lambda c: vjoin(stack, a.token, c["id"]).status_code,
                                  (c1, c2, c1, c2)))
        assert set(codes) <= {200, 201}, codes
        assert where(stack, a.id) in (c1["id"], c2["id"])
        assert open_sessions(stack, a.id) == [where(stack, a.id)]
        assert len(seated(stack, c1["id"]) | seated(stack, c2["id"])) == 1


def test_leave(stack):
    a = token_user(stack)
    room = new_room(stack, a.token)["id"]
    c = new_channel(stack, a.token, room)
    joined(stack, a, c["id"])
    r = vleave(stack, a.token, c["id"])
    assert r.status_code == 200 and r.json() == {"message": "Left voice channel"}
    assert where(stack, a.id) is None and open_sessions(stack, a.id) == []
    assert_error(vleave(stack, a.token, c["id"]), 404, "not_found",
                 "You are not in this voice channel")
    joined(stack, a, c["id"])
    assert vleave(stack, a.token, c["id"], method="DELETE").status_code == 200
    assert_error(vleave(stack, a.token, "zz"), 400, "invalid_parameter")
    assert_error(post(stack, "/api/voice-channel/leave", token=a.token), 400,
                 "missing_parameter")
    assert request(stack, "PUT", "/api/voice-channel/leave", token=a.token,
                   params={"channel_id": c["id"]}).status_code == 405


def test_leaving_or_being_removed_from_the_room_leaves_its_channels(stack):
    a, b, c = token_user(stack), token_user(stack), token_user(stack)
    room = room_with(stack, a, b, c)
    ch = new_channel(stack, a.token, room)
    for u in (b, c):
        joined(stack, u, ch["id"])
    leave(stack, b.token, room)
    kick(stack, a.token, room, c.id)
    assert seated(stack, ch["id"]) == set()
    assert open_sessions(stack, b.id) == [] and open_sessions(stack, c.id) == []


# ------------------------------------------------------------ private channels, permissions

def test_private_channels_and_permissions_are_enforced(stack, rr):
    mod, admin = rr.token("moderator"), rr.token("admin")
    member = rr["member"]
    private = new_channel(stack, mod, rr.id, is_private=True)
    assert_error(vjoin(stack, member.token, private["id"]), 403, "private_channel")
    joined(stack, rr["moderator"], private["id"])      # moderators and up may
    assert perm_set(stack, admin, private["id"], member.id, can_join=True).status_code == 200
    joined(stack, member, private["id"])
    # an explicit can_join false refuses a public channel too, and takes
    # out whoever is in
    assert perm_set(stack, admin, rr.channel["id"], member.id, can_join=False).json()[
        "can_join"] is False
    assert_error(vjoin(stack, member.token, rr.channel["id"]), 403, "forbidden")
    assert where(stack, member.id) == private["id"]      # the refused join moved nobody
    assert perm_set(stack, admin, private["id"], member.id, can_join=False).status_code == 200
    assert where(stack, member.id) is None and open_sessions(stack, member.id) == []
    r = request(stack, "DELETE", "/api/voice-channel/permission/delete", token=admin,
                params={"channel_id": private["id"], "user_id": member.id})
    assert r.status_code == 200 and r.json() == {"message": "Permission deleted"}
    assert_error(vjoin(stack, member.token, private["id"]), 403, "private_channel")
    # a channel made private keeps only who may join it
    other = token_user(stack)
    join(stack, other.token, rr.id)
    joined(stack, other, rr.channel["id"])
    joined(stack, rr["owner"], rr.channel["id"])
    r = update(stack, mod, rr.channel["id"], {"is_private": True})
    assert [p["user_id"] for p in r.json()["participants"]] == [rr["owner"].id]
    assert where(stack, other.id) is None


def test_voice_chat_disabled_in_the_room_refuses_joins(stack):
    a, b = token_user(stack), token_user(stack)
    room = room_with(stack, a, b)
    c = new_channel(stack, a.token, room)
    r = put(stack, "/api/room/settings/update", {"allow_voice_chat": False}, token=a.token,
            params={"room_id": room})
    assert r.status_code == 200, r.text
    assert_error(vjoin(stack, b.token, c["id"]), 403, "voice_disabled")
    assert check(stack, b.token, c["id"], "join").json()["reason"] == \
        "voice chat is disabled in this room"


def test_permission_routes(stack, rr):
    c, admin = rr.channel["id"], rr.token("admin")
    member = real_user(stack, "vp")
    join(stack, member.token, rr.id)
    r = get(stack, "/api/voice-channel/permission", token=member.token, params={"channel_id": c})
    assert r.status_code == 200
    assert r.json() == {"id": None, "channel_id": c, "user_id": member.id,
                        "username": member.username, "can_join": True, "can_speak": True,
                        "can_mute_others": False, "can_deafen_others": False,
                        "can_move_users": False, "is_priority": False, "granted_by": None,
                        "created_at": None, "updated_at": None}
    r = perm_set(stack, admin, c, member.id, can_speak=False, is_priority=True)
    assert r.status_code == 200, r.text
    p = r.json()
    assert set(p) == PERMISSION_KEYS and UUID_RE.match(p["id"])
    assert (p["can_join"], p["can_speak"], p["is_priority"], p["can_mute_others"]) == \
        (True, False, True, False)
    assert p["granted_by"] == rr["admin"].id and p["username"] == member.username
    r = perm_set(stack, rr.token("owner"), c, member.id, can_mute_others=True)
    p2 = r.json()
    assert p2["id"] == p["id"] and p2["can_speak"] is False and p2["can_mute_others"] is True
    assert p2["granted_by"] == rr["owner"].id
    r = get(stack, "/api/voice-channel/permission", token=rr.token("member"),
            params={"channel_id": c, "user_id": member.id})
    assert r.json() == p2
    r = get(stack, "/api/voice-channel/permissions", token=rr.token("member"),
            params={"channel_id": c})
    assert r.status_code == 200 and r.json() == [p2]
    # the private channel's default refuses the join
    private = new_channel(stack, rr.token("owner"), rr.id, is_private=True)
    r = get(stack, "/api/voice-channel/permission", token=rr.token("owner"),
            params={"channel_id": private["id"], "user_id": member.id})
    assert r.json()["can_join"] is False
    # errors
    delete_perm = lambda tok, uid: request(  # noqa: E731
        stack, "DELETE", "/api/voice-channel/permission/delete", token=tok,
        params={"channel_id": c, "user_id": uid})
    assert_error(delete_perm(admin, rr["moderator"].id), 404, "not_found",
                 "Permission not found")
    assert_error(delete_perm(rr.token("moderator"), member.id), 403, "forbidden")
    assert delete_perm(admin, member.id).status_code == 200
    assert_error(get(stack, "/api/voice-channel/permission", token=admin,
                     params={"channel_id": c, "user_id": "x"}), 400, "invalid_parameter")
    assert_error(get(stack, "/api/voice-channel/permission", token=admin), 400,
                 "missing_parameter")
    assert_error(request(stack, "DELETE", "/api/voice-channel/permission/delete", token=admin,
                         params={"channel_id": c}), 400, "missing_parameter")
    assert_error(perm_set(stack, admin, c, member.id, can_join="no"), 400, "invalid_request",
                 "can_join must be true or false")
    assert_error(post(stack, "/api/voice-channel/permission/set", {"channel_id": c},
                      token=admin), 400, "invalid_request")
    assert_error(perm_set(stack, admin, UNKNOWN, member.id), 404, "not_found")
    assert_error(perm_set(stack, admin, c, token_user(stack).id), 404, "not_found",
                 "User is not a member of this room")


def test_who_may_set_permissions(stack, rr):
    c = rr.channel["id"]
    target = {"member": rr["member"].id, "moderator": rr["moderator"].id,
              "admin": rr["admin"].id, "owner": rr["owner"].id}
    # actor -> targets it may set
    allowed = {"member": set(), "moderator": set(), "outsider": set(),
               "admin": {"member", "moderator"},
               "owner": {"member", "moderator", "admin"},
               "global_admin": {"member", "moderator", "admin"}}
    for actor, ok in allowed.items():
        for t, uid in target.items():
            r = perm_set(stack, rr.token(actor), c, uid, is_priority=True)
            want = 200 if t in ok else 403
            assert r.status_code == want, (actor, t, r.status_code, r.text)
    assert perm_set(stack, None, c, target["member"]).status_code == 401


def test_bulk_sets_all_or_nothing(stack, rr):
    c, admin = rr.channel["id"], rr.token("admin")
    a, b = token_user(stack), token_user(stack)
    for u in (a, b):
        join(stack, u.token, rr.id)
    bulk = "/api/voice-channel/permissions/bulk"
    r = post(stack, bulk, {"channel_id": c, "permissions": [
        {"user_id": a.id, "can_speak": False}, {"user_id": b.id, "is_priority": True}]},
        token=admin)
    assert r.status_code == 200, r.text
    got = {p["user_id"]: p for p in r.json()}
    assert got[a.id]["can_speak"] is False and got[b.id]["is_priority"] is True
    # one entry that may not be written: none is
    r = post(stack, bulk, {"channel_id": c, "permissions": [
        {"user_id": a.id, "can_speak": True}, {"user_id": rr["owner"].id, "can_join": False}]},
        token=admin)
    assert_error(r, 403, "forbidden")
    r = post(stack, bulk, {"channel_id": c, "permissions": [
        {"user_id": a.id, "can_speak": True}, {"user_id": str(uuid.uuid4())}]}, token=admin)
    assert_error(r, 404, "not_found")
    rows = pg_rows(stack, "SELECT can_speak FROM voice.permissions WHERE channel_id = %s"
                   " AND user_id = %s", (c, a.id))
    assert rows == [(False,)]
    assert post(stack, bulk, {"channel_id": c, "permissions": []}, token=admin).json() == []
    for body, message in (
            ({"channel_id": c}, "permissions must be an array of at most 100 entries"),
            ({"channel_id": c, "permissions": {"user_id": a.id}}, None),
            ({"channel_id": c, "permissions": [{"user_id": a.id}] * 101}, None),
            ({"channel_id": c, "permissions": ["x"]},
             "Each entry of permissions must be an object"),
            ({"channel_id": c, "permissions": [{"can_join": True}]}, None),
            ({"channel_id": c, "permissions": [{"user_id": a.id, "can_join": 1}]}, None),
            ({"permissions": []}, None)):
        assert_error(post(stack, bulk, body, token=admin), 400, "invalid_request", message)
    r = post(stack, bulk, {"channel_id": c, "permissions": [{"user_id": a.id}]},
             token=rr.token("moderator"))
    assert_error(r, 403, "forbidden")


def test_permission_check(stack, rr):
    c = rr.channel["id"]
    member = rr["member"]

    def verdict(tok, action, channel=c):
        r = check(stack, tok, channel, action)
        assert r.status_code == 200, (action, r.text)
        body = r.json()
        assert set(body) == {"action", "allowed", "channel_id", "reason", "user_id"}
        assert body["action"] == action and body["channel_id"] == channel
        return body["allowed"], body["reason"]

    assert verdict(member.token, "join") == (True, "allowed")
    assert verdict(member.token, "speak") == (True, "allowed")
    for action, reason in (("mute_others", "no mute permission"),
                           ("deafen_others", "no deafen permission"),
                           ("move_users", "no move permission")):
        assert verdict(member.token, action) == (False, reason)
        assert verdict(rr.token("moderator"), action) == (True, "allowed")
        assert verdict(rr.token("global_admin"), action) == (True, "allowed")
    assert verdict(rr.token("outsider"), "join") == (False, "not a room member")
    assert verdict(rr.token("global_admin"), "join") == (False, "not a room member")
    perm_set(stack, rr.token("admin"), c, member.id, can_speak=False, can_mute_others=True)
    assert verdict(member.token, "speak") == (False, "explicitly denied")
    assert verdict(member.token, "mute_others") == (True, "allowed")
    private = new_channel(stack, rr.token("owner"), rr.id, is_private=True)
    assert verdict(member.token, "join", private["id"]) == (False, "channel is private")
    full = new_channel(stack, rr.token("owner"), rr.id, max_participants=1)
    joined(stack, rr["owner"], full["id"])
    assert verdict(member.token, "join", full["id"]) == (False, "channel is full")
    assert verdict(rr.token("owner"), "join", full["id"]) == (True, "allowed")
    for bad in ("", "fly", "JOIN", "x" * 100):
        r = check(stack, member.token, c, bad)
        assert r.status_code == 400, (bad, r.text)
    assert_error(get(stack, "/api/voice-channel/permission/check", token=member.token,
                     params={"channel_id": c}), 400, "missing_parameter")
    assert_error(check(stack, member.token, UNKNOWN, "join"), 404, "not_found")
    hidden = RoleRoom(stack, is_private=True)
    hc = new_channel(stack, hidden.token("owner"), hidden.id)
    assert_error(check(stack, hidden.token("outsider"), hc["id"], "join"), 404, "not_found")


# ------------------------------------------------------------ participant state

def test_participant_updates_their_own_state(stack):
    a = token_user(stack)
    room = new_room(stack, a.token)["id"]
    c = new_channel(stack, a.token, room)
    joined(stack, a, c["id"])
    r = pupdate(stack, a.token, {"channel_id": c["id"], "is_muted": True, "is_speaking": True})
    assert r.status_code == 200, r.text
    p = assert_participant(r.json())
    assert (p["is_muted"], p["is_deafened"], p["is_speaking"]) == (True, False, True)
    r = pupdate(stack, a.token, {"channel_id": c["id"], "is_deafened": True,
                                 "user_id": a.id.upper()})
    assert r.json()["is_deafened"] is True and r.json()["is_muted"] is True
    for body, code in (({"channel_id": c["id"]}, "invalid_request"),
                       ({"channel_id": c["id"], "is_muted": None}, "invalid_request"),
                       ({"channel_id": c["id"], "is_muted": "true"}, "invalid_request"),
                       ({"channel_id": c["id"], "is_speaking": 0}, "invalid_request"),
                       ({"is_muted": True}, "invalid_request"),
                       ({"channel_id": "nope", "is_muted": True}, "invalid_request")):
        assert_error(pupdate(stack, a.token, body), 400, code)
    assert_error(pupdate(stack, a.token, {"channel_id": c["id"], "is_muted": True,
                                          "user_id": str(uuid.uuid4())}), 400,
                 "invalid_request", "Only is_server_muted can be set for another user")
    other = new_channel(stack, a.token, room)
    assert_error(pupdate(stack, a.token, {"channel_id": other["id"], "is_muted": False}), 404,
                 "not_found", "You are not in this voice channel")


def test_server_mute(stack, rr):
    c = rr.channel["id"]
    member, mod = rr["member"], rr["moderator"]
    helper = token_user(stack)
    join(stack, helper.token, rr.id)
    for u in (member, rr["admin"], helper):
        joined(stack, u, c)

    def mute(actor_tok, target, muted=True):
        return pupdate(stack, actor_tok, {"channel_id": c, "user_id": target.id,
                                          "is_server_muted": muted})

    r = mute(mod.token, member)
    assert r.status_code == 200, r.text
    assert r.json()["is_server_muted"] is True and r.json()["user_id"] == member.id
    # a server-muted user may unmute themselves but stays server-muted, and
    # may not speak
    r = pupdate(stack, member.token, {"channel_id": c, "is_muted": False})
    assert r.json()["is_server_muted"] is True
    assert_error(pupdate(stack, member.token, {"channel_id": c, "is_speaking": True}), 403,
                 "cannot_speak")
    assert mute(mod.token, member, False).json()["is_server_muted"] is False
    assert pupdate(stack, member.token, {"channel_id": c, "is_speaking": True}).json()[
        "is_speaking"] is True
    assert mute(rr.token("global_admin"), member).status_code == 200
    assert_error(mute(helper.token, member), 403, "forbidden")
    assert_error(mute(mod.token, rr["admin"]), 403, "forbidden")
    assert mute(rr.token("owner"), rr["admin"]).status_code == 200
    assert_error(mute(rr.token("outsider"), member), 403, "not_member")
    # can_mute_others lets a member mute members
    perm_set(stack, rr.token("admin"), c, helper.id, can_mute_others=True)
    assert mute(helper.token, member, False).status_code == 200
    assert_error(mute(helper.token, rr["admin"]), 403, "forbidden")
    assert_error(mute(mod.token, rr["owner"]), 404, "not_found",
                 "User is not in this voice channel")
    assert_error(pupdate(stack, mod.token, {"channel_id": c, "is_server_muted": True}), 400,
                 "invalid_request", "user_id is required")
    assert_error(pupdate(stack, mod.token, {"channel_id": c, "user_id": member.id,
                                            "is_server_muted": True, "is_muted": True}),
                 400, "invalid_request")
    assert_error(pupdate(stack, mod.token, {"channel_id": c, "user_id": member.id,
                                            "is_server_muted": "yes"}), 400,
                 "invalid_request")
    # can_speak false forbids speaking
    perm_set(stack, rr.token("admin"), c, member.id, can_speak=False)
    assert_error(pupdate(stack, member.token, {"channel_id": c, "is_speaking": True}), 403,
                 "cannot_speak")


# ------------------------------------------------------------ sessions

def test_session_routes(stack):
    a, b = real_user(stack, "vs"), token_user(stack)
    room_id = room_with(stack, a, b)
    r = post(stack, "/api/voice-session/create", {"room_id": room_id}, token=a.token)
    assert r.status_code == 201, r.text
    s = r.json()
    assert set(s) == SESSION_KEYS, sorted(s)
    assert s["room_id"] == room_id and s["user_id"] == a.id and s["username"] == a.username
    assert s["is_active"] is True and s["duration_seconds"] >= 0
    assert_error(post(stack, "/api/voice-session/end", token=b.token, params={"id": s["id"]}),
                 404, "not_found")
    r = post(stack, "/api/voice-session/end", token=a.token, params={"id": s["id"]})
    assert r.status_code == 200, r.text
    e = r.json()
    assert set(e) == SESSION_KEYS | {"ended_at"} and e["is_active"] is False
    assert RFC3339_RE.match(e["ended_at"])
    assert_error(post(stack, "/api/voice-session/end", token=a.token, params={"id": s["id"]}),
                 409, "already_ended")
    # a channel's session ends with the leave, not here
    c = new_channel(stack, a.token, room_id)
    joined(stack, a, c["id"])
    r = get(stack, "/api/voice-sessions", token=a.token, params={"active": "true"})
    assert r.status_code == 200
    active = r.json()
    assert [x["channel_id"] for x in active] == [c["id"]], active
    assert_error(post(stack, "/api/voice-session/end", token=a.token,
                      params={"id": active[0]["id"]}), 409, "in_channel")
    vleave(stack, a.token, c["id"])
    mine = get(stack, "/api/voice-sessions", token=a.token).json()
    assert len(mine) == 2 and all(not x["is_active"] for x in mine)
    assert mine[0]["started_at"] >= mine[1]["started_at"]
    assert [x["id"] for x in get(stack, "/api/voice-sessions", token=a.token,
                                 params={"limit": 1, "offset": 1}).json()] == [mine[1]["id"]]
    r = get(stack, "/api/voice-sessions/room", token=b.token, params={"room_id": room_id})
    assert r.status_code == 200 and [x["id"] for x in r.json()] == [x["id"] for x in mine]
    outsider = token_user(stack)
    assert_error(get(stack, "/api/voice-sessions/room", token=outsider.token,
                     params={"room_id": room_id}), 403, "not_member")
    assert_error(post(stack, "/api/voice-session/create", {"room_id": room_id},
                      token=outsider.token), 403, "not_member")
    for params in ({"limit": 0}, {"limit": 101}, {"limit": "x"}, {"offset": -1},
                   {"active": "yes"}):
        assert get(stack, "/api/voice-sessions", token=a.token,
                   params=params).status_code == 400, params
    assert_error(get(stack, "/api/voice-sessions/room", token=a.token), 400,
                 "missing_parameter")
    for body in ({}, {"room_id": "x"}, {"room_id": 3}):
        assert post(stack, "/api/voice-session/create", body,
                    token=a.token).status_code == 400, body
    assert post(stack, "/api/voice-session/create", {"room_id": UNKNOWN},
                token=a.token).status_code == 404
    assert_error(post(stack, "/api/voice-session/end", token=a.token, params={"id": "1"}),
                 400, "invalid_parameter")


def test_session_stats(stack):
    a = token_user(stack)
    r1, r2 = new_room(stack, a.token)["id"], new_room(stack, a.token)["id"]
    for room, minutes in ((r1, 10), (r1, 20), (r2, 90)):
        pg_exec(stack, "INSERT INTO voice.sessions (room_id, user_id, started_at, ended_at)"
                " VALUES (%s, %s, now() - make_interval(mins => %s), now())",
                (room, a.id, minutes))
    pg_exec(stack, "INSERT INTO voice.sessions (room_id, user_id) VALUES (%s, %s)", (r1, a.id))
    r = get(stack, "/api/voice-sessions/stats", token=a.token)
    assert r.status_code == 200 and set(r.json()) == STATS_KEYS
    s = r.json()
    assert (s["total_sessions"], s["active_sessions"], s["total_minutes"]) == (4, 1, 120)
    assert abs(s["avg_duration_seconds"] - 2400) < 1
    s = get(stack, "/api/voice-sessions/stats", token=a.token, params={"room_id": r1}).json()
    assert (s["total_sessions"], s["active_sessions"], s["total_minutes"]) == (3, 1, 30)
    assert abs(s["avg_duration_seconds"] - 900) < 1
    fresh = token_user(stack)
    assert get(stack, "/api/voice-sessions/stats", token=fresh.token).json() == {
        "total_sessions": 0, "active_sessions": 0, "total_minutes": 0,
        "avg_duration_seconds": 0}
    assert_error(get(stack, "/api/voice-sessions/stats", token=a.token,
                     params={"room_id": "r1"}), 400, "invalid_parameter")


# ------------------------------------------------------------ for signalling and gatewayd

def test_leave_all_and_same_channel(stack):
    a, b, c = token_user(stack), token_user(stack), token_user(stack)
    room = room_with(stack, a, b, c)
    ch, other = new_channel(stack, a.token, room), new_channel(stack, a.token, room)
    joined(stack, a, ch["id"])
    joined(stack, b, ch["id"])
    joined(stack, c, other["id"])

    def same(x, y):
        return [tuple(None if v is None else str(v) for v in row) for row in pg_rows(
            stack, "SELECT channel_id, room_id FROM voice.same_channel(%s, %s)", (x, y))]

    assert same(a.id, b.id) == [(ch["id"], room)]
    assert same(a.id, c.id) == [(None, None)]
    [(status, body, events)] = pg_rows(stack, "SELECT * FROM voice.leave_all(%s)", (b.id,))
    assert status == 200 and body == {"channel_id": ch["id"], "room_id": room}
    assert [e["type"] for e in events] == ["voice-left"]
    assert events[0]["payload"] == {"channel_id": ch["id"], "user_id": b.id}
    assert same(a.id, b.id) == [(None, None)] and open_sessions(stack, b.id) == []
    [(status, body, events)] = pg_rows(stack, "SELECT * FROM voice.leave_all(%s)", (b.id,))
    assert (status, body, events) == (200, {"channel_id": None, "room_id": None}, None)


# ------------------------------------------------------------ events on the socket

def test_events_reach_the_room_live(stack):
    owner, member = real_user(stack, "ve"), token_user(stack)
    room = room_with(stack, owner, member)
    other_room = room_with(stack, owner, member)

    def envelope(f, type, actor):
        assert set(f) == {"type", "room_id", "user_id", "target_user_id", "payload",
                          "timestamp"}, f
        assert f["type"] == type and f["room_id"] == room and f["user_id"] == actor, f
        assert f["target_user_id"] == NIL_UUID and RFC3339_RE.match(f["timestamp"]), f
        return f["payload"]

    async def go():
        s = await Sock.open(stack, owner)
        await s.subscribe(room)
        c = await asyncio.to_thread(new_channel, stack, owner.token, room, name="live")
        p = envelope(await s.expect("voice-channel-created", room), "voice-channel-created",
                     owner.id)
        assert p == c
        await asyncio.to_thread(joined, stack, member, c["id"])
        p = envelope(await s.expect("voice-joined", room), "voice-joined", member.id)
        assert p["channel_id"] == c["id"] and p["participant"]["user_id"] == member.id
        assert set(p["participant"]) == PARTICIPANT_KEYS
        await asyncio.to_thread(pupdate, stack, member.token,
                                {"channel_id": c["id"], "is_muted": True, "is_deafened": True,
                                 "is_speaking": True})
        got = {}
        for t in ("voice-muted", "voice-deafened", "voice-speaking"):
            got[t] = envelope(await s.expect(t, room), t, member.id)
        assert got["voice-muted"] == {"channel_id": c["id"], "user_id": member.id,
                                      "is_muted": True, "is_server_muted": False}
        assert got["voice-deafened"] == {"channel_id": c["id"], "user_id": member.id,
                                         "is_deafened": True}
        assert got["voice-speaking"] == {"channel_id": c["id"], "user_id": member.id,
                                         "is_speaking": True}
        await asyncio.to_thread(pupdate, stack, owner.token,
                                {"channel_id": c["id"], "user_id": member.id,
                                 "is_server_muted": True})
        p = envelope(await s.expect("voice-muted", room), "voice-muted", owner.id)
        assert p["is_server_muted"] is True and p["user_id"] == member.id
        # a move: voice-left of the first channel, then voice-joined
        c2 = await asyncio.to_thread(new_channel, stack, owner.token, room)
        await s.expect("voice-channel-created", room)
        await asyncio.to_thread(joined, stack, member, c2["id"])
        frames = await s.until(lambda f: f["type"] == "voice-joined")
        kinds = [f["type"] for f in frames if f["type"].startswith("voice-")]
        assert kinds == ["voice-left", "voice-joined"], kinds
        assert frames[-2]["payload"] == {"channel_id": c["id"], "user_id": member.id}
        await asyncio.to_thread(update, stack, owner.token, c["id"], {"name": "renamed"})
        p = envelope(await s.expect("voice-channel-updated", room), "voice-channel-updated",
                     owner.id)
        assert p["name"] == "renamed" and "participants" not in p
        await asyncio.to_thread(delete, stack, owner.token, c2["id"])
        frames = await s.until(lambda f: f["type"] == "voice-channel-deleted")
        assert [f["type"] for f in frames] == ["voice-left", "voice-channel-deleted"]
        assert envelope(frames[0], "voice-left", owner.id) == {"channel_id": c2["id"],
                                                               "user_id": member.id}
        assert frames[1]["payload"] == {"channel_id": c2["id"], "name": c2["name"]}
        # another room's voice is not this room's
        c3 = await asyncio.to_thread(new_channel, stack, owner.token, other_room)
        await asyncio.to_thread(joined, stack, member, c3["id"])
        await s.silent()
        await s.close()
    run(go())


def test_events_carry_no_seq_and_are_not_kept(stack):
    owner = token_user(stack)
    room = new_room(stack, owner.token)["id"]
    before = pg_rows(stack, "SELECT last_seq FROM chat.rooms WHERE id = %s", (room,))
    c = new_channel(stack, owner.token, room)
    joined(stack, owner, c["id"])
    vleave(stack, owner.token, c["id"])
    assert pg_rows(stack, "SELECT last_seq FROM chat.rooms WHERE id = %s", (room,)) == before
    assert pg_rows(stack, "SELECT count(*) FROM chat.events WHERE room_id = %s"
                   " AND envelope->>'type' LIKE 'voice-%%'", (room,)) == [(0,)]


def test_a_set_role_change_takes_effect_at_once(stack):
    a, b = token_user(stack), token_user(stack)
    room = room_with(stack, a, b)
    assert_error(create(stack, b.token, room), 403, "forbidden")
    set_role(stack, a.token, room, b.id, "moderator")
    assert create(stack, b.token, room).status_code == 201
    private = new_channel(stack, a.token, room, is_private=True)
    joined(stack, b, private["id"])
