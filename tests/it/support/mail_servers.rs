//! Throwaway mail servers on 127.0.0.1 for integration tests: [`ImapServer`] (a private Dovecot with
//! one user, plain IMAP without TLS) and [`SmtpCapture`] (an aiosmtpd receiver that keeps every
//! message). Each instance lives in its own temporary folder (configuration, maildirs, sockets, pid
//! file, logs) and listens on a free port chosen at runtime, so tests may start many of them
//! concurrently; nothing system-wide (`/etc/dovecot`, services, systemd) is used.
//!
//! Debian packages: `dovecot-imapd` (pulls `dovecot-core`) and `python3-aiosmtpd`. With `CI` set, a
//! missing package fails the test; otherwise `start()` prints "skipping: …" and returns `None`.
//!
//! As root, the servers run as the unprivileged `dovecot` (or `nobody`) user. Every server gets its
//! own process group, killed on drop, and `PR_SET_PDEATHSIG`, so none outlives the test process.
//! All calls are blocking (plain `std::net`); from async tests they only tie up the calling worker.

use std::ffi::{CStr, CString};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

static NEXT_INSTANCE: AtomicU32 = AtomicU32::new(0);

const START_TIMEOUT: Duration = Duration::from_secs(20);
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// A throwaway Dovecot on 127.0.0.1 with a single user: plain IMAP, or with `start_with_tls`
/// also STARTTLS on that port and implicit TLS on `tls`.
pub struct ImapServer {
    pub port: u16,
    pub user: String,
    pub password: String,
    /// With TLS: the implicit-TLS port, and the PEM file of the test authority that signed the
    /// server's certificate (for 127.0.0.1).
    pub tls: Option<(u16, PathBuf)>,
    child: Child,
    folder: tempfile::TempDir,
}

impl ImapServer {
    /// Starts `dovecot -F` with a generated configuration and waits (at most 20 s) until it sends
    /// its greeting. `None` (with a notice) when Dovecot is not installed and `CI` is not set.
    pub fn start() -> Option<ImapServer> {
        ImapServer::start_with(false)
    }

    /// As `start`, with TLS: a certificate for 127.0.0.1 signed by a throwaway authority
    /// (openssl), STARTTLS on `port` and implicit TLS on the `tls` port.
    pub fn start_with_tls() -> Option<ImapServer> {
        ImapServer::start_with(true)
    }

    fn start_with(with_tls: bool) -> Option<ImapServer> {
        let Some(dovecot) = find_binary("dovecot", &["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]) else {
            return missing("dovecot is not installed (Debian package dovecot-imapd)");
        };
        let instance = format!("{}-{}", std::process::id(), NEXT_INSTANCE.fetch_add(1, Ordering::SeqCst));
        let user = "baton".to_string();
        let password = format!("secret-{instance}");
        let (owner_name, uid, gid) = run_as();
        let folder = instance_folder("imap");
        let root = folder.path();
        for sub in ["run", "state", "home"] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        let home = root.join("home");
        std::fs::write(root.join("users"), format!("{user}:{{PLAIN}}{password}:{uid}:{gid}::{}::\n", home.display()))
            .unwrap();
        if with_tls {
            make_certificates(root);
        }
        let owner = run_as_ids();
        if owner.is_some() {
            chown_recursive(root, uid, gid);
        }
        // A port picked here may be taken before dovecot binds it: retry with another one.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port();
            let tls_port = with_tls.then(free_port);
            let greeting = format!("baton-imap-{instance}-{attempt}");
            let mut config = dovecot_config(root, &instance, &owner_name, uid, gid, port, &greeting);
            if let Some(tls_port) = tls_port {
                config = config.replace(
                    "ssl = no\n",
                    &format!("ssl = yes\nssl_cert = <{0}/server.pem\nssl_key = <{0}/server.key\n", root.display()),
                );
                config = config.replace(
                    "  inet_listener imaps {\n    port = 0\n  }",
                    &format!(
                        "  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {tls_port}\n    ssl = yes\n  }}"
                    ),
                );
            }
            let config_path = root.join("dovecot.conf");
            std::fs::write(&config_path, config).unwrap();
            let _ = std::fs::remove_file(root.join("dovecot.log"));
            let stderr = std::fs::File::create(root.join("stderr.log")).unwrap();
            let mut command = Command::new(&dovecot);
            command.arg("-F").arg("-c").arg(&config_path).stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
            let mut child = spawn_server(command, owner)
                .unwrap_or_else(|error| panic!("cannot start {}: {error}", dovecot.display()));
            match wait_for_greeting(port, &greeting, &mut child) {
                Ok(()) => {
                    let tls = tls_port.map(|tls_port| (tls_port, root.join("ca.pem")));
                    return Some(ImapServer { port, user, password, tls, child, folder });
                }
                Err(error) => {
                    kill_group(&mut child);
                    let log = log_tail(&[root.join("stderr.log"), root.join("dovecot.log")]);
                    if attempt < 5 && log.contains("Address already in use") {
                        continue;
                    }
                    panic!("dovecot did not start on 127.0.0.1:{port}: {error}\n{log}");
                }
            }
        }
    }

