-- alur PostgreSQL schema, migration 1.
--
-- Conventions
-- * Instants are bigint nanoseconds since the Unix epoch (columns named `*_ns`). An audit entry's
--   `at` is part of its hash, so it must round-trip exactly; timestamptz keeps only microseconds.
--   `alur_ts(ns)` shows one as a timestamptz for people.
-- * Identifiers (tenant, case, unit, role, …) use the "C" collation: byte order, as in Rust, so
--   ordering matches the in-memory store and a unit-prefix search is an index range scan.
-- * Whole values (`Case`, idempotency results, payloads, definitions, audit events and actors)
--   are jsonb; the columns next to them exist for indexes and queries.

CREATE FUNCTION alur_ts(ns bigint) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT to_timestamp((ns / 1000000000.0)::double precision) $$;

-- Service definitions: content by version; the same content (digest) keeps its version.
CREATE TABLE definitions (
    tenant      text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    version     integer NOT NULL CHECK (version >= 1),
    digest      text NOT NULL,
    body        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT definitions_pkey PRIMARY KEY (tenant, id, version),
    CONSTRAINT definitions_digest_key UNIQUE (tenant, id, digest)
);

-- Cases: the full `Case` in `body`; the other columns are copies for indexes.
-- fillfactor 80 leaves room for HOT updates (a transition changes no indexed column).
CREATE TABLE cases (
    tenant              text COLLATE "C" NOT NULL,
    id                  text COLLATE "C" NOT NULL,
    version             bigint NOT NULL CHECK (version >= 0),
    service             text COLLATE "C" NOT NULL,
    definition_version  integer NOT NULL,
    unit                text COLLATE "C" NOT NULL,
    is_open             boolean NOT NULL,
    -- step id while open, outcome when closed
    status              text COLLATE "C" NOT NULL,
    submitted_ns        bigint NOT NULL,
    due_ns              bigint,
    updated_ns          bigint NOT NULL,
    body                jsonb NOT NULL,
    CONSTRAINT cases_pkey PRIMARY KEY (tenant, id)
) WITH (fillfactor = 80);

-- Overdue scan: only open cases with a deadline are in it, so a scan costs what it returns.
CREATE INDEX cases_overdue ON cases (tenant, due_ns, id) WHERE is_open AND due_ns IS NOT NULL;
-- Search: newest first, optionally by service; unit prefix as a range.
CREATE INDEX cases_submitted ON cases (tenant, submitted_ns DESC, id DESC);
CREATE INDEX cases_service ON cases (tenant, service, submitted_ns DESC, id DESC);
CREATE INDEX cases_unit ON cases (tenant, unit);

-- Inbox: one row per (open case, pending role) at the pending unit.
CREATE TABLE inbox (
    tenant        text COLLATE "C" NOT NULL,
    case_id       text COLLATE "C" NOT NULL,
    unit          text COLLATE "C" NOT NULL,
    role          text COLLATE "C" NOT NULL,
    due_ns        bigint,
    submitted_ns  bigint NOT NULL,
    CONSTRAINT inbox_pkey PRIMARY KEY (tenant, case_id, unit, role)
);
CREATE INDEX inbox_post ON inbox (tenant, unit, role, due_ns ASC NULLS LAST, submitted_ns, case_id);

-- The audit log: one hash chain per case, append-only (see the trigger below).
CREATE TABLE audit_entries (
    tenant              text COLLATE "C" NOT NULL,
    case_id             text COLLATE "C" NOT NULL,
    seq                 bigint NOT NULL CHECK (seq >= 1),
    service             text NOT NULL,
    definition_version  integer NOT NULL,
    calendar_version    text,
    event               jsonb NOT NULL,
    actor               jsonb NOT NULL,
    legal_basis         text,
    at_ns               bigint NOT NULL,
    due                 jsonb,
    payload_digest      text,
    prev_hash           text NOT NULL,
    hash                text NOT NULL,
    CONSTRAINT audit_entries_pkey PRIMARY KEY (tenant, case_id, seq)
);

CREATE FUNCTION alur_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'alur: audit_entries is append-only; % is refused (the audit log is never changed or removed)', TG_OP
        USING ERRCODE = 'AL100',
              HINT = 'Personal data lives in the payloads table, which may be erased; audit entries hold only its digest.';
END
$$;

-- Statement-level, so even an UPDATE or DELETE matching no row is refused.
CREATE TRIGGER audit_entries_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION alur_audit_append_only();

-- Personal payloads, apart from the hashed entries; erasable at the end of retention.
CREATE TABLE payloads (
    tenant   text COLLATE "C" NOT NULL,
    case_id  text COLLATE "C" NOT NULL,
    seq      bigint NOT NULL,
    digest   text NOT NULL,
    body     jsonb NOT NULL,
    CONSTRAINT payloads_pkey PRIMARY KEY (tenant, case_id, seq)
);

-- Transactional outbox. `pos` orders messages; lease columns are for delivery workers.
CREATE TABLE outbox (
    pos             bigint GENERATED ALWAYS AS IDENTITY,
    tenant          text COLLATE "C" NOT NULL,
    id              text COLLATE "C" NOT NULL,
    case_id         text COLLATE "C" NOT NULL,
    seq             bigint NOT NULL,
    template        text NOT NULL,
    recipient       text NOT NULL,
    created_ns      bigint NOT NULL,
    delivered_ns    bigint,
    lease_owner     text,
    lease_until_ns  bigint,
    CONSTRAINT outbox_pkey PRIMARY KEY (tenant, id)
);
CREATE INDEX outbox_pending ON outbox (tenant, pos) WHERE delivered_ns IS NULL;

-- Durable timers, claimed with leases (FOR UPDATE SKIP LOCKED).
CREATE TABLE timers (
    tenant          text COLLATE "C" NOT NULL,
    case_id         text COLLATE "C" NOT NULL,
    id              text COLLATE "C" NOT NULL,
    kind            text NOT NULL,
    fire_ns         bigint NOT NULL,
    lease_owner     text,
    lease_until_ns  bigint,
    CONSTRAINT timers_pkey PRIMARY KEY (tenant, case_id, id)
);
CREATE INDEX timers_due ON timers (tenant, fire_ns, id);

CREATE TABLE idempotency (
    tenant          text COLLATE "C" NOT NULL,
    key             text COLLATE "C" NOT NULL,
    command_digest  text NOT NULL,
    result          jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_pkey PRIMARY KEY (tenant, key)
);

CREATE TABLE denials (
    pos      bigint GENERATED ALWAYS AS IDENTITY,
    tenant   text COLLATE "C" NOT NULL,
    case_id  text,
    actor    text NOT NULL,
    command  text NOT NULL,
    reason   text NOT NULL,
    at_ns    bigint NOT NULL,
    CONSTRAINT denials_pkey PRIMARY KEY (pos)
);
CREATE INDEX denials_tenant ON denials (tenant, pos);

-- Called by the transition statement: turns "no row updated" or "fired timer gone" into an
-- error, so the whole statement (its own transaction) is rolled back.
CREATE FUNCTION alur_commit_check(updated bigint, fired bigint, want_fired boolean) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF updated = 0 THEN
        RAISE EXCEPTION 'alur: case version is not the expected one' USING ERRCODE = 'AL001';
    END IF;
    IF want_fired AND fired = 0 THEN
        RAISE EXCEPTION 'alur: timer already fired or was replaced' USING ERRCODE = 'AL002';
    END IF;
    RETURN updated;
END
$$;
