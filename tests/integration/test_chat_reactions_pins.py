"""Reactions and pins (reference §1.8): 409 on a duplicate, members only,
allow_reactions enforced, emoji checked; pins for moderators and up, 409
when already pinned, unpin checked against the pin's room; their events."""

import pytest

from authlib import client_ip  # noqa: F401  (autouse: one client address per test)
from authlib import assert_error, get, pg_exec, pg_rows, post, request
from chatlib import (last_event, real_user, room_events, room_with, send, set_role, token_user,
                     as_admin)

NO_SUCH = "6c1f0b7e-3f43-4d44-9a53-8f0fe3a4f1a1"
EMOJI = "\U0001F600"


def react(stack, token, message_id, emoji):
    return post(stack, "/api/reaction/add", {"message_id": message_id, "emoji": emoji},
                token=token)


def unreact(stack, token, message_id, emoji):
    return request(stack, "DELETE", "/api/reaction/remove", token=token,
                   params={"message_id": message_id, "emoji": emoji})


def reactions(stack, token, message_id):
    return get(stack, "/api/reactions", token=token, params={"message_id": message_id})


def reaction_count(stack, message_id):
    return pg_rows(stack, "SELECT count(*) FROM chat.reactions WHERE message_id = %s",
                   (message_id,))[0][0]


# ------------------------------------------------------------ reactions

def test_reaction_add_list_remove_with_events(stack):
    owner, bob = real_user(stack), real_user(stack)
    room = room_with(stack, owner, bob)
    m = send(stack, owner.token, room, "react to me")
    assert reactions(stack, bob.token, m["id"]).json() == []
    r = react(stack, bob.token, m["id"], EMOJI)
    assert r.status_code == 200, r.text
    x = r.json()
    assert set(x) == {"id", "message_id", "user_id", "username", "emoji", "created_at"}, x
    assert x["message_id"] == m["id"] and x["user_id"] == bob.id and x["emoji"] == EMOJI
    assert x["username"] == bob.username
    env = last_event(stack, room, "reaction-added")
    assert env["payload"] == {"message_id": m["id"], "emoji": EMOJI, "user_id": bob.id,
                              "username": bob.username}
    assert_error(react(stack, bob.token, m["id"], EMOJI), 409, "conflict")
    assert reaction_count(stack, m["id"]) == 1
    assert react(stack, owner.token, m["id"], EMOJI).status_code == 200
    assert react(stack, owner.token, m["id"], "+1").status_code == 200
    got = reactions(stack, bob.token, m["id"])
    assert got.status_code == 200, got.text
    assert got.json() == [
        {"emoji": EMOJI, "count": 2, "users": [bob.username, owner.username], "has_reacted": True},
        {"emoji": "+1", "count": 1, "users": [owner.username], "has_reacted": False}]
    r = unreact(stack, bob.token, m["id"], EMOJI)
    assert r.status_code == 200 and r.json() == {"status": "removed"}, r.text
    env = last_event(stack, room, "reaction-removed")
    assert env["payload"] == {"message_id": m["id"], "emoji": EMOJI, "user_id": bob.id}
    assert_error(unreact(stack, bob.token, m["id"], EMOJI), 404, "not_found")
    assert_error(unreact(stack, bob.token, m["id"], "+1"), 404, "not_found")  # owner's, not bob's
    assert reaction_count(stack, m["id"]) == 2


@pytest.mark.parametrize("emoji", ["", " ", "a b", "x" * 33, EMOJI * 8 + "x", "\x07",
                                   "a\nb", "\x7f", 5, None, ["x"]])
def test_bad_emoji_400(stack, emoji):
    owner = token_user(stack)
    room = room_with(stack, owner)
    m = send(stack, owner.token, room, "m")
    assert_error(react(stack, owner.token, m["id"], emoji), 400, "invalid_request")
    assert reaction_count(stack, m["id"]) == 0


