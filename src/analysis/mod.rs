//! The figures a report shows, computed once from one results file: per-target medians with
//! bootstrap intervals, comparisons between targets, warnings, and every claim's verdict.
//!
//! The statistics happen here (through [`crate::stats`] and [`crate::claims`]); the
//! exporters in [`crate::report`] only format what an [`Analysis`] holds, so every format
//! shows the same numbers, and `faceoff report` and `faceoff claims` give the same verdicts.

pub mod versions;

use crate::claims::{Claim, Claims, Verdict};
use crate::results::{RunResults, Startup, TargetResult, TargetStatus, TrialResult};
use crate::runtime::StartClock;
use crate::stats::{self, Bootstrap, Comparison, Estimate, LatencySummary};

const MIB: f64 = 1024.0 * 1024.0;

/// A latency percentile a trial records, in the order reports show them.
#[derive(Debug, Clone, Copy)]
pub struct Percentile {
    /// How reports name it: `p50`, `p99.9`, `max`.
    pub label: &'static str,
    /// Its quantile, 0..=1 (`max` is 1).
    pub quantile: f64,
    of: fn(&LatencySummary) -> f64,
}

impl Percentile {
    /// This percentile in one trial, in ms.
    pub fn of(&self, latency: &LatencySummary) -> f64 {
        (self.of)(latency)
    }
}

/// Every percentile a trial records, lowest first.
pub const PERCENTILES: [Percentile; 7] = [
    Percentile {
        label: "p50",
        quantile: 0.5,
        of: |l| l.p50_ms,
    },
    Percentile {
        label: "p75",
        quantile: 0.75,
        of: |l| l.p75_ms,
    },
    Percentile {
        label: "p90",
        quantile: 0.9,
        of: |l| l.p90_ms,
    },
    Percentile {
        label: "p99",
        quantile: 0.99,
        of: |l| l.p99_ms,
    },
    Percentile {
        label: "p99.9",
        quantile: 0.999,
        of: |l| l.p999_ms,
    },
    Percentile {
        label: "p99.99",
        quantile: 0.9999,
        of: |l| l.p9999_ms,
    },
    Percentile {
        label: "max",
        quantile: 1.0,
        of: |l| l.max_ms,
    },
];

/// One point of a memory series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryPoint {
    /// Seconds since sampling of the trial started.
    pub t_s: f64,
    pub mib: f64,
}

/// One target's figures: medians over its trials with 95% intervals.
#[derive(Debug, Clone)]
pub struct TargetFigures<'a> {
    /// The target's entry in the results file (names, versions, verify outcome, error).
    pub result: &'a TargetResult,
    /// Each trial's req/s, in trial order (the points behind the interval).
    pub trial_requests_per_sec: Vec<f64>,
    /// `None` when no trial was measured.
    pub requests_per_sec: Option<Estimate>,
    /// One estimate per entry of [`PERCENTILES`] the trials recorded (files from before a
    /// percentile was recorded hold 0 for it: left out); empty when no trial was measured.
    pub latency_ms: Vec<(Percentile, Estimate)>,
    pub mean_latency_ms: Option<Estimate>,
    pub peak_memory_mib: Option<Estimate>,
    pub mean_cpu_percent: Option<Estimate>,
    /// Responses completed in the measured windows, over all trials.
    pub requests: u64,
    /// Errors of every kind in the measured windows, over all trials.
    pub errors: u64,
    /// Each trial's memory samples, in trial order.
    pub memory: Vec<Vec<MemoryPoint>>,
    /// How the target started, over every trial that recorded it; `None` in files from
    /// before starts were recorded.
    pub startup: Option<StartupFigures>,
    /// A mixed profile's windows; `None` for every other profile.
    pub mixed: Option<MixedFigures>,
}

/// One target's mixed-profile windows (seed 002's event-loop blocking): medians over its
/// trials with 95% intervals, one entry per window in the profile's order (alone first).
#[derive(Debug, Clone, PartialEq)]
pub struct MixedFigures {
    pub windows: Vec<MixedWindowFigures>,
}

