//! HTTP/1.1 load generator: closed loop (fixed connections, as fast as the server answers) and
//! open loop (constant arrival rate, wrk2-style, with coordinated-omission correction).
//!
//! # How it is built
//!
//! The generator starts [`LoadSpec::threads`] worker threads, each pinned to a CPU from
//! [`LoadSpec::cpus`] and running its own single-threaded tokio runtime, the way wrk runs one
//! event loop per thread. The connections are dealt out to the workers round-robin; each
//! connection is one task on its worker and never moves. A connection is a plain `TcpStream`
//! (`TCP_NODELAY`) driven by that task alone: the request is serialized once, before the run,
//! and written with one `write` call; the response is read into a small per-connection buffer
//! and parsed by a minimal HTTP/1.1 response parser (status line, `Content-Length`,
//! `Transfer-Encoding: chunked`, `Connection`, bodies delimited by the server closing). There
//! is no connection-driver task, no request or header-map allocation and no per-request timer
//! registration: the request timeout is one timer per connection that is only re-armed when it
//! fires. Steady state, a request costs one `send`, one `recv` and two clock reads; the event
//! loop's `epoll_wait` is shared by all ready connections.
//!
//! Every worker owns one latency histogram and one set of counters shared by its connections;
//! they are merged once, after the run. The only data shared between workers are a few relaxed
//! atomics: the [`LiveCounters`] a progress line reads (flushed every 50 ms), the request budget
//! when [`LoadSpec::max_requests`] is set, and the open-loop schedule.
//!
//! The generator never formats or prints: it returns a [`LoadReport`] of plain data, and facts
//! worth a warning (a rate that could not be kept, sends that lagged) stay data in it.
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
//!
//! # Open loop
//!
//! [`run_open_loop`] sends requests at a constant rate, whatever the server does: slot `k` of
//! one schedule shared by all connections is due at `start + k / rate`. A connection that is
//! free takes the next slot, waits until it is due and sends it. When every connection is busy
//! (a slow or stalled server, or too few connections for the rate), due slots queue up and are
//! sent as soon as a connection frees up, late. Waits end on time to the microsecond (by
//! the pacer: a `timerfd` per worker, where tokio's timer would be a millisecond late); a
//! connection the server closed while it waited is reopened before sending.
//!
//! The latency of a request that was due before its connection was free to send it is measured
//! from its *intended* send time, as wrk2 does: the wait in the queue is part of what a client
//! arriving on schedule would have seen, so a stalled server shows in the percentiles instead
//! of being omitted. A request whose connection was idle and waiting for its slot is timed
//! from when it was written: the only lag there is the generator's own timer (about 1 ms of
//! granularity), and charging that to the server would bury sub-millisecond latencies. Both
//! kinds of lag are reported in [`OpenLoopStats`], with the latency from the actual write kept
//! apart in [`LoadReport::service_latency_us`].

use std::cell::{Cell, RefCell};
use std::cmp::{Ordering as CmpOrdering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};
use std::future::{Future, poll_fn};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use hyper::header::HeaderValue;
use hyper::{Method, Uri};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::{JoinHandle, LocalSet};
use tokio::time::{Instant, Sleep, sleep_until, timeout_at};

/// How long the generator keeps trying to open its first connection before it gives up with
/// [`LoadError::NoConnection`].
pub const CONNECT_GRACE: Duration = Duration::from_secs(1);

/// An open-loop send more than this behind its intended time counts as late in
/// [`OpenLoopStats::late_sends`].
pub const LATE_SEND: Duration = Duration::from_millis(1);

/// File descriptors the generator keeps for itself beyond one per connection (runtime,
/// standard streams, the caller's own files).
pub const FD_MARGIN: u64 = 64;

/// Pause between attempts to open the first connection.
const PROBE_RETRY: Duration = Duration::from_millis(50);

/// First pause before reconnecting after repeated failures; doubles up to [`BACKOFF_MAX`].
const BACKOFF_START: Duration = Duration::from_millis(10);

/// Longest pause between reconnection attempts.
const BACKOFF_MAX: Duration = Duration::from_millis(250);

/// How often a connection whose request budget is used up checks whether the run is over.
const BUDGET_POLL: Duration = Duration::from_millis(1);

/// How often each worker adds its counts to the [`LiveCounters`].
const LIVE_FLUSH: Duration = Duration::from_millis(50);

/// How long after the end of the window a worker waits for its connection tasks before
/// abandoning them. Tasks stop by themselves at the deadline; this is only a safety net.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// CPU ids at or above this cannot be expressed in a Linux `cpu_set_t`.
const CPU_ID_LIMIT: usize = 1024;

/// Significant digits of every latency histogram.
const SIGFIG: u8 = 3;

/// Initial size of each connection's read buffer; it grows only for larger response heads.
const READ_BUFFER: usize = 2048;

/// Largest response head (status line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;

/// Longest chunk-size or trailer line accepted in a chunked body.
const MAX_CHUNK_LINE: usize = 4096;

/// Highest open-loop rate accepted, in requests per second.
const MAX_RATE: f64 = 10_000_000.0;

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
    /// Number of keep-alive HTTP/1.1 connections. In the closed loop each connection sends its
    /// next request as soon as the previous one has been answered; in the open loop they share
    /// the schedule.
    pub connections: usize,
    /// Worker threads of the generator, each with its own event loop and its share of the
    /// connections (more threads than connections are not started).
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
/// line. Workers add to them every 50 ms; values are exact once the run has returned.
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
    /// Requests lost to a connection reset, closed or broken mid-request, or answered with
    /// something that is not HTTP/1.x.
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

/// How well an open-loop run kept its schedule, over the measured window.
///
/// A send is *late* when it went out more than [`LATE_SEND`] after its intended time; late
/// sends, a large `lag_max_us`, `unsent > 0` or `achieved_rate` well below `requested_rate`
/// mean the generator or its connections could not keep the rate, and the latencies describe
/// a lighter load than the one requested.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OpenLoopStats {
    /// The rate asked for, requests per second over all connections.
    pub requested_rate: f64,
    /// Requests actually written in the measured window, per second of it.
    pub achieved_rate: f64,
    /// Slots of the schedule whose intended send time fell in the measured window.
    pub scheduled: u64,
    /// Requests written in the measured window.
    pub sent: u64,
    /// Slots due in the measured window that were never sent: every connection was busy until
    /// the end.
    pub unsent: u64,
    /// Sends (in the window) that were already due when their connection became free, so
    /// their latency counts from the intended time.
    pub queued: u64,
    /// Mean delay between intended and actual send, microseconds.
    pub lag_mean_us: f64,
    /// Longest delay between intended and actual send, microseconds.
    pub lag_max_us: u64,
    /// Sends more than [`LATE_SEND`] behind their intended time.
    pub late_sends: u64,
}

