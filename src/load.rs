//! Closed-loop HTTP/1.1 load generator.
//!
//! One tokio task per keep-alive connection sends a request, reads the whole response and
//! sends the next one, until the measured window ends (or the optional request count is
//! reached). The hot loop talks to hyper's connection-level client directly
//! ([`hyper::client::conn::http1::handshake`] over a `TcpStream` with `TCP_NODELAY`, one
//! [`SendRequest`] reused per connection), the way oha does. Every connection task owns its
//! own latency histogram and counters; they are merged once, after the run, so the hot path
//! shares nothing but a few relaxed atomics (the [`LiveCounters`] a progress line reads, and
//! the request budget when [`LoadSpec::max_requests`] is set).
//!
//! The generator never formats or prints: it returns a [`LoadReport`] of plain data.
//!
//! Traffic only ever goes to this machine: [`Target::from_url`] refuses every URL whose host is
//! not a loopback IP literal or `localhost`, before anything is sent.
//!
//! # Timeline of a run
//!
//! ```text
//! probe ──▶ start ── warm-up ──▶ warm-up end ── measured window (duration) ──▶ end
//! ```
//!
//! * The probe opens the first connection, retrying for [`CONNECT_GRACE`]; if nothing answers
//!   the run fails with [`LoadError::NoConnection`] before any clock starts.
//! * A response belongs to the phase in which it *completes*: warm-up responses are counted in
//!   [`LoadReport::warmup_requests`], measured ones everywhere else.
//! * Requests still in flight at `end` are abandoned and counted nowhere; each connection has
//!   at most one.
//! * Failures (connect, timeout, I/O) are counted in the phase in which they happen; the
//!   connection is dropped and opened again, with a growing pause after repeated failures so
//!   a dead server does not keep a core busy.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout_at};

/// How long the generator keeps trying to open its first connection before it gives up with
/// [`LoadError::NoConnection`].
pub const CONNECT_GRACE: Duration = Duration::from_secs(1);

/// Pause between attempts to open the first connection.
const PROBE_RETRY: Duration = Duration::from_millis(50);

/// First pause before reconnecting after repeated failures; doubles up to [`BACKOFF_MAX`].
const BACKOFF_START: Duration = Duration::from_millis(10);

/// Longest pause between reconnection attempts.
const BACKOFF_MAX: Duration = Duration::from_millis(250);

/// How often a connection whose request budget is used up checks whether the run is over.
const BUDGET_POLL: Duration = Duration::from_millis(1);

/// How long after the end of the window the coordinator waits for connection tasks before
/// abandoning them. Tasks stop by themselves at the deadline; this is only a safety net.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// CPU ids at or above this cannot be expressed in a Linux `cpu_set_t`.
const CPU_ID_LIMIT: usize = 1024;

/// Significant digits of every latency histogram.
const SIGFIG: u8 = 3;

/// What to send, how hard, and for how long.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Target URL, `http://127.0.0.1:PORT/path?query`; see [`Target::from_url`] for what is
    /// accepted.
    pub url: Uri,
    /// HTTP method of every request.
    pub method: Method,
    /// Request body, sent with `Content-Type: application/json` when present.
    pub body: Option<Bytes>,
    /// Number of keep-alive HTTP/1.1 connections. The loop is closed: each connection sends
    /// its next request as soon as the previous one has been answered.
    pub connections: usize,
    /// Worker threads of the generator's own tokio runtime.
    pub threads: usize,
    /// CPUs to pin the worker threads to, round-robin; empty means no pinning.
    pub cpus: Vec<usize>,
    /// Warm-up before the measured window; responses completing during it are counted apart
    /// and left out of every result.
    pub warmup: Duration,
    /// Length of the measured window after the warm-up; the run stops by itself at its end.
    pub duration: Duration,
    /// Optional bound on the number of measured responses; the run ends early once reached.
    pub max_requests: Option<u64>,
    /// Longest wait for one request (connect, or send and read the whole response).
    pub request_timeout: Duration,
}

