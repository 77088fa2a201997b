//! How a profile drives load ([`LoadPlan`]: closed loop, open loop at one rate, a rate
//! sweep, or a mixed profile's windows) and the rate sweep itself: open-loop steps at increasing rates until the p99
//! latency (from the intended send time) or the error rate breaks its limit, or the rate is
//! not reached. The highest rate that kept within every limit is the *max sustainable rate*.
//!
//! Measurement only: [`drive`] runs the generator and judges each step; it never prints.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{LoadMode, Profile, Workload};
use crate::load::{
    ErrorCounts, LiveCounters, LoadError, LoadReport, LoadSpec, OpenLoopStats, RATE_KEPT,
    run_closed_loop, run_mixed, run_open_loop,
};
use crate::stats::{LatencySummary, latency_summary};

/// How a run drives load, from its profile.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadPlan {
    /// Fixed connections, as fast as the server answers.
    Closed,
    /// A constant arrival rate, requests per second.
    Open { rate: f64 },
    /// Open loop at increasing rates until a limit breaks.
    Sweep(SweepPlan),
    /// No load: the trial is the target's start alone (see [`LoadMode::ColdStart`]).
    ColdStart,
    /// The run's workload alone, then with each side kind of request beside it.
    Mixed(MixedPlan),
}

/// The rates a sweep tries and the limits a step must keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPlan {
    /// Requests per second, tried in this order (increasing).
    pub rates: Vec<f64>,
    /// A step whose p99 latency (from the intended send time) is above this breaks.
    pub p99_limit_ms: f64,
    /// A step whose errors (connect, timeout, I/O, status >= 400) are more than this share
    /// of its requests breaks, e.g. 0.01 for 1%.
    pub error_limit: f64,
}

/// A mixed profile's windows (seed 002's event-loop blocking): the run's workload on the
/// profile's connections alone, then beside each side in turn, each side on
/// `side_connections` more connections, every kind measured apart (see
/// [`crate::load::run_mixed`]). The first side runs on the server's own thread (compute),
/// the second in a worker process (offload): the run's workload's latency in each window,
/// over its latency alone, says how much the side held the server up.
#[derive(Debug, Clone, PartialEq)]
pub struct MixedPlan {
    pub side_connections: usize,
    pub sides: Vec<SideRequest>,
}

/// One side kind of a mixed profile: a workload's request.
#[derive(Debug, Clone, PartialEq)]
pub struct SideRequest {
    pub workload: String,
    pub method: String,
    pub path: String,
    pub body: Option<Vec<u8>>,
}

impl SideRequest {
    /// The closed loop of this side beside `main`: the same server, its own request and
    /// connections; the window is `main`'s ([`run_mixed`] sets it).
    fn spec(&self, main: &LoadSpec, connections: usize) -> Result<LoadSpec, LoadError> {
        let authority = main
            .url
            .authority()
            .map(ToString::to_string)
            .unwrap_or_default();
        let url = format!("http://{authority}{}", self.path);
        let invalid = |what: String| LoadError::InvalidSpec(what);
        Ok(LoadSpec {
            url: url
                .parse()
                .map_err(|e| invalid(format!("side `{}`: bad URL {url}: {e}", self.workload)))?,
            method: self
                .method
                .parse()
                .map_err(|e| invalid(format!("side `{}`: bad method: {e}", self.workload)))?,
            body: self.body.clone().map(bytes::Bytes::from),
            connections,
            ..main.clone()
        })
    }
}

/// What a mixed profile measured in one trial: a window per kind of traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MixedResult {
    /// The run's workload alone first, then beside each side, in the profile's order.
    pub windows: Vec<MixedWindow>,
}

impl MixedResult {
    /// The run's workload's p99 beside side `index` (0: the first side) over its p99 alone:
    /// how much that side held it up. `None` without that window or with a zero p99 alone.
    #[must_use]
    pub fn p99_ratio(&self, index: usize) -> Option<f64> {
        let alone = self
            .windows
            .first()
            .filter(|w| w.side.is_none())?
            .main
            .latency
            .p99_ms;
        let beside = self.windows.get(index + 1)?.main.latency.p99_ms;
        (alone > 0.0).then(|| beside / alone)
    }
}

