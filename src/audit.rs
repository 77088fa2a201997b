//! `faceoff audit`: does a published results file still hold? The same targets are rebuilt
//! from the same lockfiles and re-run with the same parameters and seed; then every figure's
//! change (re-run / original, with its interval) is checked against the tolerance, and every
//! claim verdict against the new one.
//!
//! What is judged: ratios between targets, each measured within one file (paired by round
//! where the file allows), because a busy host slows every target of a run alike; absolute
//! per-target figures drift with the host itself (an hour later on the same machine, 17–26%
//! more throughput is ordinary), so they are shown as host drift and judged only with
//! `--strict`. A check *holds* only when the whole interval of its change lies within the
//! tolerance, *differs* when it lies wholly outside, and is *inconclusive* otherwise: a noisy
//! re-run can never make an audit pass more easily.
//!
//! Planning (results file → run plan, provenance warnings) and judging (two results files →
//! audit report) are pure; the caller runs the plan.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::claims::Claims;
use crate::compare::{Figure, Gate};
use crate::config::Fixtures;
use crate::results::{RunResults, RunStatus, TargetStatus};
use crate::stats::{Bootstrap, Estimate, Interval, RatioEvidence, median_ci, ratio_ci};

/// Why an audit could not start.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{file} is `{status}`: only a finished run can be audited (complete or failed)")]
    Unfinished { file: String, status: String },
    #[error(
        "{file} has schema version {found}; this faceoff reads version {expected}: audit it with the faceoff version that wrote it ({faceoff})"
    )]
    Schema {
        file: String,
        found: u32,
        expected: u32,
        faceoff: String,
    },
    #[error(
        "the original ran the load generator on CPUs {cpus:?} and the server on cpuset {cpuset}, but this host has {host} CPU(s): audit on a host with as many CPUs"
    )]
    NotEnoughCpus {
        cpus: Vec<usize>,
        cpuset: String,
        host: usize,
    },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Other(String),
}

/// What to run, and what already differs from the original before anything runs.
pub struct AuditPlan {
    /// The `faceoff run` arguments that replay the original parameters (program name and
    /// subcommand first), parsed by the same CLI as a user's: the re-run is exactly what a
    /// user typing them would get, whatever `run` learns later.
    pub run_args: Vec<String>,
    /// Differences in the checkout (commit, fixtures, lockfiles, framework versions): the
    /// re-run is not of exactly the same thing.
    pub warnings: Vec<String>,
}

/// Turns a results file back into the `faceoff run` that produced it, writing under `out`.
pub fn plan(
    original: &RunResults,
    file: &str,
    fixtures: &Fixtures,
    out: &Path,
    host_cpus: usize,
) -> Result<AuditPlan, AuditError> {
    if original.schema_version != crate::results::SCHEMA_VERSION {
        return Err(AuditError::Schema {
            file: file.into(),
            found: original.schema_version,
            expected: crate::results::SCHEMA_VERSION,
            faceoff: original.manifest.faceoff_version.clone(),
        });
    }
    if matches!(original.status, RunStatus::Running | RunStatus::Interrupted) {
        return Err(AuditError::Unfinished {
            file: file.into(),
            status: format!("{:?}", original.status).to_lowercase(),
        });
    }
    let p = &original.parameters;
    let server_cpus = crate::runtime::parse_cpuset(&p.limits.cpuset)
        .map_err(|e| AuditError::Other(e.to_string()))?;
    if p.generator_cpus
        .iter()
        .chain(&server_cpus)
        .any(|&cpu| cpu >= host_cpus)
    {
        return Err(AuditError::NotEnoughCpus {
            cpus: p.generator_cpus.clone(),
            cpuset: p.limits.cpuset.clone(),
            host: host_cpus,
        });
    }
    let targets = fixtures.select_targets(&p.targets)?;
    let workload = fixtures.workload(&p.workload)?.clone();
    let mut warnings = Vec::new();
    if (workload.method.as_str(), workload.path.as_str()) != (p.method.as_str(), p.path.as_str())
        || workload.body != p.body
    {
        warnings.push(format!(
            "workload {} is now {} {} (the original sent {} {}{}): fixtures/workloads.toml changed",
            workload.name,
            workload.method,
            workload.path,
            p.method,
            p.path,
            if workload.body != p.body {
                " with another body"
            } else {
                ""
            }
        ));
    }
    let commit = crate::manifest::Manifest::collect(&fixtures.root);
    if commit.git_commit != original.manifest.git_commit {
        warnings.push(format!(
            "the checkout is at commit {}, the original at {}: apps and fixtures may differ",
            commit.git_commit.as_deref().unwrap_or("unknown"),
            original.manifest.git_commit.as_deref().unwrap_or("unknown")
        ));
    }
    for (file, hash) in &original.manifest.fixtures_sha256 {
        match commit.fixtures_sha256.get(file) {
            Some(now) if now == hash => {}
            Some(_) => warnings.push(format!("fixtures/{file} differs from the original's")),
            None => warnings.push(format!("fixtures/{file} of the original is missing")),
        }
    }
    for target in &targets {
        let Some(recorded) = original.targets.iter().find(|t| t.target == target.name) else {
            continue;
        };
        let dir = fixtures.app_dir(target);
        let lockfile = dir.join(target.lockfile_name());
        let now = crate::images::file_sha256(&lockfile).ok();
        if let Some(hash) = &recorded.lockfile_sha256
            && now.as_ref() != Some(hash)
        {
            warnings.push(format!(
                "{}: {} differs from the original's (sha256 {} now, {} then): not the same dependencies",
                target.name,
                lockfile.display(),
                short(now.as_deref().unwrap_or("missing")),
                short(hash)
            ));
        }
        let version = crate::manifest::framework_version(target, &dir);
        if recorded.framework_version.is_some() && version != recorded.framework_version {
            warnings.push(format!(
                "{}: {} {} now, {} in the original",
                target.name,
                target.framework,
                version.as_deref().unwrap_or("?"),
                recorded.framework_version.as_deref().unwrap_or("?")
            ));
        }
    }
    if p.seed.is_none() {
        warnings.push("the original recorded no seed: the trial order is a fresh one".to_string());
    }
    Ok(AuditPlan {
        run_args: run_args(p, out),
        warnings,
    })
}