/// Counters a caller can poll from another thread while the run goes, e.g. for a progress
/// line. All loads and stores are relaxed; values are exact once the run has returned.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Responses (any status) completed in the measured window so far.
    pub requests: AtomicU64,
    /// Failed requests in the measured window so far: connect, timeout and I/O errors plus
    /// responses with status >= 400.
    pub errors: AtomicU64,
    /// Responses completed during the warm-up.
    pub warmup_requests: AtomicU64,
    /// `true` once the warm-up has ended and the measured window runs.
    pub measuring: AtomicBool,
}

/// Failures counted in the measured window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorCounts {
    /// Connections that could not be opened (refused, unreachable, connect timed out).
    pub connect: u64,
    /// Requests that got no complete response within [`LoadSpec::request_timeout`].
    pub timeout: u64,
    /// Requests lost to a connection reset, closed or broken mid-request.
    pub io: u64,
    /// Responses with status >= 400 (also counted in [`LoadReport::requests`]).
    pub non_success: u64,
}

impl ErrorCounts {
    /// Requests that got no response at all: `connect + timeout + io`.
    #[must_use]
    pub fn transport(&self) -> u64 {
        self.connect + self.timeout + self.io
    }

    /// Every error of every kind, failed responses included.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.transport() + self.non_success
    }

    fn add(&mut self, other: &ErrorCounts) {
        self.connect += other.connect;
        self.timeout += other.timeout;
        self.io += other.io;
        self.non_success += other.non_success;
    }
}

/// Result of one closed-loop run; everything but the `warmup_*` fields covers the measured
/// window only.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Responses (any status) completed in the measured window.
    pub requests: u64,
    /// Length of the measured window: [`LoadSpec::duration`], or less when
    /// [`LoadSpec::max_requests`] was reached first (then it ends at the last response).
    pub elapsed: Duration,
    /// Latency of each measured response in microseconds, from sending the request to having
    /// read the whole body; 3 significant digits.
    pub latency_us: Histogram<u64>,
    /// Measured responses by HTTP status code.
    pub status_counts: BTreeMap<u16, u64>,
    /// Failures in the measured window.
    pub errors: ErrorCounts,
    /// Response body bytes read in the measured window (headers not included).
    pub bytes_received: u64,
    /// Responses completed in each whole second of the measured window; a trailing partial
    /// second is left out.
    pub per_second: Vec<u64>,
    /// Responses completed during the warm-up.
    pub warmup_requests: u64,
    /// Failures (connect, timeout, I/O) during the warm-up.
    pub warmup_errors: u64,
    /// TCP connections opened over the whole run, the first one included. More than
    /// [`LoadSpec::connections`] means connections were closed (by errors or by the server)
    /// and opened again.
    pub connections_opened: u64,
}

impl LoadReport {
    /// Measured responses per second of the measured window; 0 for an empty window.
    #[must_use]
    pub fn requests_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.requests as f64 / secs
        } else {
            0.0
        }
    }
}

/// Why a run could not start.
#[derive(thiserror::Error, Debug)]
pub enum LoadError {
    /// The URL's host is not on this machine; nothing was sent.
    #[error(
        "refusing to send load to {url}: faceoff only loads servers on this machine \
         (127.0.0.1, another loopback address, or localhost)"
    )]
    NotLoopback {
        /// The refused URL.
        url: String,
    },
    /// The URL cannot be used as a target.
    #[error("bad target URL {url}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it and what to use instead.
        reason: String,
    },
    /// A [`LoadSpec`] value is out of range.
    #[error("invalid load settings: {0}")]
    InvalidSpec(String),
    /// A worker thread could not be pinned to a CPU from [`LoadSpec::cpus`].
    #[error(
        "cannot pin the load generator to CPU {cpu}: it does not exist or is outside this \
         process's CPU set"
    )]
    CpuUnavailable {
        /// The CPU that refused the pinning.
        cpu: usize,
    },
    /// Not a single connection could be opened within [`CONNECT_GRACE`].
    #[error("nothing listens on {addr}")]
    NoConnection {
        /// Address the generator tried to connect to.
        addr: SocketAddr,
        /// The last connect error.
        source: io::Error,
    },
    /// The generator's tokio runtime could not be built.
    #[error("cannot start the load generator's runtime")]
    Runtime(#[source] io::Error),
}

