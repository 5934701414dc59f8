//! Typed settings: defaults, then an optional TOML file, then `BATON_*` environment
//! variables, then command-line flags. Validated once at start; every error names the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

mod jobs;
mod log;
mod mail;
mod metrics;
mod units;

// The parts keep their `crate::config::…` names: every module that reads settings imports
// them from here.
pub use jobs::{JobSettings, parse_schedule};
pub use log::{LogFormat, LogSettings};
use mail::{MAX_ADDRESS_LOCAL_PART, check_folder_name};
pub use mail::{MailSettings, MailboxSettings, SmtpSettings, TlsMode, UnknownSenders, UnverifiedSenders, read_ca_file};
pub use metrics::MetricsSettings;
use units::{deserialize_byte_size, serialize_byte_size};
pub use units::{duration_text, parse_byte_size};

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "baton.toml";

/// The top-level keys that environment variables may set (`BATON_<KEY>`, nested with `__`).
const ENV_KEYS: &[&str] = &[
    "listen",
    "database_url",
    "data_dir",
    "base_url",
    "pool_size",
    "trusted_proxies",
    "log",
    "node",
    "limits",
    "sessions",
    "cluster",
    "mail",
    "jobs",
    "metrics",
    "search",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address the HTTP server binds to.
    pub listen: SocketAddr,
    /// `sqlite://PATH` (relative or absolute) or `postgres://USER:PASSWORD@HOST/DB`.
    pub database_url: String,
    /// Shared file path for attachments (and the search index).
    pub data_dir: PathBuf,
    /// Public URL of the site, used in links; defaults to `http://<listen>`.
    pub base_url: Option<String>,
    /// Database connections per node.
    pub pool_size: u32,
    /// Address ranges of the reverse proxies in front of the nodes: from these peers the
    /// client's address is read from `X-Forwarded-For` (for sign-in limits, logs, metrics).
    pub trusted_proxies: Vec<String>,
    /// `log = "info"` (a filter), or `[log]` with `level` and `format`.
    pub log: LogSettings,
    pub node: NodeSettings,
    pub limits: LimitSettings,
    pub sessions: SessionSettings,
    pub cluster: ClusterSettings,
    pub mail: MailSettings,
    pub jobs: JobSettings,
    pub metrics: MetricsSettings,
    pub search: SearchSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// How often a node writes its heartbeat and renews or tries the master lease.
    #[serde(with = "duration_text")]
    pub heartbeat_interval: Duration,
    /// A node silent this long is removed; a lease not renewed this long is free.
    #[serde(with = "duration_text")]
    pub node_timeout: Duration,
    /// Among live nodes, the highest priority takes a free lease.
    pub priority: i32,
    /// A master hands over to a live node of higher priority.
    pub failback: bool,
    /// Runs the probe duty: the master writes one fenced row per heartbeat to
    /// `cluster_probe`, which shows who acted as master when (used by the cluster tests).
    pub probe_duty: bool,
    /// Diagnostic: the probe keeps each fenced transaction open this long after writing its
    /// row, so that a master can be paused or cut off inside one (used by the cluster tests).
    #[serde(with = "duration_text")]
    pub probe_hold: Duration,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            heartbeat_interval: Duration::from_secs(2),
            node_timeout: Duration::from_secs(10),
            priority: 0,
            failback: false,
            probe_duty: false,
            probe_hold: Duration::ZERO,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchSettings {
    /// Diagnostic: the indexer waits this long between its epoch check and each index commit,
    /// and logs that it waits, so that a test can pause the process at that moment. Off (0)
    /// by default.
    #[serde(with = "duration_text")]
    pub pause_before_commit: Duration,
}

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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Largest accepted attachment, e.g. `"25MiB"`.
    #[serde(deserialize_with = "deserialize_byte_size", serialize_with = "serialize_byte_size")]
    pub max_attachment_size: u64,
}

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

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://data/baton.db".into(),
            data_dir: PathBuf::from("data"),
            base_url: None,
            pool_size: 8,
            trusted_proxies: Vec::new(),
            log: LogSettings::default(),
            node: NodeSettings::default(),
            limits: LimitSettings::default(),
            sessions: SessionSettings::default(),
            cluster: ClusterSettings::default(),
            mail: MailSettings::default(),
            jobs: JobSettings::default(),
            metrics: MetricsSettings::default(),
            search: SearchSettings::default(),
        }
    }
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings { max_attachment_size: 25 * 1024 * 1024 }
    }
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

