//! Column encodings and the SQL of one transition.

use std::sync::Arc;

use alur_core::audit::AuditEntry;
use alur_core::letter::LetterOp;
use alur_core::store::{StoreError, Transition};
use alur_core::{Case, Status};
use jiff::Timestamp;
use serde::Serialize;

use crate::error::{corrupt, invalid};

/// Seconds from the Unix epoch back to 0000-01-01T00:00:00Z: earlier instants would print with a
/// sign and break the fixed width (and so the text order) of stored timestamps.
const YEAR_ZERO: i64 = -62_167_219_200;

/// A timestamp as stored: RFC 3339 UTC with exactly nine fractional digits, so that text order is
/// time order and no nanosecond is lost (audit hashes cover them).
pub(crate) fn ts(t: Timestamp) -> Result<String, StoreError> {
    if t.as_second() < YEAR_ZERO {
        return Err(invalid(format!(
            "timestamp {t} is before year 0 and cannot be stored"
        )));
    }
    Ok(format!("{t:.9}"))
}

/// Parse a stored timestamp.
pub(crate) fn parse_ts(s: &str) -> Result<Timestamp, StoreError> {
    s.parse().map_err(|e| corrupt("timestamp", e))
}

/// The `status` column: `open:<step>` or `closed:<outcome>`.
pub(crate) fn status(s: &Status) -> String {
    match s {
        Status::Open(step) => format!("open:{step}"),
        Status::Closed(o) => format!("closed:{}", o.as_str()),
    }
}

/// A bound value. Text is shared so that a value bound in several statements is not copied.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Text(Arc<str>),
    Int(i64),
    Blob(Arc<[u8]>),
    Null,
}

impl Param {
    fn text(s: impl Into<Arc<str>>) -> Self {
        Self::Text(s.into())
    }
    fn opt(s: Option<impl Into<Arc<str>>>) -> Self {
        s.map_or(Self::Null, Self::text)
    }
}

/// Bind parameters in order.
pub(crate) fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    params: &[Param],
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    for p in params {
        q = match p {
            Param::Text(s) => q.bind(s.clone()),
            Param::Int(i) => q.bind(*i),
            Param::Blob(b) => q.bind(b.to_vec()),
            Param::Null => q.bind(None::<i64>),
        };
    }
    q
}

/// One transition is ONE statement: an insert into the `alur_transition` view, whose
/// `INSTEAD OF` trigger (migration 1) writes the case (guarded by the expected version), the
/// idempotency record, the timers, the audit entries, the payloads and the outbox rows. A failed
/// check aborts the statement and SQLite backs out all it did, leaving the transaction usable.
/// The text is the same for every transition, so a batch of n is a cached script of n inserts.
pub(crate) const TRANSITION_SQL: &str = "INSERT INTO alur_transition VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);\n";

/// One row of values of [`TRANSITION_SQL`], for a multi-row insert of several transitions.
pub(crate) const TRANSITION_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// Number of statements in [`TRANSITION_SQL`].
pub(crate) const TRANSITION_STATEMENTS: usize = 1;

/// Number of parameters [`encode_transition`] produces.
pub(crate) const TRANSITION_PARAMS: usize = 46;

fn int(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| invalid(format!("{what} {v} is too large to store")))
}

fn json<T: Serialize + ?Sized>(v: &T, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| invalid(format!("{what} does not serialize: {e}")))
}

/// The case columns of `alur_transition`, from `version` to `body`.
fn case_columns(c: &Case) -> Result<[Param; 13], StoreError> {
    let (pending_unit, pending_roles) = match &c.pending {
        Some(p) => (
            Some(p.unit.as_str()),
            Some(json(&p.roles, "pending roles")?),
        ),
        None => (None, None),
    };
    Ok([
        Param::Int(int(c.version, "case version")?),
        Param::text(c.service.as_str()),
        Param::Int(i64::from(c.definition_version)),
        Param::text(c.unit.as_str()),
        Param::text(status(&c.status)),
        Param::Int(i64::from(c.status.is_open())),
        Param::opt(pending_unit),
        Param::opt(pending_roles),
        Param::opt(c.assignee.as_deref()),
        Param::text(ts(c.submitted_at)?),
        Param::text(ts(c.updated_at)?),
        Param::opt(c.due_at.map(ts).transpose()?),
        Param::text(json(c, "case")?),
    ])
}

