//! `baton cluster`: the status, a handover, maintenance.

use clap::Subcommand;

use super::status_text;
use crate::app::open_database;
use crate::cluster::{self, Timing};
use crate::config::Settings;
use crate::status::SystemStatus;

#[derive(Debug, Subcommand)]
pub(super) enum ClusterCommand {
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

pub(super) fn run(settings: &Settings, command: ClusterCommand) -> Result<(), String> {
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
