//! Where a target runs: a Docker container ([`docker`]) or a process on the host ([`local`]).
//!
//! Both implement [`Runtime`]; the run, the readiness check and the sampling only see the
//! trait, so every target is started, checked and measured the same way on either.

pub mod docker;
pub mod engines;
pub mod local;
pub mod network;
pub mod owner;
pub mod peers;
mod proc;
pub mod services;

pub use proc::{PortHolder, connection_owners, port_holder, process_cpu_ns};

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::Target;
use crate::images::{AppImage, ImageError};

/// The address apps listen on and traffic goes to unless the user names another
/// (`--target-address`, `--services-address`: see [`engines`]).
pub const HOST: &str = "127.0.0.1";
/// When a target that exited before it answered stopped, for [`RuntimeError::Crashed`].
pub const BEFORE_READY: &str = "before it became ready";
/// Log lines an error carries when an app fails to start.
pub const LOG_TAIL_LINES: usize = 40;

/// Which runtime runs the targets.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// One container per target on the Docker engine (host networking).
    Docker,
    /// One process per target on this host, from the host's node / python3.
    Local,
}

impl RuntimeKind {
    /// What one running target is called on this runtime.
    pub fn label(&self) -> &'static str {
        match self {
            RuntimeKind::Docker => "container",
            RuntimeKind::Local => "pid",
        }
    }

    /// What `clean` removes on this runtime, plural.
    pub fn unit(&self) -> &'static str {
        match self {
            RuntimeKind::Docker => "container(s)",
            RuntimeKind::Local => "process(es)",
        }
    }
}

/// Resource limits, identical for every target of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Limits {
    /// CPUs the server may run on, in cpuset syntax (`1`, `0-1`, `2,3`).
    pub cpuset: String,
    /// Memory limit in bytes (swap included, so no swap).
    pub memory_bytes: u64,
}

/// Why a target could not be prepared, started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("no Docker engine answers at {endpoint} for the {role} ({message}): {fix}")]
    NoEngine {
        role: engines::Role,
        endpoint: String,
        message: String,
        fix: String,
    },
    #[error(transparent)]
    EngineSetup(#[from] engines::EngineSetupError),
    #[error("port {port} on 127.0.0.1 is in use: stop what listens there or pick another port")]
    PortInUse { port: u16 },
    #[error(
        "port {port} on 127.0.0.1 was taken by another process ({holder}) before {target} could listen on it: stop that process, or run again (faceoff picks another free port)"
    )]
    PortTaken {
        target: String,
        port: u16,
        holder: String,
    },
    #[error("{target} exited with code {code} {during}; last log lines: {logs}")]
    Crashed {
        target: String,
        code: i64,
        /// When: [`BEFORE_READY`], "during the contract cases", …
        during: &'static str,
        logs: String,
    },
    #[error(
        "{target} was killed for memory (limit {limit_mib} MiB): raise --memory; last log lines: {logs}"
    )]
    OomKilled {
        target: String,
        limit_mib: u64,
        logs: String,
    },
    #[error(
        "{target} did not answer 200 on GET /status within {timeout_s} s ({last}): raise --ready-timeout or check the app; last log lines: {logs}"
    )]
    NotReady {
        target: String,
        timeout_s: u64,
        last: String,
        logs: String,
    },
    #[error("preparing {target} failed: {message}")]
    Prepare { target: String, message: String },
    #[error("invalid cpuset `{0}`: use a list like `1`, `0-1` or `2,3` of CPUs this host has")]
    BadCpuset(String),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Engine(crate::engine::EngineError),
    /// The cause is in the line, not a source: targets record their errors as one line.
    #[error("{context}: {cause}")]
    Io {
        context: String,
        cause: std::io::Error,
    },
}

// The engine's message is part of this error's own line (targets record errors as one
// line), so it is not also exposed as a source: each cause prints once.
impl From<bollard::errors::Error> for RuntimeError {
    fn from(err: bollard::errors::Error) -> Self {
        RuntimeError::Engine(err.into())
    }
}

impl From<crate::engine::EngineError> for RuntimeError {
    fn from(err: crate::engine::EngineError) -> Self {
        RuntimeError::Engine(err)
    }
}