/// One audit entry as a JSON array, in the column order of [`TRANSITION_SQL`].
type EntryRow<'a> = (
    i64,
    &'a str,
    u32,
    Option<&'a str>,
    String,
    String,
    Option<&'a str>,
    String,
    Option<String>,
    Option<&'a str>,
    &'a str,
    &'a str,
);

fn entry_row(e: &AuditEntry) -> Result<EntryRow<'_>, StoreError> {
    Ok((
        int(e.seq, "audit sequence number")?,
        &e.service,
        e.definition_version,
        e.calendar_version.as_deref(),
        json(&e.event, "audit event")?,
        json(&e.actor, "audit actor")?,
        e.legal_basis.as_deref(),
        ts(e.at)?,
        e.due
            .as_ref()
            .map(|d| json(d, "audit deadlines"))
            .transpose()?,
        e.payload_digest.as_deref(),
        &e.prev_hash,
        &e.hash,
    ))
}

/// Entries of a reserved chain (see [`alur_core::config_log`]) as the parameters of
/// `APPEND_CHAIN`: tenant, chain id, and the entries as one JSON array of rows.
pub(crate) fn encode_chain(tenant: &str, entries: &[AuditEntry]) -> Result<Vec<Param>, StoreError> {
    alur_core::config_log::check_run(tenant, entries)
        .map_err(|m| StoreError::new(alur_core::store::StoreErrorKind::Other, m))?;
    let rows_: Vec<EntryRow<'_>> = entries.iter().map(entry_row).collect::<Result<_, _>>()?;
    Ok(vec![
        Param::text(tenant),
        Param::text(entries[0].case_id.as_str()),
        rows(&rows_, "audit entries")?,
    ])
}

/// Rows as one JSON array of arrays; NULL when there are none.
fn rows<T: Serialize>(v: &[T], what: &str) -> Result<Param, StoreError> {
    Ok(if v.is_empty() {
        Param::Null
    } else {
        Param::text(json(v, what)?)
    })
}

/// Check that every row of the transition belongs to its tenant and case.
fn check_ownership(t: &Transition) -> Result<(), StoreError> {
    let (tenant, case) = (t.tenant.as_str(), t.case.id.as_str());
    let foreign = |what: &str| {
        Err(invalid(format!(
            "a {what} of the transition belongs to another tenant or case"
        )))
    };
    if t.case.tenant != tenant {
        return foreign("case");
    }
    if t.entries
        .iter()
        .any(|e| e.tenant != tenant || e.case_id != case)
    {
        return foreign("audit entry");
    }
    if t.payloads.iter().any(|p| p.case_id != case) {
        return foreign("payload");
    }
    if t.outbox
        .iter()
        .any(|m| m.tenant != tenant || m.case_id != case)
    {
        return foreign("outbox message");
    }
    if t.timers
        .iter()
        .any(|x| x.tenant != tenant || x.case_id != case)
    {
        return foreign("timer");
    }
    Ok(())
}

