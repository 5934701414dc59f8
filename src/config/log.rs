//! `[log]`: the level filter and the format of log lines.

use serde::{Deserialize, Serialize};

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
