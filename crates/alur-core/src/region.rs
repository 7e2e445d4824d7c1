//! The Kemendagri region hierarchy (all 91,599 Indonesian regions) and population per kabupaten/kota.
//!
//! Codes are dotted Kemendagri codes (`21.71.10.1001`); a code's prefixes are its ancestors.
//! Kemendagri codes are not BPS codes and names repeat across regions, so nothing is keyed on a name.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

const WILAYAH_CSV: &str = include_str!("../data/wilayah_indonesia.csv");
const PENDUDUK_CSV: &str = include_str!("../data/penduduk_kabkota.csv");

/// The level of a region in the administrative hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitLevel {
    /// Province.
    Provinsi,
    /// Regency (rural).
    Kabupaten,
    /// City.
    Kota,
    /// District, headed by a camat.
    Kecamatan,
    /// Urban village, headed by a lurah (a civil servant).
    Kelurahan,
    /// Rural village, headed by an elected kepala desa.
    Desa,
    /// Customary village (desa adat).
    DesaAdat,
}

impl UnitLevel {
    /// All levels, top down.
    pub const ALL: [UnitLevel; 7] = [
        Self::Provinsi,
        Self::Kabupaten,
        Self::Kota,
        Self::Kecamatan,
        Self::Kelurahan,
        Self::Desa,
        Self::DesaAdat,
    ];

    /// The key used in data files and TOML (`kelurahan`, `desa_adat`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provinsi => "provinsi",
            Self::Kabupaten => "kabupaten",
            Self::Kota => "kota",
            Self::Kecamatan => "kecamatan",
            Self::Kelurahan => "kelurahan",
            Self::Desa => "desa",
            Self::DesaAdat => "desa_adat",
        }
    }

    /// Parse a level key as used in data files and TOML.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "provinsi" => Self::Provinsi,
            "kabupaten" => Self::Kabupaten,
            "kota" => Self::Kota,
            "kecamatan" => Self::Kecamatan,
            "kelurahan" => Self::Kelurahan,
            "desa" => Self::Desa,
            "desa_adat" | "desa adat" => Self::DesaAdat,
            _ => return None,
        })
    }

    /// Depth in the code: 1 for provinsi, 2 for kabupaten/kota, 3 for kecamatan, 4 for villages.
    pub fn depth(self) -> usize {
        match self {
            Self::Provinsi => 1,
            Self::Kabupaten | Self::Kota => 2,
            Self::Kecamatan => 3,
            Self::Kelurahan | Self::Desa | Self::DesaAdat => 4,
        }
    }

    /// Indonesian display name ("Kelurahan").
    pub fn title(self) -> &'static str {
        match self {
            Self::Provinsi => "Provinsi",
            Self::Kabupaten => "Kabupaten",
            Self::Kota => "Kota",
            Self::Kecamatan => "Kecamatan",
            Self::Kelurahan => "Kelurahan",
            Self::Desa => "Desa",
            Self::DesaAdat => "Desa Adat",
        }
    }
}

impl fmt::Display for UnitLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One region from the Kemendagri data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// Dotted Kemendagri code.
    pub code: String,
    /// Official name ("Baloi Permai"); not unique.
    pub name: String,
    /// Level in the hierarchy.
    pub level: UnitLevel,
    /// Parent code, `None` for a province.
    pub parent: Option<String>,
}

impl Region {
    /// The name with its level as people write it: "Kelurahan Baloi Permai", "Kecamatan Batam
    /// Kota", "Kota Batam" (the data already names kabupaten and kota so).
    pub fn display_name(&self) -> String {
        if self.name.starts_with(self.level.title()) {
            self.name.clone()
        } else {
            format!("{} {}", self.level.title(), self.name)
        }
    }
}

/// Population of a province or kabupaten/kota (Dukcapil, December 2024).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Population {
    /// Men.
    pub male: u64,
    /// Women.
    pub female: u64,
    /// Total.
    pub total: u64,
}

