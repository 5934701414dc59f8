//! The test harness: spawn a node, act as users, provision PostgreSQL.

pub mod app;
pub mod cluster;
pub mod mail_servers;
pub mod postgres;
pub mod proxy;

pub use app::{Api, Backend, Reply, TestApp};

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
