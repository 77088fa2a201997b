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
//! Without keep-alive ([`LoadSpec::keep_alive`] `false`, Apache Bench's default) the same loop
//! opens a connection for each request and drops it once the response is read; the request
//! carries `Connection: close`, so the server closes its side too. In the closed loop the
//! latency then runs from the start of the connect, as ab's does: the handshake is part of
//! what every request costs. (In the open loop a connection is opened before its slot is due,
//! so only a queued request's latency, measured from its due time, includes the connect.)
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
//! # Where things are
//!
//! `engine` starts the workers and keeps the timeline, `connection` is one connection's loop,
//! `http1` reads responses, `open_loop` paces the schedule, `record` counts and merges,
//! `target` checks the URL and serializes the request, `fd_limit` raises the open-file limit,
//! `error` holds the error types; `tests` drives the whole generator against small servers.
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

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use hyper::{Method, Uri};

mod connection;
mod engine;
mod error;
mod fd_limit;
mod http1;
mod open_loop;
mod record;
mod target;
#[cfg(test)]
mod tests;

pub use error::{ErrorCounts, LoadError};
pub use fd_limit::{FD_MARGIN, ensure_fd_limit, open_file_limits};
pub use open_loop::{OpenLoopStats, RATE_KEPT};
pub use target::Target;

use engine::run;

/// How long the generator keeps trying to open its first connection before it gives up with
/// [`LoadError::NoConnection`].
pub const CONNECT_GRACE: Duration = Duration::from_secs(1);

/// An open-loop send more than this behind its intended time counts as late in
/// [`OpenLoopStats::late_sends`].
pub const LATE_SEND: Duration = Duration::from_millis(1);

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
    /// Keep connections open between requests (HTTP/1.1's default). `false` opens a new
    /// connection for every request, as Apache Bench does without `-k`: each request says
    /// `Connection: close`, and in the closed loop its latency includes the connect.
    pub keep_alive: bool,
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
    /// Set by [`LiveCounters::stop`] from another thread: the run ends within
    /// [`STOP_POLL`], its measured window cut short where it stopped.
    pub stop: AtomicBool,
}

/// How often the workers look at [`LiveCounters::stop`]: a stopped run ends within about this.
pub const STOP_POLL: Duration = Duration::from_millis(20);

impl LiveCounters {
    /// Asks the run to end now (Ctrl-C): requests in flight are abandoned, and the report
    /// covers the measured window up to here.
    pub fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether [`LiveCounters::stop`] was called.
    pub fn stopped(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A guard that stops the run when dropped: an async caller holding it across the wait
    /// for the generator's thread stops the load when its future is dropped (Ctrl-C in
    /// `run`), instead of leaving the thread to the end of the window.
    pub fn stop_on_drop(self: &Arc<Self>) -> StopOnDrop {
        StopOnDrop(Arc::clone(self))
    }
}

/// Stops a run when dropped; see [`LiveCounters::stop_on_drop`].
#[derive(Debug)]
pub struct StopOnDrop(Arc<LiveCounters>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
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

/// What a mixed run measured: each kind of request apart.
#[derive(Debug, Clone)]
pub struct MixedReport {
    /// The main kind (the many connections, e.g. `/status`).
    pub main: LoadReport,
    /// The side kind (the few connections, e.g. `/compute`), measured over the same window.
    pub side: LoadReport,
}

/// Runs two closed loops at once against one server, each with its own request and
/// connections, and measures each kind apart: the many connections of `main` (say `GET
/// /status`) while the few of `side` (say `GET /compute/leibniz`) keep the server busy. A
/// server whose one thread runs the side's work shows it in the main kind's latency (seed
/// 002: "long-running computational work blocks the event loop, degrading performance for
/// all connected users").
///
/// Each kind is a whole closed-loop run ([`run_closed_loop`]) on worker threads of its own,
/// so its counts, histogram and errors stay its own. Both start together (the side on a
/// second thread, the main on this one, within a millisecond or so of each other) and give
/// the same warm-up and window; `side`'s `warmup`, `duration` and `max_requests` are
/// replaced by `main`'s, and the side stops when the main run ends (at its end, on
/// [`LiveCounters::stop`] of `live`, or at its request budget). `live` counts the main kind
/// only.
///
/// # Errors
///
/// As [`run_closed_loop`], for either kind; the main kind's error first.
pub fn run_mixed(
    main: &LoadSpec,
    side: &LoadSpec,
    live: Arc<LiveCounters>,
) -> Result<MixedReport, LoadError> {
    let side = LoadSpec {
        warmup: main.warmup,
        duration: main.duration,
        max_requests: None,
        ..side.clone()
    };
    let side_live = Arc::new(LiveCounters::default());
    std::thread::scope(|scope| {
        let side_run = {
            let side_live = Arc::clone(&side_live);
            scope.spawn(move || run_closed_loop(&side, side_live))
        };
        let main_result = run_closed_loop(main, live);
        // The side's window ends with the main one, whatever ended it: its end, a stop
        // (Ctrl-C), its request budget or an error. After a full window the side is at its
        // own end too (both started together), so this cuts nothing of it.
        side_live.stop();
        let side_result = side_run
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Ok(MixedReport {
            main: main_result?,
            side: side_result?,
        })
    })
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
