"""Group DMs (reference §1.9 group rows, docs/group-dms.md): create, list,
rename, history, send, add and remove members, leave; the reference's bugs
fixed (events for every write, ownership to the longest-standing member,
{"status":"left"} when the last member goes). Edits, deletes, reactions
and reads of group messages go through the /api/dm/* routes that take a
message id. Events are read back from chat.conversation_events; their
"to" (not stored) from the functions' replies in a rolled-back transaction.
Live WebSocket delivery is tested with gatewayd's side."""

import threading

import pytest

from authlib import client_ip  # noqa: F401  (autouse: one client address per test)
from authlib import assert_error, get, pg_exec, pg_rows, post, put, request
from chatlib import real_user
from stacklib import RFC3339_RE, UUID4_RE

NO_SUCH = "6c1f0b7e-3f43-4d44-9a53-8f0fe3a4f1a1"
GROUP_KEYS = {"id", "name", "created_by", "owner_id", "created_at", "updated_at",
              "member_count", "members", "unread_count", "last_message", "last_time"}
MEMBER_KEYS = {"user_id", "username", "display_name", "avatar_url", "role", "joined_at"}
MESSAGE_KEYS = {"id", "conversation_id", "group_dm_id", "sender_id", "content", "is_edited",
                "is_deleted", "created_at", "updated_at", "seq", "sender"}


# ------------------------------------------------------------ helpers

def users(stack, n):
    return [real_user(stack, "g") for _ in range(n)]


def assert_group(g, owner=None, members=None):
    """The group object; owner: the ChatUser expected to own it; members:
    every expected member (owner included)."""
    assert set(g) == GROUP_KEYS, f"group keys: {sorted(g)}"
    assert UUID4_RE.match(g["id"]) and UUID4_RE.match(g["created_by"]), g
    assert RFC3339_RE.match(g["created_at"]) and RFC3339_RE.match(g["updated_at"]), g
    assert RFC3339_RE.match(g["last_time"]), g
    assert isinstance(g["unread_count"], int) and isinstance(g["last_message"], str), g
    assert g["member_count"] == len(g["members"]), g
    for m in g["members"]:
        assert set(m) == MEMBER_KEYS and m["role"] in ("owner", "member"), m
        assert RFC3339_RE.match(m["joined_at"]), m
    owners = [m["user_id"] for m in g["members"] if m["role"] == "owner"]
    assert owners == [g["owner_id"]] and g["members"][0]["user_id"] == g["owner_id"], g
    if owner is not None:
        assert g["owner_id"] == owner.id, g
    if members is not None:
        assert {m["user_id"] for m in g["members"]} == {u.id for u in members}, g
        names = {m["user_id"]: m["username"] for m in g["members"]}
        assert all(names[u.id] == u.username for u in members), g
    return g


def create_raw(stack, token, body):
    return post(stack, "/api/group-dm/create", body, token=token)


def create(stack, owner, others, name="the group"):
    r = create_raw(stack, owner.token, {"name": name, "member_ids": [u.id for u in others]})
    assert r.status_code == 201, f"create: {r.status_code} {r.text[:300]}"
    return assert_group(r.json(), owner, [owner, *others])


def listed(stack, user, **params):
    r = get(stack, "/api/group-dms", token=user.token, params=params)
    assert r.status_code == 200, f"list: {r.status_code} {r.text[:300]}"
    return [assert_group(g) for g in r.json()]


def group_of(stack, user, gid):
    """The group as user's list shows it (None when not listed)."""
    return next((g for g in listed(stack, user) if g["id"] == gid), None)


def send_raw(stack, token, gid, content):
    return post(stack, "/api/group-dm/message/send", {"group_dm_id": gid, "content": content},
                token=token)


def send(stack, user, gid, content="hello"):
    r = send_raw(stack, user.token, gid, content)
    assert r.status_code == 201, f"send: {r.status_code} {r.text[:300]}"
    m = r.json()
    assert set(m) == MESSAGE_KEYS, sorted(m)
    assert m["group_dm_id"] == gid == m["conversation_id"] and m["sender_id"] == user.id, m
    return m


def history(stack, token, gid, **params):
    return get(stack, "/api/group-dm/messages", token=token,
               params={"group_dm_id": gid, **params})


def history_ids(stack, user, gid, **params):
    r = history(stack, user.token, gid, **params)
    assert r.status_code == 200, f"history: {r.status_code} {r.text[:300]}"
    return [m["id"] for m in r.json()]