/// `faceoff run` arguments for the recorded parameters. Durations go in seconds as recorded
/// (f64 prints the shortest form that reads back the same), sizes in bytes.
fn run_args(p: &crate::results::Parameters, out: &Path) -> Vec<String> {
    let secs = |s: f64| format!("{s}s");
    let cpus: Vec<String> = p.generator_cpus.iter().map(usize::to_string).collect();
    let mut args: Vec<String> = [
        "faceoff",
        "run",
        "--targets",
        &p.targets.join(","),
        "--workload",
        &p.workload,
        "--profile",
        &p.profile,
        "--trials",
        &p.trials.to_string(),
        "--connections",
        &p.connections.to_string(),
        "--duration",
        &secs(p.duration_s),
        "--warmup",
        &secs(p.warmup_s),
        "--request-timeout",
        &secs(p.request_timeout_s),
        "--ready-timeout",
        &secs(p.ready_timeout_s),
        "--sample-interval",
        &format!("{}ms", p.sample_interval_ms),
        "--cpuset",
        &p.limits.cpuset,
        "--memory",
        &p.limits.memory_bytes.to_string(),
        "--generator-cpus",
        &cpus.join(","),
        "--out",
        &out.to_string_lossy(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(max) = p.max_requests {
        args.extend(["--max-requests".to_string(), max.to_string()]);
    }
    if let Some(seed) = p.seed {
        args.extend(["--seed".to_string(), seed.to_string()]);
    }
    if !p.verified {
        args.push("--skip-verify".to_string());
    }
    if !p.duet {
        args.push("--no-duet".to_string());
    } else if !p.duet_pairs.is_empty() {
        let pairs: Vec<String> = p
            .duet_pairs
            .iter()
            .map(|[a, b]| format!("{a}/{b}"))
            .collect();
        args.extend(["--duet-pairs".to_string(), pairs.join(",")]);
    }
    if p.duet
        && let Some(rounds) = p.duet_rounds
    {
        args.extend(["--duet-rounds".to_string(), rounds.to_string()]);
    }
    args
}

/// Differences between what the original and the re-run built and ran on, per target.
pub fn build_warnings(original: &RunResults, rerun: &RunResults) -> Vec<String> {
    let mut warnings = Vec::new();
    for new in &rerun.targets {
        let Some(old) = original.targets.iter().find(|t| t.target == new.target) else {
            continue;
        };
        let name = &new.target;
        let mut differ = |what: &str, then: Option<&str>, now: Option<&str>| {
            if let (Some(then), Some(now)) = (then, now)
                && then != now
            {
                warnings.push(format!("{name}: {what} {now} now, {then} in the original"));
            }
        };
        let image = |t: &crate::results::TargetResult| t.image.clone();
        let (old_image, new_image) = (image(old), image(new));
        differ(
            "image id",
            old_image.as_ref().map(|i| short(&i.image_id)),
            new_image.as_ref().map(|i| short(&i.image_id)),
        );
        differ(
            "app hash",
            old_image.as_ref().map(|i| i.app_hash.as_str()),
            new_image.as_ref().map(|i| i.app_hash.as_str()),
        );
        differ(
            "base image id",
            old_image.as_ref().map(|i| short(&i.base_image_id)),
            new_image.as_ref().map(|i| short(&i.base_image_id)),
        );
        differ(
            "runtime",
            old.runtime_version.as_deref(),
            new.runtime_version.as_deref(),
        );
    }
    warnings
}

fn short(hash: &str) -> &str {
    let hash = hash.trim_start_matches("sha256:");
    &hash[..hash.len().min(12)]
}

/// Where a figure stands: its change re-run / original against the tolerance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum FigureStatus {
    /// The whole interval of the change lies within the tolerance.
    Holds { off: f64, change: Interval },
    /// The whole interval of the change lies outside the tolerance.
    Differs { off: f64, change: Interval },
    /// The interval straddles the tolerance's edge, or there is none (a single trial).
    Inconclusive { off: f64, why: String },
    /// An absolute figure measured on other hardware: shown, not judged.
    OtherHardware { off: f64 },
    /// The target was measured originally but failed in the re-run.
    Failed { why: String },
    /// Nothing to check (no trials in the original, or a ratio with no figure).
    NotChecked { why: String },
}

impl FigureStatus {
    pub fn label(&self) -> &'static str {
        match self {
            FigureStatus::Holds { .. } => "holds",
            FigureStatus::Differs { .. } => "DIFFERS",
            FigureStatus::Inconclusive { .. } => "inconclusive",
            FigureStatus::OtherHardware { .. } => "other hardware",
            FigureStatus::Failed { .. } => "FAILED",
            FigureStatus::NotChecked { .. } => "not checked",
        }
    }

    /// The change `point` (re-run / original) with its interval `change` against
    /// `tolerance`: holds when the whole interval lies in `[1 / (1 + t), 1 + t]`, differs
    /// when it lies wholly outside, inconclusive otherwise or without an interval.
    pub fn of(point: f64, change: Option<Interval>, tolerance: f64) -> Self {
        let off = point - 1.0;
        let Some(change) = change else {
            return FigureStatus::Inconclusive {
                off,
                why: "a single trial has no interval: re-run with 3 trials or more".into(),
            };
        };
        let (low, high) = (1.0 / (1.0 + tolerance), 1.0 + tolerance);
        if low <= change.low && change.high <= high {
            FigureStatus::Holds { off, change }
        } else if change.high < low || change.low > high {
            FigureStatus::Differs { off, change }
        } else {
            FigureStatus::Inconclusive {
                off,
                why: format!(
                    "the change's interval [{:+.1}%, {:+.1}%] straddles the ±{:.0}% tolerance (it could only detect ±{:.1}%): more trials or a quieter host would settle it",
                    (change.low - 1.0) * 100.0,
                    (change.high - 1.0) * 100.0,
                    tolerance * 100.0,
                    (change.high - change.low) / 2.0 * 100.0
                ),
            }
        }
    }
}

