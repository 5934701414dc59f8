//! The `baton` command line: `serve`, `migrate`, `user`, `cluster`, `jobs`, `mail`, `reindex`,
//! `demo-data`.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::app::{ADMIN_PASSWORD_VARIABLE, Application, create_first_admin_if_needed, open_database};
use crate::cluster::{self, Timing, status};
use crate::config::node::NodeSettings;
use crate::config::{Overrides, Settings};
use crate::demo;
use crate::jobs;
use crate::mail::failures;
use crate::mail::inbound::Outcome;
use crate::mail::printable::printable;
use crate::model::attachment::FileStore;
use crate::model::user::{self, NewUser, UserUpdate};
use crate::search::rebuild::{self, Rebuild};
use crate::status::SystemStatus;

mod status_text;

#[derive(Debug, Parser)]
#[command(name = "baton", version, about = "Baton: a clustered issue tracker")]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// Settings file (TOML). Default: ./baton.toml if it exists.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER:PASSWORD@HOST/DB (setting database_url).
    #[arg(long, global = true, value_name = "URL")]
    database: Option<String>,
    /// Shared data directory for attachments and the search index (setting data_dir).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a node: migrate the database, create the first admin if needed, serve HTTP.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 (setting listen).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<SocketAddr>,
        /// This node's unique name in the cluster (setting node.name).
        #[arg(long, value_name = "NAME")]
        node_name: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// See and steer the cluster; needs only the database, no running node.
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Scheduled jobs (run by the master): list them, or run one now.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Inbound mail that could not be stored.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// Rebuild the search index from the database. The master builds a new index while
    /// search answers from the old one, then every node switches to it; this shows the
    /// progress. Needs a running node to be master.
    Reindex {
        /// Return once the request is recorded instead of waiting for the rebuild.
        #[arg(long)]
        no_wait: bool,
    },
    /// Fill the database with realistic random projects, users, items and comments.
    DemoData {
        /// How many items to create.
        #[arg(long, value_name = "N")]
        items: u32,
        /// Seed for a reproducible data set.
        #[arg(long, value_name = "S")]
        seed: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Every node with role, status colour and heartbeat age; the lease; recent events.
    Status,
    /// Hand the master role to NODE; returns when NODE holds the lease.
    Handover {
        #[arg(long, value_name = "NODE")]
        to: String,
    },
    /// Put NODE into maintenance (never elected, hands over if master, ping answers 503).
    Maintenance {
        node: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// Every job with its schedule, last run (node, epoch, duration, outcome) and next run.
    List,
    /// Ask the master to run NAME now, and wait for the outcome.
    Run {
        name: String,
        /// Return once the request is recorded instead of waiting for the run.
        #[arg(long)]
        no_wait: bool,
    },
}

#[derive(Debug, Subcommand)]
enum MailCommand {
    /// Refused mail with the reason, newest first.
    Failures,
    /// Process a refused mail again (after fixing the cause, e.g. giving the sender an account).
    Reprocess { id: i64 },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account. The password is read from standard input when it is not a
    /// terminal; otherwise a random one is generated and printed.
    Create {
        login: String,
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
    },
    /// Set a new password (read from standard input, or generated and printed).
    Passwd { login: String },
    /// List accounts.
    List,
}

fn read_or_generate_password() -> Result<(String, bool), String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok((user::random_password(), true));
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|error| format!("cannot read the password from standard input: {error}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err(
            "standard input gave an empty password: pipe the password in, or run in a terminal to generate one".into(),
        );
    }
    Ok((password, false))
}

