//! The results file: a versioned, self-describing record of a run, written as results
//! arrive so that a failed or interrupted run keeps what it had.

pub mod chat;
pub mod merge;
pub mod scaling;
pub mod verify;
pub mod versions;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::images::AppImage;
pub use crate::load::ErrorCounts;
use crate::manifest::Manifest;
use crate::runtime::{Launched, Limits, RuntimeKind, StartClock};
use crate::sample::ResourceSummary;
use crate::stats::LatencySummary;

pub use chat::{ChatParameters, ChatTrial, FanoutResult};
pub use merge::{Difference, MergeRecord, MergedSource, SourceDifference};
pub use verify::{CaseOutcome, TargetVerification, VerifyReport};

/// Bumped on any change a reader of results.json must know about.
pub const SCHEMA_VERSION: u32 = 1;

/// How far a run got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Still going (what a crash or power cut leaves behind).
    Running,
    /// Every target measured.
    Complete,
    /// Finished, but at least one target failed.
    Failed,
    /// Stopped by Ctrl-C or a signal: the targets finished so far are kept.
    Interrupted,
}

/// What was asked for; enough to re-run the same measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Parameters {
    pub workload: String,
    pub profile: String,
    /// Measured requests per trial, when bounded.
    pub max_requests: Option<u64>,
    pub method: String,
    pub path: String,
    /// The JSON body every request carried.
    pub body: Option<serde_json::Value>,
    /// Whether targets were verified against the contract before timing.
    pub verified: bool,
    pub runtime: RuntimeKind,
    pub targets: Vec<String>,
    pub trials: u32,
    pub connections: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub request_timeout_s: f64,
    pub ready_timeout_s: f64,
    pub sample_interval_ms: u64,
    pub limits: Limits,
    /// False on the local runtime, which cannot enforce a memory limit.
    pub memory_limit_enforced: bool,
    pub generator_cpus: Vec<usize>,
    pub generator_threads: usize,
    /// Seed of the trial order (`--seed` replays it); absent in files from before it was
    /// recorded.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The order the targets ran in, per trial.
    #[serde(default)]
    pub schedule: Vec<Vec<String>>,
    /// Whether every pair of targets was also measured in duet rounds (see [`DuetResult`]);
    /// false in files from before duets.
    #[serde(default)]
    pub duet: bool,
    /// The pairs measured in duet rounds (`--duet-pairs`); empty when `duet` is false, and in
    /// files from before the pairs could be chosen, where `duet` means every pair.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duet_pairs: Vec<[String; 2]>,
    /// Duet rounds of each pair per round of trials (`--duet-rounds`), half in each start
    /// order; absent in files from before, which ran one per round, alternating the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duet_rounds: Option<u32>,
    /// Whether connections were kept open between requests; false: a new connection per
    /// request, as Apache Bench does. Files from before it was recorded kept them open.
    #[serde(default = "kept_alive")]
    pub keep_alive: bool,
    /// The runtime versions the containers pin, by language (`node`: `24.21.0`, `python`:
    /// `3.13`), to tell a local-runtime run on other versions (see [`versions::warning`]);
    /// absent in older files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pinned_versions: BTreeMap<String, String>,
    /// The chat workload's settings (capacity steps or fan-out rooms); absent for HTTP runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<ChatParameters>,
    /// Which roles shared a host when engines or addresses were named: runs laid out
    /// differently are different measurements (`merge` and `compare` say so). Absent when
    /// everything ran on the one engine beside faceoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<crate::runtime::engines::Layout>,
}

fn kept_alive() -> bool {
    true
}

/// Whether a target was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TargetStatus {
    Ok,
    Failed,
}

