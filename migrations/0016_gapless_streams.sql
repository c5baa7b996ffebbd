-- A deployment's log lines and events are numbered in the order they commit, so a reader that
-- follows them by id (`logs --follow`, the dashboard, the API's stream) never skips one: two
-- writers of one deployment take its row lock (the one its state changes take) before a row gets
-- its id, and hold it to commit. The column default's number is replaced (a gap, harmless).
CREATE FUNCTION slipway_number_in_commit_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM deployments WHERE id = NEW.deployment_id FOR NO KEY UPDATE;
    NEW.id := nextval(pg_get_serial_sequence(quote_ident(TG_TABLE_SCHEMA) || '.' || quote_ident(TG_TABLE_NAME), 'id'));
    RETURN NEW;
END $$;
CREATE TRIGGER deployment_logs_in_commit_order BEFORE INSERT ON deployment_logs
    FOR EACH ROW EXECUTE FUNCTION slipway_number_in_commit_order();
CREATE TRIGGER deployment_events_in_commit_order BEFORE INSERT ON deployment_events
    FOR EACH ROW EXECUTE FUNCTION slipway_number_in_commit_order();
