//! The CI path end to end through the real binary on a real Docker engine: `faceoff matrix`
//! → one `faceoff run` per target (as matrix jobs would) → `faceoff merge` → `faceoff
//! compare`; and `faceoff audit` of a fresh results file. Lean: two targets, two trials of
//! 2 s, the status workload.
//!
//! Needs a Docker engine (`.ci/setup-host` starts one). Without one these tests fail, unless
//! FACEOFF_SKIP_DOCKER_TESTS=1 says to skip them.

mod common;
use common::{root, skip};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use faceoff::results::{self, RunResults, RunStatus};

const TARGETS: &str = "express,fastapi";

fn faceoff(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faceoff"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("faceoff runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The per-target results files of the matrix jobs, run once for every test in this file
/// (tests run on parallel threads), in a directory kept until the process ends.
struct Jobs {
    _dir: tempfile::TempDir,
    files: Vec<PathBuf>,
}

fn jobs() -> &'static Jobs {
    static JOBS: Mutex<Option<&'static Jobs>> = Mutex::new(None);
    let mut jobs = JOBS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(jobs) = *jobs {
        return jobs;
    }
    let _load = one_load_at_a_time();
    // Only the two images this file needs; an unchanged app is not rebuilt.
    let built = faceoff(&["images", "build", "express", "fastapi", "-q"]);
    assert!(built.status.success(), "images build: {}", text(&built));

    let matrix = faceoff(&["matrix", "--targets", TARGETS, "--workload", "status"]);
    assert!(matrix.status.success(), "{}", text(&matrix));
    let matrix: serde_json::Value = serde_json::from_slice(&matrix.stdout).expect("matrix is JSON");
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for job in matrix["include"].as_array().expect("include") {
        let target = job["target"].as_str().unwrap();
        let out = dir.path().join(target);
        let output = faceoff(&[
            "run",
            "--targets",
            target,
            "--workload",
            job["workload"].as_str().unwrap(),
            "--trials",
            "2",
            "--duration",
            "2s",
            "--warmup",
            "1s",
            "--connections",
            "16",
            "-q",
            "--out",
            path(&out),
        ]);
        assert!(output.status.success(), "run {target}: {}", text(&output));
        let run_dir = std::fs::read_dir(&out).unwrap().flatten().next().unwrap();
        files.push(run_dir.path().join("results.json"));
    }
    assert_eq!(files.len(), 2, "one job per target");
    let leaked: &'static Jobs = Box::leak(Box::new(Jobs { _dir: dir, files }));
    *jobs = Some(leaked);
    leaked
}

/// Held while a test drives load, so two tests' trials never share the server's CPU.
fn one_load_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOAD: Mutex<()> = Mutex::new(());
    LOAD.lock().unwrap_or_else(|e| e.into_inner())
}

fn read(path: &Path) -> RunResults {
    results::read(path).expect("results parse")
}