/// One measured trial of one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TrialResult {
    pub trial: u32,
    /// Responses completed in the measured window (after warm-up).
    pub requests: u64,
    pub duration_s: f64,
    pub requests_per_sec: f64,
    pub latency: LatencySummary,
    pub status_counts: BTreeMap<u16, u64>,
    pub errors: ErrorCounts,
    pub bytes_received: u64,
    /// Completed requests in each second of the measured window.
    pub per_second: Vec<u64>,
    /// Requests completed during warm-up, excluded from every figure above.
    pub warmup_requests: u64,
    /// Errors during warm-up, excluded too.
    pub warmup_errors: u64,
    /// Connections opened; more than `connections` means the server closed some or errors
    /// forced reconnects.
    pub connections_opened: u64,
    /// Bytes of the measured responses as they came over the wire, headers included (what
    /// wrk reports as "read"); `bytes_received` counts bodies only.
    #[serde(default)]
    pub response_bytes: u64,
    /// Open loop and sweep: the latency of the same responses from the actual write, without
    /// the coordinated-omission correction `latency` carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_latency: Option<LatencySummary>,
    /// Open loop and sweep: requested and achieved rate, schedule lag (of the headline step
    /// for a sweep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_loop: Option<crate::load::OpenLoopStats>,
    /// Rate sweep: every step and the max sustainable rate. The trial's headline figures
    /// above are those of the step at that rate (or of the first step when none held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<crate::sweep::SweepResult>,
    pub resources: ResourceSummary,
    /// How busy faceoff kept the generator CPUs during the trial, in percent of their
    /// capacity. Near 100 the generator, not the server, may have set the pace.
    pub generator_cpu_percent: f64,
    /// When the trial's load began (warm-up included) and ended, RFC 3339 UTC.
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    /// The auxiliary services' resources during the same window, by service name (the
    /// database near 100% CPU set the pace, not the target).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, ResourceSummary>,
    /// Set when the target stopped answering during the window (paused, frozen,
    /// overloaded): why, in one line (see `run::unresponsive`). Such a trial's figures
    /// measure the stall, not the server; it is kept, and every report warns about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unresponsive: Option<String>,
    /// How the target started for this trial: its cold-start time and idle memory. Absent
    /// in files from before it was recorded, and in duet rounds (two targets started on one
    /// cpuset and warmed before they are measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<Startup>,
    /// Mixed profiles: the run's workload alone and beside each side kind of request, each
    /// kind's figures apart. The trial's headline figures above are the run's workload
    /// beside the first side. Absent in other trials and in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mixed: Option<crate::sweep::MixedResult>,
    /// The generator-to-target round trip and idle `GET /status` median, measured before
    /// the first trial of each target was timed. Absent in later trials and older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::runtime::network::NetworkCheck>,
}

impl TrialResult {
    /// Whether the trial measured nothing but the target's start (a `cold-start` profile):
    /// no window, no connection, no request.
    pub fn is_start_only(&self) -> bool {
        self.startup.is_some()
            && self.requests == 0
            && self.connections_opened == 0
            && self.duration_s == 0.0
    }
}

/// A target's start for one trial, before any request of the trial reached it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Startup {
    /// What the time is counted from.
    pub from: StartClock,
    /// Milliseconds from then to the first 200 on `GET /status` (probed every 10 ms): the
    /// cold start.
    pub ready_ms: f64,
    /// Milliseconds the engine's start call took, part of `ready_ms` (Docker only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_call_ms: Option<f64>,
    /// Memory in use at that first 200, before verification or load: the idle footprint
    /// (container: cgroup usage less inactive file cache; process: RSS of its tree).
    pub idle_memory_bytes: Option<u64>,
}

impl Startup {
    /// The start of a target launched as `launched` that first answered 200 at `ready`.
    pub fn new(
        launched: Launched,
        ready: std::time::Instant,
        idle_memory_bytes: Option<u64>,
    ) -> Self {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        Startup {
            from: launched.clock,
            ready_ms: ms(ready.saturating_duration_since(launched.at)),
            start_call_ms: launched.start_call.map(ms),
            idle_memory_bytes,
        }
    }
}

