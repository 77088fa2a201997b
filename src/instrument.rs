//! Benchmark of the instrument: how faceoff's own load generator compares with wrk.
//!
//! [`calibrate`] starts a trivial, fast server — Debian's nginx with one worker pinned to the
//! server CPU, answering `{"ok":true}` from memory — on a free 127.0.0.1 port, then on the
//! generator CPU runs, interleaved round by round, faceoff's closed loop and `wrk -t1` with the
//! same connections and duration. What it reports ([`Calibration`]):
//!
//! * per round and as medians: req/s of both, the ratio faceoff/wrk, p50 and p99 of both, and
//!   the CPU time each generator spent per request (a figure that, unlike req/s, hardly moves
//!   when other programs on the host take the server's CPU);
//! * an open-loop check below saturation: wrk2 is not packaged in Debian, so the reference is
//!   wrk pacing each connection with a Lua `delay()` to about half its closed-loop rate, and
//!   faceoff's open loop at the rate wrk actually reached, same connections (see
//!   [`OpenLoopCheck`] for what is comparable with what);
//! * the generator's memory with many open connections (10,000 by default): this process's
//!   resident set size before and while they are open.
//!
//! Everything is bounded in time; nginx and wrk are killed by pid when done, also on error.
//! Nothing here prints: `console::wrk::calibration_text` does.

use std::fmt::Write as _;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use serde::{Deserialize, Serialize};

use crate::load::{
    self, LiveCounters, LoadError, LoadReport, LoadSpec, ensure_fd_limit, open_file_limits,
    run_closed_loop, run_open_loop,
};
use crate::stats::median;

/// How long nginx may take to accept connections after being started.
const NGINX_START: Duration = Duration::from_secs(5);

/// How long nginx may take to stop after SIGTERM before it is killed.
const NGINX_STOP: Duration = Duration::from_secs(3);

/// Time wrk may take beyond its test duration (start-up, connection set-up, output).
const WRK_SLACK: Duration = Duration::from_secs(20);

/// Request timeout of every run, the same as wrk's default.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Request (and connect) timeout of the memory check, long enough for thousands of connects
/// at once to get through the listen backlog.
const MEMORY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the memory check keeps its connections open (after a 1 s warm-up).
const MEMORY_HOLD: Duration = Duration::from_secs(2);

/// How often the memory check reads the resident set size.
const RSS_SAMPLE: Duration = Duration::from_millis(100);

/// The body nginx answers with.
const BODY: &str = r#"{"ok":true}"#;

/// Where Debian puts nginx: in /usr/sbin, which is not on every user's PATH.
const DEBIAN_NGINX: &str = "/usr/sbin/nginx";

/// The nginx to start: `nginx` on the PATH, else Debian's /usr/sbin/nginx, else plain
/// `nginx` (so the error names what to install).
#[must_use]
pub fn nginx_binary() -> PathBuf {
    crate::images::find_on_path("nginx")
        .or_else(|| Some(PathBuf::from(DEBIAN_NGINX)).filter(|p| p.is_file()))
        .unwrap_or_else(|| PathBuf::from("nginx"))
}

/// What `faceoff doctor` says about the tools of the benchmark of the instrument: for nginx
/// and wrk, whether they are installed (with the path) or how to install them.
#[must_use]
pub fn tool_checks() -> Vec<(bool, &'static str, String)> {
    let nginx = nginx_binary();
    let wrk = crate::images::find_on_path("wrk");
    let missing = |package: &str| {
        format!("not installed: apt-get install -y {package} (only `faceoff calibrate` needs it)")
    };
    vec![
        if nginx.is_file() {
            (
                true,
                "nginx",
                format!("{} (for faceoff calibrate)", nginx.display()),
            )
        } else {
            (false, "nginx", missing("nginx-light"))
        },
        match wrk {
            Some(path) => (
                true,
                "wrk",
                format!("{} (for faceoff calibrate)", path.display()),
            ),
            None => (false, "wrk", missing("wrk")),
        },
    ]
}

/// Settings of [`calibrate`]; [`Default`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrateOptions {
    /// Connections of both generators (default 50).
    pub connections: usize,
    /// Length of each run, whole seconds because wrk takes whole seconds (default 5 s).
    pub duration: Duration,
    /// Interleaved rounds of faceoff then wrk (default 3).
    pub rounds: u32,
    /// CPU both generators are pinned to, each with one thread (default 0).
    pub generator_cpu: usize,
    /// CPU nginx's single worker is pinned to (default 1).
    pub server_cpu: usize,
    /// Rate of the open-loop check as a fraction of wrk's median closed-loop rate (default
    /// 0.5); 0 skips the check.
    pub open_loop_fraction: f64,
    /// Connections held open for the memory figure (default 10,000); 0 skips it.
    pub memory_connections: usize,
    /// The nginx binary (default [`nginx_binary`]: from Debian's `nginx-light`).
    pub nginx: PathBuf,
    /// The wrk binary (default `wrk`, from Debian's `wrk`).
    pub wrk: PathBuf,
}

impl Default for CalibrateOptions {
    fn default() -> Self {
        CalibrateOptions {
            connections: 50,
            duration: Duration::from_secs(5),
            rounds: 3,
            generator_cpu: 0,
            server_cpu: 1,
            open_loop_fraction: 0.5,
            memory_connections: 10_000,
            nginx: nginx_binary(),
            wrk: PathBuf::from("wrk"),
        }
    }
}

