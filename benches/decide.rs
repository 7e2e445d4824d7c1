//! Benchmark of the pure decision step and of deadline computation.
//!
//! `cargo bench -p alur --bench decide`
//!
//! Every command of a realistic flow through each example service is decided many times; each call
//! is timed on its own, so the figures are per-command percentiles, not means. Allocations per
//! command are counted by an instrumented global allocator. Targets: decide p50 ≤ 1 µs, p99 ≤ 5 µs;
//! a 20-working-day deadline p50 ≤ 2 µs.

use std::alloc::System;
use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::Instant;

use alur::core::engine::{self, Actor, Case, Command, Context, Payload};
use alur::core::model::{StepKind, Target};
use alur::core::region::RegionIndex;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let config = alur_testkit::kepri();
    let regions = RegionIndex::embedded().expect("region data");
    let persons = Default::default();
    let ctx = Context {
        config: &config,
        regions,
        officer_persons: &persons,
        calendars: &config.calendars,
    };
    let now = alur_testkit::ts("2026-03-17T02:00:00Z");

    // Build (definition, case, command) samples: every service, a unit with officers, walking the
    // happy path and taking every action of each step as a sample.
    let mut samples: Vec<(
        std::sync::Arc<alur::core::ServiceDefinition>,
        Option<Case>,
        Command,
    )> = Vec::new();
    let units: BTreeSet<String> = config
        .officers
        .values()
        .flat_map(|o| o.posts.iter().map(|p| p.unit.clone()))
        .collect();
    for def in config.services.values() {
        let Some(unit) = units.iter().find(|u| config.offers(u, def)) else {
            continue;
        };
        let submit = Command::Submit {
            case_id: "bench".into(),
            service: def.id.clone(),
            unit: unit.clone(),
            applicant: alur_testkit::applicant(1),
            conditions: BTreeSet::new(),
            payload: Payload {
                fields: def
                    .fields
                    .iter()
                    .map(|f| (f.id.clone(), "x".into()))
                    .collect(),
                ..Payload::default()
            },
        };
        samples.push((def.clone(), None, submit.clone()));
        let ev = engine::decide(&ctx, def, None, &submit, now).expect("submit");
        let mut case = engine::apply(def, regions, None, "bench", "kepri", &ev[0]).expect("apply");
        for _ in 0..def.steps.len() {
            let Some(step) = case
                .step()
                .and_then(|s| def.steps.iter().find(|x| x.id == s))
            else {
                break;
            };
            let officer = config
                .officers
                .values()
                .find(|o| o.posts.iter().any(|p| step.roles.contains(&p.role)));
            let actor = match (&step.kind, officer) {
                (StepKind::Applicant, _) => Actor::Applicant(alur_testkit::applicant(1)),
                (_, Some(o)) => Actor::Officer(o.id.clone()),
                (_, None) => break,
            };
            let mut next = None;
            for a in &step.actions {
                let cmd = Command::Act {
                    actor: actor.clone(),
                    action: a.id.clone(),
                    seen_version: case.version,
                    checked: def.requirements.iter().map(|r| r.id.clone()).collect(),
                    payload: Payload {
                        reason: Some("alasan".into()),
                        ..Payload::default()
                    },
                };
                samples.push((def.clone(), Some(case.clone()), cmd.clone()));
                if next.is_none()
                    && matches!(&a.target, Target::Step(i) if *i > def.step_index(&step.id).unwrap_or(0))
                {
                    next = Some(cmd);
                }
            }
            samples.push((
                def.clone(),
                Some(case.clone()),
                Command::Claim {
                    actor: actor.clone(),
                },
            ));
            let Some(cmd) = next else { break };
            let Ok(evs) = engine::decide(&ctx, def, Some(&case), &cmd, now) else {
                break;
            };
            for e in &evs {
                case = engine::apply(def, regions, Some(case), "bench", "kepri", e).expect("apply");
            }
        }
    }

    let rounds = 2_000;
    let mut times = Vec::with_capacity(samples.len() * rounds);
    let mut allocs = 0usize;
    let mut accepted = 0usize;
    // Warm up.
    for (def, case, cmd) in &samples {
        let _ = black_box(engine::decide(&ctx, def, case.as_ref(), cmd, now));
    }
    for round in 0..rounds {
        for (def, case, cmd) in &samples {
            let region = Region::new(GLOBAL);
            let t = Instant::now();
            let r = black_box(engine::decide(&ctx, def, case.as_ref(), cmd, now));
            let ns = t.elapsed().as_nanos() as u64;
            if round == 0 {
                allocs += region.change().allocations;
                accepted += usize::from(r.is_ok());
            }
            drop(r);
            times.push(ns);
        }
    }
    times.sort_unstable();
    let (p50, p99) = (percentile(&times, 0.50), percentile(&times, 0.99));
    println!(
        "decide: {} distinct commands ({} accepted, {} refused) × {rounds} rounds",
        samples.len(),
        accepted,
        samples.len() - accepted
    );
    println!(
        "decide: p50 {p50} ns, p90 {} ns, p99 {p99} ns, max {} ns",
        percentile(&times, 0.90),
        times[times.len() - 1]
    );
    println!(
        "decide: {:.1} allocations per command (mean over the distinct commands)",
        allocs as f64 / samples.len() as f64
    );
    println!(
        "target: p50 ≤ 1000 ns → {}; p99 ≤ 5000 ns → {}",
        if p50 <= 1000 { "met" } else { "NOT MET" },
        if p99 <= 5000 { "met" } else { "NOT MET" }
    );

    // Deadline computation: 20 working days from many starts across 2025–2026.
    let cal = config.calendars.for_unit("21.71.10.1001");
    let sla = alur::calendar::SlaDuration::WorkingDays(20);
    let starts: Vec<jiff::Timestamp> = (0..700)
        .map(|i| {
            alur_testkit::ts("2025-01-01T00:00:00Z")
                .checked_add(jiff::SignedDuration::from_mins(i * 1_007))
                .expect("ts")
        })
        .collect();
    let mut dt = Vec::with_capacity(starts.len() * 200);
    for _ in 0..200 {
        for s in &starts {
            let t = Instant::now();
            let d = black_box(cal.due(*s, sla));
            dt.push(t.elapsed().as_nanos() as u64);
            drop(d);
        }
    }
    dt.sort_unstable();
    let p50 = percentile(&dt, 0.5);
    println!(
        "due(20 hari kerja): p50 {p50} ns, p99 {} ns → target p50 ≤ 2000 ns {}",
        percentile(&dt, 0.99),
        if p50 <= 2000 { "met" } else { "NOT MET" }
    );
}