/// Whether a target passed the contract before it was timed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum VerifyStatus {
    /// Every case of the workload passed.
    Passed,
    /// Some case failed: the target was not timed.
    Failed,
    /// `--skip-verify`: timed without checking; its figures may not compare.
    Skipped,
    /// The target never got that far.
    #[default]
    NotRun,
}

/// Everything measured for one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TargetResult {
    pub target: String,
    pub language: String,
    pub framework: String,
    pub framework_version: Option<String>,
    pub server: String,
    pub runtime_version: Option<String>,
    pub lockfile_sha256: Option<String>,
    pub image: Option<AppImage>,
    pub status: TargetStatus,
    /// The contract check before timing.
    #[serde(default)]
    pub verify: VerifyStatus,
    /// The failed contract cases, one line each.
    #[serde(default)]
    pub verify_failures: Vec<String>,
    /// Every contract case checked before timing, passed or not (one JUnit test each).
    #[serde(default)]
    pub verify_cases: Vec<CaseOutcome>,
    /// Why the target failed, one line.
    pub error: Option<String>,
    pub trials: Vec<TrialResult>,
    /// Chat workload trials (capacity ramps or fan-out measurements); `trials` stays empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chat_trials: Vec<ChatTrial>,
    /// The worker processes (or pool workers) of a multi-core variant, as run: one per
    /// CPU of the cpuset, or `--workers`; absent for a target that is one process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u32>,
    /// For a version variant (`faceoff run --node 20,24`): the target it is a variant of and
    /// the version it ran on. Absent for a plain target and in files from before variants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<crate::config::RuntimeVariant>,
}

/// The whole results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunResults {
    pub schema_version: u32,
    pub run_id: String,
    pub status: RunStatus,
    /// A version-matrix run (`faceoff run --node 20,24`): whether the runtime versions
    /// changed a comparison's direction or a claim's verdict, with the figures; the line the
    /// reports open with. Absent for other runs and in files from before variants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_sensitivity: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub parameters: Parameters,
    pub manifest: Manifest,
    pub targets: Vec<TargetResult>,
    /// Set by `faceoff merge`: the files this one was joined from, and whether differing
    /// hosts or parameters were let through (`--allow-mixed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeRecord>,
    /// The auxiliary services every trial ran beside its target (a PostgreSQL for `db`):
    /// image, limits and the variables the targets got.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<crate::runtime::services::ServiceRecord>,
    /// Duet rounds: pairs of targets measured at the same time on the same CPUs (see
    /// [`DuetResult`]). Absent in files from before duets, and in runs without them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duets: Vec<DuetResult>,
    /// Other faceoff runs seen measuring at the same time, on this host's CPUs or on the
    /// same engine (checked before the first trial and after each): every figure of this
    /// run is then lower than the server alone would give.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub concurrent_runs: Vec<crate::runtime::peers::PeerRun>,
}

/// Two targets measured at the same time on the same cpuset, each under its own generator
/// and connections ("duet benchmarking", Bulej et al. 2020). The host's noise then hits both
/// alike, so the ratio of their figures round by round is far steadier than the ratio of
/// trials taken minutes apart. Each server had about half of the cpuset, so the absolute
/// figures here are not those of a dedicated core: only ratios are read from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DuetResult {
    /// The two targets, in the order of each round's `trials`.
    pub targets: [String; 2],
    /// The rounds measured, in order.
    pub rounds: Vec<DuetRound>,
    /// Why the pair stopped before its last round, one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One duet round: both targets' trials over the same window.
///
/// Each trial round runs a pair twice, once in each start order (a balanced, crossover
/// design), so two duet rounds share a `round` number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DuetRound {
    pub round: u32,
    /// One trial per target, in the order of [`DuetResult::targets`].
    pub trials: [TrialResult; 2],
    /// The target started and warmed first. Absent in files written before both orders
    /// ran in every round: those alternated by round, the first target in odd rounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_first: Option<String>,
}