/// Result of one run; everything but the `warmup_*` fields covers the measured window only.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Responses (any status) completed in the measured window.
    pub requests: u64,
    /// Length of the measured window: [`LoadSpec::duration`], or less when
    /// [`LoadSpec::max_requests`] was reached first (then it ends at the last response).
    pub elapsed: Duration,
    /// Latency of each measured response in microseconds, up to having read the whole body;
    /// 3 significant digits. Closed loop: from writing the request. Open loop: from its
    /// intended send time when it had to queue for a connection, else from writing it (see
    /// the module documentation).
    pub latency_us: Histogram<u64>,
    /// Open loop only: the latency of the same responses from writing the request, without
    /// the correction — what a closed-loop tool would report.
    pub service_latency_us: Option<Histogram<u64>>,
    /// Measured responses by HTTP status code.
    pub status_counts: BTreeMap<u16, u64>,
    /// Failures in the measured window.
    pub errors: ErrorCounts,
    /// Response body bytes read in the measured window (headers and chunk framing not
    /// included).
    pub bytes_received: u64,
    /// Bytes of the measured responses as they came over the wire, headers included (what
    /// wrk reports as "read").
    pub response_bytes: u64,
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
    /// Open loop only: the requested and achieved rate and how far sends lagged.
    pub open_loop: Option<OpenLoopStats>,
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
    /// The open-file limit is too low for the connections, even after raising the soft limit
    /// to the hard limit.
    #[error(
        "{connections} connections need {needed} open files, but this process may open only \
         {limit}; raise the limit with `ulimit -n {needed}` (or in /etc/security/limits.conf) \
         and run again, or use fewer connections"
    )]
    FdLimit {
        /// Connections asked for.
        connections: usize,
        /// File descriptors needed: one per connection plus [`FD_MARGIN`].
        needed: u64,
        /// The limit in force (the hard limit, or the soft one if it could not be raised).
        limit: u64,
    },
    /// Not a single connection could be opened within [`CONNECT_GRACE`].
    #[error("nothing listens on {addr}")]
    NoConnection {
        /// Address the generator tried to connect to.
        addr: SocketAddr,
        /// The last connect error.
        source: io::Error,
    },
    /// A worker thread or its tokio runtime could not be started.
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
/// Starts [`LoadSpec::threads`] worker threads (pinned to [`LoadSpec::cpus`] round-robin),
/// opens the first connection (retrying for [`CONNECT_GRACE`]), then runs the warm-up and the
/// measured window. It returns on time even when the server stops answering: every request is
/// bounded by [`LoadSpec::request_timeout`] and the whole run by its deadline. `live` is
/// updated while the run goes.
///
/// Raises the soft open-file limit when the connections need it (see [`ensure_fd_limit`]).
///
/// Blocking: call it from a plain thread or `spawn_blocking`. The load runs on threads of its
/// own, so calling it from inside another runtime does not panic, it only blocks that thread.
///
/// # Errors
///
/// See [`LoadError`]: the URL is refused or malformed, a setting is out of range, the
/// open-file limit is too low, a CPU cannot be used, a worker cannot start, or no connection
/// could be opened at all.
pub fn run_closed_loop(spec: &LoadSpec, live: Arc<LiveCounters>) -> Result<LoadReport, LoadError> {
    run(spec, None, live)
}

/// Runs an open-loop load: `rate` requests per second over all of [`LoadSpec::connections`],
/// on a fixed schedule, whatever the server does (see the module documentation for how
/// latency is corrected for coordinated omission).
///
/// Everything else is as in [`run_closed_loop`]: the same bounds in time and count, warm-up,
/// errors and live counters. The report carries [`LoadReport::open_loop`] (requested and
/// achieved rate, schedule lag) and [`LoadReport::service_latency_us`]. Give it enough
/// connections for the rate: about `rate × latency` are busy at any time, and a schedule
/// with too few shows as lag and `unsent` slots, not as an error.
///
/// # Errors
///
/// As [`run_closed_loop`], plus [`LoadError::InvalidSpec`] for a rate that is not a finite
/// number above 0 (and at most 10 million).
pub fn run_open_loop(
    spec: &LoadSpec,
    rate: f64,
    live: Arc<LiveCounters>,
) -> Result<LoadReport, LoadError> {
    if !rate.is_finite() || rate <= 0.0 || rate > MAX_RATE {
        return Err(LoadError::InvalidSpec(format!(
            "the rate must be a number of requests per second above 0 and at most {MAX_RATE}, \
             not {rate}"
        )));
    }
    run(spec, Some(rate), live)
}

/// Makes sure this process may open `connections` sockets plus [`FD_MARGIN`] files: when the
/// soft `RLIMIT_NOFILE` is lower, raises it to the hard limit (and the hard limit itself
/// when the process may, as root may). Returns the soft limit now in force.
///
/// # Errors
///
/// [`LoadError::FdLimit`] when even the hard limit is too low (or the soft one cannot be
/// raised); the message says how to raise it.
pub fn ensure_fd_limit(connections: usize) -> Result<u64, LoadError> {
    let needed = (connections as u64).saturating_add(FD_MARGIN);
    let Some((soft, hard)) = open_file_limits() else {
        // The limit cannot be read; connects will fail and be counted if it is too low.
        return Ok(needed);
    };
    if soft == libc::RLIM_INFINITY || soft >= needed {
        return Ok(soft);
    }
    // A privileged process (CAP_SYS_RESOURCE, e.g. root) may raise the hard limit too, up
    // to the kernel's fs.nr_open; elsewhere this fails and the hard limit stays the bound.
    let hard = if hard != libc::RLIM_INFINITY && hard < needed {
        let raised = libc::rlimit {
            rlim_cur: soft,
            rlim_max: needed,
        };
        // SAFETY: setrlimit only reads the struct we pass, which lives for the call.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const raised) } == 0 {
            needed
        } else {
            hard
        }
    } else {
        hard
    };
    let target = if hard == libc::RLIM_INFINITY {
        needed
    } else {
        hard
    };
    let raised = libc::rlimit {
        rlim_cur: target,
        rlim_max: hard,
    };
    // SAFETY: setrlimit only reads the struct we pass, which lives for the call.
    let ok = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const raised) } == 0;
    let now = if ok { target } else { soft };
    if now >= needed {
        Ok(now)
    } else {
        Err(LoadError::FdLimit {
            connections,
            needed,
            limit: now,
        })
    }
}

/// The soft and hard `RLIMIT_NOFILE` of this process, `None` when they cannot be read.
/// `u64::MAX` stands for no limit.
#[must_use]
pub fn open_file_limits() -> Option<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass, which lives for the call.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) } == 0)
        .then_some((limit.rlim_cur, limit.rlim_max))
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

/// The request every connection sends, serialized once: request line, `Host`, and for a body
/// `Content-Type: application/json` and `Content-Length`.
fn serialize_request(method: &Method, target: &Target, body: Option<&Bytes>) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + body.map_or(0, Bytes::len));
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.path_and_query.to_string().as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(target.host_header.as_bytes());
    out.extend_from_slice(b"\r\n");
    match body {
        Some(body) => {
            out.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: ");
            out.extend_from_slice(body.len().to_string().as_bytes());
            out.extend_from_slice(b"\r\n\r\n");
            out.extend_from_slice(body);
        }
        None if matches!(*method, Method::POST | Method::PUT | Method::PATCH) => {
            out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        }
        None => out.extend_from_slice(b"\r\n"),
    }
    out
}

/// Opens the first connection, retrying for [`CONNECT_GRACE`].
fn probe(addr: SocketAddr, connect_timeout: Duration) -> Result<std::net::TcpStream, LoadError> {
    let give_up = std::time::Instant::now() + CONNECT_GRACE;
    loop {
        let left = give_up.saturating_duration_since(std::time::Instant::now());
        let attempt = connect_timeout.min(left).max(Duration::from_millis(1));
        let error = match std::net::TcpStream::connect_timeout(&addr, attempt) {
            Ok(stream) => match stream.set_nonblocking(true) {
                Ok(()) => return Ok(stream),
                Err(error) => error,
            },
            Err(error) => error,
        };
        if std::time::Instant::now() + PROBE_RETRY >= give_up {
            return Err(LoadError::NoConnection {
                addr,
                source: error,
            });
        }
        std::thread::sleep(PROBE_RETRY);
    }
}

