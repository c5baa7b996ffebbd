-- Log lines and events of old deployments are pruned (SLIPWAY_LOG_RETENTION); the deployment
-- row stays, marked, so the prune never looks at it again.
ALTER TABLE deployments ADD COLUMN logs_pruned_at timestamptz;
CREATE INDEX deployments_log_retention ON deployments (finished_at) WHERE logs_pruned_at IS NULL AND finished_at IS NOT NULL;
