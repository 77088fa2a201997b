//! The fault suite of issue #13, for the faults that need no Docker engine: what the binary
//! does with a results file that never finished or is newer than it, with flags that could
//! only fail later, and with Ctrl-C during `faceoff load`. Each test names the behaviour
//! faceoff guarantees (README: Reliability).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn faceoff() -> Command {
    let mut cmd = Command::cargo_bin("faceoff").expect("binary built");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/results-express-fastapi.json"
);

/// The finished fixture run, edited and written to `dir/name`.
fn results_file(dir: &Path, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    edit(&mut value);
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

/// What a run killed during its first image preparation leaves behind.
fn killed_run(value: &mut serde_json::Value) {
    value["status"] = "running".into();
    value["finished_at"] = serde_json::Value::Null;
    value["targets"] = serde_json::json!([]);
}

fn newer_schema(value: &mut serde_json::Value) {
    value["schema_version"] = 99.into();
}

#[test]
fn compare_refuses_a_run_that_never_finished_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let killed = results_file(dir.path(), "killed.json", killed_run);
    faceoff()
        .args(["compare", FIXTURE])
        .arg(&killed)
        .assert()
        .code(2)
        .stdout(predicate::str::contains("regressed").not())
        .stderr(
            predicate::str::contains("killed.json").and(predicate::str::contains("never finished")),
        );
}

#[test]
fn compare_refuses_a_finished_run_without_targets_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let empty = results_file(dir.path(), "empty.json", |v| {
        v["status"] = "failed".into();
        v["targets"] = serde_json::json!([]);
    });
    faceoff()
        .arg("compare")
        .arg(&empty)
        .arg(FIXTURE)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no measured target"));
}

#[test]
fn compare_refuses_a_newer_schema_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let newer = results_file(dir.path(), "newer.json", newer_schema);
    faceoff()
        .args(["compare", FIXTURE])
        .arg(&newer)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("schema version 99, newer"));
}

#[test]
fn claims_refuses_a_run_that_never_finished_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let killed = results_file(dir.path(), "killed.json", killed_run);
    faceoff()
        .args(["claims", "--run"])
        .arg(&killed)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("never finished"));
}

#[test]
fn claims_refuses_a_newer_schema_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let newer = results_file(dir.path(), "newer.json", newer_schema);
    faceoff()
        .args(["claims", "--run"])
        .arg(&newer)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("newer"));
}

#[test]
fn audit_refuses_a_run_that_never_finished_before_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    let killed = results_file(dir.path(), "killed.json", killed_run);
    faceoff()
        // No engine is needed to refuse: the refusal comes first.
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .arg("audit")
        .arg(&killed)
        .arg("--out")
        .arg(dir.path().join("audits"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("never finished"));
    assert!(!dir.path().join("audits").exists());
}

#[test]
fn report_still_writes_a_report_of_an_unfinished_run() {
    let dir = tempfile::tempdir().unwrap();
    let killed = results_file(dir.path(), "killed.json", killed_run);
    faceoff().arg("report").arg(&killed).assert().success();
}
