//! The community satisfaction survey (SKM) and its index (IKM), after Permenpan-RB 14/2017.
//!
//! Each respondent scores the nine elements (unsur) 1 to 4. Per element the mean score (nilai
//! rata-rata, NRR) is taken over the respondents; the index is the weighted mean of the nine
//! means, each weighted 1/9 (the regulation writes the weight rounded, 0.111), and the
//! converted index is that mean × 25, on the 25–100 scale. The quality grade follows the
//! regulation's conversion table:
//!
//! | perception | index (1–4) | converted (25–100) | grade | performance |
//! |---|---|---|---|---|
//! | 1 | 1.00 – 2.5996 | 25.00 – 64.99 | D | Tidak Baik |
//! | 2 | 2.60 – 3.064 | 65.00 – 76.60 | C | Kurang Baik |
//! | 3 | 3.0644 – 3.532 | 76.61 – 88.30 | B | Baik |
//! | 4 | 3.5324 – 4.00 | 88.31 – 100.00 | A | Sangat Baik |
//!
//! The grade is read from the converted value rounded to two decimals, as published.

use serde::Serialize;

/// The nine survey elements (unsur) of Permenpan-RB 14/2017, in the regulation's order.
pub const ELEMENTS: [&str; 9] = [
    "Persyaratan",
    "Sistem, mekanisme dan prosedur",
    "Waktu penyelesaian",
    "Biaya/tarif",
    "Produk spesifikasi jenis pelayanan",
    "Kompetensi pelaksana",
    "Perilaku pelaksana",
    "Penanganan pengaduan, saran dan masukan",
    "Sarana dan prasarana",
];

/// Quality grade (mutu pelayanan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Grade {
    /// Sangat Baik, 88.31–100.
    A,
    /// Baik, 76.61–88.30.
    B,
    /// Kurang Baik, 65.00–76.60.
    C,
    /// Tidak Baik, 25.00–64.99.
    D,
}

impl Grade {
    /// The grade of a converted index (25–100), read at two decimals.
    pub fn of_converted(value: f64) -> Self {
        let v = (value * 100.0).round() / 100.0;
        if v >= 88.31 {
            Self::A
        } else if v >= 76.61 {
            Self::B
        } else if v >= 65.0 {
            Self::C
        } else {
            Self::D
        }
    }

    /// The letter.
    pub fn letter(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
            Self::C => "C",
            Self::D => "D",
        }
    }

    /// The regulation's words for the performance (kinerja unit pelayanan).
    pub fn label(self) -> &'static str {
        match self {
            Self::A => "Sangat Baik",
            Self::B => "Baik",
            Self::C => "Kurang Baik",
            Self::D => "Tidak Baik",
        }
    }
}

/// Why a survey answer was not counted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// Not nine scores.
    #[error("a survey answer has {0} scores; the SKM has nine elements")]
    Count(usize),
    /// A score outside 1–4.
    #[error("survey element {element} scored {score}; scores are 1 to 4")]
    Score {
        /// Element number, 1–9.
        element: usize,
        /// The score given.
        score: u8,
    },
}

/// Check one respondent's nine scores.
///
/// # Errors
/// [`AnswerError`] when there are not nine scores or one is outside 1–4.
pub fn validate(scores: &[u8]) -> Result<[u8; 9], AnswerError> {
    let arr: [u8; 9] = scores
        .try_into()
        .map_err(|_| AnswerError::Count(scores.len()))?;
    if let Some((i, &s)) = arr.iter().enumerate().find(|(_, s)| !(1..=4).contains(*s)) {
        return Err(AnswerError::Score {
            element: i + 1,
            score: s,
        });
    }
    Ok(arr)
}

/// Survey answers summed per element: mergeable (sum the parts) and exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SkmTally {
    /// Respondents.
    pub respondents: u64,
    /// Sum of scores per element.
    pub sums: [u64; 9],
}

impl SkmTally {
    /// Add one validated answer.
    pub fn add(&mut self, scores: [u8; 9]) {
        self.respondents += 1;
        for (s, v) in self.sums.iter_mut().zip(scores) {
            *s += u64::from(v);
        }
    }

    /// Add another tally.
    pub fn merge(&mut self, other: &Self) {
        self.respondents += other.respondents;
        for (s, v) in self.sums.iter_mut().zip(other.sums) {
            *s += v;
        }
    }

    /// The index, or `None` without respondents.
    pub fn index(&self) -> Option<Ikm> {
        if self.respondents == 0 {
            return None;
        }
        let n = self.respondents as f64;
        let mut elements = [0.0; 9];
        for (e, s) in elements.iter_mut().zip(self.sums) {
            *e = s as f64 / n;
        }
        let index = elements.iter().sum::<f64>() / 9.0;
        let converted = index * 25.0;
        Some(Ikm {
            respondents: self.respondents,
            elements,
            index,
            converted,
            grade: Grade::of_converted(converted),
        })
    }
}

