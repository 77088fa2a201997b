//! The run itself: worker threads pinned to CPUs, each with its own single-threaded event loop
//! and its share of the connections; the timeline (warm-up, measured window, end); the shared
//! request budget; and the live counters.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use hyper::Method;
use tokio::task::{JoinHandle, LocalSet};
use tokio::time::{Instant, sleep_until, timeout_at};

use super::connection::drive_connection;
use super::open_loop::{Pacer, Schedule};
use super::record::{WorkerStats, merge};
use super::target::{Target, serialize_request};
use super::{
    CONNECT_GRACE, LiveCounters, LoadError, LoadReport, LoadSpec, STOP_POLL, ensure_fd_limit,
};

/// Pause between attempts to open the first connection.
pub(super) const PROBE_RETRY: Duration = Duration::from_millis(50);

/// How often each worker adds its counts to the [`LiveCounters`].
pub(super) const LIVE_FLUSH: Duration = Duration::from_millis(50);

/// How long after the end of the window a worker waits for its connection tasks before
/// abandoning them. Tasks stop by themselves at the deadline; this is only a safety net.
pub(super) const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// CPU ids at or above this cannot be expressed in a Linux `cpu_set_t`.
pub(super) const CPU_ID_LIMIT: usize = 1024;

pub(super) fn validate(spec: &LoadSpec) -> Result<(), LoadError> {
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

/// Opens the first connection, retrying for [`CONNECT_GRACE`].
pub(super) fn probe(
    addr: SocketAddr,
    connect_timeout: Duration,
) -> Result<std::net::TcpStream, LoadError> {
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
pub(super) struct Timeline {
    pub(super) start: Instant,
    pub(super) warmup_end: Instant,
    pub(super) end: Instant,
}

/// What the workers share; read-only except for the atomics.
pub(super) struct Shared {
    pub(super) addr: SocketAddr,
    /// The serialized request.
    pub(super) request: Vec<u8>,
    /// The request is a `HEAD`: responses have no body whatever their headers say.
    pub(super) head_request: bool,
    /// [`LoadSpec::keep_alive`]: `false` drops each connection after its response.
    pub(super) keep_alive: bool,
    pub(super) request_timeout: Duration,
    /// Request budget when [`LoadSpec::max_requests`] is set.
    pub(super) budget: Option<Budget>,
    /// The open-loop schedule; `None` for the closed loop.
    pub(super) schedule: Option<Schedule>,
    /// Length of each worker's per-second vector (whole seconds of the window plus one).
    pub(super) seconds: usize,
    pub(super) live: Arc<LiveCounters>,
    /// When the first worker saw [`LiveCounters::stop`]: the measured window ends there.
    pub(super) stopped_at: std::sync::OnceLock<Instant>,
}

/// Shared request budget: a slot is taken before a measured request is sent (or, for a
/// request sent during warm-up, when it completes in the window) and given back when the
/// request fails, so the number of measured responses never exceeds the bound and every
/// request the server answers is counted.
pub(super) struct Budget {
    pub(super) max: u64,
    pub(super) taken: AtomicU64,
    pub(super) done: AtomicU64,
}

impl Budget {
    pub(super) fn take(&self) -> bool {
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| {
                (taken < self.max).then_some(taken + 1)
            })
            .is_ok()
    }

    pub(super) fn give_back(&self) {
        self.taken.fetch_sub(1, Ordering::AcqRel);
    }

    pub(super) fn complete(&self) {
        self.done.fetch_add(1, Ordering::AcqRel);
    }

    pub(super) fn exhausted(&self) -> bool {
        self.done.load(Ordering::Acquire) >= self.max
    }
}

/// What a worker thread is told once every worker is ready.
pub(super) enum Go {
    Start(Timeline),
    Abort,
}

pub(super) fn run(
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
        request: serialize_request(&spec.method, &target, spec.body.as_ref(), spec.keep_alive),
        keep_alive: spec.keep_alive,
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
        stopped_at: std::sync::OnceLock::new(),
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
        // Until the warm-up ends, or the run is stopped.
        loop {
            let until_measuring = timeline
                .warmup_end
                .saturating_duration_since(Instant::now());
            if until_measuring.is_zero() || live.stopped() {
                break;
            }
            std::thread::sleep(until_measuring.min(STOP_POLL));
        }
        live.measuring.store(!live.stopped(), Ordering::Relaxed);

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
pub(super) struct WorkerSetup {
    pub(super) shared: Arc<Shared>,
    pub(super) connections: usize,
    pub(super) first: Option<std::net::TcpStream>,
    pub(super) cpu: Option<usize>,
}

/// Pins the thread, builds its runtime, says it is ready, waits for the start and runs its
/// connections. Returns `None` when told to abort before starting.
pub(super) fn worker_thread(
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
pub(super) struct Worker {
    pub(super) shared: Arc<Shared>,
    pub(super) timeline: Timeline,
    pub(super) stats: RefCell<WorkerStats>,
    /// Open loop: wakes connections when their slots are due; `None` for the closed loop or
    /// where no timerfd can be made (then tokio's millisecond timer is used).
    pub(super) pacer: Option<Pacer>,
}

pub(super) async fn drive_worker(
    worker: Rc<Worker>,
    connections: usize,
    mut first: Option<std::net::TcpStream>,
) -> WorkerStats {
    let flusher = tokio::task::spawn_local(flush_live(Rc::clone(&worker)));
    let pacer = tokio::task::spawn_local(run_pacer(Rc::clone(&worker)));
    let tasks: Vec<JoinHandle<()>> = (0..connections)
        .map(|_| tokio::task::spawn_local(drive_connection(Rc::clone(&worker), first.take())))
        .collect();
    let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
    let give_up = worker.timeline.end + SHUTDOWN_GRACE;
    let finish = async {
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
    };
    tokio::select! {
        () = finish => {}
        () = watch_stop(&worker) => {
            // Stopped: requests in flight are abandoned, as at the end of the window; what
            // the connections counted so far is kept.
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
        }
    }
    flusher.abort();
    pacer.abort();
    let mut stats = worker.stats.borrow_mut();
    stats.flush_live(&worker.shared.live);
    std::mem::replace(&mut *stats, WorkerStats::new(0, false))
}

/// Returns once [`LiveCounters::stop`] was called, noting when in [`Shared::stopped_at`];
/// never returns when the run is not stopped.
pub(super) async fn watch_stop(worker: &Worker) {
    loop {
        if worker.shared.live.stopped() {
            worker.shared.stopped_at.get_or_init(Instant::now);
            return;
        }
        tokio::time::sleep(STOP_POLL).await;
    }
}

/// Drives the worker's [`Pacer`], if it has one, until the task is aborted.
pub(super) async fn run_pacer(worker: Rc<Worker>) {
    if let Some(pacer) = &worker.pacer {
        pacer.run().await;
    }
}

/// Adds the worker's counts to the live counters every [`LIVE_FLUSH`] until the end.
pub(super) async fn flush_live(worker: Rc<Worker>) {
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