    /// Dovecot's log, for the message of a failed test.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.folder.path().join("dovecot.log")).unwrap_or_default()
    }

    /// Appends raw RFC 822 bytes (use CRLF line ends to get them back byte-identical) to `folder`,
    /// creating the folder if needed.
    pub fn append(&self, folder: &str, raw: &[u8]) {
        let mut session = self.session();
        let mailbox = create(&mut session, folder);
        session.append(&mailbox, raw).unwrap_or_else(|error| panic!("IMAP APPEND to {mailbox} failed: {error}"));
        session.logout();
    }

    /// Creates `folder` if it does not exist yet.
    pub fn create_folder(&self, folder: &str) {
        let mut session = self.session();
        create(&mut session, folder);
        session.logout();
    }

    /// Moves every message of `from` into `to` at once (creating `to`), so that a poller finds
    /// them all together.
    pub fn move_all(&self, from: &str, to: &str) {
        let mut session = self.session();
        let (from, to) = (folder_name(from), create(&mut session, to));
        for command in [format!("SELECT {from}"), format!("MOVE 1:* {to}")] {
            session.command(&command).unwrap_or_else(|error| panic!("IMAP {command} failed: {error}"));
        }
        session.logout();
    }

    /// Number of messages in `folder` (0 when it does not exist).
    pub fn count(&self, folder: &str) -> usize {
        let mut session = self.session();
        let mailbox = folder_name(folder);
        let count = match session.command(&format!("STATUS {mailbox} (MESSAGES)")) {
            Ok(responses) => responses
                .iter()
                .find_map(|response| {
                    let text = String::from_utf8_lossy(&response.text);
                    let rest = text.strip_prefix("* STATUS ")?;
                    let number = &rest[rest.find("(MESSAGES ")? + "(MESSAGES ".len()..];
                    number.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
                })
                .unwrap_or_else(|| panic!("no STATUS MESSAGES in the answer for {mailbox}")),
            Err(error) if nonexistent(&error) => 0,
            Err(error) => panic!("IMAP STATUS {mailbox} failed: {error}"),
        };
        session.logout();
        count
    }

    /// The raw messages in `folder`, in mailbox order (empty when it does not exist). Peeks, so
    /// the `\Seen` flags stay untouched.
    pub fn messages(&self, folder: &str) -> Vec<Vec<u8>> {
        let mut session = self.session();
        let mailbox = folder_name(folder);
        let exists = match session.command(&format!("EXAMINE {mailbox}")) {
            Ok(responses) => responses
                .iter()
                .filter_map(|response| {
                    let text = String::from_utf8_lossy(&response.text);
                    text.strip_prefix("* ")?.strip_suffix(" EXISTS")?.parse::<usize>().ok()
                })
                .next_back()
                .unwrap_or(0),
            Err(error) if nonexistent(&error) => return Vec::new(),
            Err(error) => panic!("IMAP EXAMINE {mailbox} failed: {error}"),
        };
        if exists == 0 {
            session.logout();
            return Vec::new();
        }
        let responses = session
            .command("FETCH 1:* (BODY.PEEK[])")
            .unwrap_or_else(|error| panic!("IMAP FETCH in {mailbox} failed: {error}"));
        session.logout();
        let mut messages: Vec<(usize, Vec<u8>)> = responses
            .into_iter()
            .filter_map(|mut response| {
                let text = String::from_utf8_lossy(&response.text).into_owned();
                let mut words = text.split(' ');
                let sequence = (words.next() == Some("*")).then(|| words.next()?.parse().ok()).flatten()?;
                (words.next() == Some("FETCH") && text.contains("BODY[] {") && !response.literals.is_empty())
                    .then(|| (sequence, response.literals.swap_remove(0)))
            })
            .collect();
        messages.sort_by_key(|(sequence, _)| *sequence);
        assert_eq!(messages.len(), exists, "FETCH 1:* in {mailbox} returned fewer messages than EXISTS");
        messages.into_iter().map(|(_, message)| message).collect()
    }

    fn session(&self) -> ImapSession {
        let mut session = ImapSession::connect(self.port)
            .unwrap_or_else(|error| panic!("cannot connect to IMAP on port {}: {error}", self.port));
        session
            .command(&format!("LOGIN {} {}", quote(&self.user), quote(&self.password)))
            .unwrap_or_else(|error| panic!("IMAP LOGIN failed: {error}"));
        session
    }
}

