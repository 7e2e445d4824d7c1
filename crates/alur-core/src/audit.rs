//! Audit entries and the per-case hash chain.
//!
//! Each case has its own chain: `hash = SHA-256("alur.audit.v1" ‖ prev_hash ‖ canonical(entry))`,
//! `seq` contiguous from 1. The canonical encoding is JSON with fields in declaration order and
//! sorted sets; a golden test pins it so that an encoding change cannot slip in silently.
//! Personal data never enters an entry: only `payload_digest`, a keyed digest of it.

use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::{ActorRecord, Due, Event, EventKind};

/// Domain-separation prefix of the chain hash.
const DOMAIN: &[u8] = b"alur.audit.v1\n";

/// One entry of a case's audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Tenant id.
    pub tenant: String,
    /// Case id.
    pub case_id: String,
    /// Sequence within the case, from 1.
    pub seq: u64,
    /// Service id.
    pub service: String,
    /// Definition version the case is pinned to.
    pub definition_version: u32,
    /// Calendar version that computed deadlines in this entry, if any.
    pub calendar_version: Option<String>,
    /// What happened.
    pub event: EventKind,
    /// Who.
    pub actor: ActorRecord,
    /// Legal basis for automatic decisions.
    pub legal_basis: Option<String>,
    /// When (UTC).
    pub at: Timestamp,
    /// Deadlines set by this entry, if it changed them.
    pub due: Option<Due>,
    /// Hex keyed digest of the personal payload stored apart, if any.
    pub payload_digest: Option<String>,
    /// Hex hash of the previous entry (64 zeros for seq 1).
    pub prev_hash: String,
    /// Hex hash of this entry.
    pub hash: String,
}

/// The all-zero hash that precedes the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl AuditEntry {
    /// The canonical bytes hashed (everything except `hash`): compact JSON with the fields in
    /// declaration order, built by [`EntryColumns::canonical`] (the one definition of the format).
    pub fn canonical(&self) -> Vec<u8> {
        // Serializing these types to JSON cannot fail (no maps with non-string keys).
        let event = serde_json::to_string(&self.event).unwrap_or_default();
        let actor = serde_json::to_string(&self.actor).unwrap_or_default();
        let due = self
            .due
            .as_ref()
            .map(|d| serde_json::to_string(d).unwrap_or_default());
        EntryColumns {
            tenant: &self.tenant,
            case_id: &self.case_id,
            seq: self.seq,
            service: &self.service,
            definition_version: self.definition_version,
            calendar_version: self.calendar_version.as_deref(),
            event_json: event.as_bytes(),
            actor_json: actor.as_bytes(),
            legal_basis: self.legal_basis.as_deref(),
            at: EntryTime::from(self.at),
            due_json: due.as_deref().map(str::as_bytes),
            payload_digest: self.payload_digest.as_deref(),
            prev_hash: &self.prev_hash,
        }
        .canonical()
    }

    /// Compute this entry's hash from its content.
    pub fn compute_hash(&self) -> String {
        crate::config::hex(&chain_digest(&self.canonical()))
    }

    /// The event this entry records (for replay).
    pub fn to_event(&self) -> Event {
        Event {
            kind: self.event.clone(),
            actor: self.actor.clone(),
            at: self.at,
            has_payload: self.payload_digest.is_some(),
            due: self.due.clone(),
        }
    }
}

/// An audit entry's columns as a store keeps them, with its JSON parts (event, actor, deadlines)
/// still as the text the store wrote. [`EntryColumns::canonical`] gives the same bytes as
/// [`AuditEntry::canonical`] without parsing and re-encoding the JSON parts: the fast path of
/// verification. A JSON part whose text differs from the canonical encoding (reformatted by hand)
/// gives different bytes, so the entry fails its hash: the check is stricter, never looser.
#[derive(Debug, Clone, Copy)]
pub struct EntryColumns<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Case id.
    pub case_id: &'a str,
    /// Sequence.
    pub seq: u64,
    /// Service id.
    pub service: &'a str,
    /// Definition version.
    pub definition_version: u32,
    /// Calendar version.
    pub calendar_version: Option<&'a str>,
    /// The event as canonical JSON text (the bytes as stored: they are hashed as they are, so
    /// bytes other than the canonical text, valid UTF-8 or not, fail the entry's hash).
    pub event_json: &'a [u8],
    /// The actor as canonical JSON text (bytes, as `event_json`).
    pub actor_json: &'a [u8],
    /// Legal basis.
    pub legal_basis: Option<&'a str>,
    /// Time.
    pub at: EntryTime<'a>,
    /// Deadlines as canonical JSON text (bytes, as `event_json`).
    pub due_json: Option<&'a [u8]>,
    /// Payload digest.
    pub payload_digest: Option<&'a str>,
    /// Previous hash (hex).
    pub prev_hash: &'a str,
}