/// A settings problem, worded for the operator: which key, what is wrong, what to do.
#[derive(Debug, thiserror::Error)]
#[error("invalid settings: {0}")]
pub struct SettingsError(String);

/// Values given on the command line; they win over everything else.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeSettings>,
}

/// The database backend chosen by the URL scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Settings {
    /// Loads settings: defaults < file < `BATON_*` env < command-line overrides.
    /// `config_file` None means `baton.toml` if it exists, else no file.
    pub fn load(config_file: Option<&Path>, overrides: &Overrides) -> Result<Settings, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match config_file {
            Some(path) => {
                if !path.is_file() {
                    return Err(SettingsError(format!(
                        "config file {} does not exist: fix the --config path",
                        path.display()
                    )));
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            None => {
                if Path::new(DEFAULT_CONFIG_FILE).is_file() {
                    figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE));
                }
            }
        }
        figment = figment
            .merge(Env::prefixed("BATON_").split("__").filter(|key| {
                let key = key.as_str().to_ascii_lowercase();
                ENV_KEYS.iter().any(|known| key.split('.').next() == Some(known))
            }))
            .merge(Serialized::defaults(overrides));
        let settings: Settings = figment.extract().map_err(|error| {
            let messages: Vec<String> = error.into_iter().map(describe_figment_error).collect();
            SettingsError(messages.join("; "))
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Parses a TOML text on its own (defaults for missing keys), as `load` would.
    pub fn from_toml(text: &str) -> Result<Settings, SettingsError> {
        let settings: Settings =
            Figment::from(Serialized::defaults(Settings::default())).merge(Toml::string(text)).extract().map_err(
                |error| SettingsError(error.into_iter().map(describe_figment_error).collect::<Vec<_>>().join("; ")),
            )?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        self.database_location()?;
        if self.pool_size == 0 || self.pool_size > 512 {
            return Err(SettingsError("pool_size must be between 1 and 512".into()));
        }
        if self.limits.max_attachment_size == 0 || self.limits.max_attachment_size > 4 * 1024 * 1024 * 1024 {
            return Err(SettingsError(
                "limits.max_attachment_size must be between 1 byte and 4GiB, e.g. \"25MiB\"".into(),
            ));
        }
        if self.sessions.lifetime < Duration::from_secs(60) {
            return Err(SettingsError("sessions.lifetime must be at least \"1m\"".into()));
        }
        if self.sessions.max_failed_logins == 0 {
            return Err(SettingsError("sessions.max_failed_logins must be at least 1".into()));
        }
        let cluster = &self.cluster;
        if cluster.heartbeat_interval < Duration::from_millis(50) {
            return Err(SettingsError("cluster.heartbeat_interval must be at least \"50ms\"".into()));
        }
        if cluster.node_timeout < cluster.heartbeat_interval * 3 {
            return Err(SettingsError(format!(
                "cluster.node_timeout ({}) must be at least three heartbeat intervals ({}): a node must get several \
                 chances to renew before others take over",
                humantime::format_duration(cluster.node_timeout),
                humantime::format_duration(cluster.heartbeat_interval * 3)
            )));
        }
        if !cluster.probe_hold.is_zero() {
            // PostgreSQL ends a master-duty session idle in its transaction this long.
            let limit = cluster.node_timeout - cluster.heartbeat_interval;
            if !cluster.probe_duty || cluster.probe_hold >= limit {
                return Err(SettingsError(format!(
                    "cluster.probe_hold ({}) needs cluster.probe_duty = true and must be shorter than node_timeout \
                     minus heartbeat_interval ({}), after which the database ends a duty's open transaction",
                    humantime::format_duration(cluster.probe_hold),
                    humantime::format_duration(limit)
                )));
            }
        }
        if let Some(name) = &self.node.name
            && (name.is_empty() || name.len() > 100 || name.chars().any(|c| c.is_control() || c.is_whitespace()))
        {
            return Err(SettingsError("node.name must be 1-100 characters without spaces, e.g. \"web-1\"".into()));
        }
        for (key, url) in [("base_url", &self.base_url), ("node.url", &self.node.url)] {
            if let Some(url) = url
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                return Err(SettingsError(format!("{key} {url:?} must start with http:// or https://")));
            }
        }
        self.validate_mail()?;
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|error| SettingsError(format!("log.level {:?} is not a valid filter: {error}", self.log.level)))?;
        for (job, schedule) in self.jobs.schedules() {
            parse_schedule(schedule).map_err(|error| SettingsError(format!("jobs.{job}: {error}")))?;
        }
        self.metrics.allowed_networks()?;
        self.trusted_proxy_networks()?;
        if let Some(token) = self.metrics.token()?
            && token.len() < 16
        {
            return Err(SettingsError("metrics.token must be at least 16 characters".into()));
        }
        Ok(())
    }

    fn validate_mail(&self) -> Result<(), SettingsError> {
        let address = &self.mail.address;
        let well_formed = address
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
            && !address.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'));
        if !well_formed {
            return Err(SettingsError(format!(
                "mail.address {address:?} is not an e-mail address, e.g. \"baton@example.com\""
            )));
        }
        let local_part = address.split('@').next().unwrap_or_default();
        if local_part.contains('+') || local_part.chars().count() > MAX_ADDRESS_LOCAL_PART {
            return Err(SettingsError(format!(
                "mail.address {address:?}: the part before @ must be at most {MAX_ADDRESS_LOCAL_PART} characters \
                 without \"+\": notifications are answered to it with \"+TOKEN\" added, and mail servers accept \
                 64 characters there"
            )));
        }
        for id in &self.mail.trusted_authserv_ids {
            let well_formed = !id.is_empty()
                && id.len() <= 255
                && !id.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, ';' | '(' | ')' | '"'));
            if !well_formed {
                return Err(SettingsError(format!(
                    "mail.trusted_authserv_ids: {id:?} is not an authserv-id: write the name the receiving mail \
                     server puts first in its Authentication-Results headers, e.g. \"mx.example.com\""
                )));
            }
        }
        let lifetime = self.mail.reply_address_lifetime;
        if !(Duration::from_secs(24 * 3600)..=Duration::from_secs(3650 * 24 * 3600)).contains(&lifetime) {
            return Err(SettingsError(format!(
                "mail.reply_address_lifetime ({}) must be between 1 day and 3650 days, e.g. \"90days\"",
                humantime::format_duration(lifetime)
            )));
        }
        let mut names = std::collections::BTreeSet::new();
        for mailbox in &self.mail.mailboxes {
            let name = &mailbox.name;
            let problem = |message: String| SettingsError(format!("mail.mailboxes {name:?}: {message}"));
            if name.is_empty() || name.len() > 100 || !names.insert(name.clone()) {
                return Err(SettingsError(format!(
                    "mail.mailboxes: name {name:?} must be 1-100 characters and unique"
                )));
            }
            for (key, value) in [
                ("host", &mailbox.host),
                ("user", &mailbox.user),
                ("project", &mailbox.project),
                ("folder", &mailbox.folder),
                ("processed_folder", &mailbox.processed_folder),
                ("failed_folder", &mailbox.failed_folder),
            ] {
                if value.trim().is_empty() || value.chars().any(char::is_control) {
                    return Err(problem(format!("{key} must not be empty")));
                }
            }
            if mailbox.folder == mailbox.processed_folder || mailbox.folder == mailbox.failed_folder {
                return Err(problem("processed_folder and failed_folder must differ from folder".into()));
            }
            for (key, folder) in [
                ("folder", &mailbox.folder),
                ("processed_folder", &mailbox.processed_folder),
                ("failed_folder", &mailbox.failed_folder),
            ] {
                check_folder_name(folder).map_err(|why| problem(format!("{key} {folder:?} {why}")))?;
            }
            let all_projects = mailbox.reply_projects.iter().any(|key| key == "*");
            if all_projects && mailbox.reply_projects.len() > 1 {
                return Err(problem("reply_projects: write either [\"*\"] (all projects) or project keys".into()));
            }
            for key in mailbox.reply_projects.iter().filter(|_| !all_projects) {
                let is_key = (2..=10).contains(&key.len())
                    && key.starts_with(|c: char| c.is_ascii_alphabetic())
                    && key.chars().all(|c| c.is_ascii_alphanumeric());
                if !is_key {
                    return Err(problem(format!(
                        "reply_projects: {key:?} is not a project key (2-10 letters or digits, e.g. \"OPS\"), nor \"*\""
                    )));
                }
            }
            mailbox.password()?;
            read_ca_file(&format!("mail.mailboxes {name:?}"), &mailbox.ca_file)?;
            if mailbox.poll_interval < Duration::from_secs(1) {
                return Err(problem("poll_interval must be at least \"1s\"".into()));
            }
            if !(1024..=1024 * 1024 * 1024).contains(&mailbox.max_message_size) {
                return Err(problem("max_message_size must be between 1KiB and 1GiB, e.g. \"25MiB\"".into()));
            }
        }
        if let Some(smtp) = &self.mail.smtp {
            if smtp.host.trim().is_empty() {
                return Err(SettingsError("mail.smtp: host must not be empty".into()));
            }
            smtp.credentials()?;
            read_ca_file("mail.smtp", &smtp.ca_file)?;
        }
        Ok(())
    }

    /// The backend and where it is, from `database_url`.
    pub fn database_location(&self) -> Result<DatabaseLocation, SettingsError> {
        let url = self.database_url.trim();
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(SettingsError(
                    "database_url \"sqlite://\" names no file: write e.g. sqlite://data/baton.db".into(),
                ));
            }
            return Ok(DatabaseLocation::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseLocation::Postgres(url.to_string()));
        }
        Err(SettingsError(format!(
            "database_url {:?} has an unsupported scheme: use sqlite://PATH or postgres://USER:PASSWORD@HOST/DATABASE",
            redact_url(url)
        )))
    }

    /// The public URL of this node.
    pub fn base_url(&self) -> String {
        match &self.base_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }

    pub fn trusted_proxy_networks(&self) -> Result<Vec<ipnet::IpNet>, SettingsError> {
        parse_networks("trusted_proxies", &self.trusted_proxies)
    }

    /// This node's own address (not the public one, which may be the load balancer's).
    pub fn node_url(&self) -> String {
        match &self.node.url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None if self.listen.ip().is_unspecified() => format!("http://{}:{}", local_hostname(), self.listen.port()),
            None => format!("http://{}", self.listen),
        }
    }

    /// This node's name in the cluster.
    pub fn node_name(&self) -> String {
        match &self.node.name {
            Some(name) => name.clone(),
            None => format!("{}:{}", local_hostname(), self.listen.port()),
        }
    }

    /// A digest of the settings that all nodes of a cluster must share; a node whose hash
    /// differs from the master's shows red in the cluster status.
    pub fn cluster_config_hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let shared = serde_json::json!({
            "heartbeat_interval_ms": self.cluster.heartbeat_interval.as_millis() as u64,
            "node_timeout_ms": self.cluster.node_timeout.as_millis() as u64,
            "failback": self.cluster.failback,
            "max_attachment_size": self.limits.max_attachment_size,
            "jobs": self.jobs.schedules(),
            "sessions": {
                "lifetime_s": self.sessions.lifetime.as_secs(),
                "max_failed_logins": self.sessions.max_failed_logins,
                "lockout_window_s": self.sessions.lockout_window.as_secs(),
            },
        });
        hex::encode(&Sha256::digest(shared.to_string().as_bytes())[..8])
    }

    /// Where notifications go as `.eml` files when no SMTP server is set.
    pub fn mail_outbox_dir(&self) -> PathBuf {
        self.data_dir.join("mail-outbox")
    }

    /// Where the search index generations live.
    pub fn index_dir(&self) -> PathBuf {
        self.data_dir.join("index")
    }

    pub fn attachments_dir(&self) -> PathBuf {
        self.data_dir.join("attachments")
    }
}

