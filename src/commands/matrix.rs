//! `faceoff matrix`: the CI matrix of targets as one JSON line.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::MatrixArgs;
use crate::config::Fixtures;

pub fn matrix_command(fixtures: &Fixtures, args: &MatrixArgs) -> Result<ExitCode> {
    let targets = fixtures.select_targets(&args.targets)?;
    if let Some(workload) = &args.workload {
        fixtures.workload(workload)?;
    }
    if let Some(profile) = &args.profile {
        fixtures.profile(profile)?;
    }
    let matrix = crate::matrix::matrix(&targets, args.workload.as_deref(), args.profile.as_deref());
    println!("{}", matrix.to_json_line());
    Ok(ExitCode::SUCCESS)
}