/// Where requests go, checked to be on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Socket address to connect to (`localhost` becomes `127.0.0.1`).
    pub addr: SocketAddr,
    /// Value of the `Host` header: the URL's authority, e.g. `127.0.0.1:8080`.
    pub host_header: HeaderValue,
    /// Request target in origin form, e.g. `/items?limit=10`.
    pub path_and_query: Uri,
}

impl Target {
    /// Checks that `url` is a plain `http://` URL on this machine and splits it into what the
    /// generator needs.
    ///
    /// Accepted hosts are loopback IP literals (`127.0.0.0/8`, `[::1]`) and `localhost`,
    /// which is taken as `127.0.0.1` without asking a resolver. The port defaults to 80.
    ///
    /// # Errors
    ///
    /// [`LoadError::NotLoopback`] for any other host, [`LoadError::BadUrl`] for a missing or
    /// non-`http` scheme, user info, port 0 or a missing host.
    pub fn from_url(url: &Uri) -> Result<Self, LoadError> {
        let bad = |reason: &str| LoadError::BadUrl {
            url: url.to_string(),
            reason: reason.to_owned(),
        };
        match url.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(bad(
                    "https is not supported; the servers under test speak plain http",
                ));
            }
            Some(_) | None => return Err(bad("the URL must start with http://")),
        }
        let authority = url
            .authority()
            .ok_or_else(|| bad("the URL has no host; use http://127.0.0.1:PORT/path"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user info (user@host) is not supported"));
        }
        let host = authority.host();
        let ip = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            let literal = host.trim_start_matches('[').trim_end_matches(']');
            match literal.parse::<IpAddr>() {
                Ok(ip) if ip.is_loopback() => ip,
                _ => {
                    return Err(LoadError::NotLoopback {
                        url: url.to_string(),
                    });
                }
            }
        };
        let port = authority.port_u16().unwrap_or(80);
        if port == 0 {
            return Err(bad("port 0 cannot be connected to"));
        }
        let host_header = HeaderValue::from_str(authority.as_str())
            .map_err(|_| bad("the host is not a valid Host header"))?;
        let path_and_query = url
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .parse::<Uri>()
            .map_err(|_| bad("the path is not a valid request target"))?;
        Ok(Target {
            addr: SocketAddr::new(ip, port),
            host_header,
            path_and_query,
        })
    }
}

