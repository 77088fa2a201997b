//! `faceoff load` end to end through the library: the generator against a small in-process
//! server, printed the way wrk prints.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Method, Response};
use hyper_util::rt::TokioIo;

use faceoff::console::wrk::wrk_text;
use faceoff::load::{LiveCounters, LoadSpec, run_closed_loop, run_open_loop};

/// A hyper server on 127.0.0.1 answering `{"ok":true}`, on a runtime of its own.
fn start_server() -> (SocketAddr, tokio::runtime::Runtime) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|_request| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                        br#"{"ok":true}"#,
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, runtime)
}

fn spec(addr: SocketAddr) -> LoadSpec {
    LoadSpec {
        url: format!("http://{addr}/").parse().unwrap(),
        method: Method::GET,
        body: None,
        connections: 4,
        threads: 2,
        cpus: Vec::new(),
        warmup: Duration::from_millis(100),
        duration: Duration::from_secs(1),
        max_requests: None,
        request_timeout: Duration::from_secs(1),
        keep_alive: true,
    }
}

#[test]
fn closed_loop_prints_like_wrk() {
    let (addr, _server) = start_server();
    let url = format!("http://{addr}/");

    let report = run_closed_loop(&spec(addr), Arc::new(LiveCounters::default())).unwrap();
    let text = wrk_text(&report, &url, 4, 2);

    assert!(text.starts_with(&format!(
        "Running 1s test @ {url}\n  2 threads and 4 connections\n"
    )));
    assert!(text.contains("  Latency Distribution\n     50%"), "{text}");
    assert!(
        text.contains(&format!("  {} requests in 1.00s, ", report.requests)),
        "{text}"
    );
    assert!(text.contains("Requests/sec: "), "{text}");
    assert!(!text.contains("Open loop"));
    assert!(!text.contains("Socket errors"), "{text}");
}

#[test]
fn open_loop_prints_the_requested_and_achieved_rate() {
    let (addr, _server) = start_server();
    let url = format!("http://{addr}/");

    let report = run_open_loop(&spec(addr), 200.0, Arc::default()).unwrap();
    let text = wrk_text(&report, &url, 4, 2);

    let open = report.open_loop.as_ref().unwrap();
    assert_eq!(open.scheduled, 200);
    assert!(
        text.contains("    Rate        requested 200.00/s, sent "),
        "{text}"
    );
    assert!(text.contains("    Lag         mean "), "{text}");
    assert!(text.contains("    Uncorrected 50% "), "{text}");
}
