"""The authorization matrix of the message routes (messages, search,
mentions, read receipts, edit history, threads, reactions, pins): every
route called by anonymous, an outsider, a member, a moderator, a room
admin, the owner and a global admin (not a member), each with the status it
must get. Objects a call consumes (a message to delete, a pin to remove)
are made fresh for each call.

Rules checked: reading needs a membership or global admin; taking part
(sending, reacting, marking read, posting in threads) needs a membership;
editing is the author's alone; deleting is the author's or a moderator's
and up (or a global admin's); pinning is for moderators and up (or a
global admin)."""

import pytest

from authlib import client_ip  # noqa: F401  (autouse: one client address per test)
from authlib import get, post, put, request
from chatlib import role_room, send

STANDINGS = ("anonymous", "outsider", "member", "moderator", "admin", "owner", "global_admin")
MEMBERS = ("member", "moderator", "admin", "owner")


def expect(members, outsider=403, global_admin=None, **over):
    """{standing: status}: members get `members` (or per-role overrides),
    anonymous 401."""
    out = {"anonymous": 401, "outsider": outsider,
           "global_admin": members if global_admin is None else global_admin}
    out.update({m: members for m in MEMBERS})
    out.update(over)
    return out


class Ctx:
    """The room of every standing and the objects the calls act on."""

    def __init__(self, stack):
        self.stack = stack
        self.rr = role_room(stack)
        self.room = self.rr.id
        self.msg = self.new_message()                    # by the member
        self.thread = self.new_thread()
        self.tmsg = self.thread["messages"][0]           # by the member
        self.pinned = self.new_pin()

    def tok(self, standing):
        return self.rr.token(standing)

    def new_message(self, by="member"):
        return send(self.stack, self.tok(by), self.room, "searchable authz words")

    def new_thread(self):
        r = post(self.stack, "/api/thread/create",
                 {"parent_id": self.new_message()["id"], "room_id": self.room,
                  "content": "thread start"}, token=self.tok("member"))
        assert r.status_code == 200, r.text
        return r.json()

    def new_thread_message(self):
        r = post(self.stack, "/api/thread/message", {"content": "t"}, token=self.tok("member"),
                 params={"thread_id": self.thread["id"]})
        assert r.status_code == 200, r.text
        return r.json()

    def new_pin(self):
        r = post(self.stack, "/api/pinnedmessage/pin", {"message_id": self.new_message()["id"]},
                 token=self.tok("owner"), params={"room_id": self.room})
        assert r.status_code == 200, r.text
        return r.json()


def _react_then_remove(c, t, s):
    m = c.new_message()
    if s in MEMBERS:
        r = post(c.stack, "/api/reaction/add", {"message_id": m["id"], "emoji": "x"}, token=t)
        assert r.status_code == 200, r.text
    return request(c.stack, "DELETE", "/api/reaction/remove", token=t,
                   params={"message_id": m["id"], "emoji": "x"})


