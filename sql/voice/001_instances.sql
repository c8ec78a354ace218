-- Every start of voiced records its instance id, so operators can see restarts
-- and the health route can prove the database path works end to end.
CREATE TABLE voice.instances (
    id uuid PRIMARY KEY,
    daemon text NOT NULL,
    version text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now()
);
