-- The user directory other daemons may read (chatd: names on messages,
-- mentions, member lists; voiced: names in voice channels). Never the
-- email, the password hash or anything about sessions. Readers list it in
-- their svc_def.requires, so they wait for this migration at first start.
CREATE VIEW auth.directory AS
    SELECT id, username, display_name, avatar_url, is_admin, created_at
    FROM auth.users;
