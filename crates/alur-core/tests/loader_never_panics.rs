//! The configuration loader never panics, whatever the input: random mutations of the example files
//! (byte flips, deletions, duplicated and truncated spans, hostile tokens) and arbitrary strings.
//! Every problem found points into the file it names. (`crates/alur-core/fuzz` runs the same target
//! under cargo-fuzz for longer campaigns.)

use alur_core::config::{Sources, load_sources};
use proptest::prelude::*;

fn example() -> Sources {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/config/kepri");
    let read = |p: &str| std::fs::read_to_string(format!("{dir}/{p}")).unwrap();
    let mut services: Vec<(String, String)> = std::fs::read_dir(format!("{dir}/services"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    services.sort();
    Sources {
        main: ("alur.toml".into(), Some(read("alur.toml"))),
        roles: ("roles.toml".into(), Some(read("roles.toml"))),
        officers: ("officers.toml".into(), Some(read("officers.toml"))),
        services,
        read_errors: vec![],
    }
}

static EXAMPLE: std::sync::LazyLock<Sources> = std::sync::LazyLock::new(example);

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Truncate(usize),
    Insert(usize, &'static str),
}

const TOKENS: [&str; 12] = [
    "[[step]]",
    "\"",
    "=",
    "[",
    "]]",
    "\n[[step.action]]\nid = \"x\"\n",
    "quorum = 99",
    "\u{0}",
    "🙂",
    "roles = [1, 2]",
    "id = \"\"",
    "9999999999999999999999",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 0..64usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), 0..256usize).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::sample::select(TOKENS.to_vec()))
            .prop_map(|(i, t)| Mutation::Insert(i, t)),
    ]
}

fn mutate(text: &str, m: &Mutation) -> String {
    let mut b = text.as_bytes().to_vec();
    let at = |i: usize| if b.is_empty() { 0 } else { i % b.len() };
    match *m {
        Mutation::Flip(i, x) => {
            let i = at(i);
            if !b.is_empty() {
                b[i] ^= x | 1;
            }
        }
        Mutation::Delete(i, n) => {
            let i = at(i);
            let end = (i + n).min(b.len());
            b.drain(i..end);
        }
        Mutation::Duplicate(i, n) => {
            let i = at(i);
            let end = (i + n).min(b.len());
            let span = b[i..end].to_vec();
            b.splice(i..i, span);
        }
        Mutation::Truncate(i) => {
            let i = at(i);
            b.truncate(i);
        }
        Mutation::Insert(i, t) => {
            let i = at(i);
            b.splice(i..i, t.bytes());
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn check(src: Sources) {
    let texts: Vec<(String, String)> =
        std::iter::once((src.main.0.clone(), src.main.1.clone().unwrap_or_default()))
            .chain(std::iter::once((
                src.roles.0.clone(),
                src.roles.1.clone().unwrap_or_default(),
            )))
            .chain(std::iter::once((
                src.officers.0.clone(),
                src.officers.1.clone().unwrap_or_default(),
            )))
            .chain(src.services.iter().cloned())
            .collect();
    if let Err(errors) = load_sources(src) {
        assert!(!errors.0.is_empty());
        for d in &errors.0 {
            let text = &texts
                .iter()
                .find(|(n, _)| n == &d.file)
                .expect("diagnostic names a known file")
                .1;
            assert!(
                d.line <= text.lines().count().max(1) + 1,
                "line {} beyond {}: {d}",
                d.line,
                d.file
            );
            assert!(!d.message.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_example_files(file in 0..14usize, muts in prop::collection::vec(mutation(), 1..6)) {
        let mut src = EXAMPLE.clone();
        let n_services = src.services.len();
        let target: &mut String = match file {
            0 => src.main.1.as_mut().unwrap(),
            1 => src.roles.1.as_mut().unwrap(),
            2 => src.officers.1.as_mut().unwrap(),
            n => &mut src.services[(n - 3) % n_services].1,
        };
        for m in &muts {
            *target = mutate(target, m);
        }
        check(src);
    }

    #[test]
    fn arbitrary_service_text(text in ".{0,400}") {
        let mut src = EXAMPLE.clone();
        src.services.push(("services/zz.toml".into(), text));
        check(src);
    }
}
