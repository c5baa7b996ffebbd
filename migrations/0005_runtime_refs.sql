-- What the runtime knows a deployment by: on ECS, the task definition ARN it rolled out.
-- A rollback to that deployment puts back exactly that revision, not a re-rendered one.
ALTER TABLE deployments ADD COLUMN runtime_ref text;
