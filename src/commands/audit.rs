//! `faceoff audit`: re-runs a published results file with its recorded parameters and judges whether it still holds.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;

use crate::cli::{AuditArgs, Cli, Command};
use crate::config::Fixtures;
use crate::results;
use crate::run::{self, Ui};
use crate::runtime::{self as rt};

use super::{EXIT_INTERRUPTED, Selected, results_file, with_runtime};

pub async fn audit_command(fixtures: &Fixtures, args: &AuditArgs, ui: Ui) -> Result<ExitCode> {
    let file = results_file(&args.results);
    let original = results::read_finished(&file)?;
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
    let mut run_args = replay_args(&audit.run_args)?;
    run_args.build = args.build.clone();
    ui.step(&format!(
        "audit of {}: {}",
        original.run_id,
        audit.run_args.join(" ")
    ));
    let selected = Selected::new(original.parameters.runtime, fixtures, &args.build).await?;
    let engine = selected.engine().await;
    let code = with_runtime!(selected, runtime => {
        super::run::run_command(&runtime, fixtures, &run_args, engine, ui).await?
    });
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
    Ok(super::gate_exit(report.gate))
}

/// The re-run's arguments: the recorded parameters as the `faceoff run` command line the
/// audit prints, parsed like a user's, so what is shown is exactly what runs.
fn replay_args(line: &[String]) -> Result<Box<crate::cli::RunArgs>> {
    let replay = || format!("cannot replay `{}`", line.join(" "));
    match Cli::try_parse_from(line).with_context(replay)?.command {
        Command::Run(args) => Ok(args),
        _ => bail!("{}: not a run", replay()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_recorded_run_replays_as_the_same_run_arguments() {
        let fixtures = Fixtures::load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let mut original = crate::analysis::test_support::fixture_results();
        original.parameters.duration_s = 2.5;
        original.parameters.seed = Some(7);
        let audit = crate::audit::plan(&original, "a.json", &fixtures, Path::new("/tmp/x"), 2)
            .expect("a finished run plans");
        let args = replay_args(&audit.run_args).expect("the CLI reads the replay line");
        let p = &original.parameters;
        assert_eq!(args.targets, p.targets);
        assert_eq!(args.workload, p.workload);
        assert_eq!(args.profile, p.profile);
        assert_eq!(args.seed, Some(7));
        assert_eq!(args.trials, Some(p.trials));
        assert_eq!(args.connections, Some(p.connections as u32));
        assert_eq!(args.duration, Some(Duration::from_millis(2500)));
        assert_eq!(args.limits.cpuset, p.limits.cpuset);
        assert_eq!(args.limits.memory, p.limits.memory_bytes);
        assert_eq!(args.out, Path::new("/tmp/x"));
        assert_eq!(args.skip_verify, !p.verified);
    }

    #[test]
    fn a_line_that_is_not_a_run_is_refused_with_the_line() {
        let line: Vec<String> = ["faceoff", "list"].iter().map(|s| s.to_string()).collect();
        let err = replay_args(&line).unwrap_err().to_string();
        assert!(
            err.contains("faceoff list") && err.contains("not a run"),
            "{err}"
        );
    }
}
