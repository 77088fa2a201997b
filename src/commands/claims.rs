//! `faceoff claims`: every claim of the registry with its verdict.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::ClaimsArgs;
use crate::config::Fixtures;
use crate::results;

pub fn claims(fixtures: &Fixtures, args: &ClaimsArgs) -> Result<ExitCode> {
    let registry = crate::claims::Claims::load(&fixtures.root)?;
    let mut runs = Vec::new();
    for path in &args.run {
        let file = if path.is_dir() {
            path.join("results.json")
        } else {
            path.clone()
        };
        let run = results::read(&file)?;
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
        let listed: Vec<serde_json::Value> = verdicts
            .iter()
            .map(|(claim, verdict)| {
                serde_json::json!({
                    "claim": claim,
                    "verdict": verdict,
                })
            })
            .collect();
        let document = serde_json::json!({
            "bootstrap": {"seed": bootstrap.seed, "resamples": bootstrap.resamples, "confidence": bootstrap.confidence},
            "runs": runs.iter().map(|r| r.run_id.clone()).collect::<Vec<_>>(),
            "claims": listed,
        });
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
    }
    Ok(ExitCode::SUCCESS)
}
