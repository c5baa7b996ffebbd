-- The queue at full strength: superseded jobs, cancellation requests, per-job
-- deadlines, the maintenance leader's lease, and autovacuum tuned for a hot table.

ALTER TABLE jobs DROP CONSTRAINT jobs_state;
ALTER TABLE jobs ADD CONSTRAINT jobs_state
    CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled', 'superseded'));

-- Which branch a job's deployment tracks: latest-wins is per service and branch.
ALTER TABLE jobs ADD COLUMN branch text;
-- Set when someone (a user, a newer commit, the deadline) asks a running job to stop;
-- the worker holding it is told by NOTIFY on slipway_cancel and by its next heartbeat.
ALTER TABLE jobs ADD COLUMN cancel_requested_at timestamptz;
ALTER TABLE jobs ADD COLUMN cancel_reason text;
-- Why, in words, for the job's deployment ("superseded by deployment 12 (3f2c…)").
ALTER TABLE jobs ADD COLUMN cancel_note text;
ALTER TABLE jobs ADD CONSTRAINT jobs_cancel_reason
    CHECK (cancel_reason IS NULL OR cancel_reason IN ('cancelled', 'superseded', 'timeout'));
-- How long one attempt may run; deadline_at is set when it is claimed.
ALTER TABLE jobs ADD COLUMN timeout_ms bigint NOT NULL DEFAULT 3600000;
ALTER TABLE jobs ADD COLUMN deadline_at timestamptz;
ALTER TABLE jobs ADD COLUMN started_at timestamptz;

CREATE INDEX jobs_running_deadline ON jobs (deadline_at) WHERE state = 'running';
CREATE INDEX jobs_pending_service ON jobs (service, kind) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('succeeded', 'failed', 'dead', 'cancelled', 'superseded');

-- One row per maintenance role; whoever holds an unexpired lease is the leader.
CREATE TABLE leader_leases (
    name        text PRIMARY KEY,
    holder      text        NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

-- Jobs rows are updated several times each and deleted by pruning: vacuum early,
-- and leave room on each page for HOT updates.
ALTER TABLE jobs SET (
    fillfactor = 70,
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 500,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_delay = 1
);
ALTER TABLE deployment_logs SET (autovacuum_vacuum_scale_factor = 0.05);
