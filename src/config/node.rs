//! `[node]`: this node's name and address in the cluster.

use serde::{Deserialize, Serialize};

use super::{SettingsError, check_http_url};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeSettings {
    /// Unique name of this node in the cluster; defaults to `<hostname>:<port>`.
    pub name: Option<String>,
    /// This node's own address as operators reach it (the cluster status shows it); defaults
    /// to `http://<listen>`, with the host name for an unspecified address like `0.0.0.0`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl NodeSettings {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        if let Some(name) = &self.name
            && (name.is_empty() || name.len() > 100 || name.chars().any(|c| c.is_control() || c.is_whitespace()))
        {
            return Err(SettingsError("node.name must be 1-100 characters without spaces, e.g. \"web-1\"".into()));
        }
        check_http_url("node.url", &self.url)
    }
}
