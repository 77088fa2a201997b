//! Issue #13, item 7: an engine that accepts connections but never answers, and one that
//! freezes in the middle of a run. Every engine call is bounded (`--engine-timeout`), the
//! call that timed out is named in one line, the results gathered so far are written, and
//! Ctrl-C still ends the process.
//!
//! The silent engine is a Unix socket in the test that accepts and never answers. The
//! engine that freezes is a proxy in front of the real one that stops passing bytes on
//! command: the engine's containers go on running, only its API goes silent, as with a
//! stopped `dockerd`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{faceoff, skip};

/// A socket that accepts every connection and never answers; the connections are held
/// open until the test ends.
fn silent_engine(dir: &Path) -> PathBuf {
    let path = dir.join("silent.sock");
    let listener = UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    path
}

#[test]
fn doctor_names_the_engine_call_that_never_answered() {
    let dir = tempfile::tempdir().unwrap();
    let socket = silent_engine(dir.path());
    let started = Instant::now();
    let output = faceoff()
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .args(["--engine-timeout", "1s", "doctor"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(started.elapsed() < Duration::from_secs(20), "{stdout}");
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let engine: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("FAIL engine:"))
        .collect();
    assert_eq!(engine.len(), 1, "{stdout}");
    assert!(
        engine[0].contains("did not answer `GET /version` (API negotiation) within 1 s")
            && engine[0].contains(&socket.display().to_string()),
        "{stdout}"
    );
}

#[test]
fn run_against_a_silent_engine_fails_in_one_line_naming_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let socket = silent_engine(dir.path());
    let started = Instant::now();
    let output = faceoff()
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .args([
            "--engine-timeout",
            "1s",
            "run",
            "--targets",
            "express",
            "--out",
        ])
        .arg(dir.path().join("results"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(started.elapsed() < Duration::from_secs(20), "{stderr}");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("did not answer `GET /version` (API negotiation) within 1 s")
            && stderr.contains("--engine-timeout"),
        "{stderr}"
    );
}

/// A proxy in front of the real engine that passes bytes both ways until frozen; from then
/// on it holds every connection, old and new, without a byte more.
struct FreezingProxy {
    socket: PathBuf,
    frozen: Arc<AtomicBool>,
}

impl FreezingProxy {
    fn start(dir: &Path) -> FreezingProxy {
        let upstream = std::env::var("DOCKER_HOST")
            .ok()
            .and_then(|h| h.strip_prefix("unix://").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"));
        let socket = dir.join("proxy.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let frozen = Arc::new(AtomicBool::new(false));
        let flag = frozen.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for client in listener.incoming().flatten() {
                if flag.load(Ordering::SeqCst) {
                    held.push(client);
                    continue;
                }
                let Ok(engine) = UnixStream::connect(&upstream) else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone().unwrap(), engine.try_clone().unwrap()),
                    (engine, client),
                ] {
                    let flag = flag.clone();
                    std::thread::spawn(move || pass(from, to, &flag));
                }
            }
        });
        FreezingProxy { socket, frozen }
    }

    fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }
}

fn pass(mut from: UnixStream, mut to: UnixStream, frozen: &AtomicBool) {
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = to.shutdown(std::net::Shutdown::Write);
                return;
            }
            Ok(n) => n,
        };
        if frozen.load(Ordering::SeqCst) {
            // Hold both ends open, silent, for as long as the test runs.
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// A `faceoff run` of express through `proxy`, its stderr collected line by line.
fn run_through(proxy: &FreezingProxy, out: &Path, duration: &str) -> (Child, Arc<Mutex<String>>) {
    let mut child = faceoff()
        .env("DOCKER_HOST", proxy.docker_host())
        .args([
            "--engine-timeout",
            "2s",
            "run",
            "--targets",
            "express",
            "--trials",
            "1",
            "--warmup",
            "0s",
            "--duration",
            duration,
            "--out",
        ])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let sink = stderr.clone();
    let pipe = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut text = sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    (child, stderr)
}

/// Waits until the target's trial is being measured (verified, load running).
fn wait_for_measuring(child: &mut Child, stderr: &Mutex<String>) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !stderr.lock().unwrap().contains("[trial 1/1] express") {
        assert!(
            child.try_wait().unwrap().is_none(),
            "{}",
            stderr.lock().unwrap()
        );
        assert!(Instant::now() < deadline, "{}", stderr.lock().unwrap());
        std::thread::sleep(Duration::from_millis(100));
    }
    // Started, ready and verified take a second or two; the load window follows.
    std::thread::sleep(Duration::from_secs(4));
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status.code().unwrap_or(-1));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

fn results_of(out: &Path) -> serde_json::Value {
    let dir = common::run_dir_in(out).expect("a run directory");
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

/// Removes the run's containers through the real engine (the frozen proxy left them), on
/// every exit of the test, a failed assertion included.
struct CleanOnDrop(PathBuf);

impl Drop for CleanOnDrop {
    fn drop(&mut self) {
        let Some(dir) = common::run_dir_in(&self.0) else {
            return;
        };
        let run_id = dir.file_name().unwrap().to_string_lossy().to_string();
        let _ = faceoff()
            .args(["clean", "--run", &run_id])
            .stdout(Stdio::null())
            .status();
    }
}

#[test]
fn ctrl_c_ends_a_run_whose_engine_froze_and_keeps_its_results() {
    if skip() {
        return;
    }
    common::build_images_once(&["express"]);
    let dir = tempfile::tempdir().unwrap();
    let proxy = FreezingProxy::start(dir.path());
    let out = dir.path().join("results");
    let _clean = CleanOnDrop(out.clone());
    let (mut child, stderr) = run_through(&proxy, &out, "30s");
    wait_for_measuring(&mut child, &stderr);
    proxy.freeze();
    let interrupted = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let code = wait_exit(&mut child, Duration::from_secs(15));
    let stderr = stderr.lock().unwrap().clone();
    assert_eq!(code, Some(130), "{stderr}");
    // The cleanup asks the frozen engine once, bounded by --engine-timeout 2s.
    assert!(interrupted.elapsed() < Duration::from_secs(10), "{stderr}");
    let results = results_of(&out);
    assert_eq!(results["status"], "interrupted", "{stderr}");
    assert!(
        stderr.contains("did not answer `list containers` within 2 s")
            && stderr.contains("faceoff clean --run"),
        "{stderr}"
    );
}

#[test]
fn a_run_whose_engine_froze_ends_naming_the_call_and_writes_its_results() {
    if skip() {
        return;
    }
    common::build_images_once(&["express"]);
    let dir = tempfile::tempdir().unwrap();
    let proxy = FreezingProxy::start(dir.path());
    let out = dir.path().join("results");
    let _clean = CleanOnDrop(out.clone());
    let (mut child, stderr) = run_through(&proxy, &out, "10s");
    wait_for_measuring(&mut child, &stderr);
    proxy.freeze();
    // The next engine call (the target's state, or its stop at the end of the window) goes
    // unanswered: a failed run, not a hang.
    let code = wait_exit(&mut child, Duration::from_secs(30));
    let stderr = stderr.lock().unwrap().clone();
    assert_eq!(code, Some(1), "{stderr}");
    let results = results_of(&out);
    assert_eq!(results["status"], "failed", "{stderr}");
    let express = &results["targets"][0];
    assert_eq!(express["status"], "failed");
    let error = express["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("did not answer `")
            && error.contains(" container ")
            && error.contains("within 2 s"),
        "{error}"
    );
    assert!(stderr.contains(error), "{stderr}");
}
