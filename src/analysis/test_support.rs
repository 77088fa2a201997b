//! The real results file the exporters are tested on (a short `faceoff run` of express and
//! fastapi, committed under tests/fixtures/), and an analysis of it.

use std::path::PathBuf;

use crate::analysis::Analysis;
use crate::claims::Claims;
use crate::results::RunResults;
use crate::stats::Bootstrap;

/// The fixture, relative to the repository root.
pub const FIXTURE: &str = "tests/fixtures/results-express-fastapi.json";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture_text() -> String {
    std::fs::read_to_string(repo_root().join(FIXTURE)).unwrap()
}

pub fn fixture_results() -> RunResults {
    serde_json::from_str(&fixture_text()).unwrap()
}

/// Runs `f` on the analysis of `results` against the repository's claims registry.
pub fn analysis_of<T>(results: &RunResults, f: impl FnOnce(&Analysis<'_>) -> T) -> T {
    let claims = Claims::load(&repo_root()).unwrap();
    let analysis = Analysis::new(results, &claims, Bootstrap::default());
    f(&analysis)
}
