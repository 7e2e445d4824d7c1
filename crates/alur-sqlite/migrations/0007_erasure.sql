-- Erasure of personal data at the end of its retention (UU PDP 27/2022). The transition trigger
-- of migration 5 again, with the erasure at its end: an audit entry that records
-- `personal_data_erased` deletes the payloads of its case that it names. The entries keep their
-- payload digests, so every chain and the tenant log still verify. (A trigger on `audit_entries`
-- would do the same for any insert, but SQLite runs a row trigger's program for every entry,
-- about 1.5 µs each even when its WHEN is false; these statements cost nothing measurable.)
DROP TRIGGER alur_transition_apply;

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
    -- The letter (JSON, NULL when the transition touches none). Numbering: the series counter
    -- goes up by one and the letter takes its value, both inside this statement, so a
    -- transition that fails any check takes no number, and numbers have no gaps.
    INSERT INTO letter_counters (tenant, unit, series, year, last)
    SELECT NEW.tenant, NEW.letter ->> '$.unit', NEW.letter ->> '$.series',
           NEW.letter ->> '$.year', 1
     WHERE NEW.letter ->> '$.op' = 'number'
    ON CONFLICT (tenant, unit, series, year) DO UPDATE SET last = last + 1;
    INSERT INTO letters (tenant, token, case_id, unit, service, series, year, seq, number,
                         status, numbered_at)
    SELECT NEW.tenant, NEW.letter ->> '$.token', NEW.case_id, c.unit,
           NEW.letter ->> '$.service', c.series, c.year, c.last,
           replace(NEW.letter ->> '$.pattern.text', '{nomor}',
                   CASE WHEN length(c.last) >= (NEW.letter ->> '$.pattern.width') THEN CAST(c.last AS TEXT)
                        ELSE substr('000000000' || c.last, -(NEW.letter ->> '$.pattern.width')) END),
           'numbered', NEW.letter ->> '$.at'
      FROM letter_counters AS c
     WHERE NEW.letter ->> '$.op' = 'number' AND c.tenant = NEW.tenant
       AND c.unit = NEW.letter ->> '$.unit' AND c.series = NEW.letter ->> '$.series'
       AND c.year = NEW.letter ->> '$.year';
    -- Issue: the numbered letter of this case gets its document (stored beforehand) and signer.
    UPDATE letters SET status = 'issued', issued_at = NEW.letter ->> '$.at',
           valid_until = NEW.letter ->> '$.valid_until',
           document_sha256 = NEW.letter ->> '$.document_sha256',
           media_type = NEW.letter ->> '$.media_type', signer = NEW.letter -> '$.signer'
     WHERE NEW.letter ->> '$.op' = 'issue' AND tenant = NEW.tenant
       AND token = NEW.letter ->> '$.token' AND case_id = NEW.case_id AND status = 'numbered'
       AND EXISTS (SELECT 1 FROM letter_documents AS d
                    WHERE d.tenant = NEW.tenant AND d.sha256 = NEW.letter ->> '$.document_sha256');
    SELECT RAISE(ABORT, 'alur: letter not numbered or document missing')
     WHERE NEW.letter ->> '$.op' = 'issue' AND changes() <> 1;
    UPDATE letters SET status = 'revoked', revoked_at = NEW.letter ->> '$.at'
     WHERE NEW.letter ->> '$.op' = 'revoke' AND tenant = NEW.tenant
       AND token = NEW.letter ->> '$.token' AND case_id = NEW.case_id AND status = 'issued';
    SELECT RAISE(ABORT, 'alur: letter not issued')
     WHERE NEW.letter ->> '$.op' = 'revoke' AND changes() <> 1;
    -- Erasure at the end of retention: an entry recording `personal_data_erased` (with a legal
    -- basis) deletes the payloads of its case that it names, in this statement, so an erasure is
    -- never recorded without being done, nor done by a transition without its record. The
    -- tests on NEW come first and hold for no other transition, so they cost nothing else.
    DELETE FROM payloads
     WHERE NEW.e_legal_basis IS NOT NULL AND NEW.e_event ->> '$.event' = 'personal_data_erased'
       AND tenant = NEW.tenant AND case_id = NEW.case_id
       AND seq IN (SELECT value FROM json_each(NEW.e_event, '$.seqs'));
    DELETE FROM payloads
     WHERE NEW.more_entries IS NOT NULL AND tenant = NEW.tenant AND case_id = NEW.case_id
       AND seq IN (SELECT s.value FROM json_each(NEW.more_entries) AS m,
                          json_each(m.value ->> 4, '$.seqs') AS s
                    WHERE m.value ->> 6 IS NOT NULL
                      AND (m.value ->> 4) ->> '$.event' = 'personal_data_erased');
END;
