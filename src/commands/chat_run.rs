//! `faceoff run --workload chat`: the command-line edge of the chat workload. Validates the
//! profile and limits, builds the plan and the results file, runs it (Ctrl-C removes the
//! run's containers and keeps the results so far), and prints the capacity or fan-out table.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::chat::capacity::CapacitySpec;
use crate::chat::driver::FanoutSpec;
use crate::cli::RunArgs;
use crate::config::{Fixtures, LoadMode, Workload};
use crate::load::{self, FD_MARGIN, LoadError};
use crate::manifest::Manifest;
use crate::results::ChatParameters;
use crate::results::{self, Parameters, RunResults};
use crate::run::chat::{self as chat_run, ChatMode, ChatPlan};
use crate::run::{self, Ui};
use crate::runtime::docker::EngineInfo;
use crate::runtime::{self as rt, Limits, Runtime, RuntimeKind};

/// Exit code for a run stopped by Ctrl-C (128 + SIGINT).
const EXIT_INTERRUPTED: u8 = 130;

/// Runs the chat workload with the profile of `args`.
pub async fn run<R: Runtime>(
    runtime: &R,
    fixtures: &Fixtures,
    args: &RunArgs,
    workload: &Workload,
    engine: Option<EngineInfo>,
    ui: Ui,
) -> Result<ExitCode> {
    let targets = fixtures.select_targets_for(&args.targets, workload)?;
    if targets.is_empty() {
        bail!(
            "no target serves the chat workload: add one to fixtures/targets.toml with workloads = [\"chat\"]"
        );
    }
    let catalog = crate::runtime::services::Catalog::load(&fixtures.root)?;
    let (targets, notes) =
        catalog.targets_for_runtime(runtime.kind(), targets, !args.targets.is_empty())?;
    notes.iter().for_each(|note| ui.warn(note));
    let profile = fixtures.profile(&args.profile)?.clone();
    let chat_profiles = || {
        fixtures
            .profiles
            .iter()
            .filter(|p| matches!(p.mode, LoadMode::Capacity | LoadMode::Fanout))
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let idle = workload.kind == crate::config::WorkloadKind::Http;
    if idle && profile.mode != LoadMode::Capacity {
        bail!(
            "profile `{}` drives the chat workload: use it with --workload chat",
            profile.name
        );
    }
    if !matches!(profile.mode, LoadMode::Capacity | LoadMode::Fanout) {
        bail!(
            "profile `{}` drives HTTP load; the chat workload takes a chat profile: --profile {}",
            profile.name,
            chat_profiles()
        );
    }
    let limits = Limits {
        cpuset: args.limits.cpuset.clone(),
        memory_bytes: args.limits.memory,
    };
    let server_cpus = rt::parse_cpuset(&limits.cpuset)?;
    let generator_cpus = rt::generator_cpus(args.generator_cpus.as_deref(), &server_cpus)?;
    if generator_cpus.iter().any(|c| server_cpus.contains(c)) {
        ui.warn("the chat driver shares CPUs with the server; figures will be lower and noisier");
    }
    let room_size = profile.room_size.unwrap_or(20).max(1) as usize;
    let most = args.connections.unwrap_or(profile.connections) as u64;
    let duration = args.duration.unwrap_or(profile.duration);
    let mode = match profile.mode {
        LoadMode::Capacity => {
            let mut steps: Vec<u64> = profile
                .steps
                .iter()
                .map(|&s| u64::from(s))
                .filter(|&s| s <= most)
                .collect();
            // The ramp always ends at the most connections asked for (steps are <= most).
            if steps.last() != Some(&most) {
                steps.push(most);
            }
            let generator_connection_limit = generator_limit(*steps.last().unwrap_or(&most), ui)?;
            ChatMode::Capacity(CapacitySpec {
                steps,
                hold: profile.hold.unwrap_or(Duration::from_secs(2)),
                budget: duration,
                p99_limit_ms: profile.p99_limit_ms.unwrap_or(2000.0),
                error_limit: profile.error_limit.unwrap_or(0.01),
                generator_connection_limit,
            })
        }
        _ => {
            let connections = most as usize;
            let limit = generator_limit(most, ui)?;
            if (connections as u64) > limit {
                bail!(
                    "--connections {connections} needs more open files than this process may have ({} connections); raise `ulimit -n` or use fewer connections",
                    limit
                );
            }
            ChatMode::Fanout(FanoutSpec {
                connections,
                rate: profile.rate.unwrap_or(10.0),
                warmup: args.warmup.unwrap_or(profile.warmup),
                duration,
            })
        }
    };
    let services = catalog.with_target_services(Vec::new(), &targets)?;
    let launcher = super::services_launcher(
        &services,
        runtime.kind(),
        &workload.name,
        fixtures,
        (&args.build, &args.services),
        &limits,
    )
    .await?;
    super::run::warn_about_local_versions(runtime, fixtures);
    let run_id = run::new_run_id();
    let run_dir = args.out.join(&run_id);
    let results_path = run_dir.join("results.json");
    let plan = ChatPlan {
        run_id: run_id.clone(),
        targets,
        trials: profile.trials_or(args.trials),
        seed: args.seed.unwrap_or_else(crate::schedule::fresh_seed),
        mode,
        room_size,
        handshake_timeout: args.request_timeout,
        ready_timeout: args.limits.ready_timeout,
        sample_interval: args.sample_interval,
        limits,
        generator_cpus,
        results_path: results_path.clone(),
        verify: !args.skip_verify,
        services,
        launcher,
        idle_path: idle.then(|| workload.path.clone()),
    };
    let mut manifest = Manifest::for_fixtures(fixtures);
    manifest.engine = engine;
    manifest.engines = crate::runtime::docker::role_hosts(args.sample_interval).await;
    let (warmup_s, duration_s) = match &plan.mode {
        ChatMode::Capacity(spec) => (0.0, spec.budget.as_secs_f64()),
        ChatMode::Fanout(spec) => (spec.warmup.as_secs_f64(), spec.duration.as_secs_f64()),
    };
    let parameters = Parameters {
        workload: workload.name.clone(),
        profile: profile.name.clone(),
        max_requests: None,
        method: String::new(),
        path: String::new(),
        body: None,
        verified: plan.verify,
        runtime: runtime.kind(),
        targets: plan.targets.iter().map(|t| t.name.clone()).collect(),
        trials: plan.trials,
        connections: most as usize,
        duration_s,
        warmup_s,
        request_timeout_s: plan.handshake_timeout.as_secs_f64(),
        ready_timeout_s: plan.ready_timeout.as_secs_f64(),
        sample_interval_ms: plan.sample_interval.as_millis() as u64,
        limits: plan.limits.clone(),
        memory_limit_enforced: runtime.kind() == RuntimeKind::Docker,
        generator_cpus: plan.generator_cpus.clone(),
        generator_threads: 1,
        chat: Some(ChatParameters::of(&plan)),
        keep_alive: true,
        duet: false,
        pinned_versions: fixtures.bases.pinned_versions(),
        duet_pairs: Vec::new(),
        duet_rounds: None,
        layout: crate::runtime::engines::layout(),
        seed: Some(plan.seed),
        schedule: crate::schedule::schedule(
            &plan
                .targets
                .iter()
                .map(|t| t.name.clone())
                .collect::<Vec<_>>(),
            plan.seed,
            plan.trials,
        ),
    };
    let mut results = RunResults::new(run_id.clone(), run::now_rfc3339(), parameters, manifest);
    results::write(&results_path, &results)?;
    ui.step(&format!(
        "run {run_id} (trial order seed {}): results in {}",
        plan.seed,
        results_path.display()
    ));
    let Some(reports) = super::run::execute_session(
        runtime,
        fixtures,
        &chat_run::ChatTrials { plan: &plan },
        &mut results,
        &run_dir,
        ui,
    )
    .await?
    else {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        match plan.mode {
            ChatMode::Capacity(_) => {
                println!("{}", crate::console::chat::capacity_table(&results))
            }
            ChatMode::Fanout(_) => println!("{}", crate::console::chat::fanout_table(&results)),
        }
        println!("{}", crate::console::chat::chat_conditions_line(&results));
        println!("results: {}", results_path.display());
        for path in reports {
            println!("report: {}", path.display());
        }
    }
    Ok(super::run::exit_code(&results))
}

/// How many connections this process may open: the open-file limit (raised as far as the
/// host allows) less a margin. A lower figure than asked for is a host limit, said once.
fn generator_limit(wanted: u64, ui: Ui) -> Result<u64> {
    match load::ensure_fd_limit(wanted as usize) {
        Ok(limit) => Ok(limit.saturating_sub(FD_MARGIN).max(wanted.min(limit))),
        Err(LoadError::FdLimit { limit, .. }) => {
            let usable = limit.saturating_sub(FD_MARGIN);
            ui.warn(&format!(
                "this process may open only {limit} files, so the chat driver stops at {usable} connections: a host limit, not the server's (raise it with `ulimit -n` as root)"
            ));
            Ok(usable)
        }
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_may_open_what_it_asks_for_when_the_host_allows_it() {
        let limit = generator_limit(100, Ui { quiet: true }).unwrap();
        assert!(limit >= 100, "{limit}");
    }
}
