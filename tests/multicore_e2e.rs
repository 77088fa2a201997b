//! Issue #14: the multi-core variants and the scaling profile on a real Docker engine.
//! - every variant passes the contract on status, offload and orders, or refuses orders with
//!   its reason (verify records the refusal);
//! - a 2-worker variant on `--cpuset 0-1` serves requests from two distinct worker PIDs;
//! - `run --profile scaling` on this host measures the steps it can hold (one on 2 CPUs),
//!   says what a bigger host would add, and leaves no container.
//!
//! Needs a Docker engine (`.ci/setup-host` starts one). Without one the Docker tests fail,
//! unless FACEOFF_SKIP_DOCKER_TESTS=1 says to skip them.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{build_images_once, containers_of_run, faceoff, run_dir_in, skip};

const VARIANTS: [&str; 7] = [
    "express-cluster",
    "fastify-cluster",
    "fastapi-workers",
    "django-wsgi-workers",
    "django-wsgi-gthread",
    "fastify-offload-pool",
    "fastapi-offload-pool",
];

/// Those that keep the orders inventory in several processes, so refuse it.
const REFUSING_ORDERS: [&str; 4] = [
    "express-cluster",
    "fastify-cluster",
    "fastapi-workers",
    "django-wsgi-workers",
];

fn text(output: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_multi_process_variant_asked_for_orders_refuses_in_one_line_naming_why() {
    // The local runtime: the refusal comes before anything is started or built.
    for command in [
        &[
            "run",
            "--targets",
            "fastapi-workers",
            "--workload",
            "orders",
        ][..],
        &[
            "verify",
            "--targets",
            "fastify-cluster",
            "--workload",
            "orders",
        ][..],
    ] {
        let output = faceoff()
            .args(["--runtime", "local"])
            .args(command)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(
            lines[0].contains("does not serve workload `orders`")
                && lines[0].contains("would oversell"),
            "{stderr}"
        );
    }
}

#[test]
fn every_variant_passes_the_contract_or_refuses_orders_with_its_reason() {
    if skip() {
        return;
    }
    build_images_once(&VARIANTS);
    let out = tempfile::tempdir().unwrap();
    let targets = VARIANTS.join(",");
    let output = faceoff()
        .args(["verify", "-q", "--targets", &targets])
        .args([
            "--workload",
            "status,offload,orders",
            "--cpuset",
            "0-1",
            "--workers",
            "2",
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let dir = run_dir_in(out.path()).expect("a verify directory");
    let report: faceoff::verify::VerifyReport =
        serde_json::from_slice(&std::fs::read(dir.join("verify.json")).unwrap()).unwrap();
    assert!(output.status.success(), "{}", text(&output));
    for name in VARIANTS {
        let target = report
            .targets
            .iter()
            .find(|t| t.target == name)
            .unwrap_or_else(|| panic!("{name} verified"));
        assert!(target.passed, "{name}: {:?}", target.cases);
        let refusal = target.cases.iter().find(|c| c.id == "orders-refused");
        if REFUSING_ORDERS.contains(&name) {
            let refusal = refusal.unwrap_or_else(|| panic!("{name} records its refusal"));
            assert!(refusal.description.contains("oversell"), "{refusal:?}");
            assert!(
                target
                    .cases
                    .iter()
                    .all(|c| c.workload != "orders" || c.id == "orders-refused")
            );
        } else {
            assert!(refusal.is_none(), "{name} serves orders");
            assert!(
                target
                    .cases
                    .iter()
                    .any(|c| c.workload == "orders" && c.id != "orders-refused"),
                "{name} ran the orders cases"
            );
        }
    }
}

/// One GET /status on a fresh keep-alive connection, left open: the connection and its
/// status code.
fn status_on_new_connection(port: u16) -> (TcpStream, u16) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut buffer = [0u8; 1024];
    let read = stream.read(&mut buffer).unwrap_or(0);
    let head = String::from_utf8_lossy(&buffer[..read]).to_string();
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (stream, code)
}

#[test]
fn a_two_worker_cluster_on_two_cpus_serves_requests_from_two_distinct_pids() {
    if skip() {
        return;
    }
    build_images_once(&VARIANTS);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // `up` runs no load generator: the server may have both CPUs (a check, not a figure).
    let mut child = faceoff()
        .args(["up", "fastify-cluster", "--cpuset", "0-1", "--workers", "2"])
        .args(["--port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, seen) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut printed: Vec<String> = Vec::new();
    while !printed.iter().any(|l| l.contains("listening on")) {
        assert!(Instant::now() < deadline, "not up: {printed:?}");
        if let Ok(line) = seen.recv_timeout(Duration::from_millis(200)) {
            printed.push(line);
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
            panic!("up ended ({status}): {printed:?} {stderr}");
        }
    }
    // Both workers listen once the first answers? Not necessarily: wait until two PIDs
    // have answered, or give up after a while.
    let mut pids = BTreeSet::new();
    let mut open = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while pids.len() < 2 && Instant::now() < deadline {
        let (stream, code) = status_on_new_connection(port);
        assert_eq!(code, 200, "{printed:?}");
        let client_port = stream.local_addr().unwrap().port();
        pids.extend(faceoff::runtime::connection_owners(port, client_port));
        open.push(stream);
    }
    drop(open);
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "up did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        printed.iter().any(|l| l.contains("2 worker(s)")),
        "up says the worker count: {printed:?}"
    );
    assert!(pids.len() >= 2, "requests reached only {pids:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scaling_profile_on_this_host_measures_the_steps_it_holds_and_leaves_no_container() {
    if skip() {
        return;
    }
    build_images_once(&VARIANTS);
    let out = tempfile::tempdir().unwrap();
    let output = faceoff()
        .args(["run", "--profile", "scaling", "--workload", "status"])
        .args(["--targets", "fastify-cluster,fastapi-workers"])
        // The contract check of both is the verify test's: here only the steps are timed.
        .arg("--skip-verify")
        .args([
            "--trials",
            "1",
            "--duration",
            "1s",
            "--warmup",
            "0s",
            "--connections",
            "8",
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    let dir = run_dir_in(out.path()).expect("a scaling directory");
    let record = faceoff::results::scaling::read(&dir.join("scaling.json")).unwrap();
    let host = faceoff::runtime::host_cpu_count();
    let layout = faceoff::run::scaling::layout("scaling", host, &record.steps_asked, None).unwrap();
    let measured: Vec<u32> = layout.steps.iter().map(|s| s.0).collect();
    assert_eq!(record.steps_measured, measured);
    assert_eq!(record.steps.len(), 2 * measured.len());
    for step in &record.steps {
        assert!(step.requests_per_sec.unwrap_or(0.0) > 0.0, "{step:?}");
        assert_eq!(
            step.workers,
            Some(step.server_cpus),
            "one worker per CPU: {step:?}"
        );
        assert!(step.generator_cpu_percent.is_some() && step.server_cpu_percent.is_some());
        let results = faceoff::results::read(&dir.join(&step.results)).unwrap();
        assert!(
            results
                .targets
                .iter()
                .all(|t| t.workers == Some(step.server_cpus)),
            "each step's results record its N"
        );
        assert!(
            containers_of_run(&results.run_id).await.is_empty(),
            "containers of {} left",
            results.run_id
        );
    }
    if host == 2 {
        assert_eq!(record.steps_measured, [1]);
        assert!(
            printed.contains("a bigger host would add: 2 server CPUs on a host of 3+"),
            "{printed}"
        );
        assert!(printed.contains("no model: one step measured"), "{printed}");
    }
    let html = std::fs::read_to_string(dir.join("scaling.html")).unwrap();
    assert!(
        html.contains("projection") && html.contains("<svg"),
        "scaling.html"
    );
}
