//! The SQL this store sends. Statements are fixed text (a transition's is assembled from fixed
//! parts) and runtime-checked; values are always bound, never formatted in.
//!
//! A transition is ONE statement (one round trip, its own transaction): a data-modifying CTE
//! whose first part writes the case with the version check (`u`), and whose other parts all read
//! `FROM u` (or `EXISTS (SELECT 1 FROM u)`), so they write nothing unless the case was written.
//! The final `SELECT alur_commit_check(…)` raises `AL001` when `u` wrote no row and `AL002` when
//! the fired timer was gone, which aborts the statement: PostgreSQL rolls the whole transaction
//! back, and no further statement is ever sent on it.
//!
//! Lock order inside the statement is always the case row first (`u`), then its timers and inbox
//! rows (their CTEs wait on `u`), so two transitions of one case cannot deadlock, and timer claims
//! (`FOR UPDATE SKIP LOCKED`, timers only) never wait on a case.
//!
//! Parameters of the transition statement:
//!
//! | # | value | # | value |
//! |---|---|---|---|
//! | 1 | tenant | 2 | case id |
//! | 3 | expected version | 4 | new version |
//! | 5 | service | 6 | definition version |
//! | 7 | unit | 8 | is open |
//! | 9 | status (step or outcome) | 10 | submitted_ns |
//! | 11 | due_ns | 12 | updated_ns |
//! | 13 | case json | 14 | pending unit (inbox), NULL when none |
//! | 15 | pending roles | 16–26 | audit entry columns (arrays) |
//! | 27–29 | payloads (seq, digest, json) | 30–34 | outbox (id, seq, template, recipient, created_ns) |
//! | 35–37 | timers (id, kind, fire_ns) | 38 | replace timers |
//! | 39 | fired timer | 40–42 | idempotency (key, digest, result json) |
//! | 43 | audit entry `due` (array) | 44 | letter operation (jsonb), NULL when none |
//!
//! Every variant binds all 44 parameters (with their types), whichever it references.

/// Which optional parts a transition statement needs. Parts a transition does not use are left
/// out of its statement (no relation opened, no plan node initialised for them); each variant is
/// a separate prepared statement, cached per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Parts {
    pub(crate) create: bool,
    pub(crate) fired: bool,
    pub(crate) replace: bool,
    pub(crate) timers: bool,
    pub(crate) entries: bool,
    pub(crate) payloads: bool,
    pub(crate) outbox: bool,
    pub(crate) idempotency: bool,
    /// 0: no letter; 1: number; 2: issue; 3: revoke.
    pub(crate) letter: u8,
}

/// Case creation (`expected_version == 0`): a plain INSERT; an existing case is a unique
/// violation on `cases_pkey`, mapped to `Conflict`.
const CREATE: &str = "
WITH u AS (
    INSERT INTO cases (tenant, id, version, service, definition_version, unit, is_open, status,
                       submitted_ns, due_ns, updated_ns, body)
    SELECT $1, $2, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb
    WHERE $3::int8 = 0
    RETURNING id
)";

/// Update with the version check.
const UPDATE: &str = "
WITH u AS (
    UPDATE cases
    SET version = $4, service = $5, definition_version = $6, unit = $7, is_open = $8, status = $9,
        submitted_ns = $10, due_ns = $11, updated_ns = $12, body = $13::jsonb
    WHERE tenant = $1 AND id = $2 AND version = $3
    RETURNING id
)";

/// The fired timer must still be there: deleted here, counted by the final check.
const FIRED: &str = ",
ft AS (
    DELETE FROM timers
    WHERE tenant = $1 AND case_id = $2 AND id = $39::text AND EXISTS (SELECT 1 FROM u)
    RETURNING id
)";

/// `replace_timers`: the case's other timers go (the fired one is `ft`'s).
const REPLACE: &str = ",
rt AS (
    DELETE FROM timers
    WHERE tenant = $1 AND case_id = $2 AND id IS DISTINCT FROM $39::text
      AND EXISTS (SELECT 1 FROM u)
)";

