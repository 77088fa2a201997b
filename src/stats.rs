//! Statistics over measured data. Never prints; the report module decides how figures look.

use std::fmt;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Latency percentiles of one trial, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
pub struct LatencySummary {
    pub p50_ms: f64,
    pub p75_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// 99.99th percentile; 0 in files written before it was recorded.
    #[serde(default)]
    pub p9999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    pub stdev_ms: f64,
}

/// Summarises a histogram of latencies recorded in microseconds.
pub fn latency_summary(histogram: &Histogram<u64>) -> LatencySummary {
    if histogram.is_empty() {
        return LatencySummary::default();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    LatencySummary {
        p50_ms: ms(histogram.value_at_quantile(0.50)),
        p75_ms: ms(histogram.value_at_quantile(0.75)),
        p90_ms: ms(histogram.value_at_quantile(0.90)),
        p99_ms: ms(histogram.value_at_quantile(0.99)),
        p999_ms: ms(histogram.value_at_quantile(0.999)),
        p9999_ms: ms(histogram.value_at_quantile(0.9999)),
        max_ms: ms(histogram.max()),
        mean_ms: histogram.mean() / 1000.0,
        stdev_ms: histogram.stdev() / 1000.0,
    }
}

/// The median of a set of figures (mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 0 {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

/// The arithmetic mean of the finite figures.
pub fn mean(values: &[f64]) -> Option<f64> {
    let finite: Vec<f64> = finite(values);
    if finite.is_empty() {
        return None;
    }
    Some(finite.iter().sum::<f64>() / finite.len() as f64)
}

fn finite(values: &[f64]) -> Vec<f64> {
    values.iter().copied().filter(|v| v.is_finite()).collect()
}

/// Median of a buffer, reordering it.
fn median_in_place(values: &mut [f64]) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 0 {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// The `q` quantile (0..=1) of sorted figures, interpolating linearly between neighbours.
fn quantile_of_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let below = h.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    sorted[below] + (h - below as f64) * (sorted[above] - sorted[below])
}

/// How a bootstrap interval is drawn. The same settings on the same figures always give the
/// same interval: the resampling is driven by a seeded generator, not by the clock.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bootstrap {
    /// Resamples drawn (with replacement) from the figures.
    pub resamples: usize,
    /// Seed of the resampling generator; record it beside the intervals it produced.
    pub seed: u64,
    /// Coverage of the interval, e.g. 0.95.
    pub confidence: f64,
}

impl Bootstrap {
    /// 10,000 resamples: the percentile interval's ends then move by well under 1% between
    /// seeds for the handful of trials faceoff runs.
    pub const DEFAULT_RESAMPLES: usize = 10_000;
    /// The default seed ("faceoff" in ASCII).
    pub const DEFAULT_SEED: u64 = 0x0066_6163_656f_6666;
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap {
            resamples: Self::DEFAULT_RESAMPLES,
            seed: Self::DEFAULT_SEED,
            confidence: 0.95,
        }
    }
}

/// A closed interval `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    /// The interval holding only `value`.
    pub fn point(value: f64) -> Self {
        Interval {
            low: value,
            high: value,
        }
    }

    /// Whether `value` lies in the interval, ends included.
    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }

    /// `1 / x` over the interval (both ends positive): the ends swap.
    pub fn reciprocal(&self) -> Self {
        Interval {
            low: 1.0 / self.high,
            high: 1.0 / self.low,
        }
    }
}

/// The median of a set of trial figures with its bootstrap confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub median: f64,
    pub ci: Interval,
    /// Finite figures the estimate rests on.
    pub n: usize,
}

impl Estimate {
    /// One trial: the interval is the point itself and says nothing about the spread.
    pub fn is_single_trial(&self) -> bool {
        self.n == 1
    }
}

/// The ratio of two medians, `a / b`, with its bootstrap confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RatioEstimate {
    pub ratio: f64,
    pub ci: Interval,
    pub a: Estimate,
    pub b: Estimate,
}

impl RatioEstimate {
    /// True when either side rests on a single trial.
    pub fn is_single_trial(&self) -> bool {
        self.a.is_single_trial() || self.b.is_single_trial()
    }

    /// Whether the interval leaves out 1.0, i.e. one side is larger beyond the noise.
    pub fn differs(&self) -> bool {
        !self.ci.contains(1.0)
    }
}

/// SplitMix64 (Steele, Lea and Flood, 2014): tiny, fast, and good enough to pick resample
/// indices; seeded, so every interval is reproducible.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform index below `n` (multiply-shift; the bias is below 2^-50 for trial counts).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// Draws `resamples` medians of resamples of `values`, sorted.
fn bootstrap_medians(values: &[f64], resamples: usize, rng: &mut SplitMix64) -> Vec<f64> {
    let mut buffer = vec![0.0; values.len()];
    let mut medians = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for slot in &mut buffer {
            *slot = values[rng.below(values.len())];
        }
        medians.push(median_in_place(&mut buffer));
    }
    medians
}