# (name, call(ctx, token, standing) -> response, {standing: status})
ROUTES = [
    ("GET /api/messages",
     lambda c, t, s: get(c.stack, "/api/messages", token=t, params={"room_id": c.room}),
     expect(200)),
    ("POST /api/message/send",
     lambda c, t, s: post(c.stack, "/api/message/send", {"room_id": c.room, "content": "hi"},
                          token=t),
     expect(200, global_admin=403)),
    ("PUT /api/message/update",
     lambda c, t, s: put(c.stack, "/api/message/update", {"content": "edited"}, token=t,
                         params={"message_id": c.msg["id"]}),
     expect(403, member=200)),
    ("DELETE /api/message/delete",
     lambda c, t, s: request(c.stack, "DELETE", "/api/message/delete", token=t,
                             params={"message_id": c.new_message()["id"]}),
     expect(200)),
    ("DELETE /api/message/delete (a moderator's message)",
     lambda c, t, s: request(c.stack, "DELETE", "/api/message/delete", token=t,
                             params={"message_id": c.new_message("moderator")["id"]}),
     expect(200, member=403)),
    ("POST /api/message/forward",
     lambda c, t, s: post(c.stack, "/api/message/forward",
                          {"message_id": c.msg["id"], "room_id": c.room}, token=t),
     expect(201, global_admin=403)),
    ("GET /api/messages/search",
     lambda c, t, s: get(c.stack, "/api/messages/search", token=t,
                         params={"q": "searchable authz"}),
     expect(200, outsider=200)),
    ("POST /api/message/read",
     lambda c, t, s: post(c.stack, "/api/message/read", {"message_id": c.msg["id"]}, token=t),
     expect(200, global_admin=403)),
    ("GET /api/message/read/receipts",
     lambda c, t, s: get(c.stack, "/api/message/read/receipts", token=t,
                         params={"message_id": c.msg["id"]}),
     expect(200)),
    ("GET /api/message/read/last",
     lambda c, t, s: get(c.stack, "/api/message/read/last", token=t,
                         params={"room_id": c.room}),
     expect(200, global_admin=403)),
    ("GET /api/message/edit-history",
     lambda c, t, s: get(c.stack, "/api/message/edit-history", token=t,
                         params={"message_id": c.msg["id"]}),
     expect(200)),
    ("GET /api/mentions",
     lambda c, t, s: get(c.stack, "/api/mentions", token=t),
     expect(200, outsider=200)),
    ("GET /api/mentions/message",
     lambda c, t, s: get(c.stack, "/api/mentions/message", token=t,
                         params={"message_id": c.msg["id"]}),
     expect(200)),
    ("POST /api/thread/create",
     lambda c, t, s: post(c.stack, "/api/thread/create",
                          {"parent_id": c.new_message()["id"], "room_id": c.room}, token=t),
     expect(200, global_admin=403)),
    ("GET /api/thread",
     lambda c, t, s: get(c.stack, "/api/thread", token=t, params={"thread_id": c.thread["id"]}),
     expect(200)),
    ("GET /api/threads",
     lambda c, t, s: get(c.stack, "/api/threads", token=t,
                         params={"message_id": c.thread["parent_id"]}),
     expect(200)),
    ("POST /api/thread/message",
     lambda c, t, s: post(c.stack, "/api/thread/message", {"content": "reply"}, token=t,
                          params={"thread_id": c.thread["id"]}),
     expect(200, global_admin=403)),
    ("PUT /api/thread/message/update",
     lambda c, t, s: put(c.stack, "/api/thread/message/update", {"content": "e"}, token=t,
                         params={"message_id": c.tmsg["id"]}),
     expect(403, member=200)),
    ("DELETE /api/thread/message/delete",
     lambda c, t, s: request(c.stack, "DELETE", "/api/thread/message/delete", token=t,
                             params={"message_id": c.new_thread_message()["id"]}),
     expect(200)),
    ("POST /api/reaction/add",
     lambda c, t, s: post(c.stack, "/api/reaction/add",
                          {"message_id": c.new_message()["id"], "emoji": "y"}, token=t),
     expect(200, global_admin=403)),
    ("DELETE /api/reaction/remove", _react_then_remove, expect(200, global_admin=403)),
    ("GET /api/reactions",
     lambda c, t, s: get(c.stack, "/api/reactions", token=t, params={"message_id": c.msg["id"]}),
     expect(200)),
    ("GET /api/pinnedmessages",
     lambda c, t, s: get(c.stack, "/api/pinnedmessages", token=t, params={"room_id": c.room}),
     expect(200)),
    ("POST /api/pinnedmessage/pin",
     lambda c, t, s: post(c.stack, "/api/pinnedmessage/pin",
                          {"message_id": c.new_message()["id"]}, token=t,
                          params={"room_id": c.room}),
     expect(200, member=403)),
    ("DELETE /api/pinnedmessage/unpin",
     lambda c, t, s: request(c.stack, "DELETE", "/api/pinnedmessage/unpin", token=t,
                             params={"pin_id": c.new_pin()["id"]}),
     expect(200, member=403)),
]


@pytest.fixture(scope="module")
def ctx(stack):
    return Ctx(stack)


@pytest.mark.parametrize("name,call,want", ROUTES, ids=[r[0] for r in ROUTES])
def test_matrix(ctx, name, call, want):
    got = {}
    for s in STANDINGS:
        r = call(ctx, ctx.tok(s), s)
        got[s] = r.status_code
        if r.status_code >= 400:
            body = r.json()
            assert set(body) >= {"error", "message"}, (s, body)
            if r.status_code == 403 and s == "outsider":
                assert body["error"] == "not_member", (s, body)
    assert got == want, name


def test_outsider_search_sees_nothing_of_the_room(ctx):
    r = get(ctx.stack, "/api/messages/search", token=ctx.tok("outsider"),
            params={"q": "searchable authz"})
    assert r.status_code == 200 and all(h["room_id"] != ctx.room for h in r.json()), r.text
    r = get(ctx.stack, "/api/messages/search", token=ctx.tok("member"),
            params={"q": "searchable authz"})
    assert any(h["room_id"] == ctx.room for h in r.json()), r.text


def test_private_room_is_not_found_for_outsiders(stack):
    rr = role_room(stack, is_private=True)
    m = send(stack, rr.token("member"), rr.id, "private")
    out = rr.token("outsider")
    for path, params in (("/api/messages", {"room_id": rr.id}),
                         ("/api/pinnedmessages", {"room_id": rr.id}),
                         ("/api/reactions", {"message_id": m["id"]}),
                         ("/api/message/edit-history", {"message_id": m["id"]}),
                         ("/api/message/read/receipts", {"message_id": m["id"]}),
                         ("/api/threads", {"message_id": m["id"]})):
        r = get(stack, path, token=out, params=params)
        assert r.status_code == 404 and r.json()["error"] == "not_found", (path, r.text)
        assert get(stack, path, token=rr.token("global_admin"), params=params).status_code == 200
    r = post(stack, "/api/message/send", {"room_id": rr.id, "content": "x"}, token=out)
    assert r.status_code == 404, r.text


@pytest.mark.parametrize("method,path", [("POST", "/api/messages"),
                                         ("GET", "/api/message/send"),
                                         ("GET", "/api/reaction/add"),
                                         ("POST", "/api/pinnedmessage/unpin")])
def test_other_methods_405(stack, method, path):
    r = request(stack, method, path, token=stack.token())
    assert r.status_code == 405, r.text
    assert r.headers.get("Allow"), r.headers
