-- Deployment targets: a deployment runs in one environment of its service (`main`, or a
-- pull request's `pr-N`), and each target has its own live revision. Existing rows are
-- all of `main`; the services' live pointers move to their `main` target unchanged.

ALTER TABLE deployments ADD COLUMN environment text NOT NULL DEFAULT 'main';
ALTER TABLE deployments ADD CONSTRAINT deployments_environment CHECK (environment = 'main' OR environment ~ '^pr-[1-9][0-9]*$');
CREATE INDEX deployments_target ON deployments (service, environment, id DESC);

CREATE TABLE targets (
    service             text        NOT NULL REFERENCES services (name),
    environment         text        NOT NULL,
    live_deployment_id  bigint      REFERENCES deployments (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service, environment),
    CONSTRAINT targets_environment CHECK (environment = 'main' OR environment ~ '^pr-[1-9][0-9]*$')
);
INSERT INTO targets (service, environment, live_deployment_id, created_at, updated_at)
SELECT name, 'main', live_deployment_id, created_at, updated_at FROM services;
ALTER TABLE services DROP COLUMN live_deployment_id;

-- Latest wins per target, not per branch: a job carries its deployment's environment.
ALTER TABLE jobs RENAME COLUMN branch TO environment;
UPDATE jobs SET environment = 'main' WHERE service IS NOT NULL;