/// One window of a mixed trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MixedWindow {
    /// The side workload in this window; `None` for the run's workload alone.
    pub side: Option<String>,
    /// Connections of the side (0 alone).
    pub side_connections: u32,
    /// The run's workload (the many connections).
    pub main: KindFigures,
    /// The side's own requests; `None` alone.
    pub side_kind: Option<KindFigures>,
}

/// One kind of request's figures in a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KindFigures {
    pub requests: u64,
    pub requests_per_sec: f64,
    pub latency: LatencySummary,
    pub status_counts: std::collections::BTreeMap<u16, u64>,
    pub errors: ErrorCounts,
}

impl KindFigures {
    fn of(report: &LoadReport) -> Self {
        KindFigures {
            requests: report.requests,
            requests_per_sec: report.requests_per_sec(),
            latency: latency_summary(&report.latency_us),
            status_counts: report.status_counts.clone(),
            errors: report.errors,
        }
    }
}

/// Why a profile cannot drive a run.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error(
        "profile `{profile}` is open-loop but has no `rate`: add `rate = N` (requests per second) to it in fixtures/profiles.toml"
    )]
    NoRate { profile: String },
    #[error(
        "profile `{profile}` is a sweep but {what}: fix it in fixtures/profiles.toml (see the comment at its top)"
    )]
    BadSweep { profile: String, what: String },
    #[error("profile `{profile}` drives the chat workload: use it with --workload chat")]
    ChatProfile { profile: String },
    #[error(
        "profile `{profile}` is mixed but {what}: fix it in fixtures/profiles.toml (see the comment at its top)"
    )]
    BadMixed { profile: String, what: String },
}

impl LoadPlan {
    /// The plan a profile describes, checked.
    ///
    /// # Errors
    ///
    /// [`PlanError`] when an open-loop profile has no positive rate, or a sweep has no rates,
    /// rates that are not positive and increasing, or a missing or non-positive limit.
    pub fn from_profile(profile: &Profile, workloads: &[Workload]) -> Result<Self, PlanError> {
        let positive = |rate: f64| rate.is_finite() && rate > 0.0;
        match profile.mode {
            LoadMode::Mixed => {
                let bad = |what: String| PlanError::BadMixed {
                    profile: profile.name.clone(),
                    what,
                };
                let side_connections = profile
                    .side_connections
                    .filter(|&c| c > 0)
                    .ok_or_else(|| bad("has no `side_connections` above 0".into()))?;
                if profile.sides.is_empty() {
                    return Err(bad("has no `sides`".into()));
                }
                let sides = profile
                    .sides
                    .iter()
                    .map(|name| {
                        let workload = workloads
                            .iter()
                            .find(|w| &w.name == name)
                            .ok_or_else(|| bad(format!("its side `{name}` is no workload")))?;
                        Ok(SideRequest {
                            workload: workload.name.clone(),
                            method: workload.method.clone(),
                            path: workload.path.clone(),
                            body: workload.body_bytes(),
                        })
                    })
                    .collect::<Result<_, PlanError>>()?;
                Ok(LoadPlan::Mixed(MixedPlan {
                    side_connections: side_connections as usize,
                    sides,
                }))
            }
            // Each step of a scaling run is a closed-loop run on a cpuset of its own.
            LoadMode::Closed | LoadMode::Scaling => Ok(LoadPlan::Closed),
            LoadMode::ColdStart => Ok(LoadPlan::ColdStart),
            LoadMode::Capacity | LoadMode::Fanout => Err(PlanError::ChatProfile {
                profile: profile.name.clone(),
            }),
            LoadMode::Open => match profile.rate {
                Some(rate) if positive(rate) => Ok(LoadPlan::Open { rate }),
                _ => Err(PlanError::NoRate {
                    profile: profile.name.clone(),
                }),
            },
            LoadMode::Sweep => {
                let bad = |what: &str| PlanError::BadSweep {
                    profile: profile.name.clone(),
                    what: what.to_owned(),
                };
                if profile.rates.is_empty() {
                    return Err(bad("has no `rates`"));
                }
                if !profile.rates.iter().all(|&r| positive(r)) {
                    return Err(bad("has a rate that is not a number above 0"));
                }
                if profile.rates.windows(2).any(|pair| pair[1] <= pair[0]) {
                    return Err(bad("its `rates` do not increase"));
                }
                let p99_limit_ms = profile
                    .p99_limit_ms
                    .filter(|&l| positive(l))
                    .ok_or_else(|| bad("has no `p99_limit_ms` above 0"))?;
                let error_limit = profile
                    .error_limit
                    .filter(|&l| l.is_finite() && (0.0..1.0).contains(&l))
                    .ok_or_else(|| bad("has no `error_limit` between 0 and 1"))?;
                Ok(LoadPlan::Sweep(SweepPlan {
                    rates: profile.rates.clone(),
                    p99_limit_ms,
                    error_limit,
                }))
            }
        }
    }

