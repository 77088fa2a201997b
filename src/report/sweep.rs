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

/// For each target of a sweep run: the median max sustainable rate over its trials, with
/// every trial's figure.
#[must_use]
pub fn summary_lines(results: &RunResults) -> Vec<String> {
    let mut lines = Vec::new();
    for target in &results.targets {
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
