//! `faceoff run --workload chat`: for each trial, each chat target in turn (order rotated per
//! trial) is started, checked against the chat cases (first trial), then measured with the
//! profile's mode (a capacity ramp or a fan-out) while its resources are sampled, and
//! stopped. The results file is rewritten after every step, as for HTTP runs.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::{Ui, session};
use crate::chat::capacity::{self, CapacitySpec};
use crate::chat::client::Endpoint;
use crate::chat::driver::{Driver, DriverSpec, FanoutSpec};
use crate::config::{Fixtures, Target};
use crate::results::{self, ChatParameters, ChatTrial, FanoutResult, RunResults};
use crate::runtime::services::{Launcher, PreparedService, Service};
use crate::runtime::{self, Instance, LaunchSpec, Limits, Prepared, Runtime};
use crate::sample::{self, ResourceSummary};
use crate::verify::TargetVerification;

/// What a chat run measures.
#[derive(Debug, Clone)]
pub enum ChatMode {
    Capacity(CapacitySpec),
    Fanout(FanoutSpec),
}

/// Everything a chat run needs, validated.
#[derive(Debug, Clone)]
pub struct ChatPlan {
    pub run_id: String,
    pub targets: Vec<Target>,
    pub trials: u32,
    /// Seed of the trial order (see [`crate::schedule`]).
    pub seed: u64,
    pub mode: ChatMode,
    pub room_size: usize,
    pub handshake_timeout: Duration,
    pub ready_timeout: Duration,
    pub sample_interval: Duration,
    pub limits: Limits,
    pub generator_cpus: Vec<usize>,
    pub results_path: PathBuf,
    /// Check each target against the chat cases before measuring it.
    pub verify: bool,
    /// The services the targets run with (the Redis of `channels-redis`), each started
    /// before its target in every trial and stopped after it.
    pub services: Vec<Service>,
    /// Starts those services; `Some` whenever `services` is not empty.
    pub launcher: Option<Launcher>,
    /// For an HTTP workload's capacity ramp (profile `idle-capacity`): the path each idle
    /// keep-alive connection requests once before it is held.
    pub idle_path: Option<String>,
}

impl ChatParameters {
    pub fn of(plan: &ChatPlan) -> Self {
        let mut parameters = ChatParameters {
            mode: String::new(),
            room_size: plan.room_size,
            handshake_timeout_s: plan.handshake_timeout.as_secs_f64(),
            handshakes_in_flight: crate::chat::driver::IN_FLIGHT,
            steps: Vec::new(),
            hold_s: None,
            budget_s: None,
            p99_limit_ms: None,
            error_limit: None,
            generator_connection_limit: None,
            connections: None,
            rate_per_sender: None,
            warmup_s: None,
            duration_s: None,
        };
        match &plan.mode {
            ChatMode::Capacity(spec) => {
                parameters.mode = "capacity".into();
                parameters.steps = spec.steps.clone();
                parameters.hold_s = Some(spec.hold.as_secs_f64());
                parameters.budget_s = Some(spec.budget.as_secs_f64());
                parameters.p99_limit_ms = Some(spec.p99_limit_ms);
                parameters.error_limit = Some(spec.error_limit);
                parameters.generator_connection_limit = Some(spec.generator_connection_limit);
            }
            ChatMode::Fanout(spec) => {
                parameters.mode = "fanout".into();
                parameters.connections = Some(spec.connections);
                parameters.rate_per_sender = Some(spec.rate);
                parameters.warmup_s = Some(spec.warmup.as_secs_f64());
                parameters.duration_s = Some(spec.duration.as_secs_f64());
            }
        }
        parameters
    }
}

/// Why a chat trial failed.
#[derive(Debug, thiserror::Error)]
pub enum ChatTrialError {
    #[error(transparent)]
    Runtime(#[from] runtime::RuntimeError),
    #[error("{0}")]
    Driver(String),
    /// A service of the target (its channel layer's Redis) failed to start or stop.
    #[error("{0}")]
    Services(String),
    #[error("{target} is not a chat target (no `chat` endpoint in fixtures/targets.toml)")]
    NotChat { target: String },
    #[error(
        "{target} failed {failed} of {total} chat cases, so it was not measured (first: {first}); see `faceoff verify --workload chat`, or measure it anyway with --skip-verify"
    )]
    VerifyFailed {
        target: String,
        failed: usize,
        total: usize,
        first: String,
    },
    #[error("{target} stopped during the fan-out (exit code {code}); last log lines: {logs}")]
    DiedUnderLoad {
        target: String,
        code: i64,
        logs: String,
    },
}