    /// Longest time the load of one trial takes: one window, or one per sweep step.
    #[must_use]
    pub fn max_duration(&self, warmup: Duration, duration: Duration) -> Duration {
        let steps = match self {
            LoadPlan::Sweep(sweep) => u32::try_from(sweep.rates.len()).unwrap_or(u32::MAX),
            LoadPlan::ColdStart => 0,
            LoadPlan::Mixed(mixed) => u32::try_from(mixed.sides.len() + 1).unwrap_or(u32::MAX),
            _ => 1,
        };
        (warmup + duration).saturating_mul(steps)
    }
}

/// A limit a sweep step broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// p99 latency above [`SweepPlan::p99_limit_ms`].
    P99,
    /// Error share above [`SweepPlan::error_limit`].
    Errors,
    /// The generator sent less than the requested rate (see [`OpenLoopStats::kept_rate`]):
    /// the server, or the generator itself, could not keep up.
    Rate,
}

impl Limit {
    /// Short text for summaries.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Limit::P99 => "p99 over the limit",
            Limit::Errors => "errors over the limit",
            Limit::Rate => "rate not reached",
        }
    }
}

/// One step of a sweep: an open-loop window at one rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SweepStep {
    /// Requested rate, requests per second.
    pub rate: f64,
    /// Responses completed in the step's measured window.
    pub requests: u64,
    pub duration_s: f64,
    /// Responses per second of the window.
    pub requests_per_sec: f64,
    /// From the intended send time for requests that queued (see `crate::load`).
    pub latency: LatencySummary,
    /// From the actual write, without the correction.
    pub service_latency: LatencySummary,
    pub status_counts: std::collections::BTreeMap<u16, u64>,
    pub errors: ErrorCounts,
    /// `errors.total()` over the requests answered or lost.
    pub error_rate: f64,
    /// Completed requests in each second of the window.
    pub per_second: Vec<u64>,
    /// Requested and achieved rate, schedule lag.
    pub open_loop: OpenLoopStats,
    /// The limits this step broke; empty when it kept within all of them.
    pub broke: Vec<Limit>,
}

impl SweepStep {
    /// Whether the step kept within every limit.
    #[must_use]
    pub fn sustained(&self) -> bool {
        self.broke.is_empty()
    }
}

/// What a sweep found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SweepResult {
    pub p99_limit_ms: f64,
    pub error_limit: f64,
    /// The steps run, in order; the sweep stops after the first that broke a limit.
    pub steps: Vec<SweepStep>,
    /// The highest requested rate whose step, and every step before it, kept within every
    /// limit; `None` when the first step already broke one.
    pub max_sustainable_rate: Option<f64>,
}

/// What [`drive`] measured: the report the trial's headline figures come from and, for a
/// sweep, every step.
#[derive(Debug, Clone)]
pub struct Driven {
    /// Closed or open loop: the run. Sweep: the step at the max sustainable rate, or the
    /// first step when none was sustained.
    pub report: LoadReport,
    pub sweep: Option<SweepResult>,
    /// Mixed: every window; `report` is then the run's workload beside the first side.
    pub mixed: Option<MixedResult>,
}

/// Runs `plan` with `spec` (connections, warm-up and window apply to every sweep step).
/// Blocking, like the generator.
///
/// # Errors
///
/// A [`LoadError`] from the generator (refused URL, nothing listening…); a sweep step that
/// fails after earlier steps ran ends the sweep with the steps so far instead.
pub fn drive(
    spec: &LoadSpec,
    plan: &LoadPlan,
    live: Arc<LiveCounters>,
) -> Result<Driven, LoadError> {
    match plan {
        LoadPlan::Closed => Ok(Driven {
            report: run_closed_loop(spec, live)?,
            sweep: None,
            mixed: None,
        }),
        LoadPlan::Open { rate } => Ok(Driven {
            report: run_open_loop(spec, *rate, live)?,
            sweep: None,
            mixed: None,
        }),
        LoadPlan::Mixed(mixed) => run_mixed_windows(spec, mixed, live),
        LoadPlan::Sweep(sweep) => run_sweep(spec, sweep, live),
        // The run never drives a cold-start plan: its trials end before any load.
        LoadPlan::ColdStart => Err(LoadError::InvalidSpec(
            "a cold-start profile sends no load".into(),
        )),
    }
}