impl Drop for ImapServer {
    /// SIGKILL to the whole group, no graceful shutdown: a SIGTERM'd master needs ~1 s to stop. The
    /// killed children are reparented to init, which reaps them (until then they show as zombies).
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

fn dovecot_config(root: &Path, instance: &str, owner: &str, uid: u32, gid: u32, port: u16, greeting: &str) -> String {
    let root = root.display();
    let group = group_name(gid).unwrap_or_else(|| panic!("gid {gid} has no group name, which dovecot needs"));
    // Dovecot 2.3 syntax (`disable_plaintext_auth`; 2.4 renamed it `auth_allow_cleartext`). The
    // whole server runs as one unprivileged user, so every service user is that user and no
    // service may chroot (only root can).
    format!(
        "protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = baton-imap-{instance}
log_path = {root}/dovecot.log
login_greeting = {greeting}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {owner}
default_internal_user = {owner}
default_internal_group = {group}
first_valid_uid = {uid}
last_valid_uid = 0
first_valid_gid = {gid}
mail_location = maildir:~/Maildir
mail_fsync = never
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service auth-worker {{
  user = $default_internal_user
}}
"
    )
}

fn wait_for_greeting(port: u16, greeting: &str, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let mut last_error = String::from("no connection attempt");
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("dovecot exited with {status}"));
        }
        match read_greeting(port) {
            Ok(line) if line.starts_with("* OK") && line.contains(greeting) => return Ok(()),
            Ok(line) => last_error = format!("unexpected greeting {line:?}"),
            Err(error) => last_error = error.to_string(),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("no greeting within {START_TIMEOUT:?} (last: {last_error})"))
}

fn read_greeting(port: u16) -> std::io::Result<String> {
    let stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut line = String::new();
    // The first connection may get an "auth process not ready" notice before the greeting.
    let mut reader = BufReader::new(stream);
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        if line.is_empty() || !line.contains("Waiting for authentication") {
            return Ok(line.trim_end().to_string());
        }
    }
}

/// A minimal IMAP4rev1 client: tagged commands, untagged responses with `{n}` literals, and
/// synchronizing literals for APPEND.
struct ImapSession {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next_tag: u32,
}

/// One server response: its text with literals left in place as `{n}`, and the literals.
struct Response {
    text: Vec<u8>,
    literals: Vec<Vec<u8>>,
}