/// What the benchmark of the instrument measured. Ratios are faceoff divided by wrk: above 1
/// means faceoff pushed more requests per second (or saw higher latency).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Connections of every closed-loop run.
    pub connections: usize,
    /// Seconds of every run.
    pub duration_s: u64,
    /// CPU of the generators.
    pub generator_cpu: usize,
    /// CPU of nginx's worker.
    pub server_cpu: usize,
    /// `nginx -v`, e.g. `nginx/1.22.1`.
    pub nginx_version: String,
    /// First line of `wrk -v`, e.g. `wrk 4.1.0 [epoll]`.
    pub wrk_version: String,
    /// Closed loop, one entry per round, in the order run (faceoff first in each).
    pub rounds: Vec<CalibrationRound>,
    /// Medians over the rounds.
    pub median: RoundMedians,
    /// The open-loop check, unless skipped.
    pub open_loop: Option<OpenLoopCheck>,
    /// The memory figure, unless skipped or impossible (then a note says why).
    pub memory: Option<MemoryCheck>,
    /// Facts about the method a reader needs, e.g. what the open-loop reference is.
    pub notes: Vec<String>,
}

/// One closed-loop round: faceoff, then wrk, same settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationRound {
    /// 1-based.
    pub round: u32,
    pub faceoff: RunFigures,
    pub wrk: RunFigures,
    /// faceoff req/s divided by wrk req/s.
    pub ratio: f64,
}

/// What one run of either generator measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunFigures {
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Errors of every kind (connect, read/write, timeout, status >= 400).
    pub errors: u64,
    /// CPU time (user + system) the generator used per completed request, microseconds:
    /// for faceoff its whole process, for wrk the child process. Unlike req/s, this hardly
    /// moves when other programs compete for the server's CPU.
    #[serde(default)]
    pub cpu_us_per_request: f64,
}

/// Medians over the closed-loop rounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RoundMedians {
    /// Median of the per-round ratios faceoff/wrk.
    pub ratio: f64,
    pub faceoff_requests_per_sec: f64,
    pub wrk_requests_per_sec: f64,
    pub faceoff_p50_ms: f64,
    pub wrk_p50_ms: f64,
    pub faceoff_p99_ms: f64,
    pub wrk_p99_ms: f64,
    /// Median of the per-round ratios of CPU time per request, faceoff/wrk: below 1 means
    /// faceoff spends less of its core on each request.
    #[serde(default)]
    pub cpu_ratio: f64,
    #[serde(default)]
    pub faceoff_cpu_us_per_request: f64,
    #[serde(default)]
    pub wrk_cpu_us_per_request: f64,
}

/// The open-loop check, below saturation.
///
/// wrk2 is not packaged in Debian, so there is no reference with the same method; two wrk
/// runs stand in for it, both timing each request from its write, without correction:
///
/// * *paced*: wrk with a Lua `delay()` that makes every connection wait `wrk_delay_ms`
///   between requests, which lands near `target_rate`. faceoff's open loop runs at the rate
///   this reached, with the same connections. wrk's delays fire on millisecond ticks, so its
///   connections send in bursts that queue at the server, where faceoff's schedule spreads
///   the same rate evenly.
/// * *single*: wrk closed loop over one connection, never more than one request at the
///   server: the latency of a lone request.
///
/// faceoff reports its corrected latency (from the intended send time when a request had to
/// queue) and its uncorrected latency (from the write); the uncorrected one compares like
/// with like with paced wrk. Below saturation the two agree unless the server or the host
/// stalled: then the corrected one also counts the requests that waited out the stall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenLoopCheck {
    /// The fraction of wrk's median closed-loop rate aimed at.
    pub target_rate: f64,
    /// The delay wrk's connections waited between requests.
    pub wrk_delay_ms: u64,
    /// What paced wrk reached, req/s; faceoff's requested rate.
    pub wrk_requests_per_sec: f64,
    pub wrk_p50_ms: f64,
    pub wrk_p99_ms: f64,
    /// wrk over a single connection, closed loop.
    pub wrk_single_requests_per_sec: f64,
    pub wrk_single_p50_ms: f64,
    pub wrk_single_p99_ms: f64,
    /// Rate faceoff was asked for (paced wrk's) and what it sent.
    pub faceoff_requested_rate: f64,
    pub faceoff_achieved_rate: f64,
    /// Corrected latency (see [`crate::load`]).
    pub faceoff_p50_ms: f64,
    pub faceoff_p99_ms: f64,
    /// Latency from the write, as wrk measures it.
    pub faceoff_uncorrected_p50_ms: f64,
    pub faceoff_uncorrected_p99_ms: f64,
    /// faceoff's corrected p50 / paced wrk's p50, and the same for p99.
    pub p50_ratio: f64,
    pub p99_ratio: f64,
    /// faceoff's corrected p50 / single-connection wrk's p50, and the same for p99.
    pub p50_ratio_single: f64,
    pub p99_ratio_single: f64,
    /// faceoff's uncorrected p50 (from the write) / paced wrk's p50, and the same for p99:
    /// the like-for-like comparison, both tools timing from the write.
    #[serde(default)]
    pub p50_ratio_uncorrected: f64,
    #[serde(default)]
    pub p99_ratio_uncorrected: f64,
    /// How well faceoff kept its schedule.
    pub lag_mean_ms: f64,
    pub lag_max_ms: f64,
    pub late_sends: u64,
    pub unsent: u64,
}

