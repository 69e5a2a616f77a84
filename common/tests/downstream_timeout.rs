//! `DOWNSTREAM_TIMEOUT_MS` means what the seed's `requests.get(url, timeout=3)` means: a limit
//! on connecting and a limit on each wait for the next bytes, not on the whole call. A hop whose
//! answer keeps arriving is not cut off; a hop that goes quiet is.

use std::time::{Duration, Instant};

use common::downstream::{CallError, Downstream, DownstreamSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A hop on a free port that reads one request, then runs `answer` on the connection.
async fn hop<F, Fut>(answer: F) -> DownstreamSettings
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client hung up before its request ended");
            request.extend_from_slice(&buf[..n]);
        }
        answer(stream).await;
    });
    DownstreamSettings {
        host: "127.0.0.1".to_owned(),
        port,
        timeout: Duration::from_millis(1000),
    }
}

#[tokio::test]
async fn an_answer_that_keeps_coming_is_read_to_the_end() {
    // Four parts 400 ms apart: 1.6 s in all, each wait under the 1 s limit. A limit on the
    // whole call (what the services had) cut this off after 1 s; Python's requests reads it.
    let settings = hop(|mut stream| async move {
        let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
        stream.write_all(head.as_bytes()).await.unwrap();
        for part in ["I'm ", "app-b ", "I'm ", "app-c"] {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let chunk = format!("{:x}\r\n{part}\r\n", part.len());
            stream.write_all(chunk.as_bytes()).await.unwrap();
        }
        stream.write_all(b"0\r\n\r\n").await.unwrap();
    })
    .await;
    let started = Instant::now();
    let body = Downstream::new(&settings).unwrap().get().await;
    assert_eq!(body.unwrap(), "I'm app-b I'm app-c");
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_hop_that_goes_quiet_times_out() {
    // The head arrives, then nothing: the call ends as a timeout about 1 s later.
    let settings = hop(|mut stream| async move {
        let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nI'm \r\n";
        stream.write_all(head.as_bytes()).await.unwrap();
        // Hold the connection open, silent, until the client gives up and hangs up.
        let mut buf = [0u8; 16];
        while stream.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    })
    .await;
    let started = Instant::now();
    let error = Downstream::new(&settings).unwrap().get().await.unwrap_err();
    assert!(
        matches!(
            error,
            CallError::Transport {
                kind: "timeout",
                ..
            }
        ),
        "{error:?}"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "{took:?}"
    );
}
