//! `faceoff compare`: a baseline results file against a current one, figure by figure (req/s,
//! p99 latency, peak memory, per target), with bootstrap intervals from [`crate::stats`], and
//! a regression verdict CI can fail the build on.
//!
//! A figure has *regressed* when it got worse beyond both its interval (the 95% interval of
//! current/baseline leaves out 1 on the worse side) and the threshold (the median change is
//! worse than `--max-regression`). Noise alone, or a small real change, never fails a build.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::results::{RunResults, TargetResult, TargetStatus};
use crate::stats::{Bootstrap, Estimate, RatioEstimate, median_ci, ratio_ci};

/// A figure compared between runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    /// Requests per second of each trial.
    RequestsPerSec,
    /// p99 latency of each trial, in milliseconds.
    P99Ms,
    /// Peak memory of the target during each trial, in bytes.
    PeakMemoryBytes,
}

impl Figure {
    /// Every figure, in the order they are shown.
    pub const ALL: [Figure; 3] = [
        Figure::RequestsPerSec,
        Figure::P99Ms,
        Figure::PeakMemoryBytes,
    ];

    /// The figure's name as shown to users.
    pub fn label(self) -> &'static str {
        match self {
            Figure::RequestsPerSec => "req/s",
            Figure::P99Ms => "p99",
            Figure::PeakMemoryBytes => "memory",
        }
    }

    /// Whether a larger figure is better (throughput) or worse (latency, memory).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Figure::RequestsPerSec)
    }

    /// The figure of every trial of `target`.
    pub fn values(self, target: &TargetResult) -> Vec<f64> {
        target
            .trials
            .iter()
            .map(|trial| match self {
                Figure::RequestsPerSec => trial.requests_per_sec,
                Figure::P99Ms => trial.latency.p99_ms,
                Figure::PeakMemoryBytes => trial.resources.peak_memory_bytes as f64,
            })
            .collect()
    }

    /// A value of this figure in its display unit.
    pub fn format(self, value: f64) -> String {
        match self {
            Figure::RequestsPerSec => format!("{value:.0}"),
            Figure::P99Ms => format!("{value:.2} ms"),
            Figure::PeakMemoryBytes => format!("{:.1} MiB", value / 1_048_576.0),
        }
    }

    /// An estimate as `median [low, high]` in the display unit.
    pub fn format_estimate(self, estimate: &Estimate) -> String {
        format!(
            "{} [{}, {}]",
            self.format(estimate.median),
            self.format(estimate.ci.low),
            self.format(estimate.ci.high)
        )
    }
}

/// What became of one figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// Worse beyond its interval and beyond the threshold: fails the comparison.
    Regressed,
    /// Worse beyond its interval, but by less than the threshold.
    WorseWithinThreshold,
    /// The interval of the change holds 1: no change detected.
    Unchanged,
    /// Better beyond its interval.
    Improved,
    /// The target was measured in the baseline but failed in the current run: fails too.
    Failed { why: String },
    /// Nothing to compare, and why (not in one of the files, or no trials in the baseline).
    NotCompared { why: String },
}

impl Outcome {
    /// The outcome's name as shown to users.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Regressed => "REGRESSED",
            Outcome::WorseWithinThreshold => "worse, within threshold",
            Outcome::Unchanged => "no change detected",
            Outcome::Improved => "improved",
            Outcome::Failed { .. } => "FAILED",
            Outcome::NotCompared { .. } => "not compared",
        }
    }

    /// Whether this outcome fails the comparison.
    pub fn fails(&self) -> bool {
        matches!(self, Outcome::Regressed | Outcome::Failed { .. })
    }
}

/// One figure of one target, baseline against current.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureComparison {
    pub target: String,
    pub figure: Figure,
    pub baseline: Option<Estimate>,
    pub current: Option<Estimate>,
    /// current / baseline, with its interval.
    pub change: Option<RatioEstimate>,
    pub outcome: Outcome,
}

impl FigureComparison {
    /// How much worse the figure got, as a fraction (negative when it got better).
    pub fn worsening(&self) -> Option<f64> {
        self.change
            .map(|c| worsening(self.figure, c.ratio))
            .filter(|w| w.is_finite())
    }
}

/// `ratio` (current / baseline) as a fraction worse: 0.1 is 10% worse.
fn worsening(figure: Figure, ratio: f64) -> f64 {
    if figure.higher_is_better() {
        1.0 - ratio
    } else {
        ratio - 1.0
    }
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub baseline_run: String,
    pub current_run: String,
    /// The threshold, as a fraction (0.05 for `5%`).
    pub max_regression: f64,
    pub bootstrap: Bootstrap,
    pub figures: Vec<FigureComparison>,
    /// How the two runs' hosts and parameters differ (see [`crate::merge::differences`]):
    /// figures from different conditions may differ for that reason alone.
    pub differences: Vec<crate::results::Difference>,
}