/// One window of [`MixedFigures`].
#[derive(Debug, Clone, PartialEq)]
pub struct MixedWindowFigures {
    /// The side workload; `None` for the run's workload alone.
    pub side: Option<String>,
    pub side_connections: u32,
    /// The run's workload (the many connections).
    pub main_p99_ms: Option<Estimate>,
    pub main_requests_per_sec: Option<Estimate>,
    /// The side's own requests; `None` alone.
    pub side_p99_ms: Option<Estimate>,
    pub side_requests_per_sec: Option<Estimate>,
    /// The run's workload's p99 here over its p99 alone, per trial; `None` alone.
    pub p99_ratio: Option<Estimate>,
}

/// The mixed windows of `trials`, by position; `None` when no trial has any.
fn mixed_figures(trials: &[TrialResult], bootstrap: &Bootstrap) -> Option<MixedFigures> {
    let mixed: Vec<&crate::sweep::MixedResult> =
        trials.iter().filter_map(|t| t.mixed.as_ref()).collect();
    let first = mixed.first()?;
    let windows = first
        .windows
        .iter()
        .enumerate()
        .map(|(index, window)| {
            let of = |f: &dyn Fn(&crate::sweep::MixedWindow) -> Option<f64>| {
                let values: Vec<f64> = mixed
                    .iter()
                    .filter_map(|m| m.windows.get(index))
                    .filter_map(f)
                    .collect();
                stats::median_ci(&values, bootstrap)
            };
            let ratios: Vec<f64> = if index == 0 {
                Vec::new()
            } else {
                mixed
                    .iter()
                    .filter_map(|m| m.p99_ratio(index - 1))
                    .collect()
            };
            MixedWindowFigures {
                side: window.side.clone(),
                side_connections: window.side_connections,
                main_p99_ms: of(&|w| Some(w.main.latency.p99_ms)),
                main_requests_per_sec: of(&|w| Some(w.main.requests_per_sec)),
                side_p99_ms: of(&|w| w.side_kind.as_ref().map(|k| k.latency.p99_ms)),
                side_requests_per_sec: of(&|w| w.side_kind.as_ref().map(|k| k.requests_per_sec)),
                p99_ratio: stats::median_ci(&ratios, bootstrap),
            }
        })
        .collect();
    Some(MixedFigures { windows })
}

/// One target's starts: medians over its trials with 95% intervals.
#[derive(Debug, Clone, PartialEq)]
pub struct StartupFigures {
    /// What the cold start is counted from (container start, or process exec).
    pub from: StartClock,
    /// How many starts were timed.
    pub starts: usize,
    /// Each start's time to the first 200 on `/status`, in trial order.
    pub trial_cold_start_ms: Vec<f64>,
    pub cold_start_ms: Estimate,
    /// Memory at that first 200, before any load; `None` when it could not be read.
    pub idle_memory_mib: Option<Estimate>,
    /// The image's size (Docker runtime, files that recorded it).
    pub image_size_mib: Option<f64>,
}

impl TargetFigures<'_> {
    /// The estimate of the percentile labelled `label`.
    pub fn latency(&self, label: &str) -> Option<&Estimate> {
        self.latency_ms
            .iter()
            .find(|(p, _)| p.label == label)
            .map(|(_, e)| e)
    }

    /// Whether any trial was measured.
    pub fn measured(&self) -> bool {
        self.requests_per_sec.is_some()
    }
}

/// A comparison of two targets on one figure.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureComparison {
    /// What was compared, e.g. `req/s`, `p99 latency`.
    pub figure: &'static str,
    /// Whether a larger figure is the better one.
    pub higher_is_better: bool,
    pub comparison: Comparison,
}

