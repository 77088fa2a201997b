//! Text for open-loop figures: the rate sweep's steps and max sustainable rate, and the
//! warning when an open-loop run could not send the rate it was asked for. Only reads.

use crate::load::{OpenLoopStats, RATE_KEPT};
use crate::results::RunResults;
use crate::stats::median;
use crate::sweep::{SweepResult, SweepStep};

/// One line per step: requested and achieved rate, throughput, p99, errors, verdict.
#[must_use]
pub fn step_lines(sweep: &SweepResult) -> Vec<String> {
    sweep.steps.iter().map(step_line).collect()
}

fn step_line(step: &SweepStep) -> String {
    let verdict = if step.sustained() {
        "held".to_owned()
    } else {
        let broke: Vec<&str> = step.broke.iter().map(|l| l.label()).collect();
        format!("broke: {}", broke.join(", "))
    };
    format!(
        "{:>8.0} req/s asked: sent {:.0}/s, {:.0} responses/s, p99 {:.2} ms (uncorrected {:.2} ms), {:.2}% errors - {verdict}",
        step.rate,
        step.open_loop.achieved_rate,
        step.requests_per_sec,
        step.latency.p99_ms,
        step.service_latency.p99_ms,
        step.error_rate * 100.0,
    )
}

/// `max sustainable rate 8000 req/s (p99 <= 50 ms, errors <= 1%)`, or why there is none.
#[must_use]
pub fn max_rate_text(sweep: &SweepResult) -> String {
    let limits = format!(
        "p99 <= {} ms, errors <= {}%",
        sweep.p99_limit_ms,
        sweep.error_limit * 100.0
    );
    let stop = sweep.steps.iter().find(|s| !s.sustained()).map(|step| {
        let broke: Vec<&str> = step.broke.iter().map(|l| l.label()).collect();
        format!(
            "; broke at {:.0} req/s: {} (p99 {:.2} ms, {:.2}% errors, sent {:.0}/s)",
            step.rate,
            broke.join(", "),
            step.latency.p99_ms,
            step.error_rate * 100.0,
            step.open_loop.achieved_rate
        )
    });
    let stop =
        stop.unwrap_or_else(|| "; every rate held: add higher rates to find the limit".into());
    match sweep.max_sustainable_rate {
        Some(rate) => format!("max sustainable rate {rate:.0} req/s ({limits}){stop}"),
        None => {
            format!("no sustainable rate: the first step already broke a limit ({limits}){stop}")
        }
    }
}

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

/// The warning for an open-loop run that did not send its rate.
#[must_use]
pub fn rate_shortfall(open: &OpenLoopStats) -> String {
    format!(
        "asked for {:.0} req/s but sent {:.0}/s ({} of {} scheduled requests never sent, mean lag {:.1} ms): \
         the server or the generator could not keep up, so the latencies describe a lighter load; \
         under {:.0}% of the rate, add --connections (about rate x latency are busy) or generator CPUs, \
         or lower the rate",
        open.requested_rate,
        open.achieved_rate,
        open.unsent,
        open.scheduled,
        open.lag_mean_us / 1000.0,
        RATE_KEPT * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
