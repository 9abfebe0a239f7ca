-- The audit log: who (a key id, never a key) did what, to what, when, from where, and how it
-- ended. The service only ever adds rows; the triggers refuse any update, delete or truncate,
-- whoever asks (a tenant's data deletion keeps its audit rows: they record the deletion).
CREATE TABLE IF NOT EXISTS audit_events (
    event_id bigserial   PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- '' when no tenant was known (a call refused before its tenant was decided).
    tenant   text        NOT NULL DEFAULT '',
    key_id   text        NOT NULL DEFAULT '',
    -- The RPC (`adpulse.v1.AccessService/RevokeApiKey`) or the job that acted.
    action   text        NOT NULL,
    target   text        NOT NULL DEFAULT '',
    peer     text        NOT NULL DEFAULT '',
    -- `OK` or the status code's name.
    outcome  text        NOT NULL,
    reason   text        NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_events_by_tenant ON audit_events (tenant, event_id DESC);
-- The body is an E'' string whose \073 is the `;` plpgsql wants: the migration runner splits
-- files on every literal `;`.
CREATE OR REPLACE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS
    E'BEGIN RAISE EXCEPTION ''audit_events is append-only'' USING ERRCODE = ''insufficient_privilege''\073 END';
DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events;
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
