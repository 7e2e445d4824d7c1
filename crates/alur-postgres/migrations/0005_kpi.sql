-- alur PostgreSQL schema, migration 5: the KPI fact tables (crate `alur-kpi`).
--
-- NEVER EDIT THIS FILE once released (see migration 1).
--
-- `pos` is assigned at insert, before commit, so entries may become visible out of `pos` order:
-- a refresh re-reads a margin below the watermark and skips what it already has (`last_seq`).
--
-- Derived data only: every row can be rebuilt from `audit_entries` (drop the rows and the
-- watermark, and the next `alur kpi` rebuilds them). Maintained incrementally by `alur-kpi`
-- from its own connection, in short transactions, reading only entries after the watermark.
-- Instants are Unix seconds; months are `yyyymm` in the tenant's time zone.

-- How far the facts are: the highest `audit_entries.pos` read.
CREATE TABLE kpi_state (
    tenant       text COLLATE "C"    NOT NULL PRIMARY KEY,
    watermark    bigint NOT NULL,
    refreshed_at text    NOT NULL
);

-- One row per case.
CREATE TABLE kpi_cases (
    tenant           text COLLATE "C"    NOT NULL,
    case_id          text COLLATE "C"    NOT NULL,
    unit             text COLLATE "C"    NOT NULL,
    service          text COLLATE "C"    NOT NULL,
    submitted        bigint NOT NULL,
    submitted_month  bigint NOT NULL,
    closed           bigint,            -- NULL while open
    closed_month     bigint,
    outcome          text,               -- completed | rejected | withdrawn
    deemed           bigint NOT NULL,   -- completed by deemed approval (fiktif positif)
    due              bigint,            -- service deadline (the last one recorded)
    on_time          bigint,            -- closed by the deadline (NULL: open, withdrawn, unknown)
    lead_min         bigint,            -- working minutes submitted → closed, applicant time excluded
    paused_min       bigint NOT NULL,   -- working minutes held by the applicant
    returns          bigint NOT NULL,   -- transitions into an applicant step (rework)
    breached_at      bigint,            -- first service-deadline breach
    step_breached_at bigint,            -- first step-deadline breach
    escalated_at     bigint,            -- first escalation to a supervisor
    tier             text,               -- complaint tier id
    tier_on_time     bigint,            -- complaint answered within its tier's time
    last_seq         bigint NOT NULL,   -- audit entries read
    steps_done       bigint NOT NULL,   -- finished step visits added to kpi_steps
    ratings_done     bigint NOT NULL,   -- survey answers added to kpi_skm
    PRIMARY KEY (tenant, case_id)
);
CREATE INDEX kpi_cases_period ON kpi_cases (tenant, submitted);
CREATE INDEX kpi_cases_closed ON kpi_cases (tenant, closed_month, unit);

-- Time spent per step and role (additive: visits and working minutes by month of leaving).
CREATE TABLE kpi_steps (
    tenant  text COLLATE "C"    NOT NULL,
    unit    text COLLATE "C"    NOT NULL,
    service text COLLATE "C"    NOT NULL,
    month   bigint NOT NULL,
    step    text COLLATE "C"    NOT NULL,
    role    text COLLATE "C"    NOT NULL,
    visits  bigint NOT NULL,
    minutes bigint NOT NULL,
    PRIMARY KEY (tenant, month, unit, service, step, role)
);

-- Satisfaction survey answers (SKM, Permenpan-RB 14/2017), additive by month answered:
-- respondents and the sum of each of the nine elements' scores (1–4).
CREATE TABLE kpi_skm (
    tenant  text COLLATE "C"    NOT NULL,
    unit    text COLLATE "C"    NOT NULL,
    service text COLLATE "C"    NOT NULL,
    month   bigint NOT NULL,
    n       bigint NOT NULL,
    u1 bigint NOT NULL, u2 bigint NOT NULL, u3 bigint NOT NULL,
    u4 bigint NOT NULL, u5 bigint NOT NULL, u6 bigint NOT NULL,
    u7 bigint NOT NULL, u8 bigint NOT NULL, u9 bigint NOT NULL,
    PRIMARY KEY (tenant, month, unit, service)
);
