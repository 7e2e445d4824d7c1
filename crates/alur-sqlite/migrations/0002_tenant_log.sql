-- alur SQLite schema, migration 2: the tenant Merkle log and its signed checkpoints.
--
-- NEVER EDIT THIS FILE once released (see migration 1).
--
-- The log holds each audit entry once, at contiguous indexes from 0, in commit order. Commit order
-- is `audit_entries.pos` order: one writer commits one transaction at a time and `pos` only grows
-- (entries are never deleted), so "not yet in the log" is "`pos` after the last leaf's entry".

CREATE TABLE log_leaves (
    tenant    TEXT    NOT NULL,
    idx       INTEGER NOT NULL CHECK (idx >= 0),
    entry_pos INTEGER NOT NULL UNIQUE REFERENCES audit_entries (pos),
    case_id   TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    hash      TEXT    NOT NULL,
    PRIMARY KEY (tenant, idx)
) STRICT;

CREATE TRIGGER log_leaves_no_update BEFORE UPDATE ON log_leaves
BEGIN
    SELECT RAISE(ABORT, 'the tenant log is append-only');
END;

CREATE TRIGGER log_leaves_no_delete BEFORE DELETE ON log_leaves
BEGIN
    SELECT RAISE(ABORT, 'the tenant log is append-only');
END;

CREATE TABLE checkpoints (
    tenant TEXT    NOT NULL,
    size   INTEGER NOT NULL CHECK (size >= 0),
    note   TEXT    NOT NULL,               -- C2SP tlog-checkpoint signed note
    PRIMARY KEY (tenant, size)
) STRICT;

CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only');
END;

CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only');
END;

-- Appending to the log, as one statement: `INSERT INTO alur_log_append VALUES (tenant,
-- expected_size, leaves)` with `leaves` a JSON array of `[case_id, seq, hash]`. The log must have
-- `expected_size` leaves, and the leaves must be exactly the next entries in commit order.
CREATE VIEW alur_log_append (tenant, expected_size, leaves) AS SELECT NULL, NULL, NULL WHERE 0;

CREATE TRIGGER alur_log_append_apply INSTEAD OF INSERT ON alur_log_append
BEGIN
    SELECT RAISE(ABORT, 'alur: tenant log size conflict')
     WHERE (SELECT coalesce(max(idx) + 1, 0) FROM log_leaves WHERE tenant = NEW.tenant)
           <> NEW.expected_size;
    INSERT INTO log_leaves (tenant, idx, entry_pos, case_id, seq, hash)
    SELECT NEW.tenant, NEW.expected_size + l.key, e.pos, e.case_id, e.seq, e.hash
      FROM json_each(NEW.leaves) AS l
      JOIN (SELECT pos, case_id, seq, hash, row_number() OVER (ORDER BY pos) - 1 AS k
              FROM audit_entries
             WHERE tenant = NEW.tenant
               AND pos > coalesce((SELECT entry_pos FROM log_leaves
                                    WHERE tenant = NEW.tenant AND idx = NEW.expected_size - 1), 0)
             ORDER BY pos
             LIMIT json_array_length(NEW.leaves)) AS e
        ON e.k = l.key AND e.case_id = l.value ->> 0 AND e.seq = l.value ->> 1
       AND e.hash = l.value ->> 2
     ORDER BY l.key;
    SELECT RAISE(ABORT, 'alur: leaves are not the next unsequenced entries')
     WHERE changes() <> json_array_length(NEW.leaves);
END;
