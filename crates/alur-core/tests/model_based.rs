//! Model-based property test: random command sequences run through the pure engine and through a
//! small hand-written reference model of the Batam domicile service. They must agree on every
//! outcome; refused commands change nothing; replaying the events rebuilds the case.

use std::collections::BTreeSet;

use alur_core::engine::{self, Actor, Case, Command, Context, Payload, RefusalKind, Status};
use alur_core::model::Outcome;
use alur_core::region::RegionIndex;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Act {
        actor: usize,
        action: usize,
        stale: bool,
        reason: bool,
        all_checked: bool,
    },
    Comment {
        actor: usize,
    },
    Claim {
        actor: usize,
    },
    Withdraw {
        actor: usize,
    },
}

const ACTORS: [&str; 7] = [
    "baloi-operator",
    "baloi-kasi",  // also Plh. Lurah in late December 2025
    "baloi-sekel", // no mandate at the test's time
    "baloi-lurah",
    "tamanbaloi-operator",
    "bunguran-camat",
    "applicant", // index 6: the case's applicant; 7 would be someone else
];
const ACTIONS: [&str; 8] = [
    "lengkap",
    "belum-lengkap",
    "tolak",
    "kirim-ulang",
    "paraf",
    "kembalikan",
    "tandatangani",
    "tidak-ada",
];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..8usize, 0..8usize, prop::bool::weighted(0.1), prop::bool::weighted(0.8), prop::bool::weighted(0.8))
            .prop_map(|(actor, action, stale, reason, all_checked)| Op::Act { actor, action, stale, reason, all_checked }),
        1 => (0..8usize).prop_map(|actor| Op::Comment { actor }),
        1 => (0..8usize).prop_map(|actor| Op::Claim { actor }),
        1 => (0..8usize).prop_map(|actor| Op::Withdraw { actor }),
    ]
}

/// The reference model: the domicile procedure written out by hand.
#[derive(Debug, Clone, PartialEq)]
struct Model {
    state: Result<&'static str, Outcome>,
    version: u64,
    /// (step, persons involved) for every officer action.
    acted: Vec<(&'static str, Vec<&'static str>)>,
    assignee: Option<&'static str>,
    /// Ticks persist across returns: once every requirement was ticked, it stays ticked.
    all_ticked: bool,
}

