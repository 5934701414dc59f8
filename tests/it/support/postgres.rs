//! A temporary PostgreSQL cluster for the whole test run (or the server named by
//! `BATON_TEST_PG_URL`), and a fresh database per test. With `CI` set, a missing
//! PostgreSQL fails the test instead of skipping it.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

/// Base URL of the server, without a database name: `postgres://user@host:port`.
pub struct PostgresServer {
    base_url: String,
}

static SERVER: OnceLock<Result<PostgresServer, String>> = OnceLock::new();
static NEXT_DATABASE: AtomicU32 = AtomicU32::new(0);

impl PostgresServer {
    /// The shared server, started on first use. `None` (with a notice) when PostgreSQL
    /// is not installed and `CI` is not set.
    pub fn get() -> Option<&'static PostgresServer> {
        match SERVER.get_or_init(start) {
            Ok(server) => Some(server),
            Err(reason) if std::env::var_os("CI").is_some() => {
                panic!("PostgreSQL is required when CI is set: {reason}")
            }
            Err(reason) => {
                eprintln!("skipping a PostgreSQL test: {reason}");
                None
            }
        }
    }

    /// Creates an empty database and returns its URL.
    pub fn fresh_database(&self) -> String {
        let name = format!("baton_test_{}_{}", std::process::id(), NEXT_DATABASE.fetch_add(1, Ordering::SeqCst));
        let mut admin = PgConnection::establish(&format!("{}/postgres", self.base_url))
            .unwrap_or_else(|error| panic!("cannot connect to the test PostgreSQL: {error}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|error| panic!("cannot create test database {name}: {error}"));
        format!("{}/{name}", self.base_url)
    }
}

fn start() -> Result<PostgresServer, String> {
    if let Ok(url) = std::env::var("BATON_TEST_PG_URL") {
        let base_url = url.trim_end_matches('/').rsplit_once('/').map(|(base, _)| base.to_string()).unwrap_or(url);
        return Ok(PostgresServer { base_url });
    }
    let initdb = find_binary("initdb").ok_or("initdb is not installed (package postgresql)")?;
    let postgres = find_binary("postgres").ok_or("postgres is not installed (package postgresql)")?;
    remove_servers_of_finished_runs();
    let folder = std::env::temp_dir().join(format!("baton-test-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    let data = folder.join("data");
    std::fs::create_dir_all(&data).map_err(|error| format!("cannot create {}: {error}", data.display()))?;
    let owner = unprivileged_owner();
    if let Some((uid, gid)) = owner {
        chown_recursive(&folder, uid, gid)?;
    }
    let output = as_owner(Command::new(&initdb), owner)
        .args(["-D", &data.to_string_lossy(), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
        .stdout(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run initdb: {error}"))?;
    if !output.status.success() {
        return Err(format!("initdb failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|error| format!("no free port: {error}"))?
        .port();
    let log = std::fs::File::create(folder.join("postgres.log")).map_err(|error| error.to_string())?;
    let mut command = as_owner(Command::new(&postgres), owner);
    command
        .args(["-D", &data.to_string_lossy(), "-p", &port.to_string(), "-k", &folder.to_string_lossy()])
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off", "-c", "max_connections=500", "-c", "shared_buffers=64MB"])
        .stdout(Stdio::null())
        .stderr(log);
    // Started from a thread that lives as long as the process, so that the parent-death
    // signal stops the server exactly when the test run ends.
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let spawned = command.spawn().map_err(|error| format!("cannot start postgres: {error}"));
        let _ = sender.send(spawned.map(|_| ()));
        loop {
            std::thread::park();
        }
    });
    receiver.recv().map_err(|error| error.to_string())??;
    let base_url = format!("postgres://postgres@127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match PgConnection::establish(&format!("{base_url}/postgres")) {
            Ok(_) => return Ok(PostgresServer { base_url }),
            Err(error) if Instant::now() > deadline => {
                return Err(format!("postgres did not accept connections within 30 s: {error}"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// The server of a run dies with it (parent-death signal), but its folder stays: remove the
/// folders of runs whose process is gone.
fn remove_servers_of_finished_runs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("baton-test-pg-").and_then(|pid| pid.parse::<u32>().ok()) else { continue };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn find_binary(name: &str) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|folder| folder.join(name)).collect())
        .unwrap_or_default();
    for version in ["17", "16", "15", "14", "13"] {
        candidates.push(PathBuf::from(format!("/usr/lib/postgresql/{version}/bin/{name}")));
    }
    candidates.into_iter().find(|candidate| candidate.is_file())
}

/// PostgreSQL refuses to run as root: as root, run it as the `postgres` (or `nobody`) user.
fn unprivileged_owner() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    ["postgres", "nobody"].iter().find_map(|wanted| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() > 3 && fields[0] == *wanted)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
    })
}

fn chown_recursive(path: &std::path::Path, uid: u32, gid: u32) -> Result<(), String> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .map_err(|error| format!("chown {}: {error}", path.display()))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path).map_err(|error| error.to_string())? {
            chown_recursive(&entry.map_err(|error| error.to_string())?.path(), uid, gid)?;
        }
    }
    Ok(())
}

fn as_owner(mut command: Command, owner: Option<(u32, u32)>) -> Command {
    // SAFETY: only async-signal-safe calls (setgid, setuid, prctl) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if let Some((uid, gid)) = owner
                && (libc::setgid(gid) != 0 || libc::setuid(uid) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            // After the credential change, which would reset it.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    command
}
