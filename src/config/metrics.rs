//! `[metrics]`: who may read `/metrics`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{SettingsError, parse_networks, read_secret};

/// Who may read `/metrics`: callers from `allow` (address ranges), or with the token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Address ranges allowed without a token, e.g. `["127.0.0.1/32", "10.0.0.0/8"]`.
    pub allow: Vec<String>,
    /// A bearer token (`Authorization: Bearer ...`) that grants access from anywhere; give
    /// `token` or `token_file`, or neither.
    pub token: Option<String>,
    pub token_file: Option<PathBuf>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings { allow: vec!["127.0.0.0/8".into(), "::1/128".into()], token: None, token_file: None }
    }
}

impl MetricsSettings {
    pub fn allowed_networks(&self) -> Result<Vec<ipnet::IpNet>, SettingsError> {
        parse_networks("metrics.allow", &self.allow)
    }

    pub fn token(&self) -> Result<Option<String>, SettingsError> {
        match (&self.token, &self.token_file) {
            (None, None) => Ok(None),
            (token, file) => read_secret("metrics", "token", token, file).map(Some),
        }
    }
}