impl Comparison {
    /// Whether any figure regressed or any target failed.
    pub fn failed(&self) -> bool {
        self.figures.iter().any(|f| f.outcome.fails())
    }
}

/// Compares every figure of every target of `baseline` with `current`.
pub fn compare(
    baseline: &RunResults,
    current: &RunResults,
    max_regression: f64,
    bootstrap: &Bootstrap,
) -> Comparison {
    let mut figures = Vec::new();
    let mut names: Vec<&str> = baseline.targets.iter().map(|t| t.target.as_str()).collect();
    for target in &current.targets {
        if !names.contains(&target.target.as_str()) {
            names.push(&target.target);
        }
    }
    for name in names {
        let before = baseline.targets.iter().find(|t| t.target == name);
        let after = current.targets.iter().find(|t| t.target == name);
        for figure in Figure::ALL {
            figures.push(compare_figure(
                name,
                figure,
                before,
                after,
                max_regression,
                bootstrap,
            ));
        }
    }
    Comparison {
        baseline_run: baseline.run_id.clone(),
        current_run: current.run_id.clone(),
        max_regression,
        bootstrap: *bootstrap,
        figures,
        differences: crate::merge::differences(baseline, current),
    }
}

fn compare_figure(
    name: &str,
    figure: Figure,
    before: Option<&TargetResult>,
    after: Option<&TargetResult>,
    max_regression: f64,
    bootstrap: &Bootstrap,
) -> FigureComparison {
    let estimate =
        |t: Option<&TargetResult>| t.and_then(|t| median_ci(&figure.values(t), bootstrap));
    let mut comparison = FigureComparison {
        target: name.to_string(),
        figure,
        baseline: estimate(before),
        current: estimate(after),
        change: None,
        outcome: Outcome::Unchanged,
    };
    let not_compared = |why: &str| Outcome::NotCompared { why: why.into() };
    comparison.outcome = match (before, after) {
        (None, _) => not_compared("not in the baseline"),
        (Some(_), None) => not_compared("not in the current run"),
        (Some(_), Some(_)) if comparison.baseline.is_none() => {
            not_compared("no trials in the baseline")
        }
        (Some(_), Some(after))
            if after.status == TargetStatus::Failed || comparison.current.is_none() =>
        {
            Outcome::Failed {
                why: after
                    .error
                    .clone()
                    .unwrap_or_else(|| "no trials in the current run".into()),
            }
        }
        (Some(before), Some(after)) => {
            match ratio_ci(&figure.values(after), &figure.values(before), bootstrap) {
                None => not_compared("the baseline figure is zero"),
                Some(change) => {
                    comparison.change = Some(change);
                    judge(figure, &change, max_regression)
                }
            }
        }
    };
    comparison
}

/// The outcome of a change `current / baseline` with its interval.
fn judge(figure: Figure, change: &RatioEstimate, max_regression: f64) -> Outcome {
    // The interval's ends as "fraction worse"; for a lower-is-better figure they swap.
    let (least_worse, most_worse) = {
        let (a, b) = (
            worsening(figure, change.ci.low),
            worsening(figure, change.ci.high),
        );
        (a.min(b), a.max(b))
    };
    if least_worse > 0.0 {
        if worsening(figure, change.ratio) > max_regression {
            Outcome::Regressed
        } else {
            Outcome::WorseWithinThreshold
        }
    } else if most_worse < 0.0 {
        Outcome::Improved
    } else {
        Outcome::Unchanged
    }
}

/// Parses `5%`, `5` (also percent) or `0.5%` into a fraction.
pub fn parse_threshold(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    let percent: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a percentage (e.g. 5%)"))?;
    if !(0.0..100.0).contains(&percent) {
        return Err(format!(
            "`{text}` is out of range: give a percentage from 0% to below 100%"
        ));
    }
    Ok(percent / 100.0)
}

