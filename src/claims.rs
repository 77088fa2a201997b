//! The claims registry (`fixtures/claims.toml`): every figure the seed articles quote about
//! Node.js vs Python performance, and the verdict faceoff's measurements give each one.
//!
//! Loading parses at the edge and validates everything the verdicts rely on. Judging is pure:
//! [`judge`] takes a claim and plain per-trial figures, [`Claims::figures`] pulls those
//! figures out of results files. Nothing here prints; the report decides how verdicts look.
//!
//! A verdict rests on the ratio and direction between two targets measured on the same host
//! under the same limits. Absolute figures from the articles were measured on other hardware:
//! they are carried beside ours and only judged (loosely) for the claims that are nothing
//! but an absolute figure.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, Fixtures, LoadMode, parse_str};
use crate::results::{RunResults, TargetStatus, TrialResult, VerifyStatus};
use crate::stats::{self, Bootstrap, Estimate, Interval, OUTLIER_THRESHOLD, RatioEstimate};

/// Where the registry lives, relative to the repository root.
pub const CLAIMS_FILE: &str = "fixtures/claims.toml";

/// Default tolerance on a claimed ratio: ours reproduces it when it lies within
/// `[low / 1.25, high * 1.25]`. Both targets run on the same host under the same limits, so
/// the ratio cancels most of the hardware; what it does not cancel (CPU generation, core
/// count, runtime and framework versions, load tool, payload) moves framework-to-framework
/// ratios by tens of percent between public benchmark rounds. 25% absorbs that and still
/// tells a 2.9x claim from a 1.5x or a 7.9x result.
pub const DEFAULT_TOLERANCE: f64 = 0.25;

/// Default tolerance on an absolute figure (a claim about one target's req/s or connection
/// count): within a factor of two either way. Absolute figures depend on the host itself
/// (CPU model, cores, worker count), so only the order of magnitude can be checked.
pub const DEFAULT_ABSOLUTE_TOLERANCE: f64 = 1.0;

/// How far a quoted ratio may sit from the one computed from the quoted figures before the
/// registry is rejected: the articles round (9,340 / 1,185 = 7.88 is quoted as "7.9x").
pub const ROUNDING_SLACK: f64 = 0.02;

/// The longest quote accepted: quotes are short verbatim excerpts, not passages.
pub const MAX_QUOTE_CHARS: usize = 400;

/// A figure faceoff measures (or will measure) per trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Completed responses per second in the measured window.
    RequestsPerSec,
    LatencyP50Ms,
    LatencyP75Ms,
    LatencyP90Ms,
    LatencyP99Ms,
    LatencyP999Ms,
    LatencyMaxMs,
    /// Mean latency ("average response time").
    LatencyMeanMs,
    /// Peak container memory, MiB.
    PeakMemoryMib,
    /// Mean container memory, MiB.
    MeanMemoryMib,
    /// Time to finish a fixed amount of work, measured as wall-clock seconds per completed
    /// request across all connections: at equal concurrency its ratio between two targets is
    /// the ratio of the time each needs for the same batch.
    DurationS,
    /// Chat connections a server holds open and joined: the capacity ramp's figure at
    /// its last passing step (`faceoff run --workload chat --profile capacity`).
    ConnectionsHeld,
    /// Server memory per held chat connection, KiB, at that step (idle memory subtracted).
    MemoryPerConnectionKib,
}

impl Metric {
    /// The name used in `fixtures/claims.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::RequestsPerSec => "requests_per_sec",
            Metric::LatencyP50Ms => "latency_p50_ms",
            Metric::LatencyP75Ms => "latency_p75_ms",
            Metric::LatencyP90Ms => "latency_p90_ms",
            Metric::LatencyP99Ms => "latency_p99_ms",
            Metric::LatencyP999Ms => "latency_p999_ms",
            Metric::LatencyMaxMs => "latency_max_ms",
            Metric::LatencyMeanMs => "latency_mean_ms",
            Metric::PeakMemoryMib => "peak_memory_mib",
            Metric::MeanMemoryMib => "mean_memory_mib",
            Metric::DurationS => "duration_s",
            Metric::ConnectionsHeld => "connections_held",
            Metric::MemoryPerConnectionKib => "memory_per_connection_kib",
        }
    }

    /// The unit of faceoff's figure.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::RequestsPerSec => "req/s",
            Metric::LatencyP50Ms
            | Metric::LatencyP75Ms
            | Metric::LatencyP90Ms
            | Metric::LatencyP99Ms
            | Metric::LatencyP999Ms
            | Metric::LatencyMaxMs
            | Metric::LatencyMeanMs => "ms",
            Metric::PeakMemoryMib | Metric::MeanMemoryMib => "MiB",
            Metric::DurationS => "s",
            Metric::ConnectionsHeld => "connections",
            Metric::MemoryPerConnectionKib => "KiB",
        }
    }

    /// Whether a larger figure is the better one (throughput, connections) or the worse one
    /// (latency, memory, time).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::RequestsPerSec | Metric::ConnectionsHeld)
    }

    /// Whether any faceoff trial records this figure.
    pub fn is_measured(self) -> bool {
        true
    }

    /// Whether only a chat capacity ramp gives this figure.
    pub fn is_capacity(self) -> bool {
        matches!(
            self,
            Metric::ConnectionsHeld | Metric::MemoryPerConnectionKib
        )
    }

    /// This figure in one chat trial; `None` when the trial cannot give it.
    pub fn of_chat(self, trial: &crate::results::ChatTrial) -> Option<f64> {
        let ramp = trial.capacity.as_ref();
        let fanout = trial.fanout.as_ref().map(|f| &f.latency);
        match self {
            Metric::ConnectionsHeld => ramp.map(|r| r.connections_held as f64),
            Metric::MemoryPerConnectionKib => ramp?.memory_per_connection_bytes.map(|b| b / 1024.0),
            Metric::LatencyP50Ms => fanout.map(|l| l.p50_ms),
            Metric::LatencyP99Ms => fanout.map(|l| l.p99_ms),
            Metric::LatencyMaxMs => fanout.map(|l| l.max_ms),
            Metric::LatencyMeanMs => fanout.map(|l| l.mean_ms),
            _ => None,
        }
    }

    /// This figure in one trial; `None` when the trial cannot give it (no completed request
    /// for [`Metric::DurationS`], or a metric faceoff does not measure).
    pub fn of(self, trial: &TrialResult) -> Option<f64> {
        const MIB: f64 = 1024.0 * 1024.0;
        let l = &trial.latency;
        Some(match self {
            Metric::RequestsPerSec => trial.requests_per_sec,
            Metric::LatencyP50Ms => l.p50_ms,
            Metric::LatencyP75Ms => l.p75_ms,
            Metric::LatencyP90Ms => l.p90_ms,
            Metric::LatencyP99Ms => l.p99_ms,
            Metric::LatencyP999Ms => l.p999_ms,
            Metric::LatencyMaxMs => l.max_ms,
            Metric::LatencyMeanMs => l.mean_ms,
            Metric::PeakMemoryMib => trial.resources.peak_memory_bytes as f64 / MIB,
            Metric::MeanMemoryMib => trial.resources.mean_memory_bytes as f64 / MIB,
            Metric::DurationS if trial.requests > 0 => trial.duration_s / trial.requests as f64,
            Metric::DurationS | Metric::ConnectionsHeld | Metric::MemoryPerConnectionKib => {
                return None;
            }
        })
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a claim asserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `winner` beats the other target by `ratio` (a number or a range).
    Ratio,
    /// `winner` beats the other target; no factor quoted.
    Direction,
    /// The two targets perform alike ("comparable", "competitive").
    Parity,
    /// One target reaches a figure (`value` or `at_least`), measured on the article's host.
    Absolute,
}

