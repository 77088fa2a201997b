//! `faceoff run`: plans a run from the arguments, executes it and prints the tables.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use futures_util::FutureExt;

use crate::cli::RunArgs;
use crate::config::{Fixtures, Language, LoadMode, WorkloadKind};
use crate::contract::Contract;
use crate::manifest::Manifest;
use crate::report;
use crate::results::{self, Parameters, RunResults, RunStatus, TargetStatus};
use crate::run::{self, RunPlan, Ui};
use crate::runtime::docker;
use crate::runtime::services as topology;
use crate::runtime::{self as rt, Limits, Runtime, RuntimeKind};

use super::{EXIT_INTERRUPTED, shutdown_signal};

/// Before a local-runtime run starts (its arguments checked): whether the host's `node` and
/// `python3` are the versions the containers pin; see `results::versions`.
pub(super) fn warn_about_local_versions<R: Runtime>(runtime: &R, fixtures: &Fixtures) {
    if runtime.kind() != RuntimeKind::Local {
        return;
    }
    let pinned = fixtures.bases.pinned_versions();
    if let Some(warning) = results::versions::mismatch(&pinned, &rt::local::host_versions()) {
        eprintln!("warning: this run {warning}");
    }
}

pub async fn run_command<R: Runtime>(
    runtime: &R,
    fixtures: &Fixtures,
    args: &RunArgs,
    engine: Option<docker::EngineInfo>,
    ui: Ui,
) -> Result<ExitCode> {
    let workload = fixtures.workload(&args.workload)?.clone();
    let versioned = !args.node.is_empty() || !args.python.is_empty();
    if versioned && runtime.kind() == RuntimeKind::Local {
        bail!(
            "--node and --python choose the containers' base images; the local runtime runs the host's own node and python3: drop --runtime local, or the version flags"
        );
    }
    let profile = fixtures.profile(&args.profile)?.clone();
    // A capacity ramp of an HTTP workload holds idle keep-alive connections (seed 002's
    // "concurrent connections for lightweight I/O-bound requests"): the chat driver's ramp.
    if workload.kind == WorkloadKind::Chat || profile.mode == LoadMode::Capacity {
        if versioned {
            bail!(
                "--node and --python apply to HTTP load of the trial profiles; run the chat workload and capacity ramps without them"
            );
        }
        return super::chat_run::run(runtime, fixtures, args, &workload, engine, ui).await;
    }
    if matches!(profile.mode, LoadMode::Capacity | LoadMode::Fanout) {
        bail!(
            "profile `{}` drives the chat workload: use it with --workload chat",
            profile.name
        );
    }
    if profile.mode == LoadMode::Scaling {
        return super::scaling::run(runtime, fixtures, args, &profile, &workload, engine, ui).await;
    }
    let placement = Placement {
        cpuset: args.limits.cpuset.clone(),
        generator_cpus: args.generator_cpus.clone(),
        out: args.out.clone(),
    };
    let (code, _) = measure(
        runtime, fixtures, args, &profile, workload, &placement, engine, ui,
    )
    .await?;
    Ok(code)
}

/// Where one run's server and generator go, and where its results are written: the
/// command line's, or one step of a scaling run's.
pub(super) struct Placement {
    pub cpuset: String,
    pub generator_cpus: Option<String>,
    pub out: PathBuf,
}

