//! The rate sweep end to end through the library: open-loop steps at increasing rates against
//! an in-process server that can answer only a few hundred requests per second.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Method, Response};
use hyper_util::rt::TokioIo;

use faceoff::load::{LiveCounters, LoadSpec};
use faceoff::sweep::{Limit, LoadPlan, SweepPlan, drive};

/// A hyper server on 127.0.0.1 that answers one request at a time, each after `work`:
/// at most `1 / work` requests per second, whatever the connections.
fn start_slow_server(work: Duration) -> (SocketAddr, tokio::runtime::Runtime) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let one_at_a_time = Arc::new(tokio::sync::Mutex::new(()));
    runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        while let Ok((stream, _)) = listener.accept().await {
            let lock = Arc::clone(&one_at_a_time);
            tokio::spawn(async move {
                let service = service_fn(move |_request| {
                    let lock = Arc::clone(&lock);
                    async move {
                        let _turn = lock.lock().await;
                        tokio::time::sleep(work).await;
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, runtime)
}

#[test]
fn a_sweep_stops_at_the_first_rate_the_server_cannot_sustain() {
    // About 250 requests per second at most.
    let (addr, _server) = start_slow_server(Duration::from_millis(4));
    let spec = LoadSpec {
        url: format!("http://{addr}/").parse().unwrap(),
        method: Method::GET,
        body: None,
        connections: 20,
        threads: 1,
        cpus: Vec::new(),
        warmup: Duration::ZERO,
        duration: Duration::from_secs(1),
        max_requests: None,
        request_timeout: Duration::from_secs(2),
    };
    let plan = LoadPlan::Sweep(SweepPlan {
        rates: vec![25.0, 50.0, 2000.0, 4000.0],
        // Loose: a busy test host may stall a request now and then; the server's queue at
        // 2000 req/s grows by far more than this within the second.
        p99_limit_ms: 400.0,
        error_limit: 0.01,
    });

    let driven = drive(&spec, &plan, Arc::new(LiveCounters::default())).unwrap();

    let sweep = driven.sweep.expect("a sweep result");
    let rates: Vec<f64> = sweep.steps.iter().map(|s| s.rate).collect();
    assert_eq!(
        rates,
        [25.0, 50.0, 2000.0],
        "stops after the first broken step"
    );
    assert!(sweep.steps[0].sustained(), "{:?}", sweep.steps[0]);
    assert!(sweep.steps[1].sustained(), "{:?}", sweep.steps[1]);
    let broken = &sweep.steps[2];
    assert!(broken.broke.contains(&Limit::Rate), "{broken:?}");
    assert!(broken.broke.contains(&Limit::P99), "{broken:?}");
    assert_eq!(sweep.max_sustainable_rate, Some(50.0));
    // The headline figures are those of the step at the max sustainable rate.
    let open = driven.report.open_loop.expect("open-loop figures");
    assert_eq!(open.requested_rate, 50.0);
}