pub fn run(cli: Cli) -> Result<(), String> {
    let (listen, node_name) = match &cli.command {
        Command::Serve { listen, node_name } => (*listen, node_name.clone()),
        _ => (None, None),
    };
    let overrides = Overrides {
        listen,
        database_url: cli.global.database.clone(),
        data_dir: cli.global.data_dir.clone(),
        node: node_name.map(|name| NodeSettings { name: Some(name), url: None }),
    };
    let settings = Settings::load(cli.global.config.as_deref(), &overrides).map_err(|error| error.to_string())?;
    crate::telemetry::init(&settings.log);

    match cli.command {
        Command::Serve { .. } => serve(settings),
        Command::Migrate => {
            let database = crate::db::Database::connect(&settings).map_err(|error| error.to_string())?;
            let applied = database.migrate().map_err(|error| error.to_string())?;
            if applied.is_empty() {
                println!("the database schema is up to date");
            } else {
                println!("applied migrations: {}", applied.join(", "));
            }
            Ok(())
        }
        Command::User { command } => run_user_command(&settings, command),
        Command::Cluster { command } => run_cluster_command(&settings, command),
        Command::Reindex { no_wait } => reindex(&settings, no_wait),
        Command::Mail { command } => run_mail_command(&settings, command),
        Command::Jobs { command } => run_jobs_command(&settings, command),
        Command::DemoData { items, seed } => {
            let database = open_database(&settings).map_err(|error| error.to_string())?;
            // The first account must be the administrator, also when demo users come first.
            create_first_admin_if_needed(&database, std::env::var(ADMIN_PASSWORD_VARIABLE).ok())
                .map_err(|error| error.to_string())?;
            let summary = demo::generate(&database, items, seed).map_err(|error| error.to_string())?;
            println!("{summary}");
            Ok(())
        }
    }
}

fn serve(settings: Settings) -> Result<(), String> {
    let runtime = actix_web::rt::System::new();
    runtime.block_on(async move {
        let initial_admin_password = std::env::var(ADMIN_PASSWORD_VARIABLE).ok();
        let application =
            Application::build(settings, initial_admin_password).await.map_err(|error| error.to_string())?;
        application.run_until_stopped().await.map_err(|error| format!("the HTTP server stopped: {error}"))
    })
}

fn run_cluster_command(settings: &Settings, command: ClusterCommand) -> Result<(), String> {
    let database = open_database(settings).map_err(|error| error.to_string())?;
    let timing = Timing::from_settings(settings);
    let operator = format!("the command line on {}", settings.node_name());
    actix_web::rt::System::new().block_on(async move {
        match command {
            ClusterCommand::Status => {
                let status = database
                    .run(move |connection| SystemStatus::load(connection, timing, 20))
                    .await
                    .map_err(|error| error.to_string())?;
                status_text::print(&status);
                Ok(())
            }
            ClusterCommand::Handover { to } => {
                let result =
                    cluster::hand_over(&database, timing, to, operator).await.map_err(|error| error.to_string())?;
                println!("{} is master (epoch {}) after {} ms", result.master, result.epoch, result.elapsed_ms);
                Ok(())
            }
            ClusterCommand::Maintenance { node, state } => {
                let on = state == "on";
                cluster::set_maintenance(&database, node.clone(), on, operator)
                    .await
                    .map_err(|error| error.to_string())?;
                println!("node {node}: maintenance {state}");
                Ok(())
            }
        }
    })
}

fn run_mail_command(settings: &Settings, command: MailCommand) -> Result<(), String> {
    let database = open_database(settings).map_err(|error| error.to_string())?;
    let mut connection = database.get().map_err(|error| error.to_string())?;
    match command {
        MailCommand::Failures => {
            let listed = failures::list(&mut connection, 200).map_err(|error| error.to_string())?;
            println!("{:<6} {:<20} {:<12} {:<30} REASON", "ID", "WHEN", "MAILBOX", "SENDER");
            // Sender, subject and reason come from the mail: shown escaped, never as raw
            // control characters that a terminal would obey.
            for failure in listed {
                println!(
                    "{:<6} {:<20} {:<12} {:<30} {} (\"{}\")",
                    failure.id,
                    failure.failed_at.format("%Y-%m-%d %H:%M:%S"),
                    printable(&failure.mailbox),
                    printable(&failure.sender),
                    printable(&failure.reason),
                    printable(&failure.subject)
                );
            }
            Ok(())
        }
        MailCommand::Reprocess { id } => {
            let files = FileStore::new(settings.attachments_dir());
            let outcome =
                failures::reprocess(&mut connection, &files, settings, id).map_err(|error| error.to_string())?;
            match outcome {
                Outcome::Created(item) => println!("mail failure {id}: stored as item {item}"),
                Outcome::Commented(item, comment) => {
                    println!("mail failure {id}: stored as comment {comment} on item {item}")
                }
                Outcome::AlreadyStored => println!("mail failure {id}: that mail was stored already"),
                Outcome::AlreadyRefused => return Err(format!("mail failure {id} was refused again")),
                Outcome::Failed(reason) => {
                    return Err(format!("mail failure {id} was refused again: {}", printable(&reason)));
                }
            }
            Ok(())
        }
    }
}

