//! `faceoff run`: prepare every target, then for each trial start each target in turn (order
//! shuffled from a recorded seed and rotated per trial), wait until it is ready, drive the load while sampling its resources,
//! stop it, and write the results file after every step.

pub mod chat;
pub mod scaling;
pub mod session;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::config::{Fixtures, Target, Workload};
use crate::contract::Contract;
use crate::load::{LiveCounters, LoadReport, LoadSpec};
use crate::manifest::framework_version;
use crate::results::{
    self, DuetResult, DuetRound, RunResults, TargetResult, TargetStatus, TrialResult, VerifyStatus,
};
use crate::runtime::services::{
    Launcher, PreparedService, RunningServices, Service, ServiceInstance, TopologyError,
};
use crate::runtime::{self, Instance, LaunchSpec, Limits, Prepared, Runtime};
use crate::sample;
use crate::stats::latency_summary;
use crate::sweep::LoadPlan;
pub use crate::ui::Ui;
use crate::ui::{progress_bar, update_bar};

/// Everything a run needs, validated.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub run_id: String,
    pub targets: Vec<Target>,
    pub workload: Workload,
    pub trials: u32,
    /// Seed of the trial order (see [`crate::schedule`]).
    pub seed: u64,
    /// The load profile the figures below came from.
    pub profile: String,
    pub connections: usize,
    /// Stop each trial after this many measured requests.
    pub max_requests: Option<u64>,
    /// Closed loop, open loop at a rate, or a rate sweep (from the profile).
    pub load: LoadPlan,
    /// Keep connections open between requests; `false` opens one per request, as Apache
    /// Bench does (from the profile).
    pub keep_alive: bool,
    pub duration: Duration,
    pub warmup: Duration,
    pub request_timeout: Duration,
    pub ready_timeout: Duration,
    pub sample_interval: Duration,
    pub limits: Limits,
    pub generator_cpus: Vec<usize>,
    pub results_path: PathBuf,
    /// The contract to verify each target against before timing it; `None` with
    /// `--skip-verify`.
    pub contract: Option<Contract>,
    /// The services the workload needs (a PostgreSQL for `db`), started before the target
    /// in every trial and torn down with it.
    pub services: Vec<Service>,
    /// Starts those services; `Some` whenever `services` is not empty.
    pub launcher: Option<Launcher>,
    /// After each round of trials, measure each of these pairs of targets at once on the
    /// same cpuset (see [`duet_round`]); empty: no duet rounds.
    pub duet_pairs: Vec<[String; 2]>,
    /// Duet rounds of each pair after each round of trials, half in each start order (see
    /// [`start_orders`]).
    pub duet_rounds: u32,
}

/// Duet rounds of each pair per round of trials unless `--duet-rounds` says otherwise: one
/// in each start order.
pub const DUET_ROUNDS: u32 = 2;

/// An HTTP run's trials: each target started with its services, verified (in a start of
/// its own) before its first trial, then loaded with the plan's profile.
pub struct HttpTrials<'a> {
    pub plan: &'a RunPlan,
}

impl session::Trials for HttpTrials<'_> {
    type Shared = Vec<PreparedService>;

    fn schedule(&self) -> session::Schedule<'_> {
        session::Schedule {
            targets: &self.plan.targets,
            trials: self.plan.trials,
            seed: self.plan.seed,
            results_path: &self.plan.results_path,
            verify: self.plan.contract.is_some(),
        }
    }

    async fn prepare_shared(
        &self,
        results: &mut RunResults,
        ui: Ui,
    ) -> Result<Vec<PreparedService>, String> {
        let services = prepare_services(self.plan, ui)
            .await
            .map_err(|err| err.to_string())?;
        if let Some(launcher) = &self.plan.launcher {
            results.services = launcher.records(&services);
        }
        Ok(services)
    }

    async fn trial<R: Runtime>(
        &self,
        runtime: &R,
        prepared: &Prepared,
        services: &Vec<PreparedService>,
        trial: u32,
        ui: Ui,
    ) -> session::Outcome {
        let outcome = run_trial(runtime, prepared, services, self.plan, trial, ui).await;
        if let Ok((result, _)) = &outcome.measured {
            for line in trial_lines(result) {
                ui.step(&line);
            }
        }
        session::Outcome {
            measured: outcome
                .measured
                .map(|(result, version)| (session::Measured::Http(Box::new(result)), version))
                .map_err(|err| err.to_string()),
            verification: outcome.verification,
            service_died: outcome.service_died.map(|err| err.to_string()),
        }
    }

    async fn after_round<R: Runtime>(
        &self,
        runtime: &R,
        prepared: &[Prepared],
        services: &Vec<PreparedService>,
        round: u32,
        results: &mut RunResults,
        ui: Ui,
    ) -> Result<(), results::WriteError> {
        if self.plan.duet_pairs.is_empty() || prepared.len() < 2 {
            return Ok(());
        }
        self.duets(runtime, prepared, services, round, results, ui)
            .await
    }
}

