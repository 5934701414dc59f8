//! `[mail]`: our address, the polled mailboxes and the SMTP server.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::units::{deserialize_byte_size, duration_text, serialize_byte_size};
use super::{SettingsError, read_secret};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    /// Our address: notifications come from it, and mail from it is never stored.
    pub address: String,
    /// The mailboxes the master polls (`[[mail.mailboxes]]` in the settings file).
    pub mailboxes: Vec<MailboxSettings>,
    /// The server notifications are sent through; without one they are written as `.eml`
    /// files to `data_dir/mail-outbox` (for development).
    pub smtp: Option<SmtpSettings>,
    /// The `authserv-id`s of the receiving mail servers whose `Authentication-Results`
    /// headers are believed: a sender is verified when such a header says DMARC passed, or
    /// DKIM passed for the domain of the From address.
    pub trusted_authserv_ids: Vec<String>,
    /// How long the reply address of a notification (`address` with `+TOKEN`) is accepted.
    #[serde(with = "duration_text")]
    pub reply_address_lifetime: Duration,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            address: "baton@localhost".into(),
            mailboxes: Vec::new(),
            smtp: None,
            trusted_authserv_ids: Vec::new(),
            reply_address_lifetime: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

impl MailSettings {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        let address = &self.address;
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
        for id in &self.trusted_authserv_ids {
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
        let lifetime = self.reply_address_lifetime;
        if !(Duration::from_secs(24 * 3600)..=Duration::from_secs(3650 * 24 * 3600)).contains(&lifetime) {
            return Err(SettingsError(format!(
                "mail.reply_address_lifetime ({}) must be between 1 day and 3650 days, e.g. \"90days\"",
                humantime::format_duration(lifetime)
            )));
        }
        let mut names = std::collections::BTreeSet::new();
        for mailbox in &self.mailboxes {
            let name = &mailbox.name;
            if name.is_empty() || name.len() > 100 || !names.insert(name.clone()) {
                return Err(SettingsError(format!(
                    "mail.mailboxes: name {name:?} must be 1-100 characters and unique"
                )));
            }
            mailbox.validate()?;
        }
        if let Some(smtp) = &self.smtp {
            smtp.validate()?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    /// Default 465 with `tls = "tls"`, 587 with "starttls", 25 with "none".
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default = "SmtpSettings::default_tls")]
    pub tls: TlsMode,
    /// Sign in when given, with `password` or `password_file`.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// PEM file of certificate authorities to trust besides the public ones (a private CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// Longest part before the @ of `mail.address`: a reply address adds "+" and a token of 33
/// characters for ids below 36^5 (60 million), and mail servers accept 64 (RFC 5321).
const MAX_ADDRESS_LOCAL_PART: usize = 30;

/// Why an IMAP folder name cannot be used, if it cannot: it travels in modified UTF-7
/// (RFC 3501), which takes any text but not the list wildcards or control characters.
fn check_folder_name(name: &str) -> Result<(), String> {
    if name.trim() != name {
        return Err("must not start or end with spaces".into());
    }
    if name.chars().any(|c| c.is_control() || matches!(c, '*' | '%')) {
        return Err("must not contain control characters, \"*\" or \"%\"".into());
    }
    if name.len() > 255 {
        return Err("must be at most 255 bytes".into());
    }
    Ok(())
}

/// The PEM text of `ca_file`, checked to hold at least one certificate.
pub fn read_ca_file(what: &str, path: &Option<PathBuf>) -> Result<Option<Vec<u8>>, SettingsError> {
    let Some(path) = path else { return Ok(None) };
    let pem =
        std::fs::read(path).map_err(|error| SettingsError(format!("{what}: ca_file {}: {error}", path.display())))?;
    if !pem.windows(27).any(|window| window == b"-----BEGIN CERTIFICATE-----") {
        return Err(SettingsError(format!(
            "{what}: ca_file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(Some(pem))
}

impl SmtpSettings {
    fn default_tls() -> TlsMode {
        TlsMode::Starttls
    }

    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            TlsMode::Tls => 465,
            TlsMode::Starttls => 587,
            TlsMode::None => 25,
        })
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if self.host.trim().is_empty() {
            return Err(SettingsError("mail.smtp: host must not be empty".into()));
        }
        self.credentials()?;
        read_ca_file("mail.smtp", &self.ca_file)?;
        Ok(())
    }

    /// User and password, when the server wants a sign-in.
    pub fn credentials(&self) -> Result<Option<(String, String)>, SettingsError> {
        match &self.user {
            Some(user) => {
                Ok(Some((user.clone(), read_secret("mail.smtp", "password", &self.password, &self.password_file)?)))
            }
            None => Ok(None),
        }
    }
}

/// How an IMAP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain text: only for a server on this host or a trusted network.
    None,
    /// Plain connection upgraded with STARTTLS.
    Starttls,
    /// TLS from the first byte (IMAPS).
    Tls,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxSettings {
    /// A short name for logs and the failure list, e.g. "support".
    pub name: String,
    pub host: String,
    /// Default 993 with `tls = "tls"`, else 143.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default = "MailboxSettings::default_tls")]
    pub tls: TlsMode,
    pub user: String,
    /// The password, or `password_file` naming a file that holds it.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The folder new mail arrives in.
    #[serde(default = "MailboxSettings::default_folder")]
    pub folder: String,
    /// How often the folder is checked (or, with IDLE, the longest wait).
    #[serde(default = "MailboxSettings::default_poll_interval", with = "duration_text")]
    pub poll_interval: Duration,
    /// Wait with IMAP IDLE when the server supports it: new mail is taken at once.
    #[serde(default = "MailboxSettings::default_idle")]
    pub idle: bool,
    /// Key of the project new mail becomes items in.
    pub project: String,
    /// Where stored mail is moved, and where refused mail is moved (created when missing).
    #[serde(default = "MailboxSettings::default_processed_folder")]
    pub processed_folder: String,
    #[serde(default = "MailboxSettings::default_failed_folder")]
    pub failed_folder: String,
    /// Larger mail is refused without being fetched.
    #[serde(
        default = "MailboxSettings::default_max_message_size",
        deserialize_with = "deserialize_byte_size",
        serialize_with = "serialize_byte_size"
    )]
    pub max_message_size: u64,
    /// Mail from an address no account has: "reject", "create" (an account, as reporter of
    /// the project) or "guest:LOGIN" (stored as reported by that account).
    #[serde(default)]
    pub unknown_senders: UnknownSenders,
    /// Mail whose sender is not verified (neither through a notification's reply address nor
    /// by a trusted `Authentication-Results` header): "new_items" or "refuse".
    #[serde(default)]
    pub unverified_senders: UnverifiedSenders,
    /// Keys of further projects whose items replies through this mailbox may reach besides
    /// `project`'s, or `["*"]` for all.
    #[serde(default)]
    pub reply_projects: Vec<String>,
    /// PEM file of certificate authorities to trust besides the public ones (a private CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// What to do with mail from an address no account has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum UnknownSenders {
    /// Refuse it (it goes to the failure folder).
    #[default]
    Reject,
    /// Create an account for the sender, a reporter in the mailbox's project.
    CreateUser,
    /// Store it as reported by this account (which must be allowed to report).
    Guest(String),
}

