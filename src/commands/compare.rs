//! `faceoff compare`: a regression gate between a baseline and a current results file.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::CompareArgs;
use crate::results;

use super::results_file;

pub fn compare_command(args: &CompareArgs) -> Result<ExitCode> {
    let baseline = results::read_finished(&results_file(&args.baseline))?;
    let current = results::read_finished(&results_file(&args.current))?;
    let bootstrap = crate::stats::Bootstrap {
        seed: args.seed,
        ..Default::default()
    };
    for (results, path) in [(&baseline, &args.baseline), (&current, &args.current)] {
        if let Some(warning) = crate::merge::mixed_warning(results, &path.display().to_string()) {
            eprintln!("warning: {warning}");
        }
    }
    let comparison = crate::compare::compare(&baseline, &current, args.max_regression, &bootstrap);
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
    Ok(super::gate_exit(comparison.gate()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use crate::commands::test_support::*;

    #[test]
    fn a_missing_baseline_is_named_in_the_error() {
        let Command::Compare(args) = command(&["compare", "/nonexistent/base.json", FIXTURE])
        else {
            unreachable!()
        };
        let err = compare_command(&args).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/base.json"), "{err}");
    }
}