/// Every Indonesian region, indexed by code.
#[derive(Debug)]
pub struct RegionIndex {
    regions: HashMap<String, Region>,
    children: HashMap<String, Vec<String>>,
    population: HashMap<String, Population>,
}

/// A problem in the embedded data (never expected in a release; reported rather than panicking).
#[derive(Debug, Clone, thiserror::Error)]
#[error("embedded region data, line {line}: {message}")]
pub struct RegionDataError {
    /// 1-based line in the CSV.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

static INDEX: OnceLock<Result<RegionIndex, RegionDataError>> = OnceLock::new();

impl RegionIndex {
    /// The embedded national index, parsed once on first use.
    pub fn embedded() -> Result<&'static RegionIndex, RegionDataError> {
        INDEX
            .get_or_init(|| Self::parse(WILAYAH_CSV, PENDUDUK_CSV))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Parse region and population CSVs (`code,name,level,parent_code` and `code,name,male,female,total`).
    pub fn parse(wilayah: &str, penduduk: &str) -> Result<Self, RegionDataError> {
        let mut regions = HashMap::with_capacity(92_000);
        let mut children: HashMap<String, Vec<String>> = HashMap::new();
        for (i, line) in wilayah.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let err = |message: &str| RegionDataError {
                line: i + 1,
                message: message.into(),
            };
            let fields = split_csv(line);
            if fields.len() != 4 {
                return Err(err("expected 4 columns"));
            }
            let level = UnitLevel::parse(&fields[2]).ok_or_else(|| err("unknown level"))?;
            let parent = (!fields[3].is_empty()).then(|| fields[3].clone());
            if let Some(p) = &parent {
                children
                    .entry(p.clone())
                    .or_default()
                    .push(fields[0].clone());
            }
            regions.insert(
                fields[0].clone(),
                Region {
                    code: fields[0].clone(),
                    name: fields[1].clone(),
                    level,
                    parent,
                },
            );
        }
        let mut population = HashMap::new();
        for (i, line) in penduduk.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let err = |message: &str| RegionDataError {
                line: i + 1,
                message: message.into(),
            };
            let f = split_csv(line);
            if f.len() != 5 {
                return Err(err("expected 5 columns in population data"));
            }
            let num = |s: &str| {
                s.parse::<u64>()
                    .map_err(|_| err("population is not a number"))
            };
            population.insert(
                f[0].clone(),
                Population {
                    male: num(&f[2])?,
                    female: num(&f[3])?,
                    total: num(&f[4])?,
                },
            );
        }
        for list in children.values_mut() {
            list.sort();
        }
        Ok(Self {
            regions,
            children,
            population,
        })
    }

    /// The region with this code.
    pub fn get(&self, code: &str) -> Option<&Region> {
        self.regions.get(code)
    }

    /// Number of regions.
    pub fn len(&self) -> usize {
        self.regions.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    /// Direct children of a region, sorted by code.
    pub fn children(&self, code: &str) -> &[String] {
        self.children.get(code).map_or(&[], Vec::as_slice)
    }

    /// All descendants of `code` (not including itself) at `level`, sorted by code.
    pub fn descendants_at(&self, code: &str, level: UnitLevel) -> Vec<&Region> {
        let mut out = Vec::new();
        let mut stack = vec![code];
        while let Some(c) = stack.pop() {
            for child in self.children(c) {
                if let Some(r) = self.regions.get(child) {
                    if r.level == level {
                        out.push(r);
                    } else if r.level.depth() < level.depth() {
                        stack.push(child);
                    }
                }
            }
        }
        out.sort_by(|a, b| a.code.cmp(&b.code));
        out
    }

    /// The ancestor of `code` at `level` (the region itself when it is at that level).
    pub fn ancestor_at(&self, code: &str, level: UnitLevel) -> Option<&Region> {
        let mut cur = self.regions.get(code)?;
        loop {
            if cur.level == level {
                return Some(cur);
            }
            cur = self.regions.get(cur.parent.as_deref()?)?;
        }
    }

    /// The ancestors of `code`, nearest first (parent, grandparent, …).
    pub fn ancestors(&self, code: &str) -> Vec<&Region> {
        let mut out = Vec::new();
        let mut cur = self.regions.get(code).and_then(|r| r.parent.as_deref());
        while let Some(c) = cur {
            match self.regions.get(c) {
                Some(r) => {
                    out.push(r);
                    cur = r.parent.as_deref();
                }
                None => break,
            }
        }
        out
    }

    /// Population of a province or kabupaten/kota (`"0"` is the national total).
    pub fn population(&self, code: &str) -> Option<Population> {
        self.population.get(code).copied()
    }
}