/// The clock of one run, fixed when the workers are told to start.
#[derive(Clone, Copy)]
struct Timeline {
    start: Instant,
    warmup_end: Instant,
    end: Instant,
}

/// What the workers share; read-only except for the atomics.
struct Shared {
    addr: SocketAddr,
    /// The serialized request.
    request: Vec<u8>,
    /// The request is a `HEAD`: responses have no body whatever their headers say.
    head_request: bool,
    request_timeout: Duration,
    /// Request budget when [`LoadSpec::max_requests`] is set.
    budget: Option<Budget>,
    /// The open-loop schedule; `None` for the closed loop.
    schedule: Option<Schedule>,
    /// Length of each worker's per-second vector (whole seconds of the window plus one).
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

/// The open-loop schedule: slot `k` is due `k × interval` after the start. Connections take
/// slots in order, each when it is free.
struct Schedule {
    rate: f64,
    interval_ns: f64,
    next: AtomicU64,
}

impl Schedule {
    fn new(rate: f64) -> Self {
        Schedule {
            rate,
            interval_ns: 1e9 / rate,
            next: AtomicU64::new(0),
        }
    }

    fn claim(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    fn offset(&self, slot: u64) -> Duration {
        Duration::from_nanos((slot as f64 * self.interval_ns) as u64)
    }

    /// Slots due strictly before `offset` from the start.
    fn due_before(&self, offset: Duration) -> u64 {
        (offset.as_nanos() as f64 / self.interval_ns).ceil() as u64
    }
}

/// What a worker thread is told once every worker is ready.
enum Go {
    Start(Timeline),
    Abort,
}

fn run(
    spec: &LoadSpec,
    rate: Option<f64>,
    live: Arc<LiveCounters>,
) -> Result<LoadReport, LoadError> {
    let target = Target::from_url(&spec.url)?;
    validate(spec)?;
    ensure_fd_limit(spec.connections)?;
    let first = probe(target.addr, spec.request_timeout)?;

    let shared = Arc::new(Shared {
        addr: target.addr,
        request: serialize_request(&spec.method, &target, spec.body.as_ref()),
        head_request: spec.method == Method::HEAD,
        request_timeout: spec.request_timeout,
        budget: spec.max_requests.map(|max| Budget {
            max,
            taken: AtomicU64::new(0),
            done: AtomicU64::new(0),
        }),
        schedule: rate.map(Schedule::new),
        seconds: usize::try_from(spec.duration.as_secs())
            .unwrap_or(usize::MAX - 1)
            .saturating_add(1),
        live: Arc::clone(&live),
    });

    let workers = spec.threads.min(spec.connections);
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), LoadError>>();
    let mut first = Some(first);
    std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(workers);
        let mut go_senders = Vec::with_capacity(workers);
        let mut failure = None;
        for index in 0..workers {
            let (go_tx, go_rx) = mpsc::channel::<Go>();
            let setup = WorkerSetup {
                shared: Arc::clone(&shared),
                connections: spec.connections / workers
                    + usize::from(index < spec.connections % workers),
                first: first.take(),
                cpu: (!spec.cpus.is_empty()).then(|| spec.cpus[index % spec.cpus.len()]),
            };
            let ready_tx = ready_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("faceoff-load-{index}"))
                .spawn_scoped(scope, move || worker_thread(setup, &ready_tx, &go_rx));
            match spawned {
                Ok(handle) => {
                    handles.push(handle);
                    go_senders.push(go_tx);
                }
                Err(error) => {
                    failure = Some(LoadError::Runtime(error));
                    break;
                }
            }
        }
        drop(ready_tx);

        // Every started worker says once whether it is ready.
        for _ in 0..handles.len() {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    failure.get_or_insert(error);
                }
                // A worker died before saying so; its join below tells why.
                Err(_) => {
                    failure.get_or_insert(LoadError::Runtime(io::Error::other(
                        "a load generator thread stopped before the start",
                    )));
                    break;
                }
            }
        }
        if let Some(error) = failure {
            for go in &go_senders {
                let _ = go.send(Go::Abort);
            }
            for handle in handles {
                if let Err(panic) = handle.join() {
                    std::panic::resume_unwind(panic);
                }
            }
            return Err(error);
        }

        let start = Instant::now();
        let timeline = Timeline {
            start,
            warmup_end: start + spec.warmup,
            end: start + spec.warmup + spec.duration,
        };
        for go in &go_senders {
            let _ = go.send(Go::Start(timeline));
        }
        let until_measuring = timeline
            .warmup_end
            .saturating_duration_since(Instant::now());
        if !until_measuring.is_zero() {
            std::thread::sleep(until_measuring);
        }
        live.measuring.store(true, Ordering::Relaxed);

        let mut finished = Vec::with_capacity(handles.len());
        for handle in handles {
            match handle.join() {
                Ok(Some(stats)) => finished.push(stats),
                Ok(None) => {}
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(merge(spec, &shared, timeline, finished))
    })
}

/// What one worker thread gets: its share of the connections and maybe the probed one.
struct WorkerSetup {
    shared: Arc<Shared>,
    connections: usize,
    first: Option<std::net::TcpStream>,
    cpu: Option<usize>,
}

/// Pins the thread, builds its runtime, says it is ready, waits for the start and runs its
/// connections. Returns `None` when told to abort before starting.
fn worker_thread(
    setup: WorkerSetup,
    ready: &mpsc::Sender<Result<(), LoadError>>,
    go: &mpsc::Receiver<Go>,
) -> Option<WorkerStats> {
    if let Some(cpu) = setup.cpu {
        if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
            let _ = ready.send(Err(LoadError::CpuUnavailable { cpu }));
            return None;
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = ready.send(Err(LoadError::Runtime(error)));
            return None;
        }
    };
    let _ = ready.send(Ok(()));
    let Ok(Go::Start(timeline)) = go.recv() else {
        return None;
    };
    let pacer = if setup.shared.schedule.is_some() {
        let _context = runtime.enter();
        Pacer::new().ok()
    } else {
        None
    };
    let worker = Rc::new(Worker {
        stats: RefCell::new(WorkerStats::new(
            setup.shared.seconds,
            setup.shared.schedule.is_some(),
        )),
        shared: setup.shared,
        timeline,
        pacer,
    });
    let local = LocalSet::new();
    let stats = local.block_on(
        &runtime,
        drive_worker(Rc::clone(&worker), setup.connections, setup.first),
    );
    // Dropping the runtime drops any task still running past the grace period.
    drop(local);
    drop(runtime);
    Some(stats)
}

/// One worker: its connection tasks and the counts they share.
struct Worker {
    shared: Arc<Shared>,
    timeline: Timeline,
    stats: RefCell<WorkerStats>,
    /// Open loop: wakes connections when their slots are due; `None` for the closed loop or
    /// where no timerfd can be made (then tokio's millisecond timer is used).
    pacer: Option<Pacer>,
}

