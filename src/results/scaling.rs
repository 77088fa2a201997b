//! The record of a scaling run (`faceoff run --profile scaling`): `scaling.json` beside the
//! ordinary results file of each step. Each step is a complete run of its own (its own
//! results.json, verified, with its trials and resource samples); this file says which
//! cpuset each step had, what it measured in brief, and which steps the host could not hold.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{RunStatus, WriteError};

/// A scaling run: the same targets at cpusets of 1, 2, 4 … CPUs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalingRecord {
    pub schema_version: u32,
    pub run_id: String,
    pub status: RunStatus,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub workload: String,
    pub targets: Vec<String>,
    /// CPUs this host has online.
    pub host_cpus: usize,
    /// The load generator's CPUs, the same for every step and never the server's.
    pub generator_cpus: Vec<usize>,
    /// The server CPU counts the profile asks for.
    pub steps_asked: Vec<u32>,
    /// Those this host holds beside the generator's CPUs, measured in this order.
    pub steps_measured: Vec<u32>,
    /// Those it does not: each with the host it would take.
    pub steps_beyond_host: Vec<StepBeyondHost>,
    /// One entry per target and measured step.
    pub steps: Vec<ScalingStep>,
}

/// A step this host is too small for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepBeyondHost {
    pub server_cpus: u32,
    /// The fewest CPUs a host needs for it, the generator's included.
    pub host_cpus_needed: usize,
}

/// One target at one cpuset size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalingStep {
    pub target: String,
    pub server_cpus: u32,
    /// The server's cpuset, as given to the container.
    pub cpuset: String,
    /// The worker count the variant ran with (none for a one-process target).
    pub workers: Option<u32>,
    /// This step's results.json, relative to the scaling run's directory.
    pub results: PathBuf,
    /// Trials measured.
    pub trials: u32,
    /// Median over the trials.
    pub requests_per_sec: Option<f64>,
    /// Median of the trials' mean server CPU, in percent of one CPU (200 = two CPUs busy).
    pub server_cpu_percent: Option<f64>,
    /// Median of the trials' generator CPU, in percent of the generator's CPUs.
    pub generator_cpu_percent: Option<f64>,
    /// The generator, not the server, set the pace in most trials (saturated while the
    /// server had CPU to spare): the step is left out of the fit and named in a warning.
    pub generator_bound: bool,
    /// Why the target has no figure at this step.
    pub error: Option<String>,
}

/// Writes `scaling.json` atomically (a reader never sees half a file).
pub fn write(path: &Path, record: &ScalingRecord) -> Result<(), WriteError> {
    let fail = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let json = serde_json::to_vec_pretty(record).map_err(|e| fail(e.into()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(&json).map_err(fail)?;
    tmp.write_all(b"\n").map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Reads a `scaling.json`.
pub fn read(path: &Path) -> Result<ScalingRecord, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a scaling record: {e}", path.display()))
}