impl DuetRound {
    /// Whether `targets[0]` of the duet (`targets`) started first in this round.
    pub fn first_started_first(&self, targets: &[String; 2]) -> bool {
        match &self.started_first {
            Some(name) => name == &targets[0],
            None => self.round % 2 == 1,
        }
    }
}

impl DuetResult {
    /// Each round's two servers' mean CPU, percent of one CPU, in the order of `targets`,
    /// by round number; rounds where either server has no CPU sample are left out.
    pub fn server_cpu(&self) -> Vec<(u32, f64, f64)> {
        self.rounds
            .iter()
            .filter(|r| r.trials.iter().all(|t| !t.resources.samples.is_empty()))
            .map(|r| {
                let [x, y] = &r.trials;
                (
                    r.round,
                    x.resources.mean_cpu_percent,
                    y.resources.mean_cpu_percent,
                )
            })
            .collect()
    }

    /// This pair's per-round figures in the order `(a, b)`, whichever order it was run in,
    /// each with whether `a` started first; `None` when this duet is not of `a` and `b`.
    pub fn paired<'a>(
        &'a self,
        a: &str,
        b: &str,
    ) -> Option<Vec<(&'a TrialResult, &'a TrialResult, bool)>> {
        let [first, second] = &self.targets;
        let swap = if first == a && second == b {
            false
        } else if first == b && second == a {
            true
        } else {
            return None;
        };
        Some(
            self.rounds
                .iter()
                .map(|round| {
                    let [x, y] = &round.trials;
                    let first = round.first_started_first(&self.targets);
                    if swap { (y, x, !first) } else { (x, y, first) }
                })
                .collect(),
        )
    }
}

impl RunResults {
    /// A run just begun: `running`, no target measured yet.
    pub fn new(
        run_id: String,
        started_at: String,
        parameters: Parameters,
        manifest: Manifest,
    ) -> Self {
        RunResults {
            schema_version: SCHEMA_VERSION,
            run_id,
            status: RunStatus::Running,
            version_sensitivity: None,
            started_at,
            finished_at: None,
            parameters,
            manifest,
            targets: Vec::new(),
            merge: None,
            services: Vec::new(),
            duets: Vec::new(),
            concurrent_runs: Vec::new(),
        }
    }

    /// Whether `target` has failed in this run (it is not tried again).
    pub fn has_failed(&self, target: &str) -> bool {
        self.targets
            .iter()
            .any(|t| t.target == target && t.status == TargetStatus::Failed)
    }

    /// The entry of `target`, created (in order of first use) when missing.
    pub fn target_mut(&mut self, template: &TargetResult) -> &mut TargetResult {
        let index = match self
            .targets
            .iter()
            .position(|t| t.target == template.target)
        {
            Some(index) => index,
            None => {
                self.targets.push(template.clone());
                self.targets.len() - 1
            }
        };
        &mut self.targets[index]
    }
}