/// The percentile interval of a bootstrap distribution (sorted in place).
fn percentile_interval(distribution: &mut [f64], confidence: f64) -> Interval {
    distribution.sort_unstable_by(f64::total_cmp);
    let tail = (1.0 - confidence.clamp(0.0, 1.0)) / 2.0;
    Interval {
        low: quantile_of_sorted(distribution, tail),
        high: quantile_of_sorted(distribution, 1.0 - tail),
    }
}

/// The median of `values` with a percentile-bootstrap confidence interval.
///
/// Non-finite figures are left out. `None` when no finite figure is left; one figure gives
/// an interval collapsed onto it (see [`Estimate::is_single_trial`]).
pub fn median_ci(values: &[f64], bootstrap: &Bootstrap) -> Option<Estimate> {
    let values = finite(values);
    let point = median(&values)?;
    let ci = if values.len() == 1 || bootstrap.resamples == 0 {
        Interval::point(point)
    } else {
        let mut rng = SplitMix64(bootstrap.seed);
        let mut medians = bootstrap_medians(&values, bootstrap.resamples, &mut rng);
        percentile_interval(&mut medians, bootstrap.confidence)
    };
    Some(Estimate {
        median: point,
        ci,
        n: values.len(),
    })
}

/// The ratio of the medians `a / b` with a percentile-bootstrap confidence interval: each
/// resample draws from `a` and from `b` independently (they are separate trials).
///
/// `None` when either side has no finite figure or `b`'s median is not positive (no ratio
/// to speak of). With one trial on each side the interval collapses onto the ratio.
pub fn ratio_ci(a: &[f64], b: &[f64], bootstrap: &Bootstrap) -> Option<RatioEstimate> {
    let (a_values, b_values) = (finite(a), finite(b));
    let a_est = median_ci(&a_values, bootstrap)?;
    let b_est = median_ci(&b_values, bootstrap)?;
    if b_est.median <= 0.0 {
        return None;
    }
    let ratio = a_est.median / b_est.median;
    let ci = if (a_values.len() == 1 && b_values.len() == 1) || bootstrap.resamples == 0 {
        Interval::point(ratio)
    } else {
        // A different stream from median_ci's, so a and b are not resampled in lockstep.
        let mut rng = SplitMix64(bootstrap.seed ^ 0x5241_5449_4f00_0000);
        let a_medians = bootstrap_medians(&a_values, bootstrap.resamples, &mut rng);
        let b_medians = bootstrap_medians(&b_values, bootstrap.resamples, &mut rng);
        let mut ratios: Vec<f64> = a_medians
            .iter()
            .zip(&b_medians)
            .map(|(a, b)| a / b)
            .collect();
        percentile_interval(&mut ratios, bootstrap.confidence)
    };
    Some(RatioEstimate {
        ratio,
        ci,
        a: a_est,
        b: b_est,
    })
}

/// Where a comparison's interval came from, best first. A verdict names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// Duet rounds: both targets measured at the same time on the same CPUs, so each
    /// round's ratio cancels the host's noise of that moment.
    Duet,
    /// Sequential trials of one run paired by round: interleaved, so each pair ran minutes
    /// apart at most under the same conditions.
    Paired,
    /// Trials that cannot be paired (files merged from separate jobs, rounds that do not
    /// match): each side is resampled on its own, which gives the widest interval.
    #[default]
    Unpaired,
    /// One target's own trials (a claim about a single figure): nothing to pair.
    Trials,
}

impl Evidence {
    /// The name shown to users.
    pub fn label(self) -> &'static str {
        match self {
            Evidence::Duet => "duet",
            Evidence::Paired => "paired",
            Evidence::Unpaired => "unpaired",
            Evidence::Trials => "trials",
        }
    }
}

/// A round's log-ratio is flagged when `|x - median| > 3 × 1.4826 × MAD` over the rounds'
/// log-ratios. 1.4826 × MAD estimates the standard deviation of normal data, so this is
/// "three standard deviations", measured robustly; on the modified z-score
/// `0.6745 (x - median) / MAD` it is a score above 3.0 (0.6745 = 1 / 1.4826).
pub const ROUND_OUTLIER_THRESHOLD: f64 = 3.0;

/// The `p` quantile of Student's t with `df` degrees of freedom; `None` for `df` below 1
/// or `p` outside (0, 1).
pub fn t_quantile(p: f64, df: f64) -> Option<f64> {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let valid = p > 0.0 && p < 1.0 && df >= 1.0;
    if !valid {
        return None;
    }
    // Past a thousand degrees of freedom t is the normal to three decimals, and statrs'
    // inverse incomplete beta slows to a crawl on such shapes.
    let t = if df > 1000.0 {
        statrs::distribution::Normal::standard().inverse_cdf(p)
    } else {
        StudentsT::new(0.0, 1.0, df).ok()?.inverse_cdf(p)
    };
    t.is_finite().then_some(t)
}