impl HttpTrials<'_> {
    /// Each chosen pair's duet rounds of trial round `round`, one in each start order (see
    /// [`start_orders`]), recorded as each ends. A pair that fails is recorded with its error
    /// and not tried again; the targets' own trials are not affected.
    async fn duets<R: Runtime>(
        &self,
        runtime: &R,
        prepared: &[Prepared],
        services: &[PreparedService],
        round: u32,
        results: &mut RunResults,
        ui: Ui,
    ) -> Result<(), results::WriteError> {
        for (i, a) in prepared.iter().enumerate() {
            for b in &prepared[i + 1..] {
                let names = [a.target.name.clone(), b.target.name.clone()];
                let chosen = self.plan.duet_pairs.iter().any(|[x, y]| {
                    (x == &names[0] && y == &names[1]) || (x == &names[1] && y == &names[0])
                });
                if !chosen {
                    continue;
                }
                let index = match results.duets.iter().position(|d| d.targets == names) {
                    Some(index) => index,
                    None => {
                        results.duets.push(DuetResult {
                            targets: names.clone(),
                            rounds: Vec::new(),
                            error: None,
                        });
                        results.duets.len() - 1
                    }
                };
                if results.duets[index].error.is_some() {
                    continue;
                }
                let orders = start_orders(round, [a, b], self.plan.duet_rounds);
                let count = orders.len();
                for (order, [first, second]) in orders.into_iter().enumerate() {
                    ui.step(&format!(
                        "[duet {round}/{} · {}/{count}] {} + {} on cpuset {}, {} started first",
                        self.plan.trials,
                        order + 1,
                        names[0],
                        names[1],
                        self.plan.limits.cpuset,
                        first.target.name
                    ));
                    let duet = &mut results.duets[index];
                    match duet_round(runtime, [first, second], services, self.plan, round).await {
                        Ok(mut measured) => {
                            if first.target.name != names[0] {
                                measured.trials.reverse();
                            }
                            let [x, y] = &measured.trials;
                            ui.step(&format!(
                                "  {:.0} vs {:.0} req/s: ratio {:.3}; server CPU {:.0}% + {:.0}%",
                                x.requests_per_sec,
                                y.requests_per_sec,
                                x.requests_per_sec / y.requests_per_sec.max(f64::MIN_POSITIVE),
                                x.resources.mean_cpu_percent,
                                y.resources.mean_cpu_percent
                            ));
                            duet.rounds.push(measured);
                        }
                        Err(err) => {
                            ui.step(&format!("  duet failed: {err}"));
                            duet.error = Some(err.to_string());
                        }
                    }
                    results::write(&self.plan.results_path, results)?;
                    if results.duets[index].error.is_some() {
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A trial round's `count` duets of `pair`, half in each start order, alternating, so that
/// which server starts and warms first (measured to move a round's ratio by several
/// percent) cancels within every round. Odd rounds start with the pair's first target, even
/// ones with its second, so neither order is always the one run right after the dedicated
/// trials either.
fn start_orders<T: Copy>(round: u32, [a, b]: [T; 2], count: u32) -> Vec<[T; 2]> {
    (0..count.max(2))
        .map(|i| if (round + i) % 2 == 1 { [a, b] } else { [b, a] })
        .collect()
}

/// The progress lines after an HTTP trial: its headline figures, and a sweep's steps.
fn trial_lines(trial: &TrialResult) -> Vec<String> {
    let services: String = trial
        .services
        .iter()
        .map(|(service, used)| format!(", {service} mean CPU {:.0}%", used.mean_cpu_percent))
        .collect();
    let start = trial.startup.map(|s| {
        format!(
            "  ready {:.0} ms after {}, idle {}",
            s.ready_ms,
            s.from.label(),
            s.idle_memory_bytes.map_or_else(
                || "memory unread".into(),
                |b| format!("{:.1} MiB", b as f64 / 1048576.0)
            )
        )
    });
    if trial.is_start_only() {
        return start.into_iter().collect();
    }
    let mut lines: Vec<String> = start.into_iter().collect();
    lines.push(format!(
        "  {:.0} req/s, p99 {:.2} ms, {} errors, peak {:.1} MiB{services}",
        trial.requests_per_sec,
        trial.latency.p99_ms,
        trial.errors.total(),
        trial.resources.peak_memory_bytes as f64 / 1048576.0
    ));
    if let Some(sweep) = &trial.sweep {
        lines.extend(
            crate::sweep::step_lines(sweep)
                .iter()
                .map(|l| format!("    {l}")),
        );
        lines.push(format!("  {}", crate::sweep::max_rate_text(sweep)));
    }
    lines
}

/// Runs the plan (see [`session::execute`]).
pub async fn execute<R: Runtime>(
    runtime: &R,
    fixtures: &Fixtures,
    plan: &RunPlan,
    results: &mut RunResults,
    ui: Ui,
) -> Result<(), results::WriteError> {
    session::execute(runtime, fixtures, &HttpTrials { plan }, results, ui).await
}

/// Prepares every target (finds or builds its image), recording each one's image and
/// lockfile, or why it failed, and rewriting the results file after each.
pub(crate) async fn prepare_all<R: Runtime>(
    runtime: &R,
    fixtures: &Fixtures,
    targets: &[Target],
    results: &mut RunResults,
    results_path: &Path,
    ui: Ui,
) -> Result<Vec<Prepared>, results::WriteError> {
    let mut prepared: Vec<Prepared> = Vec::new();
    for target in targets {
        let entry = results.target_mut(&empty_result(target, fixtures));
        // An engine that left a call unanswered would make each target wait out the limit.
        if let Some(stalled) = crate::engine::stalled() {
            entry.status = TargetStatus::Failed;
            entry.error = Some(format!("not prepared: {stalled}"));
            results::write(results_path, results)?;
            continue;
        }
        ui.step(&format!("[prepare] {}", target.name));
        let progress = |line: &str| ui.step(&format!("  {line}"));
        match runtime.prepare(target, &progress).await {
            Ok(ready) => {
                entry.image = ready.image.clone();
                entry.lockfile_sha256 = Some(ready.lockfile_sha256.clone());
                prepared.push(ready);
            }
            Err(err) => {
                ui.step(&format!("  {}: {err}", target.name));
                entry.status = TargetStatus::Failed;
                entry.error = Some(err.to_string());
            }
        }
        results::write(results_path, results)?;
    }
    Ok(prepared)
}

pub(crate) fn empty_result(target: &Target, fixtures: &Fixtures) -> TargetResult {
    TargetResult {
        target: target.name.clone(),
        language: target.language.to_string(),
        framework: target.framework.clone(),
        framework_version: framework_version(target, &fixtures.app_dir(target)),
        server: target.server.clone(),
        runtime_version: None,
        lockfile_sha256: None,
        image: None,
        status: TargetStatus::Ok,
        verify: VerifyStatus::NotRun,
        verify_failures: Vec::new(),
        verify_cases: Vec::new(),
        error: None,
        trials: Vec::new(),
        chat_trials: Vec::new(),
        workers: target.workers,
        variant: target.variant.clone(),
    }
}

/// Why a trial failed.
#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    #[error(transparent)]
    Runtime(#[from] runtime::RuntimeError),
    /// The generator's message is part of the line targets record, not also a source.
    #[error("load generator: {0}")]
    Load(crate::load::LoadError),
    #[error("load generator thread failed: {0}")]
    Join(String),
    #[error("{target} stopped during the load (exit code {code}{oom}); last log lines: {logs}")]
    DiedUnderLoad {
        target: String,
        code: i64,
        oom: &'static str,
        logs: String,
    },
    #[error(
        "{target} failed {failed} of {total} contract cases of workload {workload}, so it was not timed (first: {first}); see `faceoff verify`, or time it anyway with --skip-verify"
    )]
    VerifyFailed {
        target: String,
        workload: String,
        failed: usize,
        total: usize,
        first: String,
    },
    #[error("setup request {request} failed: {message}")]
    Setup { request: String, message: String },
    #[error(transparent)]
    Topology(#[from] TopologyError),
}

impl From<crate::load::LoadError> for TrialError {
    fn from(err: crate::load::LoadError) -> Self {
        TrialError::Load(err)
    }
}

/// What one trial produced: the measurement (or why not) and, on the first trial, the
/// contract verification.
struct TrialOutcome {
    measured: Result<(TrialResult, Option<String>), TrialError>,
    verification: Option<crate::verify::TargetVerification>,
    /// A service that was no longer running when the load ended.
    service_died: Option<TopologyError>,
}

/// Builds the images of the workload's services.
async fn prepare_services(plan: &RunPlan, ui: Ui) -> Result<Vec<PreparedService>, TopologyError> {
    let Some(launcher) = &plan.launcher else {
        return Ok(Vec::new());
    };
    if plan.services.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = plan.services.iter().map(|s| s.name.as_str()).collect();
    ui.step(&format!("[prepare] {}", names.join(", ")));
    let progress = |line: &str| ui.step(&format!("  {line}"));
    launcher.prepare(&plan.services, &progress).await
}

/// A target running with its services, between start and stop.
struct Started<I> {
    instance: I,
    running: Option<RunningServices>,
    database_url: Option<String>,
}

impl<I: Instance> Started<I> {
    fn services(&self) -> TrialServices<'_> {
        TrialServices {
            database_url: self.database_url.as_deref(),
            instances: self
                .running
                .as_ref()
                .map(|r| r.instances())
                .unwrap_or_default(),
        }
    }

    /// Stops the target, then its services; the first error is returned.
    async fn stop(self) -> Result<(), TrialError> {
        let stopped = self.instance.stop().await.map_err(TrialError::from);
        let services = match self.running {
            Some(running) => running.stop().await.map_err(TrialError::from),
            None => Ok(()),
        };
        stopped.and(services)
    }
}

/// Starts the target's services (each ready before the next), then the target with their
/// URLs, on the plan's limits.
async fn start_target<R: Runtime>(
    runtime: &R,
    prepared: &Prepared,
    services: &[PreparedService],
    plan: &RunPlan,
) -> Result<Started<R::Instance>, TrialError> {
    let services = crate::runtime::services::select(
        services,
        &plan.workload.services,
        &prepared.target.services,
    );
    let running = match (&plan.launcher, services.is_empty()) {
        (Some(launcher), false) => Some(
            launcher
                .start(&services, &plan.run_id, plan.ready_timeout)
                .await?,
        ),
        _ => None,
    };
    let env = running.as_ref().map(|r| r.env()).unwrap_or_default();
    let database_url = running
        .as_ref()
        .and_then(|r| r.database_url())
        .map(str::to_string);
    let started = match runtime::pick_free_port() {
        Ok(port) => {
            let spec = LaunchSpec {
                run_id: &plan.run_id,
                port,
                limits: &plan.limits,
                env: &env,
            };
            runtime.start(prepared, &spec).await
        }
        Err(err) => Err(err),
    };
    match started {
        Ok(instance) => Ok(Started {
            instance,
            running,
            database_url,
        }),
        Err(err) => {
            if let Some(running) = running {
                let _ = running.stop().await;
            }
            Err(err.into())
        }
    }
}

async fn run_trial<R: Runtime>(
    runtime: &R,
    prepared: &Prepared,
    services: &[PreparedService],
    plan: &RunPlan,
    trial: u32,
    ui: Ui,
) -> TrialOutcome {
    let mut verification = None;
    if trial == 1
        && plan.contract.is_some()
        && let Err(err) = check_alone(runtime, prepared, services, plan, &mut verification).await
    {
        return TrialOutcome {
            measured: Err(err),
            verification,
            service_died: None,
        };
    }
    let started = match start_target(runtime, prepared, services, plan).await {
        Ok(started) => started,
        Err(err) => {
            return TrialOutcome {
                measured: Err(err),
                verification,
                service_died: None,
            };
        }
    };
    let mut measured = measure(
        &started.instance,
        prepared,
        plan,
        trial,
        started.services(),
        ui,
    )
    .await;
    let service_died = match &started.running {
        Some(running) => running.first_stopped().await,
        None => None,
    };
    // Stop on every path; a measurement error is the more useful one to report. A stop
    // the engine left unanswered keeps the figures, measured in full: the session fails
    // the target with the engine's line and ends the run.
    if let Err(err) = started.stop().await
        && measured.is_ok()
        && crate::engine::stalled().is_none()
    {
        measured = Err(err);
    }
    TrialOutcome {
        measured,
        verification,
        service_died,
    }
}

/// The pairs a run measures in duet rounds: every pair of `targets` when none were chosen,
/// else the chosen ones, each checked to name two of the run's targets and put in the
/// targets' order.
pub fn duet_pairs(chosen: &[[String; 2]], targets: &[String]) -> Result<Vec<[String; 2]>, String> {
    let position = |name: &str| {
        targets.iter().position(|t| t == name).ok_or_else(|| {
            format!(
                "--duet-pairs names `{name}`, which is not among the run's targets ({})",
                targets.join(", ")
            )
        })
    };
    let indices: Vec<(usize, usize)> = if chosen.is_empty() {
        (0..targets.len())
            .flat_map(|i| (i + 1..targets.len()).map(move |j| (i, j)))
            .collect()
    } else {
        let mut indices = chosen
            .iter()
            .map(|[a, b]| {
                let (i, j) = (position(a)?, position(b)?);
                Ok((i.min(j), i.max(j)))
            })
            .collect::<Result<Vec<_>, String>>()?;
        indices.sort_unstable();
        indices.dedup();
        indices
    };
    Ok(indices
        .into_iter()
        .map(|(i, j)| [targets[i].clone(), targets[j].clone()])
        .collect())
}

/// One duet round: `a` and `b` started on the same cpuset, each ready, then both loaded at
/// once, each by its own generator with its own connections, and stopped. Their figures
/// share the host's every moment, so their ratio cancels what hits both alike.
pub async fn duet_round<R: Runtime>(
    runtime: &R,
    pair: [&Prepared; 2],
    services: &[PreparedService],
    plan: &RunPlan,
    round: u32,
) -> Result<DuetRound, TrialError> {
    let [a, b] = pair;
    let first = start_target(runtime, a, services, plan).await?;
    let second = match start_target(runtime, b, services, plan).await {
        Ok(second) => second,
        Err(err) => {
            let _ = first.stop().await;
            return Err(err);
        }
    };
    // Both ready before either is loaded, so neither runs alone on the shared CPUs.
    let ready = async {
        runtime::wait_ready(
            &first.instance,
            &a.target.name,
            &plan.limits,
            plan.ready_timeout,
        )
        .await?;
        runtime::wait_ready(
            &second.instance,
            &b.target.name,
            &plan.limits,
            plan.ready_timeout,
        )
        .await
    };
    let ready = async {
        ready.await?;
        // Each warmed alone first, then both together: the same warm-up as their trials.
        warm_alone(plan, first.instance.port()).await?;
        warm_alone(plan, second.instance.port()).await
    };
    let measured = match ready.await {
        Ok(()) => {
            // One bar for two loads would mislead: the round reports itself when done.
            let quiet = Ui { quiet: true };
            let (x, y) = tokio::join!(
                measure(&first.instance, a, plan, round, first.services(), quiet),
                measure(&second.instance, b, plan, round, second.services(), quiet),
            );
            // Each was waited for before both were warmed: the time to their next probe is
            // no cold start, so duet trials carry none.
            x.and_then(|(x, _)| y.map(|(y, _)| [x, y])).map(|trials| {
                trials.map(|mut trial| {
                    trial.startup = None;
                    trial
                })
            })
        }
        Err(err) => Err(err),
    };
    let stopped = first.stop().await.and(second.stop().await);
    let trials = measured?;
    stopped?;
    Ok(DuetRound {
        round,
        trials,
        started_first: Some(a.target.name.clone()),
    })
}

/// Checks the running target against the workload's contract cases.
async fn verify_before_timing(
    port: u16,
    target: &str,
    plan: &RunPlan,
    database_url: Option<&str>,
    verification: &mut Option<crate::verify::TargetVerification>,
) -> Result<(), TrialError> {
    let Some(contract) = &plan.contract else {
        return Ok(());
    };
    let workload = plan.workload.contract_workload().to_string();
    let cases = crate::verify::verify_target(
        port,
        contract,
        std::slice::from_ref(&workload),
        database_url,
    )
    .await;
    let checked = crate::verify::TargetVerification::from_cases(target, cases);
    let failures = checked.failure_lines();
    let total = checked.cases.len();
    let passed = checked.passed;
    *verification = Some(checked);
    if passed {
        Ok(())
    } else {
        Err(TrialError::VerifyFailed {
            target: target.to_string(),
            workload,
            failed: failures.len(),
            total,
            first: failures.first().cloned().unwrap_or_default(),
        })
    }
}

/// Sends the workload's setup request (e.g. restocking the inventory) before the load.
async fn send_setup(port: u16, workload: &Workload) -> Result<(), TrialError> {
    let Some(setup) = &workload.setup else {
        return Ok(());
    };
    let request = format!("{} {}", setup.method, setup.path);
    let fail = |message: String| TrialError::Setup {
        request: request.clone(),
        message,
    };
    let client = crate::verify::client().map_err(|e| fail(e.to_string()))?;
    let body = setup
        .body
        .as_ref()
        .map(|b| (b.to_string().into_bytes(), "application/json"));
    let answer = crate::verify::send(&client, port, &setup.method, &setup.path, body)
        .await
        .map_err(fail)?;
    if !(200..300).contains(&answer.status) {
        return Err(fail(format!("answered {}", answer.status)));
    }
    Ok(())
}

/// The load every trial of the plan drives against the target on `port`.
fn load_spec(plan: &RunPlan, port: u16) -> Result<LoadSpec, TrialError> {
    let url = format!(
        "http://{}:{port}{}",
        runtime::engines::target_host(),
        plan.workload.path
    );
    Ok(LoadSpec {
        url: url
            .parse()
            .map_err(|e| TrialError::Join(format!("bad URL {url}: {e}")))?,
        method: plan
            .workload
            .method
            .parse()
            .map_err(|e| TrialError::Join(format!("bad method: {e}")))?,
        body: plan.workload.body_bytes().map(bytes::Bytes::from),
        connections: plan.connections,
        threads: plan.generator_cpus.len().max(1),
        cpus: plan.generator_cpus.clone(),
        warmup: plan.warmup,
        duration: plan.duration,
        max_requests: plan.max_requests,
        request_timeout: plan.request_timeout,
        keep_alive: plan.keep_alive,
    })
}

/// Warms a duet's target alone on the shared cpuset, as a dedicated trial's warm-up does:
/// a JIT (V8's optimising compiler runs on background threads) warms on a whole CPU, not on
/// the half a duet leaves it, where it was measured to take several times longer.
async fn warm_alone(plan: &RunPlan, port: u16) -> Result<(), TrialError> {
    if plan.warmup.is_zero() {
        return Ok(());
    }
    send_setup(port, &plan.workload).await?;
    let mut spec = load_spec(plan, port)?;
    spec.duration = plan.warmup;
    spec.warmup = Duration::ZERO;
    spec.max_requests = None;
    let live = Arc::new(LiveCounters::default());
    let _stop_load = live.stop_on_drop();
    tokio::task::spawn_blocking(move || crate::load::run_closed_loop(&spec, live))
        .await
        .map_err(|e| TrialError::Join(e.to_string()))??;
    Ok(())
}

/// The services running beside a trial's target.
struct TrialServices<'a> {
    database_url: Option<&'a str>,
    instances: Vec<(String, ServiceInstance)>,
}

/// Samples each service every `interval` until `stop` is set; returns the readings by name.
fn sample_services(
    instances: Vec<(String, ServiceInstance)>,
    interval: Duration,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<(String, Vec<runtime::ResourceReading>)>> {
    instances
        .into_iter()
        .map(|(name, instance)| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut readings = Vec::new();
                loop {
                    if let Ok(reading) = instance.read_resources().await {
                        readings.push(reading);
                    }
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    tokio::time::sleep(interval).await;
                }
                (name, readings)
            })
        })
        .collect()
}

