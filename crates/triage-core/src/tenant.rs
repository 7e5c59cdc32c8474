//! Whose data a request touches. Every API key belongs to a tenant (an organisation
//! sharing one server), and a tenant sees only its own conversations and its own surge
//! counts: conversation memory keys every entry by tenant ([`crate::policy::store`]).
//!
//! The tenant named `default` is the one of a server without keys (the loopback quick
//! start) and of every caller before tenants existed: its store keys are the bare
//! conversation ids, exactly as before, so data kept by an older version is still found.
//! Other names are short identifiers (letters, digits, `.`, `_`, `-`): they become part
//! of store keys (`triage:t:{tenant}:conv:{id}` in Redis) and log fields, so anything
//! that could split a key or a log line is refused.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

/// Longest tenant name, in bytes.
const MAX_TENANT: usize = 64;

/// A tenant; [`Tenant::default`] is the one named `default`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Tenant(Option<Arc<str>>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tenant {0:?}: a tenant is 1 to {MAX_TENANT} letters, digits, '.', '_' or '-'")]
pub struct InvalidTenant(String);

impl Tenant {
    /// The name of the tenant every keyless caller belongs to.
    pub const DEFAULT_NAME: &'static str = "default";

    pub fn new(name: &str) -> Result<Self, InvalidTenant> {
        let ok = !name.is_empty()
            && name.len() <= MAX_TENANT
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok {
            return Err(InvalidTenant(name.chars().take(80).collect()));
        }
        Ok(if name == Self::DEFAULT_NAME {
            Self(None)
        } else {
            Self(Some(name.into()))
        })
    }

    pub fn name(&self) -> &str {
        self.0.as_deref().unwrap_or(Self::DEFAULT_NAME)
    }

    /// Whether this is the `default` tenant, whose store keys carry no tenant part.
    pub fn is_default(&self) -> bool {
        self.0.is_none()
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Tenant {
    type Err = InvalidTenant;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Serialize for Tenant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Tenant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Tenant::new(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_identifiers_and_default_is_the_unscoped_tenant() {
        assert!(Tenant::new("default").unwrap().is_default());
        assert_eq!(Tenant::default().name(), "default");
        let acme = Tenant::new("acme-eu.2").unwrap();
        assert!(!acme.is_default());
        assert_eq!(acme.to_string(), "acme-eu.2");
        for bad in [
            "",
            "a:b",
            "a b",
            "a\u{1f}b",
            "é",
            &"x".repeat(MAX_TENANT + 1),
        ] {
            assert!(Tenant::new(bad).is_err(), "{bad:?} accepted");
        }
        let parsed: Tenant = serde_json::from_str("\"acme\"").unwrap();
        assert_eq!(serde_json::to_string(&parsed).unwrap(), "\"acme\"");
        assert!(serde_json::from_str::<Tenant>("\"a:b\"").is_err());
    }
}