/// A ratio `a / b` measured round by round: the geometric mean of the per-round ratios,
/// with a t-interval on the mean of their logarithms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedRatio {
    /// `exp(mean(ln(a_i / b_i)))`.
    pub ratio: f64,
    pub ci: Interval,
    /// Each round's `a / b`, in round order.
    pub rounds: Vec<f64>,
    /// Rounds (positions in `rounds`) whose log-ratio lies far from the others (see
    /// [`ROUND_OUTLIER_THRESHOLD`]): shown, never dropped.
    pub flagged: Vec<usize>,
    /// Standard error of the mean log-ratio (0 with one round).
    pub log_se: f64,
    /// Degrees of freedom of the t-interval: rounds less one, or less two when the start
    /// order was taken out (see [`crossover_ratio_ci`]); 0 with one round.
    #[serde(default)]
    pub df: f64,
    /// The ratio over the rounds where `a` started first, and where `b` did, when the
    /// interval took the start order out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_order: Option<[f64; 2]>,
}

/// The ratio `a / b` over paired rounds `(a_i, b_i)`, with a `confidence` t-interval on
/// the mean log-ratio, exponentiated. A t-interval because rounds are few (3 to 10): a
/// bootstrap of five values can never reach beyond their range, a t-interval widens with
/// their spread and their small number, as it should.
///
/// Rounds where either figure is not a positive finite number are left out (no ratio).
/// `None` when no round is left. One round gives an interval collapsed onto it.
pub fn paired_ratio_ci(pairs: &[(f64, f64)], confidence: f64) -> Option<PairedRatio> {
    let rounds: Vec<f64> = pairs
        .iter()
        .filter(|(a, b)| a.is_finite() && b.is_finite() && *a > 0.0 && *b > 0.0)
        .map(|(a, b)| a / b)
        .collect();
    let logs: Vec<f64> = rounds.iter().map(|r| r.ln()).collect();
    let center = mean(&logs)?;
    let n = logs.len();
    let (ci, log_se) = if n < 2 {
        (Interval::point(center.exp()), 0.0)
    } else {
        let variance = logs.iter().map(|x| (x - center).powi(2)).sum::<f64>() / (n - 1) as f64;
        let se = (variance / n as f64).sqrt();
        let t = t_quantile(0.5 + confidence.clamp(0.0, 0.999_999) / 2.0, (n - 1) as f64)?;
        (
            Interval {
                low: (center - t * se).exp(),
                high: (center + t * se).exp(),
            },
            se,
        )
    };
    let flagged = if n < 3 {
        Vec::new()
    } else {
        modified_z_scores(&logs)
            .into_iter()
            .enumerate()
            .filter(|(_, score)| score.abs() > ROUND_OUTLIER_THRESHOLD)
            .map(|(index, _)| index)
            .collect()
    };
    Some(PairedRatio {
        ratio: center.exp(),
        ci,
        rounds,
        flagged,
        log_se,
        df: n.saturating_sub(1) as f64,
        by_order: None,
    })
}

/// The ratio `a / b` over duet rounds run in both start orders, `a_first[i]` telling
/// whether `a` started (and was warmed) first in round `i`: a crossover design.
///
/// Which server starts first can move a round's ratio by several percent (measured: fastify
/// against fastapi, 4.6 when fastify started first, 3.9 when fastapi did). The estimate is
/// the mean of the two orders' mean log-ratios, so the order effect cancels however many
/// rounds each order has; the interval's spread is the pooled spread within each order, with
/// rounds less two degrees of freedom, so the order effect is not counted as noise either.
///
/// Falls back to [`paired_ratio_ci`] when fewer than three rounds are left or one order
/// has none (older files with a single round, a pair that failed early), and when
/// `a_first` does not match `pairs` in length. Rounds without a positive finite ratio are
/// left out, as there.
pub fn crossover_ratio_ci(
    pairs: &[(f64, f64)],
    a_first: &[bool],
    confidence: f64,
) -> Option<PairedRatio> {
    if a_first.len() != pairs.len() {
        return paired_ratio_ci(pairs, confidence);
    }
    let kept: Vec<(f64, bool)> = pairs
        .iter()
        .zip(a_first)
        .filter(|((a, b), _)| a.is_finite() && b.is_finite() && *a > 0.0 && *b > 0.0)
        .map(|((a, b), first)| (a / b, *first))
        .collect();
    let group = |first: bool| -> Vec<f64> {
        kept.iter()
            .filter(|(_, f)| *f == first)
            .map(|(r, _)| r.ln())
            .collect()
    };
    let (ahead, behind) = (group(true), group(false));
    let n = kept.len();
    if n < 3 || ahead.is_empty() || behind.is_empty() {
        let valid: Vec<(f64, f64)> = kept.iter().map(|(r, _)| (*r, 1.0)).collect();
        return paired_ratio_ci(&valid, confidence);
    }
    let (m1, m2) = (mean(&ahead)?, mean(&behind)?);
    let center = (m1 + m2) / 2.0;
    let squares = |logs: &[f64], m: f64| logs.iter().map(|x| (x - m).powi(2)).sum::<f64>();
    let df = (n - 2) as f64;
    let variance = (squares(&ahead, m1) + squares(&behind, m2)) / df;
    let (n1, n2) = (ahead.len() as f64, behind.len() as f64);
    let log_se = (variance / 4.0 * (1.0 / n1 + 1.0 / n2)).sqrt();
    let t = t_quantile(0.5 + confidence.clamp(0.0, 0.999_999) / 2.0, df)?;
    // Far from the other rounds of the same order: the order effect is not an outlier.
    let residuals: Vec<f64> = kept
        .iter()
        .map(|(r, first)| r.ln() - if *first { m1 } else { m2 })
        .collect();
    let flagged = modified_z_scores(&residuals)
        .into_iter()
        .enumerate()
        .filter(|(_, score)| score.abs() > ROUND_OUTLIER_THRESHOLD)
        .map(|(index, _)| index)
        .collect();
    Some(PairedRatio {
        ratio: center.exp(),
        ci: Interval {
            low: (center - t * log_se).exp(),
            high: (center + t * log_se).exp(),
        },
        rounds: kept.iter().map(|(r, _)| *r).collect(),
        flagged,
        log_se,
        df,
        by_order: Some([m1.exp(), m2.exp()]),
    })
}