/// The generator's memory with many connections open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryCheck {
    /// Connections asked for.
    pub connections: usize,
    /// Connections the generator opened (more than asked means some were reopened).
    pub connections_opened: u64,
    /// Errors in the measured part of the run (connect, timeout, I/O, status).
    pub errors: load::ErrorCounts,
    /// Failures while the connections were being opened (the 1 s warm-up).
    pub warmup_errors: u64,
    /// Soft open-file limit in force for the run (raised to the hard limit if needed).
    pub open_file_limit: u64,
    /// This process's resident set size just before the run, MiB.
    pub rss_before_mib: f64,
    /// Largest resident set size seen while the connections were open, MiB.
    pub rss_peak_mib: f64,
    /// `rss_peak_mib - rss_before_mib`: what the connections cost.
    pub rss_added_mib: f64,
    /// Requests per second over the connections while they were open.
    pub requests_per_sec: f64,
}

/// Why the benchmark of the instrument could not run.
#[derive(thiserror::Error, Debug)]
pub enum InstrumentError {
    /// A tool is not installed.
    #[error(
        "{tool} is not installed (looked for `{path}`); install it with `apt-get install -y {package}`"
    )]
    Missing {
        tool: &'static str,
        path: String,
        package: &'static str,
    },
    /// A setting is out of range.
    #[error("invalid calibration settings: {0}")]
    Invalid(String),
    /// nginx did not come up.
    #[error("nginx did not start: {0}")]
    NginxStart(String),
    /// wrk failed or did not finish in time.
    #[error("wrk failed: {0}")]
    Wrk(String),
    /// wrk's output could not be read.
    #[error("cannot read wrk's output ({reason}):\n{output}")]
    WrkOutput { reason: String, output: String },
    /// faceoff's generator refused to run.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Something on this machine failed: a temporary directory, a process.
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> InstrumentError {
    let what = what.into();
    move |source| InstrumentError::Io { what, source }
}

/// Runs the benchmark of the instrument; see the module documentation.
///
/// Takes about `rounds × 2 × duration + 4 × duration + 4 s` plus start-up.
///
/// # Errors
///
/// [`InstrumentError::Missing`] when nginx, wrk or taskset is not installed; otherwise when a
/// setting is out of range, nginx does not start, wrk fails or faceoff's generator refuses to
/// run. An open-file limit too low for the memory figure is not an error: the figure is left
/// out and a note says how to raise the limit.
pub async fn calibrate(opts: &CalibrateOptions) -> Result<Calibration, InstrumentError> {
    validate(opts)?;
    let duration_s = opts.duration.as_secs();
    let nginx_version = tool_version(&opts.nginx, "-v", "nginx", "nginx-light").await?;
    let wrk_version = tool_version(&opts.wrk, "-v", "wrk", "wrk").await?;
    tool_version(Path::new("taskset"), "--version", "taskset", "util-linux").await?;

    let mut notes = vec![format!(
        "faceoff and wrk each ran one thread pinned to CPU {}; nginx ran one worker pinned to \
         CPU {}, answering {BODY} from memory, access log off",
        opts.generator_cpu, opts.server_cpu
    )];
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    if opts.generator_cpu == opts.server_cpu || cpus < 2 {
        notes.push(format!(
            "the generator and nginx share a CPU ({cpus} available): the figures describe \
             contention, not the generator"
        ));
    }

    let max_connections = opts.connections.max(opts.memory_connections);
    let nginx = Nginx::start(&opts.nginx, opts.server_cpu, max_connections).await?;
    let url = nginx.url();

    let mut rounds = Vec::with_capacity(opts.rounds as usize);
    for round in 1..=opts.rounds {
        let cpu_before = crate::runtime::process_cpu_ns(std::process::id() as i32);
        let report =
            faceoff_closed(&url, opts.connections, opts.generator_cpu, opts.duration).await?;
        let cpu = crate::runtime::process_cpu_ns(std::process::id() as i32) - cpu_before;
        let mut faceoff = figures(&report);
        faceoff.cpu_us_per_request = per_request_us(cpu as f64 / 1e9, report.requests);
        let wrk = run_wrk(opts, &url, nginx.dir(), opts.connections, None).await?;
        let wrk = wrk.figures();
        rounds.push(CalibrationRound {
            round,
            faceoff,
            wrk,
            ratio: ratio(faceoff.requests_per_sec, wrk.requests_per_sec),
        });
    }
    let med = |f: fn(&CalibrationRound) -> f64| {
        median(&rounds.iter().map(f).collect::<Vec<_>>()).unwrap_or(0.0)
    };
    let median = RoundMedians {
        ratio: med(|r| r.ratio),
        faceoff_requests_per_sec: med(|r| r.faceoff.requests_per_sec),
        wrk_requests_per_sec: med(|r| r.wrk.requests_per_sec),
        faceoff_p50_ms: med(|r| r.faceoff.p50_ms),
        wrk_p50_ms: med(|r| r.wrk.p50_ms),
        faceoff_p99_ms: med(|r| r.faceoff.p99_ms),
        wrk_p99_ms: med(|r| r.wrk.p99_ms),
        cpu_ratio: med(|r| ratio(r.faceoff.cpu_us_per_request, r.wrk.cpu_us_per_request)),
        faceoff_cpu_us_per_request: med(|r| r.faceoff.cpu_us_per_request),
        wrk_cpu_us_per_request: med(|r| r.wrk.cpu_us_per_request),
    };

    let open_loop = if opts.open_loop_fraction > 0.0 && median.wrk_requests_per_sec > 0.0 {
        let check = open_loop_check(opts, &url, nginx.dir(), median.wrk_requests_per_sec).await?;
        notes.push(format!(
            "open loop: Debian has no wrk2, so two wrk runs stand in for it: wrk pacing each \
             connection with a Lua delay() of {} ms ({:.0} req/s, sent in bursts on \
             millisecond ticks) and wrk over one connection (a lone request at a time); wrk \
             times from the write, without correction, like faceoff's uncorrected figures",
            check.wrk_delay_ms, check.wrk_requests_per_sec
        ));
        Some(check)
    } else {
        None
    };

    let memory = if opts.memory_connections > 0 {
        memory_check(opts, &url, &mut notes).await?
    } else {
        None
    };

    drop(nginx);
    Ok(Calibration {
        connections: opts.connections,
        duration_s,
        generator_cpu: opts.generator_cpu,
        server_cpu: opts.server_cpu,
        nginx_version,
        wrk_version,
        rounds,
        median,
        open_loop,
        memory,
        notes,
    })
}

