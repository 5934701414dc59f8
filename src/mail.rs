//! Mail: inbound mail parsed and classified (`message`, `automatic`, made storable by
//! `clean`), stored exactly once as items and comments (`inbound`) by the master's poller
//! (`poller`); refused mail for administrators (`failures`); notifications sent from the
//! outbox by the master (`outbound`); figures for operators (`status`).

pub mod automatic;
pub mod clean;
pub mod failures;
pub mod inbound;
pub mod message;
pub mod outbound;
pub mod poller;
pub mod status;
