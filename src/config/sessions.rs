//! `[sessions]`: how long a sign-in lasts, and the lockout after failed sign-ins.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::SettingsError;
use super::units::duration_text;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    /// How long a browser session lasts without signing in again, e.g. `"14d"`.
    #[serde(with = "duration_text")]
    pub lifetime: Duration,
    /// Failed sign-ins allowed per account (and, doubled, per address) within `lockout_window`.
    pub max_failed_logins: u32,
    #[serde(with = "duration_text")]
    pub lockout_window: Duration,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            lifetime: Duration::from_secs(14 * 24 * 3600),
            max_failed_logins: 5,
            lockout_window: Duration::from_secs(15 * 60),
        }
    }
}

impl SessionSettings {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        if self.lifetime < Duration::from_secs(60) {
            return Err(SettingsError("sessions.lifetime must be at least \"1m\"".into()));
        }
        if self.max_failed_logins == 0 {
            return Err(SettingsError("sessions.max_failed_logins must be at least 1".into()));
        }
        Ok(())
    }
}