def test_emoji_limits_and_odd_strings_kept_exactly(stack):
    owner = token_user(stack)
    room = room_with(stack, owner)
    m = send(stack, owner.token, room, "m")
    for e in (EMOJI * 8, "x" * 32, "\U0001F44D\U0001F3FD", "<b>&", ":custom_emoji:", "é"):
        r = react(stack, owner.token, m["id"], e)
        assert r.status_code == 200 and r.json()["emoji"] == e, (e, r.text)
        r = unreact(stack, owner.token, m["id"], e)     # percent-encoded in the query
        assert r.status_code == 200, (e, r.text)
    assert_error(unreact(stack, owner.token, m["id"], "x" * 33), 400, "invalid_request")
    assert_error(request(stack, "DELETE", "/api/reaction/remove", token=owner.token,
                         params={"message_id": m["id"]}), 400, "invalid_request")


def test_reactions_members_only_and_setting_enforced(stack):
    owner, bob, outsider = token_user(stack), token_user(stack), token_user(stack)
    room = room_with(stack, owner, bob)
    private = room_with(stack, owner, is_private=True)
    m = send(stack, owner.token, room, "m")
    pm = send(stack, owner.token, private, "p")
    assert_error(react(stack, outsider.token, m["id"], EMOJI), 403, "not_member")
    assert_error(reactions(stack, outsider.token, m["id"]), 403, "not_member")
    assert_error(react(stack, outsider.token, pm["id"], EMOJI), 404, "not_found")
    assert_error(reactions(stack, outsider.token, pm["id"]), 404, "not_found")
    assert_error(react(stack, bob.token, NO_SUCH, EMOJI), 404, "not_found")
    assert_error(react(stack, bob.token, "nope", EMOJI), 400, "invalid_request")
    pg_exec(stack, "UPDATE chat.room_settings SET allow_reactions = false WHERE room_id = %s",
            (room,))
    assert_error(react(stack, bob.token, m["id"], EMOJI), 403, "reactions_disabled")
    pg_exec(stack, "UPDATE chat.room_settings SET allow_reactions = true WHERE room_id = %s",
            (room,))
    assert react(stack, bob.token, m["id"], EMOJI).status_code == 200
    request(stack, "DELETE", "/api/message/delete", token=owner.token,
            params={"message_id": m["id"]})
    assert reaction_count(stack, m["id"]) == 0
    assert_error(react(stack, bob.token, m["id"], EMOJI), 404, "not_found")


# ------------------------------------------------------------ pins

def pin(stack, token, message_id, room_id=None):
    params = {"room_id": room_id} if room_id else None
    return post(stack, "/api/pinnedmessage/pin", {"message_id": message_id}, token=token,
                params=params)


def unpin(stack, token, pin_id):
    return request(stack, "DELETE", "/api/pinnedmessage/unpin", token=token,
                   params={"pin_id": pin_id})


def pins(stack, token, room_id):
    return get(stack, "/api/pinnedmessages", token=token, params={"room_id": room_id})


def test_pin_by_moderator_409_list_unpin_events(stack):
    owner, bob, mod = real_user(stack), real_user(stack), real_user(stack)
    room = room_with(stack, owner, bob, mod)
    set_role(stack, owner.token, room, mod.id, "moderator")
    m = send(stack, bob.token, room, "pin me")
    assert pins(stack, bob.token, room).json() == []
    assert_error(pin(stack, bob.token, m["id"], room), 403, "forbidden")
    r = pin(stack, mod.token, m["id"], room)
    assert r.status_code == 200, r.text
    p = r.json()
    assert set(p) == {"id", "room_id", "message_id", "pinned_by", "username", "content",
                      "created_at"}, p
    assert p["message_id"] == m["id"] and p["pinned_by"] == mod.id
    assert p["username"] == mod.username and p["content"] == "pin me" and p["room_id"] == room
    assert last_event(stack, room, "message-pinned")["payload"] == p
    assert_error(pin(stack, owner.token, m["id"], room), 409, "conflict",
                 "Message is already pinned")
    m2 = send(stack, bob.token, room, "second")
    p2 = pin(stack, owner.token, m2["id"]).json()        # room_id may be left out
    got = pins(stack, bob.token, room)
    assert got.status_code == 200 and [x["id"] for x in got.json()] == [p2["id"], p["id"]]
    assert_error(unpin(stack, bob.token, p["id"]), 403, "forbidden")
    r = unpin(stack, mod.token, p["id"])
    assert r.status_code == 200 and r.json() == {"status": "unpinned"}, r.text
    assert last_event(stack, room, "message-unpinned")["payload"] == {"id": p["id"],
                                                                       "message_id": m["id"]}
    assert_error(unpin(stack, mod.token, p["id"]), 404, "not_found")
    # Deleting a pinned message unpins it, with both events.
    request(stack, "DELETE", "/api/message/delete", token=bob.token,
            params={"message_id": m2["id"]})
    types = [e["type"] for e in room_events(stack, room)[-2:]]
    assert types == ["message-deleted", "message-unpinned"]
    assert pins(stack, bob.token, room).json() == []


