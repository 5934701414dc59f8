//! Waiting for what takes real time (cluster timing, failover, heartbeats, a node's search
//! reader): a condition checked until it holds, with a bound. A duty's effect is not waited
//! for: the test runs the duty's round (`TestApp::index_now` and friends).

use std::fmt::Debug;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How often the condition is checked.
const CHECK_EVERY: Duration = Duration::from_millis(20);

/// Checks `condition` until it breaks with a value, which it returns. `Continue` carries what
/// was observed instead; after `timeout` the test fails, naming `what` and the last observed.
pub async fn wait_until<T, Observed: Debug>(
    what: &str,
    timeout: Duration,
    mut condition: impl AsyncFnMut() -> ControlFlow<T, Observed>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match condition().await {
            ControlFlow::Break(value) => return value,
            ControlFlow::Continue(observed) if Instant::now() >= deadline => {
                panic!("{what}: not within {timeout:?}; last observed: {observed:?}")
            }
            ControlFlow::Continue(_) => tokio::time::sleep(CHECK_EVERY).await,
        }
    }
}

/// `Break(())` when `holds`, else `Continue(observed)`: for conditions that return nothing.
pub fn done_when<Observed>(holds: bool, observed: Observed) -> ControlFlow<(), Observed> {
    if holds { ControlFlow::Break(()) } else { ControlFlow::Continue(observed) }
}

/// A file (a node's log) as part of what was observed: read only when a test fails.
pub struct FileText(pub PathBuf);

impl Debug for FileText {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = std::fs::read_to_string(&self.0).unwrap_or_default();
        write!(formatter, "{}:\n{text}", self.0.display())
    }
}
