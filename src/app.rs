//! Assembles a running node from settings: database (migrated), files, first admin,
//! HTTP server. `Application::build` binds the port, so tests can ask for port 0.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};

use crate::cluster::Cluster;
use crate::cluster::duty::MasterDuty;
use crate::cluster::probe::ProbeDuty;
use crate::config::Settings;
use crate::db::Database;
use crate::error::{Error, Result};
use crate::jobs::scheduler::JobsDuty;
use crate::mail::outbound::SenderDuty;
use crate::mail::poller::MailDuty;
use crate::model::attachment::FileStore;
use crate::model::user;
use crate::search::collect::ReaderRules;
use crate::search::generation::IndexLocation;
use crate::search::indexer::{IndexerDuty, MergeRequests};
use crate::search::reader::SearchIndex;
use crate::web::observe::observe;
use crate::web::routes::method_not_allowed;
use crate::web::{AppState, NetworkAccess, routes};

/// The environment variable that, on a database without users, sets the password of the
/// first `admin` account.
pub const ADMIN_PASSWORD_VARIABLE: &str = "BATON_ADMIN_PASSWORD";

pub struct Application {
    port: u16,
    server: Server,
    cluster: Cluster,
    duties: Duties,
}

/// A node's master duties, for running their rounds by hand with the context of the
/// running master (`Cluster::duty_context`): tests step them instead of waiting for their
/// loops.
#[derive(Clone)]
pub struct Duties {
    pub cluster: Cluster,
    pub indexer: Arc<IndexerDuty>,
    pub jobs: Arc<JobsDuty>,
    /// None without configured mailboxes.
    pub mail: Option<Arc<MailDuty>>,
    pub sender: Arc<SenderDuty>,
}

/// Opens and migrates the database and prepares the data directory.
pub fn open_database(settings: &Settings) -> Result<Database> {
    let database = Database::connect(settings)?;
    let applied = database.migrate()?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "database schema migrated");
    }
    Ok(database)
}

/// On a database without users, creates `admin` (password given, or random and printed once).
pub fn create_first_admin_if_needed(database: &Database, initial_admin_password: Option<String>) -> Result<()> {
    let initial_password = initial_admin_password.filter(|value| !value.is_empty());
    let password_was_given = initial_password.is_some();
    if let Some(password) = user::ensure_first_admin(&mut **database.get()?, initial_password)? {
        announce_first_admin(&password, password_was_given);
    }
    Ok(())
}

/// Prints the first admin's credentials once. Written in one piece, and a closed terminal
/// must not stop the node, so a failed write is only logged.
fn announce_first_admin(password: &str, password_was_given: bool) {
    use std::io::Write;
    let text = if password_was_given {
        format!("Created the first account: login \"admin\", password from {ADMIN_PASSWORD_VARIABLE}.\n")
    } else {
        format!(
            "==============================================================\n \
             Created the first account. Sign in with:\n   \
             login:    admin\n   \
             password: {password}\n \
             This password is shown only once: change it after signing in.\n\
             ==============================================================\n"
        )
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        tracing::warn!(%error, "could not print the first admin's password; set it with `baton user passwd admin`");
    }
}

/// Starts the node's search reader on a connection of its own (a slow request load never
/// delays it), once the node is registered: the reader records its open commits in its row.
async fn follow_search(settings: &Settings, search: &Arc<SearchIndex>, cluster: &Cluster) -> Result<()> {
    let mut reader_settings = settings.clone();
    reader_settings.pool_size = 1;
    let (search, node, instance) = (search.clone(), cluster.node_name().to_string(), cluster.instance().to_string());
    tokio::task::spawn_blocking(move || search.follow(Database::connect(&reader_settings)?, node, instance))
        .await
        .map_err(|error| Error::internal("starting the search reader", error))?
}

