"""Rooms (§2.2, §1.3): creation, the list, one room, joining and leaving,
search, settings and ownership transfer; the rows and events each write
leaves, and the races that max_users and unique names must survive."""

import concurrent.futures
import uuid

import pytest

from authlib import client_ip  # noqa: F401 - autouse: each test its own client address
from authlib import assert_error, get, pg_exec, pg_rows, post, put, request
from chatlib import (SETTINGS_KEYS, as_admin, assert_room, create_room, get_room, join,
                     last_event, leave, member_rows, members, new_room, real_user,
                     room_events, set_role, token_user, uniq_name)
from stacklib import RFC3339_RE


def admin_category(stack):
    r = post(stack, "/api/category/create", {"name": uniq_name("cat")},
             token=token_user(stack, admin=True).token)
    assert r.status_code == 200, r.text
    return r.json()


def room_row(stack, room_id):
    rows = pg_rows(stack, "SELECT name, password_hash, is_private, max_users, created_by::text,"
                   " category_id::text FROM chat.rooms WHERE id = %s", (room_id,))
    return rows[0] if rows else None


# ------------------------------------------------------------ create

def test_create_minimal(stack):
    u = token_user(stack)
    room = new_room(stack, u.token)
    assert room["created_by"] == u.id
    assert room["description"] == "" and room["is_private"] is False
    assert room["max_users"] == 50 and "category_id" not in room
    assert member_rows(stack, room["id"]) == {u.id: "owner"}
    assert pg_rows(stack, "SELECT count(*) FROM chat.room_settings WHERE room_id = %s",
                   (room["id"],)) == [(1,)]
    assert room_row(stack, room["id"])[1] is None      # no password hash


def test_create_all_fields(stack):
    u = token_user(stack)
    cat = admin_category(stack)
    name = "Ümlaut room ✓ " + uuid.uuid4().hex[:8]
    room = new_room(stack, u.token, name=name, description="line one\nline two",
                    is_private=True, max_users=7, category_id=cat["id"])
    assert room["name"] == name and room["description"] == "line one\nline two"
    assert room["is_private"] is True and room["max_users"] == 7
    assert room["category_id"] == cat["id"]


def test_create_max_users_zero_means_50(stack):
    room = new_room(stack, token_user(stack).token, max_users=0)
    assert room["max_users"] == 50


def test_create_name_limits(stack):
    tok = token_user(stack).token
    name = ("é" * 68 + uuid.uuid4().hex)[:100]           # 100 characters, more bytes
    assert len(name) == 100
    assert new_room(stack, tok, name=name)["name"] == name
    r = create_room(stack, tok, {"name": name + "x"})
    assert_error(r, 400, "invalid_request", "Room name must be at most 100 characters")


@pytest.mark.parametrize("body,message", [
    ({}, "Room name is required"),
    ({"name": ""}, "Room name is required"),
    ({"name": "   "}, "Room name is required"),
    ({"name": None}, "Room name is required"),
    ({"name": 5}, "name must be a string"),
    ({"name": "a\nb"}, None),
    ({"name": "ok", "description": "d" * 501}, "description must be at most 500 characters"),
    ({"name": "ok", "description": 3}, "description must be a string"),
    ({"name": "ok", "description": "bell\u0007"}, None),
    ({"name": "ok", "max_users": -1}, "Max users must be a positive number"),
    ({"name": "ok", "max_users": 100001}, "max_users must be at most 100000"),
    ({"name": "ok", "max_users": 2.5}, "max_users must be an integer"),
    ({"name": "ok", "max_users": "5"}, "max_users must be an integer"),
    ({"name": "ok", "max_users": True}, "max_users must be an integer"),
    ({"name": "ok", "is_private": "yes"}, "is_private must be true or false"),
    ({"name": "ok", "category_id": "nope"}, "category_id must be a UUID"),
    ({"name": "ok", "category_id": 12}, "category_id must be a string"),
    ({"name": "ok", "password": 1234}, "password must be a string"),
    ({"name": "ok", "password": "p" * 129}, "password is too long"),
])
def test_create_bad_body_400(stack, body, message):
    body = dict(body)
    if body.get("name") == "ok":
        body["name"] = uniq_name()
    r = create_room(stack, token_user(stack).token, body)
    assert_error(r, 400, "invalid_request", message)
    if isinstance(body.get("name"), str) and body["name"]:
        assert pg_rows(stack, "SELECT 1 FROM chat.rooms WHERE name = %s", (body["name"],)) == []


