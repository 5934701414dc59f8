//! A cluster across hosts, on one machine: each node runs in a network namespace of its own
//! (a veth into a bridge), with the data directory mounted over sshfs (FUSE) from an sshd
//! listening on the bridge. So every node has its own file-system client with its own caches,
//! and no file lock crosses between nodes — as with NFS between hosts. PostgreSQL (the run's
//! server, which listens on loopback) is reached from the namespaces through a TCP forwarder
//! on the bridge address.
//!
//! Needs root, `ip`, `nsenter`, `sshd`, `ssh-keygen`, `sshfs`, `fusermount3` and `/dev/fuse`
//! (`scripts/test` installs them); with `CI` set a missing piece fails the test.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

use super::app::Api;
use super::postgres::PostgresServer;
use super::wait::{FileText, done_when, wait_until};

pub const HEARTBEAT: Duration = Duration::from_millis(250);
pub const NODE_TIMEOUT: Duration = Duration::from_secs(2);
pub const ADMIN_PASSWORD: &str = "shared-storage-admin-password";
const BATON: &str = env!("CARGO_BIN_EXE_baton");
const NODE_PORT: u16 = 8080;
const TOOLS: &[&str] = &["ip", "nsenter", "sshd", "ssh-keygen", "sshfs", "fusermount3"];

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

struct Host {
    namespace: String,
    address: String,
    mount: PathBuf,
    node: Option<NodeProcess>,
}

struct NodeProcess {
    child: Child,
    paused: bool,
}

pub struct Lab {
    folder: PathBuf,
    tag: String,
    bridge: String,
    bridge_address: String,
    ssh_port: u16,
    sshd: Child,
    forwarder: tokio::task::JoinHandle<()>,
    /// The database, as the test process reaches it.
    pub database_url: String,
    /// The database, as the nodes reach it (through the forwarder on the bridge).
    node_database_url: String,
    hosts: BTreeMap<String, Host>,
    client: reqwest::Client,
}

fn run(program: &str, args: &[&str]) {
    let output =
        Command::new(program).args(args).output().unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    assert!(output.status.success(), "{program} {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
}

/// Where `program` is installed (sshd wants to be started by its absolute path).
fn installed(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|folder| folder.join(program))
        .find(|file| file.is_file())
}

/// Why namespaces with sshfs cannot be had here, if they cannot.
fn missing() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("network namespaces need root".into());
    }
    let absent: Vec<&str> = TOOLS.iter().copied().filter(|tool| installed(tool).is_none()).collect();
    if !absent.is_empty() {
        return Some(format!("missing {} (packages iproute2, util-linux, openssh-server, sshfs)", absent.join(", ")));
    }
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse is missing".into());
    }
    None
}

/// A /24 under 10.0.0.0/8 that no interface or route on this machine uses.
fn free_subnet() -> String {
    let used = String::from_utf8_lossy(&Command::new("ip").args(["-4", "route"]).output().unwrap().stdout).to_string()
        + String::from_utf8_lossy(&Command::new("ip").args(["-4", "-o", "addr"]).output().unwrap().stdout).as_ref();
    loop {
        let candidate = format!("10.{}.{}", rand::random_range(100..200u16), rand::random_range(1..255u16));
        if !used.contains(&format!("{candidate}.")) {
            return candidate;
        }
    }
}

/// Children die with the thread that started them (a tokio worker, which lives as long as
/// the test), so a test run that crashes leaves no sshd or node behind.
fn dies_with_test(command: &mut Command) -> &mut Command {
    // SAFETY: prctl is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        })
    }
}

/// What a lab created, one line each, so that a later run can remove it if this one died.
fn note(folder: &Path, line: &str) {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(folder.join("created")).unwrap();
    writeln!(file, "{line}").unwrap();
}

fn remove_created(folder: &Path) {
    let created = std::fs::read_to_string(folder.join("created")).unwrap_or_default();
    for line in created.lines().rev() {
        let _ = match line.split_once(' ') {
            Some(("mount", path)) => Command::new("fusermount3").args(["-u", "-z", path]).output(),
            Some(("netns", name)) => Command::new("ip").args(["netns", "del", name]).output(),
            Some(("link", name)) => Command::new("ip").args(["link", "del", name]).output(),
            _ => continue,
        };
    }
}

