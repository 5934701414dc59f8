//! Mail: inbound mail parsed and classified (`message`, automatic mail told apart in
//! `message::automatic`, made storable by `clean`); whom it speaks for and what it may do
//! (`sender`, with `trust` and `reply_address`), under the rules of its `mailbox`; stored
//! exactly once per mailbox as items and comments (`inbound`) by the master's poller
//! (`poller`, folder names by `imap_name`); refused mail for administrators (`failures`);
//! notifications sent from the outbox by the master (`outbound`); our Message-IDs, which
//! both directions read (`message_ids`); figures and mailbox health for operators
//! (`status`); mail text made safe for terminals and logs (`printable`).

pub mod clean;
pub mod failures;
pub mod imap_name;
pub mod inbound;
pub mod keywords;
pub mod mailbox;
pub mod message;
pub mod message_ids;
pub mod outbound;
pub mod poller;
pub mod printable;
pub mod reply_address;
pub mod sender;
pub mod status;
pub mod trust;
