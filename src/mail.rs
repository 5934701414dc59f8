//! Mail: inbound mail parsed and classified (`message`, `automatic`, made storable by
//! `clean`); whom it speaks for and what it may do (`sender`, with `trust` and
//! `reply_address`), under the rules of its `mailbox`; stored exactly once per mailbox as
//! items and comments (`inbound`) by the master's poller (`poller`, folder names by
//! `imap_name`); refused mail for administrators (`failures`); notifications sent from the
//! outbox by the master (`outbound`); figures and mailbox health for operators (`status`);
//! mail text made safe for terminals and logs (`printable`).

pub mod automatic;
pub mod clean;
pub mod failures;
pub mod imap_name;
pub mod inbound;
pub mod keywords;
pub mod mailbox;
pub mod message;
pub mod outbound;
pub mod poller;
pub mod printable;
pub mod reply_address;
pub mod sender;
pub mod status;
pub mod trust;
