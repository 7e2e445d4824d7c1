//! Reading a stored [`ServiceDefinition`] back from its JSON.
//!
//! `alur-core` derives only `Serialize` for the definition model, so this module mirrors the
//! serialized shape with `Deserialize` types and converts them into the core types. The struct
//! literals below name every field: a field added in core is a compile error here, not silent
//! data loss, and `deny_unknown_fields` refuses JSON this mirror does not understand. Delete this
//! module once core derives `Deserialize` for the model.

use alur_core::model::{
    Action, ApprovalRule, BreachPolicy, Category, ClockStart, ComplaintChannel, ComplaintTier,
    Condition, Fee, Field, OptionalStep, Outcome, Product, Requirement, Separation,
    ServiceDefinition, Step, StepAt, StepKind, Target, Validity,
};
use alur_core::region::UnitLevel;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Parse a definition stored by [`crate::SqliteStore`].
pub(crate) fn from_json(json: &str) -> Result<ServiceDefinition, serde_json::Error> {
    let d: DefinitionJson = serde_json::from_str(json)?;
    d.into_core()
}

/// Deserialize a value whose core type is `Deserialize` but not nameable from here.
fn value<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(v)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefinitionJson {
    id: String,
    version: u32,
    digest: String,
    name: String,
    category: Category,
    runs_at: UnitLevel,
    regions: Vec<String>,
    legal_basis: Vec<String>,
    in_person_only: bool,
    completion_time: serde_json::Value,
    clock_starts: ClockStartJson,
    fee: FeeJson,
    product: ProductJson,
    conditions: Vec<ConditionJson>,
    requirements: Vec<RequirementJson>,
    fields: Vec<FieldJson>,
    complaint_channels: Vec<ComplaintChannelJson>,
    complaint_tiers: Vec<ComplaintTierJson>,
    steps: Vec<StepJson>,
    separations: Vec<SeparationJson>,
    reminders: Vec<u8>,
    escalate_to: Option<String>,
    breach: BreachPolicy,
    source: String,
}

impl DefinitionJson {
    fn into_core(self) -> Result<ServiceDefinition, serde_json::Error> {
        Ok(ServiceDefinition {
            id: self.id,
            version: self.version,
            digest: self.digest,
            name: self.name,
            category: self.category,
            runs_at: self.runs_at,
            regions: self.regions,
            legal_basis: self.legal_basis,
            in_person_only: self.in_person_only,
            completion_time: value(self.completion_time)?,
            clock_starts: self.clock_starts.into(),
            fee: Fee {
                amount: self.fee.amount,
                note: self.fee.note,
            },
            product: Product {
                name: self.product.name,
                validity: self.product.validity.into(),
                classification: self.product.classification,
            },
            conditions: self
                .conditions
                .into_iter()
                .map(|c| Condition {
                    id: c.id,
                    question: c.question,
                })
                .collect(),
            requirements: self
                .requirements
                .into_iter()
                .map(|r| Requirement {
                    id: r.id,
                    name: r.name,
                    only_if: r.only_if,
                })
                .collect(),
            fields: self
                .fields
                .into_iter()
                .map(|f| Field {
                    id: f.id,
                    label: f.label,
                })
                .collect(),
            complaint_channels: self
                .complaint_channels
                .into_iter()
                .map(|c| ComplaintChannel {
                    name: c.name,
                    contact: c.contact,
                })
                .collect(),
            complaint_tiers: self
                .complaint_tiers
                .into_iter()
                .map(|t| {
                    Ok(ComplaintTier {
                        id: t.id,
                        name: t.name,
                        response: value(t.response)?,
                    })
                })
                .collect::<Result<_, serde_json::Error>>()?,
            steps: self
                .steps
                .into_iter()
                .map(StepJson::into_core)
                .collect::<Result<_, _>>()?,
            separations: self
                .separations
                .into_iter()
                .map(|s| Separation { steps: s.steps })
                .collect(),
            reminders: self.reminders,
            escalate_to: self.escalate_to,
            breach: self.breach,
            source: self.source,
        })
    }
}

#[derive(Deserialize)]
enum ClockStartJson {
    Submitted,
    Step(usize),
}