/// Runs the closed-loop load described by `spec` and returns what was measured.
///
/// Builds its own multi-thread tokio runtime with [`LoadSpec::threads`] workers (pinned to
/// [`LoadSpec::cpus`] round-robin), opens the first connection (retrying for
/// [`CONNECT_GRACE`]), then runs the warm-up and the measured window. It returns on time even
/// when the server stops answering: every request is bounded by
/// [`LoadSpec::request_timeout`] and the whole run by its deadline. `live` is updated while
/// the run goes.
///
/// Blocking: call it from a plain thread or `spawn_blocking`. The load itself runs on a
/// thread of its own, so calling it from inside another runtime does not panic, it only
/// blocks that thread.
///
/// # Errors
///
/// See [`LoadError`]: the URL is refused or malformed, a setting is out of range, a CPU
/// cannot be used, the runtime cannot start, or no connection could be opened at all.
pub fn run_closed_loop(spec: &LoadSpec, live: Arc<LiveCounters>) -> Result<LoadReport, LoadError> {
    let target = Target::from_url(&spec.url)?;
    validate(spec)?;
    std::thread::scope(|scope| {
        let run = std::thread::Builder::new()
            .name("faceoff-load".into())
            .spawn_scoped(scope, move || run_on_own_runtime(spec, target, live))
            .map_err(LoadError::Runtime)?;
        match run.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

fn validate(spec: &LoadSpec) -> Result<(), LoadError> {
    let invalid = |what: &str| Err(LoadError::InvalidSpec(what.to_owned()));
    if spec.connections == 0 {
        return invalid("connections must be at least 1");
    }
    if spec.threads == 0 {
        return invalid("threads must be at least 1");
    }
    if spec.duration.is_zero() {
        return invalid("the measured duration must be longer than 0");
    }
    if spec.request_timeout.is_zero() {
        return invalid("the request timeout must be longer than 0");
    }
    if spec.max_requests == Some(0) {
        return invalid("max requests must be at least 1 when set");
    }
    if let Some(&cpu) = spec.cpus.iter().find(|&&cpu| cpu >= CPU_ID_LIMIT) {
        return Err(LoadError::CpuUnavailable { cpu });
    }
    Ok(())
}

/// Round-robin CPU pinning of the runtime's threads, with a record of the first failure.
struct Pinning {
    cpus: Vec<usize>,
    started: AtomicUsize,
    /// `cpu + 1` of the first CPU that refused a thread; 0 when none did.
    failed: AtomicUsize,
}

impl Pinning {
    fn pin_current_thread(&self) {
        let index = self.started.fetch_add(1, Ordering::SeqCst);
        let cpu = self.cpus[index % self.cpus.len()];
        if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
            let _ = self
                .failed
                .compare_exchange(0, cpu + 1, Ordering::SeqCst, Ordering::SeqCst);
        }
    }

    /// Waits (briefly) until the `workers` worker threads have started and reports a CPU that
    /// could not be used.
    fn check(&self, workers: usize) -> Result<(), LoadError> {
        let give_up = std::time::Instant::now() + Duration::from_secs(2);
        while self.started.load(Ordering::SeqCst) < workers && std::time::Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(1));
        }
        match self.failed.load(Ordering::SeqCst) {
            0 => Ok(()),
            cpu_plus_one => Err(LoadError::CpuUnavailable {
                cpu: cpu_plus_one - 1,
            }),
        }
    }
}

fn run_on_own_runtime(
    spec: &LoadSpec,
    target: Target,
    live: Arc<LiveCounters>,
) -> Result<LoadReport, LoadError> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder
        .worker_threads(spec.threads)
        .thread_name("faceoff-load-worker")
        .enable_all();
    let pinning = (!spec.cpus.is_empty()).then(|| {
        Arc::new(Pinning {
            cpus: spec.cpus.clone(),
            started: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
        })
    });
    if let Some(pinning) = &pinning {
        let pinning = Arc::clone(pinning);
        builder.on_thread_start(move || pinning.pin_current_thread());
    }
    let runtime = builder.build().map_err(LoadError::Runtime)?;
    if let Some(pinning) = &pinning {
        pinning.check(spec.threads)?;
    }
    runtime.block_on(coordinate(spec, target, live))
}

/// Everything the connection tasks share; read-only except for the atomics.
struct Shared {
    addr: SocketAddr,
    request: RequestTemplate,
    request_timeout: Duration,
    warmup_end: Instant,
    end: Instant,
    /// Request budget when [`LoadSpec::max_requests`] is set.
    budget: Option<Budget>,
    /// Length of each task's per-second vector (whole seconds of the window plus one).
    seconds: usize,
    live: Arc<LiveCounters>,
}

/// Shared request budget: a slot is taken before a measured request is sent (or, for a
/// request sent during warm-up, when it completes in the window) and given back when the
/// request fails, so the number of measured responses never exceeds the bound and every
/// request the server answers is counted.
struct Budget {
    max: u64,
    taken: AtomicU64,
    done: AtomicU64,
}

impl Budget {
    fn take(&self) -> bool {
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| {
                (taken < self.max).then_some(taken + 1)
            })
            .is_ok()
    }

    fn give_back(&self) {
        self.taken.fetch_sub(1, Ordering::AcqRel);
    }

    fn complete(&self) {
        self.done.fetch_add(1, Ordering::AcqRel);
    }

    fn exhausted(&self) -> bool {
        self.done.load(Ordering::Acquire) >= self.max
    }
}