/// Checks a start of its own of the target against the contract, then stops it. The cases
/// (bodies up to the size limit, hundreds of bad inputs, an idle connection) leave memory
/// and warmed code behind: checked in the first trial's own process, that trial alone
/// carried them (its peak memory was measured up to 70% higher than the others').
async fn check_alone<R: Runtime>(
    runtime: &R,
    prepared: &Prepared,
    services: &[PreparedService],
    plan: &RunPlan,
    verification: &mut Option<crate::verify::TargetVerification>,
) -> Result<(), TrialError> {
    let name = &prepared.target.name;
    let started = start_target(runtime, prepared, services, plan).await?;
    let instance = &started.instance;
    let checked = async {
        runtime::wait_ready(instance, name, &plan.limits, plan.ready_timeout).await?;
        let checked = verify_before_timing(
            instance.port(),
            name,
            plan,
            started.services().database_url,
            verification,
        )
        .await;
        if let Err(failed) = checked {
            // Cases fail when the target died under them: report why it died instead.
            let died =
                runtime::exit_cause(instance, name, &plan.limits, crate::verify::DURING_CASES)
                    .await?;
            return Err(died.map_or(failed, TrialError::from));
        }
        Ok(())
    }
    .await;
    let stopped = started.stop().await;
    checked?;
    stopped
}

