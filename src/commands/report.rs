//! `faceoff report`: a results file in one of the report formats.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::cli::ReportArgs;
use crate::config::Fixtures;
use crate::results;

pub fn report_command(fixtures: &Fixtures, args: &ReportArgs) -> Result<ExitCode> {
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