async fn drive_worker(
    worker: Rc<Worker>,
    connections: usize,
    mut first: Option<std::net::TcpStream>,
) -> WorkerStats {
    let flusher = tokio::task::spawn_local(flush_live(Rc::clone(&worker)));
    let pacer = tokio::task::spawn_local(run_pacer(Rc::clone(&worker)));
    let tasks: Vec<JoinHandle<()>> = (0..connections)
        .map(|_| tokio::task::spawn_local(drive_connection(Rc::clone(&worker), first.take())))
        .collect();
    let give_up = worker.timeline.end + SHUTDOWN_GRACE;
    for mut task in tasks {
        match timeout_at(give_up, &mut task).await {
            Ok(Ok(())) => {}
            Ok(Err(join_error)) => match join_error.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_cancelled) => {}
            },
            // Only a starved worker gets here; what the task counted so far is kept.
            Err(_late) => task.abort(),
        }
    }
    flusher.abort();
    pacer.abort();
    let mut stats = worker.stats.borrow_mut();
    stats.flush_live(&worker.shared.live);
    std::mem::replace(&mut *stats, WorkerStats::new(0, false))
}

/// Drives the worker's [`Pacer`], if it has one, until the task is aborted.
async fn run_pacer(worker: Rc<Worker>) {
    if let Some(pacer) = &worker.pacer {
        pacer.run().await;
    }
}

/// Wakes open-loop connections when their slots are due, with microsecond precision.
///
/// tokio's timer has millisecond granularity: a connection waiting for a slot would wake up
/// to a millisecond late, on a millisecond tick, together with every other connection due in
/// that millisecond — a lag as large as a fast server's whole latency, and bursts the schedule
/// does not ask for. The pacer keeps the waiting connections in a heap ordered by due time and
/// arms one `timerfd` (registered with the worker's event loop) for the earliest.
struct Pacer {
    timer: AsyncFd<OwnedFd>,
    waiting: RefCell<BinaryHeap<Reverse<Waiting>>>,
    /// When the timerfd is set to fire, if it is armed.
    armed: Cell<Option<Instant>>,
    /// Tie-breaker keeping equal due times in arrival order.
    next_seq: Cell<u64>,
}

/// A connection waiting for its slot.
struct Waiting {
    due: Instant,
    seq: u64,
    waker: Waker,
}

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}

impl Eq for Waiting {}

impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

impl Pacer {
    /// Must be called inside the worker's runtime.
    fn new() -> io::Result<Pacer> {
        // SAFETY: timerfd_create takes no pointers; a negative result is an error.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: an OwnedFd always returns the descriptor it owns, which stays open until the
        // AsyncFd (its only owner) is dropped.
        let timer = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
            .map_err(|error| error.into_parts().1)?;
        Ok(Pacer {
            timer,
            waiting: RefCell::new(BinaryHeap::new()),
            armed: Cell::new(None),
            next_seq: Cell::new(0),
        })
    }

    /// Sets the timerfd to fire at `due` (at least 1 ns from now: zero would disarm it).
    fn arm(&self, due: Instant) {
        let wait = due
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: libc::time_t::try_from(wait.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: libc::c_long::from(wait.subsec_nanos() as i32),
            },
        };
        // SAFETY: the fd is our open timerfd; `spec` lives for the call; the old value is not
        // asked for (null).
        let armed = unsafe {
            libc::timerfd_settime(
                self.timer.get_ref().as_raw_fd(),
                0,
                &raw const spec,
                std::ptr::null_mut(),
            )
        } == 0;
        self.armed.set(armed.then_some(due));
    }

    /// Completes at `due`.
    fn wait_until(&self, due: Instant) -> PaceWait<'_> {
        PaceWait {
            pacer: self,
            due,
            registered: false,
        }
    }

    /// Wakes every connection whose slot is due and arms the timer for the next one.
    fn wake_due(&self) {
        let now = Instant::now();
        let mut waiting = self.waiting.borrow_mut();
        while waiting.peek().is_some_and(|Reverse(w)| w.due <= now) {
            if let Some(Reverse(w)) = waiting.pop() {
                w.waker.wake();
            }
        }
        match waiting.peek() {
            Some(Reverse(next)) => self.arm(next.due),
            None => self.armed.set(None),
        }
    }

    /// Waits for the timerfd to fire, wakes who is due, forever.
    async fn run(&self) {
        loop {
            let Ok(mut ready) = self.timer.readable().await else {
                return;
            };
            let mut expirations = [0u8; 8];
            // SAFETY: reads at most 8 bytes into a buffer of 8 from our timerfd.
            let _ = unsafe {
                libc::read(
                    self.timer.get_ref().as_raw_fd(),
                    expirations.as_mut_ptr().cast(),
                    expirations.len(),
                )
            };
            ready.clear_ready();
            self.armed.set(None);
            self.wake_due();
        }
    }
}

/// Future of [`Pacer::wait_until`].
struct PaceWait<'a> {
    pacer: &'a Pacer,
    due: Instant,
    registered: bool,
}

impl Future for PaceWait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.due {
            return Poll::Ready(());
        }
        if !self.registered {
            let pacer = self.pacer;
            let seq = pacer.next_seq.get();
            pacer.next_seq.set(seq + 1);
            pacer.waiting.borrow_mut().push(Reverse(Waiting {
                due: self.due,
                seq,
                waker: cx.waker().clone(),
            }));
            if pacer.armed.get().is_none_or(|armed| self.due < armed) {
                pacer.arm(self.due);
            }
            self.registered = true;
        }
        Poll::Pending
    }
}

/// Adds the worker's counts to the live counters every [`LIVE_FLUSH`] until the end.
async fn flush_live(worker: Rc<Worker>) {
    let mut next = Instant::now();
    loop {
        next += LIVE_FLUSH;
        if next >= worker.timeline.end {
            return;
        }
        sleep_until(next).await;
        worker.stats.borrow_mut().flush_live(&worker.shared.live);
    }
}

/// Kinds of failures a connection task counts.
#[derive(Clone, Copy)]
enum Failure {
    Connect,
    Timeout,
    Io,
}

/// What one worker measured, for all its connections.
struct WorkerStats {
    latency_us: Histogram<u64>,
    requests: u64,
    statuses: Vec<(u16, u64)>,
    errors: ErrorCounts,
    bytes: u64,
    response_bytes: u64,
    per_second: Vec<u64>,
    warmup_requests: u64,
    warmup_errors: u64,
    connections_opened: u64,
    last_measured: Option<Instant>,
    open: Option<OpenCounts>,
    /// What was already added to the live counters: requests, errors, warm-up requests.
    flushed: (u64, u64, u64),
}

/// Open-loop counts of one worker, over sends in the measured window.
struct OpenCounts {
    service_us: Histogram<u64>,
    /// Requests written in the window.
    sent: u64,
    /// Of the slots due in the window, those that were sent (at any time).
    sent_of_window_slots: u64,
    queued: u64,
    lag_sum_us: u64,
    lag_max_us: u64,
    late: u64,
}

