//! `faceoff claims`: every claim of the registry with its verdict.

use std::process::ExitCode;

use anyhow::Result;

use crate::claims::{Claim, Verdict};
use crate::cli::ClaimsArgs;
use crate::config::Fixtures;
use crate::results;
use crate::stats::Bootstrap;

pub fn claims(fixtures: &Fixtures, args: &ClaimsArgs) -> Result<ExitCode> {
    let registry = crate::claims::Claims::load(&fixtures.root)?;
    let mut runs = Vec::new();
    for path in &args.run {
        let file = if path.is_dir() {
            path.join("results.json")
        } else {
            path.clone()
        };
        let run = results::read_finished(&file)?;
        if let Some(warning) = crate::merge::mixed_warning(&run, &file.display().to_string()) {
            eprintln!("warning: {warning}");
        }
        runs.push(run);
    }
    let bootstrap = crate::stats::Bootstrap {
        seed: args.seed,
        ..Default::default()
    };
    let verdicts = registry.verdicts(&runs, &bootstrap);
    if args.json {
        let document = ClaimsDocument {
            bootstrap,
            runs: runs.iter().map(|r| r.run_id.as_str()).collect(),
            claims: verdicts
                .iter()
                .map(|(claim, verdict)| ClaimVerdict { claim, verdict })
                .collect(),
        };
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        println!("{}", crate::console::claims_table(&verdicts));
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
        if runs.is_empty() {
            println!(
                "to judge every claim this host can judge: faceoff claims --reproduce (--plan-only shows the runs first)"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `faceoff claims --json`: the resampling behind the intervals, the runs judged, and every
/// claim beside its verdict.
#[derive(Debug, serde::Serialize)]
pub struct ClaimsDocument<'a> {
    pub bootstrap: Bootstrap,
    pub runs: Vec<&'a str>,
    pub claims: Vec<ClaimVerdict<'a>>,
}

/// One claim as the registry states it, and faceoff's verdict on it.
#[derive(Debug, serde::Serialize)]
pub struct ClaimVerdict<'a> {
    pub claim: &'a Claim,
    pub verdict: &'a Verdict,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_json_document_lists_every_claim_with_its_verdict_and_the_runs_judged() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let registry = crate::claims::Claims::load(root).unwrap();
        let runs = vec![crate::analysis::test_support::fixture_results()];
        let bootstrap = Bootstrap::default();
        let verdicts = registry.verdicts(&runs, &bootstrap);
        let document = ClaimsDocument {
            bootstrap,
            runs: runs.iter().map(|r| r.run_id.as_str()).collect(),
            claims: verdicts
                .iter()
                .map(|(claim, verdict)| ClaimVerdict { claim, verdict })
                .collect(),
        };
        let json = serde_json::to_value(&document).unwrap();
        assert_eq!(json["runs"][0], runs[0].run_id.as_str());
        assert_eq!(json["bootstrap"]["seed"], bootstrap.seed);
        let claims = json["claims"].as_array().unwrap();
        assert_eq!(claims.len(), verdicts.len());
        assert!(
            claims
                .iter()
                .all(|c| c["claim"]["id"].is_string() && c["verdict"]["verdict"].is_string())
        );
    }
}
