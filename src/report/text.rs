//! Number and label formatting shared by the Markdown and HTML reports, so both print the
//! same figure the same way.

use crate::analysis::{Analysis, FigureComparison, TargetFigures};
use crate::results::{RunResults, RunStatus, VerifyStatus};
use crate::stats::Estimate;

/// `12345.6` → `12,346`; `3.14159` with 2 decimals → `3.14`.
pub fn number(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    let text = format!("{:.*}", decimals, value.abs());
    let (int, frac) = match text.split_once('.') {
        Some((int, frac)) => (int.to_string(), Some(frac.to_string())),
        None => (text, None),
    };
    let mut grouped = String::new();
    for (i, digit) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if value < 0.0 && value.abs() >= 0.5 * 10f64.powi(-(decimals as i32)) {
        "-"
    } else {
        ""
    };
    match frac {
        Some(frac) => format!("{sign}{grouped}.{frac}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A median with its interval: `12,345 [12,100, 12,600]`, or `12,345 (1 trial)` when the
/// interval is a point.
pub fn estimate(e: &Estimate, decimals: usize) -> String {
    if e.is_single_trial() {
        format!("{} (1 trial)", number(e.median, decimals))
    } else {
        format!(
            "{} [{}, {}]",
            number(e.median, decimals),
            number(e.ci.low, decimals),
            number(e.ci.high, decimals)
        )
    }
}

/// An optional estimate, `–` when absent.
pub fn maybe_estimate(e: Option<&Estimate>, decimals: usize) -> String {
    e.map_or_else(|| "–".into(), |e| estimate(e, decimals))
}

/// An optional median alone, `–` when absent.
pub fn maybe_median(e: Option<&Estimate>, decimals: usize) -> String {
    e.map_or_else(|| "–".into(), |e| number(e.median, decimals))
}

/// Why a target has no HTTP figures: it failed, it ran the chat workload (whose capacity and
/// fan-out figures `faceoff claims` judges), or it was not measured.
pub fn unmeasured(t: &TargetFigures<'_>) -> String {
    let r = t.result;
    if r.error.is_none() && !r.trials.is_empty() && r.trials.iter().all(|t| t.is_start_only()) {
        return "no load: starts only (see Cold start)".into();
    }
    match (&r.error, r.chat_trials.len()) {
        (Some(error), _) => format!("FAILED: {error}"),
        (None, 0) => "not measured".into(),
        (None, n) => format!(
            "chat workload: {n} trial(s) of capacity or fan-out, in results.json (`chat_trials`)"
        ),
    }
}

/// The mixed-profile table's columns, the same in every format.
pub const MIXED_HEADER: [&str; 7] = [
    "target",
    "window",
    "p99 ms",
    "req/s",
    "× p99 alone",
    "side p99 ms",
    "side req/s",
];

/// The mixed-profile table: one row per target and window, the same figures in every format;
/// empty when no target ran a mixed profile.
pub fn mixed_rows(analysis: &Analysis<'_>) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for t in &analysis.targets {
        let Some(mixed) = &t.mixed else { continue };
        for window in &mixed.windows {
            let label = match &window.side {
                None => "alone".to_string(),
                Some(side) => format!("beside {side} ×{}", window.side_connections),
            };
            rows.push(vec![
                t.result.target.clone(),
                label,
                maybe_estimate(window.main_p99_ms.as_ref(), 1),
                maybe_estimate(window.main_requests_per_sec.as_ref(), 0),
                maybe_estimate(window.p99_ratio.as_ref(), 2),
                maybe_estimate(window.side_p99_ms.as_ref(), 1),
                maybe_estimate(window.side_requests_per_sec.as_ref(), 1),
            ]);
        }
    }
    rows
}

/// What the mixed table's figures mean, under it in every format.
pub const MIXED_NOTE: &str = "Mixed profile (seed 002's event-loop blocking): the run's workload on its connections, alone, then beside each side workload on a few more connections (the first on the server's own thread, the second offloaded to a worker); p99 and req/s are the run's workload's, side figures the side's own requests. × p99 alone: the p99 beside the side over the p99 alone, per trial (blocked_p99_ratio, offloaded_p99_ratio). Medians over trials, 95% intervals in brackets.";

/// What the cold-start table's figures mean, under it in every format.
pub const STARTUP_NOTE: &str = "Cold start: from the container's start (the process's exec, on the local runtime) to the first 200 on GET /status, probed every 10 ms; idle memory read at that moment, before any request of the trial. Medians over starts, 95% intervals in brackets.";

/// An optional size in MiB, `–` when absent.
pub fn maybe_mib(mib: Option<f64>) -> String {
    mib.map_or_else(|| "–".into(), |m| number(m, 1))
}

/// `Express 5.1.0`.
pub fn framework(t: &TargetFigures<'_>) -> String {
    match &t.result.framework_version {
        Some(version) => format!("{} {version}", t.result.framework),
        None => t.result.framework.clone(),
    }
}

pub fn verify_status(status: VerifyStatus) -> &'static str {
    match status {
        VerifyStatus::Passed => "passed",
        VerifyStatus::Failed => "FAILED",
        VerifyStatus::Skipped => "skipped",
        VerifyStatus::NotRun => "not run",
    }
}

pub fn run_status(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Running => "running (unfinished)",
        RunStatus::Complete => "complete",
        RunStatus::Failed => "failed",
        RunStatus::Interrupted => "interrupted",
    }
}

