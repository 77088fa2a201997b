//! The faceoff binary: parses the command line, dispatches, and turns errors into one line
//! and an exit code CI can act on (0 ok, 1 failure, 2 usage, 130 interrupted).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;
use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;

use faceoff::cli::{
    AuditArgs, BuildArgs, CalibrateArgs, ClaimsArgs, CleanArgs, Cli, Command, CompareArgs,
    ImagesCommand, LoadArgs, MatrixArgs, MergeArgs, ReportArgs, RunArgs, UpArgs, VerifyArgs,
};
use faceoff::config::{Fixtures, Language, LoadMode, WorkloadKind};
use faceoff::contract::Contract;
use faceoff::images::{self, BuildOptions, HOST_CA_BUNDLE};
use faceoff::manifest::{Manifest, framework_version};
use faceoff::report;
use faceoff::results::{self, Parameters, RunResults, RunStatus, TargetStatus};
use faceoff::run::{self, RunPlan, Ui};
use faceoff::runtime::docker::{self, DockerRuntime};
use faceoff::runtime::local::{LocalRuntime, cache_dir};
use faceoff::runtime::{self as rt, Instance, LaunchSpec, Limits, Runtime, RuntimeKind};
use faceoff::topology;
use faceoff::verify::{self, VerifyReport};

mod chat_command;

/// Exit code for a run stopped by Ctrl-C (128 + SIGINT), as shells report it.
const EXIT_INTERRUPTED: u8 = 130;

/// Exit code of `compare` and `audit` when they could not do their job at all, so CI can
/// tell "figures got worse" (1) from "could not tell" (2).
const EXIT_ERROR: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let error_code = match cli.command {
        Command::Compare(_) | Command::Audit(_) => ExitCode::from(EXIT_ERROR),
        _ => ExitCode::FAILURE,
    };
    match dispatch(cli).await {
        Ok(code) => code,
        Err(err) => {
            // One line: the causes joined, each said once (many errors already quote
            // their source in their own message).
            let mut message = String::new();
            for cause in err.chain().map(|cause| cause.to_string()) {
                if !message.contains(&cause) {
                    if !message.is_empty() {
                        message.push_str(": ");
                    }
                    message.push_str(&cause);
                }
            }
            eprintln!("error: {message}");
            error_code
        }
    }
}

async fn dispatch(cli: Cli) -> Result<ExitCode> {
    // Commands on results files alone work anywhere, without a checkout.
    match &cli.command {
        Command::Merge(args) => return merge_command(args),
        Command::Compare(args) => return compare_command(args),
        _ => {}
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let root = Fixtures::find_root(cli.root.as_deref(), &cwd)?;
    let fixtures = Fixtures::load(&root)?;
    let ui = Ui { quiet: cli.quiet };
    match cli.command {
        Command::Doctor => doctor(&fixtures, cli.runtime).await,
        Command::List => list(&fixtures),
        Command::Images(ImagesCommand::Build(args)) => {
            let docker = docker::connect().await?;
            let options = build_options(&args.build)?;
            let runtime = DockerRuntime::new(docker, fixtures.clone(), options);
            let targets = fixtures.select_targets(&args.targets)?;
            images_build(&runtime, &targets, ui).await
        }
        Command::Up(args) => match cli.runtime {
            RuntimeKind::Docker => {
                up(
                    &docker_runtime(&fixtures, &args.build).await?,
                    &fixtures,
                    &args,
                    ui,
                )
                .await
            }
            RuntimeKind::Local => {
                up(
                    &LocalRuntime::new(fixtures.clone(), cache_dir()),
                    &fixtures,
                    &args,
                    ui,
                )
                .await
            }
        },
        Command::Run(args) => match cli.runtime {
            RuntimeKind::Docker => {
                let runtime = docker_runtime(&fixtures, &args.build).await?;
                let engine = docker::engine_info(runtime.docker()).await.ok();
                run_command(&runtime, &fixtures, &args, engine, ui).await
            }
            RuntimeKind::Local => {
                let runtime = LocalRuntime::new(fixtures.clone(), cache_dir());
                run_command(&runtime, &fixtures, &args, None, ui).await
            }
        },
        Command::Verify(args) => match cli.runtime {
            RuntimeKind::Docker => {
                let runtime = docker_runtime(&fixtures, &args.build).await?;
                verify_command(&runtime, &fixtures, &args, ui).await
            }
            RuntimeKind::Local => {
                let runtime = LocalRuntime::new(fixtures.clone(), cache_dir());
                verify_command(&runtime, &fixtures, &args, ui).await
            }
        },
        Command::Claims(args) => claims(&fixtures, &args),
        Command::Report(args) => report_command(&fixtures, &args),
        Command::Load(args) => load_command(&args).await,
        Command::Calibrate(args) => calibrate_command(&args).await,
        Command::Clean(args) => clean(&fixtures, cli.runtime, &args).await,
        Command::Matrix(args) => matrix_command(&fixtures, &args),
        Command::Audit(args) => audit_command(&fixtures, &args, ui).await,
        Command::Merge(_) | Command::Compare(_) => unreachable!("dispatched above"),
    }
}

/// A results file given as itself or as its run directory.
fn results_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("results.json")
    } else {
        path.to_path_buf()
    }
}

