-- The stage histograms are observed from the database: once a deployment is live (its stages
-- up to live, push → live), and once it ends (the rest, its outcome). Each row is claimed
-- once (FOR UPDATE SKIP LOCKED), by whichever web replica looks first.
ALTER TABLE deployments ADD COLUMN observed_live_at timestamptz, ADD COLUMN observed_end_at timestamptz;
-- What happened before this migration is history, not news.
UPDATE deployments SET observed_live_at = now() WHERE live_at IS NOT NULL;
UPDATE deployments SET observed_end_at = now() WHERE finished_at IS NOT NULL;
CREATE INDEX deployments_unobserved_live ON deployments (id) WHERE live_at IS NOT NULL AND observed_live_at IS NULL;
CREATE INDEX deployments_unobserved_end ON deployments (id) WHERE finished_at IS NOT NULL AND observed_end_at IS NULL;
