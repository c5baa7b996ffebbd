-- Every version of the policy set Slipway has seen: applied ones, and rejected ones with
-- their errors (the last applied set stays in force when a change is rejected).
CREATE TABLE policy_sets (
    id          bigserial PRIMARY KEY,
    source      text        NOT NULL,              -- SLIPWAY_POLICIES as written
    revision    text        NOT NULL,              -- the commit, or a digest of the folder's files
    state       text        NOT NULL CONSTRAINT policy_sets_state CHECK (state IN ('applied', 'rejected')),
    errors      jsonb       NOT NULL DEFAULT '[]', -- ["file:line:col: message", …]
    services    text[]      NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX policy_sets_source ON policy_sets (source, id DESC);

-- The planner reads each service's newest deployments.
CREATE INDEX deployments_service_id ON deployments (service, id DESC);
