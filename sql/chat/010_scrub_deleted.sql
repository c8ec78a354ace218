-- A deleted message's text is gone for good: the message row is emptied by
-- the delete itself, and this trigger empties the events that carried the
-- text (the message's creation and its edits), so that a client resuming
-- from before the delete never gets it back. gatewayd drops such frames
-- from its rings when it sees the delete (gatewayd/hub.c).

CREATE FUNCTION chat.scrub_payload(p_env jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_set(jsonb_set(p_env, '{payload,content}', '""'),
        '{payload,is_deleted}', 'true');
$$;

-- After a message of chat.messages, chat.thread_messages or
-- chat.dm_messages is deleted: the events of its room or conversation
-- whose type is one of the trigger's arguments and whose payload.id is the
-- message. Only events written since the message can carry it: from its
-- own seq on (a thread message has no room seq: from its time on).
CREATE FUNCTION chat.scrub_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_id text := NEW.id::text;
BEGIN
    IF TG_TABLE_NAME = 'dm_messages' THEN
        UPDATE chat.conversation_events SET envelope = chat.scrub_payload(envelope)
        WHERE conversation_id = NEW.conversation_id AND seq >= NEW.seq
          AND envelope ->> 'type' = ANY (TG_ARGV) AND envelope -> 'payload' ->> 'id' = v_id;
    ELSIF TG_TABLE_NAME = 'messages' THEN
        UPDATE chat.events SET envelope = chat.scrub_payload(envelope)
        WHERE room_id = NEW.room_id AND seq >= NEW.seq
          AND envelope ->> 'type' = ANY (TG_ARGV) AND envelope -> 'payload' ->> 'id' = v_id;
    ELSE
        UPDATE chat.events SET envelope = chat.scrub_payload(envelope)
        WHERE room_id = (SELECT room_id FROM chat.threads WHERE id = NEW.thread_id)
          AND created_at >= NEW.created_at
          AND envelope ->> 'type' = ANY (TG_ARGV) AND envelope -> 'payload' ->> 'id' = v_id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER messages_scrub AFTER UPDATE OF is_deleted ON chat.messages
    FOR EACH ROW WHEN (NEW.is_deleted AND NOT OLD.is_deleted)
    EXECUTE FUNCTION chat.scrub_deleted('chat-message', 'message-updated');

CREATE TRIGGER thread_messages_scrub AFTER UPDATE OF is_deleted ON chat.thread_messages
    FOR EACH ROW WHEN (NEW.is_deleted AND NOT OLD.is_deleted)
    EXECUTE FUNCTION chat.scrub_deleted('thread-message', 'thread-message-updated');

CREATE TRIGGER dm_messages_scrub AFTER UPDATE OF is_deleted ON chat.dm_messages
    FOR EACH ROW WHEN (NEW.is_deleted AND NOT OLD.is_deleted)
    EXECUTE FUNCTION chat.scrub_deleted('dm-message', 'dm-message-updated');
