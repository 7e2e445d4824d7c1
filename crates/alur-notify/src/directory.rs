//! Officer addresses: the [`Directory`] trait and a TOML-file implementation.

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;
use serde::Deserialize;

use crate::channel::{Address, ChannelKind};
use crate::error::{DeliveryError, NotifyError};

/// Where officers are reached. The host implements it over its staff directory.
///
/// # Behavior
/// - `officers` returns the addresses of every officer holding `role` at `unit` (empty when
///   none); `officer` those of one officer by id (empty when unknown).
/// - Errors are temporary when the directory cannot be reached now.
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// Addresses of the officers holding `role` at `unit`.
    async fn officers(
        &self,
        tenant: &str,
        role: &str,
        unit: &str,
    ) -> Result<Vec<Address>, DeliveryError>;

    /// Addresses of one officer.
    async fn officer(&self, tenant: &str, officer_id: &str) -> Result<Vec<Address>, DeliveryError>;
}

/// One officer's entry in a [`TomlDirectory`] file. `Debug` hides the addresses.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficerContact {
    /// Officer id (as in `officers.toml`).
    pub id: String,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone number for SMS.
    #[serde(default)]
    pub sms: Option<String>,
    /// Phone number for WhatsApp.
    #[serde(default)]
    pub whatsapp: Option<String>,
    /// Webhook endpoint name.
    #[serde(default)]
    pub webhook: Option<String>,
    /// Posts held: role at unit.
    #[serde(default)]
    pub posts: Vec<Post>,
}

impl std::fmt::Debug for OfficerContact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfficerContact")
            .field("id", &self.id)
            .field("posts", &self.posts)
            .finish_non_exhaustive()
    }
}

/// A role at a unit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Post {
    /// Role id.
    pub role: String,
    /// Unit code.
    pub unit: String,
}

impl OfficerContact {
    fn addresses(&self) -> Vec<Address> {
        [
            (ChannelKind::Email, &self.email),
            (ChannelKind::Sms, &self.sms),
            (ChannelKind::WhatsApp, &self.whatsapp),
            (ChannelKind::Webhook, &self.webhook),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|to| Address::new(k, to.clone())))
        .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    officer: Vec<OfficerContact>,
}

/// A directory read from a TOML file (for the examples and small offices):
///
/// ```toml
/// [[officer]]
/// id = "baloi-operator"
/// email = "operator@baloipermai.example"
/// whatsapp = "+6281200000001"
/// posts = [{ role = "operator", unit = "21.71.10.1001" }]
/// ```
#[derive(Debug, Clone, Default)]
pub struct TomlDirectory {
    officers: BTreeMap<String, OfficerContact>,
}

impl TomlDirectory {
    /// Parse a directory from TOML text.
    ///
    /// # Errors
    /// [`NotifyError::Directory`] with the parser's message (line, column, key).
    pub fn parse(source: &str, origin: &str) -> Result<Self, NotifyError> {
        let file: File = toml::from_str(source).map_err(|e| NotifyError::Directory {
            path: origin.to_owned(),
            message: e.to_string(),
        })?;
        let mut officers = BTreeMap::new();
        for o in file.officer {
            if officers.contains_key(&o.id) {
                return Err(NotifyError::Directory {
                    path: origin.to_owned(),
                    message: format!("officer `{}` appears twice; keep one entry", o.id),
                });
            }
            officers.insert(o.id.clone(), o);
        }
        Ok(Self { officers })
    }

    /// Read a directory file.
    ///
    /// # Errors
    /// [`NotifyError::Directory`] when it cannot be read or parsed.
    pub fn load(path: &Path) -> Result<Self, NotifyError> {
        let source = std::fs::read_to_string(path).map_err(|e| NotifyError::Directory {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::parse(&source, &path.display().to_string())
    }
}

#[async_trait]
impl Directory for TomlDirectory {
    async fn officers(
        &self,
        _tenant: &str,
        role: &str,
        unit: &str,
    ) -> Result<Vec<Address>, DeliveryError> {
        Ok(self
            .officers
            .values()
            .filter(|o| o.posts.iter().any(|p| p.role == role && p.unit == unit))
            .flat_map(OfficerContact::addresses)
            .collect())
    }

    async fn officer(
        &self,
        _tenant: &str,
        officer_id: &str,
    ) -> Result<Vec<Address>, DeliveryError> {
        Ok(self
            .officers
            .get(officer_id)
            .map(OfficerContact::addresses)
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_posts_and_addresses() {
        let d = TomlDirectory::parse(
            r#"
[[officer]]
id = "a"
email = "a@example.invalid"
posts = [{ role = "operator", unit = "21.71.10.1001" }]

[[officer]]
id = "b"
whatsapp = "+62812"
sms = "+62813"
posts = [{ role = "operator", unit = "21.71.10.1001" }, { role = "kasi", unit = "21.71.10.1001" }]
"#,
            "dir.toml",
        )
        .unwrap();
        assert_eq!(
            d.officers("t", "operator", "21.71.10.1001")
                .await
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            d.officers("t", "kasi", "21.71.10.1001")
                .await
                .unwrap()
                .len(),
            2
        );
        assert!(
            d.officers("t", "kasi", "21.71.10.1002")
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            d.officer("t", "a").await.unwrap(),
            vec![Address::new(ChannelKind::Email, "a@example.invalid")]
        );
        let err = TomlDirectory::parse("[[officer]]\nid = \"x\"\nmail = \"typo\"\n", "d.toml")
            .unwrap_err();
        assert!(err.to_string().contains("mail"), "{err}");
    }
}