def add(stack, actor, gid, user_id):
    return post(stack, "/api/group-dm/member/add", {"group_dm_id": gid, "user_id": user_id},
                token=actor.token)


def remove(stack, actor, gid, user_id):
    return post(stack, "/api/group-dm/member/remove", {"group_dm_id": gid, "user_id": user_id},
                token=actor.token)


def leave(stack, user, gid):
    return post(stack, "/api/group-dm/leave", token=user.token, params={"group_dm_id": gid})


def events(stack, gid, type=None):
    """The envelopes chat.conversation_events holds for the group, in seq
    order, checked to be numbered 1, 2, 3... up to the group's last_seq."""
    rows = pg_rows(stack, "SELECT seq, envelope FROM chat.conversation_events"
                   " WHERE conversation_id = %s ORDER BY seq", (gid,))
    assert [s for s, _ in rows] == list(range(1, len(rows) + 1)), rows
    assert all(e["seq"] == s and e["conversation_id"] == gid for s, e in rows), rows
    last = pg_rows(stack, "SELECT last_seq FROM chat.conversations WHERE id = %s", (gid,))
    assert last == [(len(rows),)], (last, len(rows))
    return [e for _, e in rows if type is None or e["type"] == type]


def replied_events(stack, call, params):
    """The events (with "to") a chat.group_dm_* function returns, in a
    transaction rolled back: what chatd would publish."""
    conn = stack.pg()
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT r.status, r.events FROM {call} r", params)
            status, evs = cur.fetchone()
        conn.rollback()
    finally:
        conn.close()
    return status, evs or []


def member_roles(stack, gid):
    return {str(u): role for u, role in pg_rows(
        stack, "SELECT user_id, role FROM chat.conversation_members WHERE conversation_id = %s",
        (gid,))}


def group_count(stack, creator):
    return pg_rows(stack, "SELECT count(*) FROM chat.conversations"
                   " WHERE kind = 'group' AND created_by = %s", (creator.id,))[0][0]


def block(stack, blocker, blocked):
    pg_exec(stack, "INSERT INTO chat.blocks (blocker_id, blocked_id) VALUES (%s, %s)",
            (blocker.id, blocked.id))


def set_group_invites(stack, user, value):
    pg_exec(stack, "INSERT INTO chat.privacy (user_id, allow_group_invites) VALUES (%s, %s)"
            " ON CONFLICT (user_id) DO UPDATE SET allow_group_invites = EXCLUDED.allow_group_invites",
            (user.id, value))


def befriend(stack, a, b):
    pg_exec(stack, "INSERT INTO chat.connections (user_id, peer_id, status)"
            " VALUES (%s, %s, 'accepted')", (a.id, b.id))


def direct_conversation(stack, a, b):
    """A direct conversation of a and b (a sends b a DM); its id."""
    r = post(stack, "/api/dm/send", {"receiver_id": b.id, "content": "hi"}, token=a.token)
    assert r.status_code == 200, r.text
    return r.json()["conversation_id"]


# ------------------------------------------------------------ create and list

def test_create_answers_group_and_emits_created(stack):
    owner, b, c = users(stack, 3)
    g = create(stack, owner, [b, c], name="  weekend plans  ")
    assert g["name"] == "weekend plans", g
    assert g["created_by"] == owner.id and g["member_count"] == 3, g
    assert g["unread_count"] == 0 and g["last_message"] == "", g
    assert {m["user_id"]: m["role"] for m in g["members"]} == {
        owner.id: "owner", b.id: "member", c.id: "member"}
    evs = events(stack, g["id"])
    assert [e["type"] for e in evs] == ["group-dm-created"], evs
    e = evs[0]
    assert e["payload"] == g and e["user_id"] == owner.id, e
    assert e["target_user_id"] == "00000000-0000-0000-0000-000000000000", e
    for u in (owner, b, c):
        assert group_of(stack, u, g["id"]) is not None, u


def test_created_event_goes_to_every_member(stack):
    owner, b, c = users(stack, 3)
    status, evs = replied_events(
        stack, "chat.group_dm_create(%s, 'x', %s::uuid[])", (owner.id, [b.id, c.id]))
    assert status == 201 and len(evs) == 1, evs
    assert sorted(evs[0]["to"]) == sorted([owner.id, b.id, c.id]), evs


def test_create_accepts_nine_others_and_a_100_character_name(stack):
    owner, *others = users(stack, 10)
    name = "\u00e9" * 100
    g = create(stack, owner, others, name=name)
    assert g["member_count"] == 10 and g["name"] == name, g