impl Application {
    /// `initial_admin_password` is used only when the database has no users yet; without
    /// it a random password is generated and printed.
    pub async fn build(settings: Settings, initial_admin_password: Option<String>) -> Result<Application> {
        let settings = Arc::new(settings);
        crate::telemetry::metrics();
        let files = FileStore::new(settings.attachments_dir());
        files.ensure_folders()?;
        let setup_settings = settings.clone();
        let database = tokio::task::spawn_blocking(move || open_database(&setup_settings))
            .await
            .map_err(|error| Error::internal("opening the database", error))??;

        let setup_database = database.clone();
        tokio::task::spawn_blocking(move || create_first_admin_if_needed(&setup_database, initial_admin_password))
            .await
            .map_err(|error| Error::internal("creating the first admin", error))??;

        let listener = TcpListener::bind(settings.listen).map_err(|error| {
            Error::Unavailable(format!(
                "cannot listen on {} ({error}): choose another address with --listen or the listen setting",
                settings.listen
            ))
        })?;
        let address = listener.local_addr().map_err(|error| Error::internal("reading the bound address", error))?;
        let port = address.port();
        // With `listen` on port 0 the real port is known only now; the node's default name
        // and URL use it.
        let settings = Arc::new(Settings { listen: address, ..(*settings).clone() });
        let index_location = IndexLocation::new(settings.index_dir());
        let merges = MergeRequests::default();
        let indexer = Arc::new(IndexerDuty::new(
            index_location.clone(),
            files.clone(),
            merges.clone(),
            ReaderRules::from_settings(&settings),
            settings.search.pause_before_commit,
        ));
        let jobs = Arc::new(JobsDuty::new(settings.jobs.clone(), merges, files.clone()));
        let mail = MailDuty::from_settings(&settings, files.clone())?.map(Arc::new);
        let sender = Arc::new(SenderDuty::from_settings(settings.clone())?);
        let mut duties: Vec<Arc<dyn MasterDuty>> = vec![indexer.clone(), jobs.clone()];
        if settings.cluster.probe_duty {
            duties.push(Arc::new(ProbeDuty {
                interval: settings.cluster.heartbeat_interval,
                hold: settings.cluster.probe_hold,
            }));
        }
        if let Some(mail) = &mail {
            duties.push(mail.clone());
        }
        duties.push(sender.clone());
        let cluster = Cluster::start(&settings, duties).await?;
        let duties = Duties { cluster: cluster.clone(), indexer, jobs, mail, sender };
        let search = Arc::new(SearchIndex::new(index_location));
        follow_search(&settings, &search, &cluster).await?;
        let state = AppState {
            database,
            node_name: settings.node_name(),
            settings: settings.clone(),
            files,
            cluster: cluster.clone(),
            search,
            access: Arc::new(
                NetworkAccess::from_settings(&settings).map_err(|error| Error::Unavailable(error.to_string()))?,
            ),
        };
        // Each HTTP worker (one per core) has a pool of blocking threads for its database
        // work, which the connection pools bound to `pool_size` reads and one write at a time
        // over all workers: the workers share that many threads. More would only each keep an
        // allocator heap of their own while they wait for a connection.
        let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let blocking_threads = (settings.pool_size as usize + 1).div_ceil(workers);
        let server = HttpServer::new(move || {
            App::new()
                .wrap(ErrorHandlers::new().handler(StatusCode::METHOD_NOT_ALLOWED, method_not_allowed))
                .wrap(from_fn(observe))
                .app_data(web::Data::new(state.clone()))
                .configure(routes::configure)
        })
        .workers(workers)
        .worker_max_blocking_threads(blocking_threads)
        .listen(listener)
        .map_err(|error| Error::internal("starting the HTTP server", error))?
        .shutdown_timeout(10)
        .run();
        tracing::info!(address = %settings.listen, port, node = %settings.node_name(), "baton is serving");
        Ok(Application { port, server, cluster, duties })
    }

    /// Stops the server from another task or thread.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn duties(&self) -> Duties {
        self.duties.clone()
    }

    /// Serves until the server is stopped (SIGTERM, SIGINT or its handle), then leaves the
    /// cluster cleanly: duties stopped, lease released, node row removed.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.cluster.shutdown().await;
        served
    }
}