/// New timers. A timer set again under the same id (possibly one `rt` drops in this very
/// statement) is an upsert without lease, whatever order PostgreSQL runs the CTEs in.
const TIMERS_HEAD: &str = ",
ti AS (
    INSERT INTO timers AS t (tenant, case_id, id, kind, fire_ns)
    SELECT $1, $2, x.id, x.kind, x.fire_ns
    FROM u, unnest($35::text[], $36::text[], $37::int8[]) AS x(id, kind, fire_ns)";
/// Re-setting the fired timer: wait for `ft` to have deleted it first.
const TIMERS_AFTER_FIRED: &str = "
    WHERE (SELECT count(*) FROM ft) >= 0";
const TIMERS_TAIL: &str = "
    ON CONFLICT (tenant, case_id, id) DO UPDATE
    SET kind = EXCLUDED.kind, fire_ns = EXCLUDED.fire_ns, lease_owner = NULL, lease_until_ns = NULL
)";

const PART_ENTRIES: &str = ",
ae AS (
    INSERT INTO audit_entries (tenant, case_id, seq, service, definition_version, calendar_version,
                               event, actor, legal_basis, at_ns, due, payload_digest, prev_hash,
                               hash)
    SELECT $1, $2, x.seq, x.service, x.dv, x.cv, x.ev::jsonb, x.ac::jsonb, x.lb, x.at_ns,
           x.due::jsonb, x.pd, x.ph, x.h
    FROM u, unnest($16::int8[], $17::text[], $18::int4[], $19::text[], $20::text[], $21::text[],
                   $22::text[], $23::int8[], $24::text[], $25::text[], $26::text[], $43::text[])
            AS x(seq, service, dv, cv, ev, ac, lb, at_ns, pd, ph, h, due)
)";

const PART_PAYLOADS: &str = ",
pl AS (
    INSERT INTO payloads (tenant, case_id, seq, digest, body)
    SELECT $1, $2, x.seq, x.digest, x.body::jsonb
    FROM u, unnest($27::int8[], $28::text[], $29::text[]) AS x(seq, digest, body)
)";

const PART_OUTBOX: &str = ",
ob AS (
    INSERT INTO outbox (tenant, id, case_id, seq, template, recipient, created_ns)
    SELECT $1, x.id, $2, x.seq, x.template, x.recipient, x.created_ns
    FROM u, unnest($30::text[], $31::int8[], $32::text[], $33::text[], $34::int8[])
            WITH ORDINALITY AS x(id, seq, template, recipient, created_ns, ord)
    ORDER BY x.ord
)";

const PART_IDEMPOTENCY: &str = ",
ik AS (
    INSERT INTO idempotency (tenant, key, command_digest, result)
    SELECT $1, $40::text, $41::text, $42::jsonb FROM u
)";

/// Number a letter: the series counter goes up by one (its row stays locked until the statement's
/// transaction ends, so concurrent approvals of one series queue here), the letter takes it.
const PART_LETTER_NUMBER: &str = ",
lc AS (
    INSERT INTO letter_counters AS c (tenant, unit, series, year, last)
    SELECT $1, l.unit, l.series, l.year, 1
    FROM u, jsonb_to_record($44::jsonb) AS l(unit text, series text, year int4)
    ON CONFLICT (tenant, unit, series, year) DO UPDATE SET last = c.last + 1
    RETURNING c.unit, c.series, c.year, c.last
),
ln AS (
    INSERT INTO letters (tenant, token, case_id, unit, service, series, year, seq, number, status,
                         numbered_ns)
    SELECT $1, l.token, $2, lc.unit, l.service, lc.series, lc.year, lc.last,
           replace(l.pattern_text, '{nomor}',
                   CASE WHEN length(lc.last::text) >= l.width THEN lc.last::text
                        ELSE lpad(lc.last::text, l.width, '0') END),
           'numbered', l.at_ns
    FROM lc, jsonb_to_record($44::jsonb)
             AS l(token text, service text, pattern_text text, width int4, at_ns int8)
)";