@pytest.mark.parametrize("raw", [b"", b"[]", b"\"x\"", b"{\"name\":", b'{"name":"a\\u0000b"}'])
def test_create_not_an_object_400(stack, raw):
    r = request(stack, "POST", "/api/room/create", raw, token=token_user(stack).token,
                headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_json", r.text


def test_create_unknown_category_404(stack):
    name = uniq_name()
    r = create_room(stack, token_user(stack).token, {"name": name, "category_id": str(uuid.uuid4())})
    assert_error(r, 404, "not_found", "Category not found")
    assert pg_rows(stack, "SELECT 1 FROM chat.rooms WHERE name = %s", (name,)) == []


def test_create_duplicate_name_409(stack):
    room = new_room(stack, token_user(stack).token)
    r = create_room(stack, token_user(stack).token, {"name": room["name"]})
    assert_error(r, 409, "conflict", "Room name already exists")
    # Case matters (the name is unique as written, as in the reference).
    assert create_room(stack, token_user(stack).token,
                       {"name": room["name"].upper()}).status_code == 200


def test_create_concurrent_same_name_one_wins(stack):
    name = uniq_name("race")
    users = [token_user(stack) for _ in range(10)]
    with concurrent.futures.ThreadPoolExecutor(10) as ex:
        codes = list(ex.map(lambda u: create_room(stack, u.token, {"name": name}).status_code,
                            users))
    assert sorted(codes) == [200] + [409] * 9, codes
    assert pg_rows(stack, "SELECT count(*) FROM chat.rooms WHERE name = %s", (name,)) == [(1,)]


def test_create_with_password_is_hashed(stack):
    owner = token_user(stack)
    room = new_room(stack, owner.token, password="s3cret pass")
    h = room_row(stack, room["id"])[1]
    assert h.startswith("$argon2id$"), h
    assert "s3cret" not in str(room)


# ------------------------------------------------------------ list and get

def test_list_public_and_own_private(stack):
    owner, other = token_user(stack), token_user(stack)
    pub = new_room(stack, owner.token)
    priv = new_room(stack, owner.token, is_private=True)
    r = get(stack, "/api/rooms", token=other.token)
    assert r.status_code == 200
    ids = {x["id"]: assert_room(x) for x in r.json()}
    assert pub["id"] in ids and priv["id"] not in ids
    assert "role" not in ids[pub["id"]] and ids[pub["id"]]["user_count"] == 1
    mine = {x["id"]: x for x in get(stack, "/api/rooms", token=owner.token).json()}
    assert mine[priv["id"]]["role"] == "owner" and mine[pub["id"]]["role"] == "owner"


def test_list_user_count_is_real(stack):
    owner = token_user(stack)
    room = new_room(stack, owner.token)
    for _ in range(3):
        join(stack, token_user(stack).token, room["id"])
    listed = {x["id"]: x for x in get(stack, "/api/rooms", token=owner.token).json()}
    assert listed[room["id"]]["user_count"] == 4


def test_get_room(stack):
    owner, other = token_user(stack), token_user(stack)
    room = new_room(stack, owner.token, description="hello")
    r = get_room(stack, other.token, room["id"])
    assert r.status_code == 200
    got = assert_room(r.json())
    assert got == {k: v for k, v in room.items() if k != "role"}
    assert get_room(stack, owner.token, room["id"]).json()["role"] == "owner"
    # Upper-case UUIDs are the same room.
    assert get_room(stack, other.token, room["id"].upper()).status_code == 200


def test_get_private_room_hidden_from_outsiders(stack):
    owner, member, outsider = token_user(stack), token_user(stack), token_user(stack)
    room = new_room(stack, owner.token, is_private=True)
    join(stack, member.token, room["id"])
    r = get_room(stack, outsider.token, room["id"])
    missing = get_room(stack, outsider.token, str(uuid.uuid4()))
    assert_error(r, 404, "not_found", "Room not found")
    assert r.json() == missing.json()                     # the same answer as no room
    assert get_room(stack, member.token, room["id"]).json()["role"] == "member"
    admin = as_admin(stack, outsider)
    got = get_room(stack, admin.token, room["id"])
    assert got.status_code == 200 and "role" not in got.json()


@pytest.mark.parametrize("query,status,code", [
    ("", 400, "missing_parameter"), ("?id=", 400, "missing_parameter"),
    ("?id=nope", 400, "invalid_parameter"), ("?id=%00", 400, "invalid_parameter"),
    ("?id=" + str(uuid.uuid4()), 404, "not_found"),
])
def test_get_room_bad_id(stack, query, status, code):
    assert_error(get(stack, "/api/room" + query, token=token_user(stack).token), status, code)


# ------------------------------------------------------------ join

def test_join_and_event(stack):
    owner, u = token_user(stack), real_user(stack)
    room = new_room(stack, owner.token)
    join(stack, u.token, room["id"])
    assert member_rows(stack, room["id"]) == {owner.id: "owner", u.id: "member"}
    ev = last_event(stack, room["id"], "member-joined")
    assert ev["payload"] == {"user_id": u.id, "username": u.username, "role": "member"}
    assert ev["user_id"] == u.id and ev["room_id"] == room["id"] and ev["seq"] >= 1
    assert get_room(stack, u.token, room["id"]).json()["user_count"] == 2
    r = join(stack, u.token, room["id"], expect=409)
    assert_error(r, 409, "conflict", "Already in room")
    assert len(room_events(stack, room["id"], "member-joined")) == 1


@pytest.mark.parametrize("body,message", [
    ({}, "room_id is required"), ({"room_id": "x"}, "room_id must be a UUID"),
    ({"room_id": 7}, "room_id must be a string"),
    ({"room_id": "00000000-0000-4000-8000-000000000000", "password": 5},
     "password must be a string"),
])
def test_join_bad_body(stack, body, message):
    r = post(stack, "/api/room/join", body, token=token_user(stack).token)
    assert_error(r, 400, "invalid_request", message)


def test_join_unknown_room_404(stack):
    r = join(stack, token_user(stack).token, str(uuid.uuid4()), expect=404)
    assert_error(r, 404, "not_found", "Room not found")


@pytest.mark.parametrize("private", [False, True])
def test_join_password(stack, private):
    owner, u = token_user(stack), token_user(stack)
    room = new_room(stack, owner.token, password="Open Sesame", is_private=private)
    for pw in (None, "", "open sesame", "Open Sesame "):
        assert_error(join(stack, u.token, room["id"], password=pw, expect=403),
                     403, "invalid_password", "Invalid password")
    assert u.id not in member_rows(stack, room["id"])
    join(stack, u.token, room["id"], password="Open Sesame")
    assert u.id in member_rows(stack, room["id"])


def test_join_room_without_password_ignores_one(stack):
    room = new_room(stack, token_user(stack).token)
    join(stack, token_user(stack).token, room["id"], password="anything")


def test_join_banned_403(stack):
    owner, u, v = token_user(stack), token_user(stack), token_user(stack)
    room = new_room(stack, owner.token)
    pg_exec(stack, "INSERT INTO chat.bans (room_id, user_id, banned_by) VALUES (%s, %s, %s)",
            (room["id"], u.id, owner.id))
    pg_exec(stack, "INSERT INTO chat.bans (room_id, user_id, banned_by, expires_at)"
            " VALUES (%s, %s, %s, now() - interval '1 minute')", (room["id"], v.id, owner.id))
    assert_error(join(stack, u.token, room["id"], expect=403), 403, "banned",
                 "You are banned from this room")
    join(stack, v.token, room["id"])                      # an expired ban is no ban


def test_join_full_403(stack):
    owner = token_user(stack)
    room = new_room(stack, owner.token, max_users=2)
    join(stack, token_user(stack).token, room["id"])
    assert_error(join(stack, token_user(stack).token, room["id"], expect=403),
                 403, "room_full", "Room is full")


def test_join_concurrent_respects_max_users(stack):
    owner = token_user(stack)
    room = new_room(stack, owner.token, max_users=5)
    users = [token_user(stack) for _ in range(20)]
    with concurrent.futures.ThreadPoolExecutor(20) as ex:
        codes = list(ex.map(lambda u: join(stack, u.token, room["id"], expect=None).status_code,
                            users))
    assert sorted(codes) == [200] * 4 + [403] * 16, codes
    assert len(member_rows(stack, room["id"])) == 5
    assert len(room_events(stack, room["id"], "member-joined")) == 4
    seqs = [e["seq"] for e in room_events(stack, room["id"])]
    assert seqs == list(range(1, len(seqs) + 1)), seqs


# ------------------------------------------------------------ leave

def test_leave(stack):
    owner, u = token_user(stack), token_user(stack)
    room = new_room(stack, owner.token)
    join(stack, u.token, room["id"])
    leave(stack, u.token, room["id"])
    assert member_rows(stack, room["id"]) == {owner.id: "owner"}
    assert last_event(stack, room["id"])["type"] == "member-left"
    assert last_event(stack, room["id"])["payload"] == {"user_id": u.id}
    assert_error(leave(stack, u.token, room["id"], expect=404), 404, "not_found", "Not in room")
    assert_error(leave(stack, u.token, str(uuid.uuid4()), expect=404), 404, "not_found",
                 "Not in room")
    assert_error(post(stack, "/api/room/leave", {"room_id": "x"}, token=u.token),
                 400, "invalid_request", "room_id must be a UUID")


def test_owner_leaves_only_as_last_member(stack):
    owner, u = token_user(stack), token_user(stack)
    room = new_room(stack, owner.token)
    join(stack, u.token, room["id"])
    r = leave(stack, owner.token, room["id"], expect=409)
    assert_error(r, 409, "owner_must_transfer")
    assert "transfer ownership" in r.json()["message"]
    leave(stack, u.token, room["id"])
    leave(stack, owner.token, room["id"])
    assert member_rows(stack, room["id"]) == {}
    assert room_row(stack, room["id"]) is not None        # the room stays
    # Someone else joins the empty room as a member; the recorded owner
    # comes back as the owner.
    join(stack, u.token, room["id"])
    join(stack, owner.token, room["id"])
    assert member_rows(stack, room["id"]) == {owner.id: "owner", u.id: "member"}


# ------------------------------------------------------------ search

@pytest.fixture(scope="module")
def searchable(stack):
    """Rooms sharing a tag: 5 public ones (one in a category, one whose
    description holds the tag), names with _ and % in them, one private
    room of `member`, one private room of someone else."""
    tag = uuid.uuid4().hex[:10]
    owner, member = token_user(stack), token_user(stack)
    cat = admin_category(stack)
    rooms = {}
    for i in range(5):
        kw = {"category_id": cat["id"]} if i == 0 else {}
        rooms[f"p{i}"] = new_room(stack, owner.token, name=f"s{tag} public {i}", **kw)
    rooms["desc"] = new_room(stack, owner.token, name=uniq_name(), description=f"about s{tag}")
    rooms["under"] = new_room(stack, owner.token, name=f"u{tag}a_b")
    rooms["x"] = new_room(stack, owner.token, name=f"u{tag}aXb")
    rooms["pct"] = new_room(stack, owner.token, name=f"u{tag}100%")
    rooms["mine"] = new_room(stack, owner.token, name=f"s{tag} private mine", is_private=True)
    join(stack, member.token, rooms["mine"]["id"])
    join(stack, member.token, rooms["p1"]["id"])
    rooms["theirs"] = new_room(stack, owner.token, name=f"s{tag} private theirs",
                               is_private=True)
    return tag, rooms, member, cat


def search(stack, token, body=None, params=None, method="POST"):
    return request(stack, method, "/api/rooms/search", body, token=token, params=params)


def found(resp):
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"rooms", "total", "limit", "offset"}, body
    for x in body["rooms"]:
        assert_room(x)
    return body


