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

/// The fixture turned into a cold-start run: each trial a start alone, at `ms` ms
/// (increasing by 10 ms per trial) and 40 MiB idle.
pub fn cold_start_results(ms: f64) -> crate::results::RunResults {
    let mut results = fixture_results();
    results.parameters.profile = "cold-start".into();
    for target in &mut results.targets {
        for (i, trial) in target.trials.iter_mut().enumerate() {
            trial.requests = 0;
            trial.duration_s = 0.0;
            trial.connections_opened = 0;
            trial.startup = Some(crate::results::Startup {
                from: crate::runtime::StartClock::ContainerStart,
                ready_ms: ms + 10.0 * i as f64,
                start_call_ms: None,
                idle_memory_bytes: Some(40 << 20),
            });
        }
        if let Some(image) = target.image.as_mut() {
            image.size_bytes = Some(150 << 20);
        }
    }
    results
}

/// The fixture turned into a run of profile `mixed`: in every trial the run's workload has a
/// p99 of `alone` ms alone, `blocked` ms beside compute-10m and `offloaded` ms beside
/// offload-10m; the sides' own p99 is 50 ms.
pub fn mixed_results(alone: f64, blocked: f64, offloaded: f64) -> RunResults {
    use crate::sweep::{KindFigures, MixedResult, MixedWindow};
    let mut results = fixture_results();
    results.parameters.profile = "mixed".into();
    for target in &mut results.targets {
        for trial in &mut target.trials {
            let kind = |p99_ms: f64| KindFigures {
                requests: 100,
                requests_per_sec: 20.0,
                latency: crate::stats::LatencySummary {
                    p99_ms,
                    ..trial.latency
                },
                status_counts: Default::default(),
                errors: Default::default(),
            };
            let window = |side: Option<&str>, p99_ms: f64| MixedWindow {
                side: side.map(str::to_string),
                side_connections: if side.is_some() { 2 } else { 0 },
                main: kind(p99_ms),
                side_kind: side.map(|_| kind(50.0)),
            };
            trial.mixed = Some(MixedResult {
                windows: vec![
                    window(None, alone),
                    window(Some("compute-10m"), blocked),
                    window(Some("offload-10m"), offloaded),
                ],
            });
        }
    }
    results
}