async fn measure<I: Instance>(
    instance: &I,
    prepared: &Prepared,
    plan: &RunPlan,
    trial: u32,
    services: TrialServices<'_>,
    ui: Ui,
) -> Result<(TrialResult, Option<String>), TrialError> {
    let name = &prepared.target.name;
    let ready = runtime::wait_ready(instance, name, &plan.limits, plan.ready_timeout).await?;
    let startup = startup_of(instance, ready).await;
    let version = instance.runtime_version().await;
    if plan.load == LoadPlan::ColdStart {
        return Ok((cold_start_trial(trial, startup), version));
    }
    send_setup(instance.port(), &plan.workload).await?;
    // Before the first trial is timed: the network between the generator and the target.
    let network = if trial == 1 {
        let host = runtime::engines::target_host();
        match runtime::network::check(host, instance.port()).await {
            Ok(check) => Some(check),
            Err(err) => {
                ui.warn(&format!(
                    "{name}: could not measure the round trip to {host}: {err}"
                ));
                None
            }
        }
    } else {
        None
    };
    let spec = load_spec(plan, instance.port())?;
    let live = Arc::new(LiveCounters::default());
    // Dropped with this future (Ctrl-C): the generator's thread stops too, not at the window's end.
    let _stop_load = live.stop_on_drop();
    let bar = progress_bar(ui, plan.load.max_duration(plan.warmup, plan.duration));
    let ticker = tokio::spawn(update_bar(bar.clone(), live.clone()));
    let load = {
        let live = live.clone();
        let load = plan.load.clone();
        tokio::task::spawn_blocking(move || crate::sweep::drive(&spec, &load, live))
    };
    let started_at = now_rfc3339();
    let own_pid = std::process::id() as i32;
    let (cpu_before, wall_before) = (runtime::process_cpu_ns(own_pid), std::time::Instant::now());
    let stop_services = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let service_samplers = sample_services(
        services.instances,
        plan.sample_interval,
        stop_services.clone(),
    );
    let (report, readings) = sample::sample_while(instance, plan.sample_interval, load).await;
    stop_services.store(true, Ordering::Relaxed);
    let mut service_resources = std::collections::BTreeMap::new();
    for sampler in service_samplers {
        if let Ok((service, readings)) = sampler.await {
            service_resources.insert(service, sample::summarize(sample::series(&readings)));
        }
    }
    let generator_cpu_percent = sample::generator_busy_percent(
        runtime::process_cpu_ns(own_pid).saturating_sub(cpu_before),
        wall_before.elapsed(),
        plan.generator_cpus.len(),
    );
    let finished_at = now_rfc3339();
    ticker.abort();
    bar.finish_and_clear();
    let driven = report.map_err(|e| TrialError::Join(e.to_string()))??;
    let report = &driven.report;
    // A server that died mid-run makes every figure above meaningless: say why it died.
    if let Some(exited) = instance.exited().await? {
        return Err(TrialError::DiedUnderLoad {
            target: name.clone(),
            code: exited.code,
            oom: if exited.oom_killed {
                ", killed for memory: raise --memory"
            } else {
                ""
            },
            logs: instance.logs_tail(runtime::LOG_TAIL_LINES).await,
        });
    }
    let resources = sample::summarize(sample::series(&readings));
    if generator_cpu_percent > sample::GENERATOR_BUSY_WARNING {
        ui.warn(&format!(
            "{name}: the load generator kept its CPUs {generator_cpu_percent:.0}% busy; it may have set the pace, not the server (give it more CPUs with --generator-cpus, or fewer --connections)"
        ));
    }
    if let Some(why) = unresponsive(report, UNRESPONSIVE_TIMEOUT_SHARE) {
        ui.warn(&format!(
            "{name}: trial {trial} marked unresponsive: {why}; its figures measure the stall, not the server"
        ));
    }
    if let (Some(open), None) = (&report.open_loop, &driven.sweep) {
        if !open.kept_rate() {
            ui.warn(&format!("{name}: {}", crate::sweep::rate_shortfall(open)));
        }
    }
    if let Some(warning) = network.as_ref().and_then(|check| {
        runtime::network::bottleneck_warning(
            check,
            report.response_bytes,
            report.elapsed.as_secs_f64(),
        )
    }) {
        ui.warn(&format!("{name}: {warning}"));
    }
    let mut result = trial_result(trial, report, resources);
    result.network = network;
    result.generator_cpu_percent = generator_cpu_percent;
    result.started_at = Some(started_at);
    result.finished_at = Some(finished_at);
    result.services = service_resources;
    result.sweep = driven.sweep;
    result.mixed = driven.mixed;
    result.startup = startup;
    Ok((result, version))
}