/// The satisfaction index of a unit and period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ikm {
    /// Respondents.
    pub respondents: u64,
    /// Mean score per element (NRR, 1–4).
    pub elements: [f64; 9],
    /// Weighted mean of the element means (1–4).
    pub index: f64,
    /// Converted index, 25–100 (index × 25).
    pub converted: f64,
    /// Quality grade.
    pub grade: Grade,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The regulation's method on a worked example: ten respondents, the element means, the
    /// weighted index (weights 1/9, written 0.111), × 25, and the grade from the table.
    #[test]
    fn worked_example() {
        // Ten respondents' scores for the nine elements.
        let answers: [[u8; 9]; 10] = [
            [3, 3, 4, 4, 3, 3, 4, 3, 3],
            [3, 3, 3, 4, 3, 3, 3, 3, 2],
            [4, 3, 3, 4, 3, 4, 4, 3, 3],
            [3, 2, 3, 4, 3, 3, 3, 2, 3],
            [3, 3, 2, 4, 3, 3, 4, 3, 3],
            [4, 4, 3, 4, 4, 3, 4, 3, 3],
            [3, 3, 3, 4, 3, 3, 3, 3, 3],
            [2, 3, 3, 4, 3, 3, 3, 3, 2],
            [3, 3, 3, 4, 3, 4, 4, 3, 3],
            [3, 3, 3, 4, 3, 3, 3, 2, 3],
        ];
        let mut t = SkmTally::default();
        for a in answers {
            t.add(validate(&a).unwrap());
        }
        let ikm = t.index().unwrap();
        // Element sums: 31 30 30 40 31 32 35 28 28 → NRR 3.1 3.0 3.0 4.0 3.1 3.2 3.5 2.8 2.8.
        assert_eq!(t.sums, [31, 30, 30, 40, 31, 32, 35, 28, 28]);
        let nrr = [3.1, 3.0, 3.0, 4.0, 3.1, 3.2, 3.5, 2.8, 2.8];
        for (a, b) in ikm.elements.iter().zip(nrr) {
            assert!((a - b).abs() < 1e-12);
        }
        // Σ NRR = 28.5; × 1/9 = 3.1667; × 25 = 79.17 → B (Baik).
        assert!((ikm.index - 28.5 / 9.0).abs() < 1e-12);
        assert!((ikm.converted - 79.166_666).abs() < 1e-4);
        assert_eq!(ikm.grade, Grade::B);
        assert_eq!(ikm.grade.label(), "Baik");
        // The regulation's rounded weight (0.111) gives 28.5 × 0.111 = 3.1635 → 79.09, same grade.
        let rounded = nrr.iter().map(|x| x * 0.111).sum::<f64>() * 25.0;
        assert!((rounded - 79.0875).abs() < 1e-9);
        assert_eq!(Grade::of_converted(rounded), Grade::B);
    }

    #[test]
    fn grade_boundaries_follow_the_conversion_table() {
        for (v, g) in [
            (25.0, Grade::D),
            (64.99, Grade::D),
            (65.0, Grade::C),
            (76.60, Grade::C),
            (76.61, Grade::B),
            (88.30, Grade::B),
            (88.31, Grade::A),
            (100.0, Grade::A),
        ] {
            assert_eq!(Grade::of_converted(v), g, "{v}");
        }
        // Index bounds of the table (× 25): 2.5996 → 64.99, 2.60 → 65.00, 3.064 → 76.60,
        // 3.0644 → 76.61, 3.532 → 88.30, 3.5324 → 88.31.
        for (i, g) in [
            (2.5996, Grade::D),
            (2.60, Grade::C),
            (3.064, Grade::C),
            (3.0644, Grade::B),
            (3.532, Grade::B),
            (3.5324, Grade::A),
        ] {
            assert_eq!(Grade::of_converted(i * 25.0), g, "{i}");
        }
    }

    #[test]
    fn all_fours_is_one_hundred_and_all_ones_twenty_five() {
        let mut t = SkmTally::default();
        t.add([4; 9]);
        assert!((t.index().unwrap().converted - 100.0).abs() < 1e-9);
        let mut t = SkmTally::default();
        t.add([1; 9]);
        assert!((t.index().unwrap().converted - 25.0).abs() < 1e-9);
        assert!(SkmTally::default().index().is_none());
    }

    #[test]
    fn bad_answers_are_refused() {
        assert_eq!(validate(&[4; 8]), Err(AnswerError::Count(8)));
        assert_eq!(
            validate(&[4, 4, 5, 4, 4, 4, 4, 4, 4]),
            Err(AnswerError::Score {
                element: 3,
                score: 5
            })
        );
        assert!(validate(&[0; 9]).is_err());
    }
}
