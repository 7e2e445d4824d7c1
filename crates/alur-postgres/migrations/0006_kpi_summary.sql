-- alur PostgreSQL schema, migration 6: a month summary of the KPI case facts (crate `alur-kpi`),
-- so a report over whole months (a month, a quarter, a year) reads a few rows per unit, service
-- and month instead of every case.
--
-- NEVER EDIT THIS FILE once released (see migration 1).
--
-- Derived data only, like migration 5: `alur-kpi` rebuilds the summary from `kpi_cases` when
-- `kpi_summary_state` has no row for the tenant (so a database migrated with facts already in
-- it is summarised by the next refresh) or names another time zone. A refresh that changes
-- case rows marks, in the same transaction, the months whose summary rows the change affects
-- (`kpi_summary_dirty`) and then recomputes those months; a report falls back to reading the
-- cases while a month it needs is marked.

-- One row per (anchor month, unit, service, complaint tier, lo, hi): the figures of the cases
-- whose instant of that kind (submitted, closed, deadline breach, step-deadline breach,
-- escalation) lies in `month`. A figure counts in a report of months [a, b] when
-- a <= lo AND hi <= b: `lo` is the month the case closed when that is before `month`, else
-- `month`; `hi` the month it was submitted when that is after `month`, else `month` (so for
-- ordinary cases lo = hi = month, and the rule equals the case-level filter "submitted before
-- the period ends and not closed before it starts").
CREATE TABLE kpi_summary (
    tenant         text COLLATE "C" NOT NULL,
    month          bigint NOT NULL,
    unit           text COLLATE "C" NOT NULL,
    service        text COLLATE "C" NOT NULL,
    tier           text COLLATE "C",
    lo             bigint NOT NULL,
    hi             bigint NOT NULL,
    received       bigint NOT NULL,  -- submitted in the month
    closed         bigint NOT NULL,  -- closed in the month, any outcome
    completed      bigint NOT NULL,
    rejected       bigint NOT NULL,
    withdrawn      bigint NOT NULL,
    deemed         bigint NOT NULL,
    on_time        bigint NOT NULL,  -- decisions (completed or refused) by the deadline
    with_deadline  bigint NOT NULL,  -- decisions with a known deadline
    returns        bigint NOT NULL,  -- returns of the cases closed
    reworked       bigint NOT NULL,  -- cases closed that were returned at least once
    breached       bigint NOT NULL,
    step_breached  bigint NOT NULL,
    escalated      bigint NOT NULL,
    tier_in_time   bigint NOT NULL,  -- decisions within the complaint tier's time
    lead           bigint[] NOT NULL -- working-minute lead times of the decisions (every sample)
);
CREATE INDEX kpi_summary_month ON kpi_summary (tenant, month, unit);

-- The tenants whose summary is built, and the zone its months were cut in.
CREATE TABLE kpi_summary_state (
    tenant    text COLLATE "C" NOT NULL PRIMARY KEY,
    zone      text NOT NULL,
    built_at  text NOT NULL
);

-- Months to recompute; `version` grows with every mark, so a recompute removes only the marks
-- it has seen.
CREATE TABLE kpi_summary_dirty (
    tenant   text COLLATE "C" NOT NULL,
    month    bigint NOT NULL,
    version  bigint NOT NULL,
    PRIMARY KEY (tenant, month)
);

-- Recomputing a month finds its breaches and escalations by instant.
CREATE INDEX kpi_cases_breached ON kpi_cases (tenant, breached_at) WHERE breached_at IS NOT NULL;
CREATE INDEX kpi_cases_step_breached ON kpi_cases (tenant, step_breached_at)
    WHERE step_breached_at IS NOT NULL;
CREATE INDEX kpi_cases_escalated ON kpi_cases (tenant, escalated_at) WHERE escalated_at IS NOT NULL;

-- The backlog at an instant t (submitted < t <= closed, or still open): the open cases, read from
-- this small index alone, and the cases closed in t's month or later but submitted before t,
-- one short range per closing month.
CREATE INDEX kpi_cases_open ON kpi_cases (tenant, submitted) INCLUDE (unit, service)
    WHERE closed IS NULL;
CREATE INDEX kpi_cases_closed_submitted ON kpi_cases (tenant, closed_month, submitted)
    WHERE closed_month IS NOT NULL;

