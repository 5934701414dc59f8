//! The mail poller, a master duty: one task per mailbox fetches new mail over IMAP, stores
//! each message (`inbound::store`, fenced by the master epoch) and only after that commit
//! moves it to the processed or the failed folder. A crash between the commit and the move
//! leaves the message where it was; the next master finds its key recorded and only moves
//! it. Mail larger than the limit is refused from its size without being fetched; mail
//! larger than `SPOOL_ABOVE` is fetched piece by piece into a file (`attachments/staging`)
//! and read back only while it is stored, so a batch of large mails never sits in memory
//! at once. Every server step has a time limit; a lost connection is retried with a growing
//! pause. Folder names go to the server in modified UTF-7 (`imap_name`). Each poll's
//! outcome — success, or the failure with the server's message — is recorded per mailbox
//! for the cluster status and the metrics (`status`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_imap::{Client, Session};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use crate::cluster::duty::{DutyContext, MasterDuty, RetryPause};
use crate::config::Settings;
use crate::config::mail::{MailboxSettings, TlsMode, read_ca_file};
use crate::db::{DbConnection, write_transaction};
use crate::error::{Error, Result};
use crate::mail::inbound::{self, Outcome};
use crate::mail::mailbox::Mailbox;
use crate::mail::message;
use crate::mail::printable::Printable;
use crate::mail::{imap_name, status};
use crate::model::attachment::{FileStore, StagedFile};

/// Messages whose sizes are asked for at once.
const BATCH: usize = 50;
/// The longest any single server step may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);
const LONGEST_PAUSE: Duration = Duration::from_secs(300);

pub struct MailDuty {
    mailboxes: Vec<Arc<PolledMailbox>>,
    files: FileStore,
}

/// A configured mailbox and its turn, held through a poll: a poll run by hand and the
/// duty's own never take the same mail at once.
struct PolledMailbox {
    settings: MailboxSettings,
    password: String,
    /// The TLS setup, with the authorities of `ca_file` read once at start.
    tls: Arc<rustls::ClientConfig>,
    rules: Arc<Mailbox>,
    turn: tokio::sync::Mutex<()>,
}

impl MailDuty {
    /// The duty for the configured mailboxes (`None` when there are none).
    pub fn from_settings(settings: &Settings, files: FileStore) -> Result<Option<MailDuty>> {
        let mut mailboxes = Vec::new();
        for mailbox in &settings.mail.mailboxes {
            let invalid = |error: crate::config::SettingsError| Error::invalid("mail.mailboxes", error.to_string());
            let password = mailbox.password().map_err(invalid)?;
            let private_authorities = read_ca_file(&format!("mail.mailboxes {:?}", mailbox.name), &mailbox.ca_file);
            mailboxes.push(Arc::new(PolledMailbox {
                settings: mailbox.clone(),
                password,
                tls: tls_config(private_authorities.map_err(invalid)?)?,
                rules: Arc::new(Mailbox::from_settings(settings, mailbox)),
                turn: tokio::sync::Mutex::new(()),
            }));
        }
        Ok((!mailboxes.is_empty()).then_some(MailDuty { mailboxes, files }))
    }

    /// One round: polls every mailbox once, over a connection of its own, and records each
    /// poll's outcome for the status. Returns whether any mail was taken.
    pub async fn poll_round(&self, context: &DutyContext) -> bool {
        let mut taken = false;
        for mailbox in &self.mailboxes {
            let poller = self.poller(mailbox, context);
            match poller.poll_once().await {
                Ok(count) => taken |= count > 0,
                Err(error) => poller.failed(&error, None).await,
            }
        }
        taken
    }

    fn poller(&self, mailbox: &Arc<PolledMailbox>, context: &DutyContext) -> Poller {
        Poller {
            mailbox: mailbox.clone(),
            files: self.files.clone(),
            context: context.clone(),
            pause: RetryPause::new(Duration::from_secs(1), LONGEST_PAUSE),
        }
    }
}