/// One absolute figure of one target, original against re-run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureCheck {
    pub target: String,
    pub figure: Figure,
    pub original: Option<Estimate>,
    pub rerun: Option<Estimate>,
    pub status: FigureStatus,
}

/// One figure of one target relative to another measured in the same run (`a / b`),
/// original against re-run: what travels between hosts and busy hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatioCheck {
    pub a: String,
    pub b: String,
    pub figure: Figure,
    /// `a / b` in the original, with the evidence behind it (paired by round when the file
    /// allows).
    pub original: Option<RatioEvidence>,
    pub rerun: Option<RatioEvidence>,
    pub status: FigureStatus,
}

/// One claim's verdict, then and now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimCheck {
    pub claim: String,
    pub original: String,
    pub rerun: String,
    /// The same verdict both times.
    pub holds: bool,
    /// The verdicts differ, but one is inconclusive: not a contradiction of the original.
    #[serde(default)]
    pub inconclusive: bool,
}

/// How strictly to judge.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AuditRules {
    /// A check holds when the whole interval of its change (re-run / original) lies within
    /// this fraction either way.
    pub tolerance: f64,
    /// Also fail on absolute figures (same hardware only). Off by default: absolute figures
    /// drift with whatever else the host is doing; ratios measured side by side do not.
    pub strict: bool,
    pub bootstrap: Bootstrap,
}

/// The audit's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditReport {
    pub original_run: String,
    pub audit_run: String,
    pub rules: AuditRules,
    /// False when CPU model or count differ: absolute figures are then shown, not judged.
    pub same_hardware: bool,
    /// Where the re-run differs from the original: checkout, lockfiles, images, versions,
    /// host and parameters.
    pub warnings: Vec<String>,
    pub figures: Vec<FigureCheck>,
    pub ratios: Vec<RatioCheck>,
    pub claims: Vec<ClaimCheck>,
    /// True only when the gate passed: nothing failed and nothing was inconclusive.
    pub passed: bool,
    /// Passed, failed, or inconclusive (nothing failed, but some check could not be told
    /// from noise).
    #[serde(default = "gate_passed")]
    pub gate: Gate,
}

fn gate_passed() -> Gate {
    Gate::Passed
}

impl AuditReport {
    /// Whether a figure check counts toward the verdict: ratios always, absolute figures
    /// only with `--strict` (else they are host drift, shown).
    fn judged_figure(&self, status: &FigureStatus) -> bool {
        matches!(status, FigureStatus::Failed { .. }) || self.rules.strict
    }