fn validate(opts: &CalibrateOptions) -> Result<(), InstrumentError> {
    let invalid = |what: &str| Err(InstrumentError::Invalid(what.to_owned()));
    if opts.connections == 0 {
        return invalid("connections must be at least 1");
    }
    if opts.rounds == 0 {
        return invalid("rounds must be at least 1");
    }
    if opts.duration.as_secs() == 0 || opts.duration.subsec_nanos() != 0 {
        return invalid("the duration must be a whole number of seconds, at least 1 (wrk's unit)");
    }
    if !(0.0..=1.0).contains(&opts.open_loop_fraction) {
        return invalid("the open-loop fraction must be between 0 and 1");
    }
    Ok(())
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn figures(report: &LoadReport) -> RunFigures {
    RunFigures {
        requests_per_sec: report.requests_per_sec(),
        p50_ms: ms(report.latency_us.value_at_quantile(0.50)),
        p99_ms: ms(report.latency_us.value_at_quantile(0.99)),
        errors: report.errors.total(),
        cpu_us_per_request: 0.0,
    }
}

/// `cpu_s` seconds of CPU spread over `requests`, in microseconds each; 0 without requests.
fn per_request_us(cpu_s: f64, requests: u64) -> f64 {
    if requests == 0 {
        0.0
    } else {
        cpu_s * 1e6 / requests as f64
    }
}

/// CPU time (user + system) of this process's children that have been waited for, seconds.
fn children_cpu_s() -> f64 {
    // SAFETY: an all-zero rusage is a valid value of the plain C struct getrusage fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes the struct we pass, which lives for the call.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &raw mut usage) } != 0 {
        return 0.0;
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Runs `binary flag` and returns the first line that names the tool; a missing binary is
/// [`InstrumentError::Missing`].
async fn tool_version(
    binary: &Path,
    flag: &str,
    tool: &'static str,
    package: &'static str,
) -> Result<String, InstrumentError> {
    let output = tokio::process::Command::new(binary)
        .arg(flag)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(Duration::from_secs(5), output).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) if error.kind() == io::ErrorKind::NotFound => {
            return Err(InstrumentError::Missing {
                tool,
                path: binary.display().to_string(),
                package,
            });
        }
        Ok(Err(error)) => return Err(io_error(format!("cannot run {}", binary.display()))(error)),
        Err(_) => {
            return Err(io_error(format!(
                "{} {flag} did not answer",
                binary.display()
            ))(io::ErrorKind::TimedOut.into()));
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let line = text
        .lines()
        .find(|line| line.contains(tool))
        .or_else(|| text.lines().next())
        .unwrap_or_default();
    let line = line.trim_start_matches("nginx version: ");
    let line = line.split(" Copyright").next().unwrap_or(line);
    Ok(line.trim().to_owned())
}

/// A running nginx in a temporary directory; dropping it stops nginx (SIGTERM, then SIGKILL
/// to the master and its workers) and removes the directory.
struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
    addr: SocketAddr,
}

impl Nginx {
    async fn start(
        binary: &Path,
        cpu: usize,
        connections: usize,
    ) -> Result<Nginx, InstrumentError> {
        let dir = tempfile::Builder::new()
            .prefix("faceoff-calibrate-")
            .tempdir()
            .map_err(io_error("cannot create a temporary directory for nginx"))?;
        let addr = free_port()?;
        // nginx starts closing idle keep-alive connections once fewer than 1/16 of its
        // connection slots are free, so give it a quarter more than it will hold.
        let worker_connections = connections + connections / 4 + 512;
        let hard_limit = open_file_limits().map_or(u64::MAX, |(_, hard)| hard);
        let nofile = (worker_connections as u64 + 64).min(hard_limit);
        let config = nginx_config(dir.path(), addr, cpu, worker_connections, nofile);
        let config_path = dir.path().join("nginx.conf");
        std::fs::write(&config_path, config).map_err(io_error("cannot write nginx.conf"))?;
        let error_log = dir.path().join("error.log");
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(&error_log)
            .arg("-c")
            .arg(&config_path)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| match error.kind() {
                io::ErrorKind::NotFound => InstrumentError::Missing {
                    tool: "nginx",
                    path: binary.display().to_string(),
                    package: "nginx-light",
                },
                _ => io_error("cannot start nginx")(error),
            })?;
        let mut nginx = Nginx { child, dir, addr };
        let give_up = tokio::time::Instant::now() + NGINX_START;
        loop {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                let log = std::fs::read_to_string(&error_log).unwrap_or_default();
                return Err(InstrumentError::NginxStart(format!(
                    "it exited ({status}): {}",
                    log.trim()
                )));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return Ok(nginx);
            }
            if tokio::time::Instant::now() >= give_up {
                let log = std::fs::read_to_string(&error_log).unwrap_or_default();
                return Err(InstrumentError::NginxStart(format!(
                    "nothing listened on {addr} after {NGINX_START:?}: {}",
                    log.trim()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let Ok(pid) = i32::try_from(self.child.id()) else {
            return;
        };
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        // SAFETY: kill only sends a signal to the process we started (still our child, so the
        // pid cannot have been reused before we wait for it below).
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let give_up = std::time::Instant::now() + NGINX_STOP;
        while std::time::Instant::now() < give_up {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for worker in children
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            // SAFETY: signals the workers nginx reported as its children before it was told
            // to stop; they belong to this run.
            unsafe { libc::kill(worker, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port on 127.0.0.1 nothing listens on right now.
fn free_port() -> Result<SocketAddr, InstrumentError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(io_error("cannot find a free port on 127.0.0.1"))?;
    listener
        .local_addr()
        .map_err(io_error("cannot find a free port on 127.0.0.1"))
}

/// The nginx configuration: one worker pinned to `cpu`, no access log, `{"ok":true}` for
/// every path, everything it writes inside `dir`, `nofile` open files for the worker (no more
/// than the hard limit nginx inherits, which it cannot exceed without privileges).
fn nginx_config(
    dir: &Path,
    addr: SocketAddr,
    cpu: usize,
    worker_connections: usize,
    nofile: u64,
) -> String {
    let mask = format!("1{}", "0".repeat(cpu));
    let dir = dir.display();
    let mut config = String::new();
    let _ = write!(
        config,
        "worker_processes 1;\n\
         worker_cpu_affinity {mask};\n\
         worker_rlimit_nofile {nofile};\n\
         pid {dir}/nginx.pid;\n\
         error_log {dir}/error.log warn;\n\
         events {{\n    worker_connections {worker_connections};\n}}\n\
         http {{\n\
         \x20   access_log off;\n\
         \x20   keepalive_requests 1000000000;\n\
         \x20   keepalive_timeout 75s;\n\
         \x20   client_body_temp_path {dir}/client_body;\n\
         \x20   server {{\n\
         \x20       listen {addr} backlog=4096;\n\
         \x20       location / {{\n\
         \x20           default_type application/json;\n\
         \x20           return 200 '{BODY}';\n\
         \x20       }}\n\
         \x20   }}\n\
         }}\n",
    );
    config
}

async fn faceoff_closed(
    url: &str,
    connections: usize,
    cpu: usize,
    duration: Duration,
) -> Result<LoadReport, InstrumentError> {
    let spec = spec(url, connections, cpu, Duration::ZERO, duration)?;
    blocking(move || run_closed_loop(&spec, Arc::new(LiveCounters::default()))).await
}

fn spec(
    url: &str,
    connections: usize,
    cpu: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<LoadSpec, InstrumentError> {
    Ok(LoadSpec {
        url: url.parse().map_err(|_| {
            InstrumentError::Invalid(format!("{url} is not a URL the generator can use"))
        })?,
        method: Method::GET,
        body: None,
        connections,
        threads: 1,
        cpus: vec![cpu],
        warmup,
        duration,
        max_requests: None,
        request_timeout: REQUEST_TIMEOUT,
        keep_alive: true,
    })
}

/// Runs a blocking generator call off the async threads.
async fn blocking<F>(run: F) -> Result<LoadReport, InstrumentError>
where
    F: FnOnce() -> Result<LoadReport, LoadError> + Send + 'static,
{
    blocking_result(tokio::task::spawn_blocking(run).await)
}

/// Runs `taskset -c CPU wrk -t1 -cC -dDs --latency [--script delay.lua] URL`, killed if it
/// overruns.
async fn run_wrk(
    opts: &CalibrateOptions,
    url: &str,
    dir: &Path,
    connections: usize,
    delay_ms: Option<u64>,
) -> Result<WrkRun, InstrumentError> {
    let mut command = tokio::process::Command::new("taskset");
    command
        .arg("-c")
        .arg(opts.generator_cpu.to_string())
        .arg(&opts.wrk)
        .arg("-t1")
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", opts.duration.as_secs()))
        .arg("--timeout")
        .arg(format!("{}s", REQUEST_TIMEOUT.as_secs()))
        .arg("--latency");
    if let Some(delay) = delay_ms {
        let script = dir.join("delay.lua");
        std::fs::write(
            &script,
            format!("function delay()\n  return {delay}\nend\n"),
        )
        .map_err(io_error("cannot write wrk's delay script"))?;
        command.arg("--script").arg(script);
    }
    command
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let limit = opts.duration + WRK_SLACK;
    let cpu_before = children_cpu_s();
    let output = match tokio::time::timeout(limit, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => return Err(io_error("cannot run taskset/wrk")(error)),
        // Dropping the future killed wrk (kill_on_drop).
        Err(_) => {
            return Err(InstrumentError::Wrk(format!(
                "did not finish within {limit:?}"
            )));
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(InstrumentError::Wrk(format!(
            "{}: {}{}",
            output.status,
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let mut run = parse_wrk(&stdout)?;
    run.cpu_s = (children_cpu_s() - cpu_before).max(0.0);
    Ok(run)
}

async fn open_loop_check(
    opts: &CalibrateOptions,
    url: &str,
    dir: &Path,
    closed_rate: f64,
) -> Result<OpenLoopCheck, InstrumentError> {
    let target_rate = closed_rate * opts.open_loop_fraction;
    // Each connection sends about 1000 / delay requests per second while the server is fast.
    let delay_ms = ((opts.connections as f64 * 1000.0 / target_rate).round() as u64).max(1);
    let wrk = run_wrk(opts, url, dir, opts.connections, Some(delay_ms)).await?;
    let single = run_wrk(opts, url, dir, 1, None).await?;
    let rate = wrk.requests_per_sec.max(1.0);
    let spec = spec(
        url,
        opts.connections,
        opts.generator_cpu,
        Duration::ZERO,
        opts.duration,
    )?;
    let report = blocking(move || run_open_loop(&spec, rate, Arc::default())).await?;
    let open = report.open_loop.clone().unwrap_or(load::OpenLoopStats {
        requested_rate: rate,
        achieved_rate: 0.0,
        scheduled: 0,
        sent: 0,
        unsent: 0,
        queued: 0,
        lag_mean_us: 0.0,
        lag_max_us: 0,
        late_sends: 0,
    });
    let corrected = figures(&report);
    let service = report.service_latency_us.as_ref();
    let service_at = |q: f64| service.map_or(0.0, |h| ms(h.value_at_quantile(q)));
    Ok(OpenLoopCheck {
        target_rate,
        wrk_delay_ms: delay_ms,
        wrk_requests_per_sec: wrk.requests_per_sec,
        wrk_p50_ms: wrk.p50_ms,
        wrk_p99_ms: wrk.p99_ms,
        faceoff_requested_rate: rate,
        faceoff_achieved_rate: open.achieved_rate,
        faceoff_p50_ms: corrected.p50_ms,
        faceoff_p99_ms: corrected.p99_ms,
        faceoff_uncorrected_p50_ms: service_at(0.50),
        faceoff_uncorrected_p99_ms: service_at(0.99),
        wrk_single_requests_per_sec: single.requests_per_sec,
        wrk_single_p50_ms: single.p50_ms,
        wrk_single_p99_ms: single.p99_ms,
        p50_ratio: ratio(corrected.p50_ms, wrk.p50_ms),
        p99_ratio: ratio(corrected.p99_ms, wrk.p99_ms),
        p50_ratio_single: ratio(corrected.p50_ms, single.p50_ms),
        p99_ratio_single: ratio(corrected.p99_ms, single.p99_ms),
        p50_ratio_uncorrected: ratio(service_at(0.50), wrk.p50_ms),
        p99_ratio_uncorrected: ratio(service_at(0.99), wrk.p99_ms),
        lag_mean_ms: open.lag_mean_us / 1000.0,
        lag_max_ms: ms(open.lag_max_us),
        late_sends: open.late_sends,
        unsent: open.unsent,
    })
}

/// This process's resident set size in KiB, from `/proc/self/status`.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn memory_check(
    opts: &CalibrateOptions,
    url: &str,
    notes: &mut Vec<String>,
) -> Result<Option<MemoryCheck>, InstrumentError> {
    let connections = opts.memory_connections;
    let before = open_file_limits();
    let limit = match ensure_fd_limit(connections) {
        Ok(limit) => limit,
        Err(error) => {
            notes.push(format!("memory figure left out: {error}"));
            return Ok(None);
        }
    };
    if let Some((soft, hard)) = before {
        if soft < limit {
            notes.push(format!(
                "raised the soft open-file limit from {soft} to {limit} (hard limit {hard}) for \
                 {connections} connections"
            ));
        }
    }
    let Some(rss_before) = rss_kib() else {
        notes.push("memory figure left out: /proc/self/status has no VmRSS".to_owned());
        return Ok(None);
    };
    let mut spec = spec(
        url,
        connections,
        opts.generator_cpu,
        Duration::from_secs(1),
        MEMORY_HOLD,
    )?;
    spec.request_timeout = MEMORY_TIMEOUT;
    let run = tokio::task::spawn_blocking(move || run_closed_loop(&spec, Arc::default()));
    let mut peak = rss_before;
    while !run.is_finished() {
        tokio::time::sleep(RSS_SAMPLE).await;
        peak = peak.max(rss_kib().unwrap_or(0));
    }
    let report = blocking_result(run.await)?;
    let mib = |kib: u64| kib as f64 / 1024.0;
    notes.push(format!(
        "memory: {connections} connections opened at once by one generator thread, held {}s \
         under load; RSS is this whole process (VmRSS)",
        MEMORY_HOLD.as_secs() + 1
    ));
    Ok(Some(MemoryCheck {
        connections,
        connections_opened: report.connections_opened,
        errors: report.errors,
        warmup_errors: report.warmup_errors,
        open_file_limit: limit,
        rss_before_mib: mib(rss_before),
        rss_peak_mib: mib(peak),
        rss_added_mib: mib(peak.saturating_sub(rss_before)),
        requests_per_sec: report.requests_per_sec(),
    }))
}

fn blocking_result(
    joined: Result<Result<LoadReport, LoadError>, tokio::task::JoinError>,
) -> Result<LoadReport, InstrumentError> {
    match joined {
        Ok(result) => Ok(result?),
        Err(error) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => Err(io_error("the load generator was cancelled")(
                io::Error::other(error.to_string()),
            )),
        },
    }
}

/// What one wrk run printed, in the units faceoff uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WrkRun {
    /// Completed requests.
    pub requests: u64,
    /// The run's actual length, seconds.
    pub duration_s: f64,
    pub requests_per_sec: f64,
    pub latency_avg_ms: f64,
    pub latency_stdev_ms: f64,
    pub latency_max_ms: f64,
    /// From `--latency`'s distribution (0 when wrk did not print it).
    pub p50_ms: f64,
    pub p75_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    /// Bytes read, headers included.
    pub bytes_read: f64,
    /// `Socket errors:` line: connect, read, write, timeout.
    pub socket_errors: [u64; 4],
    /// `Non-2xx or 3xx responses:`.
    pub non_2xx_3xx: u64,
    /// CPU time (user + system) wrk used, seconds, from the kernel's accounting of waited-for
    /// children (0 when parsed from text alone).
    #[serde(default)]
    pub cpu_s: f64,
}

impl WrkRun {
    fn figures(&self) -> RunFigures {
        RunFigures {
            requests_per_sec: self.requests_per_sec,
            p50_ms: self.p50_ms,
            p99_ms: self.p99_ms,
            errors: self.socket_errors.iter().sum::<u64>() + self.non_2xx_3xx,
            cpu_us_per_request: per_request_us(self.cpu_s, self.requests),
        }
    }
}

/// Reads the output of `wrk --latency` (wrk 4.x).
///
/// # Errors
///
/// [`InstrumentError::WrkOutput`] when the `requests in` or `Requests/sec:` line is missing
/// or a figure cannot be read.
pub fn parse_wrk(output: &str) -> Result<WrkRun, InstrumentError> {
    let fail = |reason: &str| InstrumentError::WrkOutput {
        reason: reason.to_owned(),
        output: output.to_owned(),
    };
    let mut run = WrkRun {
        requests: 0,
        duration_s: 0.0,
        requests_per_sec: f64::NAN,
        latency_avg_ms: 0.0,
        latency_stdev_ms: 0.0,
        latency_max_ms: 0.0,
        p50_ms: 0.0,
        p75_ms: 0.0,
        p90_ms: 0.0,
        p99_ms: 0.0,
        bytes_read: 0.0,
        socket_errors: [0; 4],
        non_2xx_3xx: 0,
        cpu_s: 0.0,
    };
    let mut saw_requests = false;
    for line in output.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Latency", avg, stdev, max, ..] => {
                run.latency_avg_ms = wrk_time_ms(avg).ok_or_else(|| fail("latency average"))?;
                run.latency_stdev_ms = wrk_time_ms(stdev).ok_or_else(|| fail("latency stdev"))?;
                run.latency_max_ms = wrk_time_ms(max).ok_or_else(|| fail("latency max"))?;
            }
            [percent, value] if percent.ends_with('%') => {
                let value = wrk_time_ms(value).ok_or_else(|| fail("latency percentile"))?;
                match *percent {
                    "50%" => run.p50_ms = value,
                    "75%" => run.p75_ms = value,
                    "90%" => run.p90_ms = value,
                    "99%" => run.p99_ms = value,
                    _ => {}
                }
            }
            [count, "requests", "in", time, read, "read"] => {
                run.requests = count.parse().map_err(|_| fail("request count"))?;
                let time = time.trim_end_matches(',');
                run.duration_s = wrk_time_ms(time).ok_or_else(|| fail("run time"))? / 1000.0;
                run.bytes_read = wrk_bytes(read).ok_or_else(|| fail("bytes read"))?;
                saw_requests = true;
            }
            ["Socket", "errors:", rest @ ..] => {
                let numbers: Vec<u64> = rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse().ok())
                    .collect();
                if numbers.len() != 4 {
                    return Err(fail("socket errors"));
                }
                run.socket_errors.copy_from_slice(&numbers);
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => {
                run.non_2xx_3xx = n.parse().map_err(|_| fail("non-2xx count"))?;
            }
            ["Requests/sec:", n] => {
                run.requests_per_sec = n.parse().map_err(|_| fail("Requests/sec"))?;
            }
            _ => {}
        }
    }
    if !saw_requests {
        return Err(fail("no `N requests in T, B read` line"));
    }
    if run.requests_per_sec.is_nan() {
        return Err(fail("no Requests/sec line"));
    }
    Ok(run)
}

/// `764.00us`, `1.29ms`, `2.00s`, `1.50m`, `1.00h` in milliseconds.
fn wrk_time_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    Some(number * scale)
}

/// `32.56MB`, `512.00B`, `1.20KB` in bytes (wrk's units are powers of 1024).
fn wrk_bytes(text: &str) -> Option<f64> {
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_end);
    let number: f64 = number.parse().ok()?;
    let power = match unit {
        "B" | "" => 0,
        "KB" => 1,
        "MB" => 2,
        "GB" => 3,
        "TB" => 4,
        "PB" => 5,
        _ => return None,
    };
    Some(number * 1024f64.powi(power))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK_OUTPUT: &str = "\
Running 5s test @ http://127.0.0.1:18080/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.29ms    1.30ms  12.98ms   90.31%
    Req/Sec    41.53k     9.87k   64.50k    74.00%
  Latency Distribution
     50%  764.00us
     75%    1.27ms
     90%    2.53ms
     99%    7.18ms
  206929 requests in 5.01s, 32.56MB read
  Socket errors: connect 0, read 2, write 0, timeout 12
  Non-2xx or 3xx responses: 5
Requests/sec:  41285.16
Transfer/sec:      6.50MB
";

    #[test]
    fn reads_wrk_latency_output() {
        let run = parse_wrk(WRK_OUTPUT).unwrap();

        assert_eq!(run.requests, 206_929);
        assert!((run.duration_s - 5.01).abs() < 1e-9);
        assert_eq!(run.requests_per_sec, 41_285.16);
        assert_eq!(run.latency_avg_ms, 1.29);
        assert_eq!(run.latency_max_ms, 12.98);
        assert!((run.p50_ms - 0.764).abs() < 1e-9);
        assert_eq!((run.p75_ms, run.p90_ms, run.p99_ms), (1.27, 2.53, 7.18));
        assert!((run.bytes_read - 32.56 * 1024.0 * 1024.0).abs() < 1.0);
        assert_eq!(run.socket_errors, [0, 2, 0, 12]);
        assert_eq!(run.non_2xx_3xx, 5);
        assert_eq!(run.figures().errors, 19);
    }

    #[test]
    fn refuses_wrk_output_without_the_totals() {
        let cut = WRK_OUTPUT.split("  206929").next().unwrap();
        assert!(matches!(
            parse_wrk(cut),
            Err(InstrumentError::WrkOutput { .. })
        ));
        assert!(parse_wrk("unable to connect to 127.0.0.1:1 Connection refused").is_err());
    }

    #[test]
    fn reads_wrk_units() {
        assert_eq!(wrk_time_ms("2.00s"), Some(2000.0));
        assert_eq!(wrk_time_ms("1.50m"), Some(90_000.0));
        assert_eq!(wrk_time_ms("12"), None);
        assert_eq!(wrk_bytes("1.00KB"), Some(1024.0));
        assert_eq!(wrk_bytes("100.00B"), Some(100.0));
        assert_eq!(wrk_bytes("1.00XB"), None);
    }

    #[test]
    fn writes_an_nginx_config_pinned_to_the_server_cpu() {
        let config = nginx_config(
            Path::new("/tmp/x"),
            "127.0.0.1:4321".parse().unwrap(),
            1,
            10_512,
            20_000,
        );
        assert!(config.contains("worker_processes 1;"));
        assert!(config.contains("worker_cpu_affinity 10;"));
        assert!(config.contains("listen 127.0.0.1:4321 backlog=4096;"));
        assert!(config.contains("access_log off;"));
        assert!(config.contains(r#"return 200 '{"ok":true}';"#));
        assert!(config.contains("pid /tmp/x/nginx.pid;"));
        assert!(config.contains("worker_connections 10512;"));
        assert!(config.contains("worker_rlimit_nofile 20000;"));
    }

    #[test]
    fn refuses_settings_wrk_cannot_follow() {
        for opts in [
            CalibrateOptions {
                duration: Duration::from_millis(1500),
                ..CalibrateOptions::default()
            },
            CalibrateOptions {
                rounds: 0,
                ..CalibrateOptions::default()
            },
            CalibrateOptions {
                open_loop_fraction: 2.0,
                ..CalibrateOptions::default()
            },
        ] {
            assert!(matches!(validate(&opts), Err(InstrumentError::Invalid(_))));
        }
    }

    #[test]
    fn says_which_package_brings_a_missing_tool() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let opts = CalibrateOptions {
            nginx: PathBuf::from("/nonexistent/nginx"),
            ..CalibrateOptions::default()
        };
        let error = runtime.block_on(calibrate(&opts)).unwrap_err();
        assert!(
            error.to_string().contains("apt-get install -y nginx-light"),
            "{error}"
        );
    }
}
