//! Faults on a real Docker engine whose cause faceoff must name (issue #13): a target killed
//! for memory during `verify`, `run` or `up`, a port taken by another process, a target
//! paused in the middle of a measured window, and `verify` interrupted half-way.
//!
//! Needs a Docker engine (`.ci/setup-host` starts one). Without one these tests fail, unless
//! FACEOFF_SKIP_DOCKER_TESTS=1 says to skip them.

mod common;
use common::{build_images_once, containers_of_run, faceoff, root, skip};

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use faceoff::results::{self, RunStatus, TargetStatus};
use faceoff::verify::VerifyReport;

/// Express as it is, except that from its `nth` request on it fills memory with off-heap
/// buffers (the cgroup, not V8, hits the limit): a target that is ready, then dies for memory.
fn express_hogging_from_request(nth: u32) -> tempfile::TempDir {
    let script = format!(
        "let n = 0; const {{ Server }} = require('http'); const emit = Server.prototype.emit; \
         Server.prototype.emit = function (event, ...rest) {{ \
           if (event === 'request' && ++n === {nth}) {{ const a = []; setInterval(() => a.push(Buffer.alloc(8 << 20, 1)), 5); }} \
           return emit.call(this, event, ...rest); }}; \
         require('./server.js');"
    );
    express_with_command(&["node", "-e", &script])
}