/// Issue a numbered letter of this case whose document is stored.
const PART_LETTER_ISSUE: &str = ",
li AS (
    UPDATE letters SET status = 'issued', issued_ns = l.at_ns, valid_until = l.valid_until::date,
           document_sha256 = l.document_sha256, media_type = l.media_type, signer = l.signer
    FROM u, jsonb_to_record($44::jsonb) AS l(token text, at_ns int8, valid_until text,
                                             document_sha256 text, media_type text, signer jsonb)
    WHERE letters.tenant = $1 AND letters.token = l.token AND letters.case_id = $2
      AND letters.status = 'numbered'
      AND EXISTS (SELECT 1 FROM letter_documents d
                  WHERE d.tenant = $1 AND d.sha256 = l.document_sha256)
    RETURNING 1
)";

/// Revoke an issued letter of this case.
const PART_LETTER_REVOKE: &str = ",
li AS (
    UPDATE letters SET status = 'revoked', revoked_ns = l.at_ns
    FROM u, jsonb_to_record($44::jsonb) AS l(token text, at_ns int8)
    WHERE letters.tenant = $1 AND letters.token = l.token AND letters.case_id = $2
      AND letters.status = 'issued'
    RETURNING 1
)";

/// Inbox rows follow the case's pending (unit, roles): rows no longer pending go, rows still
/// pending get the new deadline, new ones come. The three sets are disjoint, so the primary key
/// holds whatever order PostgreSQL runs them in; an unchanged inbox writes nothing.
const PART_INBOX: &str = ",
ib_del AS (
    DELETE FROM inbox i
    WHERE i.tenant = $1 AND i.case_id = $2 AND EXISTS (SELECT 1 FROM u)
      AND (i.unit = $14::text AND i.role = ANY ($15::text[])) IS NOT TRUE
),
ib_upd AS (
    UPDATE inbox i SET due_ns = $11, submitted_ns = $10
    WHERE i.tenant = $1 AND i.case_id = $2 AND EXISTS (SELECT 1 FROM u)
      AND i.unit = $14::text AND i.role = ANY ($15::text[])
      AND (i.due_ns IS DISTINCT FROM $11 OR i.submitted_ns <> $10)
),
ib_ins AS (
    INSERT INTO inbox (tenant, case_id, unit, role, due_ns, submitted_ns)
    SELECT $1, $2, $14::text, r.role, $11, $10
    FROM u, unnest($15::text[]) AS r(role)
    WHERE $14::text IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM inbox i
                      WHERE i.tenant = $1 AND i.case_id = $2 AND i.unit = $14::text
                        AND i.role = r.role)
)";

const CHECK_FIRED: &str = "
SELECT alur_commit_check((SELECT count(*) FROM u), (SELECT count(*) FROM ft), true)";
const CHECK: &str = "
SELECT alur_commit_check((SELECT count(*) FROM u), 0, false)";

/// The statement for a transition needing `parts`.
pub(crate) fn transition(parts: Parts) -> String {
    let mut sql = String::with_capacity(4096);
    sql.push_str(if parts.create { CREATE } else { UPDATE });
    if parts.fired {
        sql.push_str(FIRED);
    }
    if parts.replace {
        sql.push_str(REPLACE);
    }
    if parts.timers {
        sql.push_str(TIMERS_HEAD);
        if parts.fired {
            sql.push_str(TIMERS_AFTER_FIRED);
        }
        sql.push_str(TIMERS_TAIL);
    }
    if parts.entries {
        sql.push_str(PART_ENTRIES);
    }
    if parts.payloads {
        sql.push_str(PART_PAYLOADS);
    }
    if parts.outbox {
        sql.push_str(PART_OUTBOX);
    }
    if parts.idempotency {
        sql.push_str(PART_IDEMPOTENCY);
    }
    match parts.letter {
        1 => sql.push_str(PART_LETTER_NUMBER),
        2 => sql.push_str(PART_LETTER_ISSUE),
        3 => sql.push_str(PART_LETTER_REVOKE),
        _ => {}
    }
    sql.push_str(PART_INBOX);
    sql.push_str(if parts.fired { CHECK_FIRED } else { CHECK });
    if matches!(parts.letter, 2 | 3) {
        sql.push_str(", alur_letter_check((SELECT count(*) FROM li))");
    }
    sql
}