impl TryFrom<String> for UnknownSenders {
    type Error = String;

    fn try_from(text: String) -> Result<UnknownSenders, String> {
        match text.trim() {
            "reject" => Ok(UnknownSenders::Reject),
            "create" => Ok(UnknownSenders::CreateUser),
            other => match other.strip_prefix("guest:").map(str::trim) {
                Some(login) if !login.is_empty() => Ok(UnknownSenders::Guest(login.to_string())),
                _ => Err(format!("{other:?} is not a rule: write \"reject\", \"create\" or \"guest:LOGIN\"")),
            },
        }
    }
}

impl From<UnknownSenders> for String {
    fn from(rule: UnknownSenders) -> String {
        match rule {
            UnknownSenders::Reject => "reject".into(),
            UnknownSenders::CreateUser => "create".into(),
            UnknownSenders::Guest(login) => format!("guest:{login}"),
        }
    }
}

/// What to do with mail whose sender is not verified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnverifiedSenders {
    /// Accept it as a new item from that address, from an account with at most the reporter
    /// role; never as a comment on an existing item.
    #[default]
    NewItems,
    /// Refuse it (it goes to the failure folder).
    Refuse,
}

impl MailboxSettings {
    fn default_tls() -> TlsMode {
        TlsMode::Tls
    }
    fn default_folder() -> String {
        "INBOX".into()
    }
    fn default_poll_interval() -> Duration {
        Duration::from_secs(60)
    }
    fn default_idle() -> bool {
        true
    }
    fn default_processed_folder() -> String {
        "Processed".into()
    }
    fn default_failed_folder() -> String {
        "Failed".into()
    }
    fn default_max_message_size() -> u64 {
        25 * 1024 * 1024
    }