/// The request every connection sends, prepared once.
struct RequestTemplate {
    method: Method,
    path_and_query: Uri,
    host: HeaderValue,
    body: Option<Bytes>,
}

impl RequestTemplate {
    fn build(&self) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone().unwrap_or_default()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.path_and_query.clone();
        let headers = request.headers_mut();
        headers.insert(HOST, self.host.clone());
        if self.body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        request
    }
}

async fn coordinate(
    spec: &LoadSpec,
    target: Target,
    live: Arc<LiveCounters>,
) -> Result<LoadReport, LoadError> {
    let first = probe(target.addr, spec.request_timeout).await?;

    let start = Instant::now();
    let warmup_end = start + spec.warmup;
    let end = warmup_end + spec.duration;
    let shared = Arc::new(Shared {
        addr: target.addr,
        request: RequestTemplate {
            method: spec.method.clone(),
            path_and_query: target.path_and_query,
            host: target.host_header,
            body: spec.body.clone(),
        },
        request_timeout: spec.request_timeout,
        warmup_end,
        end,
        budget: spec.max_requests.map(|max| Budget {
            max,
            taken: AtomicU64::new(0),
            done: AtomicU64::new(0),
        }),
        seconds: usize::try_from(spec.duration.as_secs())
            .unwrap_or(usize::MAX - 1)
            .saturating_add(1),
        live: Arc::clone(&live),
    });

    let marker = {
        let live = Arc::clone(&live);
        tokio::spawn(async move {
            sleep_until(warmup_end).await;
            live.measuring.store(true, Ordering::Relaxed);
        })
    };

    let mut first = Some(first);
    let mut tasks: Vec<JoinHandle<ConnStats>> = (0..spec.connections)
        .map(|_| tokio::spawn(drive_connection(Arc::clone(&shared), first.take())))
        .collect();

    let mut finished = Vec::with_capacity(tasks.len());
    for task in &mut tasks {
        match timeout_at(end + SHUTDOWN_GRACE, &mut *task).await {
            Ok(Ok(stats)) => finished.push(stats),
            Ok(Err(join_error)) => match join_error.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_cancelled) => {}
            },
            // Only a starved runtime gets here; the task's counts are lost.
            Err(_late) => task.abort(),
        }
    }
    marker.abort();
    if Instant::now() >= warmup_end {
        live.measuring.store(true, Ordering::Relaxed);
    }

    Ok(merge(spec, &shared, finished))
}

/// Opens the first connection, retrying for [`CONNECT_GRACE`].
async fn probe(addr: SocketAddr, connect_timeout: Duration) -> Result<TcpStream, LoadError> {
    let give_up = Instant::now() + CONNECT_GRACE;
    loop {
        let attempt_end = (Instant::now() + connect_timeout).min(give_up);
        let error = match timeout_at(attempt_end, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(error)) => error,
            Err(_elapsed) => io::Error::new(io::ErrorKind::TimedOut, "connect timed out"),
        };
        if Instant::now() + PROBE_RETRY >= give_up {
            return Err(LoadError::NoConnection {
                addr,
                source: error,
            });
        }
        tokio::time::sleep(PROBE_RETRY).await;
    }
}

/// One open HTTP/1.1 connection. Dropping it closes the socket.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
    /// Whether a response has been read on it; a connection closed after answering is a
    /// normal keep-alive close, one closed before is an error.
    answered: bool,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

enum OpenError {
    /// Counted as a connect error.
    Failed,
    /// The run's deadline came first.
    Deadline,
}