/// A ratio `a / b` with its interval and the evidence behind it: what every comparison in
/// faceoff (claims, compare, audit) is judged on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatioEvidence {
    pub evidence: Evidence,
    pub ratio: f64,
    pub ci: Interval,
    /// Rounds paired, or for unpaired evidence the smaller side's trial count.
    pub n: usize,
    /// Each round's `a / b` (paired and duet evidence; empty otherwise).
    #[serde(default)]
    pub rounds: Vec<f64>,
    /// Rounds far from the others, kept (see [`ROUND_OUTLIER_THRESHOLD`]).
    #[serde(default)]
    pub flagged_rounds: Vec<usize>,
    /// The standard error of the mean log-ratio and its degrees of freedom, when the
    /// interval came from rounds (absent in files written before they were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_spread: Option<(f64, f64)>,
}

impl RatioEvidence {
    /// From rounds paired by a duet or by the trial schedule.
    pub fn paired(
        pairs: &[(f64, f64)],
        evidence: Evidence,
        confidence: f64,
    ) -> Option<RatioEvidence> {
        Some(Self::from_rounds(
            paired_ratio_ci(pairs, confidence)?,
            evidence,
        ))
    }

    /// From duet rounds, each with whether `a` started first (see [`crossover_ratio_ci`]).
    pub fn duet(pairs: &[(f64, f64)], a_first: &[bool], confidence: f64) -> Option<RatioEvidence> {
        Some(Self::from_rounds(
            crossover_ratio_ci(pairs, a_first, confidence)?,
            Evidence::Duet,
        ))
    }

    fn from_rounds(paired: PairedRatio, evidence: Evidence) -> RatioEvidence {
        RatioEvidence {
            evidence,
            ratio: paired.ratio,
            ci: paired.ci,
            n: paired.rounds.len(),
            log_spread: (paired.rounds.len() >= 2).then_some((paired.log_se, paired.df)),
            rounds: paired.rounds,
            flagged_rounds: paired.flagged,
        }
    }

    /// From trials that do not pair: the ratio of medians with its bootstrap interval.
    pub fn unpaired(a: &[f64], b: &[f64], bootstrap: &Bootstrap) -> Option<RatioEvidence> {
        let estimate = ratio_ci(a, b, bootstrap)?;
        Some(RatioEvidence {
            evidence: Evidence::Unpaired,
            ratio: estimate.ratio,
            ci: estimate.ci,
            n: estimate.a.n.min(estimate.b.n),
            rounds: Vec::new(),
            flagged_rounds: Vec::new(),
            log_spread: None,
        })
    }

    /// Half the interval's width on the ratio scale, as a fraction: the smallest change the
    /// comparison could have told from noise at its confidence level.
    pub fn min_detectable_change(&self) -> f64 {
        (self.ci.high - self.ci.low) / 2.0
    }
}

/// The spread of an evidence's log-ratio: its standard error and degrees of freedom.
/// Paired evidence gives them directly; an unpaired bootstrap interval is read back as a
/// normal one (half its log-width over the normal quantile). `None` under two rounds.
fn log_spread(evidence: &RatioEvidence, confidence: f64) -> Option<(f64, f64)> {
    if evidence.n < 2 {
        return None;
    }
    if let Some((se, df)) = evidence.log_spread
        && df >= 1.0
    {
        return Some((se, df));
    }
    let df = (evidence.n - 1) as f64;
    if evidence.rounds.len() >= 2 {
        let logs: Vec<f64> = evidence.rounds.iter().map(|r| r.ln()).collect();
        let center = mean(&logs)?;
        let variance = logs.iter().map(|x| (x - center).powi(2)).sum::<f64>() / df;
        return Some(((variance / logs.len() as f64).sqrt(), df));
    }
    let z = t_quantile(0.5 + confidence / 2.0, f64::INFINITY)?;
    let width = evidence.ci.high.ln() - evidence.ci.low.ln();
    width.is_finite().then(|| (width / (2.0 * z), df))
}

