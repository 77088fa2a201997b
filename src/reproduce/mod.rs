//! `faceoff claims --reproduce`: the smallest set of `faceoff run`s that judges every claim
//! this host can judge, the state that lets a reproduction resume, and its report.
//!
//! Planning is pure: [`plan`] takes the registry, the fixtures, what the host has
//! ([`Host`]) and the user's options, groups the runnable claims by what they need (workload,
//! profile and so connections, server CPUs), unions the targets each group needs (every
//! Node and Python target serving the workload for a `pairs = "language"` claim), and says
//! for every other claim why it is left out. Running the plan is the edge's job
//! (`commands::reproduce`); [`state`] records its progress and [`report`] judges what ran.

pub mod report;
pub mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::claims::{Claim, Claims, Kind, MIN_ROUNDS, Metric, Pairs, duet_measures};
use crate::config::{ConfigError, Fixtures, LoadMode, Target, Workload};

/// A quick reproduction's measured window per trial (closed loop), unless the workload's
/// requests are slow on purpose (it sets a request timeout): see [`QUICK_SLOW_WINDOW`].
pub const QUICK_WINDOW: Duration = Duration::from_secs(5);
/// A quick reproduction's window for a workload of slow requests: `leibniz-large` takes
/// about 3.5 s per Python request on a CPU of its own here, so 15 s still finishes a request
/// or two on the half CPU a duet leaves it.
pub const QUICK_SLOW_WINDOW: Duration = Duration::from_secs(15);
/// A quick reproduction's warm-up per trial.
pub const QUICK_WARMUP: Duration = Duration::from_secs(1);
/// A quick reproduction's budget for a whole capacity ramp.
pub const QUICK_RAMP: Duration = Duration::from_secs(60);

/// Seconds the estimate allows for starting one container and waiting until it is ready.
pub const START_S: f64 = 2.0;
/// Seconds the estimate allows for starting one auxiliary service (a PostgreSQL).
pub const SERVICE_START_S: f64 = 5.0;
/// Seconds the estimate allows for checking one target against the contract.
pub const VERIFY_S: f64 = 1.0;

/// What the user asked for, beyond the registry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// Fewer trials and shorter windows (see [`QUICK_WINDOW`]).
    pub quick: bool,
    /// Only these targets may run (empty: any).
    #[serde(default)]
    pub targets: Vec<String>,
    /// Only these claims (empty: all).
    #[serde(default)]
    pub only: Vec<String>,
    /// Only the claims of these workloads (empty: all).
    #[serde(default)]
    pub workloads: Vec<String>,
    /// Trials per run instead of the profile's (or the quick) count.
    pub trials: Option<u32>,
    /// Measured window per closed-loop trial instead of the profile's (or the quick) one.
    pub duration_s: Option<f64>,
    /// Warm-up per trial instead of the profile's (or the quick) one.
    pub warmup_s: Option<f64>,
}

/// What this host has that decides which claims it can judge.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// CPUs this process may use: one goes to the load generator, the rest to servers.
    pub cpus: usize,
    /// Files this process may open (the capacity ramp's connections), when known.
    pub open_files: Option<u64>,
}

/// Why a claim has no run in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipKind {
    /// faceoff itself cannot run what the claim needs yet (a planned workload or profile).
    FaceoffCannot,
    /// This host cannot: too few CPUs, too low an open-file limit.
    HostCannot,
    /// Left out by the user's options (`--only`, `--workload`, `--targets`).
    Excluded,
}

impl SkipKind {
    /// A heading for the claims of this kind.
    pub fn heading(self) -> &'static str {
        match self {
            SkipKind::FaceoffCannot => "faceoff cannot run yet",
            SkipKind::HostCannot => "this host cannot judge",
            SkipKind::Excluded => "left out by the options",
        }
    }

    /// A section title for the claims of this kind.
    pub fn title(self) -> &'static str {
        match self {
            SkipKind::FaceoffCannot => "Not in faceoff yet",
            SkipKind::HostCannot => "This host cannot judge",
            SkipKind::Excluded => "Left out by the options",
        }
    }
}

/// A claim with no run in the plan, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub claim: String,
    pub kind: SkipKind,
    pub why: String,
}