impl ImapSession {
    fn connect(port: u16) -> std::io::Result<ImapSession> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        let mut session = ImapSession { reader: BufReader::new(stream.try_clone()?), writer: stream, next_tag: 1 };
        loop {
            let greeting = session.read_response()?;
            if greeting.text.starts_with(b"* OK") && !greeting.text.windows(7).any(|w| w == b"Waiting") {
                return Ok(session);
            }
            if !greeting.text.starts_with(b"* OK") {
                return Err(std::io::Error::other(format!(
                    "bad greeting {:?}",
                    String::from_utf8_lossy(&greeting.text)
                )));
            }
        }
    }

    fn read_line(&mut self) -> std::io::Result<Vec<u8>> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\n") {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "IMAP connection closed"));
        }
        line.pop();
        if line.ends_with(b"\r") {
            line.pop();
        }
        Ok(line)
    }

    fn read_response(&mut self) -> std::io::Result<Response> {
        let mut response = Response { text: Vec::new(), literals: Vec::new() };
        loop {
            let line = self.read_line()?;
            let literal = literal_size(&line);
            response.text.extend_from_slice(&line);
            let Some(size) = literal else { return Ok(response) };
            let mut literal = vec![0; size];
            self.reader.read_exact(&mut literal)?;
            response.literals.push(literal);
        }
    }

    fn send(&mut self, command: &str) -> std::io::Result<String> {
        let tag = format!("b{}", self.next_tag);
        self.next_tag += 1;
        self.writer.write_all(format!("{tag} {command}\r\n").as_bytes())?;
        Ok(tag)
    }

    /// Reads until the tagged completion: `Ok(untagged responses)` on OK, `Err(text)` on NO/BAD.
    fn finish(&mut self, tag: &str) -> Result<Vec<Response>, String> {
        let prefix = format!("{tag} ");
        let mut untagged = Vec::new();
        loop {
            let response = self.read_response().map_err(|error| error.to_string())?;
            if let Some(rest) = response.text.strip_prefix(prefix.as_bytes()) {
                let rest = String::from_utf8_lossy(rest).into_owned();
                return if rest.starts_with("OK") { Ok(untagged) } else { Err(rest) };
            }
            if !response.text.starts_with(b"+") {
                untagged.push(response);
            }
        }
    }

    fn command(&mut self, command: &str) -> Result<Vec<Response>, String> {
        let tag = self.send(command).map_err(|error| error.to_string())?;
        self.finish(&tag)
    }

    fn append(&mut self, mailbox: &str, raw: &[u8]) -> Result<(), String> {
        let tag = self.send(&format!("APPEND {mailbox} {{{}}}", raw.len())).map_err(|error| error.to_string())?;
        let prefix = format!("{tag} ");
        loop {
            let response = self.read_response().map_err(|error| error.to_string())?;
            if response.text.starts_with(b"+") {
                break;
            }
            if let Some(rest) = response.text.strip_prefix(prefix.as_bytes()) {
                return Err(String::from_utf8_lossy(rest).into_owned());
            }
        }
        self.writer.write_all(raw).and_then(|()| self.writer.write_all(b"\r\n")).map_err(|error| error.to_string())?;
        self.finish(&tag).map(|_| ())
    }

    fn logout(mut self) {
        let _ = self.command("LOGOUT");
    }
}

/// Dovecot answers STATUS on a missing folder without the `[NONEXISTENT]` response code.
fn nonexistent(error: &str) -> bool {
    error.contains("[NONEXISTENT]") || error.contains("Mailbox doesn't exist")
}

