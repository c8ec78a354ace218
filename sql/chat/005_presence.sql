-- Presence a user chose and when they were last seen. Whether a user holds
-- WebSocket connections, and who is typing, is ephemeral state that lives
-- in Redis (see docs/presence.md); this row is what survives a restart.
--
-- status is the user's own choice: online (automatic), away, busy, dnd,
-- invisible or offline. What other users see is that choice while the user
-- holds at least one socket, and "offline" otherwise; invisible and offline
-- always show as offline.
CREATE TABLE chat.presence (
    user_id uuid PRIMARY KEY,                   -- auth.directory id (other schema)
    status text NOT NULL DEFAULT 'online'
        CHECK (status IN ('online', 'away', 'busy', 'dnd', 'invisible', 'offline')),
    room_id uuid REFERENCES chat.rooms (id) ON DELETE SET NULL,  -- "where I am"
    last_seen timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
