//! The simulation goes through the real engine, never asks for anything the engine refuses, and is
//! deterministic: the same seed gives the same data.

use alur_core::MemoryStore;
use alur_core::store::{SearchQuery, Store};

fn options(seed: u64) -> alur_sim::Options {
    alur_sim::Options {
        from: jiff::civil::date(2026, 3, 2),
        to: jiff::civil::date(2026, 3, 13),
        seed,
        cases_per_year: 20_000,
        ..alur_sim::Options::default()
    }
}

async fn run(seed: u64) -> (alur_sim::Report, MemoryStore) {
    alur_sim::run(
        alur_testkit::kepri(),
        MemoryStore::new(),
        &options(seed),
        |_, _, _| {},
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn two_weeks_of_kepri_through_the_engine() {
    let (r, store) = run(7).await;
    eprintln!("{r:?}");
    assert!(r.cases > 500, "{r:?}");
    assert_eq!(
        r.refused_commands, 0,
        "the simulation only does what the engine allows: {r:?}"
    );
    assert!(r.completed > r.cases / 2, "{r:?}");
    assert!(r.returned > 0 && r.rejected > 0, "{r:?}");
    assert!(r.timers_fired > 0, "{r:?}");
    let all = store
        .search(
            "kepri",
            &SearchQuery {
                limit: 1_000_000,
                ..SearchQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.len() as u64, r.cases);
    // Arrivals follow population: Batam (1.3M people) has more cases than Natuna (80k).
    let batam = all.iter().filter(|c| c.unit.starts_with("21.71")).count();
    let natuna = all.iter().filter(|c| c.unit.starts_with("21.03")).count();
    assert!(batam > 5 * natuna.max(1), "batam {batam}, natuna {natuna}");
    // Every chain verifies and every case replays from its entries.
    let regions = alur_core::region::RegionIndex::embedded().unwrap();
    let config = alur_testkit::kepri();
    for c in all.iter().take(300) {
        let entries = store.entries("kepri", &c.id).await.unwrap();
        alur_core::audit::verify_chain(&entries).unwrap();
        let def = store
            .definition("kepri", &c.service, c.definition_version)
            .await
            .unwrap()
            .unwrap();
        let events: Vec<_> = entries.iter().map(|e| e.to_event()).collect();
        let rebuilt = alur_core::engine::replay(&def, regions, &c.id, "kepri", &events)
            .unwrap()
            .unwrap();
        assert_eq!(&rebuilt, c);
        let _ = &config;
    }
}

#[tokio::test]
async fn the_same_seed_gives_the_same_data() {
    let (a, sa) = run(11).await;
    let (b, sb) = run(11).await;
    assert_eq!(a, b);
    let q = SearchQuery {
        limit: 1_000_000,
        ..SearchQuery::default()
    };
    let ca = sa.search("kepri", &q).await.unwrap();
    let cb = sb.search("kepri", &q).await.unwrap();
    assert_eq!(ca, cb);
    for c in ca.iter().take(50) {
        assert_eq!(
            sa.entries("kepri", &c.id).await.unwrap(),
            sb.entries("kepri", &c.id).await.unwrap()
        );
    }
    let (c, _) = run(12).await;
    assert_ne!(a, c, "another seed gives other data");
}