def test_search_visibility_and_order(stack, searchable):
    tag, rooms, member, _ = searchable
    body = found(search(stack, member.token, {"query": f"S{tag.upper()}"}))
    ids = [x["id"] for x in body["rooms"]]
    want = {rooms[k]["id"] for k in ("p0", "p1", "p2", "p3", "p4", "desc", "mine")}
    assert set(ids) == want and body["total"] == 7, body
    # The caller's rooms first.
    assert set(ids[:2]) == {rooms["mine"]["id"], rooms["p1"]["id"]}, ids
    assert body["limit"] == 20 and body["offset"] == 0


def test_search_wildcards_are_literal(stack, searchable):
    tag, rooms, member, _ = searchable
    names = lambda b: sorted(x["name"] for x in found(b)["rooms"])  # noqa: E731
    assert names(search(stack, member.token, {"query": f"u{tag}a_b"})) == [f"u{tag}a_b"]
    assert names(search(stack, member.token, {"query": f"u{tag}1%"})) == []
    assert names(search(stack, member.token, {"query": f"u{tag}100%"})) == [f"u{tag}100%"]
    assert names(search(stack, member.token, {"query": f"u{tag}"})) == sorted(
        [f"u{tag}a_b", f"u{tag}aXb", f"u{tag}100%"])


