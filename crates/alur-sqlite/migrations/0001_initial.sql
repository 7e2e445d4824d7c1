-- alur SQLite schema, migration 1.
--
-- NEVER EDIT THIS FILE once released: sqlx records its checksum in `_sqlx_migrations` and refuses a
-- database whose applied migration differs. Change the schema with a new numbered file.
--
-- Timestamps are RFC 3339 text in UTC with exactly nine fractional digits
-- (`2026-03-17T02:00:00.000000000Z`): lossless for `jiff::Timestamp` (audit hashes cover the
-- nanoseconds), ordered correctly by plain text comparison, and readable with the sqlite3 shell.
-- Every table is STRICT.

-- Service definitions, one row per registered content (version) of a service.
CREATE TABLE definitions (
    tenant  TEXT    NOT NULL,
    id      TEXT    NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    digest  TEXT    NOT NULL,
    body    TEXT    NOT NULL,            -- the ServiceDefinition as JSON
    PRIMARY KEY (tenant, id, version),
    UNIQUE (tenant, id, digest)
) STRICT;

-- Cases: the searchable columns plus the full `Case` as JSON (`body`, authoritative on read).
CREATE TABLE cases (
    tenant             TEXT    NOT NULL,
    id                 TEXT    NOT NULL,
    version            INTEGER NOT NULL CHECK (version >= 1),
    service            TEXT    NOT NULL,
    definition_version INTEGER NOT NULL,
    unit               TEXT    NOT NULL,
    status             TEXT    NOT NULL,  -- `open:<step>` or `closed:<outcome>`
    is_open            INTEGER NOT NULL CHECK (is_open IN (0, 1)),
    pending_unit       TEXT,
    pending_roles      TEXT,              -- JSON array of role ids
    assignee           TEXT,
    submitted_at       TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    due_at             TEXT,
    body               TEXT    NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT;

-- Overdue scan: only open cases with a deadline are in this index (covering: no table access).
CREATE INDEX cases_open_due ON cases (tenant, due_at, id) WHERE is_open = 1 AND due_at IS NOT NULL;
-- Search: newest first, optionally narrowed by service or unit (prefix as a range).
CREATE INDEX cases_submitted ON cases (tenant, submitted_at, id);
CREATE INDEX cases_service ON cases (tenant, service, submitted_at);
CREATE INDEX cases_unit ON cases (tenant, unit, submitted_at);

-- Inbox: one row per (open case, pending role), kept by the triggers below, so that an inbox
-- query is one ordered index range scan per (unit, role) post.
CREATE TABLE case_pending (
    tenant       TEXT    NOT NULL,
    unit         TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    due_missing  INTEGER NOT NULL,        -- 1 when the case has no deadline (sorts last)
    due_at       TEXT    NOT NULL,        -- '' when missing
    submitted_at TEXT    NOT NULL,
    case_id      TEXT    NOT NULL,
    PRIMARY KEY (tenant, unit, role, due_missing, due_at, submitted_at, case_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX case_pending_case ON case_pending (tenant, case_id);

CREATE TRIGGER cases_pending_after_insert AFTER INSERT ON cases
WHEN NEW.is_open = 1 AND NEW.pending_unit IS NOT NULL
BEGIN
    INSERT INTO case_pending (tenant, unit, role, due_missing, due_at, submitted_at, case_id)
    SELECT DISTINCT NEW.tenant, NEW.pending_unit, r.value, NEW.due_at IS NULL,
           coalesce(NEW.due_at, ''), NEW.submitted_at, NEW.id
    FROM json_each(coalesce(NEW.pending_roles, '[]')) AS r;
END;

CREATE TRIGGER cases_pending_after_update AFTER UPDATE ON cases
WHEN OLD.is_open IS NOT NEW.is_open OR OLD.pending_unit IS NOT NEW.pending_unit
  OR OLD.pending_roles IS NOT NEW.pending_roles OR OLD.due_at IS NOT NEW.due_at
  OR OLD.submitted_at IS NOT NEW.submitted_at OR OLD.id IS NOT NEW.id OR OLD.tenant IS NOT NEW.tenant
BEGIN
    DELETE FROM case_pending WHERE tenant = OLD.tenant AND case_id = OLD.id;
    INSERT INTO case_pending (tenant, unit, role, due_missing, due_at, submitted_at, case_id)
    SELECT DISTINCT NEW.tenant, NEW.pending_unit, r.value, NEW.due_at IS NULL,
           coalesce(NEW.due_at, ''), NEW.submitted_at, NEW.id
    FROM json_each(coalesce(NEW.pending_roles, '[]')) AS r
    WHERE NEW.is_open = 1 AND NEW.pending_unit IS NOT NULL;
END;

CREATE TRIGGER cases_pending_after_delete AFTER DELETE ON cases
BEGIN
    DELETE FROM case_pending WHERE tenant = OLD.tenant AND case_id = OLD.id;
END;

-- The per-case audit chains. Append-only: the triggers below refuse UPDATE and DELETE, and an
-- entry must continue its case's chain (seq contiguous from 1, prev_hash = hash of seq - 1).
-- `pos` gives the insertion order, for the tenant log integrator.
CREATE TABLE audit_entries (
    pos                INTEGER PRIMARY KEY,
    tenant             TEXT    NOT NULL,
    case_id            TEXT    NOT NULL,
    seq                INTEGER NOT NULL CHECK (seq >= 1),
    service            TEXT    NOT NULL,
    definition_version INTEGER NOT NULL,
    calendar_version   TEXT,
    event              TEXT    NOT NULL,  -- EventKind as JSON
    actor              TEXT    NOT NULL,  -- ActorRecord as JSON
    legal_basis        TEXT,
    at                 TEXT    NOT NULL,
    due                TEXT,              -- Due as JSON, when the entry set deadlines
    payload_digest     TEXT,
    prev_hash          TEXT    NOT NULL,
    hash               TEXT    NOT NULL,
    UNIQUE (tenant, case_id, seq)
) STRICT;

CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;

CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;

CREATE TRIGGER audit_entries_chain BEFORE INSERT ON audit_entries
WHEN (NEW.seq = 1 AND NEW.prev_hash <> '0000000000000000000000000000000000000000000000000000000000000000')
  OR (NEW.seq > 1 AND NOT EXISTS (
        SELECT 1 FROM audit_entries
        WHERE tenant = NEW.tenant AND case_id = NEW.case_id AND seq = NEW.seq - 1
          AND hash = NEW.prev_hash))
BEGIN
    SELECT RAISE(ABORT, 'alur: audit entry does not continue its case chain');
END;

-- Personal payloads, apart from the hashed entries; erasable (DELETE) at the end of retention.
CREATE TABLE payloads (
    tenant  TEXT    NOT NULL,
    case_id TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    digest  TEXT    NOT NULL,
    payload TEXT    NOT NULL,             -- Payload as JSON
    PRIMARY KEY (tenant, case_id, seq),
    FOREIGN KEY (tenant, case_id, seq) REFERENCES audit_entries (tenant, case_id, seq)
) STRICT, WITHOUT ROWID;

-- Transactional outbox. `pos` orders messages (oldest first, hence in order per case).
CREATE TABLE outbox (
    pos          INTEGER PRIMARY KEY,
    tenant       TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    case_id      TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    template     TEXT    NOT NULL,
    recipient    TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    delivered_at TEXT,
    lease_owner  TEXT,
    lease_until  TEXT,
    UNIQUE (tenant, id)
) STRICT;
CREATE INDEX outbox_pending ON outbox (tenant, pos) WHERE delivered_at IS NULL;

-- Durable timers with claim leases.
CREATE TABLE timers (
    tenant      TEXT NOT NULL,
    id          TEXT NOT NULL,
    case_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    fire_at     TEXT NOT NULL,
    lease_owner TEXT,
    lease_until TEXT,
    PRIMARY KEY (tenant, id)
) STRICT;
CREATE INDEX timers_case ON timers (tenant, case_id, fire_at, id);
CREATE INDEX timers_due ON timers (tenant, fire_at, id);

-- First result of a command under its idempotency key.
CREATE TABLE idempotency (
    tenant         TEXT NOT NULL,
    key            TEXT NOT NULL,
    command_digest TEXT NOT NULL,
    case_id        TEXT NOT NULL,
    result         TEXT NOT NULL,         -- Case as JSON
    PRIMARY KEY (tenant, key)
) STRICT;

-- Refused commands, in the order recorded.
CREATE TABLE denials (
    pos     INTEGER PRIMARY KEY,
    tenant  TEXT NOT NULL,
    case_id TEXT,
    actor   TEXT NOT NULL,
    command TEXT NOT NULL,
    reason  TEXT NOT NULL,
    at      TEXT NOT NULL
) STRICT;
CREATE INDEX denials_tenant ON denials (tenant, pos);

-- One transition, as ONE statement: `INSERT INTO alur_transition VALUES (…)`. The trigger below
-- writes everything; a failed check or constraint aborts the statement, and SQLite backs out
-- everything the statement (with its triggers) did, leaving the enclosing transaction usable: a
-- group commit needs no savepoints. The first audit entry, payload and outbox message come as
-- plain columns (`e_*`, `p_*`, `o_*`; NULL when absent), any further ones and the timers as JSON
-- arrays of row arrays (NULL when none), so that the usual transition parses no JSON at all.
CREATE VIEW alur_transition (
    tenant, case_id, expected_version, version, service, definition_version, unit, status,
    is_open, pending_unit, pending_roles, assignee, submitted_at, updated_at, due_at, body,
    idempotency_key, command_digest, idempotency_result, fired_timer, replace_timers, timers,
    e_seq, e_service, e_definition_version, e_calendar_version, e_event, e_actor, e_legal_basis,
    e_at, e_due, e_payload_digest, e_prev_hash, e_hash, more_entries,
    p_seq, p_digest, p_payload, more_payloads,
    o_id, o_seq, o_template, o_recipient, o_created_at, more_outbox
) AS SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            NULL, NULL, NULL WHERE 0;

CREATE TRIGGER alur_transition_apply INSTEAD OF INSERT ON alur_transition
BEGIN
    -- The case: an update guarded by the expected version (versions start at 1, so an expected
    -- version of 0 never matches). Setting an indexed column rewrites its index entries even when
    -- the value is unchanged, so the indexed columns are set by the two updates after the check,
    -- and only when they do change (deadline and open flag sometimes; the others never, normally).
    UPDATE cases SET version = NEW.version, status = NEW.status,
           pending_unit = NEW.pending_unit, pending_roles = NEW.pending_roles,
           assignee = NEW.assignee, updated_at = NEW.updated_at, body = NEW.body
     WHERE tenant = NEW.tenant AND id = NEW.case_id AND version = NEW.expected_version;
    SELECT RAISE(ABORT, 'alur: version conflict')
     WHERE NEW.expected_version <> 0 AND changes() <> 1;
    UPDATE cases SET due_at = NEW.due_at, is_open = NEW.is_open
     WHERE NEW.expected_version <> 0 AND tenant = NEW.tenant AND id = NEW.case_id
       AND (due_at IS NOT NEW.due_at OR is_open IS NOT NEW.is_open);
    UPDATE cases SET service = NEW.service, definition_version = NEW.definition_version,
           unit = NEW.unit, submitted_at = NEW.submitted_at
     WHERE NEW.expected_version <> 0 AND tenant = NEW.tenant AND id = NEW.case_id
       AND (service IS NOT NEW.service OR definition_version IS NOT NEW.definition_version
            OR unit IS NOT NEW.unit OR submitted_at IS NOT NEW.submitted_at);
    -- … or, for expected version 0, an insert (an existing case fails the primary key).
    INSERT INTO cases (tenant, id, version, service, definition_version, unit, status, is_open,
                       pending_unit, pending_roles, assignee, submitted_at, updated_at, due_at, body)
    SELECT NEW.tenant, NEW.case_id, NEW.version, NEW.service, NEW.definition_version, NEW.unit,
           NEW.status, NEW.is_open, NEW.pending_unit, NEW.pending_roles, NEW.assignee,
           NEW.submitted_at, NEW.updated_at, NEW.due_at, NEW.body
     WHERE NEW.expected_version = 0;
    -- The idempotency record (a recorded key fails the primary key).
    INSERT INTO idempotency (tenant, key, command_digest, case_id, result)
    SELECT NEW.tenant, NEW.idempotency_key, NEW.command_digest, NEW.case_id, NEW.idempotency_result
     WHERE NEW.idempotency_key IS NOT NULL;
    -- The timer this transition fires must still exist (a timer fires at most once).
    DELETE FROM timers
     WHERE tenant = NEW.tenant AND case_id = NEW.case_id AND id = NEW.fired_timer;
    SELECT RAISE(ABORT, 'alur: timer already fired or replaced')
     WHERE NEW.fired_timer IS NOT NULL AND changes() <> 1;
    -- Timers: drop the pending ones when replacing, then set the new ones.
    DELETE FROM timers
     WHERE NEW.replace_timers = 1 AND tenant = NEW.tenant AND case_id = NEW.case_id;
    INSERT INTO timers (tenant, case_id, id, kind, fire_at)
    SELECT NEW.tenant, NEW.case_id, value ->> 0, value ->> 1, value ->> 2
      FROM json_each(NEW.timers) ORDER BY key;
    -- Audit entries (their own trigger checks that they continue the chain), payloads, outbox.
    INSERT INTO audit_entries (tenant, case_id, seq, service, definition_version,
                               calendar_version, event, actor, legal_basis, at, due,
                               payload_digest, prev_hash, hash)
    SELECT NEW.tenant, NEW.case_id, NEW.e_seq, NEW.e_service, NEW.e_definition_version,
           NEW.e_calendar_version, NEW.e_event, NEW.e_actor, NEW.e_legal_basis, NEW.e_at,
           NEW.e_due, NEW.e_payload_digest, NEW.e_prev_hash, NEW.e_hash
     WHERE NEW.e_seq IS NOT NULL;
    INSERT INTO audit_entries (tenant, case_id, seq, service, definition_version,
                               calendar_version, event, actor, legal_basis, at, due,
                               payload_digest, prev_hash, hash)
    SELECT NEW.tenant, NEW.case_id, value ->> 0, value ->> 1, value ->> 2, value ->> 3,
           value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9,
           value ->> 10, value ->> 11
      FROM json_each(NEW.more_entries) ORDER BY key;
    INSERT INTO payloads (tenant, case_id, seq, digest, payload)
    SELECT NEW.tenant, NEW.case_id, NEW.p_seq, NEW.p_digest, NEW.p_payload
     WHERE NEW.p_seq IS NOT NULL;
    INSERT INTO payloads (tenant, case_id, seq, digest, payload)
    SELECT NEW.tenant, NEW.case_id, value ->> 0, value ->> 1, value ->> 2
      FROM json_each(NEW.more_payloads) ORDER BY key;
    INSERT INTO outbox (tenant, case_id, id, seq, template, recipient, created_at)
    SELECT NEW.tenant, NEW.case_id, NEW.o_id, NEW.o_seq, NEW.o_template, NEW.o_recipient,
           NEW.o_created_at
     WHERE NEW.o_id IS NOT NULL;
    INSERT INTO outbox (tenant, case_id, id, seq, template, recipient, created_at)
    SELECT NEW.tenant, NEW.case_id, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4
      FROM json_each(NEW.more_outbox) ORDER BY key;
END;
