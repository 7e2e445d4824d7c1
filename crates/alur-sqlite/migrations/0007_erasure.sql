-- Erasure of personal data at the end of its retention (UU PDP 27/2022). An audit entry that
-- records `personal_data_erased` deletes the payloads of its case that it names, inside the
-- statement that inserts it: an erasure is never recorded without being done, nor done by a
-- transition without its record. The entries keep their payload digests, so every chain and
-- the tenant log still verify. The legal basis test comes first: only automatic decisions carry
-- one, so the JSON of other entries is never read here.
CREATE TRIGGER audit_entries_erase AFTER INSERT ON audit_entries
WHEN NEW.legal_basis IS NOT NULL AND NEW.event ->> '$.event' = 'personal_data_erased'
BEGIN
    DELETE FROM payloads
     WHERE tenant = NEW.tenant AND case_id = NEW.case_id
       AND seq IN (SELECT value FROM json_each(NEW.event, '$.seqs'));
END;