/// One HTTP run of `profile` with the server on `placement.cpuset`: plans it, executes it,
/// prints its tables. Returns the exit code and the results (`None` when interrupted).
#[allow(clippy::too_many_arguments)]
pub(super) async fn measure<R: Runtime>(
    runtime: &R,
    fixtures: &Fixtures,
    args: &RunArgs,
    profile: &crate::config::Profile,
    workload: crate::config::Workload,
    placement: &Placement,
    engine: Option<docker::EngineInfo>,
    ui: Ui,
) -> Result<(ExitCode, Option<RunResults>)> {
    let targets = fixtures.select_targets_for(&args.targets, &workload)?;
    let targets = fixtures.version_variants(targets, &args.node, &args.python)?;
    let load = crate::sweep::LoadPlan::from_profile(profile, &fixtures.workloads)?;
    let limits = Limits {
        cpuset: placement.cpuset.clone(),
        memory_bytes: args.limits.memory,
    };
    let server_cpus = rt::parse_cpuset(&limits.cpuset)?;
    let targets = crate::config::with_workers(targets, server_cpus.len(), args.limits.workers);
    let generator_cpus = rt::generator_cpus(placement.generator_cpus.as_deref(), &server_cpus)?;
    if generator_cpus.iter().any(|c| server_cpus.contains(c)) {
        eprintln!(
            "warning: the load generator shares CPUs with the server; figures will be lower and noisier"
        );
    }
    let catalog = topology::Catalog::load(&fixtures.root)?;
    let (targets, notes) =
        catalog.targets_for_runtime(runtime.kind(), targets, !args.targets.is_empty())?;
    notes.iter().for_each(|note| eprintln!("note: {note}"));
    let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    let duet_pairs = if args.no_duet || profile.mode != LoadMode::Closed || names.len() < 2 {
        if !args.duet_pairs.is_empty() {
            bail!(
                "--duet-pairs needs a closed-loop profile and two targets or more; `{}` with {} target(s) has no duet rounds",
                profile.name,
                names.len()
            );
        }
        Vec::new()
    } else {
        run::duet_pairs(&args.duet_pairs, &names).map_err(anyhow::Error::msg)?
    };
    let services = catalog.with_target_services(catalog.for_workload(&workload)?, &targets)?;
    let launcher = super::services_launcher(
        &services,
        runtime.kind(),
        &workload.name,
        fixtures,
        (&args.build, &args.services),
        &limits,
    )
    .await?;
    warn_about_local_versions(runtime, fixtures);
    let run_id = run::new_run_id();
    let run_dir = placement.out.join(&run_id);
    let results_path = run_dir.join("results.json");
    let request_timeout = workload.request_timeout_or(args.request_timeout);
    let plan = RunPlan {
        run_id: run_id.clone(),
        targets,
        workload,
        trials: profile.trials_or(args.trials),
        seed: args.seed.unwrap_or_else(crate::schedule::fresh_seed),
        connections: args.connections.unwrap_or(profile.connections) as usize,
        duration: args.duration.unwrap_or(profile.duration),
        warmup: args.warmup.unwrap_or(profile.warmup),
        max_requests: args.max_requests.or(profile.max_requests),
        load,
        keep_alive: profile.keep_alive,
        profile: profile.name.clone(),
        request_timeout,
        ready_timeout: args.limits.ready_timeout,
        sample_interval: args.sample_interval,
        limits,
        generator_cpus,
        results_path: results_path.clone(),
        contract: if args.skip_verify {
            None
        } else {
            Some(Contract::load(&fixtures.root)?)
        },
        duet_rounds: args.duet_rounds.unwrap_or(run::DUET_ROUNDS),
        duet_pairs,
        services,
        launcher,
    };
    let mut manifest = Manifest::for_fixtures(fixtures);
    manifest.engine = engine;
    manifest.engines = docker::role_hosts(args.sample_interval).await;
    for language in [Language::Node, Language::Python] {
        let image = fixtures.bases.image_for(language);
        manifest
            .base_images
            .insert(image.to_string(), String::new());
    }
    for target in &plan.targets {
        let image = fixtures.bases.image_for_target(target);
        manifest
            .base_images
            .insert(image.to_string(), String::new());
    }
    let parameters = Parameters {
        workload: plan.workload.name.clone(),
        profile: plan.profile.clone(),
        max_requests: plan.max_requests,
        method: plan.workload.method.clone(),
        path: plan.workload.path.clone(),
        body: plan.workload.body.clone(),
        verified: !args.skip_verify,
        runtime: runtime.kind(),
        targets: plan.targets.iter().map(|t| t.name.clone()).collect(),
        trials: plan.trials,
        connections: plan.connections,
        duration_s: plan.duration.as_secs_f64(),
        warmup_s: plan.warmup.as_secs_f64(),
        request_timeout_s: plan.request_timeout.as_secs_f64(),
        ready_timeout_s: plan.ready_timeout.as_secs_f64(),
        sample_interval_ms: plan.sample_interval.as_millis() as u64,
        limits: plan.limits.clone(),
        memory_limit_enforced: runtime.kind() == RuntimeKind::Docker,
        generator_cpus: plan.generator_cpus.clone(),
        generator_threads: plan.generator_cpus.len().max(1),
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
        chat: None,
        keep_alive: plan.keep_alive,
        duet: !plan.duet_pairs.is_empty(),
        pinned_versions: fixtures.bases.pinned_versions(),
        duet_pairs: plan.duet_pairs.clone(),
        duet_rounds: (!plan.duet_pairs.is_empty()).then_some(plan.duet_rounds),
        layout: crate::runtime::engines::layout(),
    };
    let mut results = RunResults::new(run_id.clone(), run::now_rfc3339(), parameters, manifest);
    results::write(&results_path, &results)?;
    ui.step(&format!(
        "run {run_id} (trial order seed {}): results in {}",
        plan.seed,
        results_path.display()
    ));

    let Some(reports) = execute_session(
        runtime,
        fixtures,
        &run::HttpTrials { plan: &plan },
        &mut results,
        &run_dir,
        ui,
    )
    .await?
    else {
        return Ok((ExitCode::from(EXIT_INTERRUPTED), None));
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        println!("{}", crate::console::summary_table(&results));
        println!("{}", crate::console::conditions_line(&results));
        if let Some(line) = &results.version_sensitivity {
            println!("{line}");
        }
        for line in crate::console::sweep::summary_lines(&results) {
            println!("{line}");
        }
        if let Ok(claims) = crate::claims::Claims::load(&fixtures.root) {
            let analysis = crate::analysis::Analysis::new(
                &results,
                &claims,
                crate::stats::Bootstrap::default(),
            );
            if let Some(table) = crate::console::startup_table(&analysis) {
                println!("{table}");
            }
            if let Some(table) = crate::console::mixed_table(&analysis) {
                println!("{table}");
            }
            if results.parameters.trials > 1 {
                for line in crate::console::throughput_comparisons(&analysis) {
                    println!("{line}");
                }
            }
            for line in crate::console::duet_lines(&analysis) {
                println!("{line}");
            }
        }
        for warning in crate::analysis::outlier_warnings(&results) {
            ui.warn(&warning);
        }
        println!("results: {}", results_path.display());
        for path in reports {
            println!("report: {}", path.display());
        }
    }
    Ok((exit_code(&results), Some(results)))
}

