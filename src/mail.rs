//! Mail: inbound mail parsed and classified (`message`), stored exactly once as items and
//! comments (`inbound`) by the master's poller (`poller`); refused mail for administrators
//! (`failures`); notifications sent from the outbox by the master (`outbound`) and how far
//! they lag (`backlog`).

pub mod backlog;
pub mod failures;
pub mod inbound;
pub mod message;
pub mod outbound;
pub mod poller;
