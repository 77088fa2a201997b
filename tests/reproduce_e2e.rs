//! End to end on a real Docker engine: `faceoff claims --reproduce`, restricted to two claims
//! (two short runs of express and fastapi), killed with SIGKILL during its second run, then
//! resumed: the first run is kept untouched, what the killed run left running is removed,
//! the second run is redone and the report written. And Ctrl-C: exit 130, state kept.
//!
//! Needs a Docker engine (`.ci/setup-host` starts one). Without one these tests fail, unless
//! FACEOFF_SKIP_DOCKER_TESTS=1 says to skip them.

mod common;
use common::{build_images_once, containers_of_run, faceoff, skip};

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime};

use faceoff::results::{self, RunStatus};

/// Two claims of express vs fastapi on the status workload: one run at 50 connections, one
/// at 100.
const ONLY: &str = "002-express-55200-vs-fastapi-38100-qps,001-fastapi-10-15pct-slower-at-100";

fn start(out: &Path, only: &str) -> Child {
    faceoff()
        .args([
            "claims",
            "--reproduce",
            "--quick",
            "--only",
            only,
            "--targets",
            "express,fastapi",
            "--duration",
            "1s",
            "--warmup",
            "0s",
            "-q",
        ])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("faceoff starts")
}

fn state(out: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(out.join("reproduce.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// The results file of run `index` as the state names it.
fn results_of(out: &Path, state: &serde_json::Value, index: usize) -> Option<PathBuf> {
    state["runs"][index]["results"]
        .as_str()
        .map(|p| out.join(p))
}

/// Every file under `dir` with its length, modification time and contents.
fn snapshot(dir: &Path) -> Vec<(PathBuf, SystemTime, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let modified = entry.metadata().unwrap().modified().unwrap();
                files.push((path.clone(), modified, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// Polls `check` every 100 ms until it gives a value; fails after `limit` or when `child`
/// ends first.
async fn wait_for<T>(
    child: &mut Child,
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        assert!(
            child.try_wait().unwrap().is_none(),
            "faceoff ended before {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reproduction_killed_during_its_second_run_resumes_without_redoing_the_first() {
    if skip() {
        return;
    }
    build_images_once(&["express", "fastapi"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("repro");
    let mut child = start(&out, ONLY);

    // Wait until the first run is complete and the second has a container running.
    let killed_id = {
        let out = out.clone();
        wait_for(
            &mut child,
            "the second run",
            Duration::from_secs(150),
            move || {
                let state = state(&out)?;
                (state["runs"][0]["status"] == "complete").then_some(())?;
                let second = out.join("runs/02-status-ab-100");
                let attempt = std::fs::read_dir(second).ok()?.flatten().next()?.path();
                results::read(&attempt.join("results.json"))
                    .ok()
                    .map(|r| r.run_id)
            },
        )
        .await
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while containers_of_run(&killed_id).await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the second run started no container"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();

    let killed = state(&out).expect("state kept");
    assert_eq!(killed["runs"][0]["status"], "complete");
    assert_eq!(
        killed["runs"][1]["status"], "running",
        "a SIGKILL leaves the run at running"
    );
    let first = results_of(&out, &killed, 0).expect("first run's results");
    let first_id = results::read(&first).unwrap().run_id;
    assert!(containers_of_run(&first_id).await.is_empty());
    assert!(
        !containers_of_run(&killed_id).await.is_empty(),
        "the killed run left its container (that is what resume must clean)"
    );
    let first_dir = first.parent().unwrap().to_path_buf();
    let before = snapshot(&first_dir);

    let resumed = faceoff()
        .args(["claims", "-q", "--resume"])
        .arg(&out)
        .output()
        .expect("faceoff runs");
    let stdout = String::from_utf8_lossy(&resumed.stdout);
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("quick reproduction, all 2 runs complete"),
        "{stdout}"
    );

    let after = state(&out).unwrap();
    assert_eq!(
        after["runs"][0], killed["runs"][0],
        "the first run's record is kept"
    );
    assert_eq!(
        snapshot(&first_dir),
        before,
        "the first run's files are untouched"
    );
    assert_eq!(after["runs"][1]["status"], "complete");
    let second = results_of(&out, &after, 1).unwrap();
    let second = results::read(&second).unwrap();
    assert_ne!(second.run_id, killed_id, "the killed run is redone");
    assert_eq!(second.status, RunStatus::Complete);
    let attempts = after["runs"][1]["attempts"].as_array().unwrap();
    assert!(
        attempts[0].as_str().unwrap().contains(&killed_id),
        "{attempts:?}"
    );
    assert!(
        containers_of_run(&killed_id).await.is_empty(),
        "the resumed reproduction removed what the killed run left"
    );
    assert!(containers_of_run(&second.run_id).await.is_empty());

    let md = std::fs::read_to_string(out.join("claims.md")).expect("claims.md written");
    assert!(md.contains("Quick reproduction"), "{md}");
    assert!(md.contains("all 2 planned runs complete"), "{md}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("claims.json")).unwrap()).unwrap();
    assert_eq!(json["reproduction"]["complete"], true);
    for id in ONLY.split(',') {
        let entry = json["claims"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["claim"]["id"] == id)
            .unwrap();
        assert_ne!(entry["verdict"]["verdict"], "not-run", "{id}: {entry}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_a_reproduction_with_130_keeping_its_state_and_a_partial_report() {
    if skip() {
        return;
    }
    build_images_once(&["express", "fastapi"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("repro");
    let mut child = start(&out, "002-express-55200-vs-fastapi-38100-qps");
    let run_id = {
        let out = out.clone();
        wait_for(
            &mut child,
            "a first trial",
            Duration::from_secs(150),
            move || {
                let attempt = std::fs::read_dir(out.join("runs/01-status-closed-50"))
                    .ok()?
                    .flatten()
                    .next()?
                    .path();
                let results = results::read(&attempt.join("results.json")).ok()?;
                results
                    .targets
                    .iter()
                    .any(|t| !t.trials.is_empty())
                    .then_some(results.run_id)
            },
        )
        .await
    };
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    let state = state(&out).expect("state kept");
    assert_eq!(state["runs"][0]["status"], "interrupted");
    assert!(containers_of_run(&run_id).await.is_empty());
    let md = std::fs::read_to_string(out.join("claims.md")).expect("partial report");
    assert!(
        md.contains("**partial**: 0 of 1 planned runs complete"),
        "{md}"
    );
}
