-- alur PostgreSQL schema, migration 8: rebuild the KPI facts and their month summary (crate
-- `alur-kpi`).
--
-- NEVER EDIT THIS FILE once released (see migration 1).
--
-- Facts derived before this version held a decision made before the service clock started
-- against a deadline computed from submission, which the engine never recorded (counted as on
-- time or late). The facts and the summary are derived data (see migrations 5 and 6): dropping
-- the rows, the watermark and the summary state makes the next refresh rebuild them from
-- `audit_entries` with the rule in force ("on time against the deadline the engine recorded").
-- Nothing in the audit log changes.
DELETE FROM kpi_summary_dirty;
DELETE FROM kpi_summary;
DELETE FROM kpi_summary_state;
DELETE FROM kpi_skm;
DELETE FROM kpi_steps;
DELETE FROM kpi_cases;
DELETE FROM kpi_state;