/// A mixed trial: the run's workload alone, then beside each side in turn, each window with
/// the same warm-up and length. A stopped run keeps the windows it finished.
fn run_mixed_windows(
    spec: &LoadSpec,
    plan: &MixedPlan,
    live: Arc<LiveCounters>,
) -> Result<Driven, LoadError> {
    let alone = run_closed_loop(spec, Arc::clone(&live))?;
    let mut windows = vec![MixedWindow {
        side: None,
        side_connections: 0,
        main: KindFigures::of(&alone),
        side_kind: None,
    }];
    let mut headline = None;
    for side in &plan.sides {
        if live.stopped() {
            break;
        }
        let side_spec = side.spec(spec, plan.side_connections)?;
        let mixed = run_mixed(spec, &side_spec, Arc::clone(&live))?;
        windows.push(MixedWindow {
            side: Some(side.workload.clone()),
            side_connections: u32::try_from(plan.side_connections).unwrap_or(u32::MAX),
            main: KindFigures::of(&mixed.main),
            side_kind: Some(KindFigures::of(&mixed.side)),
        });
        headline.get_or_insert(mixed.main);
    }
    Ok(Driven {
        report: headline.unwrap_or(alone),
        sweep: None,
        mixed: Some(MixedResult { windows }),
    })
}

fn run_sweep(
    spec: &LoadSpec,
    plan: &SweepPlan,
    live: Arc<LiveCounters>,
) -> Result<Driven, LoadError> {
    let mut steps = Vec::new();
    let mut headline: Option<LoadReport> = None;
    let mut first: Option<LoadReport> = None;
    for &rate in &plan.rates {
        let report = match run_open_loop(spec, rate, Arc::clone(&live)) {
            Ok(report) => report,
            // The server went away after some steps: keep what they measured.
            Err(LoadError::NoConnection { .. }) if !steps.is_empty() => break,
            Err(error) => return Err(error),
        };
        let step = judge(rate, &report, plan);
        let sustained = step.sustained();
        steps.push(step);
        if first.is_none() {
            first = Some(report.clone());
        }
        if !sustained {
            break;
        }
        headline = Some(report);
    }
    let max_sustainable_rate = steps
        .iter()
        .take_while(|step| step.sustained())
        .last()
        .map(|step| step.rate);
    let report = match (headline, first) {
        (Some(report), _) | (None, Some(report)) => report,
        (None, None) => {
            return Err(LoadError::InvalidSpec(
                "a rate sweep needs at least one rate".to_owned(),
            ));
        }
    };
    Ok(Driven {
        report,
        mixed: None,
        sweep: Some(SweepResult {
            p99_limit_ms: plan.p99_limit_ms,
            error_limit: plan.error_limit,
            steps,
            max_sustainable_rate,
        }),
    })
}

