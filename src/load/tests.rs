//! The generator end to end against small servers on 127.0.0.1: counting, errors, bad input,
//! open-loop correction.

use hyper::header::HeaderValue;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use tokio::time::Instant;

use super::record::SIGFIG;
use super::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::time::Instant as WallClock;

/// How much later than planned a run may end on a busy test host and still count as on time
/// (the request timeouts in these tests are far shorter than this, so a run that waited for a
/// silent server would not make it).
const SLACK: Duration = Duration::from_secs(5);

/// How the in-process test server answers.
#[derive(Clone)]
enum Behaviour {
    /// 200 with this body.
    Ok(&'static str),
    /// This status with a short body.
    Status(u16),
    /// 200 and `Connection: close`, so every request needs a new connection.
    CloseEach,
    /// Never answers.
    Silent,
    /// 200 when the request is a JSON POST with this body and the expected Host header,
    /// 400 otherwise.
    ExpectJsonPost(&'static str),
    /// 200 "ok", except that every request arriving in a window of the run is held until
    /// the window ends: a server that stalls for a while.
    Stall(Arc<StallWindow>),
    /// 200 "ok"; a request to this path first blocks the server's one thread this long,
    /// as CPU work blocks an event loop.
    BlockOn(&'static str, Duration),
}

/// When a [`Behaviour::Stall`] server stalls, counted from its first request.
struct StallWindow {
    from: Duration,
    length: Duration,
    first_request: std::sync::OnceLock<Instant>,
}

impl StallWindow {
    fn new(from: Duration, length: Duration) -> Arc<Self> {
        Arc::new(StallWindow {
            from,
            length,
            first_request: std::sync::OnceLock::new(),
        })
    }
}

/// A tiny hyper server on 127.0.0.1:0 that counts the requests it receives.
struct TestServer {
    addr: SocketAddr,
    received: Arc<AtomicU64>,
    /// Connections accepted.
    accepted: Arc<AtomicU64>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TestServer {
    fn start(behaviour: Behaviour) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(AtomicU64::new(0));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let counter = Arc::clone(&received);
        let accepted = Arc::new(AtomicU64::new(0));
        let connections = Arc::clone(&accepted);
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                connections.fetch_add(1, Ordering::SeqCst);
                let behaviour = behaviour.clone();
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        answer(request, behaviour.clone(), addr, Arc::clone(&counter))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TestServer {
            addr,
            received,
            accepted,
            runtime: Some(runtime),
        }
    }

    fn url(&self, path: &str) -> Uri {
        format!("http://{}{path}", self.addr).parse().unwrap()
    }

    fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }

    fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Stops the server: the listener and every connection close.
    fn stop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn answer(
    request: Request<Incoming>,
    behaviour: Behaviour,
    addr: SocketAddr,
    counter: Arc<AtomicU64>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    counter.fetch_add(1, Ordering::SeqCst);
    let response = match behaviour {
        Behaviour::Ok(body) => Response::new(Full::new(Bytes::from_static(body.as_bytes()))),
        Behaviour::Status(code) => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"oops")));
            *response.status_mut() = StatusCode::from_u16(code).unwrap();
            response
        }
        Behaviour::CloseEach => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"bye")));
            response
                .headers_mut()
                .insert("connection", HeaderValue::from_static("close"));
            response
        }
        Behaviour::Silent => std::future::pending().await,
        Behaviour::Stall(window) => {
            let now = Instant::now();
            let first = *window.first_request.get_or_init(|| now);
            let (stall_start, stall_end) =
                (first + window.from, first + window.from + window.length);
            if now >= stall_start && now < stall_end {
                tokio::time::sleep_until(stall_end).await;
            }
            Response::new(Full::new(Bytes::from_static(b"ok")))
        }
        Behaviour::BlockOn(path, pause) => {
            if request.uri().path() == path {
                std::thread::sleep(pause);
            }
            Response::new(Full::new(Bytes::from_static(b"ok")))
        }
        Behaviour::ExpectJsonPost(expected) => {
            let (parts, body) = request.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let host_ok = parts.headers.get(HOST).is_some_and(|host| {
                host == format!("localhost:{}", addr.port()).as_str()
                    || host == addr.to_string().as_str()
            });
            let json = parts
                .headers
                .get(CONTENT_TYPE)
                .is_some_and(|ct| ct == "application/json");
            let ok = parts.method == Method::POST && host_ok && json && body == expected;
            let mut response = Response::new(Full::new(Bytes::new()));
            if !ok {
                *response.status_mut() = StatusCode::BAD_REQUEST;
            }
            response
        }
    };
    Ok(response)
}

