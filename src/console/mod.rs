//! What faceoff prints on the terminal: the tables after a run, a verify or a claims
//! command, and the lines for sweeps, chat runs and the generator's calibration. Reads
//! results and analyses only; the report files are in [`crate::report`].

pub mod chat;
pub mod sweep;
pub mod wrk;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};

use crate::analysis::Analysis;
use crate::report::text::{ours_or_why, theirs_text};
use crate::results::{RunResults, TargetStatus, TrialResult};
use crate::stats::median;

pub use crate::report::text::conditions_line;

/// The summary table printed at the end of `faceoff run`: one row per target, medians over
/// its trials.
pub fn summary_table(results: &RunResults) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "target",
        "framework",
        "runtime",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "errors",
        "peak MiB",
        "CPU %",
    ]);
    for target in &results.targets {
        let framework = match &target.framework_version {
            Some(version) => format!("{} {version}", target.framework),
            None => target.framework.clone(),
        };
        let runtime = target.runtime_version.clone().unwrap_or_default();
        if target.status == TargetStatus::Failed && target.trials.is_empty() {
            let error = target.error.clone().unwrap_or_default();
            let short: String = error.chars().take(60).collect();
            table.add_row(vec![
                target.target.clone(),
                framework,
                runtime,
                format!("FAILED: {short}"),
            ]);
            continue;
        }
        if !target.trials.is_empty() && target.trials.iter().all(|t| t.is_start_only()) {
            table.add_row(vec![
                target.target.clone(),
                framework,
                runtime,
                "no load: starts only (cold start below)".into(),
            ]);
            continue;
        }
        let med = |f: fn(&TrialResult) -> f64| {
            median(&target.trials.iter().map(f).collect::<Vec<_>>()).unwrap_or(0.0)
        };
        let errors: u64 = target.trials.iter().map(|t| t.errors.total()).sum();
        table.add_row(vec![
            target.target.clone(),
            framework,
            runtime,
            format!("{:.0}", med(|t| t.requests_per_sec)),
            format!("{:.2}", med(|t| t.latency.p50_ms)),
            format!("{:.2}", med(|t| t.latency.p90_ms)),
            format!("{:.2}", med(|t| t.latency.p99_ms)),
            format!("{:.2}", med(|t| t.latency.max_ms)),
            errors.to_string(),
            format!(
                "{:.1}",
                med(|t| t.resources.peak_memory_bytes as f64) / (1024.0 * 1024.0)
            ),
            format!("{:.0}", med(|t| t.resources.mean_cpu_percent)),
        ]);
    }
    for index in 3..11 {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

/// The verification table: one row per case, one column per target, `pass` or `FAIL`.
pub fn verify_table(report: &crate::verify::VerifyReport) -> Table {
    let mut table = Table::new();
    let mut header = vec!["case".to_string()];
    header.extend(report.targets.iter().map(|t| t.target.clone()));
    table.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    let mut ids: Vec<&str> = Vec::new();
    for target in &report.targets {
        for case in &target.cases {
            if !ids.contains(&case.id.as_str()) {
                ids.push(&case.id);
            }
        }
    }
    for id in ids {
        let mut row = vec![id.to_string()];
        for target in &report.targets {
            row.push(match target.cases.iter().find(|c| c.id == id) {
                Some(case) if case.passed => "pass".into(),
                Some(_) => "FAIL".into(),
                None if target.error.is_some() => "not run".into(),
                None => "-".into(),
            });
        }
        table.add_row(row);
    }
    table
}

/// The claims table: one row per claim, theirs beside ours, and the verdict.
pub fn claims_table(verdicts: &[(&crate::claims::Claim, crate::claims::Verdict)]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(["claim", "theirs (other hardware)", "ours", "verdict"]);
    // Wrap to the terminal, or to a width that reads well in a CI log.
    if table.width().is_none() {
        table.set_width(160);
    }
    for (claim, verdict) in verdicts {
        let ours = ours_or_why(verdict);
        table.add_row([
            claim.id.clone(),
            theirs_text(verdict.theirs()),
            ours,
            verdict.label().to_string(),
        ]);
    }
    table
}

/// Throughput comparisons of the fastest target with each other one, as "A is 2.80x B
/// [2.60, 3.00]" or "no difference detected": the report's comparisons, on the terminal.
pub fn throughput_comparisons(analysis: &Analysis<'_>) -> Vec<String> {
    analysis
        .comparisons
        .iter()
        .filter(|c| c.figure == "req/s")
        .map(|c| format!("req/s: {}", c.comparison))
        .collect()
}

/// The cold-start table: one row per target that recorded its starts, the same figures as
/// the reports' ("Cold start"); `None` when none did.
pub fn startup_table(analysis: &Analysis<'_>) -> Option<Table> {
    use crate::report::text::{estimate, maybe_estimate, maybe_mib};
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "target",
        "from",
        "starts",
        "cold start ms",
        "idle MiB",
        "image MiB",
    ]);
    let mut any = false;
    for t in &analysis.targets {
        let Some(s) = &t.startup else { continue };
        any = true;
        table.add_row(vec![
            t.result.target.clone(),
            s.from.label().to_string(),
            s.starts.to_string(),
            estimate(&s.cold_start_ms, 0),
            maybe_estimate(s.idle_memory_mib.as_ref(), 1),
            maybe_mib(s.image_size_mib),
        ]);
    }
    for index in 2..6 {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    any.then_some(table)
}

/// The mixed-profile table, the same figures as the reports' ("Mixed load"); `None` when no
/// target ran a mixed profile.
pub fn mixed_table(analysis: &Analysis<'_>) -> Option<Table> {
    let rows = crate::report::text::mixed_rows(analysis);
    if rows.is_empty() {
        return None;
    }
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(crate::report::text::MIXED_HEADER);
    for row in rows {
        table.add_row(row);
    }
    for index in 2..7 {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    Some(table)
}

/// One line per pair measured in duet rounds.
pub fn duet_lines(analysis: &Analysis<'_>) -> Vec<String> {
    analysis
        .duets
        .iter()
        .map(|d| format!("duet: {}", crate::report::text::duet_line(d)))
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::analysis::test_support::{analysis_of, cold_start_results, fixture_results};

    #[test]
    fn the_cold_start_table_shows_each_targets_starts_and_only_when_recorded() {
        let table = analysis_of(&cold_start_results(300.0), |a| {
            super::startup_table(a).map(|t| t.to_string())
        })
        .expect("a table");
        assert!(
            table.contains("container start") && table.contains("40.0"),
            "{table}"
        );
        assert!(analysis_of(&fixture_results(), |a| super::startup_table(a).is_none()));
        let summary = super::summary_table(&cold_start_results(300.0)).to_string();
        assert!(summary.contains("no load: starts only"), "{summary}");
    }
}
