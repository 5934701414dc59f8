//! A TCP proxy on loopback between a node and PostgreSQL whose `cut` makes the link go silent:
//! connections stay open but no byte passes either way, and new ones are accepted and then
//! hear nothing — a network that drops packets, not one that closes sockets. `heal` lets the
//! bytes held back through again. (The proxy's own kernel still acknowledges TCP segments and
//! keepalive probes, so what ends a session during a cut is PostgreSQL's own timeouts.)

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub port: u16,
    open: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (open, link) = watch::channel(true);
        let target = target.to_string();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((inbound, _)) = listener.accept().await {
                let (target, link) = (target.clone(), link.clone());
                connections.spawn(async move {
                    let Ok(outbound) = TcpStream::connect(&target).await else { return };
                    let (inbound_read, inbound_write) = inbound.into_split();
                    let (outbound_read, outbound_write) = outbound.into_split();
                    tokio::join!(
                        relay(inbound_read, outbound_write, link.clone()),
                        relay(outbound_read, inbound_write, link)
                    );
                });
            }
        });
        Proxy { port, open, task }
    }

    /// The link goes silent (see the module comment).
    pub fn cut(&self) {
        self.open.send_replace(false);
    }

    /// Bytes pass again, first those held back during the cut.
    pub fn heal(&self) {
        self.open.send_replace(true);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies one direction while the link is open; a close is passed on only while it is open.
async fn relay(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut link: watch::Receiver<bool>) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = from.read(&mut buffer).await;
        if link.wait_for(|open| *open).await.is_err() {
            return;
        }
        match read {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(count) => {
                if to.write_all(&buffer[..count]).await.is_err() {
                    return;
                }
            }
        }
    }
}