impl EntryColumns<'_> {
    /// The canonical bytes (equal to [`AuditEntry::canonical`] of the same entry).
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.canonical_into(&mut out);
        out
    }

    /// An upper bound of the canonical length when no string needs escaping.
    fn size_hint(&self) -> usize {
        let opt = |s: Option<&str>| s.map_or(4, |s| s.len() + 2);
        // Field names and punctuation (159 bytes), quotes, numbers, the time and `null`s.
        256 + self.tenant.len()
            + self.case_id.len()
            + self.service.len()
            + opt(self.calendar_version)
            + self.event_json.len()
            + self.actor_json.len()
            + opt(self.legal_basis)
            + self.due_json.map_or(4, <[u8]>::len)
            + opt(self.payload_digest)
            + self.prev_hash.len()
    }

    /// Append the canonical bytes to `out`.
    pub fn canonical_into(&self, out: &mut Vec<u8>) {
        fn text(out: &mut Vec<u8>, s: &str) {
            // serde_json escapes only `"`, `\` and control characters: without them the text is
            // copied as is (same bytes as serde_json's).
            if !needs_escape(s.as_bytes()) {
                out.push(b'"');
                out.extend_from_slice(s.as_bytes());
                out.push(b'"');
            } else {
                // Serializing a &str to a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *out, s);
            }
        }
        fn opt(out: &mut Vec<u8>, s: Option<&str>) {
            match s {
                Some(s) => text(out, s),
                None => out.extend_from_slice(b"null"),
            }
        }
        fn int(out: &mut Vec<u8>, mut v: u64) {
            let mut buf = [0u8; 20];
            let mut i = buf.len();
            loop {
                i -= 1;
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
                if v == 0 {
                    break;
                }
            }
            out.extend_from_slice(&buf[i..]);
        }
        out.reserve(self.size_hint());
        out.extend_from_slice(b"{\"tenant\":");
        text(out, self.tenant);
        out.extend_from_slice(b",\"case_id\":");
        text(out, self.case_id);
        out.extend_from_slice(b",\"seq\":");
        int(out, self.seq);
        out.extend_from_slice(b",\"service\":");
        text(out, self.service);
        out.extend_from_slice(b",\"definition_version\":");
        int(out, u64::from(self.definition_version));
        out.extend_from_slice(b",\"calendar_version\":");
        opt(out, self.calendar_version);
        out.extend_from_slice(b",\"event\":");
        out.extend_from_slice(self.event_json);
        out.extend_from_slice(b",\"actor\":");
        out.extend_from_slice(self.actor_json);
        out.extend_from_slice(b",\"legal_basis\":");
        opt(out, self.legal_basis);
        out.extend_from_slice(b",\"at\":");
        self.at.canonical_into(out);
        out.extend_from_slice(b",\"due\":");
        match self.due_json {
            Some(d) => out.extend_from_slice(d),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"payload_digest\":");
        opt(out, self.payload_digest);
        out.extend_from_slice(b",\"prev_hash\":");
        text(out, self.prev_hash);
        out.push(b'}');
    }
}

/// Whether JSON needs an escape in `b` (`"`, `\\` or a control character). Tested 32 bytes at
/// a time without an early exit, which the compiler turns into vector instructions.
fn needs_escape(b: &[u8]) -> bool {
    let bad = |c: u8| (c < 0x20) | (c == b'"') | (c == b'\\');
    let chunks = b.chunks_exact(32);
    let rest = chunks.remainder();
    chunks
        .into_iter()
        .any(|c| c.iter().fold(false, |acc, &x| acc | bad(x)))
        || rest.iter().any(|&x| bad(x))
}

/// An entry's time for [`EntryColumns`]: a parsed timestamp, or a store's text in the fixed form
/// `YYYY-MM-DDTHH:MM:SS.fffffffffZ` (checked to be a valid time), whose canonical text is a
/// plain copy with the trailing zeros of the fraction trimmed: the same bytes as the parsed
/// timestamp's, without parsing and printing it.
#[derive(Debug, Clone, Copy)]
pub struct EntryTime<'a>(TimeRepr<'a>);

