-- alur SQLite schema, migration 8: rebuild the KPI facts (crate `alur-kpi`).
--
-- NEVER EDIT THIS FILE once released (see migration 1).
--
-- Facts derived before this version held a decision made before the service clock started
-- against a deadline computed from submission, which the engine never recorded (counted as on
-- time or late). The facts are derived data (see migration 6): dropping the rows and the
-- watermark makes the next refresh rebuild them from `audit_entries` with the rule in force
-- ("on time against the deadline the engine recorded"). Nothing in the audit log changes.
DELETE FROM kpi_skm;
DELETE FROM kpi_steps;
DELETE FROM kpi_cases;
DELETE FROM kpi_state;
