//! A TCP proxy that a test can cut and restore. The outage tests put it between the servers and
//! PostgreSQL: cutting it is, for the servers, the database going away (new connections are
//! refused, open ones are reset), without restarting the shared PostgreSQL server that other
//! tests use at the same time.

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

/// Forwards connections on a loopback port to `target` while it is up.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    target: SocketAddr,
    /// The accepting task, while the proxy is up.
    accepting: Mutex<Option<JoinHandle<()>>>,
    /// Bumped by every cut: open connections end when it changes.
    cuts: Arc<watch::Sender<u64>>,
}

impl TcpProxy {
    /// Starts forwarding from a free loopback port to `target`.
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cuts = Arc::new(watch::channel(0).0);
        let accepting = tokio::spawn(accept(listener, target, Arc::clone(&cuts)));
        TcpProxy {
            addr,
            target,
            accepting: Mutex::new(Some(accepting)),
            cuts,
        }
    }

    /// The proxy's address (connect here instead of to the target).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Makes the target unreachable: the port is closed (connections are refused) and every
    /// open connection is reset.
    pub async fn cut(&self) {
        if let Some(task) = self.accepting.lock().await.take() {
            task.abort();
            let _ = task.await; // the listener is closed once the task is gone
        }
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Forwards again, on the same port.
    pub async fn restore(&self) {
        let mut accepting = self.accepting.lock().await;
        if accepting.is_none() {
            let listener = TcpListener::bind(self.addr).await.unwrap();
            *accepting = Some(tokio::spawn(accept(
                listener,
                self.target,
                Arc::clone(&self.cuts),
            )));
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some(task) = self.accepting.get_mut().take() {
            task.abort();
        }
        self.cuts.send_modify(|n| *n += 1);
    }
}

async fn accept(listener: TcpListener, target: SocketAddr, cuts: Arc<watch::Sender<u64>>) {
    while let Ok((client, _)) = listener.accept().await {
        let mut cut = cuts.subscribe();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(target).await else {
                return;
            };
            let (mut client, mut server) = (client, server);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                _ = cut.changed() => {
                    // A reset, not a polite close: as when the database's host goes away.
                    let _ = client.set_zero_linger();
                    let _ = server.set_zero_linger();
                }
            }
        });
    }
}