/// The machine's host name (for default node names and the cluster table).
pub fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Hides the password in a database URL before it is shown anywhere.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// A secret (`key`) given inline or in a file (`<key>_file`), exactly one of the two.
fn read_secret(
    what: &str,
    key: &str,
    secret: &Option<String>,
    file: &Option<PathBuf>,
) -> Result<String, SettingsError> {
    match (secret, file) {
        (Some(secret), None) => Ok(secret.clone()),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|text| text.trim_end_matches(['\r', '\n']).to_string())
            .map_err(|error| SettingsError(format!("{what}: {key}_file {}: {error}", path.display()))),
        _ => Err(SettingsError(format!("{what}: give exactly one of {key} and {key}_file"))),
    }
}

/// Address ranges written as `"10.0.0.0/8"` or single addresses; `key` names the setting.
fn parse_networks(key: &str, texts: &[String]) -> Result<Vec<ipnet::IpNet>, SettingsError> {
    texts
        .iter()
        .map(|text| {
            text.parse::<ipnet::IpNet>().or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)).map_err(
                |_| SettingsError(format!("{key}: {text:?} is not an address or range, write e.g. \"10.0.0.0/8\"")),
            )
        })
        .collect()
}

fn describe_figment_error(error: figment::Error) -> String {
    let key = error.path.join(".");
    let kind = error.kind.to_string();
    let example = match key.as_str() {
        "listen" => " (write an address and port, e.g. \"127.0.0.1:8080\")",
        "data_dir" => " (write a folder path, e.g. \"data\")",
        "pool_size" | "sessions.max_failed_logins" => " (write a whole number, e.g. 8)",
        _ => "",
    };
    if key.is_empty() { kind } else { format!("{key}: {kind}{example}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_in_resources_parses_and_matches_the_defaults_it_documents() {
        let folder = tempfile::tempdir().unwrap();
        let password_file = folder.path().join("password");
        std::fs::write(&password_file, "secret\n").unwrap();
        let text = include_str!("../resources/baton.example.toml")
            .replace("/etc/baton/support-imap-password", &password_file.to_string_lossy());
        let settings = Settings::from_toml(&text).expect("example config must parse");
        let mailbox = &settings.mail.mailboxes[0];
        assert_eq!((mailbox.port(), mailbox.tls, mailbox.password().unwrap().as_str()), (993, TlsMode::Tls, "secret"));
        assert_eq!(mailbox.unknown_senders, UnknownSenders::Reject);
        assert_eq!(mailbox.unverified_senders, UnverifiedSenders::NewItems);
        assert!(mailbox.reply_projects.is_empty() && settings.mail.trusted_authserv_ids.is_empty());
        assert_eq!(settings.mail.reply_address_lifetime, Settings::default().mail.reply_address_lifetime);
        assert_eq!(settings.listen, Settings::default().listen);
        assert_eq!(settings.database_url, Settings::default().database_url);
        assert_eq!(settings.limits.max_attachment_size, 25 * 1024 * 1024);
    }

    #[test]
    fn job_schedules_accept_the_usual_five_fields_cron_six_and_off() {
        let at = |text: &str| {
            let schedule = parse_schedule(text).unwrap().unwrap();
            let from = chrono::DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z").unwrap().to_utc();
            schedule.after(&from).next().unwrap().to_rfc3339()
        };
        assert_eq!(at("0 7 * * *"), "2026-11-25T07:00:00+00:00");
        assert_eq!(
            at("30 6 * * Sat"),
            "2026-11-28T06:30:00+00:00",
            "weekday names (cron numbers them from Sunday = 1)"
        );
        assert_eq!(at("*/10 * * * * *"), "2026-11-24T12:00:10+00:00", "six fields: seconds first");
        assert!(parse_schedule(" OFF ").unwrap().is_none());
        assert!(parse_schedule("0 7 * *").unwrap_err().contains("4 fields"));
        assert!(parse_schedule("0 25 * * *").unwrap_err().contains("not a cron expression"));
        let error = Settings::from_toml("[jobs]\nprune = \"nonsense\"").unwrap_err().to_string();
        assert!(error.contains("jobs.prune"), "{error}");
    }

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

    #[test]
    fn a_ca_file_must_hold_a_pem_certificate() {
        let folder = tempfile::tempdir().unwrap();
        let not_pem = folder.path().join("ca.der");
        std::fs::write(&not_pem, [0x30, 0x82, 0x01]).unwrap();
        let text = format!("[mail.smtp]\nhost = \"smtp.example.com\"\nca_file = {:?}\n", not_pem.display().to_string());
        let error = Settings::from_toml(&text).unwrap_err().to_string();
        assert!(error.contains("mail.smtp: ca_file") && error.contains("no PEM certificate"), "{error}");
        let missing = "[mail.smtp]\nhost = \"smtp.example.com\"\nca_file = \"/nowhere/ca.pem\"\n";
        let error = Settings::from_toml(missing).unwrap_err().to_string();
        assert!(error.contains("/nowhere/ca.pem"), "{error}");
    }

    #[test]
    fn metrics_access_settings_are_checked() {
        let error = Settings::from_toml("[metrics]\nallow = [\"nowhere\"]").unwrap_err().to_string();
        assert!(error.contains("metrics.allow") && error.contains("nowhere"), "{error}");
        let error = Settings::from_toml("[metrics]\ntoken = \"short\"").unwrap_err().to_string();
        assert!(error.contains("metrics.token"), "{error}");
        let settings = Settings::from_toml("[metrics]\nallow = [\"10.1.2.3\", \"fd00::/8\"]").unwrap();
        assert_eq!(settings.metrics.allowed_networks().unwrap().len(), 2);
    }

    #[test]
    fn unknown_key_is_named_in_the_error() {
        let error = Settings::from_toml("lisen = \"127.0.0.1:1\"").unwrap_err().to_string();
        assert!(error.contains("lisen"), "{error}");
    }

    #[test]
    fn bad_listen_address_is_named_in_the_error() {
        let error = Settings::from_toml("listen = \"nowhere\"").unwrap_err().to_string();
        assert!(error.contains("listen"), "{error}");
    }

    #[test]
    fn unsupported_database_scheme_says_what_to_use_and_hides_the_password() {
        let error = Settings::from_toml("database_url = \"mysql://root:secret@db/baton\"").unwrap_err().to_string();
        assert!(error.contains("database_url"), "{error}");
        assert!(error.contains("sqlite://"), "{error}");
        assert!(!error.contains("secret"), "{error}");
    }

    #[test]
    fn sizes_and_durations_are_written_as_text() {
        let settings =
            Settings::from_toml("[limits]\nmax_attachment_size = \"2MiB\"\n[sessions]\nlifetime = \"2h\"").unwrap();
        assert_eq!(settings.limits.max_attachment_size, 2 * 1024 * 1024);
        assert_eq!(settings.sessions.lifetime, Duration::from_secs(7200));
        let error = Settings::from_toml("[sessions]\nlifetime = \"soon\"").unwrap_err().to_string();
        assert!(error.contains("sessions.lifetime"), "{error}");
    }

    #[test]
    fn cluster_timings_must_leave_room_for_several_heartbeats() {
        let settings =
            Settings::from_toml("[cluster]\nheartbeat_interval = \"200ms\"\nnode_timeout = \"1500ms\"").unwrap();
        assert_eq!(settings.cluster.node_timeout, Duration::from_millis(1500));
        let error = Settings::from_toml("[cluster]\nheartbeat_interval = \"2s\"\nnode_timeout = \"3s\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("cluster.node_timeout"), "{error}");
    }

    #[test]
    fn a_probe_hold_needs_the_probe_and_must_end_before_the_database_ends_the_transaction() {
        let cluster = "[cluster]\nheartbeat_interval = \"200ms\"\nnode_timeout = \"1500ms\"\n";
        let settings = Settings::from_toml(&format!("{cluster}probe_duty = true\nprobe_hold = \"1s\"")).unwrap();
        assert_eq!(settings.cluster.probe_hold, Duration::from_secs(1));
        for refused in ["probe_hold = \"1s\"", "probe_duty = true\nprobe_hold = \"1300ms\""] {
            let error = Settings::from_toml(&format!("{cluster}{refused}")).unwrap_err().to_string();
            assert!(error.contains("cluster.probe_hold") && error.contains("1s 300ms"), "{error}");
        }
    }

    #[test]
    fn the_cluster_hash_ignores_per_node_settings() {
        let one = Settings::from_toml("listen = \"127.0.0.1:1\"\n[cluster]\npriority = 5").unwrap();
        let two = Settings::from_toml("listen = \"127.0.0.1:2\"").unwrap();
        assert_eq!(one.cluster_config_hash(), two.cluster_config_hash());
        let three = Settings::from_toml("[cluster]\nnode_timeout = \"20s\"").unwrap();
        assert_ne!(one.cluster_config_hash(), three.cluster_config_hash());
    }

    #[test]
    fn mailbox_settings_are_checked_naming_the_mailbox_and_key() {
        let mailbox = |extra: &str| {
            format!("[[mail.mailboxes]]\nname = \"support\"\nhost = \"imap\"\nuser = \"u\"\nproject = \"SUP\"\n{extra}")
        };
        let settings = Settings::from_toml(&mailbox("password = \"p\"\ntls = \"none\"")).unwrap();
        assert_eq!(settings.mail.mailboxes[0].port(), 143);
        let guest = Settings::from_toml(&mailbox("password = \"p\"\nunknown_senders = \"guest:mail-guest\"")).unwrap();
        assert_eq!(guest.mail.mailboxes[0].unknown_senders, UnknownSenders::Guest("mail-guest".into()));
        for (extra, named) in [
            ("", "password"),
            ("password = \"p\"\npassword_file = \"/x\"", "password"),
            ("password_file = \"/no/such/file\"", "password_file"),
            ("password = \"p\"\nunknown_senders = \"welcome\"", "unknown_senders"),
            ("password = \"p\"\ntls = \"maybe\"", "tls"),
            ("password = \"p\"\npoll_interval = \"10ms\"", "poll_interval"),
            ("password = \"p\"\nprocessed_folder = \"INBOX\"", "processed_folder"),
            ("password = \"p\"\nfolder = \"Support/*\"", "folder \"Support/*\""),
            ("password = \"p\"\nfailed_folder = \" Failed\"", "failed_folder"),
            ("password = \"p\"\nunverified_senders = \"maybe\"", "unverified_senders"),
            ("password = \"p\"\nreply_projects = [\"OPS-1\"]", "reply_projects"),
            ("password = \"p\"\nreply_projects = [\"*\", \"OPS\"]", "reply_projects"),
        ] {
            let error = Settings::from_toml(&mailbox(extra)).unwrap_err().to_string();
            assert!(error.contains(named), "{extra:?}: {error}");
        }
        let error = Settings::from_toml("[mail]\naddress = \"nobody\"").unwrap_err().to_string();
        assert!(error.contains("mail.address"), "{error}");
        let trusting = mailbox("password = \"p\"\nfolder = \"Störungen\"\nreply_projects = [\"ops\", \"Dev2\"]");
        let settings = Settings::from_toml(&trusting).unwrap();
        assert_eq!(settings.mail.mailboxes[0].unverified_senders, UnverifiedSenders::NewItems);
        let refusing = Settings::from_toml(&mailbox("password = \"p\"\nunverified_senders = \"refuse\"")).unwrap();
        assert_eq!(refusing.mail.mailboxes[0].unverified_senders, UnverifiedSenders::Refuse);
    }

    #[test]
    fn mail_trust_settings_are_checked_naming_the_key() {
        let settings = Settings::from_toml(
            "[mail]\naddress = \"tracker@example.com\"\ntrusted_authserv_ids = [\"mx.example.com\"]\n\
             reply_address_lifetime = \"30days\"",
        )
        .unwrap();
        assert_eq!(settings.mail.trusted_authserv_ids, ["mx.example.com"]);
        assert_eq!(settings.mail.reply_address_lifetime, Duration::from_secs(30 * 24 * 3600));
        assert_eq!(Settings::default().mail.reply_address_lifetime, Duration::from_secs(90 * 24 * 3600));
        for (text, named) in [
            ("trusted_authserv_ids = [\"mx example\"]", "mail.trusted_authserv_ids"),
            ("trusted_authserv_ids = [\"\"]", "mail.trusted_authserv_ids"),
            ("trusted_authserv_ids = [\"mx;dmarc=pass\"]", "mail.trusted_authserv_ids"),
            ("reply_address_lifetime = \"1h\"", "mail.reply_address_lifetime"),
            ("reply_address_lifetime = \"soon\"", "reply_address_lifetime"),
            ("address = \"a+b@example.com\"", "mail.address"),
            ("address = \"a-very-long-local-part-of-an-address@example.com\"", "mail.address"),
        ] {
            let error = Settings::from_toml(&format!("[mail]\n{text}")).unwrap_err().to_string();
            assert!(error.contains(named), "{text:?}: {error}");
        }
    }

    #[test]
    fn byte_sizes_parse_with_units() {
        assert_eq!(parse_byte_size("10").unwrap(), 10);
        assert_eq!(parse_byte_size("1KiB").unwrap(), 1024);
        assert_eq!(parse_byte_size("3 MB").unwrap(), 3_000_000);
        assert!(parse_byte_size("3 parsecs").is_err());
        assert!(parse_byte_size("MiB").is_err());
    }
}