fn run_jobs_command(settings: &Settings, command: JobsCommand) -> Result<(), String> {
    let database = open_database(settings).map_err(|error| error.to_string())?;
    let mut connection = database.get().map_err(|error| error.to_string())?;
    match command {
        JobsCommand::List => {
            let listed = jobs::list(&mut connection, &settings.jobs).map_err(|error| error.to_string())?;
            let time = |time: Option<chrono::NaiveDateTime>| {
                time.map(|time| time.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "-".into())
            };
            println!("{:<16} {:<18} {:<20} {:<20} LAST RUN", "JOB", "SCHEDULE (UTC)", "NEXT RUN", "LAST STARTED");
            for job in listed {
                let last = match &job.last_run {
                    Some(run) => format!(
                        "{} on {} (epoch {}), {} ms: {}",
                        run.state(),
                        run.node.as_deref().unwrap_or("-"),
                        run.epoch.map(|epoch| epoch.to_string()).unwrap_or_else(|| "-".into()),
                        run.duration_ms.unwrap_or(0),
                        run.detail
                    ),
                    None => "never".into(),
                };
                println!(
                    "{:<16} {:<18} {:<20} {:<20} {last}",
                    job.name,
                    job.schedule,
                    time(job.next_run.map(|next| next.naive_utc())),
                    time(job.last_run.as_ref().and_then(|run| run.started_at)),
                );
            }
            Ok(())
        }
        JobsCommand::Run { name, no_wait } => {
            let job = jobs::Job::from_name(&name).map_err(|error| error.to_string())?;
            let run = jobs::request_run(&mut connection, job).map_err(|error| error.to_string())?;
            println!("job {name}: run {} requested", run.id);
            if no_wait {
                return Ok(());
            }
            let timing = Timing::from_settings(settings);
            let spinner = ProgressBar::new_spinner();
            spinner.enable_steady_tick(Duration::from_millis(200));
            loop {
                let current = jobs::get_run(&mut connection, run.id).map_err(|error| error.to_string())?;
                let master = status::load(&mut connection, timing.heartbeat_interval, timing.node_timeout, 0)
                    .map_err(|error| error.to_string())?
                    .master;
                match (current.state(), &master) {
                    ("succeeded", _) => {
                        spinner.finish_and_clear();
                        println!(
                            "job {name}: run {} succeeded on {} in {} ms: {}",
                            current.id,
                            current.node.as_deref().unwrap_or("?"),
                            current.duration_ms.unwrap_or(0),
                            current.detail
                        );
                        return Ok(());
                    }
                    ("failed", _) => {
                        spinner.finish_and_clear();
                        return Err(format!("job {name}: run {} failed: {}", current.id, current.detail));
                    }
                    (_, None) => spinner.set_message(
                        "waiting for a master: no node is master now (start one with `baton serve`); the request \
                         stays recorded",
                    ),
                    ("waiting", Some(master)) => spinner.set_message(format!("waiting for the master {master}")),
                    (_, Some(master)) => spinner.set_message(format!("running on {master}")),
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

fn reindex(settings: &Settings, no_wait: bool) -> Result<(), String> {
    let database = open_database(settings).map_err(|error| error.to_string())?;
    let mut connection = database.get().map_err(|error| error.to_string())?;
    let reason = format!("requested on the command line on {}", crate::config::local_hostname());
    let (request, created) = rebuild::request(&mut connection, &reason).map_err(|error| error.to_string())?;
    if created {
        println!("search index rebuild {} requested", request.id);
    } else {
        println!("search index rebuild {} is already {} ({})", request.id, request.state(), request.reason);
    }
    if no_wait {
        return Ok(());
    }
    let timing = Timing::from_settings(settings);
    let progress = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{spinner} {msg} {bar:40} {pos}/{len} items ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    progress.enable_steady_tick(Duration::from_millis(200));
    loop {
        let current = rebuild::get(&mut connection, request.id).map_err(|error| error.to_string())?;
        let master = status::load(&mut connection, timing.heartbeat_interval, timing.node_timeout, 0)
            .map_err(|error| error.to_string())?
            .master;
        progress.set_length(u64::try_from(current.items_total).unwrap_or(0));
        progress.set_position(u64::try_from(current.items_done).unwrap_or(0));
        let message = match (current.state(), &master, &current.error) {
            ("finished", ..) => break finish_reindex(&progress, &current),
            (_, None, _) => "waiting for a master: no node is master now (start one with `baton serve`); \
                             the request stays recorded"
                .to_string(),
            ("waiting", Some(master), _) => format!("waiting for the master {master}"),
            (_, Some(master), Some(error)) => format!("{master} retries after: {error}"),
            (_, Some(master), None) => format!("building on {master}"),
        };
        progress.set_message(message);
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn finish_reindex(progress: &ProgressBar, rebuild: &Rebuild) -> Result<(), String> {
    progress.finish_and_clear();
    let seconds = rebuild.duration_ms.unwrap_or(0) as f64 / 1000.0;
    println!(
        "rebuilt the search index: {} items in {seconds:.1} s ({:.0} items/s) on {}, generation {}",
        rebuild.items_done,
        rebuild.items_done as f64 / seconds.max(0.001),
        rebuild.node.as_deref().unwrap_or("?"),
        rebuild.generation.as_deref().unwrap_or("?"),
    );
    Ok(())
}

fn run_user_command(settings: &Settings, command: UserCommand) -> Result<(), String> {
    let database = open_database(settings).map_err(|error| error.to_string())?;
    let mut connection = database.get().map_err(|error| error.to_string())?;
    match command {
        UserCommand::Create { login, admin, name, email } => {
            let (password, generated) = read_or_generate_password()?;
            let login = user::parse_login(&login).map_err(|error| error.to_string())?;
            let created = user::create(
                &mut connection,
                NewUser {
                    name: name.unwrap_or_else(|| login.clone()),
                    email: email.unwrap_or_else(|| format!("{login}@example.com")),
                    login,
                    password: password.clone(),
                    is_admin: admin,
                },
            )
            .map_err(|error| error.to_string())?;
            println!(
                "created user {} (id {}){}",
                created.login,
                created.id,
                if admin { ", administrator" } else { "" }
            );
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
        UserCommand::Passwd { login } => {
            let found = user::find_by_login(&mut connection, &login)
                .map_err(|error| error.to_string())?
                .ok_or_else(|| format!("there is no user {login:?}: see `baton user list`"))?;
            let (password, generated) = read_or_generate_password()?;
            user::update(
                &mut connection,
                found.id,
                UserUpdate { password: Some(password.clone()), ..UserUpdate::default() },
            )
            .map_err(|error| error.to_string())?;
            println!(
                "password of {} changed; their sessions were signed out and their API tokens revoked",
                found.login
            );
            if generated {
                println!("password: {password}");
            }
            Ok(())
        }
        UserCommand::List => {
            let users = user::list(&mut connection).map_err(|error| error.to_string())?;
            println!("{:<6} {:<24} {:<8} {:<7} NAME", "ID", "LOGIN", "ADMIN", "ACTIVE");
            for user in users {
                println!(
                    "{:<6} {:<24} {:<8} {:<7} {}",
                    user.id,
                    user.login,
                    if user.is_admin { "yes" } else { "no" },
                    if user.active { "yes" } else { "no" },
                    user.name
                );
            }
            Ok(())
        }
    }
}