/// The parameters of [`TRANSITION_SQL`] for `t`. Runs in the caller's task, so that the single
/// writer only binds ready values.
pub(crate) fn encode_transition(t: &Transition) -> Result<Vec<Param>, StoreError> {
    check_ownership(t)?;
    let mut p = Vec::with_capacity(TRANSITION_PARAMS);
    p.push(Param::text(t.tenant.as_str()));
    p.push(Param::text(t.case.id.as_str()));
    p.push(Param::Int(int(t.expected_version, "expected version")?));
    p.extend(case_columns(&t.case)?);
    match &t.idempotency {
        Some(i) => p.extend([
            Param::text(i.key.as_str()),
            Param::text(i.command_digest.as_str()),
            Param::text(json(&i.result, "idempotency result")?),
        ]),
        None => p.extend([Param::Null, Param::Null, Param::Null]),
    }
    p.push(Param::opt(t.fired_timer.as_deref()));
    p.push(Param::Int(i64::from(t.replace_timers)));
    let timers = t
        .timers
        .iter()
        .map(|x| Ok((x.id.as_str(), x.kind.as_str(), ts(x.fire_at)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    p.push(rows(&timers, "timers")?);

    // The first entry as columns, the others as JSON.
    let entries: Vec<EntryRow<'_>> = t.entries.iter().map(entry_row).collect::<Result<_, _>>()?;
    match entries.first() {
        Some(e) => p.extend([
            Param::Int(e.0),
            Param::text(e.1),
            Param::Int(i64::from(e.2)),
            Param::opt(e.3),
            Param::text(e.4.as_str()),
            Param::text(e.5.as_str()),
            Param::opt(e.6),
            Param::text(e.7.as_str()),
            Param::opt(e.8.as_deref()),
            Param::opt(e.9),
            Param::text(e.10),
            Param::text(e.11),
        ]),
        None => p.extend(std::iter::repeat_n(Param::Null, 12)),
    }
    p.push(rows(entries.get(1..).unwrap_or_default(), "audit entries")?);

    let payloads = t
        .payloads
        .iter()
        .map(|x| {
            Ok((
                int(x.seq, "payload sequence number")?,
                x.digest.as_str(),
                json(&x.payload, "payload")?,
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    match payloads.first() {
        Some(x) => p.extend([Param::Int(x.0), Param::text(x.1), Param::text(x.2.as_str())]),
        None => p.extend([Param::Null, Param::Null, Param::Null]),
    }
    p.push(rows(payloads.get(1..).unwrap_or_default(), "payloads")?);

    let outbox = t
        .outbox
        .iter()
        .map(|m| {
            Ok((
                m.id.as_str(),
                int(m.seq, "outbox sequence number")?,
                m.template.as_str(),
                m.recipient.as_str(),
                ts(m.created_at)?,
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    match outbox.first() {
        Some(m) => p.extend([
            Param::text(m.0),
            Param::Int(m.1),
            Param::text(m.2),
            Param::text(m.3),
            Param::text(m.4.as_str()),
        ]),
        None => p.extend(std::iter::repeat_n(Param::Null, 5)),
    }
    p.push(rows(
        outbox.get(1..).unwrap_or_default(),
        "outbox messages",
    )?);
    p.push(match &t.letter {
        Some(op) => Param::text(letter_json(op)?),
        None => Param::Null,
    });
    debug_assert_eq!(p.len(), TRANSITION_PARAMS);
    Ok(p)
}

/// The `letter` column: the operation as JSON, timestamps in the stored form.
fn letter_json(op: &LetterOp) -> Result<String, StoreError> {
    let v = match op {
        LetterOp::Number(n) => serde_json::json!({
            "op": "number",
            "token": n.token,
            "unit": n.unit,
            "service": n.service,
            "series": n.series,
            "year": n.year,
            "pattern": { "text": n.pattern.text, "width": n.pattern.width },
            "at": ts(n.at)?,
        }),
        LetterOp::Issue(i) => serde_json::json!({
            "op": "issue",
            "token": i.token,
            "at": ts(i.at)?,
            "document_sha256": i.document_sha256,
            "media_type": i.media_type,
            "signer": i.signer,
            "valid_until": i.valid_until.map(|d| d.to_string()),
        }),
        LetterOp::Revoke { token, at } => serde_json::json!({
            "op": "revoke",
            "token": token,
            "at": ts(*at)?,
        }),
    };
    json(&v, "letter")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_fixed_width_and_round_trip() {
        for s in [
            "2026-03-17T02:00:00Z",
            "2026-03-17T02:00:00.5Z",
            "2026-03-17T02:00:00.123456789Z",
            "0001-01-01T00:00:00Z",
            "9999-12-30T21:59:59.999999999Z",
        ] {
            let t: Timestamp = s.parse().unwrap();
            let stored = ts(t).unwrap();
            assert_eq!(stored.len(), 30, "{stored}");
            assert_eq!(parse_ts(&stored).unwrap(), t);
        }
        let a = ts("2026-03-17T02:00:00Z".parse().unwrap()).unwrap();
        let b = ts("2026-03-17T02:00:00.5Z".parse().unwrap()).unwrap();
        assert!(a < b, "text order is time order");
        assert!(ts("-000001-01-01T00:00:00Z".parse().unwrap()).is_err());
    }

    #[test]
    fn placeholders_match_parameters() {
        assert_eq!(TRANSITION_SQL.matches('?').count(), TRANSITION_PARAMS);
        assert_eq!(TRANSITION_ROW.matches('?').count(), TRANSITION_PARAMS);
        assert!(TRANSITION_SQL.contains(TRANSITION_ROW));
        assert_eq!(TRANSITION_SQL.matches(";\n").count(), TRANSITION_STATEMENTS);
        assert!(
            TRANSITION_SQL.ends_with(";\n"),
            "scripts concatenate transitions"
        );
    }
}