#[derive(Debug, Clone, Copy)]
enum TimeRepr<'a> {
    Parsed(Timestamp),
    /// Checked by [`EntryTime::stored`] to be in the fixed form.
    Fixed(&'a str),
}

impl From<Timestamp> for EntryTime<'_> {
    fn from(t: Timestamp) -> Self {
        Self(TimeRepr::Parsed(t))
    }
}

impl<'a> EntryTime<'a> {
    /// A stored time: copied when in the fixed form with a valid date and time (years 1000 to
    /// 9998, no leap second), parsed otherwise.
    ///
    /// # Errors
    ///
    /// When the text is not a timestamp.
    pub fn stored(text: &'a str) -> Result<Self, jiff::Error> {
        if is_fixed_form(text.as_bytes()) {
            Ok(Self(TimeRepr::Fixed(text)))
        } else {
            text.parse().map(|t| Self(TimeRepr::Parsed(t)))
        }
    }

    /// Append the canonical JSON text (a string: RFC 3339 in UTC, the fraction without
    /// trailing zeros, none when whole, as `jiff` prints it).
    fn canonical_into(&self, out: &mut Vec<u8>) {
        match self.0 {
            TimeRepr::Parsed(t) => {
                // Serializing a timestamp to a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *out, &t);
            }
            TimeRepr::Fixed(text) => {
                let b = text.as_bytes();
                out.push(b'"');
                out.extend_from_slice(&b[..19]);
                let fraction = &b[20..29];
                let digits = fraction
                    .iter()
                    .rposition(|&d| d != b'0')
                    .map_or(0, |i| i + 1);
                if digits > 0 {
                    out.push(b'.');
                    out.extend_from_slice(&fraction[..digits]);
                }
                out.extend_from_slice(b"Z\"");
            }
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS.fffffffffZ` with a real date (years 1000–9998), hours to 23, minutes and
/// seconds to 59.
fn is_fixed_form(b: &[u8]) -> bool {
    if b.len() != 30 {
        return false;
    }
    let digit_at = |i: usize| b[i].is_ascii_digit();
    let shape = [4, 7].iter().all(|&i| b[i] == b'-')
        && b[10] == b'T'
        && [13, 16].iter().all(|&i| b[i] == b':')
        && b[19] == b'.'
        && b[29] == b'Z'
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&i| digit_at(i))
        && (20..29).all(digit_at);
    if !shape {
        return false;
    }
    let num = |i: usize, n: usize| {
        b[i..i + n]
            .iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (num(0, 4), num(5, 2), num(8, 2));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1000..=9998).contains(&year)
        && (1..=days).contains(&day)
        && num(11, 2) <= 23
        && num(14, 2) <= 59
        && num(17, 2) <= 59
}

/// Hex digit values: `0`–`9`, `a`–`f`, and `A`–`F` when `upper`; 0xff for any other byte.
pub(crate) const fn hex_table(upper: bool) -> [u8; 256] {
    let mut t = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        if upper {
            t[b'A' as usize + i] = 10 + i as u8;
        }
        i += 1;
    }
    t
}

const LOWER_HEX: [u8; 256] = hex_table(false);

/// Decode exactly 64 hex digits with `table` ([`hex_table`]) into a hash.
pub(crate) fn decode_hash(hex: &str, table: &[u8; 256]) -> Option<Hash> {
    let b = hex.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        let (hi, lo) = (table[pair[0] as usize], table[pair[1] as usize]);
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 0x0f);
    }
    (bad & 0xf0 == 0).then_some(out)
}

/// Decode a hash written as the chain writes it: exactly 64 lower-case hex digits (so two texts
/// decode to the same bytes only when they are equal).
pub fn parse_chain_hash(hex: &str) -> Option<Hash> {
    decode_hash(hex, &LOWER_HEX)
}

/// A 32-byte hash.
pub type Hash = alur_merkle::Hash;

/// SHA-256 over the domain prefix and `canonical`: an entry's hash.
pub fn chain_digest(canonical: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(canonical);
    h.finalize().into()
}

/// An entry as a verifier reads it: its place in the chain, the hashes it states, and the hash
/// of the canonical bytes built from its content (computed by the verifier's reader, which builds
/// and hashes each entry's bytes as it reads them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalEntry {
    /// Case id (shared by the entries of a case read together).
    pub case_id: Arc<str>,
    /// Sequence.
    pub seq: u64,
    /// Stated previous hash ([`parse_chain_hash`]; `None` when the stored text is not one).
    pub prev_hash: Option<Hash>,
    /// Stated hash ([`parse_chain_hash`]; `None` when the stored text is not one).
    pub hash: Option<Hash>,
    /// [`chain_digest`] of the canonical bytes ([`AuditEntry::canonical`], or
    /// [`EntryColumns::canonical`] of the stored columns): the hash the content gives.
    pub digest: Hash,
}

impl CanonicalEntry {
    /// From a decoded entry.
    pub fn of(e: &AuditEntry) -> Self {
        Self {
            case_id: Arc::from(e.case_id.as_str()),
            seq: e.seq,
            prev_hash: parse_chain_hash(&e.prev_hash),
            hash: parse_chain_hash(&e.hash),
            digest: chain_digest(&e.canonical()),
        }
    }

    /// The hash the canonical bytes give (hex).
    pub fn compute_hash(&self) -> String {
        crate::config::hex(&self.digest)
    }
}

/// Where a chain check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("case {case_id}, entry {seq}: {problem}")]
pub struct ChainError {
    /// Case id.
    pub case_id: String,
    /// Sequence number of the first bad entry.
    pub seq: u64,
    /// What differs.
    pub problem: String,
}

/// Verify one case's chain (entries in order). Checks contiguity, links and hashes.
pub fn verify_chain(entries: &[AuditEntry]) -> Result<(), ChainError> {
    let mut prev = GENESIS.to_owned();
    for (i, e) in entries.iter().enumerate() {
        let err = |problem: String| ChainError {
            case_id: e.case_id.clone(),
            seq: e.seq,
            problem,
        };
        let expected_seq = i as u64 + 1;
        if e.seq != expected_seq {
            return Err(err(format!(
                "sequence is {} where {expected_seq} was expected (gap, reorder or insertion)",
                e.seq
            )));
        }
        if e.prev_hash != prev {
            return Err(err(
                "prev_hash does not match the previous entry's hash".into()
            ));
        }
        let h = e.compute_hash();
        if e.hash != h {
            return Err(err(
                "content does not match its hash (entry modified)".into()
            ));
        }
        prev = h;
    }
    Ok(())
}

/// One line describing an entry for people, in Indonesian, with who acted for whom
/// ("Dewi Anggraini, Plh. Lurah, atas nama Ahmad Fauzi, berdasarkan mandat 800/12/…").
pub fn describe(entry: &AuditEntry, config: &crate::model::Config) -> String {
    let local = jiff::tz::TimeZone::get("Asia/Jakarta")
        .map(|tz| {
            tz.to_datetime(entry.at)
                .strftime("%Y-%m-%d %H:%M WIB")
                .to_string()
        })
        .unwrap_or_else(|_| entry.at.to_string());
    let officer_name = |id: &str| {
        config
            .officers
            .get(id)
            .map_or_else(|| id.to_owned(), |o| o.name.clone())
    };
    let role_name = |r: &Option<String>| {
        r.as_deref().map_or(String::new(), |r| {
            config
                .roles
                .get(r)
                .map_or_else(|| r.to_owned(), |x| x.name.clone())
        })
    };
    let a = &entry.actor;
    let who = match a.kind.as_str() {
        "officer" => {
            let mut w = officer_name(&a.id);
            match (&a.mandate_kind, &a.on_behalf_of) {
                (Some(k), Some(p)) => {
                    w.push_str(&format!(
                        ", {} {}, atas nama {}",
                        k.title(),
                        role_name(&a.role),
                        officer_name(p)
                    ));
                }
                (Some(k), None) => w.push_str(&format!(", {} {}", k.title(), role_name(&a.role))),
                _ => w.push_str(&format!(", {}", role_name(&a.role))),
            }
            if let Some(u) = &a.unit {
                w.push_str(&format!(" ({u})"));
            }
            if let Some(m) = &a.mandate_ref {
                w.push_str(&format!(", berdasarkan mandat {m}"));
            }
            w
        }
        "applicant" => "Pemohon".to_owned(),
        _ => "Sistem".to_owned(),
    };
    let def = config.services.get(&entry.service);
    let step = |id: &str| {
        def.and_then(|d| d.steps.iter().find(|s| s.id == id))
            .map_or_else(|| id.to_owned(), |s| s.name.clone())
    };
    let what = match &entry.event {
        EventKind::Submitted { to, .. } => {
            format!("mengajukan permohonan; masuk tahap \"{}\"", step(to))
        }
        EventKind::Acted {
            action,
            from,
            to,
            outcome,
            vote_only,
            ..
        } => {
            let name = def
                .and_then(|d| d.steps.iter().find(|s| &s.id == from))
                .and_then(|s| s.actions.iter().find(|x| &x.id == action))
                .map_or_else(|| action.clone(), |x| x.name.clone());
            match (to, outcome, vote_only) {
                (_, _, true) => {
                    format!("{name} (persetujuan dicatat, menunggu persetujuan berikutnya)")
                }
                (Some(t), _, _) => format!("{name}; \"{}\" → \"{}\"", step(from), step(t)),
                (None, Some(o), _) => format!("{name}; permohonan {}", o.label()),
                (None, None, _) => name,
            }
        }
        EventKind::Commented => "menambahkan catatan".to_owned(),
        EventKind::Claimed => "mengambil berkas untuk diproses".to_owned(),
        EventKind::Assigned { to } => format!("menugaskan berkas kepada {}", officer_name(to)),
        EventKind::Withdrawn { .. } => "mencabut permohonan".to_owned(),
        EventKind::Reminded { step: s, percent } => {
            format!(
                "pengingat: {percent}% batas waktu tahap \"{}\" telah berlalu",
                step(s)
            )
        }
        EventKind::StepBreached {
            step: s,
            escalated_to,
        } => match escalated_to {
            Some(to) => format!(
                "batas waktu tahap \"{}\" terlampaui; dilaporkan kepada {to}",
                step(s)
            ),
            None => format!("batas waktu tahap \"{}\" terlampaui", step(s)),
        },
        EventKind::Breached {
            escalated_to,
            reassigned_to,
            ..
        } => {
            let mut w = "batas waktu layanan terlampaui".to_owned();
            if let Some(to) = escalated_to {
                w.push_str(&format!("; dilaporkan kepada {to}"));
            }
            if let Some(o) = reassigned_to {
                w.push_str(&format!("; dialihkan kepada {}", officer_name(o)));
            }
            w
        }
        EventKind::DeemedApproved { legal_basis, .. } => {
            format!(
                "permohonan dianggap dikabulkan secara hukum (fiktif positif) berdasarkan {legal_basis}"
            )
        }
        EventKind::DeadlineRecomputed => {
            let due = entry
                .due
                .as_ref()
                .and_then(|d| d.due_at)
                .map_or_else(|| "-".to_owned(), |d| d.to_string());
            format!(
                "batas waktu dihitung ulang dengan kalender versi {}: {due}",
                entry.calendar_version.as_deref().unwrap_or("-")
            )
        }
        EventKind::Rated { scores } => {
            let list: Vec<String> = scores.iter().map(u8::to_string).collect();
            format!(
                "mengisi survei kepuasan masyarakat (U1–U9: {})",
                list.join(", ")
            )
        }
        EventKind::LetterIssued {
            number,
            document_sha256,
            valid_until,
            ..
        } => {
            let until = valid_until.map_or_else(
                || "tanpa batas waktu".to_owned(),
                |d| format!("berlaku sampai {d}"),
            );
            format!(
                "menandatangani dan menerbitkan surat nomor {number} ({until}; sidik dokumen {})",
                document_sha256.get(..12).unwrap_or(document_sha256)
            )
        }
        EventKind::LetterRevoked { number, .. } => format!("mencabut surat nomor {number}"),
        EventKind::PersonalDataErased { seqs, legal_basis } => {
            let list: Vec<String> = seqs.iter().map(u64::to_string).collect();
            format!(
                "menghapus data pribadi pada akhir masa retensi (isian langkah {}) berdasarkan {legal_basis}; sidiknya tetap tercatat",
                list.join(", ")
            )
        }
        EventKind::DefinitionRegistered {
            service,
            version,
            digest,
        } => format!(
            "definisi layanan {service} versi {version} mulai berlaku (sidik {})",
            digest.get(..12).unwrap_or(digest)
        ),
        EventKind::CalendarInForce {
            unit,
            previous,
            calendar,
        } => {
            let scope = unit.as_deref().map_or_else(
                || "kalender kerja".to_owned(),
                |u| format!("kalender kerja unit {u}"),
            );
            match previous {
                Some(p) => format!("{scope} versi {calendar} berlaku, menggantikan {p}"),
                None => format!("{scope} versi {calendar} berlaku"),
            }
        }
        EventKind::GrantAdded { grant } | EventKind::GrantRevoked { grant } => {
            use crate::config_log::GrantKind;
            let verb = if matches!(entry.event, EventKind::GrantAdded { .. }) {
                "diberikan"
            } else {
                "dicabut"
            };
            let what = match grant.kind {
                GrantKind::Post => format!("jabatan {} di {}", grant.role, grant.unit),
                GrantKind::Plh | GrantKind::Plt => {
                    let title = if grant.kind == GrantKind::Plh {
                        "Plh."
                    } else {
                        "Plt."
                    };
                    let mut w = format!("mandat {title} {} di {}", grant.role, grant.unit);
                    if let Some(p) = &grant.principal {
                        w.push_str(&format!(" atas nama {}", officer_name(p)));
                    }
                    if let (Some(f), Some(u)) = (grant.from, grant.until) {
                        w.push_str(&format!(", {f} s.d. {u}"));
                    }
                    if let Some(r) = &grant.reference {
                        w.push_str(&format!(", nomor {r}"));
                    }
                    w
                }
            };
            format!("{what} {verb} kepada {}", officer_name(&grant.officer))
        }
    };
    format!("#{} {local} · {who}: {what}", entry.seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pseudonym::PersonRef;

    fn sample() -> AuditEntry {
        let mut e = AuditEntry {
            tenant: "kepri".into(),
            case_id: "c-1".into(),
            seq: 1,
            service: "batam-domisili".into(),
            definition_version: 1,
            calendar_version: None,
            event: EventKind::Submitted {
                service: "batam-domisili".into(),
                definition_version: 1,
                unit: "21.71.10.1001".into(),
                applicant: PersonRef("p:ab".into()),
                conditions: ["pendatang".to_owned()].into(),
                filled: ["keperluan".to_owned()].into(),
                to: "verifikasi".into(),
                skipped: vec![],
            },
            actor: ActorRecord {
                kind: "applicant".into(),
                id: "p:ab".into(),
                ..ActorRecord::default()
            },
            legal_basis: None,
            at: "2026-03-17T02:00:00Z".parse().unwrap(),
            due: Some(Due {
                calendar: "1@0123456789abcdef".into(),
                due_at: Some("2026-03-17T09:00:00Z".parse().unwrap()),
                step_due_at: None,
            }),
            payload_digest: Some("00".repeat(32)),
            prev_hash: GENESIS.into(),
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }

    /// Golden: the canonical encoding and hash of a fixed entry. If this fails, the encoding
    /// changed and every stored chain would stop verifying: version the domain prefix instead.
    #[test]
    fn canonical_encoding_is_pinned() {
        let e = sample();
        insta::assert_snapshot!(String::from_utf8(e.canonical()).unwrap());
        insta::assert_snapshot!(e.hash);
    }

    /// Golden: a configuration entry (the `@config` chain) is pinned like a case entry.
    #[test]
    fn configuration_encoding_is_pinned() {
        let e = configuration_entry();
        insta::assert_snapshot!(String::from_utf8(e.canonical()).unwrap());
        insta::assert_snapshot!(e.hash);
    }

    /// An erasure at the end of retention, after the sample entry.
    fn erasure_entry() -> AuditEntry {
        let first = sample();
        let mut e = AuditEntry {
            seq: 2,
            event: EventKind::PersonalDataErased {
                seqs: vec![1],
                legal_basis: "UU 27/2022; Jadwal Retensi Arsip".into(),
            },
            actor: ActorRecord {
                kind: "system".into(),
                ..ActorRecord::default()
            },
            legal_basis: Some("UU 27/2022; Jadwal Retensi Arsip".into()),
            at: "2031-03-17T02:00:00Z".parse().unwrap(),
            due: None,
            payload_digest: None,
            prev_hash: first.hash.clone(),
            ..first
        };
        e.hash = e.compute_hash();
        e
    }

    /// Golden: an erasure entry is pinned like every other.
    #[test]
    fn erasure_encoding_is_pinned() {
        let e = erasure_entry();
        insta::assert_snapshot!(String::from_utf8(e.canonical()).unwrap());
        insta::assert_snapshot!(e.hash);
    }

    /// The fast path's canonical bytes equal the decoded entry's, for case and configuration
    /// entries, escapes, nanoseconds and missing parts.
    #[test]
    fn column_canonical_matches_the_entry() {
        let mut entries = vec![sample()];
        let mut odd = sample();
        odd.case_id = "c-\"quoted\"\\ é\u{1}".into();
        odd.at = "2026-03-17T02:00:00.000012300Z".parse().unwrap();
        odd.due = None;
        odd.payload_digest = None;
        odd.calendar_version = Some("2@ab".into());
        odd.legal_basis = Some("Pasal 53 UU 30/2014 \u{2013} \"fiktif positif\"".into());
        entries.push(odd);
        entries.push(configuration_entry());
        entries.push(erasure_entry());
        for e in entries {
            let (event, actor) = (
                serde_json::to_string(&e.event).unwrap(),
                serde_json::to_string(&e.actor).unwrap(),
            );
            let due = e.due.as_ref().map(|d| serde_json::to_string(d).unwrap());
            let cols = EntryColumns {
                tenant: &e.tenant,
                case_id: &e.case_id,
                seq: e.seq,
                service: &e.service,
                definition_version: e.definition_version,
                calendar_version: e.calendar_version.as_deref(),
                event_json: event.as_bytes(),
                actor_json: actor.as_bytes(),
                legal_basis: e.legal_basis.as_deref(),
                at: EntryTime::from(e.at),
                due_json: due.as_deref().map(str::as_bytes),
                payload_digest: e.payload_digest.as_deref(),
                prev_hash: &e.prev_hash,
            };
            // Independent reference: the whole entry (minus `hash`) through serde_json, whose
            // field order is the declaration order.
            let full = serde_json::to_string(&e).unwrap();
            let reference = full
                .strip_suffix(&format!(",\"hash\":\"{}\"}}", e.hash))
                .map(|r| format!("{r}}}"))
                .unwrap();
            assert_eq!(String::from_utf8(cols.canonical()).unwrap(), reference);
            assert_eq!(cols.canonical(), e.canonical());
            let c = CanonicalEntry::of(&e);
            assert_eq!(c.compute_hash(), e.compute_hash());
            assert_eq!(c.hash, parse_chain_hash(&e.hash));
            assert_eq!(c.digest, chain_digest(&cols.canonical()));
        }
    }

    /// The canonical text of a stored time, copied from the fixed form, is the parsed time's.
    fn stored_time_bytes(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        EntryTime::stored(text).unwrap().canonical_into(&mut out);
        out
    }

    #[test]
    fn stored_times_copy_to_the_parsed_encoding() {
        for text in [
            "2026-03-17T02:00:00.000000000Z",
            "2026-03-17T02:00:00.500000000Z",
            "2026-03-17T02:00:00.000012300Z",
            "2026-03-17T23:59:59.999999999Z",
            "2024-02-29T12:00:00.000000001Z",
            "1000-01-01T00:00:00.000000000Z",
            "9998-12-31T23:59:59.999999999Z",
            "1970-01-01T00:00:00.100000000Z",
        ] {
            assert!(is_fixed_form(text.as_bytes()), "{text}");
            let t: Timestamp = text.parse().unwrap();
            assert_eq!(
                String::from_utf8(stored_time_bytes(text)).unwrap(),
                serde_json::to_string(&t).unwrap(),
                "{text}"
            );
        }
        // Outside the fixed form (or not a real time there): parsed as before, or refused.
        for text in [
            "2026-03-17T02:00:00Z",
            "2026-03-17T02:00:00.5Z",
            "2026-03-17T02:00:60.000000000Z",
            "2026-03-17t02:00:00.000000000Z",
            "0999-03-17T02:00:00.000000000Z",
            "2026-03-17T02:00:00.000000000+00:00",
        ] {
            assert!(!is_fixed_form(text.as_bytes()), "{text}");
            if let Ok(t) = text.parse::<Timestamp>() {
                assert_eq!(
                    stored_time_bytes(text),
                    serde_json::to_vec(&t).unwrap(),
                    "{text}"
                );
            } else {
                assert!(EntryTime::stored(text).is_err(), "{text}");
            }
        }
        for text in [
            "2025-02-29T02:00:00.000000000Z",
            "2026-04-31T02:00:00.000000000Z",
            "2026-13-01T02:00:00.000000000Z",
            "2026-00-01T02:00:00.000000000Z",
            "2026-03-00T02:00:00.000000000Z",
            "2026-03-17T24:00:00.000000000Z",
            "2026-03-17T02:60:00.000000000Z",
            "2026-03-17T02:00:00.00000000aZ",
            "not a time at all, 30 bytes ok",
        ] {
            assert!(!is_fixed_form(text.as_bytes()), "{text}");
            assert!(EntryTime::stored(text).is_err(), "{text}");
        }
    }

    #[test]
    fn needs_escape_finds_every_escaped_byte_anywhere() {
        for len in [0usize, 1, 31, 32, 33, 64, 100] {
            let clean = vec![b'a'; len];
            assert!(!needs_escape(&clean), "{len}");
            for at in 0..len {
                for bad in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    let mut v = clean.clone();
                    v[at] = bad;
                    assert!(needs_escape(&v), "{len} {at} {bad}");
                }
                let mut v = clean.clone();
                v[at] = 0x20;
                assert!(!needs_escape(&v));
                v[at] = 0x7f;
                assert!(!needs_escape(&v), "DEL is not escaped by serde_json");
            }
        }
        // Agrees with serde_json on every single byte.
        for b in 0u8..0x80 {
            let s = (b as char).to_string();
            let quoted = serde_json::to_string(&s).unwrap();
            assert_eq!(needs_escape(s.as_bytes()), quoted.len() != 3, "{b:#x}");
        }
    }

    proptest::proptest! {
        /// Any time the stores write (nine fractional digits) copies to the bytes `jiff` prints.
        #[test]
        fn stored_times_match_jiff(
            second in -30_610_224_000i64..253_370_764_800,
            nanos in 0i32..1_000_000_000,
            zeros in 0u32..10,
        ) {
            let nanos = nanos - nanos % 10i32.pow(zeros.min(9));
            let t = Timestamp::new(second, nanos).unwrap();
            let text = format!("{t:.9}");
            proptest::prop_assert!(is_fixed_form(text.as_bytes()), "{}", text);
            proptest::prop_assert_eq!(stored_time_bytes(&text), serde_json::to_vec(&t).unwrap());
        }
    }

    fn configuration_entry() -> AuditEntry {
        use crate::config_log::{ConfigState, Grant, GrantKind, chain_entries};
        let mut desired = ConfigState::default();
        desired.grants.insert(Grant {
            officer: "baloi-sekel".into(),
            kind: GrantKind::Plh,
            role: "lurah".into(),
            unit: "21.71.04.1002".into(),
            principal: Some("baloi-lurah".into()),
            from: Some(jiff::civil::date(2026, 3, 16)),
            until: Some(jiff::civil::date(2026, 3, 27)),
            reference: Some("800/123/KEL-BK/III/2026".into()),
        });
        chain_entries(
            "kepri",
            None,
            ConfigState::default().diff(&desired),
            "2026-03-02T01:00:00Z".parse().unwrap(),
        )
        .remove(0)
    }

    /// Stated hashes decode only from what the chain writes (64 lower-case hex digits), so that
    /// equal bytes mean equal texts.
    #[test]
    fn chain_hashes_decode_strictly() {
        let e = sample();
        let h = parse_chain_hash(&e.hash).unwrap();
        assert_eq!(crate::config::hex(&h), e.hash);
        assert_eq!(parse_chain_hash(GENESIS), Some([0; 32]));
        assert_eq!(parse_chain_hash(&e.hash.to_uppercase()), None);
        assert_eq!(parse_chain_hash(&e.hash[1..]), None);
        assert_eq!(parse_chain_hash(&format!("{}0", e.hash)), None);
        assert_eq!(parse_chain_hash(&format!("g{}", &e.hash[1..])), None);
        assert_eq!(parse_chain_hash(&format!("{} ", &e.hash[1..])), None);
    }

    #[test]
    fn any_change_breaks_the_chain() {
        let mut a = sample();
        let mut b = sample();
        b.seq = 2;
        b.prev_hash = a.hash.clone();
        b.hash = b.compute_hash();
        assert!(verify_chain(&[a.clone(), b.clone()]).is_ok());
        a.at = "2026-03-17T02:00:01Z".parse().unwrap();
        assert!(verify_chain(&[a.clone(), b.clone()]).is_err());
        assert!(verify_chain(&[b]).is_err());
    }
}
