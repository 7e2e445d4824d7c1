//! Letters (migration 5): reads, documents and scan counts. Numbering, issue and revocation are
//! part of the transition statement (the `letter` column of `alur_transition`).

use alur_core::letter::{Letter, LetterStatus, SignerRecord};
use alur_core::store::StoreError;
use sqlx::sqlite::SqliteRow;

use crate::codec::{Param, parse_ts};
use crate::error::{corrupt, map};
use crate::{SqliteStore, get, unsigned};

const COLUMNS: &str = "tenant, token, case_id, unit, service, series, year, seq, number, status, \
numbered_at, issued_at, valid_until, document_sha256, media_type, signer, revoked_at, scans";

const PUT_DOCUMENT: &str = "\
INSERT INTO letter_documents (tenant, sha256, media_type, bytes) VALUES (?, ?, ?, ?) \
ON CONFLICT (tenant, sha256) DO NOTHING;
";

const SCAN: &str = "\
UPDATE letters SET scans = scans + 1 WHERE tenant = ? AND token = ? RETURNING scans;
";

fn letter(row: &SqliteRow) -> Result<Letter, StoreError> {
    let status: String = get(row, 9)?;
    let signer: Option<String> = get(row, 15)?;
    let signer = signer
        .map(|s| serde_json::from_str::<SignerRecord>(&s))
        .transpose()
        .map_err(|e| corrupt("letter signer", e.to_string()))?;
    let valid_until: Option<String> = get(row, 12)?;
    let valid_until = valid_until
        .map(|d| d.parse::<jiff::civil::Date>())
        .transpose()
        .map_err(|e| corrupt("letter validity", e.to_string()))?;
    let opt_ts = |i: usize| -> Result<Option<jiff::Timestamp>, StoreError> {
        let v: Option<String> = get(row, i)?;
        v.as_deref().map(parse_ts).transpose()
    };
    let year: i64 = get(row, 6)?;
    Ok(Letter {
        tenant: get(row, 0)?,
        token: get(row, 1)?,
        case_id: get(row, 2)?,
        unit: get(row, 3)?,
        service: get(row, 4)?,
        series: get(row, 5)?,
        year: i16::try_from(year).map_err(|_| corrupt("letter year", year.to_string()))?,
        seq: unsigned(get(row, 7)?, "letter sequence")?,
        number: get(row, 8)?,
        status: LetterStatus::parse(&status)
            .ok_or_else(|| corrupt("letter status", status.clone()))?,
        numbered_at: parse_ts(&get::<String>(row, 10)?)?,
        issued_at: opt_ts(11)?,
        valid_until,
        document_sha256: get(row, 13)?,
        media_type: get(row, 14)?,
        signer,
        revoked_at: opt_ts(16)?,
        scans: unsigned(get(row, 17)?, "letter scans")?,
    })
}

impl SqliteStore {
    async fn letter_where(
        &self,
        condition: &str,
        tenant: &str,
        value: &str,
    ) -> Result<Option<Letter>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM letters WHERE tenant = ? AND {condition}");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .bind(value)
            .fetch_optional(&self.readers)
            .await
            .map_err(|e| map(&e))?;
        row.as_ref().map(letter).transpose()
    }

    pub(crate) async fn letter_by_token(
        &self,
        tenant: &str,
        token: &str,
    ) -> Result<Option<Letter>, StoreError> {
        self.letter_where("token = ?", tenant, token).await
    }

    pub(crate) async fn letter_of_case(
        &self,
        tenant: &str,
        case_id: &str,
    ) -> Result<Option<Letter>, StoreError> {
        self.letter_where("case_id = ?", tenant, case_id).await
    }

    pub(crate) async fn letter_of_document(
        &self,
        tenant: &str,
        sha256: &str,
    ) -> Result<Option<Letter>, StoreError> {
        self.letter_where("document_sha256 = ?", tenant, sha256)
            .await
    }

    pub(crate) async fn letter_register(
        &self,
        tenant: &str,
        unit: &str,
        year: i16,
    ) -> Result<Vec<Letter>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM letters WHERE tenant = ? AND unit = ? AND year = ? ORDER BY series, seq"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .bind(unit)
            .bind(i64::from(year))
            .fetch_all(&self.readers)
            .await
            .map_err(|e| map(&e))?;
        rows.iter().map(letter).collect()
    }

    pub(crate) async fn store_document(
        &self,
        tenant: &str,
        sha256: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let params = vec![
            Param::Text(tenant.into()),
            Param::Text(sha256.into()),
            Param::Text(media_type.into()),
            Param::Blob(bytes.into()),
        ];
        self.script(PUT_DOCUMENT, params).await.map(|_| ())
    }

    pub(crate) async fn document(
        &self,
        tenant: &str,
        sha256: &str,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let row = sqlx::query(
            "SELECT media_type, bytes FROM letter_documents WHERE tenant = ? AND sha256 = ?",
        )
        .bind(tenant)
        .bind(sha256)
        .fetch_optional(&self.readers)
        .await
        .map_err(|e| map(&e))?;
        row.map(|r| Ok((get(&r, 0)?, get(&r, 1)?))).transpose()
    }

    pub(crate) async fn scan(&self, tenant: &str, token: &str) -> Result<u64, StoreError> {
        let rows = self
            .script(
                SCAN,
                vec![Param::Text(tenant.into()), Param::Text(token.into())],
            )
            .await?;
        match rows.first() {
            Some(r) => unsigned(get(r, 0)?, "letter scans"),
            None => Ok(0),
        }
    }
}