    /// The checks that failed the audit, one line each.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        for f in &self.figures {
            let counts = match f.status {
                FigureStatus::Failed { .. } => true,
                FigureStatus::Differs { .. } => self.judged_figure(&f.status),
                _ => false,
            };
            if counts {
                failures.push(format!(
                    "{} {}: {}",
                    f.target,
                    f.figure.label(),
                    f.status.label()
                ));
            }
        }
        for r in &self.ratios {
            if matches!(
                r.status,
                FigureStatus::Differs { .. } | FigureStatus::Failed { .. }
            ) {
                failures.push(format!(
                    "{} / {} {}: {}",
                    r.a,
                    r.b,
                    r.figure.label(),
                    r.status.label()
                ));
            }
        }
        for c in self.claims.iter().filter(|c| !c.holds && !c.inconclusive) {
            failures.push(format!(
                "claim {}: {} then, {} now",
                c.claim, c.original, c.rerun
            ));
        }
        failures
    }

    /// The judged checks that could not be told from noise, one line each.
    pub fn inconclusive(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for f in &self.figures {
            if matches!(f.status, FigureStatus::Inconclusive { .. })
                && self.judged_figure(&f.status)
            {
                lines.push(format!("{} {}", f.target, f.figure.label()));
            }
        }
        for r in &self.ratios {
            if matches!(r.status, FigureStatus::Inconclusive { .. }) {
                lines.push(format!("{} / {} {}", r.a, r.b, r.figure.label()));
            }
        }
        for c in self.claims.iter().filter(|c| c.inconclusive) {
            lines.push(format!(
                "claim {}: {} then, {} now",
                c.claim, c.original, c.rerun
            ));
        }
        lines
    }
}

/// Judges the re-run against the original. `warnings` are carried into the report.
pub fn evaluate(
    original: &RunResults,
    rerun: &RunResults,
    claims: &Claims,
    rules: &AuditRules,
    mut warnings: Vec<String>,
) -> AuditReport {
    let bootstrap = &rules.bootstrap;
    let host = |r: &RunResults| (r.manifest.host.cpu_model.clone(), r.manifest.host.cpus);
    let same_hardware = host(original) == host(rerun);
    for difference in crate::merge::differences(original, rerun) {
        let field = &difference.field;
        if field.starts_with("manifest.git_commit") || field.starts_with("manifest.fixtures") {
            continue; // said when planning
        }
        warnings.push(format!("differs: {difference}"));
    }

    let failed_now = |name: &str| -> Option<String> {
        match rerun.targets.iter().find(|t| t.target == name) {
            None => Some("not re-run".into()),
            Some(t) if t.status == TargetStatus::Failed || t.trials.is_empty() => {
                Some(t.error.clone().unwrap_or_else(|| "no trials".into()))
            }
            Some(_) => None,
        }
    };
    let values = |results: &RunResults, name: &str, figure: Figure| -> Vec<f64> {
        results
            .targets
            .iter()
            .find(|t| t.target == name)
            .map(|t| figure.values(t))
            .unwrap_or_default()
    };

    let mut figures = Vec::new();
    for old in &original.targets {
        for figure in Figure::ALL {
            let was = median_ci(&figure.values(old), bootstrap);
            let now = median_ci(&values(rerun, &old.target, figure), bootstrap);
            let status = match (&was, failed_now(&old.target), &now) {
                (None, _, _) => FigureStatus::NotChecked {
                    why: "no trials in the original".into(),
                },
                (Some(_), Some(why), _) => FigureStatus::Failed { why },
                (Some(_), None, None) => FigureStatus::Failed {
                    why: "no figure".into(),
                },
                (Some(_), None, Some(_)) => {
                    // Two files: their trials do not pair, so the change is unpaired.
                    let change = ratio_ci(
                        &values(rerun, &old.target, figure),
                        &figure.values(old),
                        bootstrap,
                    );
                    match change {
                        None => FigureStatus::NotChecked {
                            why: "the original figure is zero".into(),
                        },
                        Some(c) if !same_hardware => {
                            FigureStatus::OtherHardware { off: c.ratio - 1.0 }
                        }
                        Some(c) => FigureStatus::of(
                            c.ratio,
                            (!c.is_single_trial()).then_some(c.ci),
                            rules.tolerance,
                        ),
                    }
                }
            };
            figures.push(FigureCheck {
                target: old.target.clone(),
                figure,
                original: was,
                rerun: now,
                status,
            });
        }
    }

    // Every target against the first one measured, as the run's own comparisons do.
    let measured: Vec<&str> = original
        .targets
        .iter()
        .filter(|t| !t.trials.is_empty())
        .map(|t| t.target.as_str())
        .collect();
    let mut ratios = Vec::new();
    if let [first, others @ ..] = measured.as_slice() {
        for other in others {
            for figure in Figure::ALL {
                let ratio = |r: &RunResults| {
                    crate::claims::ratio_evidence(r, figure.metric(), first, other, bootstrap)
                };
                let (was, now) = (ratio(original), ratio(rerun));
                let status = match (&was, failed_now(first).or(failed_now(other)), &now) {
                    (None, _, _) => FigureStatus::NotChecked {
                        why: "no ratio in the original".into(),
                    },
                    (Some(_), Some(why), _) => FigureStatus::Failed { why },
                    (Some(_), None, None) => FigureStatus::Failed {
                        why: "no ratio".into(),
                    },
                    (Some(was), None, Some(now)) => FigureStatus::of(
                        now.ratio / was.ratio,
                        crate::stats::change_of_ratio(was, now, bootstrap.confidence),
                        rules.tolerance,
                    ),
                };
                ratios.push(RatioCheck {
                    a: first.to_string(),
                    b: other.to_string(),
                    figure,
                    original: was,
                    rerun: now,
                    status,
                });
            }
        }
    }

    let before = claims.verdicts(std::slice::from_ref(original), bootstrap);
    let after = claims.verdicts(std::slice::from_ref(rerun), bootstrap);
    let claims: Vec<ClaimCheck> = before
        .iter()
        .zip(&after)
        .map(|((claim, was), (_, now))| {
            let holds = was.label() == now.label();
            ClaimCheck {
                claim: claim.id.clone(),
                original: was.label().to_string(),
                rerun: now.label().to_string(),
                holds,
                inconclusive: !holds
                    && (was.label() == "inconclusive" || now.label() == "inconclusive"),
            }
        })
        .collect();
    let mut report = AuditReport {
        original_run: original.run_id.clone(),
        audit_run: rerun.run_id.clone(),
        rules: *rules,
        same_hardware,
        warnings,
        figures,
        ratios,
        claims,
        passed: false,
        gate: Gate::Passed,
    };
    report.gate = if !report.failures().is_empty() {
        Gate::Failed
    } else if !report.inconclusive().is_empty() {
        Gate::Inconclusive
    } else {
        Gate::Passed
    };
    report.passed = report.gate == Gate::Passed;
    report
}

impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status_text = |status: &FigureStatus| match status {
            FigureStatus::Holds { off, change } | FigureStatus::Differs { off, change } => {
                format!(
                    "{} ({:+.1}% [{:+.1}%, {:+.1}%])",
                    status.label(),
                    off * 100.0,
                    (change.low - 1.0) * 100.0,
                    (change.high - 1.0) * 100.0
                )
            }
            FigureStatus::OtherHardware { off } => {
                format!("{} ({:+.1}%)", status.label(), off * 100.0)
            }
            FigureStatus::Inconclusive { off, why } => {
                format!("{} ({:+.1}%): {why}", status.label(), off * 100.0)
            }
            FigureStatus::Failed { why } | FigureStatus::NotChecked { why } => {
                format!("{}: {why}", status.label())
            }
        };
        let new_table = |header: &[&str]| {
            let mut table = comfy_table::Table::new();
            table
                .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
                .set_header(header);
            table
        };
        let mut table = new_table(&[
            "target",
            "figure",
            "original [95% CI]",
            "re-run [95% CI]",
            if self.rules.strict {
                "re-run / original"
            } else {
                "re-run / original (host drift: shown)"
            },
        ]);
        for row in &self.figures {
            let show = |e: &Option<Estimate>| {
                e.as_ref()
                    .map(|e| row.figure.format_estimate(e))
                    .unwrap_or_else(|| "-".into())
            };
            table.add_row([
                row.target.clone(),
                row.figure.label().to_string(),
                show(&row.original),
                show(&row.rerun),
                status_text(&row.status),
            ]);
        }
        writeln!(f, "{table}")?;
        if !self.ratios.is_empty() {
            let mut table = new_table(&[
                "ratio",
                "figure",
                "original [95% CI]",
                "re-run [95% CI]",
                "re-run / original",
            ]);
            for row in &self.ratios {
                let show = |e: &Option<RatioEvidence>| {
                    e.as_ref()
                        .map(|e| {
                            format!(
                                "{:.2}x [{:.2}, {:.2}] ({}, {})",
                                e.ratio,
                                e.ci.low,
                                e.ci.high,
                                e.evidence.label(),
                                e.n
                            )
                        })
                        .unwrap_or_else(|| "-".into())
                };
                table.add_row([
                    format!("{} / {}", row.a, row.b),
                    row.figure.label().to_string(),
                    show(&row.original),
                    show(&row.rerun),
                    status_text(&row.status),
                ]);
            }
            writeln!(f, "{table}")?;
        }
        let mut claims = new_table(&["claim", "original verdict", "re-run verdict", "holds"]);
        let never_run = |c: &&ClaimCheck| c.original == "not-run" && c.rerun == "not-run";
        let quiet = self.claims.iter().filter(never_run).count();
        for claim in self.claims.iter().filter(|c| !never_run(c)) {
            claims.add_row([
                claim.claim.clone(),
                claim.original.clone(),
                claim.rerun.clone(),
                if claim.holds {
                    "yes"
                } else if claim.inconclusive {
                    "inconclusive"
                } else {
                    "NO"
                }
                .to_string(),
            ]);
        }
        if quiet < self.claims.len() {
            writeln!(f, "{claims}")?;
        }
        if quiet > 0 {
            writeln!(
                f,
                "{quiet} claim(s) not run in either (their workloads were not part of this run): listed in audit.json"
            )?;
        }
        let failures = self.failures();
        let unsure = self.inconclusive();
        write!(
            f,
            "audit {}: {} check(s) failed{}, {} inconclusive{} (tolerance {:.0}%; absolute figures {}; original {}, re-run {})",
            match self.gate {
                Gate::Passed => "PASSED",
                Gate::Failed => "FAILED",
                Gate::Inconclusive => "INCONCLUSIVE",
            },
            failures.len(),
            if failures.is_empty() {
                String::new()
            } else {
                format!(": {}", failures.join("; "))
            },
            unsure.len(),
            if unsure.is_empty() {
                String::new()
            } else {
                format!(": {}", unsure.join("; "))
            },
            self.rules.tolerance * 100.0,
            if !self.same_hardware {
                "shown, not judged: other hardware"
            } else if self.rules.strict {
                "judged (--strict)"
            } else {
                "shown, not judged (--strict judges them)"
            },
            self.original_run,
            self.audit_run,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> Fixtures {
        Fixtures::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// A results file with `rps` per trial for each target (p99 4 ms, 60 MiB).
    fn run(id: &str, targets: &[(&str, &[f64])]) -> RunResults {
        let mut results = crate::merge::tests::job("express", 7);
        results.run_id = id.into();
        results.parameters.targets = targets.iter().map(|(n, _)| n.to_string()).collect();
        let template = results.targets[0].clone();
        results.targets = targets
            .iter()
            .map(|(name, rps)| {
                let mut t = template.clone();
                t.target = name.to_string();
                t.trials = rps
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| trial(i as u32 + 1, v))
                    .collect();
                t
            })
            .collect();
        results
    }

    fn trial(n: u32, rps: f64) -> crate::results::TrialResult {
        serde_json::from_value(serde_json::json!({
            "trial": n, "requests": 1000, "duration_s": 1.0, "requests_per_sec": rps,
            "latency": {"p50_ms": 1.0, "p75_ms": 1.0, "p90_ms": 1.0, "p99_ms": 4.0,
                "p999_ms": 1.0, "max_ms": 1.0, "mean_ms": 1.0, "stdev_ms": 0.1},
            "status_counts": {}, "errors": {"connect": 0, "timeout": 0, "io": 0,
                "non_success": 0},
            "bytes_received": 0, "per_second": [], "warmup_requests": 0, "warmup_errors": 0,
            "connections_opened": 1,
            "resources": {"peak_memory_bytes": 62914560, "mean_memory_bytes": 0,
                "peak_cpu_percent": 0.0, "mean_cpu_percent": 0.0, "samples": []},
            "generator_cpu_percent": 0.0
        }))
        .unwrap()
    }

    fn rules(strict: bool) -> AuditRules {
        AuditRules {
            tolerance: 0.10,
            strict,
            bootstrap: Bootstrap::default(),
        }
    }

    fn audit_with(original: &RunResults, rerun: &RunResults, strict: bool) -> AuditReport {
        let claims = Claims::load(&fixtures().root).unwrap();
        evaluate(original, rerun, &claims, &rules(strict), Vec::new())
    }

    fn audit(original: &RunResults, rerun: &RunResults) -> AuditReport {
        audit_with(original, rerun, false)
    }

    #[test]
    fn the_same_figures_pass_with_every_verdict_held() {
        let original = run(
            "a",
            &[
                ("express", &[10_000.0, 10_200.0, 9_800.0]),
                ("fastapi", &[5_000.0, 5_100.0, 4_900.0]),
            ],
        );
        let report = audit(&original, &original);
        assert!(report.passed, "{report}");
        assert!(
            report
                .figures
                .iter()
                .all(|f| matches!(f.status, FigureStatus::Holds { .. })),
            "{report}"
        );
        assert_eq!(report.ratios.len(), 3, "express / fastapi per figure");
        assert!(
            report
                .ratios
                .iter()
                .all(|r| matches!(r.status, FigureStatus::Holds { .. })),
            "{report}"
        );
        assert!(!report.claims.is_empty() && report.claims.iter().all(|c| c.holds));
        assert!(report.to_string().contains("audit PASSED"));
    }

    #[test]
    fn an_absolute_figure_that_moved_is_host_drift_and_fails_only_when_strict() {
        let original = run("a", &[("express", &[10_000.0, 10_200.0, 9_800.0])]);
        let rerun = run("b", &[("express", &[7_000.0, 7_100.0, 6_900.0])]);
        let report = audit(&original, &rerun);
        let rps = &report.figures[0];
        assert_eq!(rps.figure, Figure::RequestsPerSec);
        assert!(
            matches!(rps.status, FigureStatus::Differs { off, .. } if (off - (7_000.0 / 10_000.0 - 1.0)).abs() < 1e-9),
            "{report}"
        );
        assert!(
            matches!(report.figures[1].status, FigureStatus::Holds { .. }),
            "p99 held"
        );
        assert!(report.passed, "{report}");
        let shown = report.to_string();
        assert!(shown.contains("DIFFERS (-30.0%"), "{shown}");
        assert!(shown.contains("host drift"), "{shown}");
        // One target judges no claim: they are counted, not listed one by one.
        assert!(shown.contains("claim(s) not run in either"), "{shown}");
        assert!(!shown.contains("original verdict"), "{shown}");
        let strict = audit_with(&original, &rerun, true);
        assert!(!strict.passed);
        assert_eq!(strict.failures(), ["express req/s: DIFFERS"]);
        assert!(strict.to_string().contains("audit FAILED"));
    }

    #[test]
    fn a_ratio_between_targets_that_moved_fails_the_audit() {
        let original = run(
            "a",
            &[
                ("express", &[10_000.0, 10_200.0, 9_800.0]),
                ("fastapi", &[5_000.0, 5_100.0, 4_900.0]),
            ],
        );
        // Both slower (a busy host): the ratio holds.
        let busy = run(
            "b",
            &[
                ("express", &[7_000.0, 7_140.0, 6_860.0]),
                ("fastapi", &[3_500.0, 3_570.0, 3_430.0]),
            ],
        );
        let report = audit(&original, &busy);
        assert!(report.passed, "{report}");
        // Only express slower: the ratio moved from 2x to 1.4x.
        let moved = run(
            "c",
            &[
                ("express", &[7_000.0, 7_140.0, 6_860.0]),
                ("fastapi", &[5_000.0, 5_100.0, 4_900.0]),
            ],
        );
        let report = audit(&original, &moved);
        assert!(!report.passed);
        assert!(
            report
                .failures()
                .contains(&"express / fastapi req/s: DIFFERS".to_string()),
            "{:?}",
            report.failures()
        );
    }

    #[test]
    fn a_small_change_whose_whole_interval_is_within_tolerance_holds() {
        let original = run("a", &[("express", &[10_000.0, 10_010.0, 9_990.0])]);
        let rerun = run("b", &[("express", &[9_500.0, 9_510.0, 9_490.0])]);
        let report = audit_with(&original, &rerun, true);
        assert!(
            matches!(report.figures[0].status, FigureStatus::Holds { .. }),
            "{report}"
        );
        assert!(report.passed);
    }

    #[test]
    fn the_same_host_an_hour_later_passes_when_every_target_drifted_alike() {
        // The field case: every absolute figure 17-26% higher, the ratio unchanged.
        let original = run(
            "a",
            &[
                ("express", &[10_000.0, 10_200.0, 9_800.0]),
                ("fastapi", &[5_000.0, 5_100.0, 4_900.0]),
            ],
        );
        let later = run(
            "b",
            &[
                ("express", &[12_200.0, 12_444.0, 11_956.0]),
                ("fastapi", &[6_100.0, 6_222.0, 5_978.0]),
            ],
        );
        let report = audit(&original, &later);
        assert_eq!(report.gate, Gate::Passed, "{report}");
        assert!(
            report
                .figures
                .iter()
                .any(|f| matches!(f.status, FigureStatus::Differs { .. })),
            "the absolute drift is shown: {report}"
        );
    }

    #[test]
    fn a_noisy_rerun_is_inconclusive_not_passed() {
        let original = run(
            "a",
            &[
                ("express", &[10_000.0, 10_200.0, 9_800.0]),
                ("fastapi", &[5_000.0, 5_100.0, 4_900.0]),
            ],
        );
        // The same median ratio, rounds from 1.6x to 2.5x.
        let noisy = run(
            "b",
            &[
                ("express", &[8_000.0, 12_500.0, 10_000.0]),
                ("fastapi", &[5_000.0, 5_000.0, 5_000.0]),
            ],
        );
        let report = audit(&original, &noisy);
        let rps = &report.ratios[0];
        assert!(
            matches!(&rps.status, FigureStatus::Inconclusive { why, .. } if why.contains("straddles")),
            "{report}"
        );
        assert_eq!(report.gate, Gate::Inconclusive);
        assert!(!report.passed);
        assert!(report.to_string().contains("audit INCONCLUSIVE"));
    }

    #[test]
    fn a_noisier_rerun_never_turns_a_differing_or_inconclusive_check_into_one_that_holds() {
        let mut seed = crate::stats::SplitMix64(5);
        let mut uniform = || (seed.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        for _ in 0..20_000 {
            let center = 0.7 + 0.6 * uniform();
            let half = 0.3 * uniform();
            let wider = half + 0.3 * uniform();
            let narrow = FigureStatus::of(
                center,
                Some(Interval {
                    low: center - half,
                    high: center + half,
                }),
                0.10,
            );
            let wide = FigureStatus::of(
                center,
                Some(Interval {
                    low: center - wider,
                    high: center + wider,
                }),
                0.10,
            );
            if !matches!(narrow, FigureStatus::Holds { .. }) {
                assert!(
                    !matches!(wide, FigureStatus::Holds { .. }),
                    "{narrow:?} -> {wide:?}"
                );
            }
            if matches!(narrow, FigureStatus::Inconclusive { .. }) {
                assert!(matches!(wide, FigureStatus::Inconclusive { .. }));
            }
        }
    }

    #[test]
    fn a_changed_verdict_fails_the_audit() {
        // Fastify 3x FastAPI, then the other way round: seed 003's claim flips.
        let fast: &[f64] = &[30_000.0, 30_100.0, 29_900.0];
        let slow: &[f64] = &[10_000.0, 10_100.0, 9_900.0];
        let mut original = run("a", &[("fastify", fast), ("fastapi", slow)]);
        let mut rerun = run("b", &[("fastify", slow), ("fastapi", fast)]);
        // The claim is judged at the default profile's 50 connections.
        original.parameters.connections = 50;
        rerun.parameters.connections = 50;
        let report = audit(&original, &rerun);
        let changed: Vec<&ClaimCheck> = report.claims.iter().filter(|c| !c.holds).collect();
        assert!(!changed.is_empty(), "{report}");
        assert!(!report.passed);
    }

    #[test]
    fn other_hardware_shows_figures_without_judging_them() {
        let original = run("a", &[("express", &[10_000.0, 10_200.0, 9_800.0])]);
        let mut rerun = run("b", &[("express", &[5_000.0, 5_100.0, 4_900.0])]);
        rerun.manifest.host.cpu_model = "Intel Xeon".into();
        let report = audit(&original, &rerun);
        assert!(!report.same_hardware);
        assert!(matches!(
            report.figures[0].status,
            FigureStatus::OtherHardware { .. }
        ));
        assert_eq!(report.gate, Gate::Passed);
        assert!(report.passed, "{report}");
        assert!(report.warnings.iter().any(|w| w.contains("cpu_model")));
    }

    #[test]
    fn a_target_that_fails_in_the_rerun_fails_the_audit() {
        let original = run("a", &[("express", &[10_000.0, 10_200.0])]);
        let mut rerun = run("b", &[("express", &[])]);
        rerun.targets[0].status = TargetStatus::Failed;
        rerun.targets[0].error = Some("express exited with code 3".into());
        let report = audit(&original, &rerun);
        assert!(
            matches!(&report.figures[0].status, FigureStatus::Failed { why } if why.contains("code 3"))
        );
        assert!(!report.passed);
    }

    #[test]
    fn the_plan_replays_the_parameters_and_the_seed_as_a_run_command_line() {
        let fixtures = fixtures();
        let mut original = run("a", &[("express", &[1.0]), ("fastify", &[1.0])]);
        original.parameters.duration_s = 2.5;
        original.parameters.generator_cpus = vec![0];
        original.parameters.duet = true;
        original.parameters.duet_rounds = Some(4);
        let audit = plan(&original, "a.json", &fixtures, Path::new("/tmp/x"), 2).unwrap();
        let line = audit.run_args.join(" ");
        for expected in [
            "run --targets express,fastify",
            "--workload status",
            "--seed 7",
            "--generator-cpus 0",
            "--duet-rounds 4",
        ] {
            assert!(line.contains(expected), "{expected} missing from {line}");
        }
        // The sample's manifest names commit `abc` and a fixture hash `h1`.
        assert!(
            audit.warnings.iter().any(|w| w.contains("commit")),
            "{:?}",
            audit.warnings
        );
        assert!(
            audit
                .warnings
                .iter()
                .any(|w| w.contains("fixtures/claims.toml differs"))
        );
    }

    #[test]
    fn a_host_with_too_few_cpus_cannot_audit() {
        let mut original = run("a", &[("express", &[1.0])]);
        original.parameters.generator_cpus = vec![0, 2, 3];
        let err = plan(&original, "a.json", &fixtures(), Path::new("/tmp/r"), 2)
            .err()
            .unwrap();
        assert!(matches!(err, AuditError::NotEnoughCpus { .. }), "{err}");
    }

    #[test]
    fn an_interrupted_run_cannot_be_audited() {
        let mut original = run("a", &[("express", &[1.0])]);
        original.status = RunStatus::Interrupted;
        let err = plan(&original, "a.json", &fixtures(), Path::new("/tmp/r"), 2)
            .err()
            .unwrap();
        assert!(err.to_string().contains("only a finished run"), "{err}");
    }
}