/// A repository root whose only target is `express` with another start command: the image
/// is the real express image (same app files, same tag), so nothing is rebuilt.
fn express_with_command(command: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = dir.path().join("fixtures");
    std::fs::create_dir_all(&fixtures).unwrap();
    for name in [
        "bases.toml",
        "workloads.toml",
        "contract.toml",
        "profiles.toml",
    ] {
        std::fs::copy(root().join("fixtures").join(name), fixtures.join(name)).unwrap();
    }
    let quoted: Vec<String> = command.iter().map(|arg| format!("{arg:?}")).collect();
    let targets = format!(
        "[[target]]\nname = \"express\"\nlanguage = \"node\"\nframework = \"express\"\napp_dir = {:?}\nserver = \"test\"\ncommand = [{}]\n",
        root().join("node-apps/express").to_string_lossy(),
        quoted.join(", ")
    );
    std::fs::write(fixtures.join("targets.toml"), targets).unwrap();
    dir
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn verify_report(out: &Path) -> VerifyReport {
    let dir = common::run_dir_in(out).expect("a run directory");
    serde_json::from_str(&std::fs::read_to_string(dir.join("verify.json")).unwrap())
        .expect("verify.json parses")
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_names_a_target_killed_for_memory_during_its_cases() {
    if skip() {
        return;
    }
    build_images_once(&["express"]);
    // Request 1 is the readiness probe, 2 the first /status of the cases: dies under them.
    let hog = express_hogging_from_request(3);
    let out = tempfile::tempdir().unwrap();
    let output = faceoff()
        .arg("--root")
        .arg(hog.path())
        .args(["verify", "--workload", "status", "--memory", "96m", "-q"])
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("faceoff runs");
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(
        all.contains("express was killed for memory (limit 96 MiB): raise --memory"),
        "{all}"
    );
    let report = verify_report(out.path());
    let express = &report.targets[0];
    assert!(!express.passed);
    assert!(
        express
            .error
            .as_deref()
            .is_some_and(|e| e.contains("killed for memory")),
        "{express:?}"
    );
    assert!(containers_of_run(&report.run_id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn run_names_a_target_killed_for_memory_during_its_contract_check() {
    if skip() {
        return;
    }
    build_images_once(&["express"]);
    let hog = express_hogging_from_request(3);
    let out = tempfile::tempdir().unwrap();
    let output = faceoff()
        .arg("--root")
        .arg(hog.path())
        .args([
            "run",
            "--targets",
            "express",
            "--duration",
            "2s",
            "--warmup",
            "0s",
            "--memory",
            "96m",
            "-q",
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("faceoff runs");
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(all.contains("killed for memory (limit 96 MiB)"), "{all}");
    assert!(!all.contains("contract cases of workload"), "{all}");
    let dir = common::run_dir_in(out.path()).unwrap();
    let results = results::read(&dir.join("results.json")).unwrap();
    let error = results.targets[0].error.clone().unwrap_or_default();
    assert!(error.contains("killed for memory"), "{error}");
    assert!(containers_of_run(&results.run_id).await.is_empty());
}

/// Lines of a child's stream, sent as they come.
fn lines_of(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing `needle`; every line seen is kept in `seen`.
fn wait_for_line(
    lines: &mpsc::Receiver<String>,
    needle: &str,
    timeout: Duration,
    seen: &mut String,
) -> bool {
    let deadline = Instant::now() + timeout;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains(needle) {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
    false
}

fn interrupt(child: &Child) {
    // SAFETY: kill(2) on the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
}

#[tokio::test(flavor = "multi_thread")]
async fn up_says_a_target_was_killed_for_memory_not_its_exit_code() {
    if skip() {
        return;
    }
    build_images_once(&["express"]);
    // Request 1 is the readiness probe; ours is the second.
    let hog = express_hogging_from_request(2);
    let mut child = faceoff()
        .arg("--root")
        .arg(hog.path())
        .args(["up", "express", "--memory", "96m"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("faceoff starts");
    let stdout = lines_of(child.stdout.take().unwrap());
    let mut seen = String::new();
    let listening = wait_for_line(&stdout, "listening on", Duration::from_secs(60), &mut seen);
    if !listening {
        interrupt(&child);
    }
    assert!(listening, "{seen}");
    let port: u16 = seen
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|p| p.parse().ok())
        .expect("the port in the line");
    let _ = std::net::TcpStream::connect(("127.0.0.1", port)).map(|mut s| {
        use std::io::Write;
        let _ = s.write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            interrupt(&child);
            panic!("up did not end after its target was killed");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("express was killed for memory (limit 96 MiB): raise --memory"),
        "{stderr}"
    );
    assert!(!stderr.contains("code 137"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_port_taken_by_another_process_is_named_not_taken_for_the_target() {
    if skip() {
        return;
    }
    build_images_once(&["express"]);
    use faceoff::runtime::RuntimeError;
    // Another process answers 200 to anything on the port faceoff picked, before the
    // target could listen on it: its answers must not pass for the target's.
    let impostor = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = impostor.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in impostor.incoming().flatten() {
            use std::io::{Read, Write};
            let mut stream = stream;
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
        }
    });
    let run_id = format!("port-taken-{}", std::process::id());
    let ready = express_ready_on(port, &run_id).await;
    let err = ready.expect_err("another process's 200 is not the target's readiness");
    assert!(matches!(err, RuntimeError::PortTaken { .. }), "{err}");
    let line = err.to_string();
    assert!(
        line.contains(&format!("port {port}"))
            && line.contains(&format!("pid {}", std::process::id()))
            && line.contains("run again"),
        "{line}"
    );
    assert!(containers_of_run(&run_id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_paused_during_its_window_is_marked_unresponsive_not_ok() {
    if skip() {
        return;
    }
    build_images_once(&["express"]);
    let out = tempfile::tempdir().unwrap();
    let mut child = faceoff()
        .args([
            "run",
            "--targets",
            "express",
            "--trials",
            "1",
            "--duration",
            "9s",
            "--warmup",
            "1s",
            "--connections",
            "8",
            "--request-timeout",
            "1s",
            "--skip-verify",
            "-q",
        ])
        .arg("--out")
        .arg(out.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("faceoff starts");
    // Our run's container, found by the pid faceoff labels it with.
    let label = format!("faceoff.pid={}", child.id());
    let deadline = Instant::now() + Duration::from_secs(120);
    let container = loop {
        // Running: a first container the engine refused to start is removed at once.
        let running = std::process::Command::new("docker")
            .args([
                "ps",
                "-q",
                "--no-trunc",
                "--filter",
                "status=running",
                "--filter",
            ])
            .arg(format!("label={label}"))
            .output()
            .expect("docker client");
        if let Some(id) = String::from_utf8_lossy(&running.stdout)
            .split_whitespace()
            .next()
        {
            break id.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no container of the run appeared"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Ready within about a second, then 1 s of warm-up: the window runs from about 2 s to
    // 11 s. Frozen from 4 s to 8 s, the connections wait, then time out.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let docker = |verb: &str| {
        let output = std::process::Command::new("docker")
            .args([verb, &container])
            .output()
            .expect("docker client");
        assert!(output.status.success(), "docker {verb}: {}", text(&output));
    };
    if let Ok(Some(_)) = child.try_wait() {
        panic!(
            "faceoff ended early:\n{}",
            text(&child.wait_with_output().unwrap())
        );
    }
    docker("pause");
    tokio::time::sleep(Duration::from_secs(4)).await;
    docker("unpause");
    let output = child.wait_with_output().unwrap();
    let all = text(&output);
    let dir = common::run_dir_in(out.path()).unwrap();
    let results = results::read(&dir.join("results.json")).unwrap();
    let express = &results.targets[0];
    assert_eq!(express.status, TargetStatus::Ok, "{all}");
    let trial = &express.trials[0];
    assert!(trial.errors.timeout > 0, "{:?}", trial.errors);
    let why = trial.unresponsive.as_deref().expect("the trial is marked");
    assert!(why.contains("timed out"), "{why}");
    assert!(all.contains("marked unresponsive"), "{all}");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("stopped answering"), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_interrupted_keeps_the_cases_checked_so_far_and_says_so() {
    if skip() {
        return;
    }
    build_images_once(&["express", "fastapi"]);
    let out = tempfile::tempdir().unwrap();
    let mut child = faceoff()
        .args([
            "verify",
            "--targets",
            "express,fastapi",
            "--workload",
            "status",
        ])
        .arg("--out")
        .arg(out.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("faceoff starts");
    let stderr = lines_of(child.stderr.take().unwrap());
    let mut seen = String::new();
    // express is done once fastapi starts; stop in the middle of fastapi.
    let second = wait_for_line(
        &stderr,
        "[verify] fastapi",
        Duration::from_secs(120),
        &mut seen,
    );
    interrupt(&child);
    assert!(second, "{seen}");
    let status = child.wait().unwrap();
    while let Ok(line) = stderr.recv_timeout(Duration::from_secs(5)) {
        seen.push_str(&line);
        seen.push('\n');
    }
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(seen.contains("kept in"), "{seen}");
    let report = verify_report(out.path());
    assert_eq!(report.status, RunStatus::Interrupted);
    let express = report
        .targets
        .iter()
        .find(|t| t.target == "express")
        .expect("express's cases kept");
    assert!(express.passed && !express.cases.is_empty(), "{express:?}");
    for partial in report.targets.iter().filter(|t| t.target == "fastapi") {
        assert_eq!(
            partial.error.as_deref(),
            Some(faceoff::verify::INTERRUPTED),
            "{partial:?}"
        );
    }
    assert!(containers_of_run(&report.run_id).await.is_empty());
}

fn express_run(out: &Path, trials: &str, duration: &str) -> std::process::Command {
    let mut command = faceoff();
    command
        .args([
            "run",
            "--targets",
            "express",
            "--trials",
            trials,
            "--duration",
            duration,
            "--warmup",
            "0s",
            "--connections",
            "4",
            "--skip-verify",
            "-q",
        ])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[tokio::test(flavor = "multi_thread")]
async fn two_runs_at_once_on_one_host_each_warn_and_record_the_other() {
    if skip() {
        return;
    }
    build_images_once(&["express"]);
    let (first_out, second_out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = express_run(first_out.path(), "2", "5s")
        .spawn()
        .expect("faceoff starts");
    // The second starts while the first measures its first trial, and outlasts that trial.
    let label = format!("label=faceoff.pid={}", first.id());
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let running = std::process::Command::new("docker")
            .args(["ps", "-q", "--filter", "status=running", "--filter", &label])
            .output()
            .expect("docker client");
        if !running.stdout.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the first run never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second = express_run(second_out.path(), "1", "8s")
        .output()
        .expect("faceoff runs");
    let first = first.wait_with_output().unwrap();
    let read = |out: &Path| {
        let dir = common::run_dir_in(out).unwrap();
        results::read(&dir.join("results.json")).unwrap()
    };
    let (first_results, second_results) = (read(first_out.path()), read(second_out.path()));
    let second_text = text(&second);
    assert!(
        second_text.contains("another faceoff is measuring at the same time")
            && second_text.contains(&first_results.run_id),
        "{second_text}"
    );
    assert!(
        second_results
            .concurrent_runs
            .iter()
            .any(|peer| peer.run_id == first_results.run_id),
        "{:?}",
        second_results.concurrent_runs
    );
    // The first, after its first trial, sees the second too.
    assert!(
        first_results
            .concurrent_runs
            .iter()
            .any(|peer| peer.run_id == second_results.run_id),
        "{:?}\n{}",
        first_results.concurrent_runs,
        text(&first)
    );
    let report = std::fs::read_to_string(
        common::run_dir_in(second_out.path())
            .unwrap()
            .join("report.md"),
    )
    .unwrap();
    assert!(report.contains("measured at the same time"), "{report}");
}

/// Starts express on `port` (run `run_id`), waits until it is ready or fails, and stops it:
/// what `wait_ready` said.
async fn express_ready_on(port: u16, run_id: &str) -> Result<(), faceoff::runtime::RuntimeError> {
    use faceoff::runtime::docker::{DockerRuntime, connect};
    use faceoff::runtime::{Instance, LaunchSpec, Limits, Runtime, wait_ready};
    let (fixtures, options) = docker_runtime_for_tests();
    let runtime = DockerRuntime::new(connect().await.unwrap(), fixtures.clone(), options);
    let express = fixtures.target("express").unwrap().clone();
    let prepared = runtime.prepare(&express, &|_: &str| {}).await.unwrap();
    let limits = Limits {
        cpuset: "1".into(),
        memory_bytes: 256 << 20,
    };
    let spec = LaunchSpec {
        run_id,
        port,
        limits: &limits,
        env: &[],
    };
    let instance = runtime.start(&prepared, &spec).await.unwrap();
    let ready = wait_ready(&instance, "express", &limits, Duration::from_secs(30)).await;
    instance.stop().await.unwrap();
    ready.map(|_| ())
}

fn docker_runtime_for_tests() -> (faceoff::config::Fixtures, faceoff::images::BuildOptions) {
    let fixtures = faceoff::config::Fixtures::load(root()).unwrap();
    let options = faceoff::images::BuildOptions {
        ca_bundle: None,
        base: faceoff::images::BaseChoice::Offline,
        force: false,
        mirror: None,
    };
    (fixtures, options)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_started_target_has_no_capabilities_no_new_privileges_a_pids_limit_and_a_read_only_root()
{
    if skip() {
        return;
    }
    build_images_once(&["express"]);
    use faceoff::runtime::docker::{DockerRuntime, PIDS_LIMIT, UNHARDENED_ENV, connect};
    use faceoff::runtime::{Instance, LaunchSpec, Limits, Runtime, wait_ready};
    assert!(
        std::env::var(UNHARDENED_ENV).is_err(),
        "{UNHARDENED_ENV} is set: this test checks the hardening"
    );
    let (fixtures, options) = docker_runtime_for_tests();
    let docker = connect().await.unwrap();
    let runtime = DockerRuntime::new(docker.clone(), fixtures.clone(), options);
    let express = fixtures.target("express").unwrap().clone();
    let prepared = runtime.prepare(&express, &|_: &str| {}).await.unwrap();
    let limits = Limits {
        cpuset: "1".into(),
        memory_bytes: 256 << 20,
    };
    let run_id = format!("hardened-{}", std::process::id());
    let spec = LaunchSpec {
        run_id: &run_id,
        port: faceoff::runtime::pick_free_port().unwrap(),
        limits: &limits,
        env: &[],
    };
    let instance = runtime.start(&prepared, &spec).await.unwrap();
    let ready = wait_ready(&instance, "express", &limits, Duration::from_secs(60)).await;
    let full_id = containers_of_run(&run_id)
        .await
        .pop()
        .expect("the container");
    let inspect = docker.inspect_container(&full_id, None).await.unwrap();
    // A write to the root filesystem fails; /tmp is writable.
    let write = |path: &str| {
        std::process::Command::new("docker")
            .args(["exec", &full_id, "sh", "-c", &format!("echo x > {path}")])
            .output()
            .expect("docker client")
            .status
            .success()
    };
    let (root_written, tmp_written) = (write("/app/written"), write("/tmp/written"));
    instance.stop().await.unwrap();
    ready.expect("express is ready under the hardening");
    let host = inspect.host_config.expect("host config");
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
    assert!(host.cap_add.unwrap_or_default().is_empty());
    assert_eq!(
        host.security_opt,
        Some(vec!["no-new-privileges".to_string()])
    );
    assert_eq!(host.pids_limit, Some(PIDS_LIMIT));
    assert_eq!(host.readonly_rootfs, Some(true));
    assert!(host.tmpfs.unwrap_or_default().contains_key("/tmp"));
    assert!(!root_written, "the root filesystem is writable");
    assert!(tmp_written, "/tmp is not writable");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_setuid_or_setgid_file_remains_in_the_app_images() {
    if skip() {
        return;
    }
    build_images_once(&["express", "fastapi"]);
    use faceoff::runtime::Runtime;
    use faceoff::runtime::docker::{DockerRuntime, connect};
    let (fixtures, options) = docker_runtime_for_tests();
    let runtime = DockerRuntime::new(connect().await.unwrap(), fixtures.clone(), options);
    for name in ["express", "fastapi"] {
        let target = fixtures.target(name).unwrap().clone();
        let prepared = runtime.prepare(&target, &|_: &str| {}).await.unwrap();
        let tag = prepared.image.expect("an image").tag;
        // As root, so that no directory is hidden from the search.
        let output = std::process::Command::new("docker")
            .args(["run", "--rm", "--user", "0", "--network", "none", "--label"])
            .arg(format!("faceoff.test=setuid-{}", std::process::id()))
            .args([&tag, "find", "/", "-xdev", "-type", "f", "-perm", "/6000"])
            .output()
            .expect("docker client");
        assert!(output.status.success(), "{}", text(&output));
        let found = String::from_utf8_lossy(&output.stdout);
        assert!(
            found.trim().is_empty(),
            "{tag} has setuid/setgid files:\n{found}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_that_cannot_listen_because_another_process_holds_its_port_says_so() {
    if skip() {
        return;
    }
    build_images_once(&["express"]);
    use faceoff::runtime::RuntimeError;
    // Another process holds the port and never answers: the target fails to listen
    // (EADDRINUSE) and exits. That is the port's fault, not the target's.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let run_id = format!("port-held-{}", std::process::id());
    let ready = express_ready_on(port, &run_id).await;
    drop(holder);
    let err = ready.expect_err("the target cannot listen");
    assert!(matches!(err, RuntimeError::PortTaken { .. }), "{err}");
    assert!(err.to_string().contains(&format!("port {port}")), "{err}");
}