    pub fn port(&self) -> u16 {
        self.port.unwrap_or(if self.tls == TlsMode::Tls { 993 } else { 143 })
    }

    /// The password, read from `password_file` when that is given.
    pub fn password(&self) -> Result<String, SettingsError> {
        read_secret(&format!("mail.mailboxes {:?}", self.name), "password", &self.password, &self.password_file)
    }

    /// Everything but the name, which `MailSettings::validate` checks among all mailboxes.
    fn validate(&self) -> Result<(), SettingsError> {
        let name = &self.name;
        let problem = |message: String| SettingsError(format!("mail.mailboxes {name:?}: {message}"));
        for (key, value) in [
            ("host", &self.host),
            ("user", &self.user),
            ("project", &self.project),
            ("folder", &self.folder),
            ("processed_folder", &self.processed_folder),
            ("failed_folder", &self.failed_folder),
        ] {
            if value.trim().is_empty() || value.chars().any(char::is_control) {
                return Err(problem(format!("{key} must not be empty")));
            }
        }
        if self.folder == self.processed_folder || self.folder == self.failed_folder {
            return Err(problem("processed_folder and failed_folder must differ from folder".into()));
        }
        for (key, folder) in [
            ("folder", &self.folder),
            ("processed_folder", &self.processed_folder),
            ("failed_folder", &self.failed_folder),
        ] {
            check_folder_name(folder).map_err(|why| problem(format!("{key} {folder:?} {why}")))?;
        }
        let all_projects = self.reply_projects.iter().any(|key| key == "*");
        if all_projects && self.reply_projects.len() > 1 {
            return Err(problem("reply_projects: write either [\"*\"] (all projects) or project keys".into()));
        }
        for key in self.reply_projects.iter().filter(|_| !all_projects) {
            let is_key = (2..=10).contains(&key.len())
                && key.starts_with(|c: char| c.is_ascii_alphabetic())
                && key.chars().all(|c| c.is_ascii_alphanumeric());
            if !is_key {
                return Err(problem(format!(
                    "reply_projects: {key:?} is not a project key (2-10 letters or digits, e.g. \"OPS\"), nor \"*\""
                )));
            }
        }
        self.password()?;
        read_ca_file(&format!("mail.mailboxes {name:?}"), &self.ca_file)?;
        if self.poll_interval < Duration::from_secs(1) {
            return Err(problem("poll_interval must be at least \"1s\"".into()));
        }
        if !(1024..=1024 * 1024 * 1024).contains(&self.max_message_size) {
            return Err(problem("max_message_size must be between 1KiB and 1GiB, e.g. \"25MiB\"".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{UnknownSenders, UnverifiedSenders};
    use crate::config::Settings;

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
}