def test_search_category_and_pages(stack, searchable):
    tag, rooms, member, cat = searchable
    body = found(search(stack, member.token, {"query": f"s{tag}", "category_id": cat["id"]}))
    assert [x["id"] for x in body["rooms"]] == [rooms["p0"]["id"]] and body["total"] == 1
    pages = [found(search(stack, member.token, {"query": f"s{tag}", "limit": 3, "offset": o}))
             for o in (0, 3, 6, 9)]
    ids = [x["id"] for p in pages for x in p["rooms"]]
    assert len(ids) == 7 and len(set(ids)) == 7
    assert [len(p["rooms"]) for p in pages] == [3, 3, 1, 0]
    assert all(p["total"] == 7 and p["limit"] == 3 for p in pages)


def test_search_by_query_string(stack, searchable):
    tag, rooms, member, cat = searchable
    body = found(search(stack, member.token, method="GET",
                        params={"q": f"s{tag}", "category_id": cat["id"], "limit": "5"}))
    assert [x["id"] for x in body["rooms"]] == [rooms["p0"]["id"]] and body["limit"] == 5
    body = found(search(stack, member.token, method="GET", params={"query": f"s{tag}"}))
    assert body["total"] == 7
    body = found(search(stack, member.token, method="GET"))     # no query: every visible room
    assert body["total"] >= 7