@pytest.mark.parametrize("body, why", [
    ({"member_ids": [NO_SUCH]}, "name is required"),
    ({"name": None, "member_ids": [NO_SUCH]}, "name is required"),
    ({"name": "", "member_ids": [NO_SUCH]}, "Group DM name is required"),
    ({"name": "    ", "member_ids": [NO_SUCH]}, "Group DM name is required"),
    ({"name": "x" * 101, "member_ids": [NO_SUCH]}, "Group DM name must be at most 100 characters"),
    ({"name": "a\x01b", "member_ids": [NO_SUCH]}, None),
    ({"name": "a\nb", "member_ids": [NO_SUCH]}, None),
    ({"name": 7, "member_ids": [NO_SUCH]}, None),
    ({"name": ["x"], "member_ids": [NO_SUCH]}, None),
    ({"name": "g"}, "member_ids must be an array of user ids"),
    ({"name": "g", "member_ids": NO_SUCH}, "member_ids must be an array of user ids"),
    ({"name": "g", "member_ids": {"a": NO_SUCH}}, "member_ids must be an array of user ids"),
    ({"name": "g", "member_ids": []}, "member_ids must list 1 to 9 other users"),
    ({"name": "g", "member_ids": ["not-a-uuid"]}, "member_ids must hold user ids (UUIDs)"),
    ({"name": "g", "member_ids": [12]}, "member_ids must hold user ids (UUIDs)"),
    ({"name": "g", "member_ids": [None]}, "member_ids must hold user ids (UUIDs)"),
    ({"name": "g", "member_ids": [[NO_SUCH]]}, "member_ids must hold user ids (UUIDs)"),
    ({"name": "g", "member_ids": [NO_SUCH, NO_SUCH.upper()]}, "member_ids must not repeat a user"),
])
def test_create_refuses_malformed_bodies(stack, body, why):
    owner = real_user(stack, "g")
    assert_error(create_raw(stack, owner.token, body), 400, "invalid_request", why)
    assert group_count(stack, owner) == 0


def test_create_refuses_more_than_nine_others_yourself_and_bad_json(stack):
    owner, *others = users(stack, 11)
    ids = [u.id for u in others]
    assert_error(create_raw(stack, owner.token, {"name": "g", "member_ids": ids}), 400,
                 "invalid_request", "member_ids must list 1 to 9 other users")
    assert_error(create_raw(stack, owner.token, {"name": "g", "member_ids": [owner.id]}), 400,
                 "invalid_request", "member_ids must not include yourself")
    assert_error(create_raw(stack, owner.token, "{not json"), 400, "invalid_json")
    assert_error(create_raw(stack, owner.token, "[]"), 400, "invalid_json")
    bad_utf8 = b'{"name": "caf\xc3", "member_ids": ["' + ids[0].encode() + b'"]}'
    r = create_raw(stack, owner.token, bad_utf8)
    assert r.status_code == 400 and r.json()["error"] in ("invalid_json", "invalid_request"), r.text
    assert group_count(stack, owner) == 0


def test_create_names_the_unknown_user(stack):
    owner, b = users(stack, 2)
    r = create_raw(stack, owner.token, {"name": "g", "member_ids": [b.id, NO_SUCH]})
    body = assert_error(r, 404, "not_found")
    assert body["user_id"] == NO_SUCH and NO_SUCH in body["message"], body
    assert group_count(stack, owner) == 0


@pytest.mark.parametrize("how, code", [
    ("blocked_by_member", "blocked"), ("blocks_member", "blocked"),
    ("privacy_none", "not_allowed"), ("privacy_friends", "not_allowed")])
def test_create_refuses_blocks_and_privacy_naming_the_user(stack, how, code):
    owner, b, c = users(stack, 3)
    if how == "blocked_by_member":
        block(stack, c, owner)
    elif how == "blocks_member":
        block(stack, owner, c)
    else:
        set_group_invites(stack, c, how.split("_")[1])
    r = create_raw(stack, owner.token, {"name": "g", "member_ids": [b.id, c.id]})
    body = assert_error(r, 403, code)
    assert body["user_id"] == c.id and body["message"].startswith(c.username + ": "), body
    assert group_count(stack, owner) == 0


def test_create_with_friends_only_user_when_friends(stack):
    owner, b = users(stack, 2)
    set_group_invites(stack, b, "friends")
    befriend(stack, b, owner)
    create(stack, owner, [b])