/// `req/s: express is 2.80x fastapi [2.60, 3.00]`, with which way is better.
pub fn comparison(c: &FigureComparison) -> String {
    let better = if c.higher_is_better {
        "higher is better"
    } else {
        "lower is better"
    };
    format!("{} ({better}): {}", c.figure, c.comparison)
}

/// `3 reproduced, 1 contradicted, 28 not-run`.
pub fn verdict_counts(analysis: &Analysis<'_>) -> String {
    analysis
        .verdict_counts()
        .iter()
        .map(|(label, n)| format!("{n} {label}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The title of a report: `express vs fastapi: status workload`.
pub fn title(analysis: &Analysis<'_>) -> String {
    let p = &analysis.results.parameters;
    let names: Vec<&str> = analysis
        .targets
        .iter()
        .map(|t| t.result.target.as_str())
        .collect();
    let names = if names.is_empty() {
        p.targets.join(" vs ")
    } else {
        names.join(" vs ")
    };
    format!("{names}: {} workload, {} profile", p.workload, p.profile)
}

/// `faceoff 0.1.0 (commit 29e894f, dirty)`.
pub fn provenance(analysis: &Analysis<'_>) -> String {
    let m = &analysis.results.manifest;
    let commit = match (&m.git_commit, m.git_dirty) {
        (Some(commit), Some(true)) => format!(" (commit {}, uncommitted changes)", short(commit)),
        (Some(commit), _) => format!(" (commit {})", short(commit)),
        (None, _) => String::new(),
    };
    format!("faceoff {}{commit}", m.faceoff_version)
}

/// The first 12 characters of an id or hash, without a `sha256:` prefix.
pub fn short(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// The host in one line: `Intel Xeon …, 2 CPUs, 23.5 GiB, Linux 6.1.0, Debian 12`.
pub fn host(analysis: &Analysis<'_>) -> String {
    let h = &analysis.results.manifest.host;
    format!(
        "{}, {} CPUs, {} GiB, kernel {}, {}",
        h.cpu_model,
        h.cpus,
        number(h.memory_bytes as f64 / (1u64 << 30) as f64, 1),
        h.kernel,
        h.os
    )
}

/// The engine in one line, or how the targets ran without one.
pub fn engine(analysis: &Analysis<'_>) -> String {
    match &analysis.results.manifest.engine {
        Some(e) => format!(
            "Docker {} (API {}), cgroup v{} ({} driver)",
            e.version, e.api_version, e.cgroup_version, e.cgroup_driver
        ),
        None => format!(
            "no engine: {:?} runtime",
            analysis.results.parameters.runtime
        ),
    }
}

/// The order the targets ran in and the seed that drew it, e.g. `seed 42: express, fastapi |
/// fastapi, express`; `None` for files from before the order was recorded.
pub fn trial_order(analysis: &Analysis<'_>) -> Option<String> {
    let p = &analysis.results.parameters;
    if p.schedule.is_empty() {
        return None;
    }
    let order: Vec<String> = p.schedule.iter().map(|trial| trial.join(", ")).collect();
    let seed = p
        .seed
        .map_or_else(String::new, |seed| format!("seed {seed}: "));
    Some(format!("{seed}{}", order.join(" | ")))
}

/// The command line that produced the file, when recorded.
pub fn command_line(analysis: &Analysis<'_>) -> Option<String> {
    let words = &analysis.results.manifest.command_line;
    (!words.is_empty()).then(|| words.join(" "))
}

/// Where a merged file came from: `merged from 4 files (run-a, run-b, …)`.
pub fn merged_from(analysis: &Analysis<'_>) -> Option<String> {
    let record = analysis.results.merge.as_ref()?;
    let runs: Vec<&str> = record.sources.iter().map(|s| s.run_id.as_str()).collect();
    Some(format!(
        "merged from {} files ({}){}",
        record.sources.len(),
        runs.join(", "),
        if record.allow_mixed {
            " with --allow-mixed"
        } else {
            ""
        }
    ))
}

/// The bootstrap settings behind every interval.
pub fn bootstrap(analysis: &Analysis<'_>) -> String {
    let b = &analysis.bootstrap;
    format!(
        "Intervals are {:.0}% percentile-bootstrap intervals of the median over trials ({} resamples, seed {}).",
        b.confidence * 100.0,
        number(b.resamples as f64, 0),
        b.seed
    )
}

/// One line under the table naming the conditions, so a pasted table keeps its context.
pub fn conditions_line(results: &RunResults) -> String {
    let p = &results.parameters;
    let line = format!(
        "workload {} ({} {}), {} connections{}, {}s after {}s warm-up, {} trial(s); server cpuset {} / {} MiB{}; generator on CPUs {:?}; runtime {:?}",
        p.workload,
        p.method,
        p.path,
        p.connections,
        if p.keep_alive {
            ""
        } else {
            " (a new one per request, no keep-alive)"
        },
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
    text.push_str(&format!("; {}", ours.evidence_text()));
    if !ours.reason.is_empty() {
        text.push_str(&format!("; {}", ours.reason));
    }
    text
}

/// A pair's duet ratio on one line: `fastify / fastapi 3.41x [3.35, 3.47] (±1.7%), 5 duet
/// rounds`, or why there is none.
pub fn duet_line(duet: &crate::analysis::DuetFigures) -> String {
    let pair = format!("{} / {}", duet.a, duet.b);
    match (&duet.ratio, duet.half_width()) {
        (Some(ratio), Some(half)) => {
            let orders = match ratio.by_order {
                Some([a_first, b_first]) => format!(
                    " in both start orders ({} first {a_first:.2}x, {} first {b_first:.2}x)",
                    duet.a, duet.b
                ),
                None => String::new(),
            };
            format!(
                "{pair} req/s {:.2}x [{:.2}, {:.2}] (±{:.1}%), {} duet round(s){orders}, paired",
                ratio.ratio,
                ratio.ci.low,
                ratio.ci.high,
                half * 100.0,
                ratio.rounds.len()
            )
        }
        _ => format!(
            "{pair}: no duet round measured{}",
            duet.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ),
    }
}

/// Each round's ratio, flagged rounds marked: `3.39, 3.44, 2.90 (far), 3.41`.
pub fn duet_rounds(duet: &crate::analysis::DuetFigures) -> String {
    let Some(ratio) = &duet.ratio else {
        return String::new();
    };
    ratio
        .rounds
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if ratio.flagged.contains(&i) {
                format!("{r:.3} (far)")
            } else {
                format!("{r:.3}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(number(12345.6, 0), "12,346");
        assert_eq!(number(1234567.891, 2), "1,234,567.89");
        assert_eq!(number(999.0, 0), "999");
        assert_eq!(number(-1500.0, 0), "-1,500");
        assert_eq!(number(-0.001, 2), "0.00");
        assert_eq!(number(f64::NAN, 2), "–");
    }
}