fn write_json(path: &Path, value: &serde_json::Value) {
    std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

#[test]
fn matrix_jobs_merge_into_one_file_that_compares_clean_with_itself() {
    if skip() {
        return;
    }
    let jobs = jobs();
    let dir = tempfile::tempdir().unwrap();
    let merged_path = dir.path().join("merged.json");
    let output = faceoff(&[
        "merge",
        path(&jobs.files[0]),
        path(&jobs.files[1]),
        "-o",
        path(&merged_path),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let merged = read(&merged_path);
    let names: Vec<&str> = merged.targets.iter().map(|t| t.target.as_str()).collect();
    assert_eq!(names, ["express", "fastapi"]);
    assert_eq!(merged.status, RunStatus::Complete);
    assert!(merged.targets.iter().all(|t| t.trials.len() == 2));
    let record = merged.merge.as_ref().expect("merge recorded");
    assert!(!record.allow_mixed);
    assert_eq!(record.sources.len(), 2);

    let output = faceoff(&[
        "compare",
        path(&merged_path),
        path(&merged_path),
        "--max-regression",
        "5%",
    ]);
    let shown = text(&output);
    // Two short trials may be too noisy to see a 5% change: inconclusive (3), never failed.
    assert!(matches!(output.status.code(), Some(0 | 3)), "{shown}");
    assert!(!shown.contains("REGRESSED"), "{shown}");
    assert!(shown.contains("0 regressed"), "{shown}");

    // Half the throughput in a doctored "current" file: the build must fail. Every trial
    // gets half the baseline's median, so two baseline trials far apart on a busy host
    // cannot stretch the change's interval back over "no change".
    let mut slower: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&merged_path).unwrap()).unwrap();
    let trials = slower["targets"][0]["trials"].as_array_mut().unwrap();
    let rps: Vec<f64> = trials
        .iter()
        .map(|t| t["requests_per_sec"].as_f64().unwrap())
        .collect();
    let half = faceoff::stats::median(&rps).unwrap() / 2.0;
    for trial in trials {
        trial["requests_per_sec"] = serde_json::json!(half);
    }
    let slower_path = dir.path().join("slower.json");
    write_json(&slower_path, &slower);
    let output = faceoff(&["compare", path(&merged_path), path(&slower_path)]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(shown.contains("REGRESSED"), "{shown}");
    assert!(shown.contains("-50.0%"), "{shown}");
}

#[test]
fn merge_refuses_a_job_run_with_other_parameters_unless_allowed() {
    if skip() {
        return;
    }
    let jobs = jobs();
    let dir = tempfile::tempdir().unwrap();
    let mut other: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&jobs.files[1]).unwrap()).unwrap();
    other["parameters"]["duration_s"] = serde_json::json!(30.0);
    let other_path = dir.path().join("other.json");
    write_json(&other_path, &other);
    let merged_path = dir.path().join("merged.json");

    let output = faceoff(&[
        "merge",
        path(&jobs.files[0]),
        path(&other_path),
        "-o",
        path(&merged_path),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("parameters.duration_s (2.0 vs 30.0)"),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-mixed"), "{stderr}");
    assert!(!merged_path.exists());

    let output = faceoff(&[
        "merge",
        path(&jobs.files[0]),
        path(&other_path),
        "-o",
        path(&merged_path),
        "--allow-mixed",
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let record = read(&merged_path).merge.expect("merge recorded");
    assert!(record.allow_mixed);
    assert_eq!(record.differences.len(), 1);
    assert_eq!(
        record.differences[0].difference.field,
        "parameters.duration_s"
    );
}

#[test]
fn audit_of_a_fresh_results_file_passes_and_replays_its_seed() {
    if skip() {
        return;
    }
    let jobs = jobs();
    let original = read(&jobs.files[0]);
    let out = tempfile::tempdir().unwrap();
    let _load = one_load_at_a_time();
    let output = faceoff(&[
        "audit",
        path(&jobs.files[0]),
        "--out",
        path(out.path()),
        "-q",
    ]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(shown.contains("audit PASSED"), "{shown}");

    // OUT/audit-<id>/<run-id>/: the re-run's results.json with audit.json beside it.
    let only_entry = |dir: &Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .next()
            .unwrap()
            .path()
    };
    let run_dir = only_entry(&only_entry(out.path()));
    let rerun = read(&run_dir.join("results.json"));
    assert_eq!(rerun.status, RunStatus::Complete);
    assert_eq!(rerun.parameters.seed, original.parameters.seed);
    assert_eq!(rerun.parameters.trials, original.parameters.trials);
    assert_eq!(rerun.parameters.duration_s, original.parameters.duration_s);
    assert_eq!(
        rerun.targets[0].lockfile_sha256,
        original.targets[0].lockfile_sha256
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("audit.json")).unwrap())
            .unwrap();
    assert_eq!(report["passed"], true);
    assert_eq!(report["same_hardware"], true);
    let figures = report["figures"].as_array().unwrap();
    assert_eq!(figures.len(), 3, "req/s, p99 and memory of express");
    for figure in figures {
        assert!(
            figure["rerun"]["median"].as_f64().unwrap() > 0.0,
            "{figure}"
        );
        assert_ne!(figure["status"]["status"], "failed", "{figure}");
    }
    assert!(
        report["claims"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["holds"] == true)
    );
}

#[test]
fn strict_audit_fails_when_the_published_throughput_was_not_this_hosts() {
    if skip() {
        return;
    }
    let jobs = jobs();
    let dir = tempfile::tempdir().unwrap();
    let mut inflated: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&jobs.files[0]).unwrap()).unwrap();
    for trial in inflated["targets"][0]["trials"].as_array_mut().unwrap() {
        let rps = trial["requests_per_sec"].as_f64().unwrap();
        trial["requests_per_sec"] = serde_json::json!(rps * 5.0);
    }
    let published = dir.path().join("published.json");
    write_json(&published, &inflated);
    let _load = one_load_at_a_time();
    let output = faceoff(&[
        "audit",
        path(&published),
        "--strict",
        "--out",
        path(dir.path()),
        "-q",
    ]);
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(shown.contains("express req/s: DIFFERS"), "{shown}");
}

#[test]
fn audit_of_an_interrupted_run_is_an_error_not_a_failure() {
    // No engine needed: the audit stops before it builds anything.
    let dir = tempfile::tempdir().unwrap();
    let sample = serde_json::json!({
        "schema_version": 1, "run_id": "r", "status": "interrupted", "started_at": "t",
        "finished_at": null,
        "parameters": {"workload": "status", "profile": "closed-50", "max_requests": null,
            "method": "GET", "path": "/status", "body": null, "verified": true,
            "runtime": "docker", "targets": ["express"], "trials": 1, "connections": 1,
            "duration_s": 1.0, "warmup_s": 0.0, "request_timeout_s": 1.0,
            "ready_timeout_s": 1.0, "sample_interval_ms": 250,
            "limits": {"cpuset": "1", "memory_bytes": 1073741824},
            "memory_limit_enforced": true, "generator_cpus": [0], "generator_threads": 1},
        "manifest": {"faceoff_version": "0.1.0", "git_commit": null, "git_dirty": null,
            "host": {"cpu_model": "x", "cpus": 2, "memory_bytes": 1, "kernel": "k", "os": "o"},
            "engine": null, "fixtures_sha256": {}, "base_images": {}},
        "targets": []
    });
    let file = dir.path().join("results.json");
    write_json(&file, &sample);
    let output = faceoff(&["audit", path(&file), "--out", path(dir.path())]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("status `interrupted`") && stderr.contains("run it again"),
        "{stderr}"
    );
}