def test_list_is_latest_activity_first_with_pages(stack):
    me, b = users(stack, 2)
    g1 = create(stack, me, [b], "one")
    g2 = create(stack, me, [b], "two")
    g3 = create(stack, me, [b], "three")
    assert [g["id"] for g in listed(stack, me)] == [g3["id"], g2["id"], g1["id"]]
    send(stack, b, g1["id"], "bump")
    got = listed(stack, me)
    assert [g["id"] for g in got] == [g1["id"], g3["id"], g2["id"]]
    assert got[0]["last_message"] == "bump" and got[0]["unread_count"] == 1, got[0]
    assert [g["id"] for g in listed(stack, me, limit=2)] == [g1["id"], g3["id"]]
    assert [g["id"] for g in listed(stack, me, limit=2, before=g3["id"])] == [g2["id"]]
    assert listed(stack, real_user(stack, "g")) == []
    for params in ({"limit": 0}, {"limit": 201}, {"limit": "x"}, {"before": "nope"}):
        r = get(stack, "/api/group-dms", token=me.token, params=params)
        assert_error(r, 400, "invalid_parameter")
    r = get(stack, "/api/group-dms", token=b.token, params={"before": NO_SUCH})
    assert_error(r, 400, "invalid_parameter")


def test_routes_need_a_token(stack):
    for method, path in (("POST", "/api/group-dm/create"), ("GET", "/api/group-dms"),
                         ("PUT", "/api/group-dm/update"), ("GET", "/api/group-dm/messages"),
                         ("POST", "/api/group-dm/message/send"),
                         ("POST", "/api/group-dm/member/add"),
                         ("POST", "/api/group-dm/member/remove"),
                         ("POST", "/api/group-dm/leave")):
        assert request(stack, method, path).status_code == 401, path


# ------------------------------------------------------------ rename

def test_any_member_renames_and_updated_is_emitted(stack):
    owner, b, outsider = users(stack, 3)
    g = create(stack, owner, [b])
    r = put(stack, "/api/group-dm/update", {"group_dm_id": g["id"], "name": " new name "},
            token=b.token)
    assert r.status_code == 200, r.text
    body = assert_group(r.json(), owner, [owner, b])
    assert body["name"] == "new name" and body["id"] == g["id"], body
    e = events(stack, g["id"], "group-dm-updated")[-1]
    assert e["user_id"] == b.id, e
    assert e["payload"] == {k: v for k, v in body.items() if k != "unread_count"}, e
    assert group_of(stack, owner, g["id"])["name"] == "new name"
    r = put(stack, "/api/group-dm/update", {"group_dm_id": g["id"], "name": "x"},
            token=outsider.token)
    assert_error(r, 404, "not_found", "Group DM not found")
    for bad in ({"group_dm_id": g["id"]}, {"group_dm_id": g["id"], "name": " "},
                {"group_dm_id": g["id"], "name": "y" * 101}, {"group_dm_id": "x", "name": "y"},
                {"group_dm_id": 5, "name": "y"}, {"name": "y"}):
        r = put(stack, "/api/group-dm/update", bad, token=owner.token)
        assert_error(r, 400, "invalid_request")
    assert len(events(stack, g["id"], "group-dm-updated")) == 1


# ------------------------------------------------------------ messages

def test_send_and_history_pages(stack):
    owner, b = users(stack, 2)
    g = create(stack, owner, [b])
    sent = [send(stack, owner if i % 2 else b, g["id"], f"m{i}") for i in range(5)]
    assert "receiver_id" not in sent[0] and sent[0]["sender"]["username"] == b.username
    ids = [m["id"] for m in sent]
    assert history_ids(stack, owner, g["id"]) == ids[::-1]
    assert history_ids(stack, b, g["id"], limit=2) == [ids[4], ids[3]]
    assert history_ids(stack, b, g["id"], limit=2, before=ids[3]) == [ids[2], ids[1]]
    assert history_ids(stack, b, g["id"], limit=2, after=ids[1]) == [ids[3], ids[2]]
    got = history(stack, b.token, g["id"]).json()
    assert got[0] == sent[4], got[0]
    msgs = events(stack, g["id"], "dm-message")
    assert [e["payload"]["id"] for e in msgs] == ids
    assert all(e["payload"]["seq"] == e["seq"] for e in msgs), msgs


