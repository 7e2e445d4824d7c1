-- alur SQLite schema, migration 6: the KPI fact tables (crate `alur-kpi`).
--
-- NEVER EDIT THIS FILE once released (see migration 1).
--
-- Derived data only: every row can be rebuilt from `audit_entries` (drop the rows and the
-- watermark, and the next `alur kpi` rebuilds them). Maintained incrementally by `alur-kpi`
-- from its own connection, in short transactions, reading only entries after the watermark.
-- Instants are Unix seconds; months are `yyyymm` in the tenant's time zone.

-- How far the facts are: the highest `audit_entries.pos` read.
CREATE TABLE kpi_state (
    tenant       TEXT    NOT NULL PRIMARY KEY,
    watermark    INTEGER NOT NULL,
    refreshed_at TEXT    NOT NULL
) STRICT;

-- One row per case.
CREATE TABLE kpi_cases (
    tenant           TEXT    NOT NULL,
    case_id          TEXT    NOT NULL,
    unit             TEXT    NOT NULL,
    service          TEXT    NOT NULL,
    submitted        INTEGER NOT NULL,
    submitted_month  INTEGER NOT NULL,
    closed           INTEGER,            -- NULL while open
    closed_month     INTEGER,
    outcome          TEXT,               -- completed | rejected | withdrawn
    deemed           INTEGER NOT NULL,   -- completed by deemed approval (fiktif positif)
    due              INTEGER,            -- service deadline (the last one recorded)
    on_time          INTEGER,            -- closed by the deadline (NULL: open, withdrawn, unknown)
    lead_min         INTEGER,            -- working minutes submitted → closed, applicant time excluded
    paused_min       INTEGER NOT NULL,   -- working minutes held by the applicant
    returns          INTEGER NOT NULL,   -- transitions into an applicant step (rework)
    breached_at      INTEGER,            -- first service-deadline breach
    step_breached_at INTEGER,            -- first step-deadline breach
    escalated_at     INTEGER,            -- first escalation to a supervisor
    tier             TEXT,               -- complaint tier id
    tier_on_time     INTEGER,            -- complaint answered within its tier's time
    last_seq         INTEGER NOT NULL,   -- audit entries read
    steps_done       INTEGER NOT NULL,   -- finished step visits added to kpi_steps
    ratings_done     INTEGER NOT NULL,   -- survey answers added to kpi_skm
    PRIMARY KEY (tenant, case_id)
) STRICT;
CREATE INDEX kpi_cases_period ON kpi_cases (tenant, submitted);
CREATE INDEX kpi_cases_closed ON kpi_cases (tenant, closed_month, unit);

-- Time spent per step and role (additive: visits and working minutes by month of leaving).
CREATE TABLE kpi_steps (
    tenant  TEXT    NOT NULL,
    unit    TEXT    NOT NULL,
    service TEXT    NOT NULL,
    month   INTEGER NOT NULL,
    step    TEXT    NOT NULL,
    role    TEXT    NOT NULL,
    visits  INTEGER NOT NULL,
    minutes INTEGER NOT NULL,
    PRIMARY KEY (tenant, month, unit, service, step, role)
) STRICT, WITHOUT ROWID;

-- Satisfaction survey answers (SKM, Permenpan-RB 14/2017), additive by month answered:
-- respondents and the sum of each of the nine elements' scores (1–4).
CREATE TABLE kpi_skm (
    tenant  TEXT    NOT NULL,
    unit    TEXT    NOT NULL,
    service TEXT    NOT NULL,
    month   INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    u1 INTEGER NOT NULL, u2 INTEGER NOT NULL, u3 INTEGER NOT NULL,
    u4 INTEGER NOT NULL, u5 INTEGER NOT NULL, u6 INTEGER NOT NULL,
    u7 INTEGER NOT NULL, u8 INTEGER NOT NULL, u9 INTEGER NOT NULL,
    PRIMARY KEY (tenant, month, unit, service)
) STRICT, WITHOUT ROWID;