/// Register a definition's content: the existing version for a known digest, else latest + 1.
pub(crate) const PUT_DEFINITION: &str = "
WITH ex AS (
    SELECT version FROM definitions WHERE tenant = $1 AND id = $2 AND digest = $3
),
ins AS (
    INSERT INTO definitions (tenant, id, version, digest, body)
    SELECT $1, $2,
           COALESCE((SELECT max(version) FROM definitions WHERE tenant = $1 AND id = $2), 0) + 1,
           $3, $4::jsonb
    WHERE NOT EXISTS (SELECT 1 FROM ex)
    RETURNING version
)
SELECT version FROM ex UNION ALL SELECT version FROM ins";

pub(crate) const DEFINITION_DIGEST: &str =
    "SELECT digest FROM definitions WHERE tenant = $1 AND id = $2 AND version = $3";

pub(crate) const CASE: &str = "SELECT body::text FROM cases WHERE tenant = $1 AND id = $2";

pub(crate) const ENTRIES: &str = "
SELECT seq, service, definition_version, calendar_version, event::text, actor::text, legal_basis,
       at_ns, payload_digest, prev_hash, hash, due::text
FROM audit_entries WHERE tenant = $1 AND case_id = $2 ORDER BY seq";

/// A case and its chain head in one statement (one snapshot).
pub(crate) const CASE_WITH_HEAD: &str = "
SELECT c.body::text, h.seq, h.hash FROM cases c
LEFT JOIN LATERAL (SELECT seq, hash FROM audit_entries
                   WHERE tenant = $1 AND case_id = $2 ORDER BY seq DESC LIMIT 1) h ON true
WHERE c.tenant = $1 AND c.id = $2";

pub(crate) const CHAIN_HEAD: &str = "
SELECT seq, hash FROM audit_entries WHERE tenant = $1 AND case_id = $2 ORDER BY seq DESC LIMIT 1";

pub(crate) const PAYLOAD: &str =
    "SELECT body::text FROM payloads WHERE tenant = $1 AND case_id = $2 AND seq = $3";

/// Closed cases last changed before `$3` that still hold payloads (after id `$2`, at most `$4`),
/// with the sequence numbers of their payloads. One pass over the tenant's cases in id order.
pub(crate) const ERASABLE: &str = "
WITH c AS (
    SELECT id FROM cases AS c
    WHERE tenant = $1 AND id > $2 AND NOT is_open AND updated_ns < $3
      AND EXISTS (SELECT 1 FROM payloads AS p WHERE p.tenant = $1 AND p.case_id = c.id)
    ORDER BY id
    LIMIT $4
)
SELECT p.case_id, p.seq FROM c JOIN payloads AS p ON p.tenant = $1 AND p.case_id = c.id
ORDER BY p.case_id, p.seq";

pub(crate) const IDEMPOTENCY: &str =
    "SELECT command_digest, result::text FROM idempotency WHERE tenant = $1 AND key = $2";

/// Each post is an index range scan of `inbox_post` (at most `limit` rows), merged.
pub(crate) const INBOX: &str = "
SELECT c.body::text
FROM (
    SELECT DISTINCT ON (x.case_id) x.case_id, x.due_ns, x.submitted_ns
    FROM unnest($2::text[], $3::text[]) AS p(role, unit)
    CROSS JOIN LATERAL (
        SELECT i.case_id, i.due_ns, i.submitted_ns
        FROM inbox i
        WHERE i.tenant = $1 AND i.unit = p.unit AND i.role = p.role
        ORDER BY i.due_ns ASC NULLS LAST, i.submitted_ns, i.case_id
        LIMIT $4
    ) AS x
) AS m
JOIN cases c ON c.tenant = $1 AND c.id = m.case_id AND c.is_open
ORDER BY m.due_ns ASC NULLS LAST, m.submitted_ns, m.case_id
LIMIT $4";

