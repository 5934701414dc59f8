//! The `baton` command line: `serve`, `migrate`, `user`, `cluster`, `jobs`, `mail`, `reindex`,
//! `demo-data`. The larger command groups have a file each under `cli/`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::app::{ADMIN_PASSWORD_VARIABLE, Application, create_first_admin_if_needed, open_database};
use crate::config::node::NodeSettings;
use crate::config::{Overrides, Settings};
use crate::demo;

mod cluster;
mod jobs;
mod mail;
mod reindex;
mod status_text;
mod user;

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
        command: user::UserCommand,
    },
    /// See and steer the cluster; needs only the database, no running node.
    Cluster {
        #[command(subcommand)]
        command: cluster::ClusterCommand,
    },
    /// Scheduled jobs (run by the master): list them, or run one now.
    Jobs {
        #[command(subcommand)]
        command: jobs::JobsCommand,
    },
    /// Inbound mail that could not be stored.
    Mail {
        #[command(subcommand)]
        command: mail::MailCommand,
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
        Command::User { command } => user::run(&settings, command),
        Command::Cluster { command } => cluster::run(&settings, command),
        Command::Reindex { no_wait } => reindex::run(&settings, no_wait),
        Command::Mail { command } => mail::run(&settings, command),
        Command::Jobs { command } => jobs::run(&settings, command),
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
