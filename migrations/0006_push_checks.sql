-- A push the repository did not confirm once fetched (its commit is not what the branch
-- points at, or it would move the branch's service back to an older commit without a
-- force-push): kept with its reason, never taken as the newest commit of the branch.
ALTER TABLE deployments ADD COLUMN push_refused boolean NOT NULL DEFAULT false;

-- Deliveries without a provider id are told apart by what came before them on their ref.
CREATE INDEX webhook_deliveries_ref ON webhook_deliveries (provider, repository, ref, id);