pub(crate) const RECORD_DENIAL: &str = "
INSERT INTO denials (tenant, case_id, actor, command, reason, at_ns)
VALUES ($1, $2, $3, $4, $5, $6)";

pub(crate) const DENIALS: &str = "
SELECT case_id, actor, command, reason, at_ns FROM denials WHERE tenant = $1 ORDER BY pos";

pub(crate) const PENDING_OUTBOX: &str = "
SELECT id, case_id, seq, template, recipient, created_ns
FROM outbox WHERE tenant = $1 AND delivered_ns IS NULL ORDER BY pos LIMIT $2";

pub(crate) const TIMERS: &str = "
SELECT case_id, id, kind, fire_ns FROM timers
WHERE tenant = $1 AND case_id = $2 ORDER BY fire_ns, id";

/// Due timers that are free (no lease, an expired one, or our own), locked with SKIP LOCKED so
/// concurrent claimers pass each other by, then leased. Under READ COMMITTED a row whose lease
/// another claimer committed meanwhile is re-checked against the WHERE clause and dropped.
pub(crate) const CLAIM_TIMERS: &str = "
WITH c AS (
    SELECT tenant, case_id, id FROM timers
    WHERE tenant = $1 AND fire_ns <= $2
      AND (lease_until_ns IS NULL OR lease_until_ns <= $2 OR lease_owner = $3)
    ORDER BY fire_ns, id
    LIMIT $5
    FOR UPDATE SKIP LOCKED
)
UPDATE timers t SET lease_owner = $3, lease_until_ns = $4
FROM c
WHERE t.tenant = c.tenant AND t.case_id = c.case_id AND t.id = c.id
RETURNING t.case_id, t.id, t.kind, t.fire_ns";

/// Open cases past their deadline, from the partial index `cases_overdue`.
pub(crate) const OVERDUE: &str = "
SELECT id, service, unit, due_ns FROM cases
WHERE tenant = $1 AND is_open AND due_ns IS NOT NULL AND due_ns < $2
ORDER BY due_ns, id
LIMIT $3";

/// Entries no log leaf names, in commit order (`audit_entries_order`), anti-joined with the
/// leaves by `tenant_log_entry_key`. `pos` is taken at insert time, so of two concurrent commits
/// the later `pos` may become visible first; the anti-join (not a `pos` watermark) still picks
/// the other up on a later call. Within a case `pos` follows `seq`. The scan passes over the
/// tenant's sequenced entries on each call (index lookups only).
pub(crate) const UNSEQUENCED: &str = "
SELECT a.case_id, a.seq, a.hash
FROM audit_entries a
WHERE a.tenant = $1
  AND NOT EXISTS (SELECT 1 FROM tenant_log l
                  WHERE l.tenant = $1 AND l.case_id = a.case_id AND l.seq = a.seq)
ORDER BY a.pos
LIMIT $2";

/// Append leaves at `$2 ..`: the size is checked and every leaf must name a stored entry with its
/// hash (`alur_log_check` raises AL003, rolling the statement back). A racing integrator that
/// read the same size blocks on `tenant_log_pkey` and then fails with a unique violation.
pub(crate) const APPEND_LOG: &str = "
WITH sz AS (
    SELECT COALESCE((SELECT idx + 1 FROM tenant_log WHERE tenant = $1 ORDER BY idx DESC LIMIT 1), 0) AS n
),
x AS (
    SELECT * FROM unnest($3::text[], $4::int8[], $5::text[]) WITH ORDINALITY AS x(case_id, seq, hash, ord)
),
m AS (
    SELECT count(*) AS n FROM x
    JOIN audit_entries a ON a.tenant = $1 AND a.case_id = x.case_id AND a.seq = x.seq
                        AND a.hash = x.hash
),
ins AS (
    INSERT INTO tenant_log (tenant, idx, case_id, seq, hash)
    SELECT $1, $2 + x.ord - 1, x.case_id, x.seq, x.hash FROM x
    WHERE (SELECT n FROM sz) = $2 AND (SELECT n FROM m) = $6
    ORDER BY x.ord
    RETURNING 1
)
SELECT alur_log_check((SELECT n FROM sz), $2, (SELECT n FROM m), $6) + 0 * (SELECT count(*) FROM ins)";

