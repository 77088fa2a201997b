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

/// A keep-alive HTTP server on 127.0.0.1 answering every request `200 ok`, until the test ends.
fn ok_server() -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buffer = [0u8; 4096];
                let mut pending = Vec::new();
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 {
                        return;
                    }
                    pending.extend_from_slice(&buffer[..n]);
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                        if stream.write_all(answer).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

/// `faceoff load` against `addr` for far longer than the test, sent `signal` after a second.
/// Returns the exit status, how long the process took to exit after the signal, stdout and
/// stderr.
fn load_then_signal(
    addr: std::net::SocketAddr,
    signals: &[libc::c_int],
) -> (
    std::process::ExitStatus,
    std::time::Duration,
    String,
    String,
) {
    use std::time::{Duration, Instant};
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("faceoff"))
        .args(["load", &format!("http://{addr}/"), "--duration", "120s"])
        .args(["--connections", "4"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let sent = Instant::now();
    for &signal in signals {
        // SAFETY: kill(2) on the pid of a child this test started and has not yet reaped.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waiter.is_finished() {
        if sent.elapsed() > Duration::from_secs(10) {
            // SAFETY: as above; the test failed, do not leave the process behind.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("faceoff load still running 10 s after the signal");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = sent.elapsed();
    let output = waiter.join().unwrap();
    (
        output.status,
        took,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn ctrl_c_stops_load_within_a_second_prints_what_was_measured_and_exits_130() {
    let (status, took, stdout, stderr) = load_then_signal(ok_server(), &[libc::SIGINT]);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
    assert!(stdout.contains("Requests/sec"), "{stdout}");
    assert!(stderr.contains("interrupted"), "{stderr}");
}

#[test]
fn a_second_ctrl_c_or_sigterm_ends_load_at_once() {
    for signals in [&[libc::SIGINT, libc::SIGINT][..], &[libc::SIGTERM]] {
        let (status, took, _, stderr) = load_then_signal(ok_server(), signals);
        let expected = if signals[0] == libc::SIGTERM {
            143
        } else {
            130
        };
        assert_eq!(status.code(), Some(expected), "{signals:?}: {stderr}");
        assert!(
            took < std::time::Duration::from_secs(1),
            "{signals:?} took {took:?}"
        );
    }
}

#[test]
fn load_fails_when_no_request_succeeded() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buffer) {
                if n == 0
                    || stream
                        .write_all(
                            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
                        )
                        .is_err()
                {
                    break;
                }
            }
        }
    });
    faceoff()
        .args(["load", &format!("http://{addr}/"), "--duration", "300ms"])
        .args(["--connections", "1"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Requests/sec"))
        .stderr(predicate::str::contains("no request succeeded"));
}