/// One pair's duet rounds: the req/s ratio round by round, paired, in both start orders.
#[derive(Debug, Clone, PartialEq)]
pub struct DuetFigures {
    /// The pair, as `a / b` reads.
    pub a: String,
    pub b: String,
    /// `a / b` of req/s with its paired t-interval; `None` when no round was measured.
    pub ratio: Option<stats::PairedRatio>,
    /// Why the pair stopped early, if it did.
    pub error: Option<String>,
}

impl DuetFigures {
    /// The interval's half-width relative to the ratio: how precisely the rounds pinned it.
    pub fn half_width(&self) -> Option<f64> {
        let ratio = self.ratio.as_ref()?;
        Some((ratio.ci.high - ratio.ci.low) / 2.0 / ratio.ratio)
    }
}

/// Everything a report shows about one run.
#[derive(Debug, Clone)]
pub struct Analysis<'a> {
    pub results: &'a RunResults,
    /// The resampling behind every interval (recorded in the reports).
    pub bootstrap: Bootstrap,
    /// In the order of the results file.
    pub targets: Vec<TargetFigures<'a>>,
    /// The target with the highest median req/s against each other measured target, on
    /// req/s, p99 latency and peak memory.
    pub comparisons: Vec<FigureComparison>,
    /// Measured facts the reader should weigh (outlier trials, a busy generator, failed
    /// targets); never corrections.
    pub warnings: Vec<String>,
    /// Every claim of the registry with its verdict on this run, in registry order.
    pub verdicts: Vec<(&'a Claim, Verdict)>,
    /// Each pair measured in duet rounds.
    pub duets: Vec<DuetFigures>,
    /// A version-matrix run (`--node 20,24`): whether versions changed a comparison's
    /// direction or a claim's verdict, in one line. `None` for other runs.
    pub versions: Option<versions::Sensitivity>,
}

impl<'a> Analysis<'a> {
    /// Computes every figure of `results`, judging `claims` on it with `bootstrap` exactly as
    /// `faceoff claims --run` does.
    pub fn new(results: &'a RunResults, claims: &'a Claims, bootstrap: Bootstrap) -> Self {
        let targets: Vec<TargetFigures<'a>> = results
            .targets
            .iter()
            .map(|t| target_figures(t, &bootstrap))
            .collect();
        let comparisons = comparisons(&targets, &bootstrap);
        let duets = duet_figures(results, bootstrap.confidence);
        let mut warnings = warnings(results);
        warnings.extend(duet_warnings(results, &duets));
        // A version matrix is judged on one version per runtime (`Claims::pair_figures`).
        let verdicts = claims.verdicts(std::slice::from_ref(results), &bootstrap);
        let versions = versions::sensitivity(results, claims, &bootstrap);
        Analysis {
            results,
            bootstrap,
            targets,
            comparisons,
            warnings,
            verdicts,
            duets,
            versions,
        }
    }

