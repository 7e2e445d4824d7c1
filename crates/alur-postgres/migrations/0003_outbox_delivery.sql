-- alur PostgreSQL schema, migration 3: outbox delivery state (attempts, retry time, dead letters).
--
-- NEVER EDIT THIS FILE once released.
--
-- A message is pending while `delivered_ns` and `dead_ns` are both NULL. Only the oldest pending
-- message of a case may be claimed (per-case order); `outbox_case_pending` answers "is there an
-- older pending message of this case" from the index alone. Claims lock with
-- `FOR UPDATE SKIP LOCKED` and record a lease in the existing `lease_owner`/`lease_until_ns`.

ALTER TABLE outbox ADD COLUMN attempts integer NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN next_attempt_ns bigint;
ALTER TABLE outbox ADD COLUMN last_error text;
ALTER TABLE outbox ADD COLUMN dead_ns bigint;

CREATE INDEX outbox_case_pending ON outbox (tenant, case_id, pos)
    WHERE delivered_ns IS NULL AND dead_ns IS NULL;
CREATE INDEX outbox_dead ON outbox (tenant, pos) WHERE dead_ns IS NOT NULL;
