"""The authorization matrix of the room routes (docs/permissions.md): every
route against every standing (anonymous, outsider, member, moderator, room
admin, owner, global admin), in a public and in a private room; then the
finer rules of role changes and removals."""

import uuid

import pytest

from authlib import client_ip  # noqa: F401 - autouse: each test its own client address
from authlib import assert_error, get, post, request
from chatlib import (RoleRoom, join, kick, last_event, member_rows, room_events, set_role,
                     token_user, uniq_name)

STANDINGS = ("anonymous", "outsider", "member", "moderator", "admin", "owner", "global_admin")
MEMBERS = ("member", "moderator", "admin", "owner")


def expect(private, **by_standing):
    """Expected status per standing: anonymous 401; an outsider's "hidden"
    is 404 in a private room and 403 (not a member) in a public one."""
    out = {"anonymous": 401}
    for s in STANDINGS[1:]:
        v = by_standing.get(s, by_standing.get("default"))
        out[s] = (404 if private else 403) if v == "hidden" else v
    return out


@pytest.fixture(scope="module", params=[False, True], ids=["public", "private"])
def rr(stack, request):
    """One room of each kind shared by the read-only and idempotent checks."""
    return RoleRoom(stack, is_private=request.param), request.param


# ------------------------------------------------------------ read-only and idempotent

def call_list(stack, rr, tok):
    return get(stack, "/api/rooms", token=tok)


def call_get(stack, rr, tok):
    return get(stack, "/api/room", token=tok, params={"id": rr.id})


def call_settings(stack, rr, tok):
    return get(stack, "/api/room/settings", token=tok, params={"room_id": rr.id})


def call_members(stack, rr, tok):
    return get(stack, "/api/room/members", token=tok, params={"room_id": rr.id})


def call_settings_update(stack, rr, tok):
    return request(stack, "PUT", "/api/room/settings/update", {"allow_reactions": True},
                   token=tok, params={"room_id": rr.id})


def call_set_role_noop(stack, rr, tok):
    """Gives the plain member the role it has (a no-op when allowed)."""
    return post(stack, "/api/room/member/role",
                {"room_id": rr.id, "user_id": rr["member"].id, "role": "member"}, token=tok)


def call_search(stack, rr, tok):
    return post(stack, "/api/rooms/search", {"query": rr.room["name"]}, token=tok)


def call_categories(stack, rr, tok):
    return get(stack, "/api/categories", token=tok)


READS = {
    "list": (call_list, lambda p: expect(p, default=200)),
    "get": (call_get, lambda p: expect(p, default=200, outsider=404 if p else 200)),
    "search": (call_search, lambda p: expect(p, default=200)),
    "categories": (call_categories, lambda p: expect(p, default=200)),
    "settings": (call_settings, lambda p: expect(p, default=200, outsider="hidden")),
    "members": (call_members, lambda p: expect(p, default=200, outsider="hidden")),
    "settings_update": (call_settings_update, lambda p: expect(
        p, default=403, outsider="hidden", admin=200, owner=200, global_admin=200)),
    "set_role": (call_set_role_noop, lambda p: expect(
        p, default=403, outsider="hidden", admin=200, owner=200, global_admin=200)),
}


@pytest.mark.parametrize("route", sorted(READS))
@pytest.mark.parametrize("standing", STANDINGS)
def test_matrix_shared_room(stack, rr, route, standing):
    room, private = rr
    call, expected = READS[route]
    want = expected(private)[standing]
    r = call(stack, room, room.token(standing))
    assert r.status_code == want, f"{route} as {standing}: {r.status_code} {r.text[:300]}"
    if route == "search" and want == 200:
        ids = [x["id"] for x in r.json()["rooms"]]
        visible = not private or standing in MEMBERS
        assert (room.id in ids) == visible, (standing, ids)
    if route == "list" and want == 200:
        ids = [x["id"] for x in r.json()]
        assert (room.id in ids) == (not private or standing in MEMBERS), standing
    if want == 404:
        assert r.json()["message"] == "Room not found"       # the same as no room at all


# ------------------------------------------------------------ writes (a fresh room each)

def fresh_target(stack, room):
    """A new plain member of the room."""
    t = token_user(stack)
    join(stack, t.token, room.id)
    return t


def call_kick(stack, room, tok):
    t = fresh_target(stack, room)
    r = kick(stack, tok, room.id, t.id, expect=None)
    assert (t.id in member_rows(stack, room.id)) == (r.status_code != 200)
    return r


def call_transfer(stack, room, tok):
    t = fresh_target(stack, room)
    r = post(stack, "/api/room/transfer-ownership",
             {"room_id": room.id, "new_owner_id": t.id}, token=tok)
    roles = member_rows(stack, room.id)
    assert (roles[t.id] == "owner") == (r.status_code == 200), roles
    return r