def test_send_event_goes_to_every_member(stack):
    owner, b, c = users(stack, 3)
    g = create(stack, owner, [b, c])
    status, evs = replied_events(stack, "chat.group_dm_send(%s, %s, 'hey')", (g["id"], c.id))
    assert status == 201 and [e["type"] for e in evs] == ["dm-message"], evs
    assert sorted(evs[0]["to"]) == sorted([owner.id, b.id, c.id]), evs


def test_history_and_send_refuse_bad_input(stack):
    owner, b = users(stack, 2)
    g = create(stack, owner, [b])
    m = send(stack, owner, g["id"])
    for params in ({}, {"group_dm_id": "x"}):
        r = get(stack, "/api/group-dm/messages", token=owner.token, params=params)
        assert r.status_code == 400 and r.json()["error"] in (
            "missing_parameter", "invalid_parameter"), r.text
    for params in ({"limit": 0}, {"limit": 101}, {"before": "x"},
                   {"before": m["id"], "after": m["id"]}, {"before": NO_SUCH}):
        assert_error(history(stack, owner.token, g["id"], **params), 400, "invalid_parameter")
    assert history(stack, owner.token, g["id"], limit=100).status_code == 200
    for body in ({"group_dm_id": g["id"]}, {"group_dm_id": g["id"], "content": "  "},
                 {"group_dm_id": g["id"], "content": "x" * 4001},
                 {"group_dm_id": g["id"], "content": 3},
                 {"group_dm_id": g["id"], "content": "bad\x07"},
                 {"group_dm_id": "nope", "content": "hi"}, {"content": "hi"}):
        r = post(stack, "/api/group-dm/message/send", body, token=owner.token)
        assert_error(r, 400, "invalid_request")
    assert_error(post(stack, "/api/group-dm/message/send", b"{", token=owner.token), 400,
                 "invalid_json")
    assert history_ids(stack, owner, g["id"]) == [m["id"]]


def test_outsiders_and_direct_conversations_get_404(stack):
    owner, b, outsider = users(stack, 3)
    g = create(stack, owner, [b])
    m = send(stack, owner, g["id"], "secret")
    direct = direct_conversation(stack, owner, b)
    for gid, u in ((g["id"], outsider), (NO_SUCH, owner), (direct, owner)):
        assert_error(history(stack, u.token, gid), 404, "not_found", "Group DM not found")
        assert_error(send_raw(stack, u.token, gid, "x"), 404, "not_found", "Group DM not found")
        assert_error(add(stack, u, gid, outsider.id), 404, "not_found", "Group DM not found")
        assert_error(remove(stack, u, gid, u.id), 404, "not_found", "Group DM not found")
        assert_error(leave(stack, u, gid), 404, "not_found", "Group DM not found")
        r = put(stack, "/api/group-dm/update", {"group_dm_id": gid, "name": "x"}, token=u.token)
        assert_error(r, 404, "not_found", "Group DM not found")
    mid = m["id"]
    post(stack, "/api/dm/reaction/add", {"message_id": mid, "emoji": "+1"}, token=b.token)
    assert_error(get(stack, "/api/dm/reactions", token=outsider.token,
                     params={"message_id": mid}), 404, "not_found")
    assert_error(post(stack, "/api/dm/reaction/add", {"message_id": mid, "emoji": "+1"},
                      token=outsider.token), 404, "not_found")
    assert_error(post(stack, "/api/dm/read", {"message_id": mid}, token=outsider.token),
                 404, "not_found")
    assert_error(put(stack, "/api/dm/update", {"message_id": mid, "content": "x"},
                     token=outsider.token), 404, "not_found")
    assert_error(request(stack, "DELETE", "/api/dm/delete", {"message_id": mid},
                         token=outsider.token), 404, "not_found")
    assert group_of(stack, outsider, g["id"]) is None


