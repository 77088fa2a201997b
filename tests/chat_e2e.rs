//! The chat workload end to end on a real Docker engine: the five chat servers (Channels on
//! its Redis channel layer too, the Redis built offline) pass the chat cases, a small capacity ramp holds every connection and prices each in memory, a
//! short fan-out delivers to every member, and no container is left afterwards.
//!
//! Needs a Docker engine (`.ci/setup-host` starts one). Without one these tests fail, unless
//! FACEOFF_SKIP_DOCKER_TESTS=1 says to skip them.

mod common;
use common::{build_images_once, containers_of_run, faceoff, run_dir_in, skip};

use faceoff::results::{self, RunStatus, TargetStatus};

const CHAT_TARGETS: [&str; 5] = [
    "socketio",
    "python-socketio",
    "channels",
    "fastapi-ws",
    "channels-redis",
];

#[test]
fn an_http_target_is_refused_for_the_chat_workload_with_the_ones_that_serve_it() {
    let output = faceoff()
        .args(["--runtime", "local", "run", "--workload", "chat"])
        .args(["--profile", "capacity", "--targets", "express"])
        .output()
        .expect("faceoff runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("express") && stderr.contains("does not serve workload `chat`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("socketio, python-socketio, channels"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn the_chat_workload_refuses_an_http_profile() {
    let output = faceoff()
        .args(["--runtime", "local", "run", "--workload", "chat"])
        .args(["--profile", "closed-50"])
        .output()
        .expect("faceoff runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--profile capacity, fanout"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_servers_pass_the_chat_cases_bad_input_included() {
    if skip() {
        return;
    }
    build_images_once(&CHAT_TARGETS);
    let out = tempfile::tempdir().unwrap();
    let output = faceoff()
        .args(["verify", "-q", "--workload", "chat", "--out"])
        .arg(out.path())
        .output()
        .expect("faceoff runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: faceoff::verify::VerifyReport = serde_json::from_str(
        &std::fs::read_to_string(
            run_dir_in(out.path())
                .expect("a run directory")
                .join("verify.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let names: Vec<&str> = report.targets.iter().map(|t| t.target.as_str()).collect();
    assert_eq!(names, CHAT_TARGETS, "only the chat servers are checked");
    for target in &report.targets {
        let ids: Vec<&str> = target.cases.iter().map(|c| c.id.as_str()).collect();
        for id in [
            "chat.join",
            "chat.message_to_room_only",
            "chat.user_left",
            "chat.unknown_event",
            "chat.message_missing_field",
            "chat.malformed_frames",
        ] {
            assert!(ids.contains(&id), "{}: no case {id}", target.target);
        }
        assert!(
            target.passed,
            "{}: {:?}",
            target.target,
            target.failure_lines()
        );
    }
    assert!(containers_of_run(&report.run_id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn capacity_run_holds_every_connection_and_prices_each_in_memory() {
    if skip() {
        return;
    }
    build_images_once(&CHAT_TARGETS);
    let out = tempfile::tempdir().unwrap();
    let output = faceoff()
        .args(["run", "--workload", "chat", "--profile", "capacity"])
        .args(["--targets", "socketio,python-socketio", "--skip-verify"])
        .args(["--connections", "1000", "--duration", "60s", "--out"])
        .arg(out.path())
        .output()
        .expect("faceoff runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("KiB/conn") && stdout.contains("socketio"),
        "{stdout}"
    );
    let results = results::read(
        &run_dir_in(out.path())
            .expect("a run directory")
            .join("results.json"),
    )
    .unwrap();
    assert_eq!(results.status, RunStatus::Complete);
    let chat = results.parameters.chat.as_ref().expect("chat parameters");
    assert_eq!(chat.mode, "capacity");
    assert_eq!(chat.steps, [1000]);
    for target in &results.targets {
        assert_eq!(target.status, TargetStatus::Ok, "{target:?}");
        let ramp = target.chat_trials[0].capacity.as_ref().expect("a ramp");
        let step = &ramp.steps[0];
        assert_eq!(
            (step.attempted, step.joined, step.held),
            (1000, 1000, 1000),
            "{}: {step:?}",
            target.target
        );
        assert_eq!(ramp.connections_held, 1000);
        assert!(
            ramp.host_bound,
            "the profile's largest step, not the server, ended it"
        );
        assert!(ramp.baseline_memory_bytes > 1_000_000);
        let per_connection = ramp
            .memory_per_connection_bytes
            .expect("memory per connection");
        assert!(
            per_connection > 0.0 && per_connection < 1_000_000.0,
            "{}: {per_connection} bytes per connection",
            target.target
        );
        assert!(step.handshake.p50_ms > 0.0 && step.handshake.p50_ms <= step.handshake.p99_ms);
        assert!(ramp.server_open_files_limit.is_some_and(|l| l > 1000));
    }
    assert!(containers_of_run(&results.run_id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn fanout_delivers_every_message_to_every_member_of_the_room() {
    if skip() {
        return;
    }
    build_images_once(&CHAT_TARGETS);
    let out = tempfile::tempdir().unwrap();
    let output = faceoff()
        .args(["run", "--workload", "chat", "--profile", "fanout"])
        .args([
            "--targets",
            "socketio",
            "--skip-verify",
            "--connections",
            "100",
        ])
        .args(["--duration", "2s", "--warmup", "1s", "--out"])
        .arg(out.path())
        .output()
        .expect("faceoff runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results = results::read(
        &run_dir_in(out.path())
            .expect("a run directory")
            .join("results.json"),
    )
    .unwrap();
    let fanout = results.targets[0].chat_trials[0]
        .fanout
        .as_ref()
        .expect("a fan-out");
    assert_eq!((fanout.rooms, fanout.joined), (2, 100));
    assert!(fanout.sent > 0, "{fanout:?}");
    // Each message goes to all 50 members of its room, the sender included.
    assert_eq!(fanout.expected, fanout.sent * 50, "{fanout:?}");
    assert_eq!(fanout.lost, 0, "{fanout:?}");
    assert_eq!(fanout.delivered, fanout.expected);
    assert!(fanout.latency.p50_ms > 0.0 && fanout.latency.p50_ms <= fanout.latency.max_ms);
    assert!(containers_of_run(&results.run_id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_mid_ramp_stops_at_once_keeps_the_results_and_removes_the_container() {
    if skip() {
        return;
    }
    build_images_once(&CHAT_TARGETS);
    let out = tempfile::tempdir().unwrap();
    let mut child = faceoff()
        .args(["run", "--workload", "chat", "--profile", "capacity", "-q"])
        .args([
            "--targets",
            "socketio",
            "--skip-verify",
            "--duration",
            "120s",
        ])
        .arg("--out")
        .arg(out.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("faceoff starts");
    // Wait until the ramp is under way: the results file names the target.
    let started = std::time::Instant::now();
    let path = loop {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no ramp started"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
        let Ok(entry) = std::fs::read_dir(out.path()).map(|mut d| d.next()) else {
            continue;
        };
        let Some(Ok(entry)) = entry else { continue };
        let path = entry.path().join("results.json");
        if results::read(&path).is_ok_and(|r| !r.targets.is_empty()) {
            break path;
        }
    };
    // Past start-up and readiness, into the ramp.
    std::thread::sleep(std::time::Duration::from_secs(6));
    let interrupted = std::time::Instant::now();
    // SAFETY: kill only signals the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().expect("faceoff exits");
    assert_eq!(status.code(), Some(130));
    assert!(
        interrupted.elapsed() < std::time::Duration::from_secs(20),
        "took {:?} to stop",
        interrupted.elapsed()
    );
    let results = results::read(&path).unwrap();
    assert_eq!(results.status, RunStatus::Interrupted);
    assert!(containers_of_run(&results.run_id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chat_run_records_its_seeded_order_and_its_verify_cases_and_writes_the_reports() {
    if skip() {
        return;
    }
    build_images_once(&CHAT_TARGETS);
    let out = tempfile::tempdir().unwrap();
    let output = faceoff()
        .args(["run", "--workload", "chat", "--profile", "fanout"])
        .args(["--targets", "socketio,python-socketio", "--trials", "2"])
        .args(["--seed", "42", "--connections", "50"])
        .args(["--duration", "1s", "--warmup", "0s", "--out"])
        .arg(out.path())
        .output()
        .expect("faceoff runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dir = run_dir_in(out.path()).expect("a run directory");
    let results = results::read(&dir.join("results.json")).unwrap();
    assert_eq!(results.parameters.seed, Some(42));
    let expected = faceoff::schedule::schedule(
        &["socketio".to_string(), "python-socketio".to_string()],
        42,
        2,
    );
    assert_eq!(results.parameters.schedule, expected);
    for target in &results.targets {
        assert_eq!(target.chat_trials.len(), 2, "{}", target.target);
        assert!(
            !target.verify_cases.is_empty() && target.verify_cases.iter().all(|c| c.passed),
            "{}: {:?}",
            target.target,
            target.verify_cases
        );
    }
    for report in ["report.md", "report.html"] {
        let text = std::fs::read_to_string(dir.join(report)).expect(report);
        assert!(
            text.contains("python-socketio"),
            "{report} names the targets"
        );
        assert!(stdout.contains(report), "{stdout}");
    }
    assert!(containers_of_run(&results.run_id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_capacity_ramp_holds_keep_alive_http_connections_on_an_http_target() {
    if skip() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let output = faceoff()
        .args([
            "run",
            "-q",
            "--workload",
            "status",
            "--profile",
            "idle-capacity",
        ])
        .args([
            "--targets",
            "express",
            "--connections",
            "2000",
            "--duration",
            "20s",
        ])
        .arg("--skip-verify")
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("faceoff runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dir = run_dir_in(out.path()).expect("a run directory");
    let results = results::read(&dir.join("results.json")).unwrap();
    assert_eq!(results.status, RunStatus::Complete);
    let express = &results.targets[0];
    assert_eq!(express.status, TargetStatus::Ok);
    let ramp = express.chat_trials[0].capacity.as_ref().expect("a ramp");
    assert_eq!(ramp.connections_held, 2000, "{ramp:?}");
    assert!(ramp.memory_per_connection_bytes.is_some(), "{ramp:?}");
    assert!(containers_of_run(&results.run_id).await.is_empty());
}
