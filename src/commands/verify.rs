//! `faceoff verify`: checks targets against the shared contract.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::cli::VerifyArgs;
use crate::config::Fixtures;
use crate::contract::Contract;
use crate::report;
use crate::results;
use crate::run::{self, Ui};
use crate::runtime::services as topology;
use crate::runtime::{self as rt, Limits, Runtime};
use crate::verify::{self, VerifyReport};

use super::{EXIT_INTERRUPTED, shutdown_signal};

pub async fn verify_command<R: Runtime>(
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
    let server_cpus = rt::parse_cpuset(&limits.cpuset)?;
    let targets = crate::config::with_workers(targets, server_cpus.len(), args.limits.workers);
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
    let launcher = super::services_launcher(
        &services,
        runtime.kind(),
        "verify",
        fixtures,
        (&args.build, &args.services),
        &limits,
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
        status: results::RunStatus::Running,
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
        () = verify::verify_all(
            &mut report.targets,
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
        ) => false,
        _ = shutdown_signal() => true,
    };
    report.finished_at = Some(run::now_rfc3339());
    report.status = if interrupted {
        results::RunStatus::Interrupted
    } else if report.passed() {
        results::RunStatus::Complete
    } else {
        results::RunStatus::Failed
    };
    write_verify_files(&dir, &report)?;
    if interrupted {
        let removed = runtime.clean(Some(&run_id)).await.unwrap_or(0);
        let cases: usize = report.targets.iter().map(|t| t.cases.len()).sum();
        eprintln!(
            "interrupted: removed {removed} {}; {cases} case(s) of {} target(s) checked so far kept in {}",
            runtime.kind().unit(),
            report.targets.len(),
            dir.join("verify.json").display()
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    println!("{}", crate::console::verify_table(&report));
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

pub fn write_verify_files(dir: &Path, report: &VerifyReport) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let json = serde_json::to_vec_pretty(report)?;
    let path = dir.join("verify.json");
    std::fs::write(&path, json).with_context(|| format!("cannot write {}", path.display()))?;
    let xml = report::junit::verify_junit(report)?;
    let path = dir.join("verify.junit.xml");
    std::fs::write(&path, xml).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use crate::commands::test_support::*;

    #[tokio::test]
    async fn an_unknown_workload_is_refused_with_the_ones_the_contract_covers() {
        let fixtures = fixtures();
        let Command::Verify(args) = command(&["verify", "--workload", "nope"]) else {
            unreachable!()
        };
        let runtime =
            crate::runtime::local::LocalRuntime::new(fixtures.clone(), std::env::temp_dir());
        let ui = Ui { quiet: true };
        let err = verify_command(&runtime, &fixtures, &args, ui)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope") && err.contains("status"), "{err}");
    }
}
