-- Reporting to the source host: a commit status per (commit, context) and one comment per pull
-- request, each kept as the newest state to say (`version`) and what was said (`sent_version`).
-- Triggers queue a `notify` job in the same transaction as the change they report, whichever
-- statement made it; the job sends the newest state, so a late retry never says something older.

-- Which providers the servers hold credentials for: only their repositories are reported on
-- (plus those whose policy names credentials). Written by `serve` at start-up.
CREATE TABLE report_providers (
    provider    text PRIMARY KEY,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The repository's name as the event gave it (`acme/shop`, `group/sub/project`, `PROJ/repo`).
ALTER TABLE webhook_deliveries ADD COLUMN repository_name text;
-- Where a deployment's status goes; set as it is made, from its event or what it rolls back.
ALTER TABLE deployments ADD COLUMN report_provider text;
ALTER TABLE deployments ADD COLUMN report_repository text;
ALTER TABLE previews ADD COLUMN report_provider text;
ALTER TABLE previews ADD COLUMN report_repository text;
-- Where a service's repository reports when no event names it (polling, manual deploys).
ALTER TABLE services ADD COLUMN report_provider text;
ALTER TABLE services ADD COLUMN report_repository text;

CREATE TABLE commit_reports (
    id             bigserial PRIMARY KEY,
    provider       text        NOT NULL,
    repository     text        NOT NULL,
    sha            text        NOT NULL,
    context        text        NOT NULL,
    deployment_id  bigint      REFERENCES deployments (id) ON DELETE SET NULL,
    state          text        NOT NULL,
    reason         text,
    version        bigint      NOT NULL DEFAULT 1,
    sent_version   bigint      NOT NULL DEFAULT 0,
    sent_phase     text,
    sent_state     text,
    sender         uuid,
    sending_until  timestamptz,
    last_error     text,
    changed_at     timestamptz NOT NULL DEFAULT now(),
    sent_at        timestamptz,
    UNIQUE (provider, repository, sha, context)
);
CREATE INDEX commit_reports_deployment ON commit_reports (deployment_id);

CREATE TABLE pull_request_comments (
    id               bigserial PRIMARY KEY,
    provider         text        NOT NULL,
    repository       text        NOT NULL,
    number           integer     NOT NULL,
    comment_id       text,
    comment_version  integer,
    version          bigint      NOT NULL DEFAULT 1,
    sent_version     bigint      NOT NULL DEFAULT 0,
    sender           uuid,
    sending_until    timestamptz,
    last_error       text,
    changed_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    UNIQUE (provider, repository, number)
);

-- A new deployment inherits where it reports: its event's repository, else what it rolls back,
-- else its service's repository; only for providers with credentials (or a policy that names some).
CREATE FUNCTION slipway_report_target() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.report_provider IS NULL AND NEW.delivery_id IS NOT NULL THEN
        SELECT provider, repository_name INTO NEW.report_provider, NEW.report_repository
        FROM webhook_deliveries WHERE id = NEW.delivery_id AND provider <> 'poll' AND repository_name IS NOT NULL;
    END IF;
    IF NEW.report_provider IS NULL AND NEW.rollback_of IS NOT NULL THEN
        SELECT report_provider, report_repository INTO NEW.report_provider, NEW.report_repository
        FROM deployments WHERE id = NEW.rollback_of;
    END IF;
    IF NEW.report_provider IS NULL AND NEW.environment ~ '^pr-' THEN
        SELECT report_provider, report_repository INTO NEW.report_provider, NEW.report_repository
        FROM previews WHERE service = NEW.service AND 'pr-' || number = NEW.environment;
    END IF;
    IF NEW.report_provider IS NULL THEN
        SELECT report_provider, report_repository INTO NEW.report_provider, NEW.report_repository
        FROM services WHERE name = NEW.service;
    END IF;
    IF NEW.report_provider IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM report_providers WHERE provider = NEW.report_provider)
       AND NEW.policy -> 'source' ->> 'credentials' IS NULL THEN
        NEW.report_provider := NULL;
        NEW.report_repository := NULL;
    END IF;
    RETURN NEW;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'slipway: where deployment % reports could not be decided: %', NEW.id, SQLERRM;
    NEW.report_provider := NULL;
    NEW.report_repository := NULL;
    RETURN NEW;