/// A quoted number or range, e.g. `2.9` or `[1.4, 1.6]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged, expecting = "a number like 2.9 or a range like [1.4, 1.6]")]
pub enum Quoted {
    Single(f64),
    Range([f64; 2]),
}

impl Quoted {
    /// The lower end (the number itself when single).
    pub fn low(self) -> f64 {
        match self {
            Quoted::Single(v) => v,
            Quoted::Range([low, _]) => low,
        }
    }

    /// The upper end (the number itself when single).
    pub fn high(self) -> f64 {
        match self {
            Quoted::Single(v) => v,
            Quoted::Range([_, high]) => high,
        }
    }
}

/// The concurrency a claim was measured at, as far as the article says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Concurrency {
    exactly: Option<u32>,
    at_least: Option<u32>,
}

impl Concurrency {
    /// Why a run with `connections` does not meet it, if it does not.
    fn mismatch(self, connections: usize) -> Option<String> {
        match (self.exactly, self.at_least) {
            (Some(want), _) if connections != want as usize => Some(format!(
                "needs {want} connections, the run used {connections}"
            )),
            (_, Some(min)) if connections < min as usize => Some(format!(
                "needs at least {min} connections, the run used {connections}"
            )),
            _ => None,
        }
    }
}

/// A workload a claim needs that faceoff cannot run yet, and what running it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedWorkload {
    pub name: String,
    pub needs: String,
}

/// One quoted figure or comparison, as written in `fixtures/claims.toml` (the file's header
/// documents every field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub id: String,
    /// The seed article's file name.
    pub source: String,
    /// Verbatim excerpt; separate excerpts are joined by " … ".
    pub quote: String,
    pub kind: Kind,
    pub a: String,
    pub b: Option<String>,
    /// The target the article says is better (`ratio` and `direction` claims).
    pub winner: Option<String>,
    pub workload: String,
    /// The load profile of `fixtures/profiles.toml` that reproduces the article's conditions.
    pub profile: Option<String>,
    /// The article's concurrency: runs at other concurrency do not count.
    pub connections: Option<u32>,
    /// The article's "N+ concurrent": runs below do not count.
    pub min_connections: Option<u32>,
    pub metric: Metric,
    /// The article's figure for `a`, in `unit`.
    pub a_value: Option<f64>,
    /// The article's figure for `b`, in `unit`.
    pub b_value: Option<f64>,
    /// Unit of the article's figures.
    pub unit: Option<String>,
    /// How many times better the winner is, as the article puts it (always >= 1): 7.9 for
    /// "7.9x the throughput", 6.2 for "3.4 ms vs 21.0 ms".
    pub ratio: Option<Quoted>,
    /// `absolute` claims: the figure or range `a` reaches.
    pub value: Option<Quoted>,
    /// `absolute` claims: the figure `a` reaches at least.
    pub at_least: Option<f64>,
    /// Hardware, versions and load conditions the article states.
    pub conditions: Option<String>,
    /// How the claim was mapped onto faceoff's targets and workloads.
    pub note: Option<String>,
    /// Relative tolerance on the ratio (or on the value, for `absolute` claims).
    pub tolerance: Option<f64>,
}

impl Claim {
    /// The tolerance in force: the claim's own, else the default for its kind.
    pub fn tolerance(&self) -> f64 {
        self.tolerance.unwrap_or(match self.kind {
            Kind::Absolute => DEFAULT_ABSOLUTE_TOLERANCE,
            _ => DEFAULT_TOLERANCE,
        })
    }

    fn concurrency(&self) -> Concurrency {
        Concurrency {
            exactly: self.connections,
            at_least: self.min_connections,
        }
    }

    /// The targets the claim needs figures from, `a` first.
    pub fn targets(&self) -> Vec<&str> {
        std::iter::once(self.a.as_str())
            .chain(self.b.as_deref())
            .collect()
    }

    /// The claimed winner's advantage computed from the quoted figures (>= 1 when the
    /// quoted winner really has the better figure).
    pub fn quoted_advantage(&self) -> Option<f64> {
        let (a, b) = (self.a_value?, self.b_value?);
        Some(self.orient(a / b))
    }

    /// Whether `a / b` must be inverted to read as the claimed winner's advantage: the
    /// winner is `a` on a lower-is-better metric, or `b` on a higher-is-better one.
    fn flips(&self) -> bool {
        let Some(winner) = self.winner.as_deref() else {
            return false;
        };
        (winner == self.a) != self.metric.higher_is_better()
    }

    /// Turns `a / b` into the claimed winner's advantage: above 1 means the winner has the
    /// better figure. Parity and absolute claims keep `a / b`.
    fn orient(&self, a_over_b: f64) -> f64 {
        if self.flips() {
            1.0 / a_over_b
        } else {
            a_over_b
        }
    }