/// The figures of one step and the limits it broke.
#[must_use]
pub fn judge(rate: f64, report: &LoadReport, plan: &SweepPlan) -> SweepStep {
    let latency = latency_summary(&report.latency_us);
    let service_latency = report
        .service_latency_us
        .as_ref()
        .map(latency_summary)
        .unwrap_or_default();
    let attempts = report.requests + report.errors.transport();
    let error_rate = if attempts > 0 {
        report.errors.total() as f64 / attempts as f64
    } else {
        0.0
    };
    let open_loop = report.open_loop.clone().unwrap_or(OpenLoopStats {
        requested_rate: rate,
        achieved_rate: report.requests_per_sec(),
        scheduled: 0,
        sent: report.requests,
        unsent: 0,
        queued: 0,
        lag_mean_us: 0.0,
        lag_max_us: 0,
        late_sends: 0,
    });
    let mut broke = Vec::new();
    // No response at all is no latency within the limit.
    if latency.p99_ms > plan.p99_limit_ms || report.requests == 0 {
        broke.push(Limit::P99);
    }
    if error_rate > plan.error_limit {
        broke.push(Limit::Errors);
    }
    if !open_loop.kept_rate() {
        broke.push(Limit::Rate);
    }
    SweepStep {
        rate,
        requests: report.requests,
        duration_s: report.elapsed.as_secs_f64(),
        requests_per_sec: report.requests_per_sec(),
        latency,
        service_latency,
        status_counts: report.status_counts.clone(),
        errors: report.errors,
        error_rate,
        per_second: report.per_second.clone(),
        open_loop,
        broke,
    }
}

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

    use std::collections::BTreeMap;
    use std::path::Path;

    use hdrhistogram::Histogram;

    fn profile(mode: LoadMode) -> Profile {
        Profile {
            name: "p".into(),
            description: "d".into(),
            mode,
            connections: 10,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            max_requests: None,
            rate: None,
            rates: vec![100.0, 200.0],
            p99_limit_ms: Some(10.0),
            error_limit: Some(0.01),
            steps: Vec::new(),
            room_size: None,
            hold: None,
            trials: None,
            keep_alive: true,
            sides: Vec::new(),
            side_connections: None,
        }
    }

    #[test]
    fn a_mixed_profile_plans_its_sides_from_the_workloads_in_order() {
        let fixtures = crate::config::Fixtures::load(Path::new(env!("CARGO_MANIFEST_DIR")))
            .expect("repository fixtures");
        let mixed = fixtures.profile("mixed").unwrap();
        let LoadPlan::Mixed(plan) = LoadPlan::from_profile(mixed, &fixtures.workloads).unwrap()
        else {
            panic!("not a mixed plan");
        };
        assert_eq!(plan.side_connections, 2);
        let sides: Vec<(&str, &str)> = plan
            .sides
            .iter()
            .map(|s| (s.workload.as_str(), s.method.as_str()))
            .collect();
        assert_eq!(sides, [("compute-10m", "GET"), ("offload-10m", "POST")]);
        assert!(plan.sides[1].body.is_some(), "the job is a JSON body");
        assert_eq!(
            LoadPlan::Mixed(plan).max_duration(Duration::from_secs(1), Duration::from_secs(5)),
            Duration::from_secs(18),
            "three windows: alone, beside each side"
        );
        let unknown = Profile {
            sides: vec!["nope".into()],
            side_connections: Some(1),
            ..profile(LoadMode::Mixed)
        };
        let error = LoadPlan::from_profile(&unknown, &fixtures.workloads).unwrap_err();
        assert!(
            error.to_string().contains("`nope` is no workload"),
            "{error}"
        );
    }

    #[test]
    fn the_p99_ratio_is_each_windows_p99_over_the_p99_alone() {
        let kind = |p99_ms: f64| KindFigures {
            requests: 10,
            requests_per_sec: 10.0,
            latency: LatencySummary {
                p99_ms,
                ..LatencySummary::default()
            },
            status_counts: BTreeMap::new(),
            errors: ErrorCounts::default(),
        };
        let window = |side: Option<&str>, p99_ms: f64| MixedWindow {
            side: side.map(str::to_string),
            side_connections: 2,
            main: kind(p99_ms),
            side_kind: None,
        };
        let mixed = MixedResult {
            windows: vec![
                window(None, 2.0),
                window(Some("compute-10m"), 20.0),
                window(Some("offload-10m"), 3.0),
            ],
        };
        assert_eq!(mixed.p99_ratio(0), Some(10.0));
        assert_eq!(mixed.p99_ratio(1), Some(1.5));
        assert_eq!(mixed.p99_ratio(2), None);
    }

    fn plan() -> SweepPlan {
        SweepPlan {
            rates: vec![100.0, 200.0],
            p99_limit_ms: 10.0,
            error_limit: 0.01,
        }
    }

    /// A one-second open-loop report at `rate`: `sent` requests written, all answered in
    /// `latency_us`, `failed` of them with status 500.
    fn report(rate: f64, sent: u64, latency_us: u64, failed: u64) -> LoadReport {
        let mut histogram = Histogram::<u64>::new(3).unwrap();
        if sent > 0 {
            histogram.record_n(latency_us, sent).unwrap();
        }
        LoadReport {
            requests: sent,
            elapsed: Duration::from_secs(1),
            latency_us: histogram.clone(),
            service_latency_us: Some(histogram),
            status_counts: BTreeMap::from([(200, sent - failed), (500, failed)]),
            errors: ErrorCounts {
                non_success: failed,
                ..ErrorCounts::default()
            },
            bytes_received: 0,
            response_bytes: 0,
            per_second: vec![sent],
            warmup_requests: 0,
            warmup_errors: 0,
            connections_opened: 10,
            open_loop: Some(OpenLoopStats {
                requested_rate: rate,
                achieved_rate: sent as f64,
                scheduled: rate as u64,
                sent,
                unsent: (rate as u64).saturating_sub(sent),
                queued: 0,
                lag_mean_us: 0.0,
                lag_max_us: 0,
                late_sends: 0,
            }),
        }
    }

    #[test]
    fn a_step_within_every_limit_is_sustained() {
        let step = judge(100.0, &report(100.0, 100, 2_000, 1), &plan());
        assert!(step.sustained(), "{:?}", step.broke);
        assert_eq!(step.error_rate, 0.01);
        assert_eq!(step.latency.p99_ms, 2.0);
    }

    #[test]
    fn a_step_breaks_on_p99_errors_or_a_rate_not_reached() {
        let slow = judge(100.0, &report(100.0, 100, 20_000, 0), &plan());
        assert_eq!(slow.broke, [Limit::P99]);
        let failing = judge(100.0, &report(100.0, 100, 2_000, 5), &plan());
        assert_eq!(failing.broke, [Limit::Errors]);
        let short = judge(100.0, &report(100.0, 80, 2_000, 0), &plan());
        assert_eq!(short.broke, [Limit::Rate]);
        let silent = judge(100.0, &report(100.0, 0, 0, 0), &plan());
        assert!(silent.broke.contains(&Limit::P99), "{:?}", silent.broke);
    }

    #[test]
    fn profiles_become_plans_or_say_what_is_missing() {
        assert_eq!(
            LoadPlan::from_profile(&profile(LoadMode::Closed), &[]),
            Ok(LoadPlan::Closed)
        );
        assert!(matches!(
            LoadPlan::from_profile(&profile(LoadMode::Open), &[]),
            Err(PlanError::NoRate { .. })
        ));
        let open = Profile {
            rate: Some(500.0),
            ..profile(LoadMode::Open)
        };
        assert_eq!(
            LoadPlan::from_profile(&open, &[]),
            Ok(LoadPlan::Open { rate: 500.0 })
        );
        assert_eq!(
            LoadPlan::from_profile(&profile(LoadMode::Sweep), &[]),
            Ok(LoadPlan::Sweep(plan()))
        );
        for broken in [
            Profile {
                rates: vec![],
                ..profile(LoadMode::Sweep)
            },
            Profile {
                rates: vec![200.0, 100.0],
                ..profile(LoadMode::Sweep)
            },
            Profile {
                p99_limit_ms: None,
                ..profile(LoadMode::Sweep)
            },
            Profile {
                error_limit: Some(1.5),
                ..profile(LoadMode::Sweep)
            },
        ] {
            let error = LoadPlan::from_profile(&broken, &[]).unwrap_err();
            assert!(error.to_string().contains("profiles.toml"), "{error}");
        }
    }

    #[test]
    fn the_repository_open_and_sweep_profiles_are_valid() {
        let fixtures =
            crate::config::Fixtures::load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let profile = fixtures.profile("rate-sweep").unwrap();
        let LoadPlan::Sweep(sweep) = LoadPlan::from_profile(profile, &[]).unwrap() else {
            panic!("rate-sweep is not a sweep");
        };
        assert!(sweep.rates.len() >= 3);
        let open = fixtures.profile("open-1000").unwrap();
        assert_eq!(
            LoadPlan::from_profile(open, &[]),
            Ok(LoadPlan::Open { rate: 1000.0 })
        );
    }

    #[test]
    fn a_sweep_lasts_one_window_per_step() {
        let sweep = LoadPlan::Sweep(plan());
        assert_eq!(
            sweep.max_duration(Duration::from_secs(1), Duration::from_secs(4)),
            Duration::from_secs(10)
        );
        assert_eq!(
            LoadPlan::Closed.max_duration(Duration::ZERO, Duration::from_secs(4)),
            Duration::from_secs(4)
        );
    }
}