def test_group_messages_edit_delete_react_read_through_dm_routes(stack):
    a, b, c = users(stack, 3)
    g = create(stack, a, [b, c])
    m1 = send(stack, a, g["id"], "first")
    m2 = send(stack, a, g["id"], "second")
    assert group_of(stack, b, g["id"])["unread_count"] == 2
    assert group_of(stack, a, g["id"])["unread_count"] == 0
    assert group_of(stack, c, g["id"])["last_message"] == "second"

    r = put(stack, "/api/dm/update", {"message_id": m2["id"], "content": "second!"},
            token=a.token)
    assert r.status_code == 200 and r.json()["is_edited"] and r.json()["group_dm_id"] == g["id"]
    assert group_of(stack, b, g["id"])["last_message"] == "second!"
    assert_error(put(stack, "/api/dm/update", {"message_id": m2["id"], "content": "no"},
                     token=b.token), 403, "forbidden")

    r = post(stack, "/api/dm/reaction/add", {"message_id": m1["id"], "emoji": "+1"},
             token=c.token)
    assert r.status_code == 200, r.text
    r = get(stack, "/api/dm/reactions", token=b.token, params={"message_id": m1["id"]})
    assert [x["user_id"] for x in r.json()] == [c.id], r.text

    r = request(stack, "DELETE", "/api/dm/delete", {"message_id": m2["id"]}, token=a.token)
    assert r.status_code == 200 and r.json() == {"status": "deleted"}, r.text
    gb = group_of(stack, b, g["id"])
    assert gb["unread_count"] == 1 and gb["last_message"] == "first", gb
    assert history(stack, b.token, g["id"]).json()[0]["content"] == ""

    r = post(stack, "/api/dm/read", {"message_id": m1["id"]}, token=b.token)
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    assert group_of(stack, b, g["id"])["unread_count"] == 0
    assert group_of(stack, c, g["id"])["unread_count"] == 1
    send(stack, c, g["id"], "third")
    assert group_of(stack, b, g["id"])["unread_count"] == 1
    assert group_of(stack, a, g["id"])["unread_count"] == 1
    assert group_of(stack, c, g["id"])["unread_count"] == 0

    types = [e["type"] for e in events(stack, g["id"])]
    assert types == ["group-dm-created", "dm-message", "dm-message", "dm-message-updated",
                     "dm-reaction-added", "dm-message-deleted", "dm-message-read",
                     "dm-message"], types


# ------------------------------------------------------------ members

def test_owner_adds_a_member(stack):
    owner, b, d = users(stack, 3)
    g = create(stack, owner, [b])
    old = send(stack, owner, g["id"], "before d")
    r = add(stack, owner, g["id"], d.id)
    assert r.status_code == 201 and r.json() == {"status": "added"}, r.text
    e = events(stack, g["id"])[-1]
    assert e["type"] == "group-dm-member-added" and e["user_id"] == owner.id, e
    assert e["payload"] == {"group_dm_id": g["id"], "user_id": d.id, "username": d.username,
                            "added_by": owner.id}, e
    gd = group_of(stack, d, g["id"])
    assert gd["member_count"] == 3 and gd["unread_count"] == 0, gd
    assert history_ids(stack, d, g["id"]) == [old["id"]]
    send(stack, b, g["id"], "welcome")
    assert group_of(stack, d, g["id"])["unread_count"] == 1
    assert_error(add(stack, owner, g["id"], d.id), 409, "conflict")
    assert_error(add(stack, owner, g["id"], owner.id), 409, "conflict")
    assert_error(add(stack, owner, g["id"], NO_SUCH), 404, "not_found", "User not found")
    assert_error(add(stack, b, g["id"], real_user(stack, "g").id), 403, "forbidden")
    for body in ({"group_dm_id": g["id"]}, {"user_id": d.id}, {"group_dm_id": g["id"],
                 "user_id": "x"}, {"group_dm_id": g["id"], "user_id": 1}):
        r = post(stack, "/api/group-dm/member/add", body, token=owner.token)
        assert_error(r, 400, "invalid_request")
    assert len(member_roles(stack, g["id"])) == 3


def test_added_event_goes_to_the_new_member_too(stack):
    owner, b, d = users(stack, 3)
    g = create(stack, owner, [b])
    status, evs = replied_events(stack, "chat.group_dm_member_add(%s, %s, %s)",
                                 (g["id"], owner.id, d.id))
    assert status == 201 and len(evs) == 1, evs
    assert sorted(evs[0]["to"]) == sorted([owner.id, b.id, d.id]), evs


@pytest.mark.parametrize("how, code", [
    ("blocked_by_user", "blocked"), ("blocks_user", "blocked"),
    ("privacy_none", "not_allowed"), ("privacy_friends", "not_allowed")])
def test_add_refuses_blocks_and_privacy(stack, how, code):
    owner, b, d = users(stack, 3)
    g = create(stack, owner, [b])
    if how == "blocked_by_user":
        block(stack, d, owner)
    elif how == "blocks_user":
        block(stack, owner, d)
    else:
        set_group_invites(stack, d, how.split("_")[1])
    body = assert_error(add(stack, owner, g["id"], d.id), 403, code)
    assert body["user_id"] == d.id, body
    assert d.id not in member_roles(stack, g["id"])
    assert len(events(stack, g["id"])) == 1


