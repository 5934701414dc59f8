//! `[limits]`: the largest attachment.

use serde::{Deserialize, Serialize};

use super::SettingsError;
use super::units::{deserialize_byte_size, serialize_byte_size};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Largest accepted attachment, e.g. `"25MiB"`.
    #[serde(deserialize_with = "deserialize_byte_size", serialize_with = "serialize_byte_size")]
    pub max_attachment_size: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings { max_attachment_size: 25 * 1024 * 1024 }
    }
}

impl LimitSettings {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        if self.max_attachment_size == 0 || self.max_attachment_size > 4 * 1024 * 1024 * 1024 {
            return Err(SettingsError(
                "limits.max_attachment_size must be between 1 byte and 4GiB, e.g. \"25MiB\"".into(),
            ));
        }
        Ok(())
    }
}