@pytest.mark.parametrize("body", [
    {"limit": 0}, {"limit": 51}, {"limit": "5"}, {"offset": -1}, {"offset": 1.5},
    {"query": 5}, {"query": "q" * 101}, {"category_id": "x"},
])
def test_search_bad_body_400(stack, body):
    assert_error(search(stack, token_user(stack).token, body), 400, "invalid_request")


@pytest.mark.parametrize("params", [
    {"limit": "0"}, {"limit": "x"}, {"offset": "-1"}, {"category_id": "x"}, {"q": "a\nb"},
])
def test_search_bad_query_400(stack, params):
    r = search(stack, token_user(stack).token, method="GET", params=params)
    assert r.status_code == 400 and r.json()["error"] in ("invalid_parameter",), r.text


def test_search_post_without_body_400(stack):
    r = search(stack, token_user(stack).token, b"")
    assert_error(r, 400, "invalid_json")


# ------------------------------------------------------------ settings

def settings_get(stack, token, room_id):
    return get(stack, "/api/room/settings", token=token, params={"room_id": room_id})


def settings_put(stack, token, room_id, body, method="PUT"):
    return request(stack, method, "/api/room/settings/update", body, token=token,
                   params={"room_id": room_id})


def test_settings_defaults(stack):
    owner = token_user(stack)
    room = new_room(stack, owner.token, max_users=9)
    r = settings_get(stack, owner.token, room["id"])
    assert r.status_code == 200, r.text
    s = r.json()
    assert set(s) == SETTINGS_KEYS, s
    assert s["room_id"] == room["id"] and s["max_users"] == 9
    assert s["allow_message_edits"] is True and s["allow_reactions"] is True
    assert s["require_approval"] is False and s["auto_delete_days"] == 0
    assert s["slow_mode_seconds"] == 0 and s["allow_voice_chat"] is True
    assert s["allow_file_uploads"] is True and RFC3339_RE.match(s["updated_at"])