/// The size of the literal announced at the end of an IMAP line (`{123}` or `{123+}`).
fn literal_size(line: &[u8]) -> Option<usize> {
    let inner = line.strip_suffix(b"}")?;
    let start = inner.iter().rposition(|&byte| byte == b'{')?;
    let digits = &inner[start + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A throwaway authority (`ca.pem`) and a server certificate for 127.0.0.1 signed by it
/// (`server.pem`, `server.key`): a self-signed server certificate would be refused by rustls as
/// an authority used as a server.
fn make_certificates(root: &Path) {
    let openssl = |arguments: &[&str]| {
        let output = Command::new("openssl").args(arguments).current_dir(root).output().expect("openssl runs");
        assert!(output.status.success(), "openssl {arguments:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        &[
            &["req", "-x509"],
            &ec[..],
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=baton test CA"],
        ]
        .concat(),
    );
    openssl(&[&["req"], &ec[..], &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]].concat());
    std::fs::write(
        root.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
}

/// Creates the folder unless it exists; returns its quoted name.
fn create(session: &mut ImapSession, folder: &str) -> String {
    let mailbox = folder_name(folder);
    if let Err(error) = session.command(&format!("CREATE {mailbox}"))
        && !error.contains("ALREADYEXISTS")
    {
        panic!("IMAP CREATE {mailbox} failed: {error}");
    }
    mailbox
}

/// A folder name as IMAP expects it: in modified UTF-7, quoted.
fn folder_name(folder: &str) -> String {
    quote(&baton::mail::imap_name::encode(folder))
}

/// An IMAP quoted string.
fn quote(text: &str) -> String {
    assert!(!text.contains(['\r', '\n']), "IMAP strings cannot contain line breaks: {text:?}");
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// An SMTP receiver (aiosmtpd) on 127.0.0.1 that writes every message to `<folder>/messages`.
///
/// Each message is returned as received after DATA (dot-unstuffed, CRLF line ends kept), preceded by
/// added envelope headers: one `X-Envelope-From: <sender>` line and one `X-Envelope-To: <recipient>`
/// line per RCPT TO, in order.
pub struct SmtpCapture {
    pub port: u16,
    child: Child,
    folder: tempfile::TempDir,
}

const SMTP_SCRIPT: &str = r#"
import asyncio, os, ssl, sys
from aiosmtpd.smtp import SMTP

folder, mode = sys.argv[1], sys.argv[2]
tls = None
if mode != "plain":
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(os.path.join(folder, "server.pem"), os.path.join(folder, "server.key"))

class Capture:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if os.path.exists(os.path.join(folder, "refuse")):
            return "451 4.3.0 refused for the test, try again later"
        self.count += 1
        head = b"X-Envelope-From: " + (envelope.mail_from or "").encode() + b"\r\n"
        for rcpt in envelope.rcpt_tos:
            head += b"X-Envelope-To: " + rcpt.encode() + b"\r\n"
        path = os.path.join(folder, "messages", "%08d.eml" % self.count)
        with open(path + ".tmp", "wb") as file:
            file.write(head + envelope.original_content)
        os.rename(path + ".tmp", path)
        return "250 OK captured"

async def main():
    handler = Capture()
    loop = asyncio.get_running_loop()
    starttls = tls if mode == "starttls" else None
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="baton-smtp-capture", decode_data=False, enable_SMTPUTF8=True,
                     data_size_limit=64 * 1024 * 1024, tls_context=starttls, require_starttls=starttls is not None),
        "127.0.0.1", 0, ssl=tls if mode == "tls" else None)
    port = server.sockets[0].getsockname()[1]
    with open(os.path.join(folder, "port.tmp"), "w") as file:
        file.write(str(port))
    os.rename(os.path.join(folder, "port.tmp"), os.path.join(folder, "port"))
    await asyncio.Event().wait()

asyncio.run(main())
"#;

impl SmtpCapture {
    /// Starts the receiver (it binds port 0 itself, so no port race) and waits until it listens.
    /// `None` (with a notice) when aiosmtpd is not installed and `CI` is not set.
    pub fn start() -> Option<SmtpCapture> {
        SmtpCapture::start_with("plain")
    }

    /// As `start`, requiring STARTTLS with a certificate for 127.0.0.1 signed by a throwaway
    /// authority, whose PEM file `ca_file` gives.
    pub fn start_with_starttls() -> Option<SmtpCapture> {
        SmtpCapture::start_with("starttls")
    }

    /// As `start_with_starttls`, but TLS from the first byte (SMTPS).
    pub fn start_with_tls() -> Option<SmtpCapture> {
        SmtpCapture::start_with("tls")
    }

    /// The test authority's PEM file (with STARTTLS or TLS).
    pub fn ca_file(&self) -> PathBuf {
        self.folder.path().join("ca.pem")
    }

    /// `mode`: plain, starttls or tls.
    fn start_with(mode: &str) -> Option<SmtpCapture> {
        let Some(python) = aiosmtpd_python() else {
            return missing("no python3 can import aiosmtpd (Debian package python3-aiosmtpd)");
        };
        let folder = instance_folder("smtp");
        let root = folder.path();
        std::fs::create_dir(root.join("messages")).unwrap();
        std::fs::write(root.join("capture.py"), SMTP_SCRIPT).unwrap();
        if mode != "plain" {
            make_certificates(root);
        }
        let owner = run_as_ids();
        if let Some((uid, gid)) = owner {
            chown_recursive(root, uid, gid);
        }
        let log = std::fs::File::create(root.join("smtp.log")).unwrap();
        let mut command = Command::new(python);
        command
            .arg("-u")
            .arg(root.join("capture.py"))
            .arg(root)
            .arg(mode)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let mut child = spawn_server(command, owner).unwrap_or_else(|error| panic!("cannot start aiosmtpd: {error}"));
        let deadline = Instant::now() + START_TIMEOUT;
        let port = loop {
            if let Some(port) = std::fs::read_to_string(root.join("port")).ok().and_then(|port| port.parse().ok()) {
                break port;
            }
            let status = child.try_wait().ok().flatten();
            if status.is_some() || Instant::now() > deadline {
                kill_group(&mut child);
                let reason =
                    status.map_or(format!("not listening within {START_TIMEOUT:?}"), |s| format!("exited with {s}"));
                panic!("the SMTP capture {reason}\n{}", log_tail(&[root.join("smtp.log")]));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Some(SmtpCapture { port, child, folder })
    }

    /// While on, every message is refused with a temporary error (451), as a busy server would.
    pub fn refuse(&self, on: bool) {
        let flag = self.folder.path().join("refuse");
        if on {
            std::fs::write(flag, b"").unwrap();
        } else {
            std::fs::remove_file(flag).unwrap();
        }
    }

    /// Every message received so far, oldest first (see the type documentation for the format).
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.folder.path().join("messages"))
            .unwrap()
            .filter_map(|entry| Some(entry.ok()?.path()))
            .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
            .collect();
        paths.sort();
        paths.iter().map(|path| std::fs::read(path).unwrap()).collect()
    }

    /// Waits up to `timeout` until at least `n` messages arrived and returns all of them; panics
    /// (with the messages so far) on timeout.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if Instant::now() > deadline {
                panic!("expected {n} SMTP messages within {timeout:?}, got {}: {messages:?}", messages.len());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpCapture {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

fn aiosmtpd_python() -> Option<PathBuf> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            // The system python first: a pyenv/venv python3 earlier in PATH lacks Debian's modules.
            let mut candidates = vec![PathBuf::from("/usr/bin/python3")];
            if let Some(path) = std::env::var_os("PATH") {
                candidates.extend(std::env::split_paths(&path).map(|folder| folder.join("python3")));
            }
            candidates.into_iter().filter(|candidate| candidate.is_file()).find(|candidate| {
                Command::new(candidate)
                    .args(["-c", "import aiosmtpd.smtp"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success())
            })
        })
        .clone()
}

fn missing<T>(reason: &str) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("{reason}; it is required when CI is set");
    }
    eprintln!("skipping: {reason}");
    None
}