/// One `faceoff run` of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRun {
    /// Unique within the plan, and the name of the run's directory: `03-status-closed-100`.
    pub key: String,
    pub workload: String,
    pub profile: String,
    pub mode: LoadMode,
    pub connections: u32,
    /// The server cpuset when the claims need more than one CPU (`1-2`); `None`: the
    /// default of `faceoff run`.
    pub cpuset: Option<String>,
    pub targets: Vec<String>,
    pub trials: u32,
    /// Measured window per trial (a capacity ramp's whole budget).
    pub duration_s: f64,
    pub warmup_s: f64,
    /// Whether the run measures duet rounds (closed loop, two targets or more, and some
    /// claim of the run judged on throughput, which is all duets measure).
    pub duet: bool,
    /// The pairs its claims compare, measured in duet rounds (fewer than every pair keeps a
    /// run of many targets short); empty in plans from before the pairs were chosen.
    #[serde(default)]
    pub duet_pairs: Vec<[String; 2]>,
    /// About how long the run takes, images already built.
    pub estimate_s: f64,
    /// The claims this run gives figures to.
    pub claims: Vec<String>,
}

impl PlannedRun {
    /// The `faceoff run` arguments (without the program name) that perform this run, its
    /// results written under `out`.
    pub fn run_args(&self, out: &Path) -> Vec<String> {
        let mut args = vec![
            "run".to_string(),
            "--workload".into(),
            self.workload.clone(),
            "--profile".into(),
            self.profile.clone(),
            "--targets".into(),
            self.targets.join(","),
            "--trials".into(),
            self.trials.to_string(),
        ];
        // A cold-start run has no window: `run` refuses a zero duration.
        if self.duration_s > 0.0 {
            args.extend(["--duration".into(), duration_arg(self.duration_s)]);
        }
        args.extend(["--warmup".into(), duration_arg(self.warmup_s)]);
        if let Some(cpuset) = &self.cpuset {
            args.extend(["--cpuset".into(), cpuset.clone()]);
        }
        let every_pair = self.targets.len() * self.targets.len().saturating_sub(1) / 2;
        if !self.duet && self.mode == LoadMode::Closed && self.targets.len() >= 2 {
            args.push("--no-duet".into());
        } else if self.duet && !self.duet_pairs.is_empty() && self.duet_pairs.len() < every_pair {
            let pairs: Vec<String> = self
                .duet_pairs
                .iter()
                .map(|[a, b]| format!("{a}/{b}"))
                .collect();
            args.extend(["--duet-pairs".into(), pairs.join(",")]);
        }
        args.extend(["--out".into(), out.display().to_string()]);
        args
    }

    /// The run as a command a user could type (its results directory left out).
    pub fn command_line(&self) -> String {
        let args = self.run_args(Path::new(""));
        let shown = &args[..args.len() - 2];
        format!("faceoff {}", shown.join(" "))
    }

    /// The run in one line: what, which targets, how long.
    pub fn summary(&self) -> String {
        let cpus = self
            .cpuset
            .as_deref()
            .map(|c| format!(", cpuset {c}"))
            .unwrap_or_default();
        let each = match self.mode {
            LoadMode::Capacity => {
                format!("a ramp of at most {}", show_duration(self.duration_s))
            }
            LoadMode::Fanout => format!("a {} fan-out", show_duration(self.duration_s)),
            LoadMode::ColdStart => "a start, no load".to_string(),
            _ => format!("{} windows", show_duration(self.duration_s)),
        };
        let duet = if self.duet {
            ", duet rounds"
        } else if self.mode == LoadMode::Closed && self.targets.len() >= 2 {
            ", no duets (no throughput claim)"
        } else {
            ""
        };
        format!(
            "{} · {} ({} connection{}{cpus}) · {} · {} trial{} of {each}{duet} · about {} · {} claim{}",
            self.workload,
            self.profile,
            self.connections,
            if self.connections == 1 { "" } else { "s" },
            self.targets.join(", "),
            self.trials,
            if self.trials == 1 { "" } else { "s" },
            show_duration(self.estimate_s),
            self.claims.len(),
            if self.claims.len() == 1 { "" } else { "s" },
        )
    }
}