    fn orient_interval(&self, a_over_b: Interval) -> Interval {
        if self.flips() {
            a_over_b.reciprocal()
        } else {
            a_over_b
        }
    }

    /// The article's side of the verdict.
    pub fn theirs(&self) -> Theirs {
        Theirs {
            a: self.a.clone(),
            b: self.b.clone(),
            winner: self.winner.clone(),
            a_value: self.a_value,
            b_value: self.b_value,
            unit: self.unit.clone(),
            ratio: self.ratio,
            value: self.value,
            at_least: self.at_least,
            conditions: self.conditions.clone(),
            other_host: true,
        }
    }

    /// The band a reproduced figure falls in: the claimed ratio (or value) widened by the
    /// tolerance on both sides. `None` for direction claims, which have no factor.
    pub fn band(&self) -> Option<Band> {
        let widen = 1.0 + self.tolerance();
        match self.kind {
            Kind::Ratio => {
                let ratio = self
                    .ratio
                    .or_else(|| self.quoted_advantage().map(Quoted::Single))?;
                Some(Band {
                    low: ratio.low() / widen,
                    high: Some(ratio.high() * widen),
                })
            }
            Kind::Parity => Some(Band {
                low: 1.0 / widen,
                high: Some(widen),
            }),
            Kind::Absolute => match (self.value, self.at_least) {
                (Some(value), _) => Some(Band {
                    low: value.low() / widen,
                    high: Some(value.high() * widen),
                }),
                (None, Some(min)) => Some(Band {
                    low: min / widen,
                    high: None,
                }),
                (None, None) => None,
            },
            Kind::Direction => None,
        }
    }
}

/// `[low, high]`, or `[low, ∞)` when `high` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub low: f64,
    pub high: Option<f64>,
}

impl Band {
    /// Whether `value` lies in the band, ends included.
    pub fn contains(&self, value: f64) -> bool {
        value >= self.low && self.high.is_none_or(|high| value <= high)
    }

    /// Whether any of `interval` lies in the band.
    pub fn overlaps(&self, interval: Interval) -> bool {
        interval.high >= self.low && self.high.is_none_or(|high| interval.low <= high)
    }
}

/// The article's figures, carried beside ours in every verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Theirs {
    pub a: String,
    pub b: Option<String>,
    pub winner: Option<String>,
    pub a_value: Option<f64>,
    pub b_value: Option<f64>,
    pub unit: Option<String>,
    pub ratio: Option<Quoted>,
    pub value: Option<Quoted>,
    pub at_least: Option<f64>,
    pub conditions: Option<String>,
    /// Always true: the article measured on its own hardware, so its absolute figures do not
    /// compare with ours; only ratios and directions do.
    pub other_host: bool,
}

/// A trial flagged as far from the others (kept in every figure).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlaggedTrial {
    pub target: String,
    /// Position of the trial among the target's figures.
    pub index: usize,
    pub value: f64,
    /// Modified z-score.
    pub score: f64,
}

/// faceoff's side of a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ours {
    pub metric: Metric,
    /// Median and interval of `a`'s figure.
    pub a: Estimate,
    /// Median and interval of `b`'s figure (comparison claims).
    pub b: Option<Estimate>,
    /// `a / b` with its interval (comparison claims).
    pub ratio: Option<RatioEstimate>,
    /// What the verdict was decided on, in the claim's terms: the claimed winner's advantage
    /// (above 1: the claimed winner won) for ratio and direction claims, `a / b` for parity
    /// claims, `a`'s median for absolute claims.
    pub judged: f64,
    /// The interval of `judged`.
    pub judged_ci: Interval,
    /// The band `judged` had to fall in; `None` for direction claims.
    pub band: Option<Band>,
    /// Trials far from their target's others: shown, never dropped.
    pub outliers: Vec<FlaggedTrial>,
    /// Some side rests on a single trial: its interval is a point and says nothing.
    pub single_trial: bool,
}

/// The verdict on one claim, always with the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Same winner, ratio within tolerance (or: parity held, absolute figure in range).
    Reproduced { ours: Ours, theirs: Theirs },
    /// Same winner, ratio outside the tolerance.
    DirectionOnly { ours: Ours, theirs: Theirs },
    /// The other target won beyond the noise (or: parity broken, absolute figure far off).
    Contradicted { ours: Ours, theirs: Theirs },
    /// The interval spans the line: no winner can be named from these trials.
    Inconclusive { ours: Ours, theirs: Theirs },
    /// Nothing to judge, and why.
    NotRun { why: String, theirs: Theirs },
}

