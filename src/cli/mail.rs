//! `baton mail`: refused inbound mail, and processing one again.

use clap::Subcommand;

use crate::app::open_database;
use crate::config::Settings;
use crate::mail::failures;
use crate::mail::inbound::Outcome;
use crate::mail::printable::printable;
use crate::model::attachment::FileStore;

#[derive(Debug, Subcommand)]
pub(super) enum MailCommand {
    /// Refused mail with the reason, newest first.
    Failures,
    /// Process a refused mail again (after fixing the cause, e.g. giving the sender an account).
    Reprocess { id: i64 },
}

pub(super) fn run(settings: &Settings, command: MailCommand) -> Result<(), String> {
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
