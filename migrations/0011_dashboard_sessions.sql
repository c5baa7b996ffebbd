-- Dashboard sign-ins: a session cookie stands for the API token it was opened with (so revoking
-- the token ends the session), with its own CSRF secret. Only a SHA-256 of the cookie is kept.
CREATE TABLE dashboard_sessions (
    id_sha256   bytea       PRIMARY KEY,
    token_id    text        NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    csrf        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);