fn matrix_command(fixtures: &Fixtures, args: &MatrixArgs) -> Result<ExitCode> {
    let targets = fixtures.select_targets(&args.targets)?;
    if let Some(workload) = &args.workload {
        fixtures.workload(workload)?;
    }
    if let Some(profile) = &args.profile {
        fixtures.profile(profile)?;
    }
    let matrix =
        faceoff::matrix::matrix(&targets, args.workload.as_deref(), args.profile.as_deref());
    println!("{}", matrix.to_json_line());
    Ok(ExitCode::SUCCESS)
}

fn merge_command(args: &MergeArgs) -> Result<ExitCode> {
    let mut sources = Vec::new();
    for path in &args.files {
        let file = results_file(path);
        sources.push(faceoff::merge::Source {
            label: file.display().to_string(),
            results: results::read(&file)?,
        });
    }
    let run_id = format!("merged-{}", run::new_run_id());
    let merged = faceoff::merge::merge(&sources, &run_id, args.allow_mixed)?;
    results::write(&args.out, &merged)?;
    if let Some(record) = &merged.merge {
        for difference in &record.differences {
            eprintln!(
                "warning: merged despite a difference (--allow-mixed): {} differs from {} in {}",
                difference.file, sources[0].label, difference.difference
            );
        }
        for note in &record.notes {
            eprintln!("note: {note}");
        }
    }
    println!(
        "merged {} files ({} targets: {}) into {}",
        sources.len(),
        merged.targets.len(),
        merged.parameters.targets.join(", "),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn compare_command(args: &CompareArgs) -> Result<ExitCode> {
    let baseline = results::read(&results_file(&args.baseline))?;
    let current = results::read(&results_file(&args.current))?;
    let bootstrap = faceoff::stats::Bootstrap {
        seed: args.seed,
        ..Default::default()
    };
    for (results, path) in [(&baseline, &args.baseline), (&current, &args.current)] {
        if let Some(warning) = faceoff::merge::mixed_warning(results, &path.display().to_string()) {
            eprintln!("warning: {warning}");
        }
    }
    let comparison =
        faceoff::compare::compare(&baseline, &current, args.max_regression, &bootstrap);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&comparison)?);
    } else {
        for difference in &comparison.differences {
            eprintln!(
                "warning: baseline and current differ in {difference}: figures may differ for that reason alone"
            );
        }
        println!("{comparison}");
    }
    Ok(if comparison.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn audit_command(fixtures: &Fixtures, args: &AuditArgs, ui: Ui) -> Result<ExitCode> {
    let file = results_file(&args.results);
    let original = results::read(&file)?;
    let out = args.out.join(format!("audit-{}", run::new_run_id()));
    let audit = faceoff::audit::plan(
        &original,
        &file.display().to_string(),
        fixtures,
        &out,
        rt::host_cpu_count(),
    )?;
    if let Some(warning) = faceoff::merge::mixed_warning(&original, &file.display().to_string()) {
        ui.warn(&warning);
    }
    for warning in &audit.warnings {
        ui.warn(warning);
    }
    let registry = faceoff::claims::Claims::load(&fixtures.root)?;
    // The re-run is `faceoff run` with the recorded parameters, parsed like a user's.
    let Command::Run(mut run_args) = Cli::try_parse_from(&audit.run_args)
        .with_context(|| format!("cannot replay `{}`", audit.run_args.join(" ")))?
        .command
    else {
        bail!("cannot replay `{}`: not a run", audit.run_args.join(" "));
    };
    run_args.build = args.build.clone();
    ui.step(&format!(
        "audit of {}: {}",
        original.run_id,
        audit.run_args.join(" ")
    ));
    let code = match original.parameters.runtime {
        RuntimeKind::Docker => {
            let runtime = docker_runtime(fixtures, &args.build).await?;
            let engine = docker::engine_info(runtime.docker()).await.ok();
            run_command(&runtime, fixtures, &run_args, engine, ui).await?
        }
        RuntimeKind::Local => {
            let runtime = LocalRuntime::new(fixtures.clone(), cache_dir());
            run_command(&runtime, fixtures, &run_args, None, ui).await?
        }
    };
    if code == ExitCode::from(EXIT_INTERRUPTED) {
        return Ok(code);
    }
    let run_dir = std::fs::read_dir(&out)
        .with_context(|| format!("the re-run wrote nothing in {}", out.display()))?
        .flatten()
        .map(|entry| entry.path())
        .find(|path| path.join("results.json").is_file())
        .with_context(|| format!("the re-run wrote no results.json in {}", out.display()))?;
    let rerun = results::read(&run_dir.join("results.json"))?;
    let shown = audit.warnings.len();
    let mut warnings = audit.warnings;
    warnings.extend(faceoff::audit::build_warnings(&original, &rerun));
    let report = faceoff::audit::evaluate(
        &original,
        &rerun,
        &registry,
        &faceoff::audit::AuditRules {
            tolerance: args.tolerance,
            strict: args.strict,
            bootstrap: faceoff::stats::Bootstrap::default(),
        },
        warnings,
    );
    let audit_path = run_dir.join("audit.json");
    std::fs::write(&audit_path, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("cannot write {}", audit_path.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for warning in report.warnings.iter().skip(shown) {
            ui.warn(warning);
        }
        println!("{report}");
        println!("audit: {}", audit_path.display());
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn docker_runtime(fixtures: &Fixtures, build: &BuildArgs) -> Result<DockerRuntime> {
    let docker = docker::connect().await?;
    Ok(DockerRuntime::new(
        docker,
        fixtures.clone(),
        build_options(build)?,
    ))
}

fn build_options(args: &BuildArgs) -> Result<BuildOptions> {
    let ca_bundle = match args.ca_bundle.as_deref() {
        Some("none") => None,
        Some(path) => {
            let path = PathBuf::from(path);
            if !path.is_file() {
                bail!(
                    "--ca-bundle {}: no such file (pass a PEM bundle, or `none`)",
                    path.display()
                );
            }
            Some(path)
        }
        None => Some(PathBuf::from(HOST_CA_BUNDLE)).filter(|p| p.is_file()),
    };
    Ok(BuildOptions {
        ca_bundle,
        base: args.base,
        force: args.force,
        mirror: args.mirror.clone(),
    })
}

/// A signal that should stop the work and clean up: Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(term) => { term.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

fn list(fixtures: &Fixtures) -> Result<ExitCode> {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "target",
        "language",
        "framework",
        "server setup",
        "app",
    ]);
    for target in &fixtures.targets {
        let version =
            framework_version(target, &fixtures.app_dir(target)).unwrap_or_else(|| "?".into());
        table.add_row([
            target.name.clone(),
            target.language.to_string(),
            format!("{} {version}", target.framework),
            target.server.clone(),
            target.app_dir.display().to_string(),
        ]);
    }
    println!("{table}");
    Ok(ExitCode::SUCCESS)
}

async fn images_build(
    runtime: &DockerRuntime,
    targets: &[faceoff::config::Target],
    ui: Ui,
) -> Result<ExitCode> {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(["target", "image", "id", "base", "built"]);
    let work = async {
        for target in targets {
            ui.step(&format!("[build] {}", target.name));
            let progress = |line: &str| ui.step(&format!("  {line}"));
            let prepared = runtime.prepare(target, &progress).await?;
            if let Some(image) = prepared.image {
                table.add_row([
                    image.target,
                    image.tag,
                    image
                        .image_id
                        .trim_start_matches("sha256:")
                        .chars()
                        .take(12)
                        .collect(),
                    image.base_image,
                    if image.built { "built" } else { "up to date" }.to_string(),
                ]);
            }
        }
        anyhow::Ok(())
    };
    tokio::select! {
        result = work => result?,
        _ = shutdown_signal() => {
            eprintln!("interrupted: build stopped");
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
    }
    println!("{table}");
    Ok(ExitCode::SUCCESS)
}

async fn up<R: Runtime>(
    runtime: &R,
    fixtures: &Fixtures,
    args: &UpArgs,
    ui: Ui,
) -> Result<ExitCode> {
    let target = fixtures.target(&args.target)?.clone();
    if !target.services.is_empty() {
        bail!(
            "{} runs with {}, which `up` does not start: use `faceoff run` or `faceoff verify`, or `faceoff up` a target without services",
            target.name,
            target.services.join(", ")
        );
    }
    let port = match args.port {
        Some(port) => {
            rt::ensure_port_free(port)?;
            port
        }
        None => rt::pick_free_port()?,
    };
    let limits = Limits {
        cpuset: args.limits.cpuset.clone(),
        memory_bytes: args.limits.memory,
    };
    rt::parse_cpuset(&limits.cpuset)?;
    let run_id = format!("up-{}", run::new_run_id());
    let progress = |line: &str| ui.step(&format!("  {line}"));
    let prepared = tokio::select! {
        prepared = runtime.prepare(&target, &progress) => prepared?,
        _ = shutdown_signal() => return Ok(ExitCode::from(EXIT_INTERRUPTED)),
    };
    let spec = LaunchSpec {
        run_id: &run_id,
        port,
        limits: &limits,
        env: &[],
    };
    let instance = runtime.start(&prepared, &spec).await?;
    let ready = tokio::select! {
        ready = rt::wait_ready(&instance, &target.name, &limits, args.limits.ready_timeout) => ready,
        _ = shutdown_signal() => {
            instance.stop().await?;
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
    };
    if let Err(err) = ready {
        instance.stop().await?;
        return Err(err.into());
    }
    println!(
        "{} listening on http://{}:{port} ({} {}, cpuset {}); Ctrl-C to stop",
        target.name,
        rt::HOST,
        runtime.kind().label(),
        instance.id(),
        limits.cpuset
    );
    // Wait for Ctrl-C, or for the target to stop on its own.
    let exited = loop {
        tokio::select! {
            _ = shutdown_signal() => break None,
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {
                if let Some(exited) = instance.exited().await? {
                    break Some(exited);
                }
            }
        }
    };
    let logs = instance.logs_tail(rt::LOG_TAIL_LINES).await;
    instance.stop().await?;
    match exited {
        None => {
            eprintln!("stopped {}", target.name);
            Ok(ExitCode::SUCCESS)
        }
        Some(exited) => bail!(
            "{} exited with code {}; last log lines: {logs}",
            target.name,
            exited.code
        ),
    }
}

async fn run_command<R: Runtime>(
    runtime: &R,
    fixtures: &Fixtures,
    args: &RunArgs,
    engine: Option<docker::EngineInfo>,
    ui: Ui,
) -> Result<ExitCode> {
    let workload = fixtures.workload(&args.workload)?.clone();
    if workload.kind == WorkloadKind::Chat {
        return chat_command::run(
            runtime,
            fixtures,
            args,
            &workload,
            engine,
            ui,
            shutdown_signal(),
        )
        .await;
    }
    let targets = fixtures.select_targets_for(&args.targets, &workload)?;
    let profile = fixtures.profile(&args.profile)?.clone();
    if matches!(profile.mode, LoadMode::Capacity | LoadMode::Fanout) {
        bail!(
            "profile `{}` drives the chat workload: use it with --workload chat",
            profile.name
        );
    }
    let load = faceoff::sweep::LoadPlan::from_profile(&profile)?;
    let limits = Limits {
        cpuset: args.limits.cpuset.clone(),
        memory_bytes: args.limits.memory,
    };
    let server_cpus = rt::parse_cpuset(&limits.cpuset)?;
    let generator_cpus = match &args.generator_cpus {
        Some(cpus) => rt::parse_cpuset(cpus)?,
        None => {
            let others = rt::cpus_besides(&server_cpus);
            if others.is_empty() {
                eprintln!(
                    "warning: no CPU is left for the load generator; it shares CPUs {server_cpus:?} with the server"
                );
                server_cpus.clone()
            } else {
                others
            }
        }
    };
    if generator_cpus.iter().any(|c| server_cpus.contains(c)) {
        eprintln!(
            "warning: the load generator shares CPUs with the server; figures will be lower and noisier"
        );
    }
    let catalog = topology::Catalog::load(&fixtures.root)?;
    let (targets, notes) =
        catalog.targets_for_runtime(runtime.kind(), targets, !args.targets.is_empty())?;
    notes.iter().for_each(|note| eprintln!("note: {note}"));
    let services = catalog.with_target_services(catalog.for_workload(&workload)?, &targets)?;
    let launcher = topology::launcher_for(
        &services,
        runtime.kind(),
        &workload.name,
        fixtures,
        build_options(&args.build)?,
        topology::database_limits(
            args.services.db_cpuset.as_deref(),
            args.services.db_memory,
            &limits,
        )?,
        limits.clone(),
    )
    .await?;
    let run_id = run::new_run_id();
    let run_dir = args.out.join(&run_id);
    let results_path = run_dir.join("results.json");
    let request_timeout = workload.request_timeout_or(args.request_timeout);
    let plan = RunPlan {
        run_id: run_id.clone(),
        targets,
        workload,
        trials: profile.trials_or(args.trials),
        seed: args.seed.unwrap_or_else(faceoff::schedule::fresh_seed),
        connections: args.connections.unwrap_or(profile.connections) as usize,
        duration: args.duration.unwrap_or(profile.duration),
        warmup: args.warmup.unwrap_or(profile.warmup),
        max_requests: args.max_requests.or(profile.max_requests),
        load,
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
        services,
        launcher,
    };
    let mut manifest = Manifest::collect(&fixtures.root);
    manifest.engine = engine;
    for language in [Language::Node, Language::Python] {
        let image = fixtures.bases.image_for(language);
        manifest
            .base_images
            .insert(image.to_string(), String::new());
    }
    let mut results = RunResults {
        schema_version: results::SCHEMA_VERSION,
        run_id: run_id.clone(),
        status: RunStatus::Running,
        started_at: run::now_rfc3339(),
        finished_at: None,
        parameters: Parameters {
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
            schedule: faceoff::schedule::schedule(
                &plan
                    .targets
                    .iter()
                    .map(|t| t.name.clone())
                    .collect::<Vec<_>>(),
                plan.seed,
                plan.trials,
            ),
            chat: None,
        },
        manifest,
        targets: Vec::new(),
        merge: None,
        services: Vec::new(),
        duets: Vec::new(),
    };
    results::write(&results_path, &results)?;
    ui.step(&format!(
        "run {run_id} (trial order seed {}): results in {}",
        plan.seed,
        results_path.display()
    ));

    let interrupted = {
        let work = run::execute(runtime, fixtures, &plan, &mut results, ui);
        tokio::select! {
            outcome = work => { outcome?; false }
            _ = shutdown_signal() => true,
        }
    };
    fill_base_ids(&mut results);
    if interrupted {
        results.status = RunStatus::Interrupted;
        results.finished_at = Some(run::now_rfc3339());
        let removed = runtime.clean(Some(&run_id)).await.unwrap_or(0);
        results::write(&results_path, &results)?;
        write_run_reports(&fixtures.root, &run_dir, &results, ui);
        eprintln!(
            "interrupted: removed {removed} {}; results so far kept in {}",
            runtime.kind().unit(),
            results_path.display()
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    results::write(&results_path, &results)?;
    let reports = write_run_reports(&fixtures.root, &run_dir, &results, ui);
    for failed in results
        .targets
        .iter()
        .filter(|t| t.status == TargetStatus::Failed)
    {
        let error = failed.error.as_deref().unwrap_or("failed");
        eprintln!("error: {}: {error}", failed.target);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        println!("{}", report::summary_table(&results));
        println!("{}", report::conditions_line(&results));
        for line in report::sweep::summary_lines(&results) {
            println!("{line}");
        }
        if results.parameters.trials > 1 {
            for line in
                report::throughput_comparisons(&results, &faceoff::stats::Bootstrap::default())
            {
                println!("{line}");
            }
        }
        for warning in report::outlier_warnings(&results) {
            ui.warn(&warning);
        }
        println!("results: {}", results_path.display());
        for path in reports {
            println!("report: {}", path.display());
        }
    }
    Ok(if results.status == RunStatus::Complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn verify_command<R: Runtime>(
    runtime: &R,
    fixtures: &Fixtures,
    args: &VerifyArgs,
    ui: Ui,
) -> Result<ExitCode> {
    let contract = Contract::load(&fixtures.root)?;
    let mut known = contract.workloads();
    known.push("chat");
    if let Some(unknown) = args.workload.iter().find(|w| !known.contains(&w.as_str())) {
        bail!(
            "unknown workload `{unknown}`; the contract covers: {}",
            known.join(", ")
        );
    }
    let targets = fixtures.select_targets_serving(&args.targets, &args.workload)?;
    let limits = Limits {
        cpuset: args.limits.cpuset.clone(),
        memory_bytes: args.limits.memory,
    };
    rt::parse_cpuset(&limits.cpuset)?;
    let catalog = topology::Catalog::load(&fixtures.root)?;
    let checked = catalog.verify_workloads(runtime.kind(), fixtures, &known, &args.workload)?;
    let (targets, notes) =
        catalog.targets_for_runtime(runtime.kind(), targets, !args.targets.is_empty())?;
    checked
        .notes
        .iter()
        .chain(&notes)
        .for_each(|note| eprintln!("note: {note}"));
    let (workloads, workload_services) = (checked.workloads, checked.services);
    let services = catalog.with_target_services(workload_services.clone(), &targets)?;
    let workload_services: Vec<String> = workload_services.into_iter().map(|s| s.name).collect();
    let launcher = topology::launcher_for(
        &services,
        runtime.kind(),
        "verify",
        fixtures,
        build_options(&args.build)?,
        topology::database_limits(
            args.services.db_cpuset.as_deref(),
            args.services.db_memory,
            &limits,
        )?,
        limits.clone(),
    )
    .await?;
    let prepared_services = match &launcher {
        Some(launcher) => {
            let progress = |line: &str| ui.step(&format!("  {line}"));
            launcher.prepare(&services, &progress).await?
        }
        None => Vec::new(),
    };
    let run_id = run::new_run_id();
    let dir = args.out.join(&run_id);
    let mut report = VerifyReport {
        schema_version: results::SCHEMA_VERSION,
        run_id: run_id.clone(),
        started_at: run::now_rfc3339(),
        finished_at: None,
        workloads: args.workload.clone(),
        targets: Vec::new(),
    };
    let launch = rt::LaunchSettings {
        run_id: &run_id,
        limits: &limits,
        ready_timeout: args.limits.ready_timeout,
    };
    let progress = |line: &str| ui.step(line);
    let interrupted = tokio::select! {
        verified = verify::verify_all(
            runtime,
            &targets,
            &contract,
            &workloads,
            &launch,
            launcher.as_ref().map(|launcher| verify::VerifyServices {
                launcher,
                prepared: &prepared_services,
                workload_services: &workload_services,
            }),
            &progress,
        ) => {
            report.targets = verified;
            false
        }
        _ = shutdown_signal() => true,
    };
    report.finished_at = Some(run::now_rfc3339());
    write_verify_files(&dir, &report)?;
    if interrupted {
        let removed = runtime.clean(Some(&run_id)).await.unwrap_or(0);
        eprintln!("interrupted: removed {removed} {}", runtime.kind().unit());
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    println!("{}", report::verify_table(&report));
    for target in &report.targets {
        for line in target.failure_lines() {
            println!("FAIL {} {line}", target.target);
        }
    }
    println!(
        "verify: {} (JUnit: {})",
        dir.join("verify.json").display(),
        dir.join("verify.junit.xml").display()
    );
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn write_verify_files(dir: &Path, report: &VerifyReport) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let json = serde_json::to_vec_pretty(report)?;
    let path = dir.join("verify.json");
    std::fs::write(&path, json).with_context(|| format!("cannot write {}", path.display()))?;
    let xml = report::junit::verify_junit(report)?;
    let path = dir.join("verify.junit.xml");
    std::fs::write(&path, xml).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Records the ids of the base images the app images were built on.
fn fill_base_ids(results: &mut RunResults) {
    let bases: Vec<(String, String)> = results
        .targets
        .iter()
        .filter_map(|t| t.image.as_ref())
        .map(|image| (image.base_image.clone(), image.base_image_id.clone()))
        .collect();
    results.manifest.base_images.clear();
    results.manifest.base_images.extend(bases);
}

async fn load_command(args: &LoadArgs) -> Result<ExitCode> {
    use faceoff::load::{self, LiveCounters, LoadSpec};
    let url: hyper::Uri = args
        .url
        .parse()
        .with_context(|| format!("`{}` is not a URL", args.url))?;
    let method = args
        .method
        .parse()
        .with_context(|| format!("`{}` is not an HTTP method", args.method))?;
    if let Some(body) = &args.body {
        serde_json::from_str::<serde_json::Value>(body).context("--body is not JSON")?;
    }
    let cpus = match &args.cpus {
        Some(cpus) => rt::parse_cpuset(cpus)?,
        None => Vec::new(),
    };
    load::ensure_fd_limit(args.connections as usize)?;
    let spec = LoadSpec {
        url,
        method,
        body: args.body.clone().map(bytes::Bytes::from),
        connections: args.connections as usize,
        threads: args.threads.max(1),
        cpus,
        warmup: args.warmup,
        duration: args.duration,
        max_requests: args.max_requests,
        request_timeout: args.timeout,
    };
    let live = std::sync::Arc::new(LiveCounters::default());
    let rate = args.rate;
    let run = tokio::task::spawn_blocking(move || match rate {
        Some(rate) => load::run_open_loop(&spec, rate, live),
        None => load::run_closed_loop(&spec, live),
    });
    let report = tokio::select! {
        report = run => report.context("the load generator thread failed")??,
        _ = shutdown_signal() => return Ok(ExitCode::from(EXIT_INTERRUPTED)),
    };
    if let Some(open) = report.open_loop.as_ref().filter(|open| !open.kept_rate()) {
        eprintln!("warning: {}", report::sweep::rate_shortfall(open));
    }
    if args.json {
        let summary = serde_json::json!({
            "url": args.url,
            "connections": args.connections,
            "rate": args.rate,
            "requests": report.requests,
            "duration_s": report.elapsed.as_secs_f64(),
            "requests_per_sec": report.requests_per_sec(),
            "latency": faceoff::stats::latency_summary(&report.latency_us),
            "status_counts": report.status_counts,
            "errors": report.errors,
            "bytes_received": report.bytes_received,
            "response_bytes": report.response_bytes,
            "per_second": report.per_second,
            "connections_opened": report.connections_opened,
            "warmup_requests": report.warmup_requests,
            "warmup_errors": report.warmup_errors,
            "open_loop": report.open_loop,
            "service_latency": report.service_latency_us.as_ref().map(faceoff::stats::latency_summary),
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!(
            "{}",
            report::wrk::wrk_text(
                &report,
                &args.url,
                args.connections as usize,
                args.threads.max(1)
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn calibrate_command(args: &CalibrateArgs) -> Result<ExitCode> {
    let options = faceoff::instrument::CalibrateOptions {
        connections: args.connections,
        duration: args.duration,
        rounds: args.rounds,
        memory_connections: args.memory_connections,
        ..Default::default()
    };
    eprintln!(
        "calibrating: {} rounds of faceoff and wrk, {} s each, against nginx (about {} s)",
        options.rounds,
        options.duration.as_secs(),
        options.rounds as u64 * 2 * options.duration.as_secs() + options.duration.as_secs() + 10
    );
    let calibration = tokio::select! {
        calibration = faceoff::instrument::calibrate(&options) => calibration?,
        _ = shutdown_signal() => return Ok(ExitCode::from(EXIT_INTERRUPTED)),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&calibration)?);
    } else {
        print!("{}", report::wrk::calibration_text(&calibration));
    }
    Ok(ExitCode::SUCCESS)
}

fn claims(fixtures: &Fixtures, args: &ClaimsArgs) -> Result<ExitCode> {
    let registry = faceoff::claims::Claims::load(&fixtures.root)?;
    let mut runs = Vec::new();
    for path in &args.run {
        let file = if path.is_dir() {
            path.join("results.json")
        } else {
            path.clone()
        };
        let run = results::read(&file)?;
        if let Some(warning) = faceoff::merge::mixed_warning(&run, &file.display().to_string()) {
            eprintln!("warning: {warning}");
        }
        runs.push(run);
    }
    let bootstrap = faceoff::stats::Bootstrap {
        seed: args.seed,
        ..Default::default()
    };
    let verdicts = registry.verdicts(&runs, &bootstrap);
    if args.json {
        let listed: Vec<serde_json::Value> = verdicts
            .iter()
            .map(|(claim, verdict)| {
                serde_json::json!({
                    "claim": claim,
                    "verdict": verdict,
                })
            })
            .collect();
        let document = serde_json::json!({
            "bootstrap": {"seed": bootstrap.seed, "resamples": bootstrap.resamples, "confidence": bootstrap.confidence},
            "runs": runs.iter().map(|r| r.run_id.clone()).collect::<Vec<_>>(),
            "claims": listed,
        });
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        println!("{}", report::claims_table(&verdicts));
        let mut counts = std::collections::BTreeMap::new();
        for (_, verdict) in &verdicts {
            *counts.entry(verdict.label()).or_insert(0) += 1;
        }
        let summary: Vec<String> = counts
            .iter()
            .map(|(label, n)| format!("{n} {label}"))
            .collect();
        println!(
            "{} claims: {} (bootstrap seed {}; absolute figures were measured on other hardware)",
            verdicts.len(),
            summary.join(", "),
            bootstrap.seed
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes report.md and report.html next to results.json. A report that cannot be written
/// is a warning, not a failed run: the results file is what counts and is already on disk.
fn write_run_reports(root: &Path, dir: &Path, results: &RunResults, ui: Ui) -> Vec<PathBuf> {
    let claims = match faceoff::claims::Claims::load(root) {
        Ok(claims) => claims,
        Err(err) => {
            ui.warn(&format!(
                "reports not written: {err} (fix it, then `faceoff report`)"
            ));
            return Vec::new();
        }
    };
    let analysis =
        faceoff::analysis::Analysis::new(results, &claims, faceoff::stats::Bootstrap::default());
    match report::export::write_reports(dir, &analysis, &report::export::RUN_REPORTS) {
        Ok(paths) => paths,
        Err(err) => {
            ui.warn(&format!("reports not written: {err}"));
            Vec::new()
        }
    }
}

fn report_command(fixtures: &Fixtures, args: &ReportArgs) -> Result<ExitCode> {
    let file = if args.results.is_dir() {
        args.results.join("results.json")
    } else {
        args.results.clone()
    };
    let results = results::read(&file)?;
    if results.schema_version > results::SCHEMA_VERSION {
        bail!(
            "{} has schema version {}, newer than this faceoff's {}: use the faceoff that wrote it, or a newer one",
            file.display(),
            results.schema_version,
            results::SCHEMA_VERSION
        );
    }
    let claims = faceoff::claims::Claims::load(&fixtures.root)?;
    let bootstrap = faceoff::stats::Bootstrap {
        seed: args.seed,
        ..Default::default()
    };
    let analysis = faceoff::analysis::Analysis::new(&results, &claims, bootstrap);
    let bytes = args.format.exporter().export(&analysis)?;
    match &args.output {
        Some(path) => std::fs::write(path, bytes).with_context(|| {
            format!(
                "cannot write {} (check the directory exists and is writable)",
                path.display()
            )
        })?,
        None => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&bytes)
                .and_then(|()| stdout.flush())
                .context("cannot write the report to standard output")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn clean(fixtures: &Fixtures, kind: RuntimeKind, args: &CleanArgs) -> Result<ExitCode> {
    let run = args.run.as_deref();
    match kind {
        RuntimeKind::Docker => {
            let docker = docker::connect().await?;
            let options = BuildOptions {
                ca_bundle: None,
                base: images::BaseChoice::Offline,
                force: false,
                mirror: None,
            };
            let runtime = DockerRuntime::new(docker.clone(), fixtures.clone(), options);
            let removed = runtime.clean(run).await?;
            println!("removed {removed} container(s)");
            if args.images {
                let removed = images::remove_app_images(&docker).await?;
                println!("removed {removed} app image(s)");
            }
        }
        RuntimeKind::Local => {
            let runtime = LocalRuntime::new(fixtures.clone(), cache_dir());
            let removed = runtime.clean(run).await?;
            println!("stopped {removed} process(es)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn doctor(fixtures: &Fixtures, kind: RuntimeKind) -> Result<ExitCode> {
    let mut failures = 0;
    let mut line = |ok: bool, what: &str, detail: String| {
        if !ok {
            failures += 1;
        }
        println!("{} {what}: {detail}", if ok { "OK  " } else { "FAIL" });
    };
    let cpus = rt::host_cpu_count();
    line(
        cpus >= 2,
        "CPUs",
        if cpus >= 2 {
            format!("{cpus} online (server on cpuset 1, generator on the rest)")
        } else {
            format!(
                "{cpus} online: the server and the generator will share a CPU; use a host with 2 or more"
            )
        },
    );
    for (program, fix) in [
        (
            "node",
            "install Node.js 20+ (needed by --runtime local and to build the offline Node base)",
        ),
        (
            "npm",
            "install npm (needed to build the offline Node base and for --runtime local)",
        ),
        (
            "python3",
            "install python3 with venv (needed by --runtime local)",
        ),
    ] {
        match images::find_on_path(program) {
            Some(path) => line(true, program, version_of(&path)),
            None => line(false, program, format!("not on PATH: {fix}")),
        }
    }
    for (ok, what, detail) in faceoff::instrument::tool_checks() {
        line(ok, what, detail);
    }
    if kind == RuntimeKind::Docker {
        match docker::connect().await {
            Err(err) => line(false, "engine", err.to_string()),
            Ok(client) => {
                match docker::engine_info(&client).await {
                    Ok(info) => {
                        line(
                            true,
                            "engine",
                            format!(
                                "Docker {} (API {}) at {}",
                                info.version, info.api_version, info.endpoint
                            ),
                        );
                        line(
                            true,
                            "cgroup",
                            format!("v{} ({} driver)", info.cgroup_version, info.cgroup_driver),
                        );
                        line(
                            info.cpus >= 2,
                            "engine CPUs",
                            format!("{} (memory {} MiB)", info.cpus, info.memory_bytes / 1048576),
                        );
                    }
                    Err(err) => line(false, "engine", err.to_string()),
                }
                for image in [
                    &fixtures.bases.debian.image,
                    &fixtures.bases.node.image,
                    &fixtures.bases.python.image,
                ] {
                    match images::image_id(&client, image).await {
                        Ok(Some(id)) => line(
                            true,
                            "base image",
                            format!("{image} ({})", &id.trim_start_matches("sha256:")[..12]),
                        ),
                        Ok(None) => line(
                            false,
                            "base image",
                            format!("{image} missing: `faceoff images build` makes it offline"),
                        ),
                        Err(err) => line(false, "base image", format!("{image}: {err}")),
                    }
                }
                match images::find_on_path("debootstrap") {
                    Some(_) => line(true, "debootstrap", "present".into()),
                    None => line(
                        false,
                        "debootstrap",
                        "not on PATH: apt-get install debootstrap (builds the offline Debian base)"
                            .into(),
                    ),
                }
                match images::host_apt_mirror() {
                    Some(mirror) => line(true, "apt mirror", mirror),
                    None => line(
                        false,
                        "apt mirror",
                        "none in the host's apt configuration: pass --mirror URL to images build"
                            .into(),
                    ),
                }
            }
        }
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn version_of(path: &Path) -> String {
    std::process::Command::new(path)
        .arg("--version")
        .output()
        .ok()
        .map(|out| {
            String::from_utf8_lossy(&out.stdout).trim().to_string()
                + String::from_utf8_lossy(&out.stderr).trim()
        })
        .filter(|v| !v.is_empty())
        .map(|v| format!("{v} ({})", path.display()))
        .unwrap_or_else(|| path.display().to_string())
}