/// Why results could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write results to {path} (free disk space or pass --out DIR)")]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Writes the results atomically: a reader never sees a half-written file, and a failed
/// write (disk full) leaves the previous complete version in place.
pub fn write(path: &Path, results: &RunResults) -> Result<(), WriteError> {
    let fail = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let json = serde_json::to_vec_pretty(results).map_err(|e| fail(e.into()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(&json).map_err(fail)?;
    tmp.write_all(b"\n").map_err(fail)?;
    // Readable like the reports beside it (a temporary file starts as 0600).
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(fail)?;
    }
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Reads a results file of any schema version this faceoff can read; a file of a newer
/// version is refused ([`Unusable::NewerSchema`]) before its fields are parsed, so the
/// message says "newer" rather than naming whatever field changed.
pub fn read(path: &Path) -> anyhow::Result<RunResults> {
    use anyhow::Context;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    #[derive(Deserialize)]
    struct Version {
        schema_version: u32,
    }
    if let Ok(Version { schema_version }) = serde_json::from_str::<Version>(&text)
        && schema_version > SCHEMA_VERSION
    {
        return Err(Unusable::NewerSchema {
            path: path.to_path_buf(),
            found: schema_version,
        }
        .into());
    }
    let results: RunResults = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a faceoff results file", path.display()))?;
    Ok(results)
}

/// Reads a results file to judge: one of a run that finished (complete, failed or
/// interrupted) with at least one target. `compare`, `claims` and `audit` read through
/// this, so a run killed before its first target can never pass a gate.
pub fn read_finished(path: &Path) -> anyhow::Result<RunResults> {
    let results = read(path)?;
    check_finished(&results, path)?;
    Ok(results)
}

/// Whether `results` (read from `path`) can be judged: see [`read_finished`].
pub fn check_finished(results: &RunResults, path: &Path) -> Result<(), Unusable> {
    if results.schema_version > SCHEMA_VERSION {
        return Err(Unusable::NewerSchema {
            path: path.to_path_buf(),
            found: results.schema_version,
        });
    }
    if results.status == RunStatus::Running {
        return Err(Unusable::StillRunning {
            path: path.to_path_buf(),
        });
    }
    if results.targets.is_empty() {
        return Err(Unusable::NoTargets {
            path: path.to_path_buf(),
            status: results.status,
        });
    }
    Ok(())
}

/// Why a results file cannot be judged. The binary exits 2 ("could not tell") on it, in
/// every command.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Unusable {
    #[error(
        "{} has schema version {found}, newer than this faceoff's {SCHEMA_VERSION}: use the faceoff that wrote it, or a newer one",
        path.display()
    )]
    NewerSchema { path: PathBuf, found: u32 },
    #[error(
        "{} is of a run that never finished (status `running`: still going, or killed): wait for it, or run it again",
        path.display()
    )]
    StillRunning { path: PathBuf },
    #[error(
        "{} has no measured target (status `{}`): nothing to judge; run it again",
        path.display(),
        status.label()
    )]
    NoTargets { path: PathBuf, status: RunStatus },
}

