-- Pull-request previews: one row per service and pull request, open or closed. The row is
-- what teardown is reconciled against: a preview the runtime runs without an open row here
-- is removed. `delivery_id` is the newest webhook applied, so an older event that arrives
-- late (a close after a reopen) changes nothing.

CREATE TABLE previews (
    service       text        NOT NULL REFERENCES services (name),
    number        integer     NOT NULL CHECK (number > 0),
    state         text        NOT NULL DEFAULT 'open',
    branch        text,
    head_sha      text,
    head_url      text,
    fork          boolean     NOT NULL DEFAULT false,
    fetch_ref     text,
    url           text,
    delivery_id   bigint,
    reason        text,
    opened_at     timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    closed_at     timestamptz,
    torn_down_at  timestamptz,
    PRIMARY KEY (service, number),
    CONSTRAINT previews_state CHECK (state IN ('open', 'closed'))
);
CREATE INDEX previews_open ON previews (service, opened_at) WHERE state = 'open';
CREATE INDEX previews_pending_teardown ON previews (closed_at) WHERE state = 'closed' AND torn_down_at IS NULL;
