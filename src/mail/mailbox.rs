//! The rules of one polled mailbox, resolved from the settings once: which project new mail
//! goes to, which projects replies may reach, who may write, and our own addresses.

use crate::config::Settings;

use crate::config::mail::{MailboxSettings, UnknownSenders, UnverifiedSenders};
use crate::model::project::ProjectKeyOrId;

/// The rules of one mailbox.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub name: String,
    /// The project new mail goes to.
    pub project: ProjectKeyOrId,
    pub unknown_senders: UnknownSenders,
    pub unverified_senders: UnverifiedSenders,
    /// The projects (keys) whose items replies may reach, `project` among them; `None`: all.
    pub reply_projects: Option<Vec<String>>,
    /// The receiving servers whose `Authentication-Results` are believed.
    pub trusted_authserv_ids: Vec<String>,
    /// Our address (lower case), to which notifications are answered with `+TOKEN`.
    pub address: String,
    /// Our own addresses (lower case): mail from them is our own coming back.
    pub own_addresses: Vec<String>,
    /// This installation's value of the loop header.
    pub loop_id: String,
    pub max_message_size: u64,
    pub max_attachment_size: u64,
}

impl Mailbox {
    pub fn from_settings(settings: &Settings, mailbox: &MailboxSettings) -> Mailbox {
        let address = settings.mail.address.to_lowercase();
        let mut own_addresses = vec![address.clone()];
        if mailbox.user.contains('@') {
            own_addresses.push(mailbox.user.to_lowercase());
        }
        let reply_projects = (!mailbox.reply_projects.iter().any(|key| key == "*")).then(|| {
            std::iter::once(&mailbox.project)
                .chain(&mailbox.reply_projects)
                .map(|key| key.trim().to_uppercase())
                .collect()
        });
        Mailbox {
            name: mailbox.name.clone(),
            project: ProjectKeyOrId::parse(&mailbox.project),
            unknown_senders: mailbox.unknown_senders.clone(),
            unverified_senders: mailbox.unverified_senders,
            reply_projects,
            trusted_authserv_ids: settings.mail.trusted_authserv_ids.clone(),
            loop_id: address.clone(),
            address,
            own_addresses,
            max_message_size: mailbox.max_message_size,
            max_attachment_size: settings.limits.max_attachment_size,
        }
    }
}