/// The target's start, read the moment it first answered: the time since it was launched,
/// and its memory before any other request (the version check execs a process inside the
/// container, so it comes after).
pub(crate) async fn startup_of<I: Instance>(
    instance: &I,
    ready: std::time::Instant,
) -> Option<results::Startup> {
    let launched = instance.launched()?;
    let idle = instance.read_resources().await.ok().map(|r| r.memory_bytes);
    Some(results::Startup::new(launched, ready, idle))
}

/// A trial of a cold-start profile: the start alone, no request measured.
fn cold_start_trial(trial: u32, startup: Option<results::Startup>) -> TrialResult {
    let now = now_rfc3339();
    TrialResult {
        trial,
        requests: 0,
        duration_s: 0.0,
        requests_per_sec: 0.0,
        latency: Default::default(),
        status_counts: Default::default(),
        errors: Default::default(),
        bytes_received: 0,
        per_second: Vec::new(),
        warmup_requests: 0,
        warmup_errors: 0,
        connections_opened: 0,
        response_bytes: 0,
        service_latency: None,
        open_loop: None,
        sweep: None,
        resources: Default::default(),
        generator_cpu_percent: 0.0,
        started_at: Some(now.clone()),
        finished_at: Some(now),
        services: Default::default(),
        unresponsive: None,
        startup,
        mixed: None,
        network: None,
    }
}