/// A fresh `baton-<kind>-<pid>-XXXXXX` temporary folder. Folders left by test processes that were
/// killed (where `Drop` never ran) are removed on first use.
fn instance_folder(kind: &str) -> tempfile::TempDir {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(|| {
        for entry in std::fs::read_dir(std::env::temp_dir()).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix("baton-imap-").or_else(|| name.strip_prefix("baton-smtp-")) else {
                continue;
            };
            let Some(pid) = rest.split('-').next().and_then(|pid| pid.parse::<u32>().ok()) else { continue };
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    });
    tempfile::Builder::new()
        .prefix(&format!("baton-{kind}-{}-", std::process::id()))
        .tempdir()
        .unwrap_or_else(|error| panic!("cannot create a temporary folder: {error}"))
}

fn find_binary(name: &str, extra: &[&str]) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|folder| folder.join(name)).collect())
        .unwrap_or_default();
    candidates.extend(extra.iter().map(PathBuf::from));
    candidates.into_iter().find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap_or_else(|error| panic!("no free port: {error}"))
        .port()
}

/// The user the servers run as: as root `dovecot` (created by dovecot-core) or `nobody`;
/// otherwise the current user. Returns (name, uid, gid).
fn run_as() -> (String, u32, u32) {
    // SAFETY: geteuid and getegid have no preconditions.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if euid == 0 {
        ["dovecot", "nobody"]
            .iter()
            .find_map(|name| lookup_user(name).map(|(uid, gid)| (name.to_string(), uid, gid)))
            .expect("running as root, but neither a dovecot nor a nobody user exists")
    } else {
        let name = user_name(euid).unwrap_or_else(|| panic!("uid {euid} has no user name, which dovecot needs"));
        (name, euid, egid)
    }
}

