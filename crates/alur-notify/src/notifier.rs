//! [`Notifier`]: resolves recipients, renders templates and routes to channels.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use alur_core::engine::{Case, Payload};
use alur_core::model::ServiceDefinition;
use alur_core::region::{RegionIndex, default_time_zone};
use alur_core::store::{ClaimedMessage, OutboxMessage, Store};
use async_trait::async_trait;
use jiff::tz::TimeZone;
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::channel::{Address, Channel, ChannelKind, Notification};
use crate::directory::Directory;
use crate::dispatcher::Deliver;
use crate::error::DeliveryError;
use crate::template::Templates;
use crate::text::{format_time, plain_text};

/// Settings of a [`Notifier`].
#[derive(Debug, Clone)]
pub struct NotifierSettings {
    /// Start of the verification link of a letter; the case id is appended after a `/`.
    pub verification_base: String,
}

impl Default for NotifierSettings {
    fn default() -> Self {
        Self {
            verification_base: "https://layanan.example.invalid/verifikasi".into(),
        }
    }
}

/// The applicant's addresses from the fields of their submission: `email`, `telepon` (SMS) and
/// `whatsapp`; when `kontak` names one of `email`, `sms` or `whatsapp`, only that one is used
/// (the applicant's choice).
pub fn applicant_addresses(submission: &Payload) -> Vec<Address> {
    let f = &submission.fields;
    let all: Vec<Address> = [
        (ChannelKind::Email, "email"),
        (ChannelKind::Sms, "telepon"),
        (ChannelKind::WhatsApp, "whatsapp"),
    ]
    .into_iter()
    .filter_map(|(kind, key)| {
        f.get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(|v| Address::new(kind, v))
    })
    .collect();
    match f.get("kontak").map(|k| k.trim().to_ascii_lowercase()) {
        Some(choice) => all
            .into_iter()
            .filter(|a| a.kind.as_str() == choice)
            .collect(),
        None => all,
    }
}

/// Delivers outbox messages to people: loads the case and its definition, finds the
/// recipients' addresses (the applicant's from the submission, officers' from the
/// [`Directory`]), renders the event's template and sends through the channel registered for
/// each address's kind.
pub struct Notifier<S, Dir> {
    store: S,
    directory: Dir,
    templates: Templates,
    channels: BTreeMap<ChannelKind, Arc<dyn Channel>>,
    settings: NotifierSettings,
    definitions: Mutex<HashMap<(String, u32), Arc<ServiceDefinition>>>,
}

fn missing(what: &str) -> DeliveryError {
    DeliveryError::temporary(format!("{what} not found in the store"))
}

impl<S: Store, Dir: Directory> Notifier<S, Dir> {
    /// A notifier with no channels yet.
    pub fn new(store: S, directory: Dir, templates: Templates, settings: NotifierSettings) -> Self {
        Self {
            store,
            directory,
            templates,
            channels: BTreeMap::new(),
            settings,
            definitions: Mutex::new(HashMap::new()),
        }
    }

    /// Route addresses of `kind` to `channel` (wrap it in layers first).
    pub fn channel(mut self, kind: ChannelKind, channel: impl Channel) -> Self {
        self.channels.insert(kind, Arc::new(channel));
        self
    }

    async fn definition(&self, case: &Case) -> Result<Arc<ServiceDefinition>, DeliveryError> {
        let key = (case.service.clone(), case.definition_version);
        if let Some(d) = self.definitions.lock().await.get(&key) {
            return Ok(d.clone());
        }
        let d = self
            .store
            .definition(&case.tenant, &case.service, case.definition_version)
            .await?
            .ok_or_else(|| missing("service definition"))?;
        let d = Arc::new(d);
        self.definitions.lock().await.insert(key, d.clone());
        Ok(d)
    }

