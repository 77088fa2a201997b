//! Topologies end to end on a real Docker engine. The db workload: faceoff's PostgreSQL
//! image, one Node and one Python target verified against it (the rows-read check included)
//! and timed, the database killed in the middle of a run. The hybrid pair: FastAPI calling
//! the Node realtime service, timed beside Node alone, and its 502 and 504 when that service
//! is down or silent. No container is left after any of them.
//!
//! Needs a Docker engine (`.ci/setup-host` starts one). Without one these tests fail, unless
//! FACEOFF_SKIP_DOCKER_TESTS=1 says to skip them.

mod common;
use common::{containers_with, faceoff, root, run_dir_in, skip};

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bollard::query_parameters::KillContainerOptions;
use faceoff::config::Fixtures;
use faceoff::images::{BaseChoice, BuildOptions, HOST_CA_BUNDLE};
use faceoff::results::{self, RunStatus, TargetStatus};
use faceoff::runtime::docker::DockerRuntime;
use faceoff::runtime::{self as rt, Instance, LaunchSpec, Limits, Runtime};

fn run_id_of(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn db_workload_is_verified_and_timed_on_node_and_python_against_a_real_postgres() {
    if skip() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let verify = faceoff()
        .args(["verify", "--workload", "db", "--targets", "express,fastapi"])
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("faceoff runs");
    let stdout = String::from_utf8_lossy(&verify.stdout);
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success(),
        "verify failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("db.rows_read_in_database") && stdout.contains("db.multiple_501_is_500"),
        "{stdout}"
    );
    let verify_dir = run_dir_in(out.path()).expect("verify wrote its files");
    assert!(
        containers_with(&format!("faceoff.run={}", run_id_of(&verify_dir)))
            .await
            .is_empty()
    );

    let out = tempfile::tempdir().unwrap();
    let run = faceoff()
        .args([
            "run",
            "--workload",
            "db",
            "--targets",
            "express,fastapi",
            "--duration",
            "2s",
            "--warmup",
            "1s",
            "--connections",
            "16",
            "--db-memory",
            "512m",
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("faceoff runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "run failed:\n{stdout}\n{stderr}");
    let dir = run_dir_in(out.path()).expect("results written");
    let results = results::read(&dir.join("results.json")).expect("results.json parses");
    assert_eq!(results.status, RunStatus::Complete);
    assert_eq!(results.parameters.path, "/db/single");
    let postgres = results
        .services
        .iter()
        .find(|s| s.name == "postgres")
        .expect("the database is recorded");
    assert_eq!(postgres.limits.memory_bytes, 512 * 1024 * 1024);
    assert!(postgres.image_id.starts_with("sha256:"), "{postgres:?}");
    for target in &results.targets {
        assert_eq!(target.status, TargetStatus::Ok, "{target:?}");
        let trial = &target.trials[0];
        assert!(trial.requests > 0, "{}: no requests", target.target);
        assert_eq!(trial.errors.total(), 0, "{}: {:?}", target.target, trial);
        assert!(trial.status_counts.get(&200).is_some_and(|n| *n > 0));
    }
    assert!(
        containers_with(&format!("faceoff.run={}", results.run_id))
            .await
            .is_empty(),
        "containers of the run are left"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_killed_mid_run_fails_the_target_keeps_its_errors_and_leaves_no_container() {
    if skip() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let child = faceoff()
        .args([
            "-q",
            "run",
            "--workload",
            "db",
            "--targets",
            "express",
            "--duration",
            "10s",
            "--warmup",
            "1s",
            "--connections",
            "16",
        ])
        .arg("--out")
        .arg(out.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("faceoff starts");

    // Wait for the target's container (it starts after the database is ready), give it time
    // to pass the contract check and warm up (about 5 s), then kill the database inside the
    // 10 s measured window.
    let deadline = Instant::now() + Duration::from_secs(240);
    let run_id = loop {
        assert!(
            Instant::now() < deadline,
            "the run never started its target"
        );
        if let Some(dir) = run_dir_in(out.path()) {
            let run_id = run_id_of(&dir);
            let target = containers_with(&format!("faceoff.run={run_id}")).await;
            let database = containers_with("faceoff.service=postgres").await;
            if target.len() >= 2 && database.iter().any(|id| target.contains(id)) {
                break run_id;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_secs(7)).await;
    let of_run = containers_with(&format!("faceoff.run={run_id}")).await;
    let database: Vec<String> = containers_with("faceoff.service=postgres")
        .await
        .into_iter()
        .filter(|id| of_run.contains(id))
        .collect();
    assert_eq!(database.len(), 1, "one database for the run");
    let docker = faceoff::runtime::docker::connect().await.expect("engine");
    docker
        .kill_container(&database[0], None::<KillContainerOptions>)
        .await
        .expect("kill the database");

    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .expect("faceoff finishes");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("postgres stopped during the run"),
        "{stderr}"
    );

    let results =
        results::read(&out.path().join(&run_id).join("results.json")).expect("results kept");
    assert_eq!(results.status, RunStatus::Failed);
    let express = &results.targets[0];
    assert_eq!(express.status, TargetStatus::Failed);
    assert!(
        express
            .error
            .as_deref()
            .is_some_and(|e| e.contains("postgres")),
        "{express:?}"
    );
    let trial = express.trials.first().expect("the trial is kept");
    assert!(
        trial.errors.total() > 0,
        "the errors after the kill are counted: {trial:?}"
    );
    assert!(
        containers_with(&format!("faceoff.run={run_id}"))
            .await
            .is_empty(),
        "containers of the run are left"
    );
}

#[test]
fn the_local_runtime_refuses_the_db_workload_naming_the_fix() {
    let out = tempfile::tempdir().unwrap();
    let output = faceoff()
        .args([
            "--runtime",
            "local",
            "run",
            "--workload",
            "db",
            "--targets",
            "express",
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("faceoff runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("postgres") && stderr.contains("--runtime docker"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hybrid_pair_is_timed_beside_node_alone_with_the_realtime_service_on_the_same_cpus() {
    if skip() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = faceoff()
        .args([
            "run",
            "--workload",
            "hybrid",
            "--targets",
            "fastapi-hybrid,express",
            "--duration",
            "2s",
            "--warmup",
            "1s",
            "--connections",
            "8",
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("faceoff runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "run failed:\n{stdout}\n{stderr}");
    let dir = run_dir_in(out.path()).expect("results written");
    let results = results::read(&dir.join("results.json")).expect("results.json parses");
    assert_eq!(results.status, RunStatus::Complete);
    let realtime = results
        .services
        .iter()
        .find(|s| s.name == "realtime")
        .expect("the realtime service is recorded");
    assert_eq!(realtime.limits, results.parameters.limits);
    for target in &results.targets {
        let trial = &target.trials[0];
        assert!(
            trial.requests > 0 && trial.errors.total() == 0,
            "{target:?}"
        );
    }
    assert!(
        containers_with(&format!("faceoff.run={}", results.run_id))
            .await
            .is_empty(),
        "containers of the run are left"
    );
}

/// Starts the fastapi app with `env` and returns it once ready.
async fn fastapi_with(
    runtime: &DockerRuntime,
    prepared: &faceoff::runtime::Prepared,
    run_id: &str,
    env: &[(String, String)],
) -> faceoff::runtime::docker::DockerInstance {
    let limits = Limits {
        cpuset: "1".into(),
        memory_bytes: 1 << 30,
    };
    let spec = LaunchSpec {
        run_id,
        port: rt::pick_free_port().unwrap(),
        limits: &limits,
        env,
    };
    let instance = runtime
        .start(prepared, &spec)
        .await
        .expect("fastapi starts");
    rt::wait_ready(&instance, "fastapi", &limits, Duration::from_secs(60))
        .await
        .expect("fastapi ready");
    instance
}

#[tokio::test(flavor = "multi_thread")]
async fn hybrid_answers_502_when_the_realtime_service_is_down_and_504_when_it_is_silent() {
    if skip() {
        return;
    }
    let fixtures = Fixtures::load(root()).unwrap();
    let docker = faceoff::runtime::docker::connect().await.expect("engine");
    let options = BuildOptions {
        ca_bundle: Some(PathBuf::from(HOST_CA_BUNDLE)).filter(|p| p.is_file()),
        base: BaseChoice::Offline,
        force: false,
        mirror: None,
    };
    let runtime = DockerRuntime::new(docker, fixtures.clone(), options);
    let target = fixtures.target("fastapi").unwrap();
    let prepared = runtime
        .prepare(target, &|_: &str| {})
        .await
        .expect("fastapi image");
    let run_id = format!("test-hybrid-{}", std::process::id());
    let client = faceoff::verify::client().unwrap();
    let path = "/hybrid/notifications?user_id=42";

    // Down: nothing listens on the port.
    let closed = rt::pick_free_port().unwrap();
    let env = [(
        "REALTIME_URL".to_string(),
        format!("http://127.0.0.1:{closed}"),
    )];
    let down = fastapi_with(&runtime, &prepared, &run_id, &env).await;
    let answer = faceoff::verify::send(&client, down.port(), "GET", path, None).await;
    down.stop().await.unwrap();
    let answer = answer.expect("an answer");
    assert_eq!(
        answer.status,
        502,
        "{:?}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(String::from_utf8_lossy(&answer.body).contains("\"error\""));

    // Silent: a listener that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let env = [
        (
            "REALTIME_URL".to_string(),
            format!("http://127.0.0.1:{}", silent.local_addr().unwrap().port()),
        ),
        ("REALTIME_TIMEOUT_MS".to_string(), "500".to_string()),
    ];
    let slow = fastapi_with(&runtime, &prepared, &run_id, &env).await;
    let answer = faceoff::verify::send(&client, slow.port(), "GET", path, None).await;
    slow.stop().await.unwrap();
    let answer = answer.expect("an answer, not a hang");
    assert_eq!(
        answer.status,
        504,
        "{:?}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(
        answer.elapsed < Duration::from_secs(3),
        "{:?}",
        answer.elapsed
    );
    drop(silent);
    assert!(
        containers_with(&format!("faceoff.run={run_id}"))
            .await
            .is_empty()
    );
}
