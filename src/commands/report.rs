//! `faceoff report`: a results file in one of the report formats.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::ReportArgs;
use crate::config::Fixtures;
use crate::results;

pub fn report_command(fixtures: &Fixtures, args: &ReportArgs) -> Result<ExitCode> {
    let file = if args.results.is_dir() {
        args.results.join("results.json")
    } else {
        args.results.clone()
    };
    // A newer schema is refused by `read`; a running or failed run still gets its report.
    let results = results::read(&file)?;
    let claims = crate::claims::Claims::load(&fixtures.root)?;
    let bootstrap = crate::stats::Bootstrap {
        seed: args.seed,
        ..Default::default()
    };
    let analysis = crate::analysis::Analysis::new(&results, &claims, bootstrap);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use crate::commands::test_support::*;

    #[test]
    fn a_results_file_from_a_newer_schema_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let mut results: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
        results["schema_version"] = serde_json::json!(results::SCHEMA_VERSION + 1);
        let path = dir.path().join("results.json");
        std::fs::write(&path, results.to_string()).unwrap();
        let Command::Report(args) = command(&["report", path.to_str().unwrap()]) else {
            unreachable!()
        };
        let err = report_command(&fixtures(), &args).unwrap_err().to_string();
        assert!(
            err.contains("newer") && err.contains("schema version"),
            "{err}"
        );
    }
}
