//! Presentation of results. Only reads [`RunResults`]; never measures.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, Table};

use crate::results::{RunResults, TargetStatus, TrialResult};
use crate::stats::median;

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

/// One line under the table naming the conditions, so a pasted table keeps its context.
pub fn conditions_line(results: &RunResults) -> String {
    let p = &results.parameters;
    let line = format!(
        "workload {} ({} {}), {} connections, {}s after {}s warm-up, {} trial(s); server cpuset {} / {} MiB{}; generator on CPUs {:?}; runtime {:?}",
        p.workload,
        p.method,
        p.path,
        p.connections,
        p.duration_s,
        p.warmup_s,
        p.trials,
        p.limits.cpuset,
        p.limits.memory_bytes / (1024 * 1024),
        if p.memory_limit_enforced {
            ""
        } else {
            " (not enforced)"
        },
        p.generator_cpus,
        p.runtime,
    );
    // Services (a database, the hybrid pair's realtime service) with their own limits.
    let services: Vec<String> = results
        .services
        .iter()
        .map(|s| {
            format!(
                "{} on cpuset {} / {} MiB",
                s.name,
                s.limits.cpuset,
                s.limits.memory_bytes / (1024 * 1024)
            )
        })
        .collect();
    if services.is_empty() {
        line
    } else {
        format!("{line}; {}", services.join(", "))
    }
}

pub mod chat;
pub mod export;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod svg;
pub mod sweep;
#[cfg(test)]
pub(crate) mod test_support;
pub mod text;
pub mod wrk;

pub use export::{ExportError, Exporter, Format};

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

/// faceoff's side of a verdict as one line, or why the claim was not run.
pub fn ours_or_why(verdict: &crate::claims::Verdict) -> String {
    match (verdict.ours(), verdict.why()) {
        (Some(ours), _) => ours_text(ours),
        (None, Some(why)) => why.to_string(),
        (None, None) => String::new(),
    }
}

fn quoted_text(quoted: crate::claims::Quoted) -> String {
    match quoted {
        crate::claims::Quoted::Single(v) => format!("{v}"),
        crate::claims::Quoted::Range([low, high]) => format!("{low}-{high}"),
    }
}

/// The article's side of a verdict as one line.
pub fn theirs_text(theirs: &crate::claims::Theirs) -> String {
    let unit = theirs.unit.as_deref().unwrap_or("");
    let mut text = match (&theirs.b, theirs.a_value, theirs.b_value) {
        (Some(b), Some(av), Some(bv)) => format!("{} {av} vs {b} {bv} {unit}", theirs.a),
        (Some(b), _, _) => format!("{} vs {b}", theirs.a),
        (None, Some(av), _) => format!("{} {av} {unit}", theirs.a),
        (None, None, _) => theirs.a.clone(),
    };
    if let Some(ratio) = theirs.ratio {
        let winner = theirs.winner.as_deref().unwrap_or("");
        text.push_str(&format!("; {winner} {}x", quoted_text(ratio)));
    }
    if let Some(value) = theirs.value {
        text.push_str(&format!("; {} {unit}", quoted_text(value)));
    }
    if let Some(at_least) = theirs.at_least {
        text.push_str(&format!("; at least {at_least} {unit}"));
    }
    text.trim().to_string()
}

/// faceoff's side of a verdict as one line: medians, the judged figure and its interval.
pub fn ours_text(ours: &crate::claims::Ours) -> String {
    let unit = ours.metric.unit();
    let mut text = match &ours.b {
        Some(b) => format!("{:.4} vs {:.4} {unit}", ours.a.median, b.median),
        None => format!("{:.4} {unit}", ours.a.median),
    };
    text.push_str(&format!(
        "; judged {:.2} [{:.2}, {:.2}]",
        ours.judged, ours.judged_ci.low, ours.judged_ci.high
    ));
    if ours.single_trial {
        text.push_str(" (single trial)");
    }
    if !ours.outliers.is_empty() {
        text.push_str(&format!("; {} outlier trial(s) kept", ours.outliers.len()));
    }
    text
}

/// Throughput comparisons of the fastest target with each other one, as "A is 2.80x B
/// [2.60, 3.00]" or "no difference detected", from the trials' req/s.
pub fn throughput_comparisons(
    results: &RunResults,
    bootstrap: &crate::stats::Bootstrap,
) -> Vec<String> {
    let rps = |t: &crate::results::TargetResult| -> Vec<f64> {
        t.trials
            .iter()
            .map(|trial| trial.requests_per_sec)
            .collect()
    };
    let measured: Vec<_> = results
        .targets
        .iter()
        .filter(|t| !t.trials.is_empty())
        .collect();
    let Some(fastest) = measured.iter().max_by(|a, b| {
        median(&rps(a))
            .unwrap_or(0.0)
            .total_cmp(&median(&rps(b)).unwrap_or(0.0))
    }) else {
        return Vec::new();
    };
    measured
        .iter()
        .filter(|t| t.target != fastest.target)
        .filter_map(|t| {
            crate::stats::Comparison::new(
                &fastest.target,
                &rps(fastest),
                &t.target,
                &rps(t),
                bootstrap,
            )
        })
        .map(|comparison| format!("req/s: {comparison}"))
        .collect()
}

/// Warnings for trials whose req/s is far from the same target's other trials (kept in
/// every figure, as hyperfine keeps its outliers).
pub fn outlier_warnings(results: &RunResults) -> Vec<String> {
    let mut warnings = Vec::new();
    for target in &results.targets {
        let rps: Vec<f64> = target.trials.iter().map(|t| t.requests_per_sec).collect();
        for outlier in crate::stats::outliers(&rps, crate::stats::OUTLIER_THRESHOLD) {
            warnings.push(format!(
                "{}: trial {} ran at {:.0} req/s, far from its other trials (modified z-score {:.1}); the host may have been busy. Kept in every figure.",
                target.target,
                outlier.index + 1,
                outlier.value,
                outlier.score
            ));
        }
    }
    warnings
}