impl MasterDuty for MailDuty {
    fn name(&self) -> &'static str {
        "mail"
    }

    /// Keeps one session per mailbox, which polls whenever the server reports new mail (IDLE)
    /// or `poll_interval` has passed.
    fn run(self: Arc<Self>, context: DutyContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let names: Vec<String> = self.mailboxes.iter().map(|mailbox| mailbox.settings.name.clone()).collect();
        let registry = context.clone();
        let tasks: Vec<_> =
            self.mailboxes.iter().map(|mailbox| tokio::spawn(self.poller(mailbox, &context).run())).collect();
        Box::pin(async move {
            let registered = registry.write(move |connection| status::register_mailboxes(connection, &names));
            if let Err(error) = registered.await {
                tracing::warn!(%error, "could not record the configured mailboxes for the status");
            }
            for task in tasks {
                let _ = task.await;
            }
        })
    }
}

trait ImapStream: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> ImapStream for T {}

type ImapSession = Session<Box<dyn ImapStream>>;

struct Poller {
    mailbox: Arc<PolledMailbox>,
    files: FileStore,
    context: DutyContext,
    /// Before the next session after one failed; reset by every poll that worked.
    pause: RetryPause,
}

/// Runs one server step with the time limit.
async fn step<T, E: std::fmt::Display>(
    what: &str,
    future: impl Future<Output = std::result::Result<T, E>>,
) -> Result<T> {
    match tokio::time::timeout(STEP_TIMEOUT, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(Error::Unavailable(format!("IMAP {what}: {}", server_words(&error.to_string())))),
        Err(_) => Err(Error::Unavailable(format!("IMAP {what}: no answer within {} s", STEP_TIMEOUT.as_secs()))),
    }
}

/// An error as operators read it: async-imap writes a server's NO or BAD answer as Rust
/// debug output (`no response: outcome: Outcome { code: None, information: Some("…") }`);
/// this keeps the server's own words.
fn server_words(error: &str) -> String {
    let answer = match error.split_once(": ") {
        Some(("no response", _)) => "NO",
        Some(("bad response", _)) => "BAD",
        _ => return error.to_string(),
    };
    let words = ["information: Some(\"", "info: Some(\""].iter().find_map(|marker| {
        let quoted = &error[error.find(marker)? + marker.len()..];
        let (mut words, mut escaped) = (String::new(), false);
        for character in quoted.chars() {
            match character {
                _ if escaped => {
                    words.push(character);
                    escaped = false;
                }
                '\\' => escaped = true,
                '"' => return Some(words),
                _ => words.push(character),
            }
        }
        Some(words)
    });
    match words {
        Some(words) => format!("the server answered {answer}: {words}"),
        None => format!("the server answered {answer}"),
    }
}

/// The next response of a FETCH, with the time limit.
async fn next_fetch(
    what: &str,
    fetches: &mut (impl futures_util::Stream<Item = async_imap::error::Result<async_imap::types::Fetch>> + Unpin),
) -> Result<Option<async_imap::types::Fetch>> {
    match tokio::time::timeout(STEP_TIMEOUT, fetches.next()).await {
        Ok(Some(Ok(fetch))) => Ok(Some(fetch)),
        Ok(Some(Err(error))) => Err(Error::Unavailable(format!("IMAP {what}: {error}"))),
        Ok(None) => Ok(None),
        Err(_) => Err(Error::Unavailable(format!("IMAP {what}: no answer within {} s", STEP_TIMEOUT.as_secs()))),
    }
}

/// Drains a stream of responses (STORE, EXPUNGE), with the time limit.
async fn drain<S: futures_util::Stream>(what: &str, responses: S) -> Result<()> {
    let responses = std::pin::pin!(responses);
    tokio::time::timeout(STEP_TIMEOUT, responses.collect::<Vec<_>>())
        .await
        .map(|_| ())
        .map_err(|_| Error::Unavailable(format!("IMAP {what}: no answer within {} s", STEP_TIMEOUT.as_secs())))
}

