//! `[search]`: diagnostics of the search indexer.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::units::duration_text;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchSettings {
    /// Diagnostic: the indexer waits this long between its epoch check and each index commit,
    /// and logs that it waits, so that a test can pause the process at that moment. Off (0)
    /// by default.
    #[serde(with = "duration_text")]
    pub pause_before_commit: Duration,
}