def test_a_group_holds_at_most_ten(stack):
    owner, *others = users(stack, 10)
    g = create(stack, owner, others)
    extra = real_user(stack, "g")
    assert_error(add(stack, owner, g["id"], extra.id), 403, "group_full", "Group DM is full")
    assert len(member_roles(stack, g["id"])) == 10
    assert remove(stack, owner, g["id"], others[0].id).status_code == 200
    assert add(stack, owner, g["id"], extra.id).status_code == 201
    assert len(member_roles(stack, g["id"])) == 10


def test_two_concurrent_adds_at_nine_members_one_wins(stack):
    owner, *others = users(stack, 9)
    x, y = users(stack, 2)
    for _ in range(3):
        g = create(stack, owner, others)
        results = {}
        start = threading.Barrier(2)

        def go(u):
            start.wait()
            results[u.id] = add(stack, owner, g["id"], u.id)

        threads = [threading.Thread(target=go, args=(u,)) for u in (x, y)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r.status_code for r in results.values())
        assert codes == [201, 403], {k: (r.status_code, r.text) for k, r in results.items()}
        lost = next(r for r in results.values() if r.status_code == 403)
        assert_error(lost, 403, "group_full")
        assert len(member_roles(stack, g["id"])) == 10
        assert len(events(stack, g["id"], "group-dm-member-added")) == 1


def test_remove_by_owner_and_by_self(stack):
    owner, b, c, d = users(stack, 4)
    g = create(stack, owner, [b, c, d])
    m = send(stack, owner, g["id"])
    assert_error(remove(stack, b, g["id"], c.id), 403, "forbidden")
    r = remove(stack, owner, g["id"], c.id)
    assert r.status_code == 200 and r.json() == {"status": "removed"}, r.text
    e = events(stack, g["id"])[-1]
    assert e["type"] == "group-dm-member-removed" and e["payload"] == {
        "group_dm_id": g["id"], "user_id": c.id, "removed_by": owner.id}, e
    assert_error(history(stack, c.token, g["id"]), 404, "not_found")
    assert_error(get(stack, "/api/dm/reactions", token=c.token, params={"message_id": m["id"]}),
                 404, "not_found")
    assert group_of(stack, c, g["id"]) is None
    assert_error(remove(stack, owner, g["id"], c.id), 404, "not_found", "Member not found")
    r = remove(stack, b, g["id"], b.id)
    assert r.status_code == 200 and r.json() == {"status": "removed"}, r.text
    assert events(stack, g["id"])[-1]["payload"]["removed_by"] == b.id
    assert member_roles(stack, g["id"]) == {owner.id: "owner", d.id: "member"}
    for body in ({"group_dm_id": g["id"]}, {"group_dm_id": g["id"], "user_id": "x"}, {}):
        r = post(stack, "/api/group-dm/member/remove", body, token=owner.token)
        assert_error(r, 400, "invalid_request")


def test_removed_event_goes_to_the_removed_member_too(stack):
    owner, b, c = users(stack, 3)
    g = create(stack, owner, [b, c])
    status, evs = replied_events(stack, "chat.group_dm_member_remove(%s, %s, %s)",
                                 (g["id"], owner.id, c.id))
    assert status == 200 and [e["type"] for e in evs] == ["group-dm-member-removed"], evs
    assert sorted(evs[0]["to"]) == sorted([owner.id, b.id, c.id]), evs


