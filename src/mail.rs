//! Mail: inbound mail parsed and classified (`message`), stored exactly once as items and
//! comments (`inbound`) by the master's poller (`poller`); refused mail for administrators
//! (`failures`).

pub mod failures;
pub mod inbound;
pub mod message;
pub mod poller;