/// The runs that judge every claim this host can judge, and every other claim with why not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub options: Options,
    pub host: Host,
    pub runs: Vec<PlannedRun>,
    pub skipped: Vec<Skipped>,
}

impl Plan {
    /// About how long every run takes together, images already built.
    pub fn estimate_s(&self) -> f64 {
        self.runs.iter().map(|r| r.estimate_s).sum()
    }

    /// The run `key`.
    pub fn run(&self, key: &str) -> Option<&PlannedRun> {
        self.runs.iter().find(|r| r.key == key)
    }

    /// The run that gives figures to `claim`, if any.
    pub fn run_of(&self, claim: &str) -> Option<&PlannedRun> {
        self.runs
            .iter()
            .find(|r| r.claims.iter().any(|c| c == claim))
    }

    /// The skipped entry of `claim`, if it has no run.
    pub fn skipped_entry(&self, claim: &str) -> Option<&Skipped> {
        self.skipped.iter().find(|s| s.claim == claim)
    }

    /// How this plan differs from `other`, in a few words; empty when they are the same.
    pub fn differences(&self, other: &Plan) -> Vec<String> {
        let mut found = Vec::new();
        if self.options != other.options {
            found.push(format!(
                "options {} vs {}",
                self.options.describe(),
                other.options.describe()
            ));
        }
        if self.host != other.host {
            found.push(format!(
                "host {} CPUs vs {}",
                self.host.cpus, other.host.cpus
            ));
        }
        // Estimates are not the plan: a faceoff with better ones resumes the same runs.
        let runs = |p: &Plan| {
            p.runs
                .iter()
                .map(|r| PlannedRun {
                    estimate_s: 0.0,
                    ..r.clone()
                })
                .collect::<Vec<_>>()
        };
        if runs(self) != runs(other) {
            let keys = |p: &Plan| {
                p.runs
                    .iter()
                    .map(|r| r.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            found.push(if keys(self) == keys(other) {
                "the same runs with other parameters (targets, trials or windows)".to_string()
            } else {
                format!("runs [{}] vs [{}]", keys(self), keys(other))
            });
        }
        if self.skipped != other.skipped && found.is_empty() {
            found.push("other claims left out".into());
        }
        found
    }
}

impl Options {
    /// The options as the flags that give them.
    pub fn describe(&self) -> String {
        let mut parts = vec![if self.quick { "--quick" } else { "full" }.to_string()];
        if !self.targets.is_empty() {
            parts.push(format!("--targets {}", self.targets.join(",")));
        }
        if !self.only.is_empty() {
            parts.push(format!("--only {}", self.only.join(",")));
        }
        if !self.workloads.is_empty() {
            parts.push(format!("--workload {}", self.workloads.join(",")));
        }
        if let Some(trials) = self.trials {
            parts.push(format!("--trials {trials}"));
        }
        if let Some(d) = self.duration_s {
            parts.push(format!("--duration {}", duration_arg(d)));
        }
        if let Some(w) = self.warmup_s {
            parts.push(format!("--warmup {}", duration_arg(w)));
        }
        parts.join(" ")
    }
}

/// A plan that cannot be made from these options.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("--only: no claim `{id}` in fixtures/claims.toml (`faceoff claims` lists them)")]
    UnknownClaim { id: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// The connections a capacity claim needs held, when it states a number
/// (`connections_held` with `at_least` or `value`).
pub fn capacity_needed(claim: &Claim) -> Option<u64> {
    if claim.metric != Metric::ConnectionsHeld || claim.kind != Kind::Absolute {
        return None;
    }
    let needed = claim.at_least.or(claim.value.map(|v| v.low()))?;
    Some(needed.ceil().max(0.0) as u64)
}

/// Whether a verdict on `claim` rests on at least [`MIN_ROUNDS`] trials: every claim but
/// "holds at least N connections", which one ramp that held N settles.
pub fn needs_rounds(claim: &Claim) -> bool {
    !(claim.kind == Kind::Absolute
        && claim.metric == Metric::ConnectionsHeld
        && claim.at_least.is_some())
}

/// What one claim needs from a run.
struct Need {
    workload: usize,
    profile: usize,
    server_cpus: u32,
    targets: BTreeSet<String>,
    /// The pairs whose duet rounds judge the claim (throughput claims on two sides).
    duet_pairs: BTreeSet<[String; 2]>,
}

/// Plans the runs for every claim of `claims` that `host` can judge under `options`.
///
/// # Errors
///
/// An unknown claim id, target or workload in the options.
pub fn plan(
    claims: &Claims,
    fixtures: &Fixtures,
    host: Host,
    options: &Options,
) -> Result<Plan, PlanError> {
    for id in &options.only {
        if claims.get(id).is_none() {
            return Err(PlanError::UnknownClaim { id: id.clone() });
        }
    }
    for name in &options.workloads {
        if claims.planned(name).is_none() {
            fixtures.workload(name)?;
        }
    }
    fixtures.select_targets(&options.targets)?;

    // (workload, profile, server CPUs) → (targets, claims, duet pairs), in fixtures order.
    type Group = (BTreeSet<String>, Vec<String>, BTreeSet<[String; 2]>);
    let mut groups: BTreeMap<(usize, usize, u32), Group> = BTreeMap::new();
    let mut skipped = Vec::new();
    for claim in &claims.claims {
        match need(claim, claims, fixtures, host, options) {
            Ok(need) => {
                let group = groups
                    .entry((need.workload, need.profile, need.server_cpus))
                    .or_default();
                group.0.extend(need.targets);
                group.1.push(claim.id.clone());
                group.2.extend(need.duet_pairs);
            }
            Err((kind, why)) => skipped.push(Skipped {
                claim: claim.id.clone(),
                kind,
                why,
            }),
        }
    }

    let mut runs = Vec::new();
    for (number, ((w, p, server_cpus), (targets, claim_ids, pairs))) in
        groups.into_iter().enumerate()
    {
        let workload = &fixtures.workloads[w];
        let profile = &fixtures.profiles[p];
        // Targets in the order of fixtures/targets.toml.
        let targets: Vec<&Target> = fixtures
            .targets
            .iter()
            .filter(|t| targets.contains(&t.name))
            .collect();
        let ramp = matches!(profile.mode, LoadMode::Capacity | LoadMode::Fanout);
        let profile_trials = profile.trials_or(None);
        // A profile of one trial (a capacity ramp) still gets the rounds a verdict needs,
        // unless every claim of the run is settled by one ramp.
        let fewest = if claim_ids
            .iter()
            .filter_map(|id| claims.get(id))
            .any(needs_rounds)
        {
            MIN_ROUNDS as u32
        } else {
            1
        };
        let trials = options.trials.unwrap_or(if options.quick {
            profile_trials.min(MIN_ROUNDS as u32).max(fewest)
        } else {
            profile_trials.max(fewest)
        });
        let duration = if ramp {
            if options.quick {
                profile.duration.min(QUICK_RAMP)
            } else {
                profile.duration
            }
        } else if let Some(d) = options.duration_s {
            Duration::from_secs_f64(d)
        } else if options.quick && workload.request_timeout.is_none() {
            profile.duration.min(QUICK_WINDOW)
        } else if options.quick {
            profile.duration.min(QUICK_SLOW_WINDOW)
        } else {
            profile.duration
        };
        let warmup = match options.warmup_s {
            Some(w) => Duration::from_secs_f64(w),
            None if options.quick => profile.warmup.min(QUICK_WARMUP),
            None => profile.warmup,
        };
        let duet = profile.mode == LoadMode::Closed && targets.len() >= 2 && !pairs.is_empty();
        let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
        let pairs: Vec<[String; 2]> = if duet {
            let wanted: Vec<[String; 2]> = pairs.into_iter().collect();
            crate::run::duet_pairs(&wanted, &names)
                .expect("a claim's pairs are among its run's targets")
        } else {
            Vec::new()
        };
        // A mixed trial is a window alone and one beside each side, each with its warm-up.
        let windows = if profile.mode == LoadMode::Mixed {
            1.0 + profile.sides.len() as f64
        } else {
            1.0
        };
        let estimate_s = estimate(
            profile.mode,
            workload,
            &targets,
            trials,
            duration.as_secs_f64() * windows,
            warmup.as_secs_f64() * windows,
            &pairs,
        );
        let cpu_suffix = if server_cpus > 1 {
            format!("-cpus-{server_cpus}")
        } else {
            String::new()
        };
        runs.push(PlannedRun {
            key: format!(
                "{:02}-{}-{}{cpu_suffix}",
                number + 1,
                workload.name,
                profile.name
            ),
            workload: workload.name.clone(),
            profile: profile.name.clone(),
            mode: profile.mode,
            connections: profile.connections,
            cpuset: (server_cpus > 1).then(|| format!("1-{server_cpus}")),
            targets: names,
            trials,
            duration_s: duration.as_secs_f64(),
            warmup_s: warmup.as_secs_f64(),
            duet,
            duet_pairs: pairs,
            estimate_s,
            claims: claim_ids,
        });
    }
    Ok(Plan {
        options: options.clone(),
        host,
        runs,
        skipped,
    })
}

/// What `claim` needs from a run, or why it gets none.
fn need(
    claim: &Claim,
    claims: &Claims,
    fixtures: &Fixtures,
    host: Host,
    options: &Options,
) -> Result<Need, (SkipKind, String)> {
    let excluded = |why: String| Err((SkipKind::Excluded, why));
    if !options.only.is_empty() && !options.only.contains(&claim.id) {
        return excluded("not asked for (--only)".into());
    }
    if !options.workloads.is_empty() && !options.workloads.contains(&claim.workload) {
        return excluded(format!(
            "its workload `{}` was not asked for (--workload)",
            claim.workload
        ));
    }
    if let Some(planned) = claims.planned(&claim.workload) {
        return Err((
            SkipKind::FaceoffCannot,
            format!(
                "needs the `{}` workload ({}), which faceoff cannot run yet",
                planned.name, planned.needs
            ),
        ));
    }
    if let Some(planned) = claims.planned_profile(claim.profile()) {
        return Err((
            SkipKind::FaceoffCannot,
            format!(
                "needs the `{}` profile ({} connections: {}), which faceoff does not have yet",
                planned.name, planned.connections, planned.needs
            ),
        ));
    }
    if !claim.metric.is_measured() {
        return Err((
            SkipKind::FaceoffCannot,
            format!("faceoff does not measure {} yet", claim.metric),
        ));
    }
    let server_cpus = claim.min_server_cpus.unwrap_or(1);
    if host.cpus < server_cpus as usize + 1 {
        return Err((
            SkipKind::HostCannot,
            format!(
                "needs a server cpuset of ≥ {server_cpus} CPUs and 1 more CPU for the load generator ({} in all); this host has {}",
                server_cpus + 1,
                host.cpus
            ),
        ));
    }
    if let (Some(needed), Some(limit)) = (capacity_needed(claim), host.open_files) {
        let usable = limit.saturating_sub(crate::load::FD_MARGIN);
        if needed > usable {
            return Err((
                SkipKind::HostCannot,
                format!(
                    "needs {needed} connections held; this host's open-file limit ({limit}) stops the capacity ramp at {usable}: run where faceoff and the engine may open more files"
                ),
            ));
        }
    }
    let workload_index = fixtures
        .workloads
        .iter()
        .position(|w| w.name == claim.workload)
        .ok_or_else(|| {
            (
                SkipKind::FaceoffCannot,
                format!("no workload `{}` in fixtures", claim.workload),
            )
        })?;
    let profile_index = fixtures
        .profiles
        .iter()
        .position(|p| p.name == claim.profile())
        .ok_or_else(|| {
            (
                SkipKind::FaceoffCannot,
                format!("no profile `{}` in fixtures", claim.profile()),
            )
        })?;
    let workload = &fixtures.workloads[workload_index];
    let allowed =
        |name: &str| options.targets.is_empty() || options.targets.iter().any(|t| t == name);
    // Each side's targets: the named one, or every target of its language.
    let mut sides: Vec<Vec<String>> = Vec::new();
    match (claim.pairs, claim.b.as_deref()) {
        // Quick: a language-level claim on the pair it names (`a`, `b`) only; every Node ×
        // Python pair would add a duet per pair to each round.
        (Pairs::Language, Some(b)) if !options.quick => {
            let language_of = |name: &str| {
                fixtures
                    .targets
                    .iter()
                    .find(|t| t.name == name)
                    .map(|t| t.language)
            };
            for side in [claim.a.as_str(), b] {
                let Some(language) = language_of(side) else {
                    return excluded(format!("no target `{side}` in fixtures"));
                };
                let of_language: Vec<String> = fixtures
                    .targets
                    .iter()
                    .filter(|t| t.language == language && t.serves(workload) && allowed(&t.name))
                    // A variant joins only when --targets names it: never silently.
                    .filter(|t| t.variant_of.is_none() || !options.targets.is_empty())
                    .map(|t| t.name.clone())
                    .collect();
                if of_language.is_empty() {
                    return excluded(format!(
                        "needs a {language} target serving `{}` among --targets",
                        workload.name
                    ));
                }
                sides.push(of_language);
            }
        }
        _ => {
            let missing: Vec<&str> = claim
                .targets()
                .into_iter()
                .filter(|t| !allowed(t))
                .collect();
            if !missing.is_empty() {
                return excluded(format!("needs {} (not in --targets)", missing.join(", ")));
            }
            sides = claim
                .targets()
                .into_iter()
                .map(|t| vec![t.to_string()])
                .collect();
        }
    }
    let targets: BTreeSet<String> = sides.iter().flatten().cloned().collect();
    let mut duet_pairs = BTreeSet::new();
    if let [a_side, b_side] = sides.as_slice()
        && duet_measures(claim.metric)
    {
        for a in a_side {
            for b in b_side.iter().filter(|b| *b != a) {
                duet_pairs.insert([a.clone(), b.clone()]);
            }
        }
    }
    Ok(Need {
        workload: workload_index,
        profile: profile_index,
        server_cpus,
        targets,
        duet_pairs,
    })
}

/// About how long a run takes: every container start, contract check, warm-up and window,
/// the duet rounds of `duet_pairs` included; a capacity ramp counts its whole budget.
pub fn estimate(
    mode: LoadMode,
    workload: &Workload,
    targets: &[&Target],
    trials: u32,
    duration_s: f64,
    warmup_s: f64,
    duet_pairs: &[[String; 2]],
) -> f64 {
    let services = |t: &Target| (workload.services.len() + t.services.len()) as f64;
    let start = |t: &Target| START_S + services(t) * SERVICE_START_S;
    let trials = f64::from(trials);
    match mode {
        LoadMode::Capacity | LoadMode::Fanout => targets
            .iter()
            .map(|t| trials * (start(t) + warmup_s + duration_s) + VERIFY_S)
            .sum(),
        _ => {
            let window = warmup_s + duration_s;
            // The contract check runs in a start of its own before the first trial.
            let solo: f64 = targets
                .iter()
                .map(|t| trials * (start(t) + window) + start(t) + VERIFY_S)
                .sum();
            let by_name = |name: &str| targets.iter().find(|t| t.name == name);
            // Each side is warmed alone first, then both are warmed and measured together;
            // `DUET_ROUNDS` times per round, half in each start order.
            let per_round = f64::from(crate::run::DUET_ROUNDS);
            let duets: f64 = duet_pairs
                .iter()
                .filter_map(|[a, b]| Some((by_name(a)?, by_name(b)?)))
                .map(|(a, b)| per_round * trials * (start(a) + start(b) + 2.0 * warmup_s + window))
                .sum();
            solo + duets
        }
    }
}

/// Seconds as a `faceoff run` duration argument: `5s`, `1500ms`.
pub fn duration_arg(seconds: f64) -> String {
    let ms = (seconds * 1000.0).round() as u64;
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Seconds for people: `45 s`, `12 min`, `1 h 05 min`.
pub fn show_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s < 90 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", (s + 30) / 60)
    } else {
        let minutes = (s + 30) / 60;
        format!("{} h {:02} min", minutes / 60, minutes % 60)
    }
}

#[cfg(test)]
mod tests;