async fn open(shared: &Shared, ready: Option<TcpStream>) -> Result<Conn, OpenError> {
    let stream = match ready {
        Some(stream) => stream,
        None => {
            let timeout = Instant::now() + shared.request_timeout;
            match timeout_at(timeout.min(shared.end), TcpStream::connect(shared.addr)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(_)) => return Err(OpenError::Failed),
                Err(_) if timeout <= shared.end => return Err(OpenError::Failed),
                Err(_) => return Err(OpenError::Deadline),
            }
        }
    };
    stream.set_nodelay(true).map_err(|_| OpenError::Failed)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| OpenError::Failed)?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(Conn {
        sender,
        driver,
        answered: false,
    })
}

/// Sends one request and reads the whole response; returns status and body bytes.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> Result<(u16, u64), hyper::Error> {
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut bytes = 0u64;
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame?.data_ref() {
            bytes += data.len() as u64;
        }
    }
    Ok((status, bytes))
}

/// Pause before the next connection attempt after `failures` failures in a row: none after
/// the first (a reset keep-alive connection is simply reopened), then growing.
fn backoff(failures: u32) -> Duration {
    match failures {
        0 | 1 => Duration::ZERO,
        n => BACKOFF_START
            .saturating_mul(1 << (n - 2).min(16))
            .min(BACKOFF_MAX),
    }
}

/// Kinds of failures a connection task counts.
#[derive(Clone, Copy)]
enum Failure {
    Connect,
    Timeout,
    Io,
}

/// What one connection task measured.
struct ConnStats {
    latency_us: Histogram<u32>,
    requests: u64,
    statuses: Vec<(u16, u64)>,
    errors: ErrorCounts,
    bytes: u64,
    per_second: Vec<u64>,
    warmup_requests: u64,
    warmup_errors: u64,
    connections_opened: u64,
    last_measured: Option<Instant>,
}

impl ConnStats {
    fn new(seconds: usize) -> Self {
        ConnStats {
            latency_us: Histogram::new(SIGFIG).expect("3 significant digits are valid"),
            requests: 0,
            statuses: Vec::new(),
            errors: ErrorCounts::default(),
            bytes: 0,
            per_second: vec![0; seconds],
            warmup_requests: 0,
            warmup_errors: 0,
            connections_opened: 0,
            last_measured: None,
        }
    }

    fn failure(&mut self, shared: &Shared, kind: Failure) {
        if Instant::now() < shared.warmup_end {
            self.warmup_errors += 1;
            return;
        }
        match kind {
            Failure::Connect => self.errors.connect += 1,
            Failure::Timeout => self.errors.timeout += 1,
            Failure::Io => self.errors.io += 1,
        }
        shared.live.errors.fetch_add(1, Ordering::Relaxed);
    }

    fn warmup_response(&mut self, shared: &Shared) {
        self.warmup_requests += 1;
        shared.live.warmup_requests.fetch_add(1, Ordering::Relaxed);
    }

