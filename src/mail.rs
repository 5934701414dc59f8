//! Mail: inbound mail parsed and classified (`message`) and stored exactly once as items and
//! comments (`inbound`).

pub mod inbound;
pub mod message;
pub mod poller;
