//! `faceoff claims --reproduce` through the binary, without a Docker engine: the plan it
//! prints, and bad input (one line, non-zero exit).

use assert_cmd::Command;
use predicates::prelude::*;

fn faceoff() -> Command {
    let mut cmd = Command::cargo_bin("faceoff").expect("binary built");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

#[test]
fn plan_only_prints_one_line_per_run_with_its_command_and_the_total_estimate_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("repro");
    let assert = faceoff()
        .args(["claims", "--reproduce", "--quick", "--plan-only", "--out"])
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(
        stdout.starts_with("Plan of the quick reproduction in"),
        "{stdout}"
    );
    assert!(stdout.contains("about"), "{stdout}");
    assert!(
        stdout.contains("[1/") && stdout.contains("faceoff run --workload status"),
        "{stdout}"
    );
    assert!(
        stdout.contains("003-python-better-cpu-heavy-multiprocessing"),
        "claims this host cannot judge are named: {stdout}"
    );
    assert!(!out.exists(), "a plan writes nothing");
}

#[test]
fn resuming_a_directory_without_a_reproduction_says_how_to_start_one() {
    let dir = tempfile::tempdir().unwrap();
    faceoff()
        .args(["claims", "--resume"])
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(predicate::str::contains("no reproduction to resume"))
        .stderr(predicate::str::contains("faceoff claims --reproduce --out"));
}

#[test]
fn an_unknown_claim_in_only_is_refused_in_one_line() {
    faceoff()
        .args([
            "claims",
            "--reproduce",
            "--plan-only",
            "--only",
            "999-no-such",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--only: no claim `999-no-such`"));
}

#[test]
fn resume_takes_the_plan_of_its_directory_so_planning_options_are_refused_beside_it() {
    faceoff()
        .args(["claims", "--resume", "somewhere", "--quick"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("cannot be used with"));
}

#[test]
fn a_directory_holding_another_plan_is_refused_with_the_way_to_resume_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("repro");
    // A reproduction of one claim that has not run yet, as its state file records it.
    let state = faceoff_state(&out, &["--only", "002-express-55200-vs-fastapi-38100-qps"]);
    assert!(state.is_some());
    faceoff()
        .args([
            "claims",
            "--reproduce",
            "--plan-only",
            "--only",
            "001-fastapi-10-15pct-slower-at-100",
            "--out",
        ])
        .arg(&out)
        .assert()
        .failure()
        .stderr(predicate::str::contains("planned differently"))
        .stderr(predicate::str::contains("faceoff claims --resume"));
}

/// Writes the state file of a reproduction planned with `extra` into `out`, as the library
/// does when a reproduction starts, and reads it back.
fn faceoff_state(out: &std::path::Path, extra: &[&str]) -> Option<serde_json::Value> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = faceoff::config::Fixtures::load(root).unwrap();
    let claims = faceoff::claims::Claims::load(root).unwrap();
    let only: Vec<String> = extra
        .iter()
        .skip_while(|a| **a != "--only")
        .nth(1)
        .map(|ids| ids.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let options = faceoff::reproduce::Options {
        quick: false,
        only,
        ..Default::default()
    };
    let host = faceoff::reproduce::Host {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        open_files: None,
    };
    let plan = faceoff::reproduce::plan(&claims, &fixtures, host, &options).unwrap();
    let mut state = faceoff::reproduce::state::State::new(plan, "2026-12-01T00:00:00Z");
    state.write(out, "2026-12-01T00:00:00Z").unwrap();
    let text = std::fs::read_to_string(out.join("reproduce.json")).ok()?;
    serde_json::from_str(&text).ok()
}

#[test]
fn plan_only_with_json_prints_the_state_a_reproduction_would_start_from() {
    let assert = faceoff()
        .args(["claims", "--reproduce", "--plan-only", "--json", "--only"])
        .arg("001-fastapi-10-15pct-slower-at-100")
        .assert()
        .success();
    let state: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(state["plan"]["runs"][0]["key"], "01-status-ab-100");
    assert_eq!(state["runs"][0]["status"], "pending");
}

#[test]
fn a_run_that_cannot_start_is_recorded_as_failed_and_the_reproduction_exits_1_with_a_partial_report()
 {
    // The local runtime runs no PostgreSQL, so the db run fails at once, before any process.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("repro");
    faceoff()
        .args([
            "--runtime",
            "local",
            "claims",
            "--reproduce",
            "--only",
            "003-fastify-14200-vs-fastapi-8500-db",
            "--out",
        ])
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("error: run 01-db-closed-50:"))
        .stderr(predicate::str::contains("faceoff claims --resume"));
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("reproduce.json")).unwrap())
            .unwrap();
    assert_eq!(state["runs"][0]["status"], "failed");
    assert!(
        state["runs"][0]["error"]
            .as_str()
            .unwrap()
            .contains("--runtime docker")
    );
    let md = std::fs::read_to_string(out.join("claims.md")).unwrap();
    assert!(
        md.contains("**partial**: 0 of 1 planned runs complete"),
        "{md}"
    );
    assert!(md.contains("its run 01-db-closed-50 failed"), "{md}");
}