/// The interval of `after.ratio / before.ratio`: how far a ratio measured in one file moved
/// in another. Rounds of two files are not paired, so the two log-ratios are independent:
/// a Welch t-interval on the difference of their means, exponentiated. `None` when either
/// side rests on fewer than two rounds (no spread to speak of).
pub fn change_of_ratio(
    before: &RatioEvidence,
    after: &RatioEvidence,
    confidence: f64,
) -> Option<Interval> {
    let (s1, df1) = log_spread(before, confidence)?;
    let (s2, df2) = log_spread(after, confidence)?;
    let center = after.ratio.ln() - before.ratio.ln();
    let se = (s1 * s1 + s2 * s2).sqrt();
    if se == 0.0 {
        return Some(Interval::point(center.exp()));
    }
    // Welch–Satterthwaite degrees of freedom.
    let df = se.powi(4) / (s1.powi(4) / df1 + s2.powi(4) / df2);
    let t = t_quantile(0.5 + confidence / 2.0, df.max(1.0))?;
    Some(Interval {
        low: (center - t * se).exp(),
        high: (center + t * se).exp(),
    })
}

/// Two targets' figures side by side: "fastify is 2.80x fastapi [2.60, 3.00]", or "no
/// difference detected" when the ratio's interval holds 1.0.
///
/// The wording is about the figures, not about which is better: for latency a larger
/// figure is worse. The caller words that.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    /// `a / b`.
    pub estimate: RatioEstimate,
}

impl Comparison {
    /// Compares the medians of `a_values` and `b_values`; `None` as for [`ratio_ci`].
    pub fn new(
        a: &str,
        a_values: &[f64],
        b: &str,
        b_values: &[f64],
        bootstrap: &Bootstrap,
    ) -> Option<Self> {
        Some(Comparison {
            a: a.to_string(),
            b: b.to_string(),
            estimate: ratio_ci(a_values, b_values, bootstrap)?,
        })
    }

    /// Whether the interval leaves out 1.0.
    pub fn differs(&self) -> bool {
        self.estimate.differs()
    }
}

impl fmt::Display for Comparison {
    /// The larger side first, so the factor reads as "N times": `fastapi is 3.75x fastify
    /// [3.40, 4.10]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.estimate;
        let (big, small, ratio, ci) = if e.ratio >= 1.0 {
            (&self.a, &self.b, e.ratio, e.ci)
        } else {
            (&self.b, &self.a, 1.0 / e.ratio, e.ci.reciprocal())
        };
        if self.differs() {
            write!(
                f,
                "{big} is {ratio:.2}x {small} [{:.2}, {:.2}]",
                ci.low, ci.high
            )?;
        } else {
            write!(
                f,
                "no difference detected between {} and {} ({:.2}x [{:.2}, {:.2}])",
                self.a, self.b, e.ratio, e.ci.low, e.ci.high
            )?;
        }
        if e.is_single_trial() {
            f.write_str(" (single trial: no interval)")?;
        }
        Ok(())
    }
}

/// Modified z-score above which a trial is flagged: Iglewicz and Hoaglin's 3.5. hyperfine
/// flags far later (14.8 on an unscaled score) because it sees hundreds of heavy-tailed
/// timings; faceoff sees a handful of trials, each already an aggregate.
pub const OUTLIER_THRESHOLD: f64 = 3.5;

/// A trial whose figure sits far from the others. Flagged for the user, never dropped.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Outlier {
    /// Position of the figure in the input.
    pub index: usize,
    pub value: f64,
    /// Its modified z-score.
    pub score: f64,
}

/// Modified z-scores `0.6745 (x - median) / MAD` (Iglewicz and Hoaglin), one per figure,
/// robust to the very outliers they look for. When more than half the figures are equal
/// (MAD = 0) the mean absolute deviation stands in, scaled by 1.2533 to match; when every
/// figure is equal every score is 0. Non-finite figures score NaN.
pub fn modified_z_scores(values: &[f64]) -> Vec<f64> {
    let Some(center) = median(values) else {
        return vec![f64::NAN; values.len()];
    };
    let deviations: Vec<f64> = finite(values).iter().map(|v| (v - center).abs()).collect();
    let mad = median(&deviations).unwrap_or(0.0);
    let scale = if mad > 0.0 {
        mad / 0.6745
    } else {
        1.253_314 * mean(&deviations).unwrap_or(0.0)
    };
    values
        .iter()
        .map(|v| {
            if !v.is_finite() {
                f64::NAN
            } else if scale > 0.0 {
                (v - center) / scale
            } else {
                0.0
            }
        })
        .collect()
}