/// Whether `code` equals `prefix` or lies below it (`21.71.10.1001` is within `21.71`).
pub fn code_within(code: &str, prefix: &str) -> bool {
    code == prefix
        || (code.len() > prefix.len()
            && code.starts_with(prefix)
            && code.as_bytes()[prefix.len()] == b'.')
}

/// Split one CSV line with optional double-quoted fields.
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// The IANA time zone of a region by its province code: WIB (`Asia/Jakarta`, `Asia/Pontianak` for
/// West and Central Kalimantan), WITA (`Asia/Makassar`) or WIT (`Asia/Jayapura`).
pub fn default_time_zone(code: &str) -> &'static str {
    let province: u32 = code
        .split('.')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    match province {
        61 | 62 => "Asia/Pontianak",
        51..=53 | 63..=65 | 71..=76 => "Asia/Makassar",
        81 | 82 | 91..=99 => "Asia/Jayapura",
        _ => "Asia/Jakarta",
    }
}

#[cfg(test)]
mod zone_tests {
    use super::*;

    #[test]
    fn provinces_map_to_their_zones() {
        assert_eq!(default_time_zone("21.71.10.1001"), "Asia/Jakarta"); // Kepri, WIB
        assert_eq!(default_time_zone("51.71"), "Asia/Makassar"); // Bali, WITA
        assert_eq!(default_time_zone("61"), "Asia/Pontianak"); // Kalbar, WIB
        assert_eq!(default_time_zone("64.72"), "Asia/Makassar"); // Kaltim, WITA
        assert_eq!(default_time_zone("94.71"), "Asia/Jayapura"); // Papua, WIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_has_every_region_and_known_traps() {
        let idx = RegionIndex::embedded().unwrap();
        assert_eq!(idx.len(), 91_599);
        // Kemendagri (not BPS) numbering: 21.01 is Bintan, 21.02 is Karimun.
        assert_eq!(idx.get("21.01").unwrap().name, "Kabupaten Bintan");
        assert_eq!(idx.get("21.02").unwrap().name, "Kabupaten Karimun");
        // Names repeat: two kelurahan called Sungai Lekop.
        assert_eq!(idx.get("21.01.06.1009").unwrap().name, "Sungai Lekop");
        assert_eq!(idx.get("21.71.11.1003").unwrap().name, "Sungai Lekop");
        // Gaps in codes.
        assert!(idx.get("21.01.05").is_none());
        assert!(idx.get("21.01.06").is_some());
        let r = idx.get("21.71.10.1001").unwrap();
        assert_eq!(r.level, UnitLevel::Kelurahan);
        assert_eq!(
            idx.ancestor_at("21.71.10.1001", UnitLevel::Kota)
                .unwrap()
                .code,
            "21.71"
        );
        assert_eq!(idx.descendants_at("21", UnitLevel::Kelurahan).len(), 144);
        assert_eq!(idx.descendants_at("21", UnitLevel::Desa).len(), 275);
        assert_eq!(idx.descendants_at("21", UnitLevel::Kecamatan).len(), 80);
        // Batam has only kelurahan.
        assert!(idx.descendants_at("21.71", UnitLevel::Desa).is_empty());
        let p = idx.population("21.71").unwrap();
        assert_eq!(p.male + p.female, p.total);
    }

    #[test]
    fn prefix_rule_respects_dots() {
        assert!(code_within("21.71.10.1001", "21.71"));
        assert!(code_within("21.71", "21.71"));
        assert!(!code_within("21.711", "21.71"));
        assert!(!code_within("21", "21.71"));
    }
}