def call_join(stack, room, tok):
    return post(stack, "/api/room/join", {"room_id": room.id}, token=tok)


def call_leave(stack, room, tok):
    return post(stack, "/api/room/leave", {"room_id": room.id}, token=tok)


def call_promote(stack, room, tok):
    t = fresh_target(stack, room)
    return post(stack, "/api/room/member/role",
                {"room_id": room.id, "user_id": t.id, "role": "moderator"}, token=tok)


def call_category_create(stack, room, tok):
    return post(stack, "/api/category/create", {"name": uniq_name("cat")}, token=tok)


WRITES = {
    "kick": (call_kick, lambda p: expect(p, default=403, outsider="hidden", moderator=200,
                                         admin=200, owner=200, global_admin=200)),
    "transfer": (call_transfer, lambda p: expect(p, default=403, outsider="hidden",
                                                 owner=200, global_admin=200)),
    "promote": (call_promote, lambda p: expect(p, default=403, outsider="hidden", admin=200,
                                               owner=200, global_admin=200)),
    # Joining needs no membership (a private room's id is its invitation).
    "join": (call_join, lambda p: expect(p, default=409, outsider=200, global_admin=200)),
    "leave": (call_leave, lambda p: expect(p, default=200, outsider=404, global_admin=404,
                                           owner=409)),
    "category_create": (call_category_create, lambda p: expect(p, default=403,
                                                               global_admin=200)),
}


@pytest.mark.parametrize("private", [False, True], ids=["public", "private"])
@pytest.mark.parametrize("route", sorted(WRITES))
@pytest.mark.parametrize("standing", STANDINGS)
def test_matrix_writes(stack, route, standing, private):
    room = RoleRoom(stack, is_private=private)
    call, expected = WRITES[route]
    want = expected(private)[standing]
    before = len(room_events(stack, room.id))
    r = call(stack, room, room.token(standing))
    assert r.status_code == want, f"{route} as {standing}: {r.status_code} {r.text[:300]}"
    if want >= 400 and route != "category_create":
        # A refused write leaves no event (the fresh target's join is the only one).
        extra = 1 if route in ("kick", "transfer", "promote") else 0
        assert len(room_events(stack, room.id)) == before + extra


# ------------------------------------------------------------ role rules

@pytest.fixture
def room(stack):
    return RoleRoom(stack)


def test_owner_sets_every_role_but_owner(stack, room):
    t = fresh_target(stack, room)
    owner = room.token("owner")
    for role in ("admin", "moderator", "member"):
        r = set_role(stack, owner, room.id, t.id, role)
        assert r.json() == {"room_id": room.id, "user_id": t.id, "role": role,
                            "old_role": {"admin": "member", "moderator": "admin",
                                         "member": "moderator"}[role]}, r.text
        assert member_rows(stack, room.id)[t.id] == role
    evs = room_events(stack, room.id, "member-role-changed")
    assert [e["payload"]["role"] for e in evs[-3:]] == ["admin", "moderator", "member"]
    assert evs[-1]["payload"] == {"user_id": t.id, "role": "member", "old_role": "moderator",
                                  "changed_by": room["owner"].id}
    n = len(room_events(stack, room.id))
    set_role(stack, owner, room.id, t.id, "member")           # no change: no event
    assert len(room_events(stack, room.id)) == n
    assert_error(set_role(stack, owner, room.id, t.id, "owner", expect=400), 400,
                 "invalid_request", "Ownership moves only by /api/room/transfer-ownership")
    assert_error(set_role(stack, owner, room.id, t.id, "king", expect=400), 400,
                 "invalid_request", "role must be admin, moderator or member")
    assert_error(set_role(stack, owner, room.id, room["owner"].id, "member", expect=403),
                 403, "forbidden", "You cannot change your own role")


def test_admin_limits(stack, room):
    adm = room.token("admin")
    t = fresh_target(stack, room)
    set_role(stack, adm, room.id, t.id, "moderator")
    set_role(stack, adm, room.id, t.id, "member")
    for target, role in ((t.id, "admin"), (room["owner"].id, "member")):
        r = set_role(stack, adm, room.id, target, role, expect=403)
        assert_error(r, 403, "forbidden", "Your role in this room does not allow this")
    other_admin = fresh_target(stack, room)
    set_role(stack, room.token("owner"), room.id, other_admin.id, "admin")
    set_role(stack, adm, room.id, other_admin.id, "moderator", expect=403)
    assert member_rows(stack, room.id)[other_admin.id] == "admin"


