//! `faceoff audit`: re-runs a published results file with its recorded parameters and judges whether it still holds.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;

use crate::cli::{AuditArgs, Cli, Command};
use crate::config::Fixtures;
use crate::results;
use crate::run::{self, Ui};
use crate::runtime::docker;
use crate::runtime::local::{LocalRuntime, cache_dir};
use crate::runtime::{self as rt, RuntimeKind};

use super::*;

pub async fn audit_command(fixtures: &Fixtures, args: &AuditArgs, ui: Ui) -> Result<ExitCode> {
    let file = results_file(&args.results);
    let original = results::read(&file)?;
    let out = args.out.join(format!("audit-{}", run::new_run_id()));
    let audit = crate::audit::plan(
        &original,
        &file.display().to_string(),
        fixtures,
        &out,
        rt::host_cpu_count(),
    )?;
    if let Some(warning) = crate::merge::mixed_warning(&original, &file.display().to_string()) {
        ui.warn(&warning);
    }
    for warning in &audit.warnings {
        ui.warn(warning);
    }
    let registry = crate::claims::Claims::load(&fixtures.root)?;
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
            super::run::run_command(&runtime, fixtures, &run_args, engine, ui).await?
        }
        RuntimeKind::Local => {
            let runtime = LocalRuntime::new(fixtures.clone(), cache_dir());
            super::run::run_command(&runtime, fixtures, &run_args, None, ui).await?
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
    warnings.extend(crate::audit::build_warnings(&original, &rerun));
    let report = crate::audit::evaluate(
        &original,
        &rerun,
        &registry,
        &crate::audit::AuditRules {
            tolerance: args.tolerance,
            strict: args.strict,
            bootstrap: crate::stats::Bootstrap::default(),
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
