"""Helpers of the chatd tests (test_chat_*.py): users, rooms, membership and
roles made through gatewayd, the RoomResponse shape, and the events chatd
wrote (chat.events) read back from the database.

Two kinds of users:
  * token_user(stack): a random id with a token signed by the stack's key.
    Cheap (no registration, no password hash), but unknown to authd, so it
    has no username in auth.directory (member lists show "" for it).
  * real_user(stack): a registered account (authlib.new_user), with a
    username and display name in auth.directory.
Both are a ChatUser with .id, .token and .username (None for token users).
A global admin is any user whose token has adm = true: as_admin(stack, u).

Every room is new (a unique name per call), so tests share the session's
stack without seeing each other. Import `client_ip` from authlib in each
test module (autouse) so that each test counts apart at gatewayd's per-IP
limits."""

import uuid

from authlib import assert_error, get, new_user, pg_rows, post, put, request  # noqa: F401
from stacklib import RFC3339_RE, UUID4_RE

ROOM_KEYS = {"id", "name", "description", "is_private", "max_users", "created_by",
             "created_at", "user_count"}
ROOM_OPTIONAL_KEYS = {"category_id", "role"}
MEMBER_KEYS = {"user_id", "username", "display_name", "avatar_url", "role", "joined_at"}
SETTINGS_KEYS = {"room_id", "allow_message_edits", "allow_reactions", "require_approval",
                 "max_users", "auto_delete_days", "slow_mode_seconds", "allow_voice_chat",
                 "allow_file_uploads", "updated_at"}
ROLES = ("owner", "admin", "moderator", "member")
NIL_UUID = "00000000-0000-0000-0000-000000000000"


def uniq_name(prefix="room"):
    """A fresh room or category name (well under 100 characters)."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


class ChatUser:
    """A user id, a bearer token for it, and its username (None when the
    user exists only as a token)."""

    def __init__(self, id, token, username=None):
        self.id, self.token, self.username = id, token, username

    def __repr__(self):
        return f"ChatUser({self.username or 'token'}:{self.id[:8]})"


def token_user(stack, admin=False):
    uid = str(uuid.uuid4())
    return ChatUser(uid, stack.token(sub=uid, adm=admin))


def real_user(stack, prefix="c", admin=False, **kw):
    u = new_user(stack, prefix, **kw)
    token = stack.token(sub=u.id, adm=True) if admin else u.access
    return ChatUser(u.id, token, u.username)


def as_admin(stack, user):
    """The same user with a global-admin token."""
    return ChatUser(user.id, stack.token(sub=user.id, adm=True), user.username)


# ------------------------------------------------------------ rooms

def create_room(stack, token, body):
    """POST /api/room/create as it is (body: dict, str or bytes)."""
    return post(stack, "/api/room/create", body, token=token)


def new_room(stack, owner_token, **fields):
    """Creates a room (name unique unless given) and returns its
    RoomResponse, checked."""
    body = {"name": uniq_name()}
    body.update(fields)
    r = create_room(stack, owner_token, body)
    assert r.status_code == 200, f"room create: {r.status_code} {r.text[:300]}"
    room = assert_room(r.json())
    assert room["name"] == body["name"], room
    assert room["user_count"] == 1 and room.get("role") == "owner", room
    return room


def get_room(stack, token, room_id):
    return get(stack, "/api/room", token=token, params={"id": room_id})


def assert_room(room):
    """The RoomResponse shape (§2.2) plus the caller's optional "role"."""
    keys = set(room)
    assert ROOM_KEYS <= keys <= ROOM_KEYS | ROOM_OPTIONAL_KEYS, f"room keys: {sorted(keys)}"
    assert UUID4_RE.match(room["id"]) and UUID4_RE.match(room["created_by"]), room
    assert RFC3339_RE.match(room["created_at"]), room
    assert isinstance(room["is_private"], bool), room
    for k in ("max_users", "user_count"):
        assert isinstance(room[k], int) and not isinstance(room[k], bool), (k, room)
    assert "password" not in room and "password_hash" not in room
    if "category_id" in room:
        assert UUID4_RE.match(room["category_id"]), room
    if "role" in room:
        assert room["role"] in ROLES, room
    return room


# ------------------------------------------------------------ membership

def join(stack, token, room_id, password=None, expect=200):
    """POST /api/room/join; checks the status when expect is not None and,
    for 200, the body. Returns the response."""
    body = {"room_id": room_id}
    if password is not None:
        body["password"] = password
    r = post(stack, "/api/room/join", body, token=token)
    if expect is not None:
        assert r.status_code == expect, f"join: {r.status_code} {r.text[:300]}"
        if expect == 200:
            assert r.json() == {"status": "joined"}, r.text
    return r


def leave(stack, token, room_id, expect=200):
    r = post(stack, "/api/room/leave", {"room_id": room_id}, token=token)
    if expect is not None:
        assert r.status_code == expect, f"leave: {r.status_code} {r.text[:300]}"
        if expect == 200:
            assert r.json() == {"status": "left"}, r.text
    return r