/// Persons an officer stands for at the test time (24 Dec 2025): the kasi is Plh. Lurah.
fn lurah_persons(officer: &'static str) -> Option<Vec<&'static str>> {
    match officer {
        "baloi-lurah" => Some(vec!["baloi-lurah"]),
        "baloi-kasi" => Some(vec!["baloi-kasi", "baloi-lurah"]),
        _ => None,
    }
}

fn entitled(step: &str, officer: &'static str) -> Option<Vec<&'static str>> {
    match (step, officer) {
        ("verifikasi", "baloi-operator") | ("paraf-kasi", "baloi-kasi") => Some(vec![officer]),
        ("ttd-lurah", o) => lurah_persons(o),
        _ => None,
    }
}

impl Model {
    fn sod_ok(&self, step: &str, persons: &[&str]) -> bool {
        if step != "ttd-lurah" {
            // Rules: [verifikasi, ttd-lurah] and [paraf-kasi, ttd-lurah].
            return !self
                .acted
                .iter()
                .any(|(s, p)| *s == "ttd-lurah" && p.iter().any(|x| persons.contains(x)));
        }
        !self.acted.iter().any(|(s, p)| {
            (*s == "verifikasi" || *s == "paraf-kasi") && p.iter().any(|x| persons.contains(x))
        })
    }

    fn officer_ok(
        &self,
        step: &'static str,
        officer: &'static str,
    ) -> Result<Vec<&'static str>, RefusalKind> {
        let persons = entitled(step, officer).ok_or(RefusalKind::Forbidden)?;
        if !self.sod_ok(step, &persons) {
            return Err(RefusalKind::SeparationOfDuties);
        }
        Ok(persons)
    }

    fn step(&mut self, op: &Op) -> Result<(), RefusalKind> {
        let step = self.state.map_err(|_| RefusalKind::InvalidTransition)?;
        let actor = |i: usize| if i < 6 { Some(ACTORS[i]) } else { None };
        match *op {
            Op::Act {
                actor: a,
                action,
                stale,
                reason,
                all_checked,
            } => {
                if stale {
                    return Err(RefusalKind::Conflict);
                }
                let action = ACTIONS[action];
                // (action, target, reason required, requires all checked)
                let table: &[(&str, Result<&'static str, Outcome>, bool, bool)] = match step {
                    "verifikasi" => &[
                        ("lengkap", Ok("paraf-kasi"), false, true),
                        ("belum-lengkap", Ok("lengkapi"), true, false),
                        ("tolak", Err(Outcome::Rejected), true, false),
                    ],
                    "lengkapi" => &[("kirim-ulang", Ok("verifikasi"), false, false)],
                    "paraf-kasi" => &[
                        ("paraf", Ok("ttd-lurah"), false, false),
                        ("kembalikan", Ok("verifikasi"), true, false),
                    ],
                    _ => &[
                        ("tandatangani", Err(Outcome::Completed), false, false),
                        ("tolak", Err(Outcome::Rejected), true, false),
                        ("kembalikan", Ok("paraf-kasi"), true, false),
                    ],
                };
                let &(_, target, needs_reason, needs_checked) = table
                    .iter()
                    .find(|t| t.0 == action)
                    .ok_or(RefusalKind::NotFound)?;
                let persons = if step == "lengkapi" {
                    if a != 6 {
                        return Err(RefusalKind::Forbidden);
                    }
                    None
                } else {
                    let o = actor(a).ok_or(RefusalKind::Forbidden)?;
                    Some(self.officer_ok(step, o)?)
                };
                if needs_reason && !reason {
                    return Err(RefusalKind::Invalid);
                }
                if needs_checked && !all_checked && !self.all_ticked {
                    return Err(RefusalKind::Invalid);
                }
                self.all_ticked |= all_checked;
                if let Some(p) = persons {
                    self.acted.push((step, p));
                }
                self.state = target;
                self.assignee = None;
                self.version += 1;
            }
            Op::Comment { actor: a } => {
                if a != 6 {
                    let o = actor(a).ok_or(RefusalKind::Forbidden)?;
                    if step == "lengkapi" {
                        return Err(RefusalKind::Forbidden);
                    }
                    self.officer_ok(step, o)?;
                }
                self.version += 1;
            }
            Op::Claim { actor: a } => {
                let o = actor(a).ok_or(RefusalKind::Forbidden)?;
                if step == "lengkapi" {
                    return Err(RefusalKind::InvalidTransition);
                }
                if self.assignee == Some(o) {
                    return Err(RefusalKind::InvalidTransition);
                }
                self.officer_ok(step, o)?;
                self.assignee = Some(o);
                self.version += 1;
            }
            Op::Withdraw { actor: a } => {
                if a != 6 {
                    return Err(RefusalKind::Forbidden);
                }
                self.state = Err(Outcome::Withdrawn);
                self.version += 1;
            }
        }
        Ok(())
    }
}

fn to_command(
    op: &Op,
    case: &Case,
    applicant: &alur_core::PersonRef,
    other: &alur_core::PersonRef,
) -> Command {
    let actor = |i: usize| match i {
        6 => Actor::Applicant(applicant.clone()),
        7 => Actor::Applicant(other.clone()),
        i => Actor::Officer(ACTORS[i].to_owned()),
    };
    match *op {
        Op::Act {
            actor: a,
            action,
            stale,
            reason,
            all_checked,
        } => Command::Act {
            actor: actor(a),
            action: ACTIONS[action].to_owned(),
            seen_version: if stale {
                case.version - 1
            } else {
                case.version
            },
            checked: if all_checked {
                ["pengantar-rt-rw", "ktp", "kk"].map(String::from).into()
            } else {
                BTreeSet::from(["ktp".to_owned()])
            },
            payload: Payload {
                reason: reason.then(|| "alasan".to_owned()),
                ..Payload::default()
            },
        },
        Op::Comment { actor: a } => Command::Comment {
            actor: actor(a),
            payload: Payload {
                text: Some("catatan".into()),
                ..Payload::default()
            },
        },
        Op::Claim { actor: a } => Command::Claim { actor: actor(a) },
        Op::Withdraw { actor: a } => Command::Withdraw {
            actor: actor(a),
            payload: Payload::default(),
        },
    }
}

static CONFIG: std::sync::LazyLock<alur_core::Config> =
    std::sync::LazyLock::new(alur_testkit::kepri);

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn engine_agrees_with_reference_model(ops in prop::collection::vec(op(), 1..40)) {
        let config = &*CONFIG;
        let regions = RegionIndex::embedded().unwrap();
        let persons = Default::default();
        let ctx = Context { config, regions, officer_persons: &persons, calendars: &config.calendars };
        let def = &config.services["batam-domisili"];
        let now = alur_testkit::ts("2025-12-24T02:00:00Z");
        let applicant = alur_testkit::applicant(1);
        let other = alur_testkit::applicant(2);
        let sub = alur_testkit::domisili(1);
        let submit = Command::Submit { case_id: "c".into(), service: sub.service, unit: sub.unit, applicant: applicant.clone(), conditions: sub.conditions, payload: sub.payload };
        let ev = engine::decide(&ctx, def, None, &submit, now).unwrap();
        let mut case = engine::apply(def, regions, None, "c", "kepri", &ev[0]).unwrap();
        let mut events = ev;
        let mut model = Model { state: Ok("verifikasi"), version: 1, acted: vec![], assignee: None, all_ticked: false };
        for op in &ops {
            let cmd = to_command(op, &case, &applicant, &other);
            let expected = model.step(op);
            match engine::decide(&ctx, def, Some(&case), &cmd, now) {
                Ok(evs) => {
                    prop_assert!(expected.is_ok(), "engine accepted {op:?}, model refused with {expected:?}");
                    for e in &evs {
                        case = engine::apply(def, regions, Some(case), "c", "kepri", e).unwrap();
                    }
                    events.extend(evs);
                }
                Err(refusal) => {
                    prop_assert_eq!(Err(refusal.kind), expected, "op {:?}: {}", op, refusal.message);
                }
            }
            // The engine's state is always one the definition allows, and matches the model.
            let model_status = match model.state { Ok(s) => Status::Open(s.into()), Err(o) => Status::Closed(o) };
            prop_assert_eq!(&case.status, &model_status);
            prop_assert_eq!(case.version, model.version);
            prop_assert_eq!(case.version as usize, events.len());
            if let Status::Open(s) = &case.status {
                prop_assert!(def.step_index(s).is_some());
            }
        }
        let rebuilt = engine::replay(def, regions, "c", "kepri", &events).unwrap().unwrap();
        prop_assert_eq!(rebuilt, case);
    }
}
