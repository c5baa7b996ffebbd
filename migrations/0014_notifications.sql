-- Notifications (a policy's `notify:`, or SLIPWAY_NOTIFY): each event worth telling is recorded
-- by a trigger in the same transaction as the change it tells of, with a `notification` job;
-- the job decides which channels hear it and keeps one delivery row per channel, whose id
-- (`X-Slipway-Delivery`) stays the same across retries and restarts.

-- Whether the servers have a default channel list (SLIPWAY_NOTIFY): services without a
-- `notify:` of their own are told of only then. Written by `serve` at start-up.
CREATE TABLE notify_default (
    only_row    boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    channels    integer     NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notifications (
    id              bigserial   PRIMARY KEY,
    event           text        NOT NULL,
    service         text        NOT NULL,
    environment     text        NOT NULL,
    deployment_id   bigint      REFERENCES deployments (id) ON DELETE SET NULL,
    preview_number  integer,
    -- The deployment's state and reason when the event happened (a message sent later says what was).
    state           text,
    reason          text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notifications_event CHECK (event IN ('live', 'failed', 'rolled_back', 'preview_ready', 'preview_torn_down'))
);
-- A deployment's event is told once, however often its row is written.
CREATE UNIQUE INDEX notifications_once ON notifications (deployment_id, event) WHERE deployment_id IS NOT NULL;
CREATE INDEX notifications_created ON notifications (created_at);

CREATE TABLE notification_deliveries (
    id               bigserial   PRIMARY KEY,
    notification_id  bigint      NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    -- The channel's index in the list it came from, and the channel as it was then.
    channel          integer     NOT NULL,
    spec             jsonb       NOT NULL,
    delivery         uuid        NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    state            text        NOT NULL DEFAULT 'pending',
    attempts         integer     NOT NULL DEFAULT 0,
    sending_until    timestamptz,
    answer_status    integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    UNIQUE (notification_id, channel),
    CONSTRAINT notification_deliveries_state CHECK (state IN ('pending', 'sent', 'refused', 'gave_up'))
);

-- Whether a service's events are told anywhere: its own non-empty `notify:`, or none and a default.
CREATE FUNCTION slipway_notifies(svc text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT COALESCE((SELECT CASE WHEN s.policy ? 'notify' THEN jsonb_array_length(s.policy -> 'notify') > 0
                                 ELSE EXISTS (SELECT 1 FROM notify_default) END
                     FROM services s WHERE s.name = svc), false)
$$;

CREATE FUNCTION slipway_notification(ev text, svc text, env text, dep bigint, pr integer, st text, why text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    notification_id bigint;
BEGIN
    IF NOT slipway_notifies(svc) THEN
        RETURN;
    END IF;
    INSERT INTO notifications (event, service, environment, deployment_id, preview_number, state, reason)
    VALUES (ev, svc, env, dep, pr, st, why)
    ON CONFLICT DO NOTHING
    RETURNING id INTO notification_id;
    IF notification_id IS NOT NULL THEN
        INSERT INTO jobs (kind, priority, max_attempts, timeout_ms, payload)
        VALUES ('notification', 0, 10, 120000, jsonb_build_object('notification', notification_id::text));
        PERFORM pg_notify('slipway_jobs', 'notification');
    END IF;
END $$;

-- The events of a deployment: live (main) or preview_ready (a pull request's), failed, rolled_back.
-- The trigger's WHEN leaves every other state change alone, at no cost.
CREATE FUNCTION slipway_notify_deployment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.state IS NOT DISTINCT FROM OLD.state THEN
        RETURN NEW;
    END IF;
    PERFORM slipway_notification(
        CASE NEW.state WHEN 'watching' THEN CASE WHEN NEW.environment = 'main' THEN 'live' ELSE 'preview_ready' END ELSE NEW.state END,
        NEW.service, NEW.environment, NEW.id,
        CASE WHEN NEW.environment ~ '^pr-' THEN substr(NEW.environment, 4)::integer END, NEW.state, NEW.reason);
    RETURN NEW;
EXCEPTION WHEN OTHERS THEN
    -- Telling never holds up a deployment: the change goes through, untold, with a warning in Postgres's log.
    RAISE WARNING 'slipway: the change of deployment % was not queued for notification: %', NEW.id, SQLERRM;
    RETURN NEW;
END $$;
CREATE TRIGGER deployments_notify AFTER INSERT OR UPDATE OF state ON deployments
    FOR EACH ROW WHEN (NEW.state IN ('watching', 'failed', 'rolled_back')) EXECUTE FUNCTION slipway_notify_deployment();

CREATE FUNCTION slipway_notify_preview() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.torn_down_at IS NOT NULL AND OLD.torn_down_at IS NULL THEN
        PERFORM slipway_notification('preview_torn_down', NEW.service, 'pr-' || NEW.number, NULL, NEW.number, NULL, NEW.reason);
    END IF;
    RETURN NEW;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'slipway: the teardown of preview %#% was not queued for notification: %', NEW.service, NEW.number, SQLERRM;
    RETURN NEW;
END $$;
CREATE TRIGGER previews_notify AFTER UPDATE OF torn_down_at ON previews
    FOR EACH ROW WHEN (NEW.torn_down_at IS NOT NULL AND OLD.torn_down_at IS NULL) EXECUTE FUNCTION slipway_notify_preview();

-- A deployment's author and commit subject, read from the fetched commit, for what is told of it.
ALTER TABLE deployments ADD COLUMN commit_author text, ADD COLUMN commit_subject text;
