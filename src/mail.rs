//! Mail: inbound mail parsed and classified (`message`).

pub mod message;
