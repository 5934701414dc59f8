//! The test harness: spawn a node, act as users, provision PostgreSQL.

pub mod app;
pub mod browser;
pub mod cluster;
pub mod mail_servers;
pub mod postgres;
pub mod proxy;
pub mod shared_storage;
pub mod wait;
pub mod web;

pub use app::{Api, Backend, Reply, TestApp};
pub use wait::{done_when, wait_until};

/// Held by the tests that load the machine most (20,000-item rebuilds, 500 mails) and by the
/// ones whose scenario needs a master to keep its lease on time (election timing under random
/// kills, a master paused at its commit), so that none of them runs beside another on a
/// 2-core CI machine.
pub static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Instantiates `async fn name(backend: Backend)` once per backend, as `name::sqlite` and
/// `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(backend) = $crate::support::Backend::postgres() {
                    super::$name(backend).await
                }
            }
        }
    )+};
}
