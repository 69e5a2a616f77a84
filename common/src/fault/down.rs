//! The `down` fault: a listener that closes its socket while the fault is
//! on, so connections are refused exactly as if the service had stopped,
//! and reopens it on the same address when the fault is cleared.
//!
//! Connections already open are cut as the fault comes on, or a client's
//! pool of keep-alive connections would go on reaching the "down" service.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::Faults;

/// How long to wait before trying again to listen after the fault is
/// cleared, if the port is briefly not available.
const REBIND_RETRY: Duration = Duration::from_millis(200);

/// A TCP listener that goes away while [`Faults::down`] is set.
#[derive(Debug)]
pub struct DownListener {
    listener: Option<TcpListener>,
    address: SocketAddr,
    faults: watch::Receiver<Faults>,
}

impl DownListener {
    /// Serve on `listener`, closing it while `faults` says down.
    pub fn new(listener: TcpListener, faults: watch::Receiver<Faults>) -> io::Result<Self> {
        let address = listener.local_addr()?;
        Ok(Self {
            listener: Some(listener),
            address,
            faults,
        })
    }

    /// Wait out the fault, then listen again on the same address.
    async fn come_back(&mut self) {
        self.listener = None;
        tracing::warn!(address = %self.address, "fault: down, refusing connections");
        let mut faults = self.faults.clone();
        let _ = faults.wait_for(|f| !f.down).await;
        loop {
            match crate::http_server::bind(self.address) {
                Ok(listener) => {
                    tracing::warn!(address = %self.address, "fault cleared: listening again");
                    self.listener = Some(listener);
                    return;
                }
                Err(e) => {
                    tracing::error!(address = %self.address, "cannot listen again: {e}");
                    tokio::time::sleep(REBIND_RETRY).await;
                }
            }
        }
    }
}

impl axum::serve::Listener for DownListener {
    type Io = DownIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let down = self.faults.borrow().down;
            if down || self.listener.is_none() {
                self.come_back().await;
                continue;
            }
            let Some(listener) = &self.listener else {
                continue;
            };
            let mut faults = self.faults.clone();
            let going_down = async move {
                let _ = faults.wait_for(|f| f.down).await;
            };
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        // Replies are small and written as they are ready: don't let
                        // Nagle's algorithm hold a segment back waiting for an ACK.
                        let _ = stream.set_nodelay(true);
                        return (DownIo::new(stream, self.faults.clone()), peer);
                    }
                    Err(e) => {
                        // Out of descriptors and the like: axum's own
                        // listener waits a moment too.
                        tracing::error!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                () = going_down => {}
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.address)
    }
}

type DownSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A connection that fails as soon as the `down` fault comes on.
pub struct DownIo {
    stream: TcpStream,
    down: DownSignal,
    is_down: bool,
}

impl std::fmt::Debug for DownIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownIo")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl DownIo {
    fn new(stream: TcpStream, mut faults: watch::Receiver<Faults>) -> Self {
        Self {
            stream,
            down: Box::pin(async move {
                if faults.wait_for(|f| f.down).await.is_err() {
                    std::future::pending::<()>().await;
                }
            }),
            is_down: false,
        }
    }

    /// Whether the fault has come on; registers the waker if not.
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if !self.is_down && self.down.as_mut().poll(cx).is_ready() {
            self.is_down = true;
        }
        if self.is_down {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "fault: down",
            ));
        }
        Ok(())
    }
}

impl AsyncRead for DownIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for DownIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