/// A chat run's trials: each target started alone, checked against the chat cases on its
/// first trial, then ramped or fanned out.
pub struct ChatTrials<'a> {
    pub plan: &'a ChatPlan,
}

impl session::Trials for ChatTrials<'_> {
    /// The targets' services, built.
    type Shared = Vec<PreparedService>;

    fn schedule(&self) -> session::Schedule<'_> {
        session::Schedule {
            targets: &self.plan.targets,
            trials: self.plan.trials,
            seed: self.plan.seed,
            results_path: &self.plan.results_path,
            verify: self.plan.verify,
        }
    }

    async fn prepare_shared(
        &self,
        results: &mut RunResults,
        ui: Ui,
    ) -> Result<Vec<PreparedService>, String> {
        let Some(launcher) = &self.plan.launcher else {
            return Ok(Vec::new());
        };
        if self.plan.services.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<&str> = self.plan.services.iter().map(|s| s.name.as_str()).collect();
        ui.step(&format!("[prepare] {}", names.join(", ")));
        let progress = |line: &str| ui.step(&format!("  {line}"));
        let services = launcher
            .prepare(&self.plan.services, &progress)
            .await
            .map_err(|err| err.to_string())?;
        results.services = launcher.records(&services);
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
        let (measured, verification) =
            run_trial(runtime, prepared, services, self.plan, trial, ui).await;
        session::Outcome {
            measured: measured
                .map(|(chat, version)| (session::Measured::Chat(Box::new(chat)), version))
                .map_err(|err| err.to_string()),
            verification,
            service_died: None,
        }
    }
}

/// Runs the plan (see [`session::execute`]).
pub async fn execute<R: Runtime>(
    runtime: &R,
    fixtures: &Fixtures,
    plan: &ChatPlan,
    results: &mut RunResults,
    ui: Ui,
) -> Result<(), results::WriteError> {
    session::execute(runtime, fixtures, &ChatTrials { plan }, results, ui).await
}

type Measured = Result<(ChatTrial, Option<String>), ChatTrialError>;

async fn run_trial<R: Runtime>(
    runtime: &R,
    prepared: &Prepared,
    services: &[PreparedService],
    plan: &ChatPlan,
    trial: u32,
    ui: Ui,
) -> (Measured, Option<TargetVerification>) {
    // The target's own services (its channel layer's Redis), fresh for every trial.
    let mine = crate::runtime::services::select(services, &[], &prepared.target.services);
    let running = match (&plan.launcher, mine.is_empty()) {
        (Some(launcher), false) => {
            match launcher
                .start(&mine, &plan.run_id, plan.ready_timeout)
                .await
            {
                Ok(running) => Some(running),
                Err(err) => return (Err(ChatTrialError::Services(err.to_string())), None),
            }
        }
        _ => None,
    };
    let env = running.as_ref().map(|r| r.env()).unwrap_or_default();
    let (mut measured, verification) = match runtime::pick_free_port() {
        Err(err) => (Err(err.into()), None),
        Ok(port) => {
            let spec = LaunchSpec {
                run_id: &plan.run_id,
                port,
                limits: &plan.limits,
                env: &env,
            };
            match runtime.start(prepared, &spec).await {
                Err(err) => (Err(err.into()), None),
                Ok(instance) => {
                    let mut verification = None;
                    let mut measured =
                        measure(&instance, prepared, plan, trial, ui, &mut verification).await;
                    if let Err(err) = instance.stop().await
                        && measured.is_ok()
                    {
                        measured = Err(err.into());
                    }
                    (measured, verification)
                }
            }
        }
    };
    if let Some(running) = running
        && let Err(err) = running.stop().await
        && measured.is_ok()
    {
        measured = Err(ChatTrialError::Services(err.to_string()));
    }
    (measured, verification)
}