impl From<ClockStartJson> for ClockStart {
    fn from(c: ClockStartJson) -> Self {
        match c {
            ClockStartJson::Submitted => Self::Submitted,
            ClockStartJson::Step(i) => Self::Step(i),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeeJson {
    amount: u64,
    note: Option<String>,
}

#[derive(Deserialize)]
enum ValidityJson {
    Days(u32),
    Months(u32),
    Years(u32),
    Unlimited,
}

impl From<ValidityJson> for Validity {
    fn from(v: ValidityJson) -> Self {
        match v {
            ValidityJson::Days(n) => Self::Days(n),
            ValidityJson::Months(n) => Self::Months(n),
            ValidityJson::Years(n) => Self::Years(n),
            ValidityJson::Unlimited => Self::Unlimited,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductJson {
    name: String,
    validity: ValidityJson,
    classification: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConditionJson {
    id: String,
    question: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequirementJson {
    id: String,
    name: String,
    only_if: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldJson {
    id: String,
    label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComplaintChannelJson {
    name: String,
    contact: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComplaintTierJson {
    id: String,
    name: String,
    response: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepJson {
    id: String,
    name: String,
    kind: StepKindJson,
    roles: Vec<String>,
    at: StepAtJson,
    sla: Option<serde_json::Value>,
    optional: Option<OptionalStepJson>,
    actions: Vec<ActionJson>,
    pauses_clock: bool,
}

impl StepJson {
    fn into_core(self) -> Result<Step, serde_json::Error> {
        Ok(Step {
            id: self.id,
            name: self.name,
            kind: self.kind.into(),
            roles: self.roles,
            at: match self.at {
                StepAtJson::Unit => StepAt::Unit,
                StepAtJson::Ancestor(l) => StepAt::Ancestor(l),
            },
            sla: self.sla.map(value).transpose()?,
            optional: self.optional.map(|o| OptionalStep {
                setting: o.setting,
                default: o.default,
                skip_to: o.skip_to,
            }),
            actions: self
                .actions
                .into_iter()
                .map(|a| Action {
                    id: a.id,
                    name: a.name,
                    target: a.target.into(),
                    roles: a.roles,
                    reason_required: a.reason_required,
                    requires_checked: a.requires_checked,
                    requires_fields: a.requires_fields,
                })
                .collect(),
            pauses_clock: self.pauses_clock,
        })
    }
}

#[derive(Deserialize)]
enum StepKindJson {
    Task,
    Approval(ApprovalRuleJson),
    Applicant,
}

impl From<StepKindJson> for StepKind {
    fn from(k: StepKindJson) -> Self {
        match k {
            StepKindJson::Task => Self::Task,
            StepKindJson::Approval(ApprovalRuleJson::Chain(roles)) => {
                Self::Approval(ApprovalRule::Chain(roles))
            }
            StepKindJson::Approval(ApprovalRuleJson::Quorum { quorum, of }) => {
                Self::Approval(ApprovalRule::Quorum { quorum, of })
            }
            StepKindJson::Applicant => Self::Applicant,
        }
    }
}

#[derive(Deserialize)]
enum ApprovalRuleJson {
    Chain(Vec<String>),
    Quorum { quorum: u32, of: Vec<String> },
}

#[derive(Deserialize)]
enum StepAtJson {
    Unit,
    Ancestor(UnitLevel),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionalStepJson {
    setting: String,
    default: bool,
    skip_to: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionJson {
    id: String,
    name: String,
    target: TargetJson,
    roles: Vec<String>,
    reason_required: bool,
    requires_checked: Vec<String>,
    requires_fields: Vec<String>,
}

#[derive(Deserialize)]
enum TargetJson {
    Step(usize),
    Outcome(Outcome),
    Vote(Box<TargetJson>),
}

impl From<TargetJson> for Target {
    fn from(t: TargetJson) -> Self {
        match t {
            TargetJson::Step(i) => Self::Step(i),
            TargetJson::Outcome(o) => Self::Outcome(o),
            TargetJson::Vote(inner) => Self::Vote(Box::new((*inner).into())),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeparationJson {
    steps: Vec<usize>,
}

#[cfg(test)]
mod tests {
    /// Every example definition survives JSON and back unchanged.
    #[test]
    fn every_example_definition_round_trips() {
        let config = alur_testkit::kepri();
        assert!(!config.services.is_empty());
        for def in config.services.values() {
            let json = serde_json::to_string(def.as_ref()).unwrap();
            let back = super::from_json(&json).unwrap();
            assert_eq!(&back, def.as_ref(), "{}", def.id);
        }
    }
}