def set_role(stack, token, room_id, user_id, role, expect=200):
    """POST /api/room/member/role."""
    r = post(stack, "/api/room/member/role",
             {"room_id": room_id, "user_id": user_id, "role": role}, token=token)
    if expect is not None:
        assert r.status_code == expect, f"set_role: {r.status_code} {r.text[:300]}"
    return r


def kick(stack, token, room_id, user_id, expect=200):
    """DELETE /api/room/member?room_id=&user_id=."""
    r = request(stack, "DELETE", "/api/room/member", token=token,
                params={"room_id": room_id, "user_id": user_id})
    if expect is not None:
        assert r.status_code == expect, f"kick: {r.status_code} {r.text[:300]}"
    return r


def members(stack, token, room_id):
    """GET /api/room/members: {user_id: member} (asserts 200)."""
    r = get(stack, "/api/room/members", token=token, params={"room_id": room_id})
    assert r.status_code == 200, f"members: {r.status_code} {r.text[:300]}"
    out = {}
    for m in r.json():
        assert set(m) == MEMBER_KEYS, m
        out[m["user_id"]] = m
    return out


class RoleRoom:
    """A room with one user of every standing: owner, admin, moderator,
    member, an outsider (no membership), a global admin (not a member) and
    anonymous (token None). users[standing] is a ChatUser."""

    STANDINGS = ("owner", "admin", "moderator", "member", "outsider", "global_admin")

    def __init__(self, stack, real=False, **room_fields):
        mk = (lambda: real_user(stack)) if real else (lambda: token_user(stack))
        self.users = {s: mk() for s in ("owner", "admin", "moderator", "member", "outsider")}
        self.users["global_admin"] = as_admin(stack, mk())
        self.room = new_room(stack, self.users["owner"].token, **room_fields)
        self.id = self.room["id"]
        pw = room_fields.get("password")
        for role in ("admin", "moderator", "member"):
            join(stack, self.users[role].token, self.id, password=pw)
        for role in ("admin", "moderator"):
            set_role(stack, self.users["owner"].token, self.id, self.users[role].id, role)

    def __getitem__(self, standing):
        return self.users[standing]

    def token(self, standing):
        """The bearer token of a standing; None for "anonymous"."""
        return None if standing == "anonymous" else self.users[standing].token


def role_room(stack, real=False, **room_fields):
    return RoleRoom(stack, real=real, **room_fields)


# ------------------------------------------------------------ database

def member_rows(stack, room_id):
    """{user_id: role} from chat.members."""
    return {str(u): role for u, role in pg_rows(
        stack, "SELECT user_id, role FROM chat.members WHERE room_id = %s", (room_id,))}


def room_events(stack, room_id, type=None):
    """The envelopes chat.events holds for the room, in seq order
    (optionally only those of one type)."""
    rows = pg_rows(stack, "SELECT envelope FROM chat.events WHERE room_id = %s ORDER BY seq",
                   (room_id,))
    envs = [e for (e,) in rows]
    return [e for e in envs if type is None or e["type"] == type]


def last_event(stack, room_id, type=None):
    envs = room_events(stack, room_id, type)
    assert envs, f"no {type or ''} event in room {room_id}"
    return envs[-1]


# ------------------------------------------------------------ messages
# (added by the messages work: test_chat_messages*.py, test_chat_threads.py,
# test_chat_reactions_pins.py)

MESSAGE_KEYS = {"id", "room_id", "user_id", "username", "type", "content", "is_edited",
                "is_deleted", "created_at", "updated_at", "seq"}


def assert_message(m, forwarded=False, listed=False):
    """The MessageResponse shape (§2.3) plus seq; forwarded_from only on
    forwarded messages; reactions and thread in a history page (listed)."""
    keys = MESSAGE_KEYS | ({"forwarded_from"} if forwarded else set()) | \
        ({"reactions", "thread"} if listed else set())
    assert set(m) == keys, f"message keys: {sorted(m)}"
    assert UUID4_RE.match(m["id"]) and UUID4_RE.match(m["room_id"]), m
    assert RFC3339_RE.match(m["created_at"]) and RFC3339_RE.match(m["updated_at"]), m
    assert m["type"] in ("text", "system"), m
    assert isinstance(m["seq"], int) and not isinstance(m["seq"], bool) and m["seq"] > 0, m
    for k in ("is_edited", "is_deleted"):
        assert isinstance(m[k], bool), (k, m)
    return m


def send_raw(stack, token, body):
    return post(stack, "/api/message/send", body, token=token)


def send(stack, token, room_id, content="hello", type=None):
    """POST /api/message/send, asserting 200; returns the message."""
    body = {"room_id": room_id, "content": content}
    if type is not None:
        body["type"] = type
    r = send_raw(stack, token, body)
    assert r.status_code == 200, f"send: {r.status_code} {r.text[:300]}"
    return assert_message(r.json())


def history(stack, token, room_id, **params):
    """GET /api/messages (params: limit, before, after) as it is."""
    return get(stack, "/api/messages", token=token, params={"room_id": room_id, **params})


def room_with(stack, owner, *users, **room_fields):
    """A new room of owner (a ChatUser) that users have joined; its id."""
    room = new_room(stack, owner.token, **room_fields)
    for u in users:
        join(stack, u.token, room["id"], password=room_fields.get("password"))
    return room["id"]