async fn measure<I: Instance>(
    instance: &I,
    prepared: &Prepared,
    plan: &ChatPlan,
    trial: u32,
    ui: Ui,
    verification: &mut Option<TargetVerification>,
) -> Measured {
    let target = &prepared.target;
    let name = &target.name;
    // A chat server speaks its chat protocol; an HTTP target, ramped with idle keep-alive
    // connections, answers one request on each.
    let chat = match (&target.chat, &plan.idle_path) {
        (Some(chat), _) => chat.clone(),
        (None, Some(path)) => crate::config::ChatEndpoint {
            protocol: crate::config::Protocol::Http,
            path: path.clone(),
        },
        (None, None) => {
            return Err(ChatTrialError::NotChat {
                target: name.clone(),
            });
        }
    };
    let ready = runtime::wait_ready(instance, name, &plan.limits, plan.ready_timeout).await?;
    let startup = super::startup_of(instance, ready).await;
    let version = instance.runtime_version().await;
    // The chat cases are a chat server's contract; an HTTP target's is `faceoff verify`'s.
    if plan.verify && trial == 1 && chat.protocol != crate::config::Protocol::Http {
        let cases = crate::verify::chat::verify_chat(instance.port(), &chat).await;
        let checked = TargetVerification::from_cases(name, cases);
        let failures = checked.failure_lines();
        let (passed, total) = (checked.passed, checked.cases.len());
        *verification = Some(checked);
        if !passed {
            return Err(ChatTrialError::VerifyFailed {
                target: name.clone(),
                failed: failures.len(),
                total,
                first: failures.first().cloned().unwrap_or_default(),
            });
        }
    }
    let driver = Driver::start(DriverSpec {
        endpoint: Endpoint {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, instance.port())),
            path: chat.path.clone(),
            protocol: chat.protocol,
        },
        cpu: plan.generator_cpus.first().copied(),
        room_size: plan.room_size,
        handshake_timeout: plan.handshake_timeout,
    })
    .map_err(|e| ChatTrialError::Driver(e.to_string()))?;
    let own_pid = std::process::id() as i32;
    let (cpu_before, wall_before) = (runtime::process_cpu_ns(own_pid), std::time::Instant::now());
    let progress = |line: &str| ui.step(line);
    let mut chat_trial = ChatTrial {
        trial,
        capacity: None,
        fanout: None,
        resources: ResourceSummary::default(),
        generator_cpu_percent: 0.0,
        startup,
    };
    let readings = match &plan.mode {
        ChatMode::Capacity(spec) => {
            let work = capacity::ramp(instance, &driver, spec, &progress);
            let (ramped, readings) =
                sample::sample_while(instance, plan.sample_interval, work).await;
            let ramped = ramped.map_err(|e| ChatTrialError::Driver(e.to_string()))?;
            ui.step(&format!(
                "  held {} connections{}; {}",
                ramped.connections_held,
                ramped
                    .memory_per_connection_bytes
                    .map(|b| format!(" at {:.1} KiB each", b / 1024.0))
                    .unwrap_or_default(),
                ramped.stop_reason
            ));
            chat_trial.capacity = Some(ramped);
            readings
        }
        ChatMode::Fanout(spec) => {
            ui.step(&format!(
                "  {} connections in rooms of {}, {} message(s)/s per sender, {:.0} s after {:.0} s warm-up",
                spec.connections,
                plan.room_size,
                spec.rate,
                spec.duration.as_secs_f64(),
                spec.warmup.as_secs_f64()
            ));
            let work = driver.fanout(spec.clone());
            let (report, readings) =
                sample::sample_while(instance, plan.sample_interval, work).await;
            let report = report.map_err(|e| ChatTrialError::Driver(e.to_string()))?;
            if let Some(exited) = instance.exited().await? {
                return Err(ChatTrialError::DiedUnderLoad {
                    target: name.clone(),
                    code: exited.code,
                    logs: instance.logs_tail(runtime::LOG_TAIL_LINES).await,
                });
            }
            let fanout = FanoutResult::from_report(&report);
            ui.step(&format!(
                "  {:.0} messages/s sent, {:.0} deliveries/s, latency p50 {:.2} ms p99 {:.2} ms, {} of {} lost",
                fanout.sent_per_sec,
                fanout.delivered_per_sec,
                fanout.latency.p50_ms,
                fanout.latency.p99_ms,
                fanout.lost,
                fanout.expected
            ));
            chat_trial.fanout = Some(fanout);
            readings
        }
    };
    drop(driver);
    chat_trial.generator_cpu_percent = sample::generator_busy_percent(
        runtime::process_cpu_ns(own_pid).saturating_sub(cpu_before),
        wall_before.elapsed(),
        plan.generator_cpus.len(),
    );
    chat_trial.resources = sample::summarize(sample::series(&readings));
    Ok((chat_trial, version))
}
