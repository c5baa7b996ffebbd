-- Slipway schema, version 1: webhook deliveries, services, deployments with their
-- events and log lines, and the job queue. Applied once, in one transaction, by
-- `slipway migrate` or at start-up; the runner records it in schema_migrations.

-- Every webhook that passed its signature check, kept for dedupe and for
-- "why didn't my push deploy?". (provider, delivery_id) is the provider's own id.
CREATE TABLE webhook_deliveries (
    id            bigserial PRIMARY KEY,
    provider      text        NOT NULL,
    delivery_id   text        NOT NULL,
    event         text        NOT NULL,
    kind          text        NOT NULL,
    repository    text,
    ref           text,
    after_sha     text,
    outcome       text        NOT NULL,
    detail        jsonb       NOT NULL DEFAULT '{}',
    payload       jsonb       NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, delivery_id)
);
CREATE INDEX webhook_deliveries_received_at ON webhook_deliveries (received_at);

-- One row per service named by a policy file; the policy in force is a snapshot.
CREATE TABLE services (
    name                text PRIMARY KEY,
    repo_url            text        NOT NULL,
    repo_key            text        NOT NULL,
    branch              text        NOT NULL,
    policy              jsonb       NOT NULL,
    policy_file         text        NOT NULL,
    live_deployment_id  bigint,
    removed_at          timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX services_repo ON services (repo_key, branch);

CREATE TABLE deployments (
    id            bigserial PRIMARY KEY,
    service       text        NOT NULL REFERENCES services (name),
    trigger       text        NOT NULL,          -- push | manual | rollback | image
    state         text        NOT NULL DEFAULT 'queued',
    sha           text,
    branch        text,
    image         text,                          -- the full reference rolled out (repo:tag or repo@digest)
    digest        text,
    policy        jsonb       NOT NULL,          -- the policy this deployment was made from
    delivery_id   bigint REFERENCES webhook_deliveries (id),
    rollback_of   bigint REFERENCES deployments (id),
    reason        text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    live_at       timestamptz,
    finished_at   timestamptz,
    CONSTRAINT deployments_state CHECK (state IN (
        'queued', 'building', 'pushing', 'rolling_out', 'watching',
        'succeeded', 'failed', 'rolled_back', 'cancelled', 'superseded'))
);
CREATE INDEX deployments_service ON deployments (service, id DESC);

ALTER TABLE services
    ADD CONSTRAINT services_live_deployment
    FOREIGN KEY (live_deployment_id) REFERENCES deployments (id);

-- What happened to a deployment, step by step (state changes, crashes, rollbacks).
-- `key` makes an observation idempotent: a crash seen twice is recorded once.
CREATE TABLE deployment_events (
    id             bigserial PRIMARY KEY,
    deployment_id  bigint      NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    kind           text        NOT NULL,
    key            text,
    message        text        NOT NULL,
    detail         jsonb       NOT NULL DEFAULT '{}',
    at             timestamptz NOT NULL DEFAULT now(),
    UNIQUE (deployment_id, kind, key)
);

-- Build output and other log lines of a deployment, in order.
CREATE TABLE deployment_logs (
    id             bigserial PRIMARY KEY,
    deployment_id  bigint      NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    stream         text        NOT NULL,
    line           text        NOT NULL,
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deployment_logs_deployment ON deployment_logs (deployment_id, id);

-- The job queue. A worker claims with FOR UPDATE SKIP LOCKED and holds a lease
-- (lease_token, lease_expires_at) that it extends while it works; a job whose
-- lease expired is put back to 'queued' and claimed again. Completion is fenced
-- by the token, so a worker that lost its lease cannot record a result.
CREATE TABLE jobs (
    id                bigserial PRIMARY KEY,
    kind              text        NOT NULL,
    payload           jsonb       NOT NULL DEFAULT '{}',
    state             text        NOT NULL DEFAULT 'queued',
    priority          integer     NOT NULL DEFAULT 0,
    run_at            timestamptz NOT NULL DEFAULT now(),
    attempts          integer     NOT NULL DEFAULT 0,
    max_attempts      integer     NOT NULL DEFAULT 5,
    service           text,
    deployment_id     bigint REFERENCES deployments (id),
    dedupe_key        text,
    lease_token       uuid,
    lease_owner       text,
    lease_expires_at  timestamptz,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    CONSTRAINT jobs_state CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled')),
    CONSTRAINT jobs_lease CHECK (state <> 'running' OR (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL))
);
CREATE INDEX jobs_ready ON jobs (priority DESC, run_at, id) WHERE state = 'queued';
CREATE INDEX jobs_running_lease ON jobs (lease_expires_at) WHERE state = 'running';
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running');
CREATE INDEX jobs_deployment ON jobs (deployment_id);
