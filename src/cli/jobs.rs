//! `baton jobs`: the scheduled jobs, and running one now.

use std::time::Duration;

use clap::Subcommand;
use indicatif::ProgressBar;

use crate::app::open_database;
use crate::cluster::{Timing, status};
use crate::config::Settings;
use crate::jobs;

#[derive(Debug, Subcommand)]
pub(super) enum JobsCommand {
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

pub(super) fn run(settings: &Settings, command: JobsCommand) -> Result<(), String> {
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