impl RunStatus {
    /// The status as results.json spells it.
    pub fn label(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Complete => "complete",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duet_round_from_an_older_file_started_its_first_target_first_in_odd_rounds() {
        let targets = ["fastify".to_string(), "fastapi".to_string()];
        let sample: RunResults = serde_json::from_str(include_str!(
            "../../tests/fixtures/results-express-fastapi.json"
        ))
        .unwrap();
        let trial = sample.targets[0].trials[0].clone();
        let round = |round: u32, started_first: Option<&str>| DuetRound {
            round,
            trials: [trial.clone(), trial.clone()],
            started_first: started_first.map(str::to_string),
        };
        assert!(round(1, None).first_started_first(&targets));
        assert!(!round(2, None).first_started_first(&targets));
        assert!(round(2, Some("fastify")).first_started_first(&targets));
        assert!(!round(1, Some("fastapi")).first_started_first(&targets));
        let duet = DuetResult {
            targets: targets.clone(),
            rounds: vec![round(1, Some("fastapi"))],
            error: None,
        };
        let paired = duet.paired("fastapi", "fastify").unwrap();
        assert!(paired[0].2, "fastapi, asked first, started first");
    }

    #[test]
    fn a_failed_write_names_the_path_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, "x").unwrap();
        let path = blocker.join("results.json");
        let results: RunResults = serde_json::from_str(SAMPLE).unwrap();
        let err = write(&path, &results).unwrap_err().to_string();
        assert!(
            err.contains("results.json") && err.contains("--out"),
            "{err}"
        );
    }

    #[test]
    fn results_are_written_readable_like_the_reports() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        write(&path, &serde_json::from_str(SAMPLE).unwrap()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    #[test]
    fn results_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/results.json");
        let results: RunResults = serde_json::from_str(SAMPLE).unwrap();
        write(&path, &results).unwrap();
        assert_eq!(read(&path).unwrap(), results);
    }

    fn sample_file(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
        let mut value: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
        edit(&mut value);
        let path = dir.join("results.json");
        std::fs::write(&path, value.to_string()).unwrap();
        path
    }

    fn unusable(err: anyhow::Error) -> Unusable {
        err.downcast::<Unusable>().expect("refused as unusable")
    }

    #[test]
    fn a_run_that_never_finished_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample_file(dir.path(), |_| {});
        let err = unusable(read_finished(&path).unwrap_err());
        assert_eq!(err, Unusable::StillRunning { path: path.clone() });
        let line = err.to_string();
        assert!(
            line.contains("never finished") && line.contains("running"),
            "{line}"
        );
    }

    #[test]
    fn a_finished_run_without_targets_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample_file(dir.path(), |v| v["status"] = "interrupted".into());
        let err = unusable(read_finished(&path).unwrap_err());
        assert!(matches!(err, Unusable::NoTargets { .. }), "{err}");
        assert!(err.to_string().contains("`interrupted`"), "{err}");
    }

    #[test]
    fn a_newer_schema_is_refused_even_when_its_fields_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample_file(dir.path(), |v| {
            v["schema_version"] = (SCHEMA_VERSION + 1).into();
            v["parameters"] = "reshaped in a later version".into();
        });
        let err = unusable(read(&path).unwrap_err());
        assert_eq!(
            err,
            Unusable::NewerSchema {
                path,
                found: SCHEMA_VERSION + 1
            }
        );
        assert!(err.to_string().contains("newer"), "{err}");
    }

    #[test]
    fn a_start_is_timed_from_its_launch_to_its_first_200() {
        let at = std::time::Instant::now();
        let launched = Launched {
            clock: StartClock::ContainerStart,
            at,
            start_call: Some(std::time::Duration::from_millis(40)),
        };
        let start = Startup::new(
            launched,
            at + std::time::Duration::from_millis(350),
            Some(50 << 20),
        );
        assert!((start.ready_ms - 350.0).abs() < 1e-6, "{start:?}");
        assert_eq!(start.start_call_ms, Some(40.0));
        assert_eq!(start.idle_memory_bytes, Some(50 << 20));
        let json = serde_json::to_value(start).unwrap();
        assert_eq!(json["from"], "container_start");
    }

    #[test]
    fn a_file_from_before_starts_were_timed_still_loads() {
        let mut value: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
        value["targets"] = serde_json::json!([{
            "target": "express", "language": "node", "framework": "Express",
            "framework_version": null, "server": "node", "runtime_version": null,
            "lockfile_sha256": null, "status": "ok", "error": null, "trials": [],
            "image": {"target": "express", "tag": "t", "image_id": "i", "base_image": "b",
                "base_image_id": "", "app_hash": "h", "lockfile_sha256": "", "built": false}
        }]);
        let results: RunResults = serde_json::from_value(value).unwrap();
        let image = results.targets[0].image.as_ref().unwrap();
        assert_eq!(image.size_bytes, None);
    }

    const SAMPLE: &str = r#"{
        "schema_version": 1, "run_id": "r", "status": "running", "started_at": "t",
        "finished_at": null,
        "parameters": {"workload": "status", "profile": "closed-50", "max_requests": null, "method": "GET", "path": "/status",
            "body": null, "verified": true,
            "runtime": "docker", "targets": ["express"], "trials": 1, "connections": 1,
            "duration_s": 1.0, "warmup_s": 0.0, "request_timeout_s": 1.0,
            "ready_timeout_s": 1.0, "sample_interval_ms": 250,
            "limits": {"cpuset": "1", "memory_bytes": 1073741824},
            "memory_limit_enforced": true, "generator_cpus": [0], "generator_threads": 1},
        "manifest": {"faceoff_version": "0.1.0", "git_commit": null, "git_dirty": null,
            "host": {"cpu_model": "x", "cpus": 2, "memory_bytes": 1, "kernel": "k", "os": "o"},
            "engine": null, "fixtures_sha256": {}, "base_images": {}},
        "targets": []
    }"#;
}
