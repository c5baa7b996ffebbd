-- API tokens: a name and a role per token, the SHA-256 of its secret (never the token), and
-- who asked for each change made through the API.

CREATE TABLE api_tokens (
    id            text        PRIMARY KEY,
    name          text        NOT NULL,
    role          text        NOT NULL,
    secret_sha256 bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    expires_at    timestamptz,
    revoked_at    timestamptz,
    CONSTRAINT api_tokens_role CHECK (role IN ('viewer', 'deployer', 'admin'))
);
-- A name stands for one live token at a time; revoked ones keep theirs for the record.
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;

-- The token's name that asked for a deployment; NULL for pushes and the reconciler.
ALTER TABLE deployments ADD COLUMN requested_by text;
