//! A TCP proxy on loopback whose `cut` drops every connection and refuses new ones: a
//! node's database link failing, as the node sees it.

use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

pub struct Proxy {
    pub port: u16,
    cut: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(Notify::new());
        let target = target.to_string();
        let cut_signal = cut.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((mut inbound, _)) = accepted else { continue };
                        let target = target.clone();
                        connections.spawn(async move {
                            if let Ok(mut outbound) = TcpStream::connect(&target).await {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            }
                        });
                    }
                    _ = cut_signal.notified() => {
                        connections.abort_all();
                        return;
                    }
                }
            }
        });
        Proxy { port, cut, task }
    }

    /// Drops all connections and stops accepting.
    pub async fn cut(self) {
        self.cut.notify_one();
        let _ = self.task.await;
    }
}
