-- Webhooks from every provider, polling, and pushes decided after their changed files
-- are computed with git.

-- A push is (ref, before, after): two hooks, or a hook and a poll, announcing the same
-- push must deploy it once, even after a newer push superseded it; a force-push back to
-- an old commit (another `before`) deploys it again.
ALTER TABLE webhook_deliveries ADD COLUMN before_sha text;

-- "Is this commit already deploying or live?" is asked on every push.
CREATE INDEX deployments_service_sha ON deployments (service, sha);
-- "Is something newer of this service on its way?" is asked when a push names a commit already live.
CREATE INDEX deployments_in_flight ON deployments (service, id)
    WHERE state IN ('queued', 'building', 'pushing', 'rolling_out', 'watching');
-- "Did a newer push already deploy this service?" is asked when a delayed decision lands.
CREATE INDEX deployments_service_delivery ON deployments (service, delivery_id);

-- Deliveries are pruned after the retention period (well past every provider's
-- redelivery window); their deployments stay, without the link.
CREATE INDEX deployments_delivery ON deployments (delivery_id);
ALTER TABLE deployments DROP CONSTRAINT deployments_delivery_id_fkey;
ALTER TABLE deployments ADD CONSTRAINT deployments_delivery_id_fkey
    FOREIGN KEY (delivery_id) REFERENCES webhook_deliveries (id) ON DELETE SET NULL;

-- The last head seen by polling, per repository and ref: a change is a push.
CREATE TABLE poll_heads (
    repo_key  text        NOT NULL,
    ref       text        NOT NULL,
    sha       text        NOT NULL,
    seen_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_key, ref)
);