pub(crate) const LOG_LEAVES: &str = "
SELECT idx, case_id, seq, hash FROM tenant_log
WHERE tenant = $1 AND idx >= $2 AND idx < $3 ORDER BY idx";

/// One index lookup (`tenant_log_pkey`, backwards).
pub(crate) const LOG_SIZE: &str = "
SELECT COALESCE((SELECT idx + 1 FROM tenant_log WHERE tenant = $1 ORDER BY idx DESC LIMIT 1), 0)";

pub(crate) const PUT_CHECKPOINT: &str = "
INSERT INTO checkpoints (tenant, size, note) VALUES ($1, $2, $3)
ON CONFLICT (tenant, size) DO NOTHING";

pub(crate) const CHECKPOINTS: &str =
    "SELECT size, note FROM checkpoints WHERE tenant = $1 ORDER BY size";

/// Keyset pages of a tenant's entries by (case_id, seq), an index range scan of
/// `audit_entries_pkey`; columns as [`ENTRIES`], then the case id.
pub(crate) const ALL_ENTRIES_FIRST: &str = "
SELECT seq, service, definition_version, calendar_version, event::text, actor::text, legal_basis,
       at_ns, payload_digest, prev_hash, hash, due::text, case_id
FROM audit_entries
WHERE tenant = $1
ORDER BY case_id, seq
LIMIT $2";

pub(crate) const ALL_ENTRIES_AFTER: &str = "
SELECT seq, service, definition_version, calendar_version, event::text, actor::text, legal_basis,
       at_ns, payload_digest, prev_hash, hash, due::text, case_id
FROM audit_entries
WHERE tenant = $1 AND (case_id, seq) > ($2::text COLLATE \"C\", $3::int8)
ORDER BY case_id, seq
LIMIT $4";

/// Entries of a reserved chain (no case row), as one statement: they are inserted only when the
/// first continues the stored chain (`$4` = its seq - 1, `$5` = the hash before it); a racing
/// appender that read the same head fails on `audit_entries_pkey`. Returns the rows inserted.
pub(crate) const APPEND_CHAIN: &str = "
WITH head AS (
    SELECT COALESCE(max(seq), 0) AS seq,
           COALESCE((SELECT hash FROM audit_entries
                      WHERE tenant = $1 AND case_id = $2 ORDER BY seq DESC LIMIT 1),
                    '0000000000000000000000000000000000000000000000000000000000000000') AS hash
    FROM audit_entries WHERE tenant = $1 AND case_id = $2
),
ins AS (
    INSERT INTO audit_entries (tenant, case_id, seq, service, definition_version, calendar_version,
                               event, actor, legal_basis, at_ns, due, payload_digest, prev_hash,
                               hash)
    SELECT $1, $2, (x->>'seq')::int8, x->>'service', (x->>'dv')::int4, x->>'cv', x->'ev',
           x->'ac', x->>'lb', (x->>'at')::int8, NULLIF(x->'due', 'null'::jsonb), x->>'pd',
           x->>'ph', x->>'h'
    FROM head, jsonb_array_elements($3::jsonb) WITH ORDINALITY AS j(x, ord)
    WHERE head.seq = $4 AND head.hash = $5
    ORDER BY j.ord
    RETURNING 1
)
SELECT count(*) FROM ins";