    /// The template variables of a message (see [`crate::EVENTS`]), and the case's submission.
    ///
    /// # Errors
    /// Temporary when the store fails or the case is not visible.
    pub async fn context(&self, m: &OutboxMessage) -> Result<(Value, Payload), DeliveryError> {
        let case = self
            .store
            .case(&m.tenant, &m.case_id)
            .await?
            .ok_or_else(|| missing("case"))?;
        let def = self.definition(&case).await?;
        let submission = self
            .store
            .payload(&m.tenant, &m.case_id, 1)
            .await?
            .unwrap_or_default();
        let event = if m.seq == 1 {
            submission.clone()
        } else {
            self.store
                .payload(&m.tenant, &m.case_id, m.seq)
                .await?
                .unwrap_or_default()
        };
        let zone = TimeZone::get(default_time_zone(&case.unit)).unwrap_or(TimeZone::UTC);
        let when = |t: Option<jiff::Timestamp>| t.map(|t| format_time(t, &zone));
        let unit = RegionIndex::embedded()
            .ok()
            .and_then(|r| r.get(&case.unit))
            .map_or_else(
                || case.unit.clone(),
                |r| format!("{} {}", r.level.title(), r.name),
            );
        let step = case
            .step()
            .and_then(|s| def.steps.iter().find(|x| x.id == s))
            .map_or_else(|| "-".to_owned(), |s| s.name.clone());
        let missing_requirements: Vec<Value> = def
            .requirements
            .iter()
            .filter(|r| {
                r.only_if
                    .as_ref()
                    .is_none_or(|c| case.conditions.contains(c))
            })
            .filter(|r| !case.checked.contains(&r.id))
            .map(|r| Value::String(r.name.clone()))
            .collect();
        let dash = || "-".to_owned();
        let mut v = Map::new();
        let mut put = |k: &str, val: Value| {
            v.insert(k.to_owned(), val);
        };
        put("nomor_kasus", Value::String(case.id.clone()));
        put("layanan", Value::String(def.name.clone()));
        put("unit", Value::String(unit));
        put("waktu", Value::String(format_time(m.created_at, &zone)));
        put(
            "perkiraan_selesai",
            Value::String(
                when(case.due_at)
                    .unwrap_or_else(|| "ditetapkan setelah berkas dinyatakan lengkap".to_owned()),
            ),
        );
        put("kekurangan", Value::Array(missing_requirements));
        put(
            "alasan",
            Value::String(event.reason.clone().unwrap_or_else(dash)),
        );
        put(
            "jawaban",
            Value::String(
                event
                    .text
                    .clone()
                    .or_else(|| event.reason.clone())
                    .unwrap_or_else(dash),
            ),
        );
        put(
            "nomor_surat",
            Value::String(
                event
                    .fields
                    .get("nomor_surat")
                    .cloned()
                    .unwrap_or_else(dash),
            ),
        );
        put(
            "tautan_verifikasi",
            Value::String(format!(
                "{}/{}",
                self.settings.verification_base.trim_end_matches('/'),
                case.id
            )),
        );
        put("langkah", Value::String(step));
        put(
            "batas_waktu",
            Value::String(when(case.step_due_at.or(case.due_at)).unwrap_or_else(dash)),
        );
        Ok((Value::Object(v), submission))
    }

    /// The addresses of a message's recipient.
    ///
    /// # Errors
    /// Permanent for a recipient form this notifier does not know; the directory's errors.
    pub async fn addresses(
        &self,
        m: &OutboxMessage,
        submission: &Payload,
    ) -> Result<Vec<Address>, DeliveryError> {
        let r = m.recipient.as_str();
        if r == "applicant" {
            return Ok(applicant_addresses(submission));
        }
        if let Some(post) = r.strip_prefix("role:")
            && let Some((role, unit)) = post.split_once('@')
        {
            return self.directory.officers(&m.tenant, role, unit).await;
        }
        if let Some(id) = r.strip_prefix("officer:") {
            return self.directory.officer(&m.tenant, id).await;
        }
        Err(DeliveryError::permanent(format!(
            "unknown recipient form `{r}`"
        )))
    }
}

#[async_trait]
impl<S: Store, Dir: Directory> Deliver for Notifier<S, Dir> {
    async fn deliver(&self, claimed: &ClaimedMessage) -> Result<(), DeliveryError> {
        let m = &claimed.message;
        let (ctx, submission) = self.context(m).await?;
        let mut addresses = self.addresses(m, &submission).await?;
        addresses.sort();
        addresses.dedup();
        if addresses.is_empty() {
            return Err(DeliveryError::permanent(format!(
                "no address for recipient `{}`",
                m.recipient
            )));
        }
        let rendered = self
            .templates
            .render(&m.template, &ctx)
            .map_err(|e| DeliveryError::permanent(e.to_string()))?;
        let limits = self.templates.limits();
        let several = addresses.len() > 1;
        let mut worst: Option<DeliveryError> = None;
        for (k, address) in addresses.into_iter().enumerate() {
            let Some(channel) = self.channels.get(&address.kind) else {
                let e = DeliveryError::permanent(format!(
                    "no channel for {} addresses",
                    address.kind.as_str()
                ));
                keep_worst(&mut worst, e);
                continue;
            };
            let (text, html) = match address.kind {
                ChannelKind::Sms => (plain_text(&rendered.text, limits.sms), None),
                ChannelKind::WhatsApp => (plain_text(&rendered.text, limits.whatsapp), None),
                ChannelKind::Email | ChannelKind::Webhook | ChannelKind::Log => {
                    (rendered.text.clone(), Some(rendered.html.clone()))
                }
            };
            let n = Notification {
                id: if several {
                    format!("{}#{k}", m.id)
                } else {
                    m.id.clone()
                },
                message_id: m.id.clone(),
                tenant: m.tenant.clone(),
                case_id: m.case_id.clone(),
                seq: m.seq,
                template: m.template.clone(),
                recipient: m.recipient.clone(),
                to: Some(address),
                subject: rendered.subject.clone(),
                text,
                html,
            };
            if let Err(e) = channel.send(&n).await {
                keep_worst(&mut worst, e);
            }
        }
        match worst {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Keep the error that decides the message's fate: any temporary failure (try the message again
/// later) wins over permanent ones; otherwise the first.
fn keep_worst(worst: &mut Option<DeliveryError>, e: DeliveryError) {
    if worst
        .as_ref()
        .is_none_or(|w| !w.is_temporary() && e.is_temporary())
    {
        *worst = Some(e);
    }
}
