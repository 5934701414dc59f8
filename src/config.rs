//! Typed settings: defaults, then an optional TOML file, then `BATON_*` environment
//! variables, then command-line flags. Validated once at start; every error names the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

pub mod cluster;
pub mod jobs;
pub mod limits;
pub mod log;
pub mod mail;
pub mod metrics;
pub mod node;
pub mod search;
pub mod sessions;
pub mod units;

use cluster::ClusterSettings;
use jobs::JobSettings;
use limits::LimitSettings;
use log::LogSettings;
use mail::MailSettings;
use metrics::MetricsSettings;
use node::NodeSettings;
use search::SearchSettings;
use sessions::SessionSettings;

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

    /// Checks every section; the first problem found is the error.
    fn validate(&self) -> Result<(), SettingsError> {
        self.database_location()?;
        if self.pool_size == 0 || self.pool_size > 512 {
            return Err(SettingsError("pool_size must be between 1 and 512".into()));
        }
        self.limits.validate()?;
        self.sessions.validate()?;
        self.cluster.validate()?;
        check_http_url("base_url", &self.base_url)?;
        self.node.validate()?;
        self.mail.validate()?;
        self.log.validate()?;
        self.jobs.validate()?;
        self.trusted_proxy_networks()?;
        self.metrics.validate()?;
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

/// A URL setting (`key`), when given, is an http or https URL.
fn check_http_url(key: &str, url: &Option<String>) -> Result<(), SettingsError> {
    if let Some(url) = url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(SettingsError(format!("{key} {url:?} must start with http:// or https://")));
    }
    Ok(())
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
    use std::time::Duration;

    use super::mail::{TlsMode, UnknownSenders, UnverifiedSenders};
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
    fn the_cluster_hash_ignores_per_node_settings() {
        let one = Settings::from_toml("listen = \"127.0.0.1:1\"\n[cluster]\npriority = 5").unwrap();
        let two = Settings::from_toml("listen = \"127.0.0.1:2\"").unwrap();
        assert_eq!(one.cluster_config_hash(), two.cluster_config_hash());
        let three = Settings::from_toml("[cluster]\nnode_timeout = \"20s\"").unwrap();
        assert_ne!(one.cluster_config_hash(), three.cluster_config_hash());
    }
}