fn trial_result(
    trial: u32,
    report: &LoadReport,
    resources: sample::ResourceSummary,
) -> TrialResult {
    TrialResult {
        trial,
        requests: report.requests,
        duration_s: report.elapsed.as_secs_f64(),
        requests_per_sec: report.requests_per_sec(),
        latency: latency_summary(&report.latency_us),
        status_counts: report.status_counts.clone(),
        errors: report.errors,
        bytes_received: report.bytes_received,
        per_second: report.per_second.clone(),
        warmup_requests: report.warmup_requests,
        warmup_errors: report.warmup_errors,
        connections_opened: report.connections_opened,
        response_bytes: report.response_bytes,
        service_latency: report.service_latency_us.as_ref().map(latency_summary),
        open_loop: report.open_loop.clone(),
        sweep: None,
        resources,
        generator_cpu_percent: 0.0,
        started_at: None,
        finished_at: None,
        services: Default::default(),
        startup: None,
        mixed: None,
        unresponsive: unresponsive(report, UNRESPONSIVE_TIMEOUT_SHARE),
        network: None,
    }
}

/// A trial is marked unresponsive when more than this share of its requests timed out. A
/// server that answers does not time out at all (the request timeout is seconds, its
/// latency milliseconds), so 1% is already far beyond noise, and it still lets an open-loop
/// step past the server's capacity show a few.
pub const UNRESPONSIVE_TIMEOUT_SHARE: f64 = 0.01;

