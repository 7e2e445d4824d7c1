-- alur PostgreSQL schema, migration 2: the tenant Merkle log and signed checkpoints.
--
-- * `audit_entries.pos` records insertion (commit) order; the transition statement does not name
--   it (identity default), so commits stay one statement. Adding the column rewrites the table
--   without firing the append-only trigger; rows present before this migration are numbered in
--   their physical order.
-- * `tenant_log` holds the leaves, contiguous from 0 per tenant; `checkpoints` the signed notes.
--   Both are append-only like `audit_entries`.

ALTER TABLE audit_entries ADD COLUMN pos bigint GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX audit_entries_order ON audit_entries (tenant, pos);

CREATE TABLE tenant_log (
    tenant   text COLLATE "C" NOT NULL,
    idx      bigint NOT NULL CHECK (idx >= 0),
    case_id  text COLLATE "C" NOT NULL,
    seq      bigint NOT NULL CHECK (seq >= 1),
    hash     text NOT NULL,
    CONSTRAINT tenant_log_pkey PRIMARY KEY (tenant, idx),
    CONSTRAINT tenant_log_entry_key UNIQUE (tenant, case_id, seq)
);

CREATE TABLE checkpoints (
    tenant      text COLLATE "C" NOT NULL,
    size        bigint NOT NULL CHECK (size >= 0),
    note        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT checkpoints_pkey PRIMARY KEY (tenant, size)
);

CREATE FUNCTION alur_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'alur: % is append-only; % is refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'AL100';
END
$$;

CREATE TRIGGER tenant_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON tenant_log
    FOR EACH STATEMENT EXECUTE FUNCTION alur_append_only();

CREATE TRIGGER checkpoints_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION alur_append_only();

-- Called by the append statement: the log must have the expected size and every leaf must name
-- a stored entry with its hash, else the statement (its own transaction) is rolled back.
CREATE FUNCTION alur_log_check(size bigint, expected bigint, matched bigint, given bigint)
    RETURNS bigint
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF size <> expected THEN
        RAISE EXCEPTION 'alur: tenant log size is %, expected %', size, expected
            USING ERRCODE = 'AL003';
    END IF;
    IF matched <> given THEN
        RAISE EXCEPTION 'alur: % of % leaves do not name a stored audit entry with that hash',
            given - matched, given
            USING ERRCODE = 'AL003';
    END IF;
    RETURN given;
END
$$;