def test_pin_refusals(stack):
    owner, mod, outsider = token_user(stack), token_user(stack), token_user(stack)
    room = room_with(stack, owner, mod)
    other = room_with(stack, owner, mod)
    set_role(stack, owner.token, room, mod.id, "moderator")
    m = send(stack, owner.token, room, "m")
    assert_error(pin(stack, mod.token, m["id"], other), 400, "invalid_request", "Room mismatch")
    assert_error(pin(stack, outsider.token, m["id"], room), 403, "not_member")
    assert_error(pin(stack, mod.token, NO_SUCH, room), 404, "not_found")
    assert_error(pin(stack, mod.token, m["id"], "bad"), 400, "invalid_parameter")
    assert_error(post(stack, "/api/pinnedmessage/pin", {}, token=mod.token), 400,
                 "invalid_request", "message_id is required")
    assert_error(pins(stack, outsider.token, room), 403, "not_member")
    assert_error(unpin(stack, mod.token, NO_SUCH), 404, "not_found")
    assert_error(unpin(stack, mod.token, "x"), 400, "invalid_parameter")
    # A moderator of another room may not unpin here: the pin's room counts.
    p = pin(stack, owner.token, m["id"], room).json()
    set_role(stack, owner.token, other, mod.id, "moderator")
    set_role(stack, owner.token, room, mod.id, "member")
    assert_error(unpin(stack, mod.token, p["id"]), 403, "forbidden")
    assert_error(unpin(stack, outsider.token, p["id"]), 403, "not_member")
    # A global admin moderates any room.
    assert unpin(stack, as_admin(stack, outsider).token, p["id"]).status_code == 200
    gone = send(stack, owner.token, room, "gone")
    request(stack, "DELETE", "/api/message/delete", token=owner.token,
            params={"message_id": gone["id"]})
    assert_error(pin(stack, owner.token, gone["id"], room), 404, "not_found")


def test_history_carries_reactions_and_thread(stack):
    """A history page gives each message its reactions (as /api/reactions,
    seen by the caller) and its thread ({id, message_count} of live
    replies, or null): a client needs no request per message."""
    owner, bob = real_user(stack), real_user(stack)
    room = room_with(stack, owner, bob)
    m = send(stack, owner.token, room, "with details")
    plain = send(stack, owner.token, room, "without")
    assert react(stack, bob.token, m["id"], EMOJI).status_code == 200
    assert react(stack, owner.token, m["id"], "+1").status_code == 200
    t = post(stack, "/api/thread/create", {"parent_id": m["id"], "room_id": room,
                                           "content": "a reply"}, token=bob.token).json()
    gone = post(stack, "/api/thread/message", {"content": "gone"}, token=owner.token,
                params={"thread_id": t["id"]}).json()
    assert request(stack, "DELETE", "/api/thread/message/delete", token=owner.token,
                   params={"message_id": gone["id"]}).status_code == 200
    page = get(stack, "/api/messages", token=bob.token, params={"room_id": room}).json()
    listed = {x["id"]: x for x in page}
    assert listed[m["id"]]["reactions"] == reactions(stack, bob.token, m["id"]).json()
    assert [r["has_reacted"] for r in listed[m["id"]]["reactions"]] == [True, False]
    assert listed[m["id"]]["thread"] == {"id": t["id"], "message_count": 1}
    assert listed[plain["id"]]["reactions"] == [] and listed[plain["id"]]["thread"] is None