/// Why the target stopped answering during this window, or `None`: more than `share` of the
/// requests sent timed out, or whole seconds of the window completed nothing while requests
/// timed out (a paused container: its connections wait, then time out together).
pub fn unresponsive(report: &LoadReport, share: f64) -> Option<String> {
    let timeouts = report.errors.timeout;
    if timeouts == 0 {
        return None;
    }
    let sent = report.requests + report.errors.transport();
    let silent = longest_silence(&report.per_second);
    let fraction = timeouts as f64 / sent.max(1) as f64;
    if fraction > share {
        Some(format!(
            "{timeouts} of {sent} requests timed out ({:.1}%, over the {:.0}% limit){}",
            fraction * 100.0,
            share * 100.0,
            if silent > 0 {
                format!("; nothing answered for {silent} s of the window")
            } else {
                String::new()
            }
        ))
    } else if silent > 0 {
        Some(format!(
            "nothing answered for {silent} s of the window and {timeouts} requests timed out"
        ))
    } else {
        None
    }
}

/// The longest run of whole seconds without a completed response, in a window that had
/// some; 0 when every second completed one.
fn longest_silence(per_second: &[u64]) -> usize {
    if per_second.iter().all(|&n| n == 0) {
        return per_second.len();
    }
    per_second
        .split(|&n| n > 0)
        .map(<[u64]>::len)
        .max()
        .unwrap_or(0)
}