fn histogram() -> Histogram<u64> {
    Histogram::new(SIGFIG).expect("3 significant digits are valid")
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

impl WorkerStats {
    fn new(seconds: usize, open_loop: bool) -> Self {
        WorkerStats {
            latency_us: histogram(),
            requests: 0,
            statuses: Vec::new(),
            errors: ErrorCounts::default(),
            bytes: 0,
            response_bytes: 0,
            per_second: vec![0; seconds],
            warmup_requests: 0,
            warmup_errors: 0,
            connections_opened: 0,
            last_measured: None,
            open: open_loop.then(|| OpenCounts {
                service_us: histogram(),
                sent: 0,
                sent_of_window_slots: 0,
                queued: 0,
                lag_sum_us: 0,
                lag_max_us: 0,
                late: 0,
            }),
            flushed: (0, 0, 0),
        }
    }

    fn flush_live(&mut self, live: &LiveCounters) {
        let now = (self.requests, self.errors.total(), self.warmup_requests);
        live.requests
            .fetch_add(now.0 - self.flushed.0, Ordering::Relaxed);
        live.errors
            .fetch_add(now.1 - self.flushed.1, Ordering::Relaxed);
        live.warmup_requests
            .fetch_add(now.2 - self.flushed.2, Ordering::Relaxed);
        self.flushed = now;
    }

    fn failure(&mut self, timeline: &Timeline, kind: Failure) {
        if Instant::now() < timeline.warmup_end {
            self.warmup_errors += 1;
            return;
        }
        match kind {
            Failure::Connect => self.errors.connect += 1,
            Failure::Timeout => self.errors.timeout += 1,
            Failure::Io => self.errors.io += 1,
        }
    }

    /// Records an open-loop send that went out at `sent` for a slot due at `due`.
    fn open_send(&mut self, timeline: &Timeline, due: Instant, sent: Instant, queued: bool) {
        let Some(open) = &mut self.open else {
            return;
        };
        if due >= timeline.warmup_end {
            open.sent_of_window_slots += 1;
        }
        if sent < timeline.warmup_end {
            return;
        }
        let lag = sent.saturating_duration_since(due);
        let lag_us = micros(lag);
        open.sent += 1;
        open.lag_sum_us = open.lag_sum_us.saturating_add(lag_us);
        open.lag_max_us = open.lag_max_us.max(lag_us);
        if lag > LATE_SEND {
            open.late += 1;
        }
        if queued {
            open.queued += 1;
        }
    }

    fn measured_response(&mut self, timeline: &Timeline, timing: Timing, response: &Response) {
        // An auto-resizing histogram only refuses values beyond u64 range.
        let _ = self
            .latency_us
            .record(micros(timing.done - timing.latency_from));
        if let Some(open) = &mut self.open {
            let _ = open.service_us.record(micros(timing.done - timing.sent));
        }
        self.requests += 1;
        self.bytes += response.body_bytes;
        self.response_bytes += response.wire_bytes;
        let second =
            usize::try_from((timing.done - timeline.warmup_end).as_secs()).unwrap_or(usize::MAX);
        let last = self.per_second.len() - 1;
        self.per_second[second.min(last)] += 1;
        match self
            .statuses
            .iter_mut()
            .find(|(code, _)| *code == response.status)
        {
            Some((_, count)) => *count += 1,
            None => self.statuses.push((response.status, 1)),
        }
        self.last_measured = Some(timing.done);
        if response.status >= 400 {
            self.errors.non_success += 1;
        }
    }
}

/// When a request was written, when its latency starts and when it was answered.
#[derive(Clone, Copy)]
struct Timing {
    sent: Instant,
    latency_from: Instant,
    done: Instant,
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

enum OpenError {
    /// Counted as a connect error.
    Failed,
    /// The run's deadline came first.
    Deadline,
}

async fn open(
    shared: &Shared,
    timeline: &Timeline,
    ready: Option<std::net::TcpStream>,
) -> Result<Conn, OpenError> {
    let stream = match ready {
        Some(stream) => TcpStream::from_std(stream).map_err(|_| OpenError::Failed)?,
        None => {
            let timeout = Instant::now() + shared.request_timeout;
            match timeout_at(timeout.min(timeline.end), TcpStream::connect(shared.addr)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(_)) => return Err(OpenError::Failed),
                Err(_) if timeout <= timeline.end => return Err(OpenError::Failed),
                Err(_) => return Err(OpenError::Deadline),
            }
        }
    };
    stream.set_nodelay(true).map_err(|_| OpenError::Failed)?;
    Ok(Conn {
        stream,
        buf: Vec::with_capacity(READ_BUFFER),
        pos: 0,
        answered: false,
    })
}

/// The loop of one connection: (wait for the next slot,) send, read the whole response,
/// repeat until the end.
///
/// Two timers live as long as the task, pinned on its stack, so the hot path registers no new
/// timer per request: `deadline` bounds each exchange and is re-armed lazily (it is set to the
/// current request's limit only when it fires early, see [`with_deadline`]); `pause` serves
/// the backoff, budget and schedule waits.
async fn drive_connection(worker: Rc<Worker>, mut first: Option<std::net::TcpStream>) {
    let shared = &*worker.shared;
    let timeline = worker.timeline;
    let mut conn: Option<Conn> = None;
    let mut failures: u32 = 0;
    let mut deadline = pin!(sleep_until(timeline.end));
    // Whether `deadline` has been polled (so holds this task's waker) since it was last reset.
    let mut deadline_registered = false;
    let mut pause = pin!(sleep_until(timeline.end));
    // The time a response completed, reused as the next iteration's "now": one clock read
    // fewer per request.
    let mut answered_at: Option<Instant> = None;

    loop {
        let mut now = answered_at.take().unwrap_or_else(Instant::now);
        if now >= timeline.end {
            break;
        }
        if conn.as_mut().is_some_and(|c| c.answered && c.peer_closed()) {
            // A keep-alive connection the server closed while idle is simply reopened.
            conn = None;
        }
        if conn.is_none() {
            let wait = backoff(failures);
            if !wait.is_zero() {
                let wake = now + wait;
                if wake >= timeline.end {
                    break;
                }
                pause.as_mut().reset(wake);
                pause.as_mut().await;
            }
            let opened = open(shared, &timeline, first.take()).await;
            now = Instant::now();
            match opened {
                Ok(opened) => {
                    worker.stats.borrow_mut().connections_opened += 1;
                    conn = Some(opened);
                }
                Err(OpenError::Failed) => {
                    worker
                        .stats
                        .borrow_mut()
                        .failure(&timeline, Failure::Connect);
                    failures += 1;
                    continue;
                }
                Err(OpenError::Deadline) => break,
            }
        }

        let in_window = now >= timeline.warmup_end;
        let mut holds_slot = false;
        if let (true, Some(budget)) = (in_window, &shared.budget) {
            if !budget.take() {
                if budget.exhausted() {
                    break;
                }
                // Other connections hold the remaining slots; one may give its slot back.
                pause
                    .as_mut()
                    .reset((Instant::now() + BUDGET_POLL).min(timeline.end));
                pause.as_mut().await;
                continue;
            }
            holds_slot = true;
        }

        // Open loop: take the next slot of the schedule and wait until it is due.
        let mut slot_due = None;
        if let Some(schedule) = &shared.schedule {
            let free_at = now;
            let due = timeline.start + schedule.offset(schedule.claim());
            if due >= timeline.end {
                if holds_slot {
                    if let Some(budget) = &shared.budget {
                        budget.give_back();
                    }
                }
                break;
            }
            let queued = due <= free_at;
            if !queued {
                match &worker.pacer {
                    Some(pacer) => pacer.wait_until(due).await,
                    None => {
                        pause.as_mut().reset(due);
                        pause.as_mut().await;
                    }
                }
            }
            slot_due = Some((due, queued));
            // The server may have closed the connection during the wait (idle timeouts of a few
            // seconds are common, also before the first request): open a new one rather than
            // send into it. Each slot reopens at most once, so this cannot spin.
            if !queued && conn.as_mut().is_some_and(Conn::peer_closed) {
                match open(shared, &timeline, None).await {
                    Ok(opened) => {
                        worker.stats.borrow_mut().connections_opened += 1;
                        conn = Some(opened);
                    }
                    Err(error) => {
                        conn = None;
                        if holds_slot {
                            if let Some(budget) = &shared.budget {
                                budget.give_back();
                            }
                        }
                        if matches!(error, OpenError::Deadline) {
                            break;
                        }
                        worker
                            .stats
                            .borrow_mut()
                            .failure(&timeline, Failure::Connect);
                        failures += 1;
                        continue;
                    }
                }
            }
        }
        let Some(conn_ref) = conn.as_mut() else {
            break;
        };

        let sent = Instant::now();
        let timeout = sent + shared.request_timeout;
        let limit = timeout.min(timeline.end);
        if deadline.deadline() > limit {
            deadline.as_mut().reset(limit);
            deadline_registered = false;
        }
        let outcome = {
            let exchange = pin!(conn_ref.exchange(&shared.request, shared.head_request));
            with_deadline(exchange, deadline.as_mut(), &mut deadline_registered, limit).await
        };
        let done = Instant::now();

        let mut stats = worker.stats.borrow_mut();
        let latency_from = match slot_due {
            Some((due, queued)) => {
                stats.open_send(&timeline, due, sent, queued);
                if queued { due } else { sent }
            }
            None => sent,
        };
        let failure = match outcome {
            Some(Ok(response)) => {
                failures = 0;
                conn_ref.answered = true;
                let measured = if done < timeline.warmup_end {
                    false
                } else if holds_slot {
                    true
                } else {
                    // Sent during warm-up, completed in the window: it needs a slot too.
                    shared.budget.as_ref().is_none_or(Budget::take)
                };
                if measured {
                    let timing = Timing {
                        sent,
                        latency_from,
                        done,
                    };
                    stats.measured_response(&timeline, timing, &response);
                    if let Some(budget) = &shared.budget {
                        budget.complete();
                    }
                } else {
                    stats.warmup_requests += 1;
                }
                if !response.keep_alive {
                    conn = None;
                }
                answered_at = Some(done);
                continue;
            }
            Some(Err(_io)) => Failure::Io,
            None if timeout <= timeline.end => Failure::Timeout,
            // Still in flight when the window closed: counted nowhere.
            None => break,
        };
        if holds_slot {
            if let Some(budget) = &shared.budget {
                budget.give_back();
            }
        }
        stats.failure(&timeline, failure);
        failures += 1;
        conn = None;
    }
}

/// Polls `io` until it finishes or `limit` passes (`None`).
///
/// `timer` must be set no later than `limit`. It is not re-armed for every request: a timer
/// set for an earlier request (whose limit came first) is left alone, and only when it fires
/// before `limit` is it moved to `limit`. On a fast server that costs one timer registration
/// per request timeout per connection instead of one per request. Nor is it polled on every
/// wake-up: once it holds the task's waker (`registered`, which the caller clears when it
/// resets the timer) it is only looked at again when it has fired.
async fn with_deadline<F: Future>(
    mut io: Pin<&mut F>,
    mut timer: Pin<&mut Sleep>,
    registered: &mut bool,
    limit: Instant,
) -> Option<F::Output> {
    poll_fn(|cx| {
        if let Poll::Ready(output) = io.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        if *registered && !timer.is_elapsed() {
            return Poll::Pending;
        }
        loop {
            if timer.as_mut().poll(cx).is_pending() {
                *registered = true;
                return Poll::Pending;
            }
            if timer.deadline() >= limit {
                return Poll::Ready(None);
            }
            timer.as_mut().reset(limit);
        }
    })
    .await
}

/// One open HTTP/1.1 connection and its read buffer. Dropping it closes the socket.
struct Conn {
    stream: TcpStream,
    /// Bytes read and not yet consumed are `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    /// Whether a response has been read on it; a connection closed after answering is a
    /// normal keep-alive close, one closed before is an error.
    answered: bool,
}

/// What the generator keeps of one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Response {
    status: u16,
    /// Body bytes after removing any chunk framing.
    body_bytes: u64,
    /// Head plus body as they came over the wire.
    wire_bytes: u64,
    /// Whether the connection may be used for another request.
    keep_alive: bool,
}

