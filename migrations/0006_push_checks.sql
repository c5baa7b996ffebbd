-- What the fetched repository said of a push. Verified: its commit was the branch's head (the
-- reconciler takes only these as the branch's newest commit, so a push that was superseded
-- before anyone checked it, or replayed, never becomes what it deploys). Refused: the repository
-- contradicted it, or the branch had moved on.
ALTER TABLE deployments ADD COLUMN push_verified boolean NOT NULL DEFAULT false;
ALTER TABLE deployments ADD COLUMN push_refused boolean NOT NULL DEFAULT false;
-- Pushes built before these checks existed were fetched and built: they count as verified.
UPDATE deployments SET push_verified = true WHERE trigger = 'push' AND image IS NOT NULL;

-- Deliveries without a provider id are told apart by what came before them on their ref.
CREATE INDEX webhook_deliveries_ref ON webhook_deliveries (provider, repository, ref, id);