impl Verdict {
    /// The verdict's name as shown to users: `reproduced`, `direction-only`, …
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Reproduced { .. } => "reproduced",
            Verdict::DirectionOnly { .. } => "direction-only",
            Verdict::Contradicted { .. } => "contradicted",
            Verdict::Inconclusive { .. } => "inconclusive",
            Verdict::NotRun { .. } => "not-run",
        }
    }

    /// faceoff's numbers; `None` when the claim was not run.
    pub fn ours(&self) -> Option<&Ours> {
        match self {
            Verdict::Reproduced { ours, .. }
            | Verdict::DirectionOnly { ours, .. }
            | Verdict::Contradicted { ours, .. }
            | Verdict::Inconclusive { ours, .. } => Some(ours),
            Verdict::NotRun { .. } => None,
        }
    }

    /// The article's numbers, present in every verdict.
    pub fn theirs(&self) -> &Theirs {
        match self {
            Verdict::Reproduced { theirs, .. }
            | Verdict::DirectionOnly { theirs, .. }
            | Verdict::Contradicted { theirs, .. }
            | Verdict::Inconclusive { theirs, .. }
            | Verdict::NotRun { theirs, .. } => theirs,
        }
    }

    /// Why the claim was not run, for [`Verdict::NotRun`].
    pub fn why(&self) -> Option<&str> {
        match self {
            Verdict::NotRun { why, .. } => Some(why),
            _ => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Judges `claim` on the measured per-trial figures of its targets (`a` for target `a`, `b`
/// for target `b`; `b` is ignored by absolute claims). Pure and reproducible: the same
/// figures and bootstrap settings give the same verdict.
///
/// - ratio: the interval of the winner's advantage spans 1 → inconclusive; lies below 1 →
///   contradicted; else its interval reaching the band → reproduced (the claimed ratio is
///   within our uncertainty), the whole interval outside it → direction-only. Judging the
///   interval rather than the median keeps a median near the band's edge from flipping the
///   verdict between two runs of the same command.
/// - direction: spans 1 → inconclusive; above → reproduced; below → contradicted.
/// - parity: `a / b` inside `[1 / (1 + tol), 1 + tol]` → reproduced; else spans 1 →
///   inconclusive; else contradicted.
/// - absolute: `a`'s median inside the band → reproduced; else its interval overlaps the
///   band → inconclusive; else contradicted.
pub fn judge(claim: &Claim, a: &[f64], b: &[f64], bootstrap: &Bootstrap) -> Verdict {
    let theirs = claim.theirs();
    let not_run = |why: String| Verdict::NotRun {
        why,
        theirs: claim.theirs(),
    };
    let Some(a_est) = stats::median_ci(a, bootstrap) else {
        return not_run(format!("no {} figures for {}", claim.metric, claim.a));
    };
    let mut outliers = flag(&claim.a, a);
    let band = claim.band();

    if claim.kind == Kind::Absolute {
        let Some(band) = band else {
            return not_run(format!("claim `{}` states no value", claim.id));
        };
        let ours = Ours {
            metric: claim.metric,
            a: a_est,
            b: None,
            ratio: None,
            judged: a_est.median,
            judged_ci: a_est.ci,
            band: Some(band),
            outliers,
            single_trial: a_est.is_single_trial(),
        };
        return if band.contains(a_est.median) {
            Verdict::Reproduced { ours, theirs }
        } else if band.overlaps(a_est.ci) {
            Verdict::Inconclusive { ours, theirs }
        } else {
            Verdict::Contradicted { ours, theirs }
        };
    }

    let b_name = claim.b.as_deref().unwrap_or("b");
    let Some(b_est) = stats::median_ci(b, bootstrap) else {
        return not_run(format!("no {} figures for {b_name}", claim.metric));
    };
    let Some(ratio) = stats::ratio_ci(a, b, bootstrap) else {
        return not_run(format!(
            "{b_name}'s median {} is {}: no ratio to compare",
            claim.metric, b_est.median
        ));
    };
    outliers.extend(flag(b_name, b));
    let ours = Ours {
        metric: claim.metric,
        a: a_est,
        b: Some(b_est),
        ratio: Some(ratio),
        judged: claim.orient(ratio.ratio),
        judged_ci: claim.orient_interval(ratio.ci),
        band,
        outliers,
        single_trial: ratio.is_single_trial(),
    };
    let spans_one = ours.judged_ci.contains(1.0);
    match claim.kind {
        Kind::Parity => {
            let within = band.is_some_and(|band| band.contains(ours.judged));
            if within {
                Verdict::Reproduced { ours, theirs }
            } else if spans_one {
                Verdict::Inconclusive { ours, theirs }
            } else {
                Verdict::Contradicted { ours, theirs }
            }
        }
        _ if spans_one => Verdict::Inconclusive { ours, theirs },
        _ if ours.judged < 1.0 => Verdict::Contradicted { ours, theirs },
        _ => match band {
            Some(band) if !band.overlaps(ours.judged_ci) => Verdict::DirectionOnly { ours, theirs },
            _ => Verdict::Reproduced { ours, theirs },
        },
    }
}

fn flag(target: &str, values: &[f64]) -> Vec<FlaggedTrial> {
    stats::outliers(values, OUTLIER_THRESHOLD)
        .into_iter()
        .map(|o| FlaggedTrial {
            target: target.to_string(),
            index: o.index,
            value: o.value,
            score: o.score,
        })
        .collect()
}

/// The per-trial figures a claim needs, pulled out of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimFigures {
    /// The run they came from.
    pub run_id: String,
    pub a: Vec<f64>,
    /// Empty for absolute claims.
    pub b: Vec<f64>,
}

/// The registry, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// The file it was read from.
    pub path: PathBuf,
    /// Workloads claims need that faceoff cannot run yet.
    pub planned: Vec<PlannedWorkload>,
    pub claims: Vec<Claim>,
    /// How each known load profile drives load: open-loop runs do not count for claims.
    pub profile_modes: BTreeMap<String, LoadMode>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimsFile {
    #[serde(default)]
    planned: Vec<PlannedWorkload>,
    claim: Vec<Claim>,
}

impl Claims {
    /// Loads and validates `fixtures/claims.toml` under `root`, checking its target, workload
    /// and profile names against the fixtures there.
    pub fn load(root: &Path) -> Result<Self, ConfigError> {
        let fixtures = Fixtures::load(root)?;
        let path = root.join(CLAIMS_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Self::parse(&text, &path, &fixtures)
    }

    /// Parses and validates registry text against `fixtures`; errors name `path`, the line
    /// and the field.
    pub fn parse(text: &str, path: &Path, fixtures: &Fixtures) -> Result<Self, ConfigError> {
        let file: ClaimsFile = parse_str(text, path)?;
        let claims = Claims {
            path: path.to_path_buf(),
            planned: file.planned,
            claims: file.claim,
            profile_modes: fixtures
                .profiles
                .iter()
                .map(|p| (p.name.clone(), p.mode))
                .collect(),
        };
        claims.validate(text, fixtures)?;
        Ok(claims)
    }

    /// The claim called `id`.
    pub fn get(&self, id: &str) -> Option<&Claim> {
        self.claims.iter().find(|c| c.id == id)
    }

    /// The planned workload called `name`, if faceoff cannot run it yet.
    pub fn planned(&self, name: &str) -> Option<&PlannedWorkload> {
        self.planned.iter().find(|p| p.name == name)
    }

    fn validate(&self, text: &str, fixtures: &Fixtures) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: self.path.clone(),
            message,
        };
        let mut planned = BTreeSet::new();
        for p in &self.planned {
            if !planned.insert(p.name.as_str()) {
                return Err(invalid(format!(
                    "planned workload `{}` listed twice",
                    p.name
                )));
            }
        }
        if self.claims.is_empty() {
            return Err(invalid("no [[claim]] defined".into()));
        }
        let mut ids = BTreeSet::new();
        for claim in &self.claims {
            let at = |field: &str, problem: String| {
                invalid(format!(
                    "{}claim `{}`, field `{field}`: {problem}",
                    line_of(text, &claim.id)
                        .map(|n| format!("line {n}, "))
                        .unwrap_or_default(),
                    claim.id
                ))
            };
            if !ids.insert(claim.id.as_str()) {
                return Err(at("id", "defined twice".into()));
            }
            check_claim(claim, fixtures, &planned).map_err(|(f, p)| at(f, p))?;
        }
        Ok(())
    }

    /// The per-trial figures `claim` needs from `runs` (one results file per workload run),
    /// or why there are none. Among several runs of the claim's workload that meet its
    /// profile, the last one holding both targets wins: pass runs oldest first.
    pub fn figures(&self, claim: &Claim, runs: &[RunResults]) -> Result<ClaimFigures, String> {
        if let Some(planned) = self.planned(&claim.workload) {
            return Err(format!(
                "needs the `{}` workload ({}), which faceoff cannot run yet",
                planned.name, planned.needs
            ));
        }
        if !claim.metric.is_measured() {
            return Err(format!("faceoff does not measure {} yet", claim.metric));
        }
        let targets = claim.targets();
        let rerun = rerun_hint(claim);
        let of_workload: Vec<&RunResults> = runs
            .iter()
            .filter(|r| r.parameters.workload == claim.workload)
            .collect();
        if of_workload.is_empty() {
            return Err(format!(
                "no run of the `{}` workload in the results ({rerun})",
                claim.workload
            ));
        }
        let mode_of = |r: &RunResults| self.profile_modes.get(&r.parameters.profile).copied();
        if claim.metric.is_capacity() {
            let ramps: Vec<&RunResults> = of_workload
                .iter()
                .copied()
                .filter(|r| mode_of(r) == Some(LoadMode::Capacity))
                .collect();
            let Some(last) = ramps.last() else {
                return Err(format!(
                    "no capacity run of the `{}` workload ({rerun})",
                    claim.workload
                ));
            };
            let run = ramps
                .iter()
                .rev()
                .find(|r| targets.iter().all(|t| figures_of(r, claim, t).is_ok()))
                .unwrap_or(last);
            let a = figures_of(run, claim, &claim.a)?;
            let b = match claim.b.as_deref() {
                Some(b) => figures_of(run, claim, b)?,
                None => Vec::new(),
            };
            host_bound_check(claim, run, &a, &b)?;
            return Ok(ClaimFigures {
                run_id: run.run_id.clone(),
                a,
                b,
            });
        }
        let closed: Vec<&RunResults> = of_workload
            .iter()
            .copied()
            .filter(|r| mode_of(r).is_none_or(|mode| mode == LoadMode::Closed))
            .collect();
        let Some(last_closed) = closed.last() else {
            return Err(format!(
                "the `{}` workload ran only under open-loop profiles; the articles' figures are closed-loop ({rerun})",
                claim.workload
            ));
        };
        let concurrency = claim.concurrency();
        let fitting: Vec<&RunResults> = closed
            .iter()
            .copied()
            .filter(|r| concurrency.mismatch(r.parameters.connections).is_none())
            .collect();
        let Some(last) = fitting.last() else {
            let why = concurrency
                .mismatch(last_closed.parameters.connections)
                .unwrap_or_default();
            return Err(format!("{why} ({rerun})"));
        };
        let run = fitting
            .iter()
            .rev()
            .find(|r| targets.iter().all(|t| figures_of(r, claim, t).is_ok()))
            .unwrap_or(last);
        let a = figures_of(run, claim, &claim.a)?;
        let b = match claim.b.as_deref() {
            Some(b) => figures_of(run, claim, b)?,
            None => Vec::new(),
        };
        Ok(ClaimFigures {
            run_id: run.run_id.clone(),
            a,
            b,
        })
    }

    /// Every claim's verdict on `runs`, in registry order; claims nothing ran are `not-run`
    /// with the reason, never left out.
    pub fn verdicts(&self, runs: &[RunResults], bootstrap: &Bootstrap) -> Vec<(&Claim, Verdict)> {
        self.claims
            .iter()
            .map(|claim| {
                let verdict = match self.figures(claim, runs) {
                    Ok(figures) => judge(claim, &figures.a, &figures.b, bootstrap),
                    Err(why) => Verdict::NotRun {
                        why,
                        theirs: claim.theirs(),
                    },
                };
                (claim, verdict)
            })
            .collect()
    }
}

/// The command that produces what `claim` needs.
fn rerun_hint(claim: &Claim) -> String {
    let load = match (&claim.profile, claim.connections.or(claim.min_connections)) {
        (Some(profile), _) => format!(" --profile {profile}"),
        (None, Some(n)) => format!(" --connections {n}"),
        (None, None) => String::new(),
    };
    format!(
        "faceoff run --workload {} --targets {}{load}",
        claim.workload,
        claim.targets().join(",")
    )
}

/// One target's figures in one run, or why there are none. A target that failed part-way
/// keeps the trials it finished.
fn figures_of(run: &RunResults, claim: &Claim, target: &str) -> Result<Vec<f64>, String> {
    let workload = &run.parameters.workload;
    let Some(result) = run.targets.iter().find(|t| t.target == target) else {
        return Err(format!(
            "{target} was not measured in the {workload} run {} ({})",
            run.run_id,
            rerun_hint(claim)
        ));
    };
    if result.verify == VerifyStatus::Failed {
        return Err(format!(
            "{target} failed the {workload} contract check in run {}, so it was not timed",
            run.run_id
        ));
    }
    if result.status == TargetStatus::Failed
        && result.trials.is_empty()
        && result.chat_trials.is_empty()
    {
        let error = result.error.as_deref().unwrap_or("no reason recorded");
        return Err(format!(
            "{target} failed in the {workload} run {}: {error}",
            run.run_id
        ));
    }
    let mut figures: Vec<f64> = result
        .trials
        .iter()
        .filter_map(|trial| claim.metric.of(trial))
        .collect();
    figures.extend(
        result
            .chat_trials
            .iter()
            .filter_map(|trial| claim.metric.of_chat(trial)),
    );
    if figures.is_empty() {
        return Err(format!(
            "{target} has no trial with a {} figure in the {workload} run {}",
            claim.metric, run.run_id
        ));
    }
    Ok(figures)
}

/// A capacity ramp the host ended (file limits, time budget, the profile's largest step)
/// only gives a lower bound on connections held. A claim it cannot settle is not judged:
/// the reason names the bound and the host limit.
fn host_bound_check(claim: &Claim, run: &RunResults, a: &[f64], b: &[f64]) -> Result<(), String> {
    if claim.metric != Metric::ConnectionsHeld {
        return Ok(());
    }
    let bound = |target: &str| -> Option<String> {
        let result = run.targets.iter().find(|t| t.target == target)?;
        let ramps: Vec<_> = result
            .chat_trials
            .iter()
            .filter_map(|t| t.capacity.as_ref())
            .collect();
        let all_bound = !ramps.is_empty() && ramps.iter().all(|r| r.host_bound);
        all_bound.then(|| {
            let last = ramps
                .last()
                .map(|r| r.stop_reason.clone())
                .unwrap_or_default();
            format!(
                "{target} held {:.0} connections when the host ended the ramp ({last})",
                stats::median(a_or_b(target, claim, a, b)).unwrap_or(0.0)
            )
        })
    };
    let median_of = |values: &[f64]| stats::median(values).unwrap_or(0.0);
    match claim.kind {
        Kind::Absolute => {
            let needed = claim
                .at_least
                .or(claim.value.map(|v| v.low()))
                .unwrap_or(0.0);
            match bound(&claim.a) {
                Some(why) if median_of(a) < needed => Err(format!(
                    "{why}: a lower bound below the claimed {needed:.0}, so this host cannot settle it; run where the engine and faceoff may open more files, with --memory large enough"
                )),
                _ => Ok(()),
            }
        }
        _ => {
            let Some(b_name) = claim.b.as_deref() else {
                return Ok(());
            };
            // The target that held fewer must have been stopped by its server, or the
            // comparison is between two lower bounds.
            let fewer = if median_of(a) <= median_of(b) {
                claim.a.as_str()
            } else {
                b_name
            };
            match bound(fewer) {
                Some(why) => Err(format!(
                    "{why}, so its capacity is only a lower bound and the comparison cannot be settled on this host"
                )),
                None => Ok(()),
            }
        }
    }
}

fn a_or_b<'v>(target: &str, claim: &Claim, a: &'v [f64], b: &'v [f64]) -> &'v [f64] {
    if target == claim.a { a } else { b }
}

/// The line of `id = "<id>"` in the registry text, for error messages.
fn line_of(text: &str, id: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            let line = line.trim();
            line.strip_prefix("id")
                .map(str::trim_start)
                .and_then(|rest| rest.strip_prefix('='))
                .map(str::trim)
                .is_some_and(|value| value.trim_matches('"') == id)
        })
        .map(|index| index + 1)
}