def test_settings_update(stack):
    owner = token_user(stack)
    room = new_room(stack, owner.token)
    change = {"allow_reactions": False, "slow_mode_seconds": 30, "max_users": 12,
              "auto_delete_days": 0, "unknown_field": "ignored"}
    r = settings_put(stack, owner.token, room["id"], change)
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["allow_reactions"] is False and s["slow_mode_seconds"] == 30
    assert s["max_users"] == 12 and s["allow_message_edits"] is True
    assert settings_get(stack, owner.token, room["id"]).json() == s
    assert get_room(stack, owner.token, room["id"]).json()["max_users"] == 12
    ev = last_event(stack, room["id"])
    assert ev["type"] == "room-updated" and ev["payload"] == s and ev["user_id"] == owner.id
    # POST and the room id in the body work too; an empty change changes nothing.
    r = request(stack, "POST", "/api/room/settings/update",
                {"room_id": room["id"], "allow_message_edits": False}, token=owner.token)
    assert r.status_code == 200 and r.json()["allow_message_edits"] is False, r.text
    assert settings_put(stack, owner.token, room["id"], {}).json()["slow_mode_seconds"] == 30


@pytest.mark.parametrize("body,message", [
    ({"allow_reactions": "no"}, "allow_reactions must be true or false"),
    ({"allow_message_edits": 1}, "allow_message_edits must be true or false"),
    ({"slow_mode_seconds": -1}, "slow_mode_seconds must be an integer from 0 to 21600"),
    ({"slow_mode_seconds": 21601}, None),
    ({"auto_delete_days": 3651}, None),
    ({"auto_delete_days": 1.5}, None),
    ({"max_users": 0}, "max_users must be an integer from 1 to 100000"),
    ({"max_users": 100001}, None),
    ({"max_users": "10"}, None),
])
def test_settings_update_bad_400(stack, body, message):
    owner = token_user(stack)
    room = new_room(stack, owner.token)
    before = settings_get(stack, owner.token, room["id"]).json()
    assert_error(settings_put(stack, owner.token, room["id"], body), 400, "invalid_request",
                 message)
    assert settings_get(stack, owner.token, room["id"]).json() == before


def test_settings_max_users_not_below_members(stack):
    owner = token_user(stack)
    room = new_room(stack, owner.token)
    for _ in range(2):
        join(stack, token_user(stack).token, room["id"])
    r = settings_put(stack, owner.token, room["id"], {"max_users": 2, "allow_reactions": False})
    assert_error(r, 409, "conflict", "max_users cannot be below the current member count")
    s = settings_get(stack, owner.token, room["id"]).json()
    assert s["max_users"] == 50 and s["allow_reactions"] is True     # nothing half-written
    assert settings_put(stack, owner.token, room["id"], {"max_users": 3}).status_code == 200
    assert_error(join(stack, token_user(stack).token, room["id"], expect=403), 403, "room_full")


@pytest.mark.parametrize("query,status", [("", 400), ("?room_id=x", 400),
                                          ("?room_id=" + str(uuid.uuid4()), 404)])