/// Why a response could not be read.
fn protocol_error(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl Conn {
    /// Whether the server closed this idle connection (or sent something unasked). Costs no
    /// system call when the socket has not become readable since the last response.
    fn peer_closed(&mut self) -> bool {
        if self.pos < self.buf.len() {
            return true;
        }
        self.buf.clear();
        self.pos = 0;
        !matches!(
            self.stream.try_read_buf(&mut self.buf),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock
        )
    }

    /// Reads more bytes into the buffer; `Ok(0)` is the end of the stream.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.buf.capacity() - self.buf.len() < READ_BUFFER / 4 && self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if self.buf.capacity() == self.buf.len() {
            self.buf.reserve(self.buf.capacity().max(READ_BUFFER));
        }
        self.stream.read_buf(&mut self.buf).await
    }

    /// Writes the request and reads the whole response.
    async fn exchange(&mut self, request: &[u8], head_request: bool) -> io::Result<Response> {
        self.stream.write_all(request).await?;
        let mut wire_bytes = 0u64;
        let head = loop {
            match parse_head(&self.buf[self.pos..], head_request)? {
                Some(head) => {
                    self.pos += head.len;
                    wire_bytes += head.len as u64;
                    if head.interim {
                        continue;
                    }
                    break head;
                }
                None => {
                    if self.fill().await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
            }
        };
        let mut body_bytes = 0u64;
        match head.body {
            BodyKind::Empty => {}
            BodyKind::Length(mut left) => loop {
                let take = left.min((self.buf.len() - self.pos) as u64);
                self.pos += take as usize;
                left -= take;
                body_bytes += take;
                if left == 0 {
                    break;
                }
                if self.fill().await? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            },
            BodyKind::Chunked => {
                let mut decoder = ChunkedDecoder::default();
                loop {
                    let step = decoder.feed(&self.buf[self.pos..])?;
                    self.pos += step.consumed;
                    wire_bytes += step.consumed as u64;
                    body_bytes += step.body_bytes;
                    if step.done {
                        break;
                    }
                    if self.fill().await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
            }
            BodyKind::UntilClose => loop {
                body_bytes += (self.buf.len() - self.pos) as u64;
                self.pos = self.buf.len();
                if self.fill().await? == 0 {
                    break;
                }
            },
        }
        if !matches!(head.body, BodyKind::Chunked) {
            wire_bytes += body_bytes;
        }
        Ok(Response {
            status: head.status,
            body_bytes,
            wire_bytes,
            keep_alive: head.keep_alive,
        })
    }
}

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    /// No body: `HEAD`, 1xx, 204, 304.
    Empty,
    /// `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body ends when the server closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    status: u16,
    /// Bytes of the head, the blank line included.
    len: usize,
    body: BodyKind,
    keep_alive: bool,
    /// A 1xx response other than 101: another head follows.
    interim: bool,
}