/// The figures whose modified z-score exceeds `threshold` in size (see
/// [`OUTLIER_THRESHOLD`]). Fewer than three figures never have outliers: there is no
/// "the others" to be far from.
pub fn outliers(values: &[f64], threshold: f64) -> Vec<Outlier> {
    if finite(values).len() < 3 {
        return Vec::new();
    }
    modified_z_scores(values)
        .into_iter()
        .enumerate()
        .filter(|(_, score)| score.abs() > threshold)
        .map(|(index, score)| Outlier {
            index,
            value: values[index],
            score,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_uniform_latencies() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for us in 1..=1000u64 {
            h.record(us * 1000).unwrap();
        }
        let s = latency_summary(&h);
        assert!((s.p50_ms - 500.0).abs() < 1.0, "{s:?}");
        assert!((s.p99_ms - 990.0).abs() < 1.0, "{s:?}");
        assert!((s.max_ms - 1000.0).abs() < 1.0, "{s:?}");
        assert!((s.mean_ms - 500.5).abs() < 1.0, "{s:?}");
    }

    #[test]
    fn empty_histogram_gives_zeros() {
        let h = Histogram::<u64>::new(3).unwrap();
        assert_eq!(latency_summary(&h), LatencySummary::default());
    }

    #[test]
    fn median_of_odd_and_even_sets() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
    fn boot() -> Bootstrap {
        Bootstrap::default()
    }

    #[test]
    fn mean_of_finite_figures() {
        assert_eq!(mean(&[1.0, 2.0, f64::NAN, 6.0]), Some(3.0));
        assert_eq!(mean(&[]), None);
    }

    #[test]
    fn no_figures_give_no_estimate() {
        assert_eq!(median_ci(&[], &boot()), None);
        assert_eq!(median_ci(&[f64::NAN], &boot()), None);
        assert!(ratio_ci(&[1.0], &[], &boot()).is_none());
    }

    #[test]
    fn a_single_trial_collapses_the_interval_onto_it() {
        let e = median_ci(&[42.0], &boot()).unwrap();
        assert_eq!(e.ci, Interval::point(42.0));
        assert!(e.is_single_trial());
        let r = ratio_ci(&[280.0], &[100.0], &boot()).unwrap();
        assert_eq!(r.ci, Interval::point(2.8));
        assert!(r.is_single_trial());
    }

    #[test]
    fn identical_trials_give_a_point_interval() {
        let e = median_ci(&[5.0; 5], &boot()).unwrap();
        assert_eq!((e.median, e.ci, e.n), (5.0, Interval::point(5.0), 5));
        assert!(!e.is_single_trial());
    }

    #[test]
    fn three_trials_interval_spans_their_range() {
        // The bootstrap median of {1, 2, 3} is 1 or 3 with probability 7/27 each, so both
        // 2.5% tails land on the extremes.
        let e = median_ci(&[3.0, 1.0, 2.0], &boot()).unwrap();
        assert_eq!((e.median, e.ci.low, e.ci.high), (2.0, 1.0, 3.0));
    }

    #[test]
    fn interval_of_the_median_of_uniform_data_matches_theory() {
        // 1..=101: median 51; the median's standard error is 1 / (2 f sqrt(n)) = 5.02, so
        // the 95% interval is about 51 +- 9.8.
        let values: Vec<f64> = (1..=101).map(f64::from).collect();
        let e = median_ci(&values, &boot()).unwrap();
        assert_eq!(e.median, 51.0);
        assert!((38.0..=45.0).contains(&e.ci.low), "{e:?}");
        assert!((57.0..=64.0).contains(&e.ci.high), "{e:?}");
    }

    #[test]
    fn same_seed_same_interval() {
        let values = [9.1, 10.4, 9.8, 10.9, 9.5, 10.1, 12.0];
        let first = median_ci(&values, &boot()).unwrap();
        assert_eq!(median_ci(&values, &boot()).unwrap(), first);
        let r = ratio_ci(&values, &[3.1, 3.3, 3.0, 3.4], &boot()).unwrap();
        assert_eq!(
            ratio_ci(&values, &[3.1, 3.3, 3.0, 3.4], &boot()).unwrap(),
            r
        );
        let other = Bootstrap { seed: 7, ..boot() };
        assert!(
            median_ci(&values, &other)
                .unwrap()
                .ci
                .contains(first.median)
        );
    }

    #[test]
    fn ratio_of_three_to_one_differs_and_brackets_three() {
        let b = [100.0, 104.0, 97.0, 101.0, 99.0];
        let a: Vec<f64> = b.iter().map(|v| v * 3.0).collect();
        let r = ratio_ci(&a, &b, &boot()).unwrap();
        assert!((r.ratio - 3.0).abs() < 1e-12);
        assert!(
            r.ci.contains(3.0) && r.ci.low > 2.7 && r.ci.high < 3.3,
            "{r:?}"
        );
        assert!(r.differs());
    }

    #[test]
    fn overlapping_figures_show_no_difference() {
        let a = [100.0, 104.0, 97.0, 101.0, 99.0];
        let b = [102.0, 98.0, 100.0, 103.0, 96.0];
        let c = Comparison::new("express", &a, "fastapi", &b, &boot()).unwrap();
        assert!(!c.differs());
        assert!(
            c.to_string()
                .starts_with("no difference detected between express and fastapi"),
            "{c}"
        );
    }

    #[test]
    fn comparison_reads_as_a_times_b_with_the_interval() {
        let c = Comparison::new("fastify", &[280.0], "fastapi", &[100.0], &boot()).unwrap();
        assert_eq!(
            c.to_string(),
            "fastify is 2.80x fastapi [2.80, 2.80] (single trial: no interval)"
        );
        let b = [100.0, 104.0, 97.0, 101.0, 99.0];
        let a: Vec<f64> = b.iter().map(|v| v * 2.8).collect();
        let c = Comparison::new("fastify", &a, "fastapi", &b, &boot()).unwrap();
        assert!(
            c.to_string().starts_with("fastify is 2.80x fastapi ["),
            "{c}"
        );
    }

    #[test]
    fn comparison_puts_the_larger_side_first() {
        let c = Comparison::new("fastify", &[12.0], "fastapi", &[45.0], &boot()).unwrap();
        assert!(c.to_string().starts_with("fastapi is 3.75x fastify"), "{c}");
    }

    #[test]
    fn a_zero_denominator_gives_no_ratio() {
        assert!(ratio_ci(&[1.0, 2.0], &[0.0, 0.0], &boot()).is_none());
    }

    #[test]
    fn a_far_trial_is_flagged() {
        let values = [100.0, 101.0, 99.0, 100.5, 150.0];
        let flagged = outliers(&values, OUTLIER_THRESHOLD);
        assert_eq!(flagged.len(), 1);
        assert_eq!((flagged[0].index, flagged[0].value), (4, 150.0));
        assert!(flagged[0].score > OUTLIER_THRESHOLD);
    }

    #[test]
    fn ordinary_spread_is_not_flagged() {
        assert!(outliers(&[100.0, 101.0, 99.0, 100.5, 102.0], OUTLIER_THRESHOLD).is_empty());
        assert!(outliers(&[1.0, 1000.0], OUTLIER_THRESHOLD).is_empty());
        assert!(outliers(&[5.0, 5.0, 5.0], OUTLIER_THRESHOLD).is_empty());
    }

    #[test]
    fn mostly_identical_trials_still_flag_a_far_one() {
        // MAD is 0 here; the mean absolute deviation stands in.
        let flagged = outliers(&[100.0, 100.0, 100.0, 100.0, 200.0], OUTLIER_THRESHOLD);
        assert_eq!(flagged.iter().map(|o| o.index).collect::<Vec<_>>(), [4]);
        assert!(outliers(&[100.0, 100.0, 100.0, 100.1, 100.2], OUTLIER_THRESHOLD).is_empty());
    }

    #[test]
    fn modified_z_scores_follow_iglewicz_hoaglin() {
        // median 3, MAD 1: score = 0.6745 (x - 3).
        let scores = modified_z_scores(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        let expected = [-1.349, -0.6745, 0.0, 0.6745, 1.349];
        for (s, e) in scores.iter().zip(expected) {
            assert!((s - e).abs() < 1e-9, "{scores:?}");
        }
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        assert!((t_quantile(0.975, 4.0).unwrap() - 2.776).abs() < 1e-3);
        assert!((t_quantile(0.975, 2.0).unwrap() - 4.303).abs() < 1e-3);
        assert!((t_quantile(0.975, f64::INFINITY).unwrap() - 1.960).abs() < 1e-3);
        assert_eq!(t_quantile(0.975, 0.5), None);
    }

    #[test]
    fn paired_rounds_give_a_t_interval_on_the_mean_log_ratio() {
        // ln ratios 0, 0.1, 0.2: mean 0.1, sd 0.1, se 0.0577, t(2) 4.303.
        let pairs: Vec<(f64, f64)> = [0.0f64, 0.1, 0.2].iter().map(|l| (l.exp(), 1.0)).collect();
        let r = paired_ratio_ci(&pairs, 0.95).unwrap();
        assert!((r.ratio - 0.1f64.exp()).abs() < 1e-12);
        let half = 4.303 * 0.1 / 3f64.sqrt();
        assert!((r.ci.low - (0.1 - half).exp()).abs() < 1e-3, "{r:?}");
        assert!((r.ci.high - (0.1 + half).exp()).abs() < 1e-3, "{r:?}");
        assert_eq!(r.rounds.len(), 3);
    }

    #[test]
    fn round_noise_shared_by_both_targets_cancels() {
        // The host slowed both targets alike in round 2: the ratio did not move.
        let pairs = [(300.0, 100.0), (150.0, 50.0), (303.0, 101.0), (297.0, 99.0)];
        let r = paired_ratio_ci(&pairs, 0.95).unwrap();
        assert!(r.ci.high - r.ci.low < 1e-9, "{r:?}");
        let unpaired = ratio_ci(
            &pairs.map(|p| p.0),
            &pairs.map(|p| p.1),
            &Bootstrap::default(),
        )
        .unwrap();
        assert!(unpaired.ci.high - unpaired.ci.low > 0.1, "{unpaired:?}");
    }

    /// Rounds whose ratio depends on which server started first: 4.6 when `a` did, 3.9 when
    /// `b` did, each within ±1%.
    fn order_effect_rounds() -> (Vec<(f64, f64)>, Vec<bool>) {
        let ratios = [4.58, 3.88, 3.94, 4.63, 4.67, 3.98, 3.92, 4.61];
        let a_first = [true, false, false, true, true, false, false, true];
        (ratios.iter().map(|r| (*r, 1.0)).collect(), a_first.to_vec())
    }

    #[test]
    fn a_start_order_effect_cancels_in_the_crossover_estimate_and_is_not_counted_as_noise() {
        let (pairs, a_first) = order_effect_rounds();
        let crossover = crossover_ratio_ci(&pairs, &a_first, 0.95).unwrap();
        let plain = paired_ratio_ci(&pairs, 0.95).unwrap();
        // The geometric mean of the two orders' geometric means.
        let a_mean = (4.58f64 * 4.63 * 4.67 * 4.61).powf(0.25);
        let b_mean = (3.88f64 * 3.94 * 3.98 * 3.92).powf(0.25);
        assert!((crossover.ratio - (a_mean * b_mean).sqrt()).abs() < 1e-9);
        let [first, second] = crossover.by_order.unwrap();
        assert!((first - a_mean).abs() < 1e-9 && (second - b_mean).abs() < 1e-9);
        assert_eq!(crossover.df, 6.0);
        // The order effect (17%) is not noise: within each order the rounds agree to ±1%.
        let half = |p: &PairedRatio| (p.ci.high - p.ci.low) / 2.0 / p.ratio;
        assert!(half(&crossover) < 0.02, "{crossover:?}");
        assert!(half(&plain) > 0.05, "{plain:?}");
        assert!(crossover.flagged.is_empty(), "{crossover:?}");
    }

    #[test]
    fn balanced_rounds_without_an_order_effect_give_the_plain_paired_estimate() {
        let ratios = [4.30, 4.35, 4.28, 4.33, 4.31, 4.29];
        let pairs: Vec<(f64, f64)> = ratios.iter().map(|r| (*r, 1.0)).collect();
        let a_first = [true, false, false, true, true, false];
        let crossover = crossover_ratio_ci(&pairs, &a_first, 0.95).unwrap();
        let plain = paired_ratio_ci(&pairs, 0.95).unwrap();
        assert!((crossover.ratio / plain.ratio - 1.0).abs() < 0.002);
        // One degree of freedom fewer, and the same spread: no narrower than the plain one
        // by more than the spread the order explains (here none).
        assert!(crossover.ci.high - crossover.ci.low > 0.9 * (plain.ci.high - plain.ci.low));
    }

    #[test]
    fn a_noisier_round_in_a_crossover_widens_its_interval() {
        let (pairs, a_first) = order_effect_rounds();
        let quiet = crossover_ratio_ci(&pairs, &a_first, 0.95).unwrap();
        let mut noisy = pairs.clone();
        noisy[2].0 *= 1.15;
        let noisy = crossover_ratio_ci(&noisy, &a_first, 0.95).unwrap();
        assert!(noisy.ci.low < quiet.ci.low && noisy.ci.high > quiet.ci.high);
    }

    #[test]
    fn rounds_all_in_one_start_order_or_too_few_fall_back_to_the_plain_paired_interval() {
        let pairs = [(4.3, 1.0), (4.4, 1.0), (4.2, 1.0)];
        let one_order = crossover_ratio_ci(&pairs, &[true, true, true], 0.95).unwrap();
        assert_eq!(one_order, paired_ratio_ci(&pairs, 0.95).unwrap());
        let two = crossover_ratio_ci(&pairs[..2], &[true, false], 0.95).unwrap();
        assert_eq!(two.df, 1.0);
        assert_eq!(two.by_order, None);
        let mismatched = crossover_ratio_ci(&pairs, &[true], 0.95).unwrap();
        assert_eq!(mismatched, paired_ratio_ci(&pairs, 0.95).unwrap());
    }

    #[test]
    fn a_crossover_flags_a_round_far_from_the_others_of_its_own_order() {
        let (mut pairs, a_first) = order_effect_rounds();
        pairs[1].0 = 5.5; // b first, where the others are near 3.9
        let ratio = crossover_ratio_ci(&pairs, &a_first, 0.95).unwrap();
        assert_eq!(ratio.flagged, vec![1]);
    }

    #[test]
    fn a_round_far_from_the_others_is_flagged_and_kept() {
        let pairs = [
            (2.0, 1.0),
            (2.02, 1.0),
            (1.98, 1.0),
            (2.01, 1.0),
            (4.0, 1.0),
        ];
        let r = paired_ratio_ci(&pairs, 0.95).unwrap();
        assert_eq!(r.flagged, [4]);
        assert_eq!(r.rounds.len(), 5, "kept");
    }

    #[test]
    fn a_ratio_that_moved_between_files_has_an_interval_away_from_one() {
        let before = RatioEvidence::paired(
            &[(2.0, 1.0), (2.04, 1.0), (1.96, 1.0)],
            Evidence::Paired,
            0.95,
        )
        .unwrap();
        let after = RatioEvidence::paired(
            &[(1.4, 1.0), (1.43, 1.0), (1.37, 1.0)],
            Evidence::Paired,
            0.95,
        )
        .unwrap();
        let change = change_of_ratio(&before, &after, 0.95).unwrap();
        assert!(change.contains(0.7) && change.high < 0.8, "{change:?}");
        let same = change_of_ratio(&before, &before, 0.95).unwrap();
        assert!(same.contains(1.0));
    }
}