def test_settings_bad_room(stack, query, status):
    tok = token_user(stack).token
    assert get(stack, "/api/room/settings" + query, token=tok).status_code == status
    assert put(stack, "/api/room/settings/update" + query, {}, token=tok).status_code == status


# ------------------------------------------------------------ transfer

def transfer(stack, token, room_id, new_owner_id):
    return post(stack, "/api/room/transfer-ownership",
                {"room_id": room_id, "new_owner_id": new_owner_id}, token=token)


def test_transfer_ownership(stack):
    owner, u = token_user(stack), token_user(stack)
    room = new_room(stack, owner.token)
    join(stack, u.token, room["id"])
    r = transfer(stack, owner.token, room["id"], u.id)
    assert r.status_code == 200, r.text
    assert r.json() == {"room_id": room["id"], "old_owner_id": owner.id,
                        "new_owner_id": u.id, "status": "transferred"}
    assert member_rows(stack, room["id"]) == {owner.id: "member", u.id: "owner"}
    assert room_row(stack, room["id"])[4] == u.id
    assert get_room(stack, u.token, room["id"]).json()["created_by"] == u.id
    evs = room_events(stack, room["id"], "member-role-changed")
    assert [e["payload"] for e in evs] == [
        {"user_id": owner.id, "role": "member", "old_role": "owner", "changed_by": owner.id},
        {"user_id": u.id, "role": "owner", "old_role": "member", "changed_by": owner.id}]
    # The old owner has no say any more; the new one can leave only as the last.
    assert_error(transfer(stack, owner.token, room["id"], owner.id), 403, "forbidden",
                 "Only the room owner can transfer ownership")
    assert leave(stack, u.token, room["id"], expect=409).status_code == 409


def test_transfer_checks(stack):
    owner, u, outsider = token_user(stack), token_user(stack), token_user(stack)
    room = new_room(stack, owner.token)
    join(stack, u.token, room["id"])
    assert_error(transfer(stack, owner.token, room["id"], outsider.id), 400, "invalid_request",
                 "New owner must be a member of the room")
    assert_error(transfer(stack, owner.token, room["id"], owner.id), 409, "conflict")
    assert_error(transfer(stack, u.token, room["id"], u.id), 403, "forbidden")
    assert_error(transfer(stack, owner.token, str(uuid.uuid4()), u.id), 404, "not_found")
    assert_error(post(stack, "/api/room/transfer-ownership", {"room_id": room["id"]},
                      token=owner.token), 400, "invalid_request", "new_owner_id is required")
    assert member_rows(stack, room["id"]) == {owner.id: "owner", u.id: "member"}
    assert room_events(stack, room["id"], "member-role-changed") == []


def test_global_admin_transfers_ownerless_room(stack):
    owner, u = token_user(stack), token_user(stack)
    room = new_room(stack, owner.token)
    leave(stack, owner.token, room["id"])
    join(stack, u.token, room["id"])
    r = transfer(stack, token_user(stack, admin=True).token, room["id"], u.id)
    assert r.status_code == 200 and r.json()["old_owner_id"] == owner.id, r.text
    assert member_rows(stack, room["id"]) == {u.id: "owner"}
    assert len(room_events(stack, room["id"], "member-role-changed")) == 1


# ------------------------------------------------------------ members

def test_members_list(stack):
    owner, u = real_user(stack), real_user(stack)
    room = new_room(stack, owner.token)
    join(stack, u.token, room["id"])
    ms = members(stack, u.token, room["id"])
    assert set(ms) == {owner.id, u.id}
    assert ms[owner.id]["username"] == owner.username and ms[owner.id]["role"] == "owner"
    assert ms[u.id]["role"] == "member" and RFC3339_RE.match(ms[u.id]["joined_at"])
    r = get(stack, "/api/room/members", token=u.token, params={"room_id": room["id"]})
    assert [m["user_id"] for m in r.json()] == [owner.id, u.id]    # highest role first
    assert "email" not in r.text