def test_role_target_checks(stack, room):
    owner = room.token("owner")
    assert_error(set_role(stack, owner, room.id, room["outsider"].id, "moderator", expect=404),
                 404, "not_found", "User is not a member of this room")
    assert_error(set_role(stack, owner, str(uuid.uuid4()), room["member"].id, "moderator",
                          expect=404), 404, "not_found", "Room not found")
    for body, message in (({"room_id": room.id, "user_id": "x", "role": "member"},
                           "user_id must be a UUID"),
                          ({"room_id": room.id, "user_id": room["member"].id},
                           "role is required"),
                          ({"room_id": room.id, "user_id": room["member"].id, "role": 3},
                           "role must be a string")):
        assert_error(post(stack, "/api/room/member/role", body, token=owner), 400,
                     "invalid_request", message)


def test_global_admin_acts_as_owner(stack, room):
    ga = room.token("global_admin")
    set_role(stack, ga, room.id, room["member"].id, "admin")
    set_role(stack, ga, room.id, room["owner"].id, "member", expect=403)
    assert member_rows(stack, room.id)[room["owner"].id] == "owner"


# ------------------------------------------------------------ removal rules

def test_kick_rules(stack, room):
    mod, adm, ga = room.token("moderator"), room.token("admin"), room.token("global_admin")
    t = fresh_target(stack, room)
    r = kick(stack, mod, room.id, t.id)
    assert r.json() == {"status": "removed"}
    ev = last_event(stack, room.id)
    assert ev["type"] == "member-left"
    assert ev["payload"] == {"user_id": t.id, "removed_by": room["moderator"].id}
    join(stack, t.token, room.id)                             # removal is no ban
    assert_error(kick(stack, mod, room.id, room["moderator"].id, expect=400), 400,
                 "invalid_request", "Use /api/room/leave to leave a room")
    other_admin = fresh_target(stack, room)
    set_role(stack, room.token("owner"), room.id, other_admin.id, "admin")
    for actor, target in ((mod, room["admin"].id), (adm, other_admin.id),
                          (ga, room["owner"].id), (room.token("member"), t.id)):
        assert_error(kick(stack, actor, room.id, target, expect=403), 403, "forbidden",
                     "Your role in this room does not allow this")
    other_mod = fresh_target(stack, room)
    set_role(stack, room.token("owner"), room.id, other_mod.id, "moderator")
    kick(stack, mod, room.id, other_mod.id, expect=403)
    kick(stack, adm, room.id, other_mod.id)
    kick(stack, ga, room.id, room["admin"].id)
    assert set(member_rows(stack, room.id)) == {room["owner"].id, room["moderator"].id,
                                                room["member"].id, t.id, other_admin.id}


def test_kick_bad_parameters(stack, room):
    owner = room.token("owner")
    for q in ("", f"?room_id={room.id}", f"?room_id={room.id}&user_id=x",
              f"?room_id=x&user_id={room['member'].id}"):
        r = request(stack, "DELETE", "/api/room/member" + q, token=owner)
        assert r.status_code == 400, (q, r.text)
    assert_error(kick(stack, owner, room.id, room["outsider"].id, expect=404), 404,
                 "not_found", "User is not a member of this room")


# ------------------------------------------------------------ the gateway's part

@pytest.mark.parametrize("method,path", [
    ("GET", "/api/rooms"), ("POST", "/api/room/create"), ("GET", "/api/room"),
    ("POST", "/api/room/join"), ("POST", "/api/room/leave"), ("POST", "/api/rooms/search"),
    ("GET", "/api/rooms/search"), ("GET", "/api/room/settings"),
    ("PUT", "/api/room/settings/update"), ("POST", "/api/room/transfer-ownership"),
    ("POST", "/api/room/member/role"), ("DELETE", "/api/room/member"),
    ("GET", "/api/room/members"), ("GET", "/api/categories"),
    ("POST", "/api/category/create"), ("PUT", "/api/category/update"),
    ("DELETE", "/api/category/delete"),
])
def test_anonymous_401(stack, method, path):
    r = request(stack, method, path, {} if method in ("POST", "PUT") else None)
    assert r.status_code == 401, (method, path, r.status_code, r.text)


@pytest.mark.parametrize("method,path", [
    ("DELETE", "/api/rooms"), ("GET", "/api/room/create"), ("GET", "/api/room/join"),
    ("PATCH", "/api/room/settings/update"), ("GET", "/api/room/member"),
])
def test_wrong_method_405(stack, method, path):
    r = request(stack, method, path, token=token_user(stack).token)
    assert r.status_code == 405 and r.headers.get("Allow"), (method, path, r.status_code)


def test_body_limits_413(stack):
    tok = token_user(stack).token
    r = post(stack, "/api/room/join", {"room_id": str(uuid.uuid4()), "password": "p" * 5000},
             token=tok)
    assert r.status_code == 413, r.text
    r = post(stack, "/api/room/create", {"name": "x", "description": "d" * 9000}, token=tok)
    assert r.status_code == 413, r.text
