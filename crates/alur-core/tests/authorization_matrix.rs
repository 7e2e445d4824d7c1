//! Exhaustive authorisation matrix over the example configuration: every officer × action × step ×
//! unit × moment (with a current mandate, an expired one, none), checked against an independent
//! oracle written from the definition's plain meaning, and pinned as a golden file.

use std::collections::BTreeSet;
use std::fmt::Write;

use alur_core::engine::{self, Actor, Command, Context, Payload, Status};
use alur_core::model::{ApprovalRule, StepAt, StepKind, Target};
use alur_core::region::{RegionIndex, code_within};

#[test]
fn every_role_action_step_unit_combination() {
    let config = alur_testkit::kepri();
    let regions = RegionIndex::embedded().unwrap();
    let tz = jiff::tz::TimeZone::get("Asia/Jakarta").unwrap();
    let persons = Default::default();
    let ctx = Context {
        config: &config,
        regions,
        officer_persons: &persons,
        calendars: &config.calendars,
    };
    // Units with at least one officer posted, plus the units those posts hand off to.
    let mut units: BTreeSet<String> = BTreeSet::new();
    for o in config.officers.values() {
        for p in &o.posts {
            units.insert(p.unit.clone());
        }
    }
    let moments = [
        ("plh-2026", alur_testkit::ts("2026-03-17T02:00:00Z")),
        ("plh-2025", alur_testkit::ts("2025-12-24T02:00:00Z")),
        ("no-mandate", alur_testkit::ts("2026-05-04T02:00:00Z")),
    ];
    let mut golden = String::new();
    let (mut checked, mut allowed_total, mut foreign_refused) = (0u64, 0u64, 0u64);
    for def in config.services.values() {
        for unit in units.iter().filter(|u| config.offers(u, def)) {
            let applicant = alur_testkit::applicant(1);
            let submit = Command::Submit {
                case_id: "m".into(),
                service: def.id.clone(),
                unit: unit.clone(),
                applicant: applicant.clone(),
                conditions: def.conditions.iter().map(|c| c.id.clone()).collect(),
                payload: Payload {
                    fields: def
                        .fields
                        .iter()
                        .map(|f| (f.id.clone(), "x".into()))
                        .collect(),
                    ..Payload::default()
                },
            };
            let ev = engine::decide(&ctx, def, None, &submit, moments[0].1).unwrap();
            let base = engine::apply(def, regions, None, "m", "kepri", &ev[0]).unwrap();
            for step in &def.steps {
                if matches!(step.kind, StepKind::Applicant) {
                    continue;
                }
                let mut case = base.clone();
                case.status = Status::Open(step.id.clone());
                let step_unit = match step.at {
                    StepAt::Unit => unit.clone(),
                    StepAt::Ancestor(l) => regions.ancestor_at(unit, l).unwrap().code.clone(),
                };
                for action in &step.actions {
                    let mut roles: Vec<&String> = if action.roles.is_empty() {
                        step.roles.iter().collect()
                    } else {
                        action.roles.iter().collect()
                    };
                    if let (StepKind::Approval(ApprovalRule::Chain(chain)), Target::Vote(_)) =
                        (&step.kind, &action.target)
                    {
                        roles.retain(|r| *r == &chain[0]);
                    }
                    for (moment, now) in moments {
                        let today = tz.to_datetime(now).date();
                        let mut who = Vec::new();
                        for officer in config.officers.values() {
                            // Oracle: a post or a mandate valid today for an allowed role at the step's unit.
                            let direct = officer
                                .posts
                                .iter()
                                .any(|p| p.unit == step_unit && roles.contains(&&p.role));
                            let delegated = config.mandates.iter().any(|m| {
                                m.holder == officer.id
                                    && m.unit == step_unit
                                    && roles.contains(&&m.role)
                                    && m.from <= today
                                    && today <= m.until
                            });
                            let expected = direct || delegated;
                            let cmd = Command::Act {
                                actor: Actor::Officer(officer.id.clone()),
                                action: action.id.clone(),
                                seen_version: case.version,
                                checked: def.requirements.iter().map(|r| r.id.clone()).collect(),
                                payload: Payload {
                                    reason: Some("alasan".into()),
                                    ..Payload::default()
                                },
                            };
                            let got = engine::decide(&ctx, def, Some(&case), &cmd, now);
                            checked += 1;
                            assert_eq!(
                                got.is_ok(),
                                expected,
                                "{} {} {} {unit} {} at {moment}: {:?}",
                                def.id,
                                step.id,
                                action.id,
                                officer.id,
                                got.err()
                            );
                            let regency =
                                |u: &str| u.split('.').take(2).collect::<Vec<_>>().join(".");
                            let foreign = officer
                                .posts
                                .iter()
                                .all(|p| !code_within(&p.unit, &regency(unit)))
                                && !config.mandates.iter().any(|m| {
                                    m.holder == officer.id && code_within(&m.unit, &regency(unit))
                                });
                            if foreign {
                                assert!(got.is_err(), "an officer of another regency acted");
                                foreign_refused += 1;
                            }
                            if got.is_ok() {
                                allowed_total += 1;
                                who.push(officer.id.clone());
                            }
                        }
                        let _ = writeln!(
                            golden,
                            "{} {unit} {}/{} {moment}: {}",
                            def.id,
                            step.id,
                            action.id,
                            if who.is_empty() {
                                "-".to_owned()
                            } else {
                                who.join(",")
                            }
                        );
                    }
                }
            }
        }
    }
    eprintln!(
        "authorization matrix: {checked} combinations, {allowed_total} allowed, {foreign_refused} foreign refusals"
    );
    assert!(checked > 1000, "matrix too small: {checked}");
    assert!(foreign_refused > 0);
    insta::assert_snapshot!(golden);
}