/// Parses a response head from the start of `data`; `None` until the blank line that ends
/// it has arrived. One pass over the bytes; only the headers that frame the body
/// (`Content-Length`, `Transfer-Encoding`, `Connection`) are looked at, the others skipped.
fn parse_head(data: &[u8], head_request: bool) -> io::Result<Option<Head>> {
    let need_more = || {
        if data.len() > MAX_HEAD {
            Err(protocol_error("response head too large"))
        } else {
            Ok(None)
        }
    };
    let Some(first_nl) = find_newline(data) else {
        return need_more();
    };
    let status_line = &data[..first_nl];
    let status_line = status_line.strip_suffix(b"\r").unwrap_or(status_line);
    if status_line.len() < 12
        || !status_line.starts_with(b"HTTP/1.")
        || status_line[8] != b' '
        || !status_line[9..12].iter().all(u8::is_ascii_digit)
        || status_line.get(12).is_some_and(|&b| b != b' ')
    {
        return Err(protocol_error("not an HTTP/1.x status line"));
    }
    let http11 = status_line[7] == b'1';
    let status = status_line[9..12]
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));

    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut at = first_nl + 1;
    loop {
        let rest = &data[at..];
        let Some(nl) = find_newline(rest) else {
            return need_more();
        };
        let line = rest[..nl].strip_suffix(b"\r").unwrap_or(&rest[..nl]);
        at += nl + 1;
        // Only names starting with c or t can matter; skip the rest without looking further.
        match line.first().map(|b| b | 0x20) {
            None => break,
            Some(b'c' | b't') => {}
            Some(_) => continue,
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(protocol_error("malformed header line"));
        };
        let name = &line[..colon];
        let value = line[colon + 1..].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") {
            if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
                return Err(protocol_error("bad Content-Length"));
            }
            let parsed = value.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
            if length.is_some_and(|l| l != parsed) {
                return Err(protocol_error("conflicting Content-Length headers"));
            }
            length = Some(parsed);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    if status == 101 {
        return Err(protocol_error("the server switched protocols"));
    }
    let informational = (100..200).contains(&status);
    let mut keep_alive = !close && (http11 || keep_alive_token);
    let body = if head_request || informational || status == 204 || status == 304 {
        BodyKind::Empty
    } else if chunked {
        BodyKind::Chunked
    } else if let Some(length) = length {
        BodyKind::Length(length)
    } else {
        keep_alive = false;
        BodyKind::UntilClose
    };
    Ok(Some(Head {
        status,
        len: at,
        body,
        keep_alive,
        interim: informational,
    }))
}