/// How a target ended, when it ended on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Exited {
    pub code: i64,
    pub oom_killed: bool,
}

/// One reading of a running target's resource use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResourceReading {
    /// When it was read.
    pub at: Instant,
    /// CPU time used so far, all processes of the target, in nanoseconds.
    pub cpu_total_ns: u64,
    /// Memory in use now, in bytes (cgroup usage less inactive file cache; or RSS).
    pub memory_bytes: u64,
}

/// What a target's start-up time is counted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StartClock {
    /// The engine was asked to start the created container (Docker runtime): the figure
    /// includes the engine's own work (namespaces, cgroup, runc), alike for every target.
    ContainerStart,
    /// The server process was spawned (local runtime): fork and exec, then the runtime's
    /// own initialisation.
    ProcessExec,
}

impl StartClock {
    /// What the clock started at, for summaries: "container start", "process exec".
    pub fn label(self) -> &'static str {
        match self {
            StartClock::ContainerStart => "container start",
            StartClock::ProcessExec => "process exec",
        }
    }
}

/// When and how a target was started: the zero of its cold-start time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Launched {
    pub clock: StartClock,
    /// Just before the engine's start call, or the spawn.
    pub at: Instant,
    /// How long the engine's start call itself took (Docker only): the part of the cold
    /// start that is the engine's, not the runtime's.
    pub start_call: Option<Duration>,
}

/// A target made ready to start: its image, or its installed copy on the host.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub target: Target,
    /// The app image (Docker runtime).
    pub image: Option<AppImage>,
    /// The installed app directory (local runtime).
    pub local_dir: Option<PathBuf>,
    pub lockfile_sha256: String,
}

/// What a started target is.
pub struct LaunchSpec<'a> {
    pub run_id: &'a str,
    pub port: u16,
    pub limits: &'a Limits,
    /// Extra environment: the URLs of the services the target talks to (topology).
    pub env: &'a [(String, String)],
}

/// A running target.
#[allow(async_fn_in_trait)]
pub trait Instance {
    /// The container id or process id.
    fn id(&self) -> String;
    fn port(&self) -> u16;
    /// `Some` once the target has stopped on its own.
    async fn exited(&self) -> Result<Option<Exited>, RuntimeError>;
    /// The last `lines` lines the target printed, joined by " | ".
    async fn logs_tail(&self, lines: usize) -> String;
    /// The target's resource use now.
    async fn read_resources(&self) -> Result<ResourceReading, RuntimeError>;
    /// The language runtime's own version string (`v24.21.0`, `Python 3.13.5`).
    async fn runtime_version(&self) -> Option<String>;
    /// When the target was started, for its cold-start time; `None` for instances that do
    /// not record it.
    fn launched(&self) -> Option<Launched> {
        None
    }
    /// Whether the local process `pid` is part of this target; `None` when this runtime
    /// cannot tell (a remote engine).
    async fn owns_process(&self, _pid: u32) -> Option<bool> {
        None
    }
    /// How many files the target's process may open (its soft `RLIMIT_NOFILE`), when known:
    /// it bounds how many connections it can hold.
    async fn open_files_limit(&self) -> Option<u64> {
        None
    }
    /// Stops and removes the target.
    async fn stop(self) -> Result<(), RuntimeError>;
}

/// A place targets run.
#[allow(async_fn_in_trait)]
pub trait Runtime {
    type Instance: Instance;
    fn kind(&self) -> RuntimeKind;
    /// Builds the image or installs the app, reusing what is up to date.
    async fn prepare(
        &self,
        target: &Target,
        progress: crate::images::Progress<'_>,
    ) -> Result<Prepared, RuntimeError>;
    /// Starts a prepared target listening on 127.0.0.1 and `spec.port`.
    async fn start(
        &self,
        prepared: &Prepared,
        spec: &LaunchSpec<'_>,
    ) -> Result<Self::Instance, RuntimeError>;
    /// Other faceoff runs with live containers on this runtime's engine (none for the local
    /// runtime: [`peers::on_this_host`] sees those).
    async fn other_runs(&self, _own_run_id: &str) -> Vec<peers::PeerRun> {
        Vec::new()
    }
    /// Removes what faceoff left behind: everything of `run_id`, or of any run when `None`.
    /// Returns how many containers or processes were removed.
    async fn clean(&self, run_id: Option<&str>) -> Result<usize, RuntimeError>;
}

