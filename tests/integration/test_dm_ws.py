"""Direct messages in real time (issue: DMs delivered on /api/ws): every
write of a conversation reaches both parties on every socket they have
open, without subscribing, numbered by a per-conversation seq; a third
user receives nothing and cannot resume or subscribe to it; resume after a
disconnect returns exactly the missed events; a gap (an event written but
never published) is filled in order."""

import asyncio
import json

from authlib import client_ip, pg_rows, post, put, request  # noqa: F401
from chatlib import real_user
from test_chat_ws import Sock, run

DM_TYPES = ("dm-message", "dm-message-updated", "dm-message-deleted", "dm-reaction-added",
            "dm-reaction-removed", "dm-message-read", "dm-messages-read-all")


def dm(stack, sender, receiver, text):
    r = post(stack, "/api/dm/send", {"receiver_id": receiver.id, "content": text},
             token=sender.token)
    assert r.status_code == 200, r.text
    return r.json()


def is_dm(f):
    return f["type"] in DM_TYPES


async def dm_frames(sock, n, timeout=5):
    """The next n DM events on sock (other frames are set aside)."""
    got = []
    while len(got) < n:
        f = await sock.next(timeout)
        if is_dm(f):
            got.append(f)
    return got


def emit_unpublished(stack, conv, user_id, note):
    """An event written to the conversation's log but never published (as
    when chatd dies between commit and publish)."""
    pg_rows(stack, "SELECT chat.dm_emit(%s, 'dm-note', %s, %s::jsonb)",
            (conv, user_id, json.dumps({"note": note})))


def test_every_write_reaches_both_parties_on_every_socket(stack):
    a, b = real_user(stack), real_user(stack)

    async def go():
        socks = [await Sock.open(stack, u) for u in (a, a, b, b)]
        first = await asyncio.to_thread(dm, stack, a, b, "hello <b>there</b>\nline two")
        conv, mid = first["conversation_id"], first["id"]
        for s in socks:
            [f] = await dm_frames(s, 1)
            assert f["type"] == "dm-message" and f["conversation_id"] == conv, f
            assert f["seq"] == 1 and f["user_id"] == a.id and f["target_user_id"] == b.id
            assert f["payload"] == first and "to" not in f
            assert set(f) == {"type", "conversation_id", "user_id", "target_user_id", "payload",
                              "timestamp", "seq"}

        def writes():
            r = put(stack, "/api/dm/update", {"message_id": mid, "content": "edited"},
                    token=a.token)
            assert r.status_code == 200, r.text
            r = post(stack, "/api/dm/reaction/add", {"message_id": mid, "emoji": "\U0001F600"},
                     token=b.token)
            assert r.status_code == 200, r.text
            r = request(stack, "DELETE", "/api/dm/reaction/remove", token=b.token,
                        params={"message_id": mid, "emoji": "\U0001F600"})
            assert r.status_code == 200, r.text
            r = post(stack, "/api/dm/read", {"message_id": mid}, token=b.token)
            assert r.status_code == 200, r.text
            second = dm(stack, a, b, "second")
            r = post(stack, "/api/dm/read/all", None, token=b.token, params={"peer_id": a.id})
            assert r.json()["marked_count"] == 1, r.text
            r = request(stack, "DELETE", "/api/dm/delete", token=a.token,
                        json={"message_id": second["id"]})
            assert r.status_code == 200, r.text
        await asyncio.to_thread(writes)
        want = ["dm-message-updated", "dm-reaction-added", "dm-reaction-removed",
                "dm-message-read", "dm-message", "dm-messages-read-all", "dm-message-deleted"]
        for s in socks:
            frames = await dm_frames(s, len(want))
            assert [f["type"] for f in frames] == want
            assert [f["seq"] for f in frames] == list(range(2, 2 + len(want)))
            assert frames[0]["payload"]["content"] == "edited"
            assert frames[1]["user_id"] == b.id and frames[1]["target_user_id"] == a.id
            assert frames[-1]["payload"]["message_id"] == frames[4]["payload"]["id"]
            assert "content" not in frames[-1]["payload"]
        for s in socks:
            await s.close()
    run(go())