/// Some((uid, gid)) to switch to when running as root, None otherwise.
fn run_as_ids() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let (_, uid, gid) = run_as();
    Some((uid, gid))
}

fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let name = CString::new(name).ok()?;
    let mut buffer = vec![0 as libc::c_char; 16384];
    // SAFETY: passwd is plain old data; getpwnam_r writes into it and into `buffer` only.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the given sizes.
    let code = unsafe { libc::getpwnam_r(name.as_ptr(), &mut entry, buffer.as_mut_ptr(), buffer.len(), &mut result) };
    (code == 0 && !result.is_null()).then_some((entry.pw_uid, entry.pw_gid))
}

fn user_name(uid: u32) -> Option<String> {
    let mut buffer = vec![0 as libc::c_char; 16384];
    // SAFETY: passwd is plain old data; getpwuid_r writes into it and into `buffer` only.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the given sizes.
    let code = unsafe { libc::getpwuid_r(uid, &mut entry, buffer.as_mut_ptr(), buffer.len(), &mut result) };
    if code != 0 || result.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points to a NUL-terminated string inside `buffer`.
    Some(unsafe { CStr::from_ptr(entry.pw_name) }.to_string_lossy().into_owned())
}

fn group_name(gid: u32) -> Option<String> {
    let mut buffer = vec![0 as libc::c_char; 16384];
    // SAFETY: group is plain old data; getgrgid_r writes into it and into `buffer` only.
    let mut entry: libc::group = unsafe { std::mem::zeroed() };
    let mut result = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the given sizes.
    let code = unsafe { libc::getgrgid_r(gid, &mut entry, buffer.as_mut_ptr(), buffer.len(), &mut result) };
    if code != 0 || result.is_null() {
        return None;
    }
    // SAFETY: on success gr_name points to a NUL-terminated string inside `buffer`.
    Some(unsafe { CStr::from_ptr(entry.gr_name) }.to_string_lossy().into_owned())
}

fn chown_recursive(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .unwrap_or_else(|error| panic!("chown {}: {error}", path.display()));
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_recursive(&entry.unwrap().path(), uid, gid);
        }
    }
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Spawns `command` in a new process group, as `owner` if given, with `PR_SET_PDEATHSIG`. The
/// parent-death signal fires when the spawning *thread* ends, so all servers are spawned by one
/// thread that lives as long as the test process (test threads and blocking-pool threads do not).
fn spawn_server(mut command: Command, owner: Option<(u32, u32)>) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    // SAFETY: only async-signal-safe calls (setgroups, setgid, setuid, prctl, getppid) between fork
    // and exec.
    unsafe {
        command.process_group(0).pre_exec(move || {
            if let Some((uid, gid)) = owner
                && (libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            // After the credential change, which would reset it.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() == 1 {
                return Err(std::io::Error::other("the test process is gone"));
            }
            Ok(())
        });
    }
    let spawner = SPAWNER.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("mail-server-spawner".into())
            .spawn(move || {
                for (mut command, reply) in receiver {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("cannot start the mail server spawner thread");
        sender
    });
    let (reply, result) = mpsc::channel();
    spawner.send((command, reply)).expect("the mail server spawner thread is gone");
    result.recv().expect("the mail server spawner thread is gone")
}

/// Kills the whole process group of `child` (Dovecot forks many processes) and reaps the leader.
fn kill_group(child: &mut Child) {
    if let Ok(pgid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill has no memory-safety preconditions; the group was created for this child.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn log_tail(paths: &[PathBuf]) -> String {
    let mut tail = String::new();
    for path in paths {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        tail += &format!("--- {} (last 30 lines)\n", path.display());
        for line in &lines[lines.len().saturating_sub(30)..] {
            tail += line;
            tail += "\n";
        }
    }
    tail
}