/// How every target of a run is started.
pub struct LaunchSettings<'a> {
    pub run_id: &'a str,
    pub limits: &'a Limits,
    pub ready_timeout: Duration,
}

/// Prepares `target`, starts it on a free port and waits until it is ready; on failure the
/// target is stopped again and the error carries its logs.
pub async fn start_ready<R: Runtime>(
    runtime: &R,
    target: &Target,
    launch: &LaunchSettings<'_>,
    env: &[(String, String)],
    progress: crate::images::Progress<'_>,
) -> Result<R::Instance, RuntimeError> {
    let prepared = runtime.prepare(target, progress).await?;
    let spec = LaunchSpec {
        run_id: launch.run_id,
        port: pick_free_port()?,
        limits: launch.limits,
        env,
    };
    let instance = runtime.start(&prepared, &spec).await?;
    match wait_ready(&instance, &target.name, launch.limits, launch.ready_timeout).await {
        Ok(_) => Ok(instance),
        Err(err) => {
            // The readiness error is the one worth reporting; stopping is best effort.
            let _ = instance.stop().await;
            Err(err)
        }
    }
}

/// A port on 127.0.0.1 nothing listens on now.
pub fn pick_free_port() -> Result<u16, RuntimeError> {
    let listener =
        TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).map_err(|source| {
            RuntimeError::Io {
                context: "finding a free port on 127.0.0.1".into(),
                cause: source,
            }
        })?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|source| RuntimeError::Io {
            context: "finding a free port on 127.0.0.1".into(),
            cause: source,
        })
}

/// Fails with [`RuntimeError::PortInUse`] when something listens on `port` already.
pub fn ensure_port_free(port: u16) -> Result<(), RuntimeError> {
    match TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)) {
        Ok(_) => Ok(()),
        Err(_) => Err(RuntimeError::PortInUse { port }),
    }
}