def test_a_third_user_gets_nothing_and_cannot_join(stack):
    a, b, eve = real_user(stack), real_user(stack), real_user(stack)

    async def go():
        se = await Sock.open(stack, eve)
        sb = await Sock.open(stack, b)
        conv = (await asyncio.to_thread(dm, stack, a, b, "private"))["conversation_id"]
        await dm_frames(sb, 1)
        assert await se.silent(0.7)
        for msg in ({"type": "resume", "payload": {"seq": 0}}, {"type": "subscribe"}):
            await se.send(conversation_id=conv, **msg)
            err = await se.expect("error")
            assert err["conversation_id"] == conv and err["payload"]["code"] == "not_member", err
        await se.send(type="subscribe", conversation_id="00000000-0000-4000-8000-000000000000")
        assert (await se.expect("error"))["payload"]["code"] == "not_found"
        await se.send(type="resume", conversation_id="not-a-uuid", payload={"seq": 0})
        assert (await se.expect("error"))["payload"]["code"] == "invalid_room_id"
        await asyncio.to_thread(dm, stack, b, a, "still private")
        await dm_frames(sb, 1)
        assert await se.silent(0.7)
        await se.close()
        await sb.close()
    run(go())


def test_resume_after_disconnect_returns_exactly_the_missed_events(stack):
    a, b = real_user(stack), real_user(stack)

    async def go():
        sb = await Sock.open(stack, b)
        first = await asyncio.to_thread(dm, stack, a, b, "one")
        conv = first["conversation_id"]
        [f] = await dm_frames(sb, 1)
        last = f["seq"]
        await sb.close()

        def missed():
            dm(stack, a, b, "two")
            dm(stack, b, a, "three")
            put(stack, "/api/dm/update", {"message_id": first["id"], "content": "one!"},
                token=a.token)
        await asyncio.to_thread(missed)

        sb = await Sock.open(stack, b)
        await sb.send(type="resume", conversation_id=conv, payload={"seq": last})
        frames = await sb.until(lambda f: f["type"] in ("resumed", "error"))
        assert frames[-1] == {"type": "resumed", "conversation_id": conv,
                              "payload": {"seq": last + 3}}, frames[-1]
        events = [f for f in frames if is_dm(f)]
        assert [f["seq"] for f in events] == [last + 1, last + 2, last + 3]
        assert [f["payload"].get("content") for f in events] == ["two", "three", "one!"]
        # live again, no duplicate
        await asyncio.to_thread(dm, stack, a, b, "four")
        [f] = await dm_frames(sb, 1)
        assert f["seq"] == last + 4 and f["payload"]["content"] == "four"
        await sb.close()
    run(go())


def test_a_gap_is_filled_in_order(stack):
    a, b = real_user(stack), real_user(stack)

    async def go():
        sb = await Sock.open(stack, b)
        conv = (await asyncio.to_thread(dm, stack, a, b, "before"))["conversation_id"]
        await dm_frames(sb, 1)
        await asyncio.to_thread(emit_unpublished, stack, conv, a.id, "lost")
        await asyncio.to_thread(dm, stack, a, b, "after")
        frames = []
        while len(frames) < 2:
            f = await sb.next()
            if f["type"] in DM_TYPES + ("dm-note",):
                frames.append(f)
        assert [(f["type"], f["seq"]) for f in frames] == [("dm-note", 2), ("dm-message", 3)]
        assert frames[0]["payload"] == {"note": "lost"}
        await sb.close()
    run(go())


def test_subscribe_tells_the_current_seq(stack):
    a, b = real_user(stack), real_user(stack)
    conv = dm(stack, a, b, "x")["conversation_id"]
    dm(stack, b, a, "y")

    async def go():
        sa = await Sock.open(stack, a)
        await sa.send(type="subscribe", conversation_id=conv)
        f = await sa.expect("subscribed", conversation_id=conv)
        assert f["payload"]["seq"] == 2
        await sa.send(type="unsubscribe", conversation_id=conv)
        assert (await sa.expect("unsubscribed"))["conversation_id"] == conv
        await sa.close()
    run(go())


