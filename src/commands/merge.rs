//! `faceoff merge`: joins the results files of separate jobs into one.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::MergeArgs;
use crate::results;
use crate::run;

use super::results_file;

pub fn merge_command(args: &MergeArgs) -> Result<ExitCode> {
    let mut sources = Vec::new();
    for path in &args.files {
        let file = results_file(path);
        sources.push(crate::merge::Source {
            label: file.display().to_string(),
            results: results::read(&file)?,
        });
    }
    let run_id = format!("merged-{}", run::new_run_id());
    let merged = crate::merge::merge(&sources, &run_id, args.allow_mixed)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use crate::commands::test_support::*;

    #[test]
    fn one_file_alone_is_not_merged() {
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join("merged.json");
        let Command::Merge(args) = command(&["merge", FIXTURE, "--out", target.to_str().unwrap()])
        else {
            unreachable!()
        };
        let err = merge_command(&args).unwrap_err().to_string();
        assert!(err.contains("two or more"), "{err}");
        assert!(!target.exists());
    }
}
