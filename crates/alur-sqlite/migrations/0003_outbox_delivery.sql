-- alur SQLite schema, migration 3: outbox delivery state (attempts, retry time, dead letters).
--
-- NEVER EDIT THIS FILE once released (see migration 1).
--
-- A message is pending while `delivered_at` and `dead_at` are both NULL. Only the oldest pending
-- message of a case may be claimed (per-case order); `outbox_case_pending` answers "is there an
-- older pending message of this case" from the index alone.

ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN next_attempt_at TEXT;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
ALTER TABLE outbox ADD COLUMN dead_at TEXT;

CREATE INDEX outbox_case_pending ON outbox (tenant, case_id, pos)
    WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_dead ON outbox (tenant, pos) WHERE dead_at IS NOT NULL;