/// Parses a cpuset (`1`, `0-1`, `0,2-3`) into CPU numbers.
pub fn parse_cpuset(cpuset: &str) -> Result<Vec<usize>, RuntimeError> {
    let bad = || RuntimeError::BadCpuset(cpuset.to_string());
    let mut cpus = Vec::new();
    for part in cpuset.split(',').map(str::trim) {
        match part.split_once('-') {
            Some((from, to)) => {
                let from: usize = from.trim().parse().map_err(|_| bad())?;
                let to: usize = to.trim().parse().map_err(|_| bad())?;
                if from > to {
                    return Err(bad());
                }
                cpus.extend(from..=to);
            }
            None => cpus.push(part.parse().map_err(|_| bad())?),
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus.is_empty()
        || cpus
            .iter()
            .any(|&cpu| cpu >= available.max(host_cpu_count()))
    {
        return Err(bad());
    }
    Ok(cpus)
}

/// The host's CPUs outside `taken` (the server's), for the generator or a service; empty
/// when the server has them all.
pub fn cpus_besides(taken: &[usize]) -> Vec<usize> {
    (0..host_cpu_count())
        .filter(|c| !taken.contains(c))
        .collect()
}

/// The load generator's CPUs: those asked for, else every online CPU outside the server's
/// set, else (a one-CPU host) the server's own, which the caller must flag as not fair.
pub fn generator_cpus(asked: Option<&str>, server: &[usize]) -> Result<Vec<usize>, RuntimeError> {
    if let Some(cpus) = asked {
        return parse_cpuset(cpus);
    }
    let others = cpus_besides(server);
    Ok(if others.is_empty() {
        server.to_vec()
    } else {
        others
    })
}

/// CPUs this host has online.
pub fn host_cpu_count() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 {
        n as usize
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// Pause between readiness probes. The cold-start time is read from the first 200, so this
/// bounds its resolution; a refused connect on 127.0.0.1 costs microseconds.
pub const READY_POLL: Duration = Duration::from_millis(10);

/// Pause between checks that the target has not exited while it starts. Each is an engine
/// call on Docker: kept at a tenth of the probes' pace, so that the engine does not compete
/// with the target it is timing.
const EXIT_CHECK: Duration = Duration::from_millis(100);

/// Waits until the target answers 200 on `GET /status`, failing early with its logs when it
/// exits (or is killed for memory) first. A 200 from another process that took the port
/// first is not the target's: that is [`RuntimeError::PortTaken`], not readiness. Returns
/// when the target's first 200 arrived.
pub async fn wait_ready<I: Instance>(
    instance: &I,
    target: &str,
    limits: &Limits,
    timeout: Duration,
) -> Result<Instant, RuntimeError> {
    let deadline = Instant::now() + timeout;
    let mut next_exit_check = Instant::now();
    loop {
        let checked = Instant::now() >= next_exit_check;
        if checked {
            next_exit_check = Instant::now() + EXIT_CHECK;
        }
        if checked && let Some(cause) = exit_cause(instance, target, limits, BEFORE_READY).await? {
            return Err(cause);
        }
        let last = match probe_status(instance.port()).await {
            Ok(200) => {
                // Its time, before the check of who answered (a look in /proc) adds its own.
                let at = Instant::now();
                return match port_taken(instance, target).await {
                    Some(taken) => Err(taken),
                    None => Ok(at),
                };
            }
            Ok(code) => format!("last answer: HTTP {code}"),
            Err(err) => format!("last attempt: {err}"),
        };
        if Instant::now() >= deadline {
            return Err(RuntimeError::NotReady {
                target: target.into(),
                timeout_s: timeout.as_secs(),
                last,
                logs: instance.logs_tail(LOG_TAIL_LINES).await,
            });
        }
        tokio::time::sleep(READY_POLL).await;
    }
}

/// Why the target stopped, when it has: killed for memory, its port taken by another
/// process (it could not listen), or its exit code with its logs; `during` says when
/// ("before it became ready", "during the contract cases"). `None` while it runs.
pub async fn exit_cause<I: Instance>(
    instance: &I,
    target: &str,
    limits: &Limits,
    during: &'static str,
) -> Result<Option<RuntimeError>, RuntimeError> {
    let Some(exited) = instance.exited().await? else {
        return Ok(None);
    };
    let logs = instance.logs_tail(LOG_TAIL_LINES).await;
    if exited.oom_killed {
        return Ok(Some(RuntimeError::OomKilled {
            target: target.into(),
            limit_mib: limits.memory_bytes / (1024 * 1024),
            logs,
        }));
    }
    if let Some(taken) = port_taken(instance, target).await {
        return Ok(Some(taken));
    }
    Ok(Some(RuntimeError::Crashed {
        target: target.into(),
        code: exited.code,
        during,
        logs,
    }))
}

/// [`RuntimeError::PortTaken`] when a process of this host that is not the target listens
/// on the target's port. Only where the runtime can tell which processes are its own.
async fn port_taken<I: Instance>(instance: &I, target: &str) -> Option<RuntimeError> {
    let port = instance.port();
    let holder = port_holder(port)?;
    match instance.owns_process(holder.pid).await {
        Some(false) => Some(RuntimeError::PortTaken {
            target: target.into(),
            port,
            holder: holder.to_string(),
        }),
        _ => None,
    }
}

/// One `GET /status` on the targets' address (127.0.0.1 unless `--target-address` names
/// another) and `port`; returns the HTTP status code.
pub async fn probe_status(port: u16) -> std::io::Result<u16> {
    probe_status_at(engines::target_host(), port).await
}

/// One `GET /status` on `host`:`port`; returns the HTTP status code.
pub async fn probe_status_at(host: std::net::IpAddr, port: u16) -> std::io::Result<u16> {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect((host, port)).await?;
        let request =
            format!("GET /status HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut head = [0u8; 64];
        let mut read = 0;
        while read < 12 {
            let n = stream.read(&mut head[read..]).await?;
            if n == 0 {
                break;
            }
            read += n;
        }
        parse_status_line(&head[..read]).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response")
        })
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

fn parse_status_line(head: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(head).ok()?;
    let rest = text.strip_prefix("HTTP/1.")?;
    rest.get(2..5)?.parse().ok()
}

/// The soft "Max open files" of a /proc/PID/limits text.
pub fn max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The last `lines` non-empty lines of `text`, joined by " | " so an error stays on one line.
pub fn tail_lines(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let tail = &all[all.len().saturating_sub(lines)..];
    if tail.is_empty() {
        "(no output)".into()
    } else {
        tail.join(" | ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuset_accepts_lists_and_ranges() {
        assert_eq!(parse_cpuset("0").unwrap(), [0]);
        assert_eq!(parse_cpuset("1,0").unwrap(), [0, 1]);
        assert_eq!(parse_cpuset("0-1").unwrap(), [0, 1]);
    }

    #[test]
    fn cpuset_rejects_garbage_and_missing_cpus() {
        assert!(parse_cpuset("a").is_err());
        assert!(parse_cpuset("1-0").is_err());
        assert!(parse_cpuset("4096").is_err());
        assert!(parse_cpuset("").is_err());
    }

    #[test]
    fn max_open_files_is_read_from_proc_limits() {
        let text = "Limit                     Soft Limit           Hard Limit           Units\nMax processes             95283                95283                processes\nMax open files            20000                40000                files\n";
        assert_eq!(max_open_files(text), Some(20000));
        assert_eq!(max_open_files("garbage"), None);
    }

    #[test]
    fn status_line_is_parsed() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(parse_status_line(b"HTTP/1.0 503 x"), Some(503));
        assert_eq!(parse_status_line(b"SSH-2.0"), None);
    }

    #[test]
    fn port_in_use_is_reported() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let err = ensure_port_free(port).unwrap_err();
        assert!(err.to_string().contains(&port.to_string()));
    }

    /// A target that starts listening `after` its launch and answers 200 to everything.
    struct SlowStarter {
        port: u16,
    }

    impl SlowStarter {
        fn launch(after: Duration) -> Self {
            let port = pick_free_port().unwrap();
            std::thread::spawn(move || {
                std::thread::sleep(after);
                let listener = TcpListener::bind((HOST, port)).unwrap();
                for stream in listener.incoming().flatten() {
                    use std::io::{Read, Write};
                    let mut stream = stream;
                    let mut buf = [0u8; 512];
                    let _ = stream.read(&mut buf);
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                }
            });
            SlowStarter { port }
        }
    }

    impl Instance for SlowStarter {
        fn id(&self) -> String {
            "slow".into()
        }
        fn port(&self) -> u16 {
            self.port
        }
        async fn exited(&self) -> Result<Option<Exited>, RuntimeError> {
            Ok(None)
        }
        async fn logs_tail(&self, _: usize) -> String {
            String::new()
        }
        async fn read_resources(&self) -> Result<ResourceReading, RuntimeError> {
            Ok(ResourceReading {
                at: Instant::now(),
                cpu_total_ns: 0,
                memory_bytes: 0,
            })
        }
        async fn runtime_version(&self) -> Option<String> {
            None
        }
        async fn stop(self) -> Result<(), RuntimeError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn readiness_is_seen_within_a_few_ms_of_the_first_200() {
        let limits = Limits {
            cpuset: "0".into(),
            memory_bytes: 1 << 30,
        };
        let launched = Instant::now();
        let target = SlowStarter::launch(Duration::from_millis(120));
        let ready = wait_ready(&target, "slow", &limits, Duration::from_secs(5))
            .await
            .unwrap();
        let ms = ready.duration_since(launched).as_millis();
        // Probing every 100 ms would first see it at 200 ms: too coarse for a cold start.
        assert!((120..170).contains(&ms), "ready after {ms} ms");
    }

    #[test]
    fn tail_keeps_last_lines_on_one_line() {
        assert_eq!(tail_lines("a\n\nb\nc\n", 2), "b | c");
        assert_eq!(tail_lines("", 2), "(no output)");
    }
}