type Problem = (&'static str, String);

fn check_claim(
    claim: &Claim,
    fixtures: &Fixtures,
    planned: &BTreeSet<&str>,
) -> Result<(), Problem> {
    let targets = &fixtures.target_names()[..];
    let workloads: Vec<&str> = fixtures.workloads.iter().map(|w| w.name.as_str()).collect();
    let valid_id = !claim.id.is_empty()
        && claim
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_id {
        return Err(("id", "must be lowercase letters, digits and '-'".into()));
    }
    if claim.source.trim().is_empty() {
        return Err(("source", "names no seed file".into()));
    }
    let quote_chars = claim.quote.chars().count();
    if claim.quote.trim().is_empty() || quote_chars > MAX_QUOTE_CHARS {
        return Err((
            "quote",
            format!(
                "must be a short verbatim excerpt (1 to {MAX_QUOTE_CHARS} characters, got {quote_chars})"
            ),
        ));
    }
    let known_target = |name: &str| targets.contains(&name);
    if !known_target(&claim.a) {
        return Err(("a", unknown("target", &claim.a, targets)));
    }
    if !workloads.contains(&claim.workload.as_str()) && !planned.contains(claim.workload.as_str()) {
        let mut known: Vec<&str> = workloads.clone();
        known.extend(planned.iter());
        return Err(("workload", unknown("workload", &claim.workload, &known)));
    }
    if claim.connections.is_some() && claim.min_connections.is_some() {
        return Err((
            "min_connections",
            "give `connections` or `min_connections`, not both".into(),
        ));
    }
    if let Some(name) = claim.profile.as_deref() {
        let Some(profile) = fixtures.profiles.iter().find(|p| p.name == name) else {
            let known: Vec<&str> = fixtures.profiles.iter().map(|p| p.name.as_str()).collect();
            return Err(("profile", unknown("profile", name, &known)));
        };
        if let Some(why) = claim.concurrency().mismatch(profile.connections as usize) {
            return Err((
                "profile",
                format!("`{name}` does not meet the claim: {why}"),
            ));
        }
        if claim.metric.is_capacity() {
            if profile.mode != LoadMode::Capacity {
                return Err((
                    "profile",
                    format!(
                        "`{name}` is not a capacity ramp, which {} needs",
                        claim.metric
                    ),
                ));
            }
        } else if profile.mode != LoadMode::Closed {
            return Err((
                "profile",
                format!("`{name}` is not closed-loop; the articles' figures are"),
            ));
        }
    }
    if let Some(tolerance) = claim.tolerance
        && !(tolerance.is_finite() && tolerance > 0.0)
    {
        return Err((
            "tolerance",
            format!("must be a positive number, got {tolerance}"),
        ));
    }
    for (field, value) in [
        ("a_value", claim.a_value),
        ("b_value", claim.b_value),
        ("at_least", claim.at_least),
    ] {
        if let Some(v) = value
            && !(v.is_finite() && v > 0.0)
        {
            return Err((field, format!("must be a positive number, got {v}")));
        }
    }
    if claim.kind == Kind::Absolute {
        return check_absolute(claim);
    }
    let Some(b) = claim.b.as_deref() else {
        return Err((
            "b",
            format!("a {} claim compares two targets", kind_name(claim.kind)),
        ));
    };
    if !known_target(b) {
        return Err(("b", unknown("target", b, targets)));
    }
    if b == claim.a {
        return Err(("b", "is the same target as `a`".into()));
    }
    if claim.value.is_some() || claim.at_least.is_some() {
        return Err(("value", "only `absolute` claims state a value".into()));
    }
    match (claim.kind, claim.winner.as_deref()) {
        (Kind::Parity, Some(_)) => return Err(("winner", "a parity claim has no winner".into())),
        (Kind::Parity, None) => {}
        (_, None) => {
            return Err((
                "winner",
                "name the target the article says is better".into(),
            ));
        }
        (_, Some(w)) if w != claim.a && w != b => {
            return Err(("winner", format!("`{w}` is neither `a` nor `b`")));
        }
        _ => {}
    }
    if claim.a_value.is_some() != claim.b_value.is_some() {
        return Err(("b_value", "quote both targets' figures or neither".into()));
    }
    let quoted = claim.quoted_advantage();
    match claim.kind {
        Kind::Ratio => {
            let Some(ratio) = claim.ratio else {
                if quoted.is_some_and(|q| q >= 1.0) {
                    return Ok(());
                }
                return Err((
                    "ratio",
                    "a ratio claim needs `ratio` or both figures".into(),
                ));
            };
            let (low, high) = (ratio.low(), ratio.high());
            if !(low.is_finite() && high.is_finite() && 1.0 <= low && low <= high) {
                return Err((
                    "ratio",
                    format!("must be the winner's advantage, >= 1, low <= high; got {low}..{high}"),
                ));
            }
            if let Some(q) = quoted
                && !(low * (1.0 - ROUNDING_SLACK) <= q && q <= high * (1.0 + ROUNDING_SLACK))
            {
                return Err((
                    "ratio",
                    format!(
                        "{} disagrees with the quoted figures ({} vs {} gives {q:.3} for the winner)",
                        if low == high {
                            format!("{low}")
                        } else {
                            format!("[{low}, {high}]")
                        },
                        fmt_num(claim.a_value),
                        fmt_num(claim.b_value),
                    ),
                ));
            }
        }
        Kind::Direction | Kind::Parity => {
            if claim.ratio.is_some() {
                return Err((
                    "ratio",
                    format!(
                        "a {} claim quotes no factor: make it kind = \"ratio\"",
                        kind_name(claim.kind)
                    ),
                ));
            }
            if claim.kind == Kind::Direction
                && let Some(q) = quoted
                && q < 1.0
            {
                return Err((
                    "winner",
                    format!("the quoted figures make the other target the winner ({q:.3})"),
                ));
            }
        }
        Kind::Absolute => unreachable!("handled above"),
    }
    Ok(())
}

fn check_absolute(claim: &Claim) -> Result<(), Problem> {
    for (field, present) in [
        ("b", claim.b.is_some()),
        ("winner", claim.winner.is_some()),
        ("ratio", claim.ratio.is_some()),
        ("b_value", claim.b_value.is_some()),
    ] {
        if present {
            return Err((field, "an absolute claim is about target `a` alone".into()));
        }
    }
    match (claim.value, claim.at_least) {
        (Some(_), Some(_)) => Err(("at_least", "give `value` or `at_least`, not both".into())),
        (None, None) => Err((
            "value",
            "an absolute claim needs `value` or `at_least`".into(),
        )),
        (Some(v), None) => {
            let (low, high) = (v.low(), v.high());
            if low.is_finite() && high.is_finite() && 0.0 < low && low <= high {
                Ok(())
            } else {
                Err((
                    "value",
                    format!("must be positive with low <= high; got {low}..{high}"),
                ))
            }
        }
        (None, Some(_)) => Ok(()),
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Ratio => "ratio",
        Kind::Direction => "direction",
        Kind::Parity => "parity",
        Kind::Absolute => "absolute",
    }
}

fn fmt_num(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn unknown(what: &str, name: &str, known: &[&str]) -> String {
    format!("unknown {what} `{name}`; known: {}", known.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> Fixtures {
        Fixtures::load(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("repository fixtures")
    }

    fn parse(text: &str) -> Result<Claims, ConfigError> {
        Claims::parse(text, Path::new("fixtures/claims.toml"), &fixtures())
    }

    const GOOD: &str = r#"
[[planned]]
name = "numeric"
needs = "NumPy"

[[claim]]
id = "json"
source = "003.txt"
quote = "Requests/sec (JSON) | 18,000 | 52,000"
kind = "ratio"
a = "fastify"
b = "fastapi"
winner = "fastify"
workload = "status"
metric = "requests_per_sec"
a_value = 52000
b_value = 18000
ratio = 2.89
"#;

    fn with(extra: &str) -> String {
        format!("{GOOD}\n[[claim]]\nid = \"second\"\nsource = \"s\"\nquote = \"q\"\n{extra}")
    }

    fn error(text: &str) -> String {
        let message = parse(text).expect_err("must be rejected").to_string();
        assert!(message.contains("fixtures/claims.toml"), "{message}");
        assert!(!message.contains('\n'), "{message}");
        message
    }

    #[test]
    fn a_valid_registry_parses() {
        let claims = parse(GOOD).unwrap();
        assert_eq!(claims.claims.len(), 1);
        assert_eq!(claims.get("json").unwrap().metric, Metric::RequestsPerSec);
        assert!(claims.planned("numeric").is_some());
    }

    #[test]
    fn duplicate_ids_are_rejected_with_the_line() {
        let text = format!("{GOOD}\n{}", &GOOD[GOOD.find("[[claim]]").unwrap()..]);
        let message = error(&text);
        assert!(
            message.contains("`json`") && message.contains("defined twice"),
            "{message}"
        );
        assert!(message.contains("line "), "{message}");
    }

    #[test]
    fn unknown_metric_names_the_line_and_the_known_ones() {
        let message = error(&GOOD.replace("\"requests_per_sec\"", "\"rps\""));
        assert!(message.contains("line 15"), "{message}");
        assert!(
            message.contains("rps") && message.contains("latency_p99_ms"),
            "{message}"
        );
    }

    #[test]
    fn unknown_field_is_rejected() {
        let message = error(&GOOD.replace("ratio = 2.89", "ratio = 2.89\nspeedup = 3"));
        assert!(message.contains("speedup"), "{message}");
    }

    #[test]
    fn ratio_that_disagrees_with_the_quoted_figures_is_rejected() {
        let message = error(&GOOD.replace("ratio = 2.89", "ratio = 3.5"));
        assert!(
            message.contains("field `ratio`") && message.contains("2.889"),
            "{message}"
        );
    }

    #[test]
    fn rounded_ratio_is_accepted() {
        parse(&GOOD.replace("ratio = 2.89", "ratio = 2.9")).unwrap();
    }

    #[test]
    fn ratio_range_must_hold_the_quoted_figures() {
        parse(&GOOD.replace("ratio = 2.89", "ratio = [2.0, 3.0]")).unwrap();
        error(&GOOD.replace("ratio = 2.89", "ratio = [1.4, 1.6]"));
    }

    #[test]
    fn malformed_ratio_says_what_is_expected() {
        let message = error(&GOOD.replace("ratio = 2.89", "ratio = \"3x\""));
        assert!(message.contains("a range like [1.4, 1.6]"), "{message}");
    }

    #[test]
    fn unknown_target_lists_the_known_ones() {
        let message = error(&GOOD.replace("b = \"fastapi\"", "b = \"flask\""));
        assert!(
            message.contains("flask") && message.contains("django-wsgi"),
            "{message}"
        );
        assert!(message.contains("field `b`"), "{message}");
    }

    #[test]
    fn unknown_workload_is_rejected_but_planned_ones_are_fine() {
        error(&GOOD.replace("workload = \"status\"", "workload = \"grpc\""));
        parse(&GOOD.replace("workload = \"status\"", "workload = \"db\"")).unwrap();
    }

    #[test]
    fn winner_must_be_one_of_the_two_targets() {
        let message = error(&GOOD.replace("winner = \"fastify\"", "winner = \"django\""));
        assert!(message.contains("field `winner`"), "{message}");
    }

    #[test]
    fn latency_ratio_is_the_winners_advantage() {
        let text = GOOD
            .replace("\"requests_per_sec\"", "\"latency_p99_ms\"")
            .replace("a_value = 52000", "a_value = 12")
            .replace("b_value = 18000", "b_value = 45")
            .replace("ratio = 2.89", "ratio = 3.75");
        let claims = parse(&text).unwrap();
        assert!((claims.claims[0].quoted_advantage().unwrap() - 3.75).abs() < 1e-9);
    }

    #[test]
    fn absolute_claims_are_about_one_target() {
        parse(&with(
            "kind = \"absolute\"\na = \"django\"\nworkload = \"status\"\nmetric = \"requests_per_sec\"\nvalue = 850000",
        ))
        .unwrap();
        let message = error(&with(
            "kind = \"absolute\"\na = \"django\"\nb = \"express\"\nworkload = \"status\"\nmetric = \"requests_per_sec\"\nvalue = 850000",
        ));
        assert!(
            message.contains("`second`") && message.contains("field `b`"),
            "{message}"
        );
        error(&with(
            "kind = \"absolute\"\na = \"django\"\nworkload = \"status\"\nmetric = \"requests_per_sec\"",
        ));
    }

    #[test]
    fn parity_claims_have_no_winner() {
        error(&with(
            "kind = \"parity\"\na = \"express\"\nb = \"fastapi\"\nwinner = \"express\"\nworkload = \"sleep\"\nmetric = \"requests_per_sec\"",
        ));
    }

    #[test]
    fn direction_claim_whose_figures_name_the_other_winner_is_rejected() {
        let message = error(&with(
            "kind = \"direction\"\na = \"express\"\nb = \"fastapi\"\nwinner = \"express\"\nworkload = \"sleep\"\nmetric = \"requests_per_sec\"\na_value = 1\nb_value = 2",
        ));
        assert!(message.contains("field `winner`"), "{message}");
    }

    #[test]
    fn profile_must_exist_and_meet_the_claimed_concurrency() {
        let message = error(&GOOD.replace("metric =", "profile = \"closed-7\"\nmetric ="));
        assert!(
            message.contains("closed-7") && message.contains("closed-100"),
            "{message}"
        );
        let message = error(&GOOD.replace(
            "metric =",
            "profile = \"closed-50\"\nmin_connections = 1000\nmetric =",
        ));
        assert!(
            message.contains("needs at least 1000 connections"),
            "{message}"
        );
        parse(&GOOD.replace(
            "metric =",
            "profile = \"closed-1000\"\nmin_connections = 1000\nmetric =",
        ))
        .unwrap();
    }

    #[test]
    fn line_of_finds_the_id() {
        assert_eq!(line_of("x\nid = \"a\"\nid=\"b\"\n", "b"), Some(3));
        assert_eq!(line_of("id = \"a\"", "c"), None);
    }

    #[test]
    fn duration_is_seconds_per_completed_request() {
        let trial: TrialResult = serde_json::from_value(serde_json::json!({
            "trial": 1, "requests": 30, "duration_s": 10.0, "requests_per_sec": 3.0,
            "latency": {"p50_ms": 1.0, "p75_ms": 1.0, "p90_ms": 1.0, "p99_ms": 1.0,
                "p999_ms": 1.0, "max_ms": 1.0, "mean_ms": 1.0, "stdev_ms": 0.0},
            "status_counts": {}, "errors": {"connect": 0, "timeout": 0, "io": 0, "non_success": 0},
            "bytes_received": 0, "per_second": [], "warmup_requests": 0, "warmup_errors": 0,
            "connections_opened": 3,
            "resources": {"peak_memory_bytes": 104857600, "mean_memory_bytes": 0,
                "peak_cpu_percent": 0.0, "mean_cpu_percent": 0.0, "samples": []},
            "generator_cpu_percent": 0.0
        }))
        .unwrap();
        assert!((Metric::DurationS.of(&trial).unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(Metric::PeakMemoryMib.of(&trial), Some(100.0));
        assert_eq!(Metric::ConnectionsHeld.of(&trial), None);
        assert_eq!(Metric::MemoryPerConnectionKib.of(&trial), None);
    }
}
