-- alur SQLite schema, migration 4: appending to the tenant log in linear time.
--
-- NEVER EDIT THIS FILE once released (see migration 1).
--
-- Migration 2's trigger joined the leaves (json_each) with a windowed subquery, and SQLite
-- re-read the whole JSON array for every candidate row: an append of n leaves cost O(n²) (minutes
-- for 50,000 leaves). This trigger reads the array once (as the outer loop) and finds each entry
-- through its unique key, then proves with two index-range checks that the leaves are exactly the next entries in
-- commit order: strictly increasing `pos`, all after the last sequenced entry, and as many as the
-- tenant's entries in that `pos` range (so none was skipped). The statement's contract is
-- unchanged: `INSERT INTO alur_log_append VALUES (tenant, expected_size, leaves)`.

DROP TRIGGER alur_log_append_apply;

CREATE TRIGGER alur_log_append_apply INSTEAD OF INSERT ON alur_log_append
BEGIN
    SELECT RAISE(ABORT, 'alur: tenant log size conflict')
     WHERE (SELECT coalesce(max(idx) + 1, 0) FROM log_leaves WHERE tenant = NEW.tenant)
           <> NEW.expected_size;
    INSERT INTO log_leaves (tenant, idx, entry_pos, case_id, seq, hash)
    SELECT NEW.tenant, NEW.expected_size + l.key, e.pos, e.case_id, e.seq, e.hash
      FROM json_each(NEW.leaves) AS l
     -- CROSS JOIN keeps json_each the outer loop: one pass over the array, one unique-index
     -- lookup per leaf.
     CROSS JOIN audit_entries AS e
     WHERE e.tenant = NEW.tenant AND e.case_id = l.value ->> 0 AND e.seq = l.value ->> 1
       AND e.hash = l.value ->> 2
     ORDER BY l.key;
    SELECT RAISE(ABORT, 'alur: leaves are not the next unsequenced entries')
     WHERE changes() <> json_array_length(NEW.leaves)
        -- The first new leaf's entry comes after the last sequenced one …
        OR (SELECT entry_pos FROM log_leaves WHERE tenant = NEW.tenant AND idx = NEW.expected_size)
           <= coalesce((SELECT entry_pos FROM log_leaves
                         WHERE tenant = NEW.tenant AND idx = NEW.expected_size - 1), 0)
        -- … each next one after the one before …
        OR EXISTS (SELECT 1 FROM log_leaves AS a
                     JOIN log_leaves AS b ON b.tenant = a.tenant AND b.idx = a.idx + 1
                    WHERE a.tenant = NEW.tenant AND a.idx >= NEW.expected_size
                      AND b.entry_pos <= a.entry_pos)
        -- … and no entry of the tenant lies between them unsequenced.
        OR (SELECT count(*) FROM audit_entries
             WHERE tenant = NEW.tenant
               AND pos > coalesce((SELECT entry_pos FROM log_leaves
                                    WHERE tenant = NEW.tenant AND idx = NEW.expected_size - 1), 0)
               AND pos <= (SELECT max(entry_pos) FROM log_leaves
                            WHERE tenant = NEW.tenant AND idx >= NEW.expected_size))
           <> json_array_length(NEW.leaves);
END;