/// The version-sensitivity line of a version-matrix run (see `analysis::versions`), for the
/// results file's top; `None` for other runs, or when the claims registry does not load
/// (the reports then say why).
fn version_line(root: &Path, results: &RunResults) -> Option<String> {
    let claims = crate::claims::Claims::load(root).ok()?;
    crate::analysis::versions::sensitivity(results, &claims, &crate::stats::Bootstrap::default())
        .map(|s| s.line)
}

/// 0 when every target was measured, 1 otherwise.
pub fn exit_code(results: &RunResults) -> ExitCode {
    if results.status == RunStatus::Complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs a session's trials until they end, Ctrl-C, or a panic. Either way the results file
/// and the reports are written with everything measured so far, and each failed target is
/// named on stderr. Returns the reports written, or `None` when interrupted (the run's
/// containers are then removed). A panic (a bug) removes the run's containers too, marks the
/// results `failed` with the panic's message, and then goes on unwinding (exit 101).
pub async fn execute_session<R: Runtime, T: run::session::Trials>(
    runtime: &R,
    fixtures: &Fixtures,
    trials: &T,
    results: &mut RunResults,
    run_dir: &Path,
    ui: Ui,
) -> Result<Option<Vec<PathBuf>>> {
    let results_path = run_dir.join("results.json");
    // Other runs look for this one here while it lives (see `runtime::peers`).
    let mut cpus = rt::parse_cpuset(&results.parameters.limits.cpuset).unwrap_or_default();
    cpus.extend(&results.parameters.generator_cpus);
    let _registration = match rt::peers::register(&results.run_id, &cpus) {
        Ok(registration) => Some(registration),
        Err(err) => {
            ui.warn(&format!(
                "cannot register this run in {} ({err}): other runs will not see it",
                rt::peers::registry_dir().display()
            ));
            None
        }
    };
    let outcome = {
        let work = run::session::execute(runtime, fixtures, trials, results, ui);
        let work = std::panic::AssertUnwindSafe(work).catch_unwind();
        tokio::select! {
            outcome = work => Some(outcome),
            _ = shutdown_signal() => None,
        }
    };
    let interrupted = match outcome {
        Some(Ok(outcome)) => {
            outcome?;
            false
        }
        Some(Err(panic)) => {
            // The work future is gone: no container of the run is still in use.
            let removed = runtime.clean(Some(&results.run_id)).await.unwrap_or(0);
            results.status = RunStatus::Failed;
            results.finished_at = Some(run::now_rfc3339());
            let kept = results::write(&results_path, results).is_ok();
            eprintln!(
                "error: faceoff crashed ({}): removed {removed} {} of run {}{}",
                panic_message(&*panic),
                runtime.kind().unit(),
                results.run_id,
                if kept {
                    format!("; results so far kept in {}", results_path.display())
                } else {
                    String::new()
                }
            );
            std::panic::resume_unwind(panic);
        }
        None => true,
    };
    fill_base_ids(results);
    if interrupted {
        results.status = RunStatus::Interrupted;
        results.finished_at = Some(run::now_rfc3339());
        // The results first: the cleanup talks to the engine, which may be what hangs.
        results::write(&results_path, results)?;
        // Bounded by the engine's call limit; a second Ctrl-C skips it.
        let cleaned = tokio::select! {
            cleaned = runtime.clean(Some(&results.run_id)) => Some(cleaned),
            _ = shutdown_signal() => None,
        };
        let unit = runtime.kind().unit();
        let run_id = &results.run_id;
        let cleanup = match cleaned {
            Some(Ok(removed)) => format!("removed {removed} {unit}"),
            Some(Err(err)) => format!(
                "could not remove the run's {unit} ({err}); once the engine answers: faceoff clean --run {run_id}"
            ),
            None => format!("left the run's {unit}: faceoff clean --run {run_id}"),
        };
        write_run_reports(&fixtures.root, run_dir, results, ui);
        eprintln!(
            "interrupted: {cleanup}; results so far kept in {}",
            results_path.display()
        );
        return Ok(None);
    }
    results.version_sensitivity = version_line(&fixtures.root, results);
    results::write(&results_path, results)?;
    let reports = write_run_reports(&fixtures.root, run_dir, results, ui);
    for failed in results
        .targets
        .iter()
        .filter(|t| t.status == TargetStatus::Failed)
    {
        let error = failed.error.as_deref().unwrap_or("failed");
        eprintln!("error: {}: {error}", failed.target);
    }
    Ok(Some(reports))
}

/// A panic's message, as `panic!` was given it.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// Records the ids of the base images the app images were built on.
pub fn fill_base_ids(results: &mut RunResults) {
    let bases: Vec<(String, String)> = results
        .targets
        .iter()
        .filter_map(|t| t.image.as_ref())
        .map(|image| (image.base_image.clone(), image.base_image_id.clone()))
        .collect();
    results.manifest.base_images.clear();
    results.manifest.base_images.extend(bases);
}

/// Writes report.md and report.html next to results.json. A report that cannot be written
/// is a warning, not a failed run: the results file is what counts and is already on disk.
pub fn write_run_reports(root: &Path, dir: &Path, results: &RunResults, ui: Ui) -> Vec<PathBuf> {
    let claims = match crate::claims::Claims::load(root) {
        Ok(claims) => claims,
        Err(err) => {
            ui.warn(&format!(
                "reports not written: {} (fix it, then `faceoff report`)",
                super::causes_line(&err)
            ));
            return Vec::new();
        }
    };
    let analysis =
        crate::analysis::Analysis::new(results, &claims, crate::stats::Bootstrap::default());
    match report::export::write_reports(dir, &analysis, &report::export::RUN_REPORTS) {
        Ok(paths) => paths,
        Err(err) => {
            ui.warn(&format!(
                "reports not written: {}",
                super::causes_line(&err)
            ));
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_images_recorded_are_those_the_targets_were_built_on() {
        let mut results = crate::analysis::test_support::fixture_results();
        results.manifest.base_images.clear();
        fill_base_ids(&mut results);
        let expected: Vec<&str> = results
            .targets
            .iter()
            .filter_map(|t| t.image.as_ref())
            .map(|i| i.base_image.as_str())
            .collect();
        assert!(!expected.is_empty());
        for base in expected {
            assert!(results.manifest.base_images.contains_key(base), "{base}");
        }
    }

    /// A runtime that starts nothing and records what it was asked to clean.
    #[derive(Default)]
    struct RecordingRuntime {
        cleaned: std::sync::Mutex<Vec<Option<String>>>,
    }

    impl Runtime for RecordingRuntime {
        type Instance = crate::runtime::docker::DockerInstance;
        fn kind(&self) -> RuntimeKind {
            RuntimeKind::Docker
        }
        async fn prepare(
            &self,
            target: &crate::config::Target,
            _: crate::images::Progress<'_>,
        ) -> Result<rt::Prepared, rt::RuntimeError> {
            Err(rt::RuntimeError::Prepare {
                target: target.name.clone(),
                message: "not in this test".into(),
            })
        }
        async fn start(
            &self,
            prepared: &rt::Prepared,
            _: &rt::LaunchSpec<'_>,
        ) -> Result<Self::Instance, rt::RuntimeError> {
            Err(rt::RuntimeError::Prepare {
                target: prepared.target.name.clone(),
                message: "not in this test".into(),
            })
        }
        async fn clean(&self, run_id: Option<&str>) -> Result<usize, rt::RuntimeError> {
            self.cleaned
                .lock()
                .unwrap()
                .push(run_id.map(str::to_string));
            Ok(2)
        }
    }

    /// Trials whose first step panics, as `--sample-interval 0ms` once did mid-trial.
    struct PanickingTrials<'a> {
        results_path: &'a Path,
    }

    impl run::session::Trials for PanickingTrials<'_> {
        type Shared = ();
        fn schedule(&self) -> run::session::Schedule<'_> {
            run::session::Schedule {
                targets: &[],
                trials: 1,
                seed: 1,
                results_path: self.results_path,
                verify: false,
            }
        }
        async fn prepare_shared(&self, _: &mut RunResults, _: Ui) -> Result<(), String> {
            panic!("`period` must be non-zero")
        }
        async fn trial<R: Runtime>(
            &self,
            _: &R,
            _: &rt::Prepared,
            _: &(),
            _: u32,
            _: Ui,
        ) -> run::session::Outcome {
            unreachable!("the run panicked before its first trial")
        }
    }

    #[tokio::test]
    async fn a_panic_during_a_run_removes_its_containers_and_records_the_run_as_failed() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = RecordingRuntime::default();
        let trials = PanickingTrials {
            results_path: &dir.path().join("results.json"),
        };
        let mut results = crate::analysis::test_support::fixture_results();
        results.status = RunStatus::Running;
        let run_id = results.run_id.clone();
        let fixtures = crate::commands::test_support::fixtures();
        let session = execute_session(
            &runtime,
            &fixtures,
            &trials,
            &mut results,
            dir.path(),
            Ui { quiet: true },
        );
        let panic = std::panic::AssertUnwindSafe(session)
            .catch_unwind()
            .await
            .expect_err("the panic goes on after the cleanup");
        assert_eq!(panic_message(&*panic), "`period` must be non-zero");
        assert_eq!(*runtime.cleaned.lock().unwrap(), vec![Some(run_id)]);
        let written = results::read(&dir.path().join("results.json")).unwrap();
        assert_eq!(written.status, RunStatus::Failed);
        assert!(written.finished_at.is_some());
    }

    #[test]
    fn only_a_complete_run_exits_zero() {
        let mut results = crate::analysis::test_support::fixture_results();
        results.status = RunStatus::Complete;
        assert_eq!(exit_code(&results), ExitCode::SUCCESS);
        results.status = RunStatus::Failed;
        assert_eq!(exit_code(&results), ExitCode::FAILURE);
    }
}
