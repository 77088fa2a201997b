//! What a merged results file records about the files it was joined from.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a merged file came from, kept in it so reports can say so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MergeRecord {
    pub sources: Vec<MergedSource>,
    /// True when `--allow-mixed` let differing hosts or parameters through.
    pub allow_mixed: bool,
    /// How the sources differed from the first one (empty unless `allow_mixed`). The merged
    /// file's parameters and manifest are the first source's.
    pub differences: Vec<SourceDifference>,
    /// Differences that do not stop a merge, e.g. base images each job built itself.
    pub notes: Vec<String>,
}

/// One merged file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MergedSource {
    pub file: String,
    pub run_id: String,
    pub targets: Vec<String>,
    pub seed: Option<u64>,
    pub started_at: String,
    pub finished_at: Option<String>,
}

/// A difference of one source from the first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SourceDifference {
    pub file: String,
    #[serde(flatten)]
    pub difference: Difference,
}

/// One way two results files differ: a field of the parameters or of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Difference {
    /// Where, e.g. `manifest.host.cpu_model` or `parameters.duration_s`.
    pub field: String,
    /// The value in the first file, as JSON (`null` when absent).
    pub first: String,
    /// The value in the other file.
    pub other: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} vs {})", self.field, self.first, self.other)
    }
}