    /// How many claims got each verdict, in the order reports list verdicts.
    pub fn verdict_counts(&self) -> Vec<(&'static str, usize)> {
        VERDICT_ORDER
            .iter()
            .map(|label| {
                let n = self
                    .verdicts
                    .iter()
                    .filter(|(_, v)| v.label() == *label)
                    .count();
                (*label, n)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// The ids of the contract cases checked on any target, in first-seen order.
    pub fn verify_case_ids(&self) -> Vec<&'a str> {
        let mut ids: Vec<&'a str> = Vec::new();
        for target in &self.results.targets {
            for case in &target.verify_cases {
                if !ids.contains(&case.id.as_str()) {
                    ids.push(&case.id);
                }
            }
        }
        ids
    }
}

/// Verdict labels from best to worst news, then not-run.
pub const VERDICT_ORDER: [&str; 5] = [
    "reproduced",
    "direction-only",
    "inconclusive",
    "contradicted",
    "not-run",
];

/// The starts of `result`'s trials (HTTP and chat), in trial order.
fn startup_figures(result: &TargetResult, bootstrap: &Bootstrap) -> Option<StartupFigures> {
    let starts: Vec<Startup> = result
        .trials
        .iter()
        .filter_map(|t| t.startup)
        .chain(result.chat_trials.iter().filter_map(|t| t.startup))
        .collect();
    let first = starts.first()?;
    let ready: Vec<f64> = starts.iter().map(|s| s.ready_ms).collect();
    let idle: Vec<f64> = starts
        .iter()
        .filter_map(|s| s.idle_memory_bytes)
        .map(|b| b as f64 / MIB)
        .collect();
    Some(StartupFigures {
        from: first.from,
        starts: starts.len(),
        cold_start_ms: stats::median_ci(&ready, bootstrap)?,
        trial_cold_start_ms: ready,
        idle_memory_mib: stats::median_ci(&idle, bootstrap),
        image_size_mib: result
            .image
            .as_ref()
            .and_then(|i| i.size_bytes)
            .map(|b| b as f64 / MIB),
    })
}

fn target_figures<'a>(result: &'a TargetResult, bootstrap: &Bootstrap) -> TargetFigures<'a> {
    // A cold-start trial has a start and nothing else: the load figures come from the rest.
    let trials: Vec<TrialResult> = result
        .trials
        .iter()
        .filter(|t| !t.is_start_only())
        .cloned()
        .collect();
    let trials = &trials;
    let estimate = |f: &dyn Fn(&TrialResult) -> f64| {
        let values: Vec<f64> = trials.iter().map(f).collect();
        stats::median_ci(&values, bootstrap)
    };
    let recorded = |p: &Percentile| {
        trials
            .iter()
            .any(|t| p.of(&t.latency) > 0.0 || t.latency.max_ms == 0.0)
    };
    let latency_ms = PERCENTILES
        .iter()
        .filter(|p| recorded(p))
        .filter_map(|p| estimate(&|t| p.of(&t.latency)).map(|e| (*p, e)))
        .collect();
    TargetFigures {
        result,
        trial_requests_per_sec: trials.iter().map(|t| t.requests_per_sec).collect(),
        requests_per_sec: estimate(&|t| t.requests_per_sec),
        latency_ms,
        mean_latency_ms: estimate(&|t| t.latency.mean_ms),
        peak_memory_mib: estimate(&|t| t.resources.peak_memory_bytes as f64 / MIB),
        mean_cpu_percent: estimate(&|t| t.resources.mean_cpu_percent),
        requests: trials.iter().map(|t| t.requests).sum(),
        errors: trials.iter().map(|t| t.errors.total()).sum(),
        memory: trials
            .iter()
            .map(|t| {
                t.resources
                    .samples
                    .iter()
                    .map(|s| MemoryPoint {
                        t_s: s.t_ms as f64 / 1000.0,
                        mib: s.memory_bytes as f64 / MIB,
                    })
                    .collect()
            })
            .collect(),
        startup: startup_figures(result, bootstrap),
        mixed: mixed_figures(trials, bootstrap),
    }
}

