//! `serve`'s graceful shutdown: a request already in flight when shutdown starts still gets
//! its answer, and `serve` returns only after that.

mod common;

use common::{TestApp, request, span};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads from `stream` until `marker` has arrived, returning everything read.
async fn read_until(stream: &mut TcpStream, marker: &str) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&seen).contains(marker) {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "connection closed before {marker:?}; got {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn in_flight_requests_finish_during_shutdown() {
    let mut app = TestApp::spawn().await;
    let body = request("app-a", vec![span(1, 1, None, "root", 0, 1)]).encode_to_vec();
    let addr = app.otlp_url.trim_start_matches("http://").to_owned();

    // `Expect: 100-continue` makes the server say when the handler starts reading the body, so
    // the test knows the request is in flight without sleeping.
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-protobuf\r\n\
         content-length: {}\r\nexpect: 100-continue\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    read_until(&mut stream, "100 Continue").await;

    app.request_shutdown();
    // The listener closes once shutdown has begun; new connections are refused from then on.
    while TcpStream::connect(&addr).await.is_ok() {
        tokio::task::yield_now().await;
    }

    stream.write_all(&body).await.unwrap();
    let reply = read_until(&mut stream, "\r\n\r\n").await;
    assert!(reply.contains("HTTP/1.1 200 OK"), "{reply}");
    assert_eq!(app.store.span_count(), 1);
    app.shutdown().await.unwrap();
}
