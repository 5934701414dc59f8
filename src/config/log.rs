//! `[log]`: the level filter and the format of log lines.

use serde::{Deserialize, Serialize};

use super::SettingsError;

/// Where log lines go (standard error) and how they look.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "LogText")]
pub struct LogSettings {
    /// Filter in `tracing` syntax, e.g. `info` or `baton=debug,actix_web=info`.
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings { level: "info".into(), format: LogFormat::Text }
    }
}

impl LogSettings {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        tracing_subscriber::EnvFilter::try_new(&self.level)
            .map_err(|error| SettingsError(format!("log.level {:?} is not a valid filter: {error}", self.level)))?;
        Ok(())
    }
}

/// `log` is written either as a bare filter (`log = "debug"`, `BATON_LOG=debug`) or as a table.
#[derive(Deserialize)]
#[serde(untagged)]
enum LogText {
    Filter(String),
    Table { level: Option<String>, format: Option<String> },
}

impl TryFrom<LogText> for LogSettings {
    type Error = String;

    fn try_from(text: LogText) -> Result<LogSettings, String> {
        let (level, format) = match text {
            LogText::Filter(level) => (Some(level), None),
            LogText::Table { level, format } => (level, format),
        };
        let format = match format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(format!("format {other:?} is not \"text\" or \"json\"")),
        };
        Ok(LogSettings { level: level.unwrap_or_else(|| LogSettings::default().level), format })
    }
}

#[cfg(test)]
mod tests {
    use super::LogFormat;
    use crate::config::Settings;

    #[test]
    fn log_is_a_filter_or_a_table_with_level_and_format() {
        let plain = Settings::from_toml("log = \"debug\"").unwrap().log;
        assert_eq!((plain.level.as_str(), plain.format), ("debug", LogFormat::Text));
        let table = Settings::from_toml("[log]\nformat = \"json\"").unwrap().log;
        assert_eq!((table.level.as_str(), table.format), ("info", LogFormat::Json));
        let error = Settings::from_toml("[log]\nformat = \"xml\"").unwrap_err().to_string();
        assert!(error.contains("log") && error.contains("json"), "{error}");
        let error = Settings::from_toml("log = \"[[\"").unwrap_err().to_string();
        assert!(error.contains("log.level"), "{error}");
    }
}