def test_blocked_pair_sends_nothing(stack):
    a, b = real_user(stack), real_user(stack)

    async def go():
        sb = await Sock.open(stack, b)
        await asyncio.to_thread(dm, stack, a, b, "hi")
        await dm_frames(sb, 1)
        await asyncio.to_thread(pg_rows, stack,
                                "INSERT INTO chat.blocks (blocker_id, blocked_id) VALUES (%s, %s)",
                                (b.id, a.id))
        r = await asyncio.to_thread(post, stack, "/api/dm/send",
                                    {"receiver_id": b.id, "content": "let me in"}, token=a.token)
        assert r.status_code == 403 and r.json()["error"] == "blocked", r.text
        assert await sb.silent(0.7)
        await sb.close()
    run(go())


def test_group_events_reach_every_member_and_a_removed_one_stops(stack):
    owner, b, c = real_user(stack), real_user(stack), real_user(stack)

    async def go():
        socks = {u.id: await Sock.open(stack, u) for u in (owner, b, c)}

        def create():
            r = post(stack, "/api/group-dm/create", {"name": "trio", "member_ids": [b.id, c.id]},
                     token=owner.token)
            assert r.status_code == 201, r.text
            return r.json()
        group = await asyncio.to_thread(create)
        for s in socks.values():
            f = await s.expect("group-dm-created")
            assert f["conversation_id"] == group["id"] and f["seq"] == 1

        def send_then_remove():
            r = post(stack, "/api/group-dm/message/send",
                     {"group_dm_id": group["id"], "content": "hello all"}, token=b.token)
            assert r.status_code == 201, r.text
            r = post(stack, "/api/group-dm/member/remove",
                     {"group_dm_id": group["id"], "user_id": c.id}, token=owner.token)
            assert r.status_code == 200, r.text
            r = post(stack, "/api/group-dm/message/send",
                     {"group_dm_id": group["id"], "content": "without c"}, token=owner.token)
            assert r.status_code == 201, r.text
        await asyncio.to_thread(send_then_remove)
        for u in (owner, b):
            frames = await dm_frames(socks[u.id], 2)
            assert [f["type"] for f in frames] == ["dm-message", "dm-message"]
            assert [f["payload"]["content"] for f in frames] == ["hello all", "without c"]
        sc = socks[c.id]
        f = await sc.expect("dm-message")
        assert f["payload"]["content"] == "hello all"
        gone = await sc.expect("group-dm-member-removed")
        assert gone["payload"]["user_id"] == c.id and gone["seq"] == 3
        assert await sc.silent(0.7)
        await sc.send(type="resume", conversation_id=group["id"], payload={"seq": 0})
        assert (await sc.expect("error"))["payload"]["code"] == "not_member"
        for s in socks.values():
            await s.close()
    run(go())


def test_a_resume_never_brings_back_a_deleted_text(stack):
    """Neither chatd's event log nor gatewayd's ring gives the text of a
    deleted message back: the event that carried it comes back emptied."""
    a, b = real_user(stack), real_user(stack)

    async def go():
        sa = await Sock.open(stack, a)      # keeps the stream (and its ring) here
        secret = await asyncio.to_thread(dm, stack, a, b, "secret text")
        await asyncio.to_thread(put, stack, "/api/dm/update",
                                {"message_id": secret["id"], "content": "secret, edited"},
                                token=a.token)
        await asyncio.to_thread(request, stack, "DELETE", "/api/dm/delete", token=a.token,
                                json={"message_id": secret["id"]})
        await dm_frames(sa, 3)
        for _ in range(2):    # once from the ring, once more after it moved on
            sb = await Sock.open(stack, b)
            await sb.send(type="resume", conversation_id=secret["conversation_id"],
                          payload={"seq": 0})
            frames = await sb.until(lambda f: f["type"] in ("resumed", "error"))
            events = [f for f in frames if is_dm(f)]
            assert [f["type"] for f in events][:3] == ["dm-message", "dm-message-updated",
                                                       "dm-message-deleted"]
            for f in events[:2]:
                assert f["payload"]["content"] == "" and f["payload"]["is_deleted"] is True, f
            assert "secret" not in json.dumps(frames)
            await sb.close()
            await asyncio.to_thread(dm, stack, b, a, "moving on")
            await dm_frames(sa, 1)
        rows = pg_rows(stack, "SELECT envelope::text FROM chat.conversation_events"
                       " WHERE conversation_id = %s", (secret["conversation_id"],))
        assert rows and not any("secret" in r[0] for r in rows)
        await sa.close()
    run(go())
