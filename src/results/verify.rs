//! The contract check's record: each case's outcome per target, in results.json and in
//! `verify.json`.

use serde::{Deserialize, Serialize};

/// The outcome of one case on one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaseOutcome {
    pub id: String,
    pub workload: String,
    pub description: String,
    pub passed: bool,
    /// Each difference from the contract, one line each.
    pub failures: Vec<String>,
    pub status: Option<u16>,
    pub elapsed_ms: f64,
}

/// Every case's outcome on one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetVerification {
    pub target: String,
    pub passed: bool,
    /// Why the target could not be verified, or not fully (did not start, was killed for
    /// memory during the cases, …).
    pub error: Option<String>,
    pub cases: Vec<CaseOutcome>,
}

impl TargetVerification {
    /// A verification from case outcomes.
    pub fn from_cases(target: &str, cases: Vec<CaseOutcome>) -> Self {
        TargetVerification {
            target: target.to_string(),
            passed: cases.iter().all(|c| c.passed),
            error: None,
            cases,
        }
    }

    /// A target that could not be verified.
    pub fn failed_to_start(target: &str, error: String) -> Self {
        TargetVerification {
            target: target.to_string(),
            passed: false,
            error: Some(error),
            cases: Vec::new(),
        }
    }

    /// A target whose cases are under way: marked interrupted until they all ran, so a
    /// verify stopped half-way says so of it.
    pub fn under_way(target: &str, interrupted: &str) -> Self {
        TargetVerification {
            target: target.to_string(),
            passed: false,
            error: Some(interrupted.to_string()),
            cases: Vec::new(),
        }
    }

    /// The failed cases, as one line each: `id: difference; difference`.
    pub fn failure_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.error.iter().map(|e| format!("target: {e}")).collect();
        lines.extend(
            self.cases
                .iter()
                .filter(|c| !c.passed)
                .map(|c| format!("{}: {}", c.id, c.failures.join("; "))),
        );
        lines
    }
}

/// `verify.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub schema_version: u32,
    pub run_id: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// `complete` (every case passed), `failed`, `interrupted` (Ctrl-C or a signal: the
    /// cases checked so far are kept, the target under way with its error saying so), or
    /// `running`. Files from before it was recorded read as `complete`.
    #[serde(default = "complete")]
    pub status: super::RunStatus,
    pub workloads: Vec<String>,
    pub targets: Vec<TargetVerification>,
}

fn complete() -> super::RunStatus {
    super::RunStatus::Complete
}

impl VerifyReport {
    pub fn passed(&self) -> bool {
        self.targets.iter().all(|t| t.passed)
    }
}