fn comparisons(targets: &[TargetFigures<'_>], bootstrap: &Bootstrap) -> Vec<FigureComparison> {
    let measured: Vec<&TargetFigures<'_>> = targets.iter().filter(|t| t.measured()).collect();
    let Some(reference) = measured.iter().copied().max_by(|a, b| {
        let median = |t: &TargetFigures<'_>| t.requests_per_sec.map_or(0.0, |e| e.median);
        median(a).total_cmp(&median(b))
    }) else {
        return Vec::new();
    };
    type Figure = fn(&TrialResult) -> f64;
    let figures: [(&'static str, bool, Figure); 3] = [
        ("req/s", true, |t| t.requests_per_sec),
        ("p99 latency", false, |t| t.latency.p99_ms),
        ("peak memory", false, |t| {
            t.resources.peak_memory_bytes as f64 / MIB
        }),
    ];
    let mut out = Vec::new();
    for (figure, higher_is_better, of) in figures {
        let values = |t: &TargetFigures<'_>| -> Vec<f64> {
            t.result.trials.iter().map(of).collect::<Vec<f64>>()
        };
        for other in measured
            .iter()
            .filter(|t| t.result.target != reference.result.target)
        {
            if let Some(comparison) = Comparison::new(
                &reference.result.target,
                &values(reference),
                &other.result.target,
                &values(other),
                bootstrap,
            ) {
                out.push(FigureComparison {
                    figure,
                    higher_is_better,
                    comparison,
                });
            }
        }
    }
    out
}

fn duet_figures(results: &RunResults, confidence: f64) -> Vec<DuetFigures> {
    results
        .duets
        .iter()
        .map(|duet| {
            let [a, b] = &duet.targets;
            let (pairs, a_first): (Vec<(f64, f64)>, Vec<bool>) = duet
                .rounds
                .iter()
                .map(|r| {
                    (
                        (r.trials[0].requests_per_sec, r.trials[1].requests_per_sec),
                        r.first_started_first(&duet.targets),
                    )
                })
                .unzip();
            DuetFigures {
                a: a.clone(),
                b: b.clone(),
                ratio: stats::crossover_ratio_ci(&pairs, &a_first, confidence),
                error: duet.error.clone(),
            }
        })
        .collect()
}

/// Rounds whose ratio jumps away from the pair's others, and rounds where a server used
/// less than its fair share of the shared cpuset.
fn duet_warnings(results: &RunResults, duets: &[DuetFigures]) -> Vec<String> {
    let mut warnings = Vec::new();
    for (duet, record) in duets.iter().zip(&results.duets) {
        let pair = format!("{} / {}", duet.a, duet.b);
        if let Some(ratio) = &duet.ratio {
            for &index in &ratio.flagged {
                warnings.push(format!(
                    "duet {pair}: round {} gave {:.3}, far from the other rounds (kept in every figure); the host may have hit one server alone.",
                    index + 1,
                    ratio.rounds[index]
                ));
            }
        }
        // From the recorded cpuset, which may be another host's.
        let expected = (
            crate::claims::duet_expected_percent(results, &record.targets[0]),
            crate::claims::duet_expected_percent(results, &record.targets[1]),
        );
        for (round, x, y) in record.server_cpu() {
            if crate::claims::short_of_fair_share(x, y, expected) {
                warnings.push(format!(
                    "duet {pair}: round {round} servers used {x:.0}% and {y:.0}% CPU where {:.0}% and {:.0}% were expected: one did not stay CPU-bound, so the other had more than its share of the cpuset.",
                    expected.0, expected.1
                ));
            }
        }
        if let Some(error) = &duet.error {
            warnings.push(format!("duet {pair} stopped: {error}"));
        }
    }
    warnings
}

fn warnings(results: &RunResults) -> Vec<String> {
    let mut warnings: Vec<String> = crate::results::versions::warning(results)
        .into_iter()
        .collect();
    if let Some(mixed) =
        crate::merge::mixed_warning(results, &format!("this file (run {})", results.run_id))
    {
        warnings.push(mixed);
    }
    for peer in &results.concurrent_runs {
        warnings.push(format!(
            "another faceoff measured at the same time ({}): both shared the CPUs, so these figures are lower than the servers alone give. Run again alone.",
            peer.describe()
        ));
    }
    for target in &results.targets {
        if target.status == TargetStatus::Failed {
            warnings.push(format!(
                "{} failed: {}",
                target.target,
                target.error.as_deref().unwrap_or("no reason recorded")
            ));
        }
        for trial in &target.trials {
            if let Some(why) = &trial.unresponsive {
                warnings.push(format!(
                    "{} trial {}: the target stopped answering ({why}); its figures measure the stall, not the server. Kept in every figure: run it again.",
                    target.target, trial.trial
                ));
            }
            if trial.generator_cpu_percent > crate::sample::GENERATOR_BUSY_WARNING {
                warnings.push(format!(
                    "{} trial {}: the load generator kept its CPUs {:.0}% busy; it may have set the pace, not the server.",
                    target.target, trial.trial, trial.generator_cpu_percent
                ));
            }
        }
    }
    warnings.extend(outlier_warnings(results));
    if results.parameters.trials < 2 {
        warnings.push(
            "one trial per target: the intervals are points and say nothing about the spread (run with --trials 5)."
                .into(),
        );
    }
    warnings
}

/// Warnings for trials whose req/s is far from the same target's other trials (kept in
/// every figure, as hyperfine keeps its outliers).
pub fn outlier_warnings(results: &RunResults) -> Vec<String> {
    let mut warnings = Vec::new();
    for target in &results.targets {
        let rps: Vec<f64> = target.trials.iter().map(|t| t.requests_per_sec).collect();
        for outlier in stats::outliers(&rps, stats::OUTLIER_THRESHOLD) {
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

pub mod scaling;

#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod tests {
    use crate::analysis::test_support::{analysis_of, cold_start_results, fixture_results};

    #[test]
    fn the_blocked_and_offloaded_ratios_come_from_a_mixed_trials_windows() {
        use crate::claims::Metric;
        let results = crate::analysis::test_support::mixed_results(2.0, 20.0, 3.0);
        let trial = &results.targets[0].trials[0];
        assert_eq!(Metric::BlockedP99Ratio.of(trial), Some(10.0));
        assert_eq!(Metric::OffloadedP99Ratio.of(trial), Some(1.5));
        let plain = fixture_results();
        assert_eq!(
            Metric::BlockedP99Ratio.of(&plain.targets[0].trials[0]),
            None
        );
        let figures = analysis_of(&results, |a| a.targets[0].mixed.clone()).unwrap();
        let ratios: Vec<Option<f64>> = figures
            .windows
            .iter()
            .map(|w| w.p99_ratio.map(|e| e.median))
            .collect();
        assert_eq!(ratios, [None, Some(10.0), Some(1.5)]);
    }

    #[test]
    fn starts_are_summarised_apart_from_the_load() {
        let results = cold_start_results(300.0);
        analysis_of(&results, |analysis| {
            let target = &analysis.targets[0];
            assert!(!target.measured(), "a start-only run has no load figures");
            let start = target.startup.as_ref().unwrap();
            assert_eq!(start.starts, results.targets[0].trials.len());
            assert!(start.cold_start_ms.median >= 300.0, "{start:?}");
            assert_eq!(start.idle_memory_mib.unwrap().median, 40.0);
            assert_eq!(start.image_size_mib, Some(150.0));
        });
    }

    #[test]
    fn an_old_file_without_starts_has_no_start_figures() {
        let results = fixture_results();
        analysis_of(&results, |analysis| {
            assert!(analysis.targets.iter().all(|t| t.startup.is_none()));
        });
    }

    #[test]
    fn a_percentile_older_files_did_not_record_is_left_out() {
        let mut results = fixture_results();
        for trial in results.targets.iter_mut().flat_map(|t| t.trials.iter_mut()) {
            trial.latency.p9999_ms = 0.0;
        }
        analysis_of(&results, |analysis| {
            let target = &analysis.targets[0];
            assert!(target.latency("p99.99").is_none());
            assert!(target.latency("p99.9").is_some_and(|e| e.median > 0.0));
        });
    }

    #[test]
    fn medians_and_intervals_come_from_the_trials() {
        let results = fixture_results();
        analysis_of(&results, |analysis| {
            let target = &analysis.targets[0];
            let rps: Vec<f64> = results.targets[0]
                .trials
                .iter()
                .map(|t| t.requests_per_sec)
                .collect();
            let estimate = target.requests_per_sec.expect("measured");
            assert_eq!(Some(estimate.median), crate::stats::median(&rps));
            assert!(estimate.ci.low <= estimate.median && estimate.median <= estimate.ci.high);
            assert_eq!(target.trial_requests_per_sec, rps);
        });
    }
}