    fn measured_response(
        &mut self,
        shared: &Shared,
        sent: Instant,
        done: Instant,
        status: u16,
        bytes: u64,
    ) {
        let micros = u64::try_from((done - sent).as_micros()).unwrap_or(u64::MAX);
        // An auto-resizing histogram only refuses values beyond u64 range.
        let _ = self.latency_us.record(micros);
        self.requests += 1;
        self.bytes += bytes;
        let second = usize::try_from((done - shared.warmup_end).as_secs()).unwrap_or(usize::MAX);
        let last = self.per_second.len() - 1;
        self.per_second[second.min(last)] += 1;
        match self.statuses.iter_mut().find(|(code, _)| *code == status) {
            Some((_, count)) => *count += 1,
            None => self.statuses.push((status, 1)),
        }
        self.last_measured = Some(done);
        shared.live.requests.fetch_add(1, Ordering::Relaxed);
        if status >= 400 {
            self.errors.non_success += 1;
            shared.live.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The closed loop of one connection: send, read the whole response, repeat until the end.
async fn drive_connection(shared: Arc<Shared>, mut first: Option<TcpStream>) -> ConnStats {
    let shared = &*shared;
    let mut stats = ConnStats::new(shared.seconds);
    let mut conn: Option<Conn> = None;
    let mut failures: u32 = 0;

    loop {
        if Instant::now() >= shared.end {
            break;
        }
        let conn_ref = match &mut conn {
            Some(conn) => conn,
            None => {
                let pause = backoff(failures);
                if !pause.is_zero() {
                    let wake = Instant::now() + pause;
                    if wake >= shared.end {
                        break;
                    }
                    sleep_until(wake).await;
                }
                match open(shared, first.take()).await {
                    Ok(opened) => {
                        stats.connections_opened += 1;
                        conn.insert(opened)
                    }
                    Err(OpenError::Failed) => {
                        stats.failure(shared, Failure::Connect);
                        failures += 1;
                        continue;
                    }
                    Err(OpenError::Deadline) => break,
                }
            }
        };

        match timeout_at(shared.end, conn_ref.sender.ready()).await {
            Ok(Ok(())) => {}
            Ok(Err(_closed)) => {
                if !conn_ref.answered {
                    stats.failure(shared, Failure::Io);
                    failures += 1;
                }
                conn = None;
                continue;
            }
            Err(_deadline) => break,
        }

        let sent_in_window = Instant::now() >= shared.warmup_end;
        let mut holds_slot = false;
        if let (true, Some(budget)) = (sent_in_window, &shared.budget) {
            if !budget.take() {
                if budget.exhausted() {
                    break;
                }
                // Other connections hold the remaining slots; one may give its slot back.
                let wake = (Instant::now() + BUDGET_POLL).min(shared.end);
                sleep_until(wake).await;
                continue;
            }
            holds_slot = true;
        }

        let sent = Instant::now();
        let timeout = sent + shared.request_timeout;
        let outcome = timeout_at(
            timeout.min(shared.end),
            exchange(&mut conn_ref.sender, shared.request.build()),
        )
        .await;
        let done = Instant::now();

        let failure = match outcome {
            Ok(Ok((status, bytes))) => {
                failures = 0;
                conn_ref.answered = true;
                let measured = if done < shared.warmup_end {
                    false
                } else if holds_slot {
                    true
                } else {
                    // Sent during warm-up, completed in the window: it needs a slot too.
                    shared.budget.as_ref().is_none_or(Budget::take)
                };
                if measured {
                    stats.measured_response(shared, sent, done, status, bytes);
                    if let Some(budget) = &shared.budget {
                        budget.complete();
                    }
                } else {
                    stats.warmup_response(shared);
                }
                continue;
            }
            Ok(Err(_io)) => Failure::Io,
            Err(_elapsed) if timeout <= shared.end => Failure::Timeout,
            // Still in flight when the window closed: counted nowhere.
            Err(_deadline) => break,
        };
        if holds_slot {
            if let Some(budget) = &shared.budget {
                budget.give_back();
            }
        }
        stats.failure(shared, failure);
        failures += 1;
        conn = None;
    }
    stats
}

fn merge(spec: &LoadSpec, shared: &Shared, finished: Vec<ConnStats>) -> LoadReport {
    let mut latency_us = Histogram::<u64>::new(SIGFIG).expect("3 significant digits are valid");
    let mut status_counts = BTreeMap::new();
    let mut errors = ErrorCounts::default();
    let mut per_second = vec![0u64; shared.seconds];
    let mut report_requests = 0;
    let mut bytes_received = 0;
    let mut warmup_requests = 0;
    let mut warmup_errors = 0;
    let mut connections_opened = 0;
    let mut last_measured: Option<Instant> = None;

    for stats in finished {
        for value in stats.latency_us.iter_recorded() {
            let _ = latency_us.record_n(value.value_iterated_to(), value.count_at_value().into());
        }
        for (status, count) in stats.statuses {
            *status_counts.entry(status).or_insert(0) += count;
        }
        errors.add(&stats.errors);
        for (total, count) in per_second.iter_mut().zip(&stats.per_second) {
            *total += count;
        }
        report_requests += stats.requests;
        bytes_received += stats.bytes;
        warmup_requests += stats.warmup_requests;
        warmup_errors += stats.warmup_errors;
        connections_opened += stats.connections_opened;
        last_measured = last_measured.max(stats.last_measured);
    }

    let reached_max = spec.max_requests.is_some_and(|max| report_requests >= max);
    let elapsed = match last_measured {
        Some(last) if reached_max => (last - shared.warmup_end).min(spec.duration),
        _ => spec.duration,
    };
    per_second.truncate(usize::try_from(elapsed.as_secs()).unwrap_or(usize::MAX));

    LoadReport {
        requests: report_requests,
        elapsed,
        latency_us,
        status_counts,
        errors,
        bytes_received,
        per_second,
        warmup_requests,
        warmup_errors,
        connections_opened,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::convert::Infallible;
    use std::time::Instant as WallClock;

    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use hyper::{Response, StatusCode};

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
    }

    /// A tiny hyper server on 127.0.0.1:0 that counts the requests it receives.
    struct TestServer {
        addr: SocketAddr,
        received: Arc<AtomicU64>,
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
            runtime.spawn(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
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
                runtime: Some(runtime),
            }
        }

        fn url(&self, path: &str) -> Uri {
            format!("http://{}{path}", self.addr).parse().unwrap()
        }

        fn received(&self) -> u64 {
            self.received.load(Ordering::SeqCst)
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
    fn accepts_loopback_literals_and_localhost() {
        let target = Target::from_url(&"http://127.0.0.1:8080/a?b=c".parse().unwrap()).unwrap();
        assert_eq!(target.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(target.host_header, "127.0.0.1:8080");
        assert_eq!(target.path_and_query, "/a?b=c");

        let target = Target::from_url(&"http://localhost:3000".parse().unwrap()).unwrap();
        assert_eq!(target.addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(target.host_header, "localhost:3000");
        assert_eq!(target.path_and_query, "/");

        let target = Target::from_url(&"http://[::1]:9000/".parse().unwrap()).unwrap();
        assert_eq!(target.addr, "[::1]:9000".parse().unwrap());

        let target = Target::from_url(&"http://127.1.2.3/".parse().unwrap()).unwrap();
        assert_eq!(target.addr, "127.1.2.3:80".parse().unwrap());
    }

    #[test]
    fn rejects_urls_it_cannot_load() {
        for url in [
            "https://127.0.0.1/",
            "ftp://127.0.0.1/",
            "http://user@127.0.0.1:80/",
            "http://127.0.0.1:0/",
            "/only/a/path",
        ] {
            let error = Target::from_url(&url.parse().unwrap());
            assert!(
                matches!(error, Err(LoadError::BadUrl { .. })),
                "{url}: {error:?}"
            );
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

        assert!(started.elapsed() < CONNECT_GRACE + Duration::from_secs(1));
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

        assert!(started.elapsed() < spec.duration + Duration::from_secs(1));
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

        assert!(started.elapsed() < spec.duration + Duration::from_secs(1));
        assert!(report.requests > 0);
        assert!(report.errors.connect > 0, "{:?}", report.errors);
        // Without backoff two connections would fail tens of thousands of times in a second.
        assert!(report.errors.connect < 100, "{:?}", report.errors);
        assert_eq!(report.elapsed, spec.duration);
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
            status_counts: BTreeMap::new(),
            errors: ErrorCounts::default(),
            bytes_received: 0,
            per_second: vec![200, 200],
            warmup_requests: 0,
            warmup_errors: 0,
            connections_opened: 1,
        };
        assert_eq!(report.requests_per_sec(), 200.0);
        let empty = LoadReport {
            elapsed: Duration::ZERO,
            ..report
        };
        assert_eq!(empty.requests_per_sec(), 0.0);
    }

    #[test]
    fn backoff_grows_after_repeated_failures_and_stays_small() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::ZERO);
        assert_eq!(backoff(2), BACKOFF_START);
        assert_eq!(backoff(3), BACKOFF_START * 2);
        assert_eq!(backoff(40), BACKOFF_MAX);
    }
}
