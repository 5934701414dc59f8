//! `baton reindex`: requests a rebuild of the search index and shows its progress.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::app::open_database;
use crate::cluster::{Timing, status};
use crate::config::Settings;
use crate::search::rebuild::{self, Rebuild};

pub(super) fn run(settings: &Settings, no_wait: bool) -> Result<(), String> {
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
