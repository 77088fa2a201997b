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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use crate::commands::test_support::*;

    #[test]
    fn an_unknown_workload_is_refused_before_any_matrix_is_printed() {
        let Command::Matrix(args) = command(&["matrix", "--workload", "nope"]) else {
            unreachable!()
        };
        let err = matrix_command(&fixtures(), &args).unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
    }
}