fn spec(url: Uri) -> LoadSpec {
    LoadSpec {
        url,
        method: Method::GET,
        body: None,
        connections: 2,
        threads: 1,
        cpus: Vec::new(),
        warmup: Duration::ZERO,
        duration: Duration::from_secs(2),
        max_requests: None,
        request_timeout: Duration::from_secs(1),
        keep_alive: true,
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn counts_exactly_the_requests_the_server_received_when_bounded_by_count() {
    let server = TestServer::start(Behaviour::Ok("hello"));
    let mut spec = spec(server.url("/hello?x=1"));
    spec.connections = 4;
    spec.max_requests = Some(300);
    let live = Arc::new(LiveCounters::default());

    let report = run_closed_loop(&spec, Arc::clone(&live)).unwrap();

    assert_eq!(report.requests, 300);
    assert_eq!(server.received(), 300);
    assert_eq!(report.status_counts, BTreeMap::from([(200, 300)]));
    assert_eq!(report.latency_us.len(), 300);
    assert_eq!(report.bytes_received, 300 * 5);
    assert_eq!(report.errors, ErrorCounts::default());
    assert!(report.elapsed <= spec.duration);
    assert_eq!(live.requests.load(Ordering::SeqCst), 300);
    assert!(live.measuring.load(Ordering::SeqCst));
}

#[test]
fn spreads_connections_over_worker_threads_and_still_counts_exactly() {
    let server = TestServer::start(Behaviour::Ok("hello"));
    for (threads, connections) in [(3, 4), (4, 2)] {
        let mut spec = spec(server.url("/"));
        spec.threads = threads;
        spec.connections = connections;
        spec.max_requests = Some(200);
        let live = Arc::new(LiveCounters::default());

        let report = run_closed_loop(&spec, Arc::clone(&live)).unwrap();

        assert_eq!(report.requests, 200);
        assert_eq!(report.latency_us.len(), 200);
        assert_eq!(report.connections_opened, connections as u64);
        assert_eq!(live.requests.load(Ordering::SeqCst), 200);
    }
}

#[test]
fn records_status_codes_and_non_success_for_a_failing_server() {
    let server = TestServer::start(Behaviour::Status(500));
    let mut spec = spec(server.url("/"));
    spec.max_requests = Some(40);

    let report = run_closed_loop(&spec, Arc::default()).unwrap();

    assert_eq!(report.requests, 40);
    assert_eq!(report.status_counts, BTreeMap::from([(500, 40)]));
    assert_eq!(report.errors.non_success, 40);
    assert_eq!(report.errors.transport(), 0);
}

#[test]
fn sends_the_body_as_json_with_a_host_header_to_localhost() {
    let server = TestServer::start(Behaviour::ExpectJsonPost(r#"{"name":"widget"}"#));
    let url = format!("http://localhost:{}/items", server.addr.port());
    let mut spec = spec(url.parse().unwrap());
    spec.method = Method::POST;
    spec.body = Some(Bytes::from_static(br#"{"name":"widget"}"#));
    spec.max_requests = Some(20);

    let report = run_closed_loop(&spec, Arc::default()).unwrap();

    assert_eq!(report.status_counts, BTreeMap::from([(200, 20)]));
}

#[test]
fn refuses_a_non_loopback_url_without_sending_anything() {
    for url in [
        "http://10.1.2.3/",
        "http://example.com:8080/",
        "http://[::ffff:10.0.0.1]/",
    ] {
        let live = Arc::new(LiveCounters::default());
        let error = run_closed_loop(&spec(url.parse().unwrap()), Arc::clone(&live));
        assert!(
            matches!(error, Err(LoadError::NotLoopback { .. })),
            "{url}: {error:?}"
        );
        assert_eq!(live.requests.load(Ordering::SeqCst), 0);
        assert_eq!(live.errors.load(Ordering::SeqCst), 0);
    }
}

#[test]
fn rejects_settings_out_of_range() {
    let url: Uri = "http://127.0.0.1:9/".parse().unwrap();
    let mut zero_connections = spec(url.clone());
    zero_connections.connections = 0;
    let mut zero_duration = spec(url.clone());
    zero_duration.duration = Duration::ZERO;
    let mut zero_max = spec(url);
    zero_max.max_requests = Some(0);
    for spec in [zero_connections, zero_duration, zero_max] {
        assert!(matches!(
            run_closed_loop(&spec, Arc::default()),
            Err(LoadError::InvalidSpec(_))
        ));
    }
}

#[test]
fn returns_no_connection_quickly_when_nothing_listens() {
    let port = free_port();
    let spec = spec(format!("http://127.0.0.1:{port}/").parse().unwrap());
    let started = WallClock::now();

    let error = run_closed_loop(&spec, Arc::default()).unwrap_err();

    // Generous: a busy host delays threads, but a generator waiting on a dead server would
    // never return.
    assert!(started.elapsed() < CONNECT_GRACE + SLACK);
    assert!(matches!(error, LoadError::NoConnection { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!("nothing listens on 127.0.0.1:{port}")
    );
}

#[test]
fn ends_on_time_and_counts_timeouts_when_the_server_never_answers() {
    let server = TestServer::start(Behaviour::Silent);
    let mut spec = spec(server.url("/"));
    spec.duration = Duration::from_secs(1);
    spec.request_timeout = Duration::from_millis(200);
    let started = WallClock::now();

    let report = run_closed_loop(&spec, Arc::default()).unwrap();

    assert!(started.elapsed() < spec.duration + SLACK);
    assert_eq!(report.requests, 0);
    assert!(report.errors.timeout >= 2, "{:?}", report.errors);
    assert_eq!(report.elapsed, spec.duration);
    assert!(server.received() >= report.errors.timeout);
}

#[test]
fn keeps_going_with_backoff_and_ends_on_time_when_the_server_dies() {
    let mut server = TestServer::start(Behaviour::Ok("ok"));
    let mut spec = spec(server.url("/"));
    spec.duration = Duration::from_millis(1500);
    let started = WallClock::now();

    let report = std::thread::scope(|scope| {
        let run = scope.spawn(|| run_closed_loop(&spec, Arc::default()));
        std::thread::sleep(Duration::from_millis(500));
        server.stop();
        run.join().unwrap()
    })
    .unwrap();

    assert!(started.elapsed() < spec.duration + SLACK);
    assert!(report.requests > 0);
    assert!(report.errors.connect > 0, "{:?}", report.errors);
    // Without backoff two connections would fail tens of thousands of times in a second.
    assert!(report.errors.connect < 100, "{:?}", report.errors);
    assert_eq!(report.elapsed, spec.duration);
}

#[test]
fn keep_alive_sends_every_request_over_the_first_connections() {
    let server = TestServer::start(Behaviour::Ok("hello"));
    let mut spec = spec(server.url("/"));
    spec.max_requests = Some(200);

    let report = run_closed_loop(&spec, Arc::default()).unwrap();

    assert_eq!(report.requests, 200);
    assert_eq!(server.accepted(), 2);
    assert_eq!(report.connections_opened, 2);
}

#[test]
fn without_keep_alive_every_request_opens_its_own_connection_as_ab_does() {
    let server = TestServer::start(Behaviour::Ok("hello"));
    let mut spec = spec(server.url("/"));
    spec.connections = 4;
    spec.max_requests = Some(200);
    spec.keep_alive = false;

    let report = run_closed_loop(&spec, Arc::default()).unwrap();

    assert_eq!(report.requests, 200);
    assert_eq!(server.received(), 200);
    assert_eq!(
        report.errors,
        ErrorCounts::default(),
        "a close is not an error"
    );
    // One connection per request; a connection may open just before the budget runs out.
    let accepted = server.accepted();
    assert!((200..=204).contains(&accepted), "{accepted} connections");
    assert_eq!(report.connections_opened, accepted);
}

#[test]
fn without_keep_alive_the_open_loop_opens_a_connection_per_request_too() {
    let server = TestServer::start(Behaviour::Ok("hello"));
    let mut spec = spec(server.url("/"));
    spec.duration = Duration::from_secs(1);
    spec.keep_alive = false;

    let report = run_open_loop(&spec, 200.0, Arc::default()).unwrap();

    assert!(report.requests >= 150, "{} requests", report.requests);
    assert_eq!(report.errors.transport(), 0, "{:?}", report.errors);
    // Every request sent (measured or not) had its own connection, and no more were opened
    // than requests plus the connections waiting for their slot at the end.
    let (sent, accepted) = (server.received(), server.accepted());
    assert!(
        accepted >= sent && accepted <= sent + spec.connections as u64,
        "{accepted} connections for {sent} requests"
    );
}

#[test]
fn reopens_connections_the_server_closes_after_each_response() {
    let server = TestServer::start(Behaviour::CloseEach);
    let mut spec = spec(server.url("/"));
    spec.max_requests = Some(50);

    let report = run_closed_loop(&spec, Arc::default()).unwrap();

    assert_eq!(report.requests, 50);
    assert_eq!(server.received(), 50);
    assert!(report.connections_opened >= 50);
}

#[test]
fn every_request_sent_is_warm_up_measured_or_in_flight_at_the_end() {
    let server = TestServer::start(Behaviour::Ok("ok"));
    let mut spec = spec(server.url("/"));
    spec.warmup = Duration::from_millis(300);
    spec.duration = Duration::from_millis(1200);
    let live = Arc::new(LiveCounters::default());

    let report = run_closed_loop(&spec, Arc::clone(&live)).unwrap();

    assert!(report.warmup_requests > 0);
    assert!(report.requests > 0);
    let answered = report.warmup_requests + report.requests;
    let in_flight = server.received() - answered;
    assert!(
        in_flight <= spec.connections as u64,
        "{in_flight} in flight"
    );
    assert_eq!(report.per_second.len(), 1);
    assert!(report.per_second[0] <= report.requests);
    assert_eq!(report.latency_us.len(), report.requests);
    assert_eq!(live.requests.load(Ordering::SeqCst), report.requests);
    assert_eq!(
        live.warmup_requests.load(Ordering::SeqCst),
        report.warmup_requests
    );
    assert!(live.measuring.load(Ordering::SeqCst));
}

#[test]
fn pins_worker_threads_to_the_given_cpus() {
    let cpu = core_affinity::get_core_ids().unwrap()[0].id;
    let server = TestServer::start(Behaviour::Ok("ok"));
    let mut spec = spec(server.url("/"));
    spec.cpus = vec![cpu];
    spec.max_requests = Some(10);

    let report = run_closed_loop(&spec, Arc::default()).unwrap();

    assert_eq!(report.requests, 10);
}

#[test]
fn refuses_a_cpu_that_does_not_exist() {
    let server = TestServer::start(Behaviour::Ok("ok"));
    let mut spec = spec(server.url("/"));
    for cpu in [1023, 100_000] {
        spec.cpus = vec![cpu];

        let error = run_closed_loop(&spec, Arc::default()).unwrap_err();

        assert!(
            matches!(error, LoadError::CpuUnavailable { cpu: refused } if refused == cpu),
            "{error:?}"
        );
    }
    assert_eq!(server.received(), 0);
}

#[test]
fn requests_per_sec_divides_requests_by_the_measured_window() {
    let report = LoadReport {
        requests: 500,
        elapsed: Duration::from_millis(2500),
        latency_us: Histogram::new(SIGFIG).unwrap(),
        service_latency_us: None,
        status_counts: BTreeMap::new(),
        errors: ErrorCounts::default(),
        bytes_received: 0,
        response_bytes: 0,
        per_second: vec![200, 200],
        warmup_requests: 0,
        warmup_errors: 0,
        connections_opened: 1,
        open_loop: None,
    };
    assert_eq!(report.requests_per_sec(), 200.0);
    let empty = LoadReport {
        elapsed: Duration::ZERO,
        ..report
    };
    assert_eq!(empty.requests_per_sec(), 0.0);
}

/// Runs `spec` twice against one [`Behaviour::Stall`] server each: closed, then open loop.
fn stalled_server(open_rate: Option<f64>) -> LoadReport {
    let stall = Duration::from_millis(400);
    let server = TestServer::start(Behaviour::Stall(StallWindow::new(
        Duration::from_millis(200),
        stall,
    )));
    let mut spec = spec(server.url("/"));
    spec.duration = Duration::from_millis(1200);
    match open_rate {
        Some(rate) => run_open_loop(&spec, rate, Arc::default()).unwrap(),
        None => run_closed_loop(&spec, Arc::default()).unwrap(),
    }
}

#[test]
fn closed_loop_percentiles_hide_a_server_stall() {
    let report = stalled_server(None);

    // Each connection waited out the stall once: its one slow request is all that shows.
    assert!(
        report.latency_us.max() >= 300_000,
        "{}",
        report.latency_us.max()
    );
    assert!(
        report.latency_us.value_at_quantile(0.99) < 200_000,
        "p99 {} of {} requests",
        report.latency_us.value_at_quantile(0.99),
        report.requests
    );
    assert!(report.open_loop.is_none());
    assert!(report.service_latency_us.is_none());
}

#[test]
fn open_loop_percentiles_include_a_server_stall_from_the_intended_send_time() {
    let report = stalled_server(Some(1000.0));

    // ~400 of ~1200 requests were due while both connections hung: they count from when
    // they should have gone out, so the stall reaches far into the distribution.
    let p99 = report.latency_us.value_at_quantile(0.99);
    let p90 = report.latency_us.value_at_quantile(0.90);
    assert!(p99 >= 300_000, "p99 {p99}");
    assert!(p90 >= 100_000, "p90 {p90}");
    // Timed from the actual write, only the two hung requests were slow.
    let service = report.service_latency_us.as_ref().unwrap();
    assert!(
        service.value_at_quantile(0.99) < 200_000,
        "{}",
        service.value_at_quantile(0.99)
    );
    let open = report.open_loop.unwrap();
    assert_eq!(open.requested_rate, 1000.0);
    assert_eq!(open.scheduled, 1200);
    assert!(open.queued >= 200, "{open:?}");
    assert!(open.late_sends >= 200, "{open:?}");
    assert!(open.lag_max_us >= 300_000, "{open:?}");
    assert!(open.sent <= open.scheduled, "{open:?}");
}

#[test]
fn open_loop_never_sends_faster_than_the_schedule() {
    let server = TestServer::start(Behaviour::Ok("ok"));
    let mut spec = spec(server.url("/"));
    spec.connections = 4;
    spec.duration = Duration::from_millis(1000);

    let report = run_open_loop(&spec, 400.0, Arc::default()).unwrap();

    let open = report.open_loop.unwrap();
    assert_eq!(open.scheduled, 400);
    assert!(open.sent <= 400, "{open:?}");
    assert!(server.received() <= 400, "{}", server.received());
    assert!(report.requests <= open.sent);
    // Loose: a loaded test machine may lose a few slots at the very end.
    assert!(report.requests >= 300, "{}", report.requests);
    assert_eq!(open.unsent, open.scheduled - open.sent.min(open.scheduled));
    assert_eq!(
        report.service_latency_us.as_ref().unwrap().len(),
        report.requests
    );
}

#[test]
fn open_loop_stops_at_the_request_count() {
    let server = TestServer::start(Behaviour::Ok("ok"));
    let mut spec = spec(server.url("/"));
    spec.max_requests = Some(50);
    let live = Arc::new(LiveCounters::default());

    let report = run_open_loop(&spec, 500.0, Arc::clone(&live)).unwrap();

    assert_eq!(report.requests, 50);
    assert_eq!(server.received(), 50);
    assert!(
        report.elapsed < Duration::from_millis(500),
        "{:?}",
        report.elapsed
    );
    assert_eq!(live.requests.load(Ordering::SeqCst), 50);
}

#[test]
fn open_loop_refuses_a_rate_that_is_not_a_positive_number() {
    let spec = spec("http://127.0.0.1:9/".parse().unwrap());
    for rate in [0.0, -5.0, f64::NAN, f64::INFINITY, 1e12] {
        assert!(
            matches!(
                run_open_loop(&spec, rate, Arc::default()),
                Err(LoadError::InvalidSpec(_))
            ),
            "{rate}"
        );
    }
}

#[test]
fn a_head_request_reads_no_body() {
    let server = TestServer::start(Behaviour::Ok("hello"));
    let mut spec = spec(server.url("/"));
    spec.method = Method::HEAD;
    spec.max_requests = Some(20);

    let report = run_closed_loop(&spec, Arc::default()).unwrap();

    assert_eq!(report.status_counts, BTreeMap::from([(200, 20)]));
    assert_eq!(report.bytes_received, 0);
    assert_eq!(report.connections_opened, 2);
}

/// Index just past the `\r\n\r\n` that ends a head.
fn find_head_end(data: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = data[from..].iter().position(|&b| b == b'\n') {
        let nl = from + at;
        if nl >= 3 && &data[nl - 3..=nl] == b"\r\n\r\n" {
            return Some(nl + 1);
        }
        from = nl + 1;
    }
    None
}

/// A server on raw sockets that answers every request with `response` and, when
/// `close` is set, closes the connection after each answer.
fn raw_server(response: &'static [u8], close: bool) -> SocketAddr {
    raw_server_with_idle_timeout(response, close, None)
}

/// [`raw_server`] that also closes a connection idle for longer than `idle`.
fn raw_server_with_idle_timeout(
    response: &'static [u8],
    close: bool,
    idle: Option<Duration>,
) -> SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            stream.set_read_timeout(idle).unwrap();
            std::thread::spawn(move || {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                loop {
                    let Ok(n) = stream.read(&mut buf) else { return };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    while let Some(end) = find_head_end(&request) {
                        request.drain(..end);
                        // Two writes, so the reader sees the response in pieces.
                        let (a, b) = response.split_at(response.len() / 2);
                        if stream.write_all(a).is_err() {
                            return;
                        }
                        std::thread::sleep(Duration::from_micros(200));
                        if stream.write_all(b).is_err() || close {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn reads_chunked_bodies_delivered_in_pieces() {
    let addr = raw_server(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n",
        false,
    );
    let mut spec = spec(format!("http://{addr}/").parse().unwrap());
    spec.max_requests = Some(30);

    let report = run_closed_loop(&spec, Arc::default()).unwrap();

    assert_eq!(report.status_counts, BTreeMap::from([(200, 30)]));
    assert_eq!(report.bytes_received, 30 * 11);
    assert_eq!(report.errors, ErrorCounts::default());
    assert_eq!(report.connections_opened, 2);
}

#[test]
fn reads_bodies_that_end_when_the_server_closes() {
    let addr = raw_server(
        b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbye-bye",
        true,
    );
    let mut spec = spec(format!("http://{addr}/").parse().unwrap());
    spec.max_requests = Some(20);

    let report = run_closed_loop(&spec, Arc::default()).unwrap();

    assert_eq!(report.status_counts, BTreeMap::from([(200, 20)]));
    assert_eq!(report.bytes_received, 20 * 7);
    assert_eq!(report.errors, ErrorCounts::default());
    assert!(report.connections_opened >= 20);
}

#[test]
fn open_loop_reopens_connections_the_server_closed_while_they_waited() {
    let addr = raw_server_with_idle_timeout(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        false,
        Some(Duration::from_millis(80)),
    );
    let mut spec = spec(format!("http://{addr}/").parse().unwrap());
    spec.connections = 4;
    spec.duration = Duration::from_millis(1500);

    // Each connection sends every 4 / 20 s = 200 ms: idle long enough to be closed.
    let report = run_open_loop(&spec, 20.0, Arc::default()).unwrap();

    assert_eq!(report.errors, ErrorCounts::default());
    assert!(report.requests >= 25, "{}", report.requests);
    assert!(
        report.connections_opened > 8,
        "{}",
        report.connections_opened
    );
}

#[test]
fn counts_garbage_responses_as_io_errors() {
    let addr = raw_server(b"SSH-2.0-OpenSSH_9.2\r\n\r\n", false);
    let mut spec = spec(format!("http://{addr}/").parse().unwrap());
    spec.duration = Duration::from_millis(300);

    let report = run_closed_loop(&spec, Arc::default()).unwrap();

    assert_eq!(report.requests, 0);
    assert!(report.errors.io > 0, "{:?}", report.errors);
    // Garbage is a protocol error, not a reset.
    assert_eq!(report.errors.reset, 0, "{:?}", report.errors);
}

#[test]
fn counts_a_connection_closed_mid_response_as_a_reset() {
    let addr = raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", true);
    let mut spec = spec(format!("http://{addr}/").parse().unwrap());
    spec.duration = Duration::from_millis(300);

    let report = run_closed_loop(&spec, Arc::default()).unwrap();

    assert_eq!(report.requests, 0);
    assert!(report.errors.reset > 0, "{:?}", report.errors);
    assert_eq!(report.errors.reset, report.errors.io, "{:?}", report.errors);
}

#[test]
fn a_stopped_run_ends_within_a_second_and_reports_what_it_measured() {
    let server = TestServer::start(Behaviour::Ok("ok"));
    for rate in [None, Some(2000.0)] {
        let mut spec = spec(server.url("/"));
        spec.duration = Duration::from_secs(60);
        let live = Arc::new(LiveCounters::default());
        let stopper = {
            let live = Arc::clone(&live);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(500));
                live.stop();
                WallClock::now()
            })
        };

        let report = match rate {
            None => run_closed_loop(&spec, Arc::clone(&live)),
            Some(rate) => run_open_loop(&spec, rate, Arc::clone(&live)),
        }
        .unwrap();

        let stopped = stopper.join().unwrap();
        assert!(stopped.elapsed() < Duration::from_secs(1), "{rate:?}");
        assert!(report.requests > 0, "{rate:?}");
        assert!(
            report.elapsed >= Duration::from_millis(400) && report.elapsed < Duration::from_secs(1),
            "{rate:?}: {:?}",
            report.elapsed
        );
        assert_eq!(report.latency_us.len(), report.requests);
    }
}

#[test]
fn a_run_stopped_in_its_warm_up_measures_nothing() {
    let server = TestServer::start(Behaviour::Ok("ok"));
    let mut spec = spec(server.url("/"));
    spec.warmup = Duration::from_secs(30);
    let live = Arc::new(LiveCounters::default());
    let guard = live.stop_on_drop();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        drop(guard);
    });
    let started = WallClock::now();

    let report = run_closed_loop(&spec, Arc::clone(&live)).unwrap();

    stopper.join().unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(report.requests, 0);
    assert_eq!(report.elapsed, Duration::ZERO);
    assert!(report.warmup_requests > 0);
    assert!(!live.measuring.load(Ordering::SeqCst));
}

#[test]
fn a_mixed_run_measures_each_request_kind_apart_and_shows_the_blocked_loop() {
    // One server thread; /compute holds it 30 ms per request, /status is instant.
    let server = TestServer::start(Behaviour::BlockOn("/compute", Duration::from_millis(30)));
    let mut main = spec(server.url("/status"));
    main.connections = 4;
    main.duration = Duration::from_millis(1500);
    main.warmup = Duration::from_millis(200);
    let mut side = spec(server.url("/compute"));
    side.connections = 1;
    // Replaced by the main kind's window.
    side.duration = Duration::from_secs(60);
    let began = WallClock::now();
    let mixed = run_mixed(&main, &side, Arc::default()).unwrap();
    assert!(began.elapsed() < main.warmup + main.duration + SLACK);
    let (status, compute) = (&mixed.main, &mixed.side);
    assert!(
        status.requests > compute.requests,
        "{status:?}\n{compute:?}"
    );
    // Every /compute takes its 30 ms; /status waits behind them (alone it answers in well
    // under a millisecond): the blocked loop shows in /status's own tail, not the compute's.
    assert!(compute.latency_us.min() >= 30_000, "{compute:?}");
    assert!(
        status.latency_us.value_at_quantile(0.99) >= 15_000,
        "{status:?}"
    );
    // Nothing counted twice: the server saw both kinds, warm-up and in-flight included.
    assert!(
        server.received() >= status.requests + status.warmup_requests + compute.requests,
        "{}",
        server.received()
    );
    assert_eq!(compute.errors.total(), 0);
    assert_eq!(status.errors.total(), 0);
}

#[test]
fn stopping_a_mixed_run_stops_both_kinds() {
    let server = TestServer::start(Behaviour::Ok("ok"));
    let mut main = spec(server.url("/status"));
    main.duration = Duration::from_secs(30);
    let side = spec(server.url("/compute"));
    let live = Arc::new(LiveCounters::default());
    let stopper = {
        let live = Arc::clone(&live);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            live.stop();
        })
    };
    let began = WallClock::now();
    let mixed = run_mixed(&main, &side, Arc::clone(&live)).unwrap();
    stopper.join().unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "{:?}",
        began.elapsed()
    );
    assert!(mixed.main.requests > 0 && mixed.side.requests > 0);
}