/// Labs of test runs that ended without cleaning up (their process is gone).
fn remove_labs_of_finished_runs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("baton-lab-").and_then(|rest| rest.split('-').next()) else { continue };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            remove_created(&entry.path());
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Lab {
    /// A bridge, an sshd exporting an empty data directory, and a database; `None` (with a
    /// notice) when this machine cannot have them and `CI` is not set.
    pub async fn open() -> Option<Lab> {
        if let Some(reason) = missing() {
            if std::env::var_os("CI").is_some() {
                panic!("nodes on a network file system are required when CI is set: {reason}");
            }
            eprintln!("skipping a shared-storage test: {reason}");
            return None;
        }
        let postgres = PostgresServer::get()?;
        remove_labs_of_finished_runs();
        let number = NEXT_LAB.fetch_add(1, Ordering::SeqCst);
        let folder = std::env::temp_dir().join(format!("baton-lab-{}-{number}", std::process::id()));
        std::fs::create_dir_all(folder.join("shared/data")).unwrap();
        let tag = format!("{:x}{number:x}", std::process::id() % 0xfff);
        let bridge = format!("bl{tag}");
        let subnet = free_subnet();
        let bridge_address = format!("{subnet}.1");
        note(&folder, &format!("link {bridge}"));
        // A bridge takes the lowest address of its ports unless given one: each host joining
        // would then change the address the hosts before it resolved for the bridge, and their
        // frames to the old one would be dropped until their ARP entries expire (a node cut off
        // from the database and the file server for half a minute, at random).
        let bridge_mac = format!(
            "02:ba:70:{:02x}:{:02x}:{:02x}",
            number & 0xff,
            (std::process::id() >> 8) & 0xff,
            std::process::id() & 0xff
        );
        run("ip", &["link", "add", &bridge, "address", &bridge_mac, "type", "bridge"]);
        run("ip", &["addr", "add", &format!("{bridge_address}/24"), "dev", &bridge]);
        run("ip", &["link", "set", &bridge, "up"]);

        for key in ["host_key", "client_key"] {
            run("ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-f", &folder.join(key).to_string_lossy()]);
        }
        std::fs::copy(folder.join("client_key.pub"), folder.join("authorized_keys")).unwrap();
        let ssh_port = std::net::TcpListener::bind(format!("{bridge_address}:0")).unwrap().local_addr().unwrap().port();
        std::fs::write(
            folder.join("sshd_config"),
            format!(
                "ListenAddress {bridge_address}:{ssh_port}\nHostKey {}\nAuthorizedKeysFile {}\nPermitRootLogin yes\n\
                 StrictModes no\nUsePAM no\nPasswordAuthentication no\nSubsystem sftp internal-sftp\nPidFile none\n",
                folder.join("host_key").display(),
                folder.join("authorized_keys").display()
            ),
        )
        .unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let sshd = dies_with_test(
            Command::new(installed("sshd").unwrap())
                .args(["-D", "-e", "-f", &folder.join("sshd_config").to_string_lossy()])
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(folder.join("sshd.log")).unwrap()),
        )
        .spawn()
        .unwrap();
        wait_until("sshd starting", Duration::from_secs(10), async || {
            let listening = TcpStream::connect((bridge_address.as_str(), ssh_port)).await.is_ok();
            done_when(listening, FileText(folder.join("sshd.log")))
        })
        .await;

        let database_url = postgres.fresh_database();
        let target = database_url.split('@').nth(1).and_then(|rest| rest.split('/').next()).unwrap().to_string();
        let listener = TcpListener::bind((bridge_address.as_str(), 0)).await.unwrap();
        let forward_port = listener.local_addr().unwrap().port();
        let forwarder = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        let host_port = database_url.split('@').nth(1).and_then(|rest| rest.split('/').next()).unwrap();
        let node_database_url = database_url.replacen(host_port, &format!("{bridge_address}:{forward_port}"), 1);
        Some(Lab {
            folder,
            tag,
            bridge,
            bridge_address,
            ssh_port,
            sshd,
            forwarder,
            database_url,
            node_database_url,
            hosts: BTreeMap::new(),
            client: reqwest::Client::new(),
        })
    }

    /// The data directory as the file server holds it.
    pub fn data_dir(&self) -> PathBuf {
        self.folder.join("shared/data")
    }

    /// A host: a namespace on the bridge with the data directory mounted over sshfs.
    pub fn add_host(&mut self, name: &str) {
        let number = self.hosts.len() + 1;
        let namespace = format!("bl{}-{name}", self.tag);
        let veth = format!("bv{}h{number}", self.tag);
        let address = format!("{}.{}", self.bridge_address.trim_end_matches(".1"), 10 + number);
        note(&self.folder, &format!("netns {namespace}"));
        run("ip", &["netns", "add", &namespace]);
        run("ip", &["link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &namespace]);
        run("ip", &["link", "set", &veth, "master", &self.bridge, "up"]);
        run("ip", &["-n", &namespace, "addr", "add", &format!("{address}/24"), "dev", "eth0"]);
        run("ip", &["-n", &namespace, "link", "set", "eth0", "up"]);
        run("ip", &["-n", &namespace, "link", "set", "lo", "up"]);
        let mount = self.folder.join(format!("mnt-{name}"));
        std::fs::create_dir_all(&mount).unwrap();
        note(&self.folder, &format!("mount {}", mount.display()));
        let options = format!(
            "IdentityFile={},StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,port={},ServerAliveInterval=2",
            self.folder.join("client_key").display(),
            self.ssh_port
        );
        run(
            "nsenter",
            &[
                &format!("--net=/run/netns/{namespace}"),
                "sshfs",
                "-o",
                &options,
                &format!("root@{}:{}", self.bridge_address, self.folder.join("shared").display()),
                &mount.to_string_lossy(),
            ],
        );
        self.hosts.insert(name.to_string(), Host { namespace, address, mount, node: None });
    }

    /// Starts `baton serve` on the host `name` (added first if needed), with extra settings
    /// as environment variables, and waits until it answers.
    pub async fn start(&mut self, name: &str, settings: &[(&str, &str)]) {
        if !self.hosts.contains_key(name) {
            self.add_host(name);
        }
        let host = &self.hosts[name];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.folder.join(format!("{name}.log")))
            .unwrap();
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net=/run/netns/{}", host.namespace))
            .arg(BATON)
            .args(["serve", "--listen", &format!("{}:{NODE_PORT}", host.address), "--node-name", name])
            .env("BATON_DATABASE_URL", &self.node_database_url)
            .env("BATON_DATA_DIR", host.mount.join("data"))
            .env("BATON_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("BATON_LOG", "warn")
            .env("BATON_CLUSTER__HEARTBEAT_INTERVAL", format!("{}ms", HEARTBEAT.as_millis()))
            .env("BATON_CLUSTER__NODE_TIMEOUT", format!("{}ms", NODE_TIMEOUT.as_millis()))
            .env("BATON_CLUSTER__PROBE_DUTY", "true")
            .envs(settings.iter().copied())
            .current_dir(&self.folder)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = dies_with_test(&mut command).spawn().unwrap();
        self.hosts.get_mut(name).unwrap().node = Some(NodeProcess { child, paused: false });
        wait_until(&format!("node {name} starting"), Duration::from_secs(30), async || {
            done_when(self.ping(name).await.is_some(), self.log_on_failure(name))
        })
        .await;
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.folder.join(format!("{name}.log"))).unwrap_or_default()
    }

    /// A node's log as part of what `wait_until` observed: read only when a test fails.
    pub fn log_on_failure(&self, name: &str) -> FileText {
        FileText(self.folder.join(format!("{name}.log")))
    }

    pub fn address(&self, name: &str) -> String {
        format!("http://{}:{NODE_PORT}", self.hosts[name].address)
    }

    /// The nodes running now (paused ones included).
    pub fn running(&self) -> Vec<String> {
        self.hosts.iter().filter(|(_, host)| host.node.is_some()).map(|(name, _)| name.clone()).collect()
    }

    pub fn is_paused(&self, name: &str) -> bool {
        self.hosts[name].node.as_ref().is_some_and(|node| node.paused)
    }

    /// The node's ping body (200 or 503), or None when it does not answer.
    pub async fn ping(&self, name: &str) -> Option<Value> {
        let response = self
            .client
            .get(format!("{}/api/v1/system/ping", self.address(name)))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }

    /// Waits until exactly one running, unpaused node acts as master; returns it.
    pub async fn wait_for_master(&self, within: Duration) -> String {
        let started = Instant::now();
        loop {
            let mut masters = Vec::new();
            for name in self.running() {
                if !self.is_paused(&name)
                    && let Some(ping) = self.ping(&name).await
                    && ping["master"] == Value::Bool(true)
                {
                    masters.push(name);
                }
            }
            if let [master] = masters.as_slice() {
                return master.clone();
            }
            assert!(started.elapsed() < within, "no single master within {within:?}: {masters:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn admin(&self, name: &str) -> Api {
        Api::sign_in_with_token(&self.address(name), "admin", ADMIN_PASSWORD).await
    }

    pub fn kill(&mut self, name: &str) {
        if let Some(mut node) = self.hosts.get_mut(name).and_then(|host| host.node.take()) {
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
    }

    fn signal(&mut self, name: &str, signal: i32, paused: bool) {
        let node = self.hosts.get_mut(name).and_then(|host| host.node.as_mut()).expect("a running node");
        // SAFETY: kill(2) on our own child's pid (nsenter execs baton in place).
        unsafe { libc::kill(node.child.id() as i32, signal) };
        node.paused = paused;
    }

    pub fn pause(&mut self, name: &str) {
        self.signal(name, libc::SIGSTOP, true);
    }

    pub fn resume(&mut self, name: &str) {
        self.signal(name, libc::SIGCONT, false);
    }

    pub fn connection(&self) -> baton::db::PooledConnection {
        let settings =
            baton::config::Settings { database_url: self.database_url.clone(), pool_size: 1, ..Default::default() };
        baton::db::Database::connect(&settings).unwrap().get().unwrap()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let names: Vec<String> = self.hosts.keys().cloned().collect();
        for name in &names {
            self.kill(name);
        }
        remove_created(&self.folder);
        let _ = self.sshd.kill();
        let _ = self.sshd.wait();
        self.forwarder.abort();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.folder);
        } else {
            eprintln!("the shared-storage lab's logs are kept in {}", self.folder.display());
        }
    }
}