END $$;
CREATE TRIGGER deployments_report_target BEFORE INSERT ON deployments
    FOR EACH ROW EXECUTE FUNCTION slipway_report_target();

-- Queues the delivery of what changed: the commit's status, and the pull request's comment.
CREATE FUNCTION slipway_report_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    report_id bigint;
    report_context text;
BEGIN
    IF NEW.report_provider IS NULL OR NEW.report_repository IS NULL THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.state IS NOT DISTINCT FROM OLD.state AND NEW.sha IS NOT DISTINCT FROM OLD.sha THEN
        RETURN NEW;
    END IF;
    IF NEW.sha IS NOT NULL AND NEW.sha ~ '^[0-9a-f]{40}([0-9a-f]{24})?$' THEN
        report_context := 'slipway/' || NEW.service || CASE WHEN NEW.environment = 'main' THEN '' ELSE '-' || NEW.environment END;
        INSERT INTO commit_reports AS r (provider, repository, sha, context, deployment_id, state, reason)
        VALUES (NEW.report_provider, NEW.report_repository, NEW.sha, report_context, NEW.id, NEW.state, NEW.reason)
        ON CONFLICT (provider, repository, sha, context) DO UPDATE
            SET deployment_id = EXCLUDED.deployment_id, state = EXCLUDED.state, reason = EXCLUDED.reason,
                version = r.version + 1, changed_at = now()
            -- An older deployment of the same commit does not speak over a newer one.
            WHERE r.deployment_id IS NULL OR r.deployment_id <= EXCLUDED.deployment_id
        RETURNING id INTO report_id;
        IF report_id IS NOT NULL THEN
            INSERT INTO jobs (kind, priority, max_attempts, timeout_ms, payload)
            VALUES ('notify', 0, 12, 60000, jsonb_build_object('report', report_id::text));
            PERFORM pg_notify('slipway_jobs', 'notify');
        END IF;
    END IF;
    IF NEW.environment ~ '^pr-' THEN
        PERFORM slipway_comment_changed(NEW.report_provider, NEW.report_repository, substr(NEW.environment, 4)::integer);
    END IF;
    RETURN NEW;
EXCEPTION WHEN OTHERS THEN
    -- Reporting never holds up a deployment: the change goes through, unreported, with a warning in the server's log.
    RAISE WARNING 'slipway: the change of deployment % was not queued for reporting: %', NEW.id, SQLERRM;
    RETURN NEW;
END $$;

CREATE FUNCTION slipway_comment_changed(p text, repo text, pr integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    comment_id bigint;
BEGIN
    INSERT INTO pull_request_comments AS c (provider, repository, number)
    VALUES (p, repo, pr)
    ON CONFLICT (provider, repository, number) DO UPDATE SET version = c.version + 1, changed_at = now()
    RETURNING id INTO comment_id;
    INSERT INTO jobs (kind, priority, max_attempts, timeout_ms, payload)
    VALUES ('notify', 0, 12, 60000, jsonb_build_object('comment', comment_id::text));
    PERFORM pg_notify('slipway_jobs', 'notify');
END $$;

CREATE TRIGGER deployments_report_change AFTER INSERT OR UPDATE OF state, sha ON deployments
    FOR EACH ROW EXECUTE FUNCTION slipway_report_change();

-- A preview closed or torn down changes its pull request's comment.
CREATE FUNCTION slipway_preview_comment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.report_provider IS NOT NULL AND NEW.report_repository IS NOT NULL
       AND (NEW.state IS DISTINCT FROM OLD.state OR NEW.torn_down_at IS DISTINCT FROM OLD.torn_down_at
            OR NEW.url IS DISTINCT FROM OLD.url) THEN
        PERFORM slipway_comment_changed(NEW.report_provider, NEW.report_repository, NEW.number);
    END IF;
    RETURN NEW;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'slipway: the change of preview %/% was not queued for reporting: %', NEW.service, NEW.number, SQLERRM;
    RETURN NEW;
END $$;
CREATE TRIGGER previews_comment AFTER UPDATE ON previews
    FOR EACH ROW EXECUTE FUNCTION slipway_preview_comment();
