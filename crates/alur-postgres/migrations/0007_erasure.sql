-- Erasure of personal data at the end of its retention (UU PDP 27/2022). An audit entry that
-- records `personal_data_erased` deletes the payloads of its case that it names, in the
-- statement that inserts it: an erasure is never recorded without being done, nor done by a
-- transition without its record. The entries keep their payload digests, so every chain and
-- the tenant log still verify. The trigger's condition is tested as each row is inserted, the
-- legal basis first (only automatic decisions carry one), so other entries queue nothing.
CREATE FUNCTION alur_erase_payloads() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    DELETE FROM payloads
     WHERE tenant = NEW.tenant AND case_id = NEW.case_id
       AND seq IN (SELECT s::bigint FROM jsonb_array_elements_text(NEW.event -> 'seqs') AS s);
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_entries_erase
    AFTER INSERT ON audit_entries
    FOR EACH ROW
    WHEN (NEW.legal_basis IS NOT NULL AND NEW.event ->> 'event' = 'personal_data_erased')
    EXECUTE FUNCTION alur_erase_payloads();