def test_owner_leaving_passes_ownership_to_longest_standing(stack):
    owner, b, c, d = users(stack, 4)
    g = create(stack, owner, [b, c])
    assert add(stack, owner, g["id"], d.id).status_code == 201
    # b and c joined together at creation; make c the longer-standing one.
    pg_exec(stack, "UPDATE chat.conversation_members SET joined_at = joined_at - interval '1 s'"
            " WHERE conversation_id = %s AND user_id = %s", (g["id"], c.id))
    status, evs = replied_events(stack, "chat.group_dm_leave(%s, %s)", (g["id"], owner.id))
    assert [e["type"] for e in evs] == ["group-dm-member-removed", "group-dm-owner-changed"]
    assert owner.id in evs[0]["to"] and owner.id not in evs[1]["to"], evs
    r = leave(stack, owner, g["id"])
    assert r.status_code == 200 and r.json() == {"status": "left"}, r.text
    assert member_roles(stack, g["id"]) == {c.id: "owner", b.id: "member", d.id: "member"}
    evs = events(stack, g["id"])
    assert [e["type"] for e in evs[-2:]] == ["group-dm-member-removed",
                                              "group-dm-owner-changed"], evs
    assert evs[-2]["payload"] == {"group_dm_id": g["id"], "user_id": owner.id,
                                  "removed_by": owner.id}
    assert evs[-1]["payload"] == {"group_dm_id": g["id"], "owner_id": c.id,
                                  "previous_owner_id": owner.id}
    gc = group_of(stack, c, g["id"])
    assert gc["owner_id"] == c.id and gc["created_by"] == owner.id, gc
    assert add(stack, c, g["id"], owner.id).status_code == 201
    # c leaves: b joined at creation, before d and the re-added former owner.
    assert leave(stack, c, g["id"]).status_code == 200
    assert member_roles(stack, g["id"])[b.id] == "owner"


def test_ownership_tie_goes_to_the_lowest_user_id(stack):
    owner, b, c = users(stack, 3)
    g = create(stack, owner, [b, c])
    assert leave(stack, owner, g["id"]).status_code == 200
    heir = min(b.id, c.id)
    assert member_roles(stack, g["id"])[heir] == "owner"


def test_last_member_leaving_deletes_the_group(stack):
    owner, b = users(stack, 2)
    g = create(stack, owner, [b])
    send(stack, b, g["id"])
    r = post(stack, "/api/group-dm/leave", {"group_dm_id": g["id"]}, token=b.token)
    assert r.status_code == 200 and r.json() == {"status": "left"}, r.text
    assert member_roles(stack, g["id"]) == {owner.id: "owner"}
    status, evs = replied_events(stack, "chat.group_dm_leave(%s, %s)", (g["id"], owner.id))
    assert status == 200 and evs[0]["to"] == [owner.id], evs
    r = leave(stack, owner, g["id"])
    assert r.status_code == 200 and r.json() == {"status": "left"}, r.text
    for table, col in (("conversations", "id"), ("dm_messages", "conversation_id"),
                       ("conversation_events", "conversation_id"),
                       ("conversation_members", "conversation_id")):
        assert pg_rows(stack, f"SELECT count(*) FROM chat.{table} WHERE {col} = %s",
                       (g["id"],)) == [(0,)], table
    assert_error(leave(stack, owner, g["id"]), 404, "not_found")


def test_last_member_removing_self_answers_removed(stack):
    owner, b = users(stack, 2)
    g = create(stack, owner, [b])
    assert remove(stack, owner, g["id"], b.id).status_code == 200
    r = remove(stack, owner, g["id"], owner.id)
    assert r.status_code == 200 and r.json() == {"status": "removed"}, r.text
    assert pg_rows(stack, "SELECT count(*) FROM chat.conversations WHERE id = %s",
                   (g["id"],)) == [(0,)]


def test_leave_refuses_bad_input(stack):
    owner, b = users(stack, 2)
    g = create(stack, owner, [b])
    assert_error(post(stack, "/api/group-dm/leave", token=b.token), 400, "missing_parameter")
    r = post(stack, "/api/group-dm/leave", token=b.token, params={"group_dm_id": "x"})
    assert_error(r, 400, "invalid_parameter")
    r = post(stack, "/api/group-dm/leave", {"group_dm_id": 4}, token=b.token)
    assert_error(r, 400, "invalid_request")
    assert_error(post(stack, "/api/group-dm/leave", b"{", token=b.token), 400, "invalid_json")
    assert len(member_roles(stack, g["id"])) == 2


def test_event_log_is_numbered_in_order(stack):
    a, b, c, d = users(stack, 4)
    g = create(stack, a, [b, c])
    send(stack, b, g["id"], "one")
    assert put(stack, "/api/group-dm/update", {"group_dm_id": g["id"], "name": "renamed"},
               token=c.token).status_code == 200
    assert add(stack, a, g["id"], d.id).status_code == 201
    send(stack, d, g["id"], "two")
    assert remove(stack, a, g["id"], b.id).status_code == 200
    assert leave(stack, a, g["id"]).status_code == 200
    types = [e["type"] for e in events(stack, g["id"])]
    assert types == ["group-dm-created", "dm-message", "group-dm-updated",
                     "group-dm-member-added", "dm-message", "group-dm-member-removed",
                     "group-dm-member-removed", "group-dm-owner-changed"], types
