//! The state of a reproduction, `reproduce.json` in its directory: the plan, and each run's
//! status and results file. Written atomically after every change, so a reproduction killed
//! at any moment resumes from what the file says: a run it shows `running` was killed
//! mid-way and is redone, like every run that did not complete.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Plan;
use crate::results::{self, RunStatus};

/// The state file's name in the reproduction directory.
pub const STATE_FILE: &str = "reproduce.json";
/// The directory (in the reproduction directory) holding one directory per planned run.
pub const RUNS_DIR: &str = "runs";
/// The version of the state file's format.
pub const SCHEMA_VERSION: u32 = 1;

/// Where one planned run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Progress {
    /// Not started.
    Pending,
    /// Started and not finished: still going, or killed (SIGKILL, power cut).
    Running,
    /// Every target measured.
    Complete,
    /// Finished, but a target failed, or the run could not start.
    Failed,
    /// Stopped by Ctrl-C or SIGTERM.
    Interrupted,
}

impl Progress {
    pub fn label(self) -> &'static str {
        match self {
            Progress::Pending => "pending",
            Progress::Running => "running",
            Progress::Complete => "complete",
            Progress::Failed => "failed",
            Progress::Interrupted => "interrupted",
        }
    }

    /// The progress a results file's own status gives.
    pub fn of(status: RunStatus) -> Self {
        match status {
            RunStatus::Complete => Progress::Complete,
            RunStatus::Failed => Progress::Failed,
            RunStatus::Interrupted => Progress::Interrupted,
            RunStatus::Running => Progress::Running,
        }
    }
}

/// One planned run's status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// The planned run's key (its directory under `runs/`).
    pub key: String,
    pub status: Progress,
    /// The results file of the attempt that counts, relative to the reproduction directory.
    pub results: Option<PathBuf>,
    /// Earlier attempts that did not complete (results files, relative), kept for the record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<PathBuf>,
    /// Why the run failed, when it could not even start.
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

/// A reproduction: its plan and how far it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub schema_version: u32,
    pub faceoff_version: String,
    pub created_at: String,
    pub updated_at: String,
    pub plan: Plan,
    pub runs: Vec<RunState>,
}

/// A state file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a faceoff reproduction state file")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path} has format version {found}; this faceoff reads version {SCHEMA_VERSION}")]
    Version { path: PathBuf, found: u32 },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl State {
    /// A reproduction of `plan` with nothing run yet.
    pub fn new(plan: Plan, now: &str) -> Self {
        let runs = plan
            .runs
            .iter()
            .map(|run| RunState {
                key: run.key.clone(),
                status: Progress::Pending,
                results: None,
                attempts: Vec::new(),
                error: None,
                started_at: None,
                finished_at: None,
            })
            .collect();
        State {
            schema_version: SCHEMA_VERSION,
            faceoff_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at: now.to_string(),
            updated_at: now.to_string(),
            plan,
            runs,
        }
    }

    /// The state in `dir`, or `None` when `dir` holds none.
    pub fn read(dir: &Path) -> Result<Option<Self>, StateError> {
        let path = dir.join(STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Read { path, source }),
        };
        let version = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["schema_version"].as_u64());
        if let Some(found) = version.filter(|&v| v != u64::from(SCHEMA_VERSION)) {
            return Err(StateError::Version {
                path,
                found: found as u32,
            });
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| StateError::Parse { path, source })
    }

    /// Writes the state into `dir` atomically: a reader (or a resumed reproduction after a
    /// kill) sees the previous version or this one, never half of one.
    pub fn write(&mut self, dir: &Path, now: &str) -> Result<(), StateError> {
        self.updated_at = now.to_string();
        let path = dir.join(STATE_FILE);
        let fail = |source| StateError::Write {
            path: path.clone(),
            source,
        };
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| fail(e.into()))?;
        json.push(b'\n');
        std::fs::create_dir_all(dir).map_err(fail)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
        tmp.write_all(&json).map_err(fail)?;
        tmp.as_file().sync_all().map_err(fail)?;
        tmp.persist(&path).map_err(|e| fail(e.error))?;
        Ok(())
    }

    /// Whether run `index` is done: the state says complete and its results file, still on
    /// disk, says so too.
    pub fn is_done(&self, index: usize, dir: &Path) -> bool {
        let run = &self.runs[index];
        run.status == Progress::Complete
            && run
                .results
                .as_ref()
                .and_then(|path| results::read(&dir.join(path)).ok())
                .is_some_and(|r| r.status == RunStatus::Complete)
    }

    /// The runs still to do, in plan order: every run not done (never started, killed,
    /// interrupted, failed, or whose results file is gone).
    pub fn to_do(&self, dir: &Path) -> Vec<usize> {
        (0..self.runs.len())
            .filter(|&i| !self.is_done(i, dir))
            .collect()
    }

    /// Whether every planned run completed.
    pub fn all_complete(&self, dir: &Path) -> bool {
        self.to_do(dir).is_empty()
    }

    /// The results files of the runs that finished (complete or failed), in plan order:
    /// what the claims are judged on. Relative to `dir`.
    pub fn finished_results(&self) -> Vec<&Path> {
        self.runs
            .iter()
            .filter(|r| matches!(r.status, Progress::Complete | Progress::Failed))
            .filter_map(|r| r.results.as_deref())
            .collect()
    }

    /// About how long the runs still to do take.
    pub fn remaining_estimate_s(&self, dir: &Path) -> f64 {
        self.to_do(dir)
            .into_iter()
            .map(|i| self.plan.runs[i].estimate_s)
            .sum()
    }
}

/// The results files of the attempts of one planned run: every `<run-id>/results.json`
/// under its directory, oldest first (run ids sort by time).
pub fn attempts_in(run_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(run_dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path().join("results.json"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found
}