/// Now, as RFC 3339 in UTC.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A new run id: UTC time plus a random suffix, sortable and unique.
pub fn new_run_id() -> String {
    let random: u32 = std::collections::hash_map::RandomState::new()
        .hash_one(std::time::SystemTime::now()) as u32;
    format!(
        "{}-{:06x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        random & 0xff_ffff
    )
}

use std::hash::BuildHasher;

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn pair(a: &str, b: &str) -> [String; 2] {
        [a.to_string(), b.to_string()]
    }

    #[test]
    fn every_trial_round_runs_a_duet_in_each_start_order_and_alternates_which_comes_first() {
        assert_eq!(start_orders(1, ['a', 'b'], 2), [['a', 'b'], ['b', 'a']]);
        assert_eq!(start_orders(2, ['a', 'b'], 2), [['b', 'a'], ['a', 'b']]);
        // Over any two rounds each order runs twice, once in each position.
        let firsts: Vec<char> = (1..=4)
            .flat_map(|round| {
                start_orders(round, ['a', 'b'], 2)
                    .into_iter()
                    .map(|[first, _]| first)
            })
            .collect();
        assert_eq!(firsts, ['a', 'b', 'b', 'a', 'a', 'b', 'b', 'a']);
        // More rounds per trial round keep alternating: as many of each order.
        let four = start_orders(3, ['a', 'b'], 4);
        assert_eq!(four, [['a', 'b'], ['b', 'a'], ['a', 'b'], ['b', 'a']]);
    }

    #[test]
    fn without_a_choice_every_pair_of_the_targets_is_a_duet() {
        let targets = names(&["express", "fastify", "fastapi"]);
        assert_eq!(
            duet_pairs(&[], &targets).unwrap(),
            [
                pair("express", "fastify"),
                pair("express", "fastapi"),
                pair("fastify", "fastapi")
            ]
        );
    }

    #[test]
    fn chosen_pairs_are_kept_once_in_the_targets_order() {
        let targets = names(&["express", "fastify", "fastapi", "django"]);
        let chosen = [
            pair("fastapi", "fastify"),
            pair("express", "django"),
            pair("fastify", "fastapi"),
        ];
        assert_eq!(
            duet_pairs(&chosen, &targets).unwrap(),
            [pair("express", "django"), pair("fastify", "fastapi")]
        );
    }

    #[test]
    fn a_chosen_pair_outside_the_run_is_refused_naming_it() {
        let targets = names(&["express", "fastapi"]);
        let err = duet_pairs(&[pair("express", "django")], &targets).unwrap_err();
        assert!(
            err.contains("`django`") && err.contains("express, fastapi"),
            "{err}"
        );
    }

    fn report(requests: u64, timeouts: u64, per_second: Vec<u64>) -> LoadReport {
        LoadReport {
            requests,
            elapsed: Duration::from_secs(per_second.len() as u64),
            latency_us: hdrhistogram::Histogram::new(3).unwrap(),
            service_latency_us: None,
            status_counts: Default::default(),
            errors: crate::load::ErrorCounts {
                timeout: timeouts,
                ..Default::default()
            },
            bytes_received: 0,
            response_bytes: 0,
            per_second,
            warmup_requests: 0,
            warmup_errors: 0,
            connections_opened: 0,
            open_loop: None,
        }
    }

    #[test]
    fn a_trial_without_timeouts_is_never_unresponsive() {
        assert_eq!(unresponsive(&report(10, 0, vec![5, 0, 0, 5]), 0.01), None);
    }

    #[test]
    fn a_paused_target_is_marked_by_its_silent_seconds_and_timeouts() {
        // 50 connections waited through a pause, then timed out together: few against
        // the requests, but whole seconds answered nothing.
        let why = unresponsive(
            &report(90_000, 50, vec![30_000, 30_000, 0, 0, 0, 30_000]),
            0.01,
        )
        .expect("marked");
        assert!(
            why.contains("3 s") && why.contains("50 requests timed out"),
            "{why}"
        );
    }

    #[test]
    fn timeouts_over_one_percent_mark_a_trial() {
        let why = unresponsive(&report(980, 20, vec![490, 490]), 0.01).expect("marked");
        assert!(why.contains("20 of 1000") && why.contains("2.0%"), "{why}");
        assert_eq!(
            unresponsive(&report(99_999, 1, vec![50_000, 49_999]), 0.01),
            None
        );
    }
}
