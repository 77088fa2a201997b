//! The open-loop and rate-sweep lines under a run's table. Only reads.

use crate::results::RunResults;
use crate::stats::median;
use crate::sweep::{SweepResult, max_rate_text};

/// For each target of an open-loop run: the requested and achieved rate of its last trial;
/// of a sweep run: the median max sustainable rate over its trials, with every trial's
/// figure. Nothing for a closed-loop run.
#[must_use]
pub fn summary_lines(results: &RunResults) -> Vec<String> {
    let mut lines = Vec::new();
    for target in &results.targets {
        if let Some(trial) = target.trials.iter().rev().find(|t| t.sweep.is_none()) {
            if let Some(open) = &trial.open_loop {
                lines.push(format!(
                    "{}: open loop, asked {:.0} req/s, sent {:.0}/s; latency from the intended send time (uncorrected p99 {:.2} ms){}",
                    target.target,
                    open.requested_rate,
                    open.achieved_rate,
                    trial.service_latency.map_or(0.0, |l| l.p99_ms),
                    if open.kept_rate() { "" } else { "; the rate was NOT reached" }
                ));
            }
        }
        let sweeps: Vec<&SweepResult> = target
            .trials
            .iter()
            .filter_map(|t| t.sweep.as_ref())
            .collect();
        let Some(last) = sweeps.last() else {
            continue;
        };
        let rates: Vec<f64> = sweeps
            .iter()
            .map(|s| s.max_sustainable_rate.unwrap_or(0.0))
            .collect();
        let per_trial: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        let headline = if sweeps.len() == 1 {
            max_rate_text(last)
        } else {
            format!(
                "max sustainable rate {:.0} req/s (median of trials: {}); last trial: {}",
                median(&rates).unwrap_or(0.0),
                per_trial.join(", "),
                max_rate_text(last)
            )
        };
        lines.push(format!("{}: {headline}", target.target));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::OpenLoopStats;
    use crate::sweep::{SweepStep, rate_shortfall, step_lines};

    use crate::load::ErrorCounts;
    use crate::stats::LatencySummary;
    use crate::sweep::Limit;

    fn open(rate: f64, achieved: f64) -> OpenLoopStats {
        OpenLoopStats {
            requested_rate: rate,
            achieved_rate: achieved,
            scheduled: rate as u64,
            sent: achieved as u64,
            unsent: (rate - achieved) as u64,
            queued: 0,
            lag_mean_us: 1500.0,
            lag_max_us: 3000,
            late_sends: 0,
        }
    }

    fn step(rate: f64, p99_ms: f64, broke: Vec<Limit>) -> SweepStep {
        SweepStep {
            rate,
            requests: rate as u64,
            duration_s: 1.0,
            requests_per_sec: rate,
            latency: LatencySummary {
                p99_ms,
                ..LatencySummary::default()
            },
            service_latency: LatencySummary::default(),
            status_counts: std::collections::BTreeMap::new(),
            errors: ErrorCounts::default(),
            error_rate: 0.0,
            per_second: vec![rate as u64],
            open_loop: open(rate, rate),
            broke,
        }
    }

    fn sweep(steps: Vec<SweepStep>, max: Option<f64>) -> SweepResult {
        SweepResult {
            p99_limit_ms: 50.0,
            error_limit: 0.01,
            steps,
            max_sustainable_rate: max,
        }
    }

    #[test]
    fn names_the_max_sustainable_rate_and_the_step_that_broke() {
        let result = sweep(
            vec![
                step(500.0, 3.0, vec![]),
                step(1000.0, 80.0, vec![Limit::P99]),
            ],
            Some(500.0),
        );
        let text = max_rate_text(&result);
        assert!(
            text.starts_with("max sustainable rate 500 req/s (p99 <= 50 ms, errors <= 1%)"),
            "{text}"
        );
        assert!(
            text.contains("broke at 1000 req/s: p99 over the limit (p99 80.00 ms"),
            "{text}"
        );
        let lines = step_lines(&result);
        assert!(lines[0].ends_with("- held"), "{}", lines[0]);
        assert!(
            lines[1].ends_with("- broke: p99 over the limit"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn says_when_no_rate_held_or_every_rate_did() {
        let none = sweep(vec![step(500.0, 80.0, vec![Limit::P99, Limit::Rate])], None);
        let text = max_rate_text(&none);
        assert!(text.starts_with("no sustainable rate"), "{text}");
        assert!(
            text.contains("p99 over the limit, rate not reached"),
            "{text}"
        );
        let all = sweep(vec![step(500.0, 3.0, vec![])], Some(500.0));
        assert!(max_rate_text(&all).contains("every rate held"));
    }

    #[test]
    fn the_shortfall_warning_gives_both_rates_and_the_fix() {
        let text = rate_shortfall(&open(1000.0, 412.0));
        assert!(
            text.starts_with("asked for 1000 req/s but sent 412/s"),
            "{text}"
        );
        assert!(text.contains("--connections"), "{text}");
    }
}