impl Poller {
    async fn run(mut self) {
        while !self.context.must_stop() {
            let Err(error) = self.session().await else { return };
            let pause = self.pause.failed();
            self.failed(&error, Some(pause)).await;
            tokio::select! {
                () = self.context.stopped() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Logs a failed poll and records it for the status.
    async fn failed(&self, error: &Error, retry_in: Option<Duration>) {
        let message = error.message();
        tracing::warn!(
            mailbox = %self.mailbox.settings.name, error = %Printable(&message), ?retry_in,
            "mailbox poll failed"
        );
        self.record_poll(Err(message)).await;
    }

    /// Records the outcome of a poll for the status (fenced); a failure to record is only
    /// logged.
    async fn record_poll(&self, outcome: std::result::Result<(), String>) {
        let name = self.mailbox.settings.name.clone();
        let recorded = self
            .context
            .write(move |connection| {
                status::record_poll(connection, &name, outcome.as_ref().map(|_| ()).map_err(String::as_str))
            })
            .await;
        if let Err(error) = recorded {
            tracing::warn!(mailbox = %self.mailbox.settings.name, %error, "could not record the mailbox's poll");
        }
    }

    /// One connection: polls until told to stop.
    async fn session(&mut self) -> Result<()> {
        let (mut session, can_move, can_idle) = self.open().await?;
        tracing::info!(mailbox = %self.mailbox.settings.name, can_idle, "polling mailbox");
        loop {
            self.poll(&mut session, can_move).await?;
            self.pause.succeeded();
            if self.context.must_stop() {
                let _ = step("LOGOUT", session.logout()).await;
                return Ok(());
            }
            session = if can_idle { self.idle(session).await? } else { self.sleep(session).await };
            if self.context.must_stop() {
                return Ok(());
            }
        }
    }

    /// One poll over a connection of its own; returns how many mails it took.
    async fn poll_once(&self) -> Result<usize> {
        let (mut session, can_move, _) = self.open().await?;
        let taken = self.poll(&mut session, can_move).await?;
        let _ = step("LOGOUT", session.logout()).await;
        Ok(taken)
    }

    /// Connects and makes sure the target folders exist; returns the session and whether
    /// the server can MOVE and IDLE.
    async fn open(&self) -> Result<(ImapSession, bool, bool)> {
        let mut session = self.connect().await?;
        for folder in [&self.mailbox.settings.processed_folder, &self.mailbox.settings.failed_folder] {
            // Fails harmlessly when the folder exists.
            let _ = step("CREATE", session.create(imap_name::encode(folder))).await;
        }
        let capabilities = step("CAPABILITY", session.capabilities()).await?;
        let can_move = capabilities.has_str("MOVE");
        let can_idle = self.mailbox.settings.idle && capabilities.has_str("IDLE");
        Ok((session, can_move, can_idle))
    }

    /// Takes the mail in the folder, in the mailbox's turn, and records the poll; returns
    /// how many mails it took.
    async fn poll(&self, session: &mut ImapSession, can_move: bool) -> Result<usize> {
        let _turn = self.mailbox.turn.lock().await;
        let folder = &self.mailbox.settings.folder;
        step(&format!("SELECT {folder:?}"), session.select(imap_name::encode(folder))).await?;
        let taken = self.take_new_mail(session, can_move).await?;
        self.record_poll(Ok(())).await;
        Ok(taken)
    }

    async fn connect(&self) -> Result<ImapSession> {
        let settings = &self.mailbox.settings;
        let address = (settings.host.as_str(), settings.port());
        let tcp = step("connect", TcpStream::connect(address)).await?;
        let stream: Box<dyn ImapStream> = match settings.tls {
            TlsMode::None => Box::new(tcp),
            TlsMode::Tls => Box::new(tls(tcp, &settings.host, &self.mailbox.tls).await?),
            TlsMode::Starttls => {
                let mut client = Client::new(tcp);
                step("greeting", client.read_response()).await?;
                step("STARTTLS", client.run_command_and_check_ok("STARTTLS", None)).await?;
                Box::new(tls(client.into_inner(), &settings.host, &self.mailbox.tls).await?)
            }
        };
        let mut client = Client::new(stream);
        if settings.tls != TlsMode::Starttls {
            step("greeting", client.read_response()).await?;
        }
        match tokio::time::timeout(STEP_TIMEOUT, client.login(&settings.user, &self.mailbox.password)).await {
            Ok(Ok(session)) => Ok(session),
            Ok(Err((error, _))) => Err(Error::Unavailable(format!("IMAP login as {}: {error}", settings.user))),
            Err(_) => Err(Error::Unavailable("IMAP login: no answer".into())),
        }
    }

    /// Stores and moves every message in the folder, in batches: FETCHes of the small bodies
    /// into memory and of the large ones into files, one fenced transaction for the batch,
    /// one MOVE per target folder.
    async fn take_new_mail(&self, session: &mut ImapSession, can_move: bool) -> Result<usize> {
        let mut uids: Vec<u32> = step("SEARCH", session.uid_search("ALL")).await?.into_iter().collect();
        uids.sort_unstable();
        let mut taken = 0;
        for batch in uids.chunks(BATCH) {
            if self.context.must_stop() {
                return Ok(taken);
            }
            let mut sizes: Vec<(u32, u64)> = Vec::new();
            {
                let mut fetches = step("FETCH sizes", session.uid_fetch(uid_set(batch), "(UID RFC822.SIZE)")).await?;
                while let Some(fetch) = next_fetch("FETCH sizes", &mut fetches).await? {
                    if let (Some(uid), Some(size)) = (fetch.uid, fetch.size) {
                        sizes.push((uid, u64::from(size)));
                    }
                }
            }
            let (fetchable, oversized): (Vec<_>, Vec<_>) =
                sizes.into_iter().partition(|(_, size)| *size <= self.mailbox.rules.max_message_size);
            let (large, small): (Vec<_>, Vec<_>) = fetchable.into_iter().partition(|(_, size)| *size > SPOOL_ABOVE);
            let mut arrived: Vec<(u32, Arrival)> = Vec::new();
            for (uid, size) in oversized {
                arrived.push((uid, self.oversized(session, uid, size).await?));
            }
            for (uid, size) in large {
                match self.spool(session, uid).await {
                    Ok(Some(staged)) => arrived.push((uid, Arrival::Spooled(staged))),
                    Ok(None) => {}
                    // The server sent more than the size it gave: refused like any oversized mail.
                    Err(Error::TooLarge(_)) => arrived.push((uid, self.oversized(session, uid, size).await?)),
                    Err(error) => return Err(error),
                }
            }
            for group in fetch_groups(&small) {
                let mut fetches = step("FETCH", session.uid_fetch(uid_set(&group), "(UID BODY.PEEK[])")).await?;
                while let Some(fetch) = next_fetch("FETCH", &mut fetches).await? {
                    if let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) {
                        arrived.push((uid, Arrival::Fetched(body.to_vec())));
                    }
                }
            }
            let outcomes = self.store(arrived).await?;
            let (mut processed, mut failed) = (Vec::new(), Vec::new());
            for (uid, outcome) in outcomes {
                let result = match outcome {
                    Outcome::Created(_) | Outcome::Commented(..) | Outcome::AlreadyStored => {
                        processed.push(uid);
                        "stored"
                    }
                    Outcome::Failed(_) | Outcome::AlreadyRefused => {
                        failed.push(uid);
                        "quarantined"
                    }
                };
                metrics::counter!("baton_mail_fetched_total", "mailbox" => self.mailbox.settings.name.clone(), "result" => result)
                    .increment(1);
            }
            taken += processed.len() + failed.len();
            for (uids, folder) in
                [(processed, &self.mailbox.settings.processed_folder), (failed, &self.mailbox.settings.failed_folder)]
            {
                if !uids.is_empty() {
                    move_messages(session, &uid_set(&uids), &imap_name::encode(folder), can_move).await?;
                }
            }
        }
        Ok(taken)
    }

    /// Stores a batch in one fenced transaction, each mail in its own savepoint. A mail that
    /// fails for a reason of its own (not the database's) is recorded as refused, so one bad
    /// mail never blocks the others.
    async fn store(&self, arrived: Vec<(u32, Arrival)>) -> Result<Vec<(u32, Outcome)>> {
        let files = self.files.clone();
        let rules = self.mailbox.rules.clone();
        self.context
            .write(move |connection| {
                let mut outcomes = Vec::with_capacity(arrived.len());
                for (uid, arrival) in &arrived {
                    let outcome = match arrival {
                        Arrival::Oversized { key, digest, size } => {
                            inbound::refuse_oversized(connection, &files, &rules, key, digest, *size)?
                        }
                        Arrival::Fetched(raw) => store_one(connection, &files, &rules, raw)?,
                        Arrival::Spooled(staged) => store_one(connection, &files, &rules, &staged.read()?)?,
                    };
                    outcomes.push((*uid, outcome));
                }
                Ok(outcomes)
            })
            .await
    }

    /// A message too large to fetch, known by its header: its Message-ID (else its place on
    /// the server) and the digest of its header block and size.
    async fn oversized(&self, session: &mut ImapSession, uid: u32, size: u64) -> Result<Arrival> {
        let mut fetches = step("FETCH header", session.uid_fetch(uid.to_string(), "BODY.PEEK[HEADER]")).await?;
        let mut header = Vec::new();
        while let Some(fetch) = next_fetch("FETCH header", &mut fetches).await? {
            if let Some(fetched) = fetch.header() {
                header = fetched.to_vec();
            }
        }
        let key = message::message_id_of_header(&header).unwrap_or_else(|| {
            format!("oversized:{}:{}:{uid}", self.mailbox.settings.name, self.mailbox.settings.folder)
        });
        Ok(Arrival::Oversized { key, digest: message::header_digest(&header, size), size })
    }

    /// Fetches a large message in pieces of `SPOOL_PIECE` bytes into a staging file, so only
    /// one piece is in memory. `None` when the message is gone from the server.
    async fn spool(&self, session: &mut ImapSession, uid: u32) -> Result<Option<StagedFile>> {
        let mut staging = self.files.start_upload(self.mailbox.rules.max_message_size)?;
        let mut offset = 0;
        loop {
            let query = format!("(UID BODY.PEEK[]<{offset}.{SPOOL_PIECE}>)");
            let mut piece = None;
            {
                let mut fetches = step("FETCH piece", session.uid_fetch(uid.to_string(), query)).await?;
                while let Some(fetch) = next_fetch("FETCH piece", &mut fetches).await? {
                    if let (Some(fetched), Some(body)) = (fetch.uid, fetch.body())
                        && fetched == uid
                    {
                        staging.write_chunk(body)?;
                        piece = Some(body.len());
                    }
                }
            }
            match piece {
                None if offset == 0 => return Ok(None),
                Some(length) if length == SPOOL_PIECE => offset += length,
                _ => break,
            }
        }
        metrics::counter!("baton_mail_spooled_total", "mailbox" => self.mailbox.settings.name.clone()).increment(1);
        Ok(Some(staging.finish()?))
    }

    async fn idle(&mut self, session: ImapSession) -> Result<ImapSession> {
        let mut handle = session.idle();
        step("IDLE", handle.init()).await?;
        {
            let (wait, interrupt) = handle.wait_with_timeout(self.mailbox.settings.poll_interval);
            tokio::select! {
                outcome = wait => {
                    outcome.map_err(|error| Error::Unavailable(format!("IMAP IDLE: {error}")))?;
                }
                () = self.context.stopped() => drop(interrupt),
            }
        }
        step("DONE", handle.done()).await
    }

    async fn sleep(&mut self, session: ImapSession) -> ImapSession {
        tokio::select! {
            () = self.context.stopped() => {}
            () = tokio::time::sleep(self.mailbox.settings.poll_interval) => {}
        }
        session
    }
}

/// Stores one fetched mail in a savepoint; a mail that fails for a reason of its own is
/// recorded as refused instead.
fn store_one(connection: &mut DbConnection, files: &FileStore, rules: &Mailbox, raw: &[u8]) -> Result<Outcome> {
    match write_transaction(connection, |connection| inbound::store(connection, files, rules, raw)) {
        Ok(outcome) => Ok(outcome),
        Err(error) => {
            let reason = format!("could not be stored: {error}");
            inbound::refuse_unstorable(connection, files, rules, raw, reason)
        }
    }
}

/// A message of a batch: its bytes, its spooled file, or only its key and size when it is
/// too large to fetch.
enum Arrival {
    Fetched(Vec<u8>),
    Spooled(StagedFile),
    Oversized { key: String, digest: String, size: u64 },
}

/// Small bodies fetched per FETCH: at most this many bytes and messages.
const FETCH_BYTES: u64 = 8 * 1024 * 1024;
const FETCH_MESSAGES: usize = 25;
/// Larger messages go to a file, fetched in pieces of SPOOL_PIECE bytes.
const SPOOL_ABOVE: u64 = 1024 * 1024;
const SPOOL_PIECE: usize = 1024 * 1024;

fn uid_set(uids: &[u32]) -> String {
    uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// Splits the messages to fetch into groups of at most FETCH_BYTES (a larger one alone).
fn fetch_groups(fetchable: &[(u32, u64)]) -> Vec<Vec<u32>> {
    let mut groups: Vec<Vec<u32>> = Vec::new();
    let mut bytes = 0;
    for &(uid, size) in fetchable {
        if groups.last().is_none_or(|group| group.len() >= FETCH_MESSAGES) || bytes + size > FETCH_BYTES {
            groups.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(group) = groups.last_mut() {
            group.push(uid);
        }
    }
    groups
}

/// Moves messages (MOVE, or COPY + delete + expunge on servers without it).
async fn move_messages(session: &mut ImapSession, uid: &str, folder: &str, can_move: bool) -> Result<()> {
    if can_move {
        return step("MOVE", session.uid_mv(uid, folder)).await;
    }
    step("COPY", session.uid_copy(uid, folder)).await?;
    {
        let updates = step("STORE", session.uid_store(uid, "+FLAGS.SILENT (\\Deleted)")).await?;
        drain("STORE", updates).await?;
    }
    let expunged = step("EXPUNGE", session.uid_expunge(uid)).await?;
    drain("EXPUNGE", expunged).await
}

/// The TLS setup of a mailbox: the public roots and the authorities of its `ca_file` (PEM).
fn tls_config(private_authorities: Option<Vec<u8>>) -> Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = private_authorities {
        for certificate in CertificateDer::pem_slice_iter(&pem) {
            let certificate = certificate.map_err(|error| Error::Unavailable(format!("ca_file: {error}")))?;
            roots.add(certificate).map_err(|error| Error::Unavailable(format!("ca_file: {error}")))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|error| Error::internal("TLS settings", error))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A TLS connection to `host` with the mailbox's TLS setup.
async fn tls(
    tcp: TcpStream,
    host: &str,
    config: &Arc<rustls::ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|error| Error::Unavailable(format!("IMAP host {host:?} is not a TLS server name: {error}")))?;
    step("TLS handshake", tokio_rustls::TlsConnector::from(config.clone()).connect(name, tcp)).await
}

#[cfg(test)]
mod tests {
    use super::server_words;

    #[test]
    fn a_servers_refusal_is_told_in_its_own_words() {
        let no = "no response: outcome: Outcome { code: None, information: Some(\"Mailbox doesn't exist: \\\"Gibt\\\" (0.001 secs).\") }";
        assert_eq!(server_words(no), "the server answered NO: Mailbox doesn't exist: \"Gibt\" (0.001 secs).");
        let bad = "bad response: code: Some(Parse), info: Some(\"Error in IMAP command\")";
        assert_eq!(server_words(bad), "the server answered BAD: Error in IMAP command");
        assert_eq!(
            server_words("no response: outcome: Outcome { code: None, information: None }"),
            "the server answered NO"
        );
        assert_eq!(server_words("io: Connection refused (os error 111)"), "io: Connection refused (os error 111)");
    }
}
