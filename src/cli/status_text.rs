//! `baton cluster status` as text: the nodes and the lease, the search index, and mail.

use crate::cluster::status::ClusterStatus;
use crate::mail::printable::printable;
use crate::mail::status::MailStatus;
use crate::search::status::SearchStatus;
use crate::status::SystemStatus;

pub fn print(status: &SystemStatus) {
    print_cluster_status(&status.cluster);
    print_search_status(&status.search);
    print_mail_status(&status.mail);
}

fn print_search_status(status: &SearchStatus) {
    println!();
    let oldest = status.oldest_unindexed_age_ms.map(|age| format!(", oldest {age} ms old")).unwrap_or_default();
    let generation = status.generation.as_deref().unwrap_or("not built yet");
    println!("search: {} changes waiting{oldest}; index {generation}", status.queue_depth);
    if let Some(commit) = &status.last_commit {
        println!(
            "last index commit: {} by {} (epoch {}) at {}: {}",
            commit.id,
            commit.node,
            commit.epoch,
            commit.committed_at.format("%Y-%m-%d %H:%M:%S%.3f"),
            commit.applied
        );
    }
    for reader in &status.readers {
        let commits: Vec<String> = reader.commits.iter().map(i64::to_string).collect();
        println!(
            "  {} reads index commit {}",
            reader.node,
            if commits.is_empty() { "none".into() } else { commits.join(", ") }
        );
    }
    if let Some(rebuild) = &status.rebuild {
        let error = rebuild.rebuild.error.as_deref().map(|error| format!("; last error: {error}")).unwrap_or_default();
        println!(
            "last rebuild: {} {} ({}), {}/{} items{error}",
            rebuild.rebuild.id,
            rebuild.state,
            rebuild.rebuild.reason,
            rebuild.rebuild.items_done,
            rebuild.rebuild.items_total
        );
    }
}

fn print_mail_status(status: &MailStatus) {
    let oldest = status.oldest_unsent_age_ms.map(|age| format!(", oldest {age} ms old")).unwrap_or_default();
    let received =
        status.last_received_at.map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "never".into());
    println!(
        "mail: {} notifications waiting{oldest} ({} retrying); {} inbound mails quarantined; last mail stored {received}",
        status.outbox_depth, status.outbox_retrying, status.failures
    );
    let time = |at: Option<chrono::NaiveDateTime>| {
        at.map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "never".into())
    };
    for mailbox in &status.mailboxes {
        let failing = match mailbox.state() {
            "error" => format!(
                ", {} failed polls in a row (last {}): {}",
                mailbox.consecutive_failures,
                time(mailbox.last_failure_at),
                printable(&mailbox.last_error)
            ),
            _ => String::new(),
        };
        println!(
            "mailbox {}: {}, last successful poll {}{failing}",
            printable(&mailbox.name),
            mailbox.state().to_uppercase(),
            time(mailbox.last_success_at)
        );
    }
}

fn print_cluster_status(status: &ClusterStatus) {
    if status.no_master_alarm {
        println!("!!! NO MASTER: no node has held a valid master lease for longer than the node timeout !!!");
    }
    match &status.master {
        Some(master) => println!("master: {master} (epoch {})", status.epoch),
        None => println!("master: none (epoch {})", status.epoch),
    }
    if let Some(target) = &status.lease.handover_to {
        println!("handover requested to: {target}");
    }
    println!();
    println!(
        "{:<24} {:<12} {:<7} {:>10} {:<10} {:<22} PROBLEMS",
        "NODE", "ROLE", "STATUS", "HEARTBEAT", "VERSION", "STARTED"
    );
    for node in &status.nodes {
        println!(
            "{:<24} {:<12} {:<7} {:>8}ms {:<10} {:<22} {}",
            node.name,
            node.role,
            node.status,
            node.heartbeat_age_ms,
            node.version,
            node.started_at.format("%Y-%m-%d %H:%M:%S"),
            node.problems.join("; ")
        );
    }
    println!();
    println!("recent events:");
    for event in &status.events {
        let epoch = event.epoch.map(|epoch| format!(" epoch {epoch}")).unwrap_or_default();
        println!(
            "  {} {:<20} {}{} {}",
            event.at.format("%Y-%m-%d %H:%M:%S%.3f"),
            event.kind,
            event.node,
            epoch,
            event.reason
        );
    }
}