/// Position of the first `\n`, eight bytes at a time.
fn find_newline(haystack: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut chunks = haystack.chunks_exact(8);
    let mut offset = 0;
    for chunk in chunks.by_ref() {
        let word = u64::from_le_bytes(chunk.try_into().expect("chunks of 8")) ^ NEWLINES;
        // A zero byte in `word` is a newline; the lowest flagged byte is always a true one.
        let zeros = word.wrapping_sub(ONES) & !word & HIGHS;
        if zeros != 0 {
            return Some(offset + (zeros.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|at| offset + at)
}

/// Incremental decoder of a chunked body; only counts the data, never keeps it.
#[derive(Debug, Default)]
struct ChunkedDecoder {
    state: ChunkState,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Expecting a chunk-size line.
    #[default]
    Size,
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines until a blank one.
    Trailer,
}

/// What one [`ChunkedDecoder::feed`] did.
#[derive(Debug, PartialEq, Eq)]
struct ChunkStep {
    consumed: usize,
    body_bytes: u64,
    done: bool,
}

impl ChunkedDecoder {
    /// Consumes what it can of `data`; the caller drops the consumed bytes and feeds the rest
    /// again with more appended.
    fn feed(&mut self, data: &[u8]) -> io::Result<ChunkStep> {
        let mut at = 0;
        let mut body_bytes = 0;
        let step = |at, body_bytes, done| ChunkStep {
            consumed: at,
            body_bytes,
            done,
        };
        loop {
            let rest = &data[at..];
            match self.state {
                ChunkState::Size | ChunkState::Trailer => {
                    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                        if rest.len() > MAX_CHUNK_LINE {
                            return Err(protocol_error("chunk line too long"));
                        }
                        return Ok(step(at, body_bytes, false));
                    };
                    let line = rest[..nl].strip_suffix(b"\r").unwrap_or(&rest[..nl]);
                    at += nl + 1;
                    if self.state == ChunkState::Trailer {
                        if line.is_empty() {
                            return Ok(step(at, body_bytes, true));
                        }
                        continue;
                    }
                    let digits = line
                        .split(|&b| b == b';')
                        .next()
                        .unwrap_or_default()
                        .trim_ascii();
                    let size = std::str::from_utf8(digits)
                        .ok()
                        .filter(|d| !d.is_empty())
                        .and_then(|d| u64::from_str_radix(d, 16).ok())
                        .ok_or_else(|| protocol_error("bad chunk size"))?;
                    self.state = if size == 0 {
                        ChunkState::Trailer
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(left) => {
                    let take = left.min(rest.len() as u64);
                    at += take as usize;
                    body_bytes += take;
                    if take < left {
                        self.state = ChunkState::Data(left - take);
                        return Ok(step(at, body_bytes, false));
                    }
                    self.state = ChunkState::DataEnd;
                }
                ChunkState::DataEnd => {
                    if rest.len() < 2 {
                        return Ok(step(at, body_bytes, false));
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(protocol_error("chunk data not followed by CRLF"));
                    }
                    at += 2;
                    self.state = ChunkState::Size;
                }
            }
        }
    }
}

fn merge(
    spec: &LoadSpec,
    shared: &Shared,
    timeline: Timeline,
    finished: Vec<WorkerStats>,
) -> LoadReport {
    let mut latency_us = histogram();
    let mut service_latency_us = shared.schedule.as_ref().map(|_| histogram());
    let mut status_counts = BTreeMap::new();
    let mut errors = ErrorCounts::default();
    let mut per_second = vec![0u64; shared.seconds];
    let mut requests = 0;
    let mut bytes_received = 0;
    let mut response_bytes = 0;
    let mut warmup_requests = 0;
    let mut warmup_errors = 0;
    let mut connections_opened = 0;
    let mut last_measured: Option<Instant> = None;
    let (mut sent, mut sent_of_window_slots, mut queued) = (0u64, 0u64, 0u64);
    let (mut lag_sum_us, mut lag_max_us, mut late) = (0u64, 0u64, 0u64);

    for stats in finished {
        // Auto-resizing histograms accept every value of another one.
        let _ = latency_us.add(&stats.latency_us);
        for (status, count) in stats.statuses {
            *status_counts.entry(status).or_insert(0) += count;
        }
        errors.add(&stats.errors);
        for (total, count) in per_second.iter_mut().zip(&stats.per_second) {
            *total += count;
        }
        requests += stats.requests;
        bytes_received += stats.bytes;
        response_bytes += stats.response_bytes;
        warmup_requests += stats.warmup_requests;
        warmup_errors += stats.warmup_errors;
        connections_opened += stats.connections_opened;
        last_measured = last_measured.max(stats.last_measured);
        if let (Some(open), Some(service)) = (stats.open, &mut service_latency_us) {
            let _ = service.add(&open.service_us);
            sent += open.sent;
            sent_of_window_slots += open.sent_of_window_slots;
            queued += open.queued;
            lag_sum_us = lag_sum_us.saturating_add(open.lag_sum_us);
            lag_max_us = lag_max_us.max(open.lag_max_us);
            late += open.late;
        }
    }

    let reached_max = spec.max_requests.is_some_and(|max| requests >= max);
    let elapsed = match last_measured {
        Some(last) if reached_max => (last - timeline.warmup_end).min(spec.duration),
        _ => spec.duration,
    };
    per_second.truncate(usize::try_from(elapsed.as_secs()).unwrap_or(usize::MAX));

    let open_loop = shared.schedule.as_ref().map(|schedule| {
        let scheduled =
            schedule.due_before(spec.warmup + elapsed) - schedule.due_before(spec.warmup);
        let secs = elapsed.as_secs_f64();
        OpenLoopStats {
            requested_rate: schedule.rate,
            achieved_rate: if secs > 0.0 { sent as f64 / secs } else { 0.0 },
            scheduled,
            sent,
            unsent: scheduled.saturating_sub(sent_of_window_slots),
            queued,
            lag_mean_us: if sent > 0 {
                lag_sum_us as f64 / sent as f64
            } else {
                0.0
            },
            lag_max_us,
            late_sends: late,
        }
    });

    LoadReport {
        requests,
        elapsed,
        latency_us,
        service_latency_us,
        status_counts,
        errors,
        bytes_received,
        response_bytes,
        per_second,
        warmup_requests,
        warmup_errors,
        connections_opened,
        open_loop,
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    use std::convert::Infallible;
    use std::time::Instant as WallClock;

    use http_body_util::{BodyExt, Full};
    use hyper::body::Incoming;
    use hyper::header::{CONTENT_TYPE, HOST};
    use hyper::service::service_fn;
    use hyper::{Request, Response, StatusCode};
    use hyper_util::rt::TokioIo;

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

    #[test]
    fn backoff_grows_after_repeated_failures_and_stays_small() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::ZERO);
        assert_eq!(backoff(2), BACKOFF_START);
        assert_eq!(backoff(3), BACKOFF_START * 2);
        assert_eq!(backoff(40), BACKOFF_MAX);
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
    fn the_schedule_spaces_slots_evenly_from_the_start() {
        let schedule = Schedule::new(1000.0);
        assert_eq!(schedule.offset(0), Duration::ZERO);
        assert_eq!(schedule.offset(5), Duration::from_millis(5));
        assert_eq!(schedule.due_before(Duration::ZERO), 0);
        assert_eq!(schedule.due_before(Duration::from_secs(1)), 1000);
        assert_eq!(schedule.due_before(Duration::from_micros(1_000_500)), 1001);
        assert_eq!(schedule.claim(), 0);
        assert_eq!(schedule.claim(), 1);
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
    }

    #[test]
    fn parses_response_heads() {
        let head = |text: &str| parse_head(text.as_bytes(), false).unwrap().unwrap();
        let parsed = head("HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX: y\r\n\r\n{\"ok\":true}");
        assert_eq!(parsed.status, 200);
        assert_eq!(parsed.body, BodyKind::Length(11));
        assert!(parsed.keep_alive);
        assert_eq!(parsed.len, 45);

        let parsed = head("HTTP/1.1 404 Not Found\r\ntransfer-encoding: gzip, Chunked\r\n\r\n");
        assert_eq!((parsed.status, parsed.body), (404, BodyKind::Chunked));

        let parsed = head("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        assert!(!parsed.keep_alive);

        let parsed = head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n");
        assert!(parsed.keep_alive);
        let parsed = head("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n");
        assert!(!parsed.keep_alive);

        let parsed = head("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n");
        assert_eq!(parsed.body, BodyKind::UntilClose);
        assert!(!parsed.keep_alive);

        let parsed = head("HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!(parsed.body, BodyKind::Empty);
        let parsed = head("HTTP/1.1 100 Continue\r\n\r\n");
        assert!(parsed.interim);
        let head_request = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true);
        assert_eq!(head_request.unwrap().unwrap().body, BodyKind::Empty);

        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Le", false).unwrap(),
            None
        );
        for bad in [
            "HTTP/2 200\r\n\r\n",
            "HTTP/1.1 2x0 OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nConnection close\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        ] {
            assert!(parse_head(bad.as_bytes(), false).is_err(), "{bad}");
        }
    }

    #[test]
    fn finds_the_first_newline_anywhere() {
        for len in 0..40 {
            for at in 0..=len {
                let mut data = vec![b'a'; len];
                let expected = (at < len).then(|| {
                    data[at] = b'\n';
                    at
                });
                // Bytes that differ from a newline by one bit, and a second newline after.
                if at + 1 < len {
                    data[at + 1] = if at % 2 == 0 { b'\n' } else { b'\x0b' };
                }
                for b in data.iter_mut().take(at) {
                    *b = [b'\x0b', b'\x09', b'\x8a', b'a'][*b as usize % 4];
                }
                assert_eq!(find_newline(&data), expected, "{len} {at} {data:?}");
            }
        }
    }

    #[test]
    fn decodes_chunked_bodies_fed_one_byte_at_a_time() {
        let wire = b"4\r\nWiki\r\n7;x=y\r\npedia i\r\nB\r\nn \r\nchunks.\r\n0\r\nT: 1\r\n\r\nNEXT";
        let mut decoder = ChunkedDecoder::default();
        let (mut pending, mut body, mut consumed) = (Vec::new(), 0, 0);
        for &byte in wire.iter() {
            pending.push(byte);
            let step = decoder.feed(&pending).unwrap();
            pending.drain(..step.consumed);
            consumed += step.consumed;
            body += step.body_bytes;
            if step.done {
                break;
            }
        }
        assert_eq!(body, 22);
        assert_eq!(consumed, wire.len() - 4);

        let mut decoder = ChunkedDecoder::default();
        assert!(decoder.feed(b"zz\r\n").is_err());
        let mut decoder = ChunkedDecoder::default();
        assert!(decoder.feed(b"2\r\nabXY").is_err());
    }

    #[test]
    fn serializes_the_request_once_with_host_and_body_headers() {
        let target = Target::from_url(&"http://localhost:8080/a?b=1".parse().unwrap()).unwrap();
        assert_eq!(
            serialize_request(&Method::GET, &target, None),
            b"GET /a?b=1 HTTP/1.1\r\nHost: localhost:8080\r\n\r\n"
        );
        assert_eq!(
            serialize_request(&Method::POST, &target, Some(&Bytes::from_static(b"{}"))),
            b"POST /a?b=1 HTTP/1.1\r\nHost: localhost:8080\r\nContent-Type: application/json\r\n\
              Content-Length: 2\r\n\r\n{}"
        );
        assert!(
            serialize_request(&Method::DELETE, &target, None)
                .starts_with(b"DELETE /a?b=1 HTTP/1.1\r\n")
        );
        assert!(
            serialize_request(&Method::PUT, &target, None).ends_with(b"Content-Length: 0\r\n\r\n")
        );
    }

    #[test]
    fn raises_the_open_file_limit_or_says_how() {
        assert!(ensure_fd_limit(10).unwrap() >= 10 + FD_MARGIN);

        let error = ensure_fd_limit(usize::MAX / 4).unwrap_err();

        assert!(matches!(error, LoadError::FdLimit { .. }), "{error:?}");
        assert!(error.to_string().contains("ulimit -n"), "{error}");
    }
}
