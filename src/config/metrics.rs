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

    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        self.allowed_networks()?;
        if let Some(token) = self.token()?
            && token.len() < 16
        {
            return Err(SettingsError("metrics.token must be at least 16 characters".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;

    #[test]
    fn metrics_access_settings_are_checked() {
        let error = Settings::from_toml("[metrics]\nallow = [\"nowhere\"]").unwrap_err().to_string();
        assert!(error.contains("metrics.allow") && error.contains("nowhere"), "{error}");
        let error = Settings::from_toml("[metrics]\ntoken = \"short\"").unwrap_err().to_string();
        assert!(error.contains("metrics.token"), "{error}");
        let settings = Settings::from_toml("[metrics]\nallow = [\"10.1.2.3\", \"fd00::/8\"]").unwrap();
        assert_eq!(settings.metrics.allowed_networks().unwrap().len(), 2);
    }
}
