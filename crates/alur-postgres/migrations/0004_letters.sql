-- alur PostgreSQL schema, migration 4: outgoing letters (surat keluar).
--
-- NEVER EDIT THIS FILE once released.
--
-- A letter is numbered by the transition that completes its case, inside the transition's one
-- statement (CTEs `lc` and `ln`): the counter row of its series is upserted and locked until the
-- statement's transaction ends, so concurrent approvals at one unit queue on it and a rolled-back
-- approval takes no number. Issue (`li`) and revocation (`lr`) are checked by
-- `alur_letter_check`. Issued documents are kept by their SHA-256.

CREATE TABLE letter_counters (
    tenant text    NOT NULL,
    unit   text    NOT NULL,
    series text    NOT NULL,
    year   integer NOT NULL,
    last   bigint  NOT NULL CHECK (last >= 1),
    PRIMARY KEY (tenant, unit, series, year)
);

CREATE TABLE letters (
    tenant          text    NOT NULL,
    token           text    NOT NULL,
    case_id         text    NOT NULL,
    unit            text    NOT NULL,
    service         text    NOT NULL,
    series          text    NOT NULL,
    year            integer NOT NULL,
    seq             bigint  NOT NULL CHECK (seq >= 1),
    number          text    NOT NULL,
    status          text    NOT NULL CHECK (status IN ('numbered', 'issued', 'revoked')),
    numbered_ns     bigint  NOT NULL,
    issued_ns       bigint,
    valid_until     date,
    document_sha256 text,
    media_type      text,
    signer          jsonb,
    revoked_ns      bigint,
    scans           bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, token),
    UNIQUE (tenant, case_id),
    UNIQUE (tenant, unit, series, year, seq)
);
CREATE INDEX letters_register ON letters (tenant, unit, year, series, seq);
CREATE INDEX letters_document ON letters (tenant, document_sha256) WHERE document_sha256 IS NOT NULL;

CREATE FUNCTION alur_letters_fixed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'letters are never deleted; revoke them' USING ERRCODE = 'AL005';
    END IF;
    IF OLD.token IS DISTINCT FROM NEW.token OR OLD.case_id IS DISTINCT FROM NEW.case_id
       OR OLD.unit IS DISTINCT FROM NEW.unit OR OLD.series IS DISTINCT FROM NEW.series
       OR OLD.year IS DISTINCT FROM NEW.year OR OLD.seq IS DISTINCT FROM NEW.seq
       OR OLD.number IS DISTINCT FROM NEW.number OR OLD.tenant IS DISTINCT FROM NEW.tenant
       OR (OLD.document_sha256 IS NOT NULL
           AND OLD.document_sha256 IS DISTINCT FROM NEW.document_sha256) THEN
        RAISE EXCEPTION 'a letter''s number, token and document never change' USING ERRCODE = 'AL005';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER letters_fixed BEFORE UPDATE OR DELETE ON letters
    FOR EACH ROW EXECUTE FUNCTION alur_letters_fixed();

CREATE TABLE letter_documents (
    tenant     text  NOT NULL,
    sha256     text  NOT NULL,
    media_type text  NOT NULL,
    bytes      bytea NOT NULL,
    PRIMARY KEY (tenant, sha256)
);

CREATE FUNCTION alur_letter_check(changed bigint) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF changed <> 1 THEN
        RAISE EXCEPTION 'alur: the letter is not in the state this transition needs'
            USING ERRCODE = 'AL004';
    END IF;
    RETURN changed;
END
$$;