impl fmt::Display for Comparison {
    /// A table: one line per figure, then a summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut table = comfy_table::Table::new();
        table
            .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
            .set_header([
                "target",
                "figure",
                "baseline [95% CI]",
                "current [95% CI]",
                "change [95% CI]",
                "outcome",
            ]);
        for row in &self.figures {
            let show = |e: &Option<Estimate>| {
                e.as_ref()
                    .map(|e| row.figure.format_estimate(e))
                    .unwrap_or_else(|| "-".into())
            };
            let change = row
                .change
                .map(|c| {
                    format!(
                        "{:+.1}% [{:+.1}%, {:+.1}%]{}",
                        (c.ratio - 1.0) * 100.0,
                        (c.ci.low - 1.0) * 100.0,
                        (c.ci.high - 1.0) * 100.0,
                        if c.is_single_trial() {
                            " (single trial)"
                        } else {
                            ""
                        }
                    )
                })
                .unwrap_or_else(|| "-".into());
            let outcome = match &row.outcome {
                Outcome::Failed { why } | Outcome::NotCompared { why } => {
                    format!("{}: {why}", row.outcome.label())
                }
                other => other.label().to_string(),
            };
            table.add_row([
                row.target.clone(),
                row.figure.label().to_string(),
                show(&row.baseline),
                show(&row.current),
                change,
                outcome,
            ]);
        }
        writeln!(f, "{table}")?;
        let failing = self.figures.iter().filter(|r| r.outcome.fails()).count();
        write!(
            f,
            "{} figure(s) compared, {failing} regressed beyond their interval and {:.1}% (baseline {}, current {}; bootstrap seed {})",
            self.figures.len(),
            self.max_regression * 100.0,
            self.baseline_run,
            self.current_run,
            self.bootstrap.seed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A target's req/s, p99 (ms) and peak memory (MiB) per trial.
    type Figures<'a> = (&'a str, &'a [f64], &'a [f64], &'a [f64]);

    /// A run of targets with these figures.
    fn run(id: &str, targets: &[Figures]) -> RunResults {
        let targets: Vec<serde_json::Value> = targets
            .iter()
            .map(|(name, rps, p99, mib)| {
                let trials: Vec<serde_json::Value> = (0..rps.len())
                    .map(|i| {
                        serde_json::json!({
                            "trial": i + 1, "requests": 1000, "duration_s": 1.0,
                            "requests_per_sec": rps[i],
                            "latency": {"p50_ms": 1.0, "p75_ms": 1.0, "p90_ms": 1.0,
                                "p99_ms": p99[i], "p999_ms": 1.0, "max_ms": 1.0,
                                "mean_ms": 1.0, "stdev_ms": 0.1},
                            "status_counts": {}, "errors": {"connect": 0, "timeout": 0,
                                "io": 0, "non_success": 0},
                            "bytes_received": 0, "per_second": [], "warmup_requests": 0,
                            "warmup_errors": 0, "connections_opened": 1,
                            "resources": {"peak_memory_bytes": (mib[i] * 1048576.0) as u64,
                                "mean_memory_bytes": 0, "peak_cpu_percent": 0.0,
                                "mean_cpu_percent": 0.0, "samples": []},
                            "generator_cpu_percent": 0.0
                        })
                    })
                    .collect();
                serde_json::json!({
                    "target": name, "language": "node", "framework": name,
                    "framework_version": null, "server": "s", "runtime_version": null,
                    "lockfile_sha256": null, "image": null, "status": "ok", "error": null,
                    "trials": trials
                })
            })
            .collect();
        let mut results = crate::merge::tests::job("x", 1);
        results.run_id = id.into();
        results.targets = serde_json::from_value(serde_json::Value::Array(targets)).unwrap();
        results
    }

    fn outcome(c: &Comparison, target: &str, figure: Figure) -> Outcome {
        c.figures
            .iter()
            .find(|f| f.target == target && f.figure == figure)
            .map(|f| f.outcome.clone())
            .unwrap()
    }

    const RPS: &[f64] = &[10_000.0, 10_100.0, 9_900.0, 10_050.0, 9_950.0];
    const P99: &[f64] = &[4.0, 4.1, 3.9, 4.05, 3.95];
    const MIB: &[f64] = &[60.0, 60.5, 59.5, 60.2, 59.8];

    #[test]
    fn the_same_figures_show_no_change_and_pass() {
        let base = run("a", &[("express", RPS, P99, MIB)]);
        let c = compare(&base, &base, 0.05, &Bootstrap::default());
        assert_eq!(c.figures.len(), 3);
        assert!(c.figures.iter().all(|f| f.outcome == Outcome::Unchanged));
        assert!(!c.failed());
        assert!(c.differences.is_empty());
    }

    #[test]
    fn throughput_down_20_percent_beyond_noise_regresses() {
        let base = run("a", &[("express", RPS, P99, MIB)]);
        let slower: Vec<f64> = RPS.iter().map(|v| v * 0.8).collect();
        let current = run("b", &[("express", &slower, P99, MIB)]);
        let c = compare(&base, &current, 0.05, &Bootstrap::default());
        assert_eq!(
            outcome(&c, "express", Figure::RequestsPerSec),
            Outcome::Regressed
        );
        assert_eq!(outcome(&c, "express", Figure::P99Ms), Outcome::Unchanged);
        assert!(c.failed());
        let row = &c.figures[0];
        assert!((row.worsening().unwrap() - 0.2).abs() < 1e-9);
    }

    #[test]
    fn a_real_change_smaller_than_the_threshold_passes() {
        let base = run("a", &[("express", RPS, P99, MIB)]);
        let slower: Vec<f64> = RPS.iter().map(|v| v * 0.97).collect();
        let current = run("b", &[("express", &slower, P99, MIB)]);
        let c = compare(&base, &current, 0.05, &Bootstrap::default());
        assert_eq!(
            outcome(&c, "express", Figure::RequestsPerSec),
            Outcome::WorseWithinThreshold
        );
        assert!(!c.failed());
    }

    #[test]
    fn latency_and_memory_regress_upwards_and_improve_downwards() {
        let base = run("a", &[("express", RPS, P99, MIB)]);
        let p99_up: Vec<f64> = P99.iter().map(|v| v * 1.5).collect();
        let mib_down: Vec<f64> = MIB.iter().map(|v| v * 0.5).collect();
        let current = run("b", &[("express", RPS, &p99_up, &mib_down)]);
        let c = compare(&base, &current, 0.05, &Bootstrap::default());
        assert_eq!(outcome(&c, "express", Figure::P99Ms), Outcome::Regressed);
        assert_eq!(
            outcome(&c, "express", Figure::PeakMemoryBytes),
            Outcome::Improved
        );
    }

    #[test]
    fn a_big_drop_within_overlapping_noise_is_not_a_regression() {
        let base = run(
            "a",
            &[("express", &[10_000.0, 5_000.0, 15_000.0], P99, MIB)],
        );
        let current = run("b", &[("express", &[9_000.0, 4_000.0, 14_000.0], P99, MIB)]);
        let c = compare(&base, &current, 0.05, &Bootstrap::default());
        assert_eq!(
            outcome(&c, "express", Figure::RequestsPerSec),
            Outcome::Unchanged
        );
    }

    #[test]
    fn a_target_that_failed_in_the_current_run_fails_the_comparison() {
        let base = run("a", &[("express", RPS, P99, MIB)]);
        let mut current = run("b", &[("express", &[], &[], &[])]);
        current.targets[0].status = TargetStatus::Failed;
        current.targets[0].error = Some("express exited with code 3".into());
        let c = compare(&base, &current, 0.05, &Bootstrap::default());
        assert!(
            matches!(outcome(&c, "express", Figure::RequestsPerSec), Outcome::Failed { why } if why.contains("code 3"))
        );
        assert!(c.failed());
    }

    #[test]
    fn targets_in_only_one_file_are_listed_not_failed() {
        let base = run("a", &[("express", RPS, P99, MIB)]);
        let current = run("b", &[("fastify", RPS, P99, MIB)]);
        let c = compare(&base, &current, 0.05, &Bootstrap::default());
        assert_eq!(c.figures.len(), 6);
        assert!(!c.failed());
        assert!(
            matches!(outcome(&c, "fastify", Figure::P99Ms), Outcome::NotCompared { why } if why == "not in the baseline")
        );
    }

    #[test]
    fn single_trials_are_judged_on_the_threshold_alone() {
        let base = run("a", &[("express", &[10_000.0], &[4.0], &[60.0])]);
        let current = run("b", &[("express", &[9_000.0], &[4.1], &[60.0])]);
        let c = compare(&base, &current, 0.05, &Bootstrap::default());
        assert_eq!(
            outcome(&c, "express", Figure::RequestsPerSec),
            Outcome::Regressed
        );
        assert_eq!(
            outcome(&c, "express", Figure::P99Ms),
            Outcome::WorseWithinThreshold
        );
        assert!(c.to_string().contains("single trial"));
    }

    #[test]
    fn thresholds_parse_as_percentages() {
        assert_eq!(parse_threshold("5%").unwrap(), 0.05);
        assert_eq!(parse_threshold("5").unwrap(), 0.05);
        assert_eq!(parse_threshold("0.5%").unwrap(), 0.005);
        assert!(parse_threshold("five").unwrap_err().contains("e.g. 5%"));
        assert!(parse_threshold("150%").is_err());
    }

    #[test]
    fn the_table_shows_both_intervals_and_the_outcome() {
        let base = run("a", &[("express", RPS, P99, MIB)]);
        let text = compare(&base, &base, 0.05, &Bootstrap::default()).to_string();
        assert!(text.contains("10000 [9900, 10100]"), "{text}");
        assert!(text.contains("60.0 MiB"), "{text}");
        assert!(text.contains("no change detected"), "{text}");
        assert!(text.contains("0 regressed"), "{text}");
    }
}
