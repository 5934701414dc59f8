//! How the unit tests of `message` and its `automatic` rules parse a mail: as received at our
//! address baton@example.org, with the loop id `loop-4711`.

use super::{InboundMail, parse};

pub(super) const LOOP_ID: &str = "loop-4711";

pub(super) fn own() -> Vec<String> {
    vec!["baton@example.org".to_string()]
}

pub(super) fn parse_ok(raw: &[u8]) -> InboundMail {
    parse(raw, &own(), LOOP_ID).expect("mail parses")
}
