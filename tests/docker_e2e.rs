//! End to end on a real Docker engine: offline base images, one Node and one Python target
//! built from their lockfiles, a short `faceoff run`, Ctrl-C in the middle of one, and the
//! same image started as a testcontainers fixture.
//!
//! Needs a Docker engine (`.ci/setup-host` starts one). Without one these tests fail, unless
//! FACEOFF_SKIP_DOCKER_TESTS=1 says to skip them.

mod common;
use common::{build_images_once, containers_of_run, faceoff, root, run_dir_in, skip};

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use faceoff::config::Fixtures;
use faceoff::results::{self, RunStatus, TargetStatus};
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt};

const TARGETS: &str = "express,fastapi";

#[tokio::test(flavor = "multi_thread")]
async fn run_measures_a_node_and_a_python_target_and_leaves_no_container() {
    if skip() {
        return;
    }
    build_images_once(&[]);
    let out = tempfile::tempdir().unwrap();
    let output = faceoff()
        .args([
            "run",
            "--targets",
            TARGETS,
            "--workload",
            "status",
            "--trials",
            "1",
            "--duration",
            "3s",
            "--warmup",
            "1s",
            "--connections",
            "16",
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("faceoff runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "run failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("req/s") && stdout.contains("express") && stdout.contains("fastapi"),
        "{stdout}"
    );

    let path = run_dir_in(out.path())
        .map(|dir| dir.join("results.json"))
        .expect("results.json written");
    let results = results::read(&path).expect("results.json parses");
    assert_eq!(results.schema_version, results::SCHEMA_VERSION);
    assert_eq!(results.status, RunStatus::Complete);
    let engine = results.manifest.engine.as_ref().expect("engine recorded");
    assert!(!engine.version.is_empty() && !engine.api_version.is_empty());
    assert!(!results.manifest.host.kernel.is_empty());
    assert_eq!(results.parameters.limits.cpuset, "1");
    assert_eq!(results.targets.len(), 2);
    for target in &results.targets {
        assert_eq!(target.status, TargetStatus::Ok, "{target:?}");
        let trial = &target.trials[0];
        assert!(trial.requests > 0, "{}: no requests", target.target);
        assert!(trial.requests_per_sec > 0.0);
        assert!(trial.latency.p50_ms > 0.0 && trial.latency.p50_ms <= trial.latency.p99_ms);
        assert!(trial.latency.p99_ms <= trial.latency.max_ms);
        assert_eq!(
            trial.errors.total(),
            0,
            "{}: {:?}",
            target.target,
            trial.errors
        );
        assert_eq!(trial.status_counts.get(&200), Some(&trial.requests));
        assert!(
            trial.resources.peak_memory_bytes > 1_000_000,
            "{}: memory not sampled",
            target.target
        );
        assert!(!trial.resources.samples.is_empty());
        let image = target.image.as_ref().expect("image recorded");
        assert!(image.image_id.starts_with("sha256:"));
        assert!(target.framework_version.is_some());
        assert!(
            target
                .lockfile_sha256
                .as_ref()
                .is_some_and(|h| h.len() == 64)
        );
    }
    // The pair also ran as a duet: both at once on the same cpuset, each loaded.
    assert!(results.parameters.duet);
    assert_eq!(results.duets.len(), 1, "{:?}", results.duets);
    let duet = &results.duets[0];
    assert_eq!(duet.targets, ["express", "fastapi"]);
    // One trial round: the pair ran twice, once in each start order.
    assert_eq!(duet.rounds.len(), 2, "{:?}", duet.error);
    let firsts: Vec<Option<&str>> = duet
        .rounds
        .iter()
        .map(|r| r.started_first.as_deref())
        .collect();
    assert_eq!(firsts, [Some("express"), Some("fastapi")]);
    for trial in duet.rounds.iter().flat_map(|r| &r.trials) {
        assert!(trial.requests > 0 && trial.errors.total() == 0, "{trial:?}");
        assert!(trial.resources.mean_cpu_percent > 0.0);
        assert!(
            trial.startup.is_none(),
            "a duet's start is not a cold start"
        );
    }
    for target in &results.targets {
        let start = target.trials[0]
            .startup
            .expect("each trial records its start");
        assert!(
            start.ready_ms > 0.0 && start.idle_memory_bytes.is_some(),
            "{start:?}"
        );
    }
    assert!(stdout.contains("duet: express / fastapi"), "{stdout}");
    let version = |name: &str| {
        results
            .targets
            .iter()
            .find(|t| t.target == name)
            .and_then(|t| t.runtime_version.clone())
            .unwrap_or_default()
    };
    assert!(
        version("express").starts_with("v24."),
        "{}",
        version("express")
    );
    assert!(
        version("fastapi").starts_with("Python 3.13"),
        "{}",
        version("fastapi")
    );
    assert!(
        containers_of_run(&results.run_id).await.is_empty(),
        "containers left behind"
    );
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/results.schema.json")).unwrap(),
    )
    .unwrap();
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let invalid: Vec<String> = jsonschema::validator_for(&schema)
        .unwrap()
        .iter_errors(&written)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        invalid.is_empty(),
        "results.json breaks its schema: {invalid:#?}"
    );
    let dir = path.parent().expect("run directory");
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report.md written");
    assert!(
        md.contains("| express |") && md.contains("## Claims"),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html written");
    assert_eq!(html.matches("<svg ").count(), 3, "three charts");
}

/// `--node 20,24` turns express into two variants, each on its own base image (Node 20 is
/// built offline like the pinned one, the only extra base CI builds), each named, run and
/// recorded with its version; the reports open with the version line.
#[tokio::test(flavor = "multi_thread")]
async fn node_versions_run_express_once_per_version_each_on_its_own_base() {
    if skip() {
        return;
    }
    build_images_once(&[]);
    let out = tempfile::tempdir().unwrap();
    let output = faceoff()
        .args([
            "run",
            "--targets",
            "express",
            "--node",
            "20,24",
            "--workload",
            "status",
            "--trials",
            "2",
            "--duration",
            "1s",
            "--warmup",
            "500ms",
            "--connections",
            "8",
            "--no-duet",
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("faceoff runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "run failed:\n{stdout}\n{stderr}");
    let path = run_dir_in(out.path())
        .map(|dir| dir.join("results.json"))
        .expect("results.json written");
    let results = results::read(&path).expect("results.json parses");
    let names: Vec<&str> = results.targets.iter().map(|t| t.target.as_str()).collect();
    assert_eq!(names, ["express@node20", "express@node24"]);
    let mut bases = Vec::new();
    for (target, major) in results.targets.iter().zip(["v20.", "v24."]) {
        assert_eq!(target.status, TargetStatus::Ok, "{target:?}");
        assert!(target.trials.iter().all(|t| t.requests > 0), "{target:?}");
        let variant = target.variant.as_ref().expect("variant recorded");
        assert_eq!(
            (variant.of.as_str(), variant.runtime.as_str()),
            ("express", "node")
        );
        let version = target.runtime_version.clone().unwrap_or_default();
        assert!(version.starts_with(major), "{}: {version}", target.target);
        let image = target.image.as_ref().expect("image recorded");
        assert!(
            image.tag.starts_with("faceoff/express-node"),
            "{}",
            image.tag
        );
        assert!(results.manifest.base_images.contains_key(&image.base_image));
        bases.push(image.base_image.clone());
    }
    assert_ne!(bases[0], bases[1], "each version on its own base");
    let line = results
        .version_sensitivity
        .clone()
        .expect("a version line in results.json");
    assert!(line.contains("node20, node24"), "{line}");
    assert!(stdout.contains(&line), "{stdout}");
    let md = std::fs::read_to_string(path.parent().unwrap().join("report.md")).unwrap();
    assert!(md.contains("**Versions:**"), "{md}");
    assert!(containers_of_run(&results.run_id).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_mid_run_keeps_finished_targets_and_removes_containers() {
    if skip() {
        return;
    }
    build_images_once(&[]);
    let out = tempfile::tempdir().unwrap();
    let mut child = faceoff()
        .args([
            "run",
            "--targets",
            TARGETS,
            "--duration",
            "3s",
            "--warmup",
            "0s",
            "--connections",
            "4",
            "-q",
        ])
        .arg("--out")
        .arg(out.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("faceoff starts");
    // Wait until the first target's trial is on disk, then interrupt during the second.
    let deadline = Instant::now() + Duration::from_secs(180);
    let path = loop {
        assert!(Instant::now() < deadline, "first trial never written");
        if let Some(path) = run_dir_in(out.path()).map(|dir| dir.join("results.json"))
            && let Ok(results) = results::read(&path)
            && results
                .targets
                .first()
                .is_some_and(|t| !t.trials.is_empty())
        {
            break path;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "faceoff ended before the interrupt"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let output = child.wait_with_output().expect("faceoff ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let results = results::read(&path).expect("partial results kept");
    assert_eq!(results.status, RunStatus::Interrupted);
    assert_eq!(results.targets[0].target, "express");
    assert_eq!(results.targets[0].trials.len(), 1);
    assert!(
        containers_of_run(&results.run_id).await.is_empty(),
        "containers left behind"
    );
    let dir = path.parent().expect("run directory");
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report.md of the partial run");
    assert!(md.contains("**interrupted**"), "{md}");
    assert!(
        dir.join("report.html").is_file(),
        "report.html of the partial run"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn testcontainers_starts_the_built_express_image_and_it_answers_status() {
    if skip() {
        return;
    }
    build_images_once(&[]);
    let fixtures = Fixtures::load(root()).unwrap();
    let target = fixtures.target("express").unwrap().clone();
    let hash =
        faceoff::images::app_hash(&fixtures.app_dir(&target), &fixtures.bases.node.image).unwrap();
    let port = faceoff::runtime::pick_free_port().unwrap();
    let container = GenericImage::new(format!("faceoff/{}", target.name), hash[..12].to_string())
        .with_network("host")
        .with_env_var("PORT", port.to_string())
        .with_label("faceoff.run", "testcontainers")
        .with_cmd(target.command_for("127.0.0.1", port))
        .start()
        .await
        .expect("container starts from the local image, without a pull");
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        if let Ok(body) = get_body(port, "/status").await {
            break body;
        }
        assert!(Instant::now() < deadline, "express never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(
        body.to_ascii_lowercase()
            .contains("content-type: application/json; charset=utf-8"),
        "{body}"
    );
    assert!(
        body.ends_with(r#"{"service":"edge-metrics","status":"ok","t_ms":4}"#),
        "{body}"
    );
    drop(container);
}

/// Without DATABASE_URL (a plain `docker run`, the local runtime), `/db/*` is the
/// contract's 503, every time: Django used to answer 500, having filled its empty
/// `DATABASES` with a dummy backend on first use.
#[tokio::test(flavor = "multi_thread")]
async fn django_targets_without_a_database_answer_503_on_db() {
    if skip() {
        return;
    }
    build_images_once(&[]);
    let fixtures = Fixtures::load(root()).unwrap();
    for name in ["django", "django-wsgi"] {
        let target = fixtures.target(name).unwrap().clone();
        let hash =
            faceoff::images::app_hash(&fixtures.app_dir(&target), &fixtures.bases.python.image)
                .unwrap();
        let port = faceoff::runtime::pick_free_port().unwrap();
        let container =
            GenericImage::new(format!("faceoff/{}", target.name), hash[..12].to_string())
                .with_network("host")
                .with_label("faceoff.run", "testcontainers")
                .with_cmd(target.command_for("127.0.0.1", port))
                .start()
                .await
                .expect("container starts from the local image, without a pull");
        let deadline = Instant::now() + Duration::from_secs(30);
        while get_body(port, "/status").await.is_err() {
            assert!(Instant::now() < deadline, "{name} never answered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for path in ["/db/single", "/db/single", "/db/multiple?count=2"] {
            let answer = get_body(port, path).await.unwrap();
            assert!(
                answer.starts_with("HTTP/1.1 503"),
                "{name} {path}: {answer}"
            );
            assert!(
                answer.contains(r#"{"error":"no database configured"#),
                "{name} {path}: {answer}"
            );
        }
        drop(container);
    }
}

async fn get_body(port: u16, path: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    Ok(text)
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

fn run_in(root_dir: &Path, extra: &[&str]) -> (Output, results::RunResults) {
    let out = tempfile::tempdir().unwrap();
    let output = faceoff()
        .arg("--root")
        .arg(root_dir)
        .args([
            "run",
            "--targets",
            "express",
            "--duration",
            "2s",
            "--warmup",
            "0s",
            "-q",
        ])
        .args(extra)
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("faceoff runs");
    let path = run_dir_in(out.path())
        .map(|dir| dir.join("results.json"))
        .expect("results.json written");
    (output, results::read(&path).expect("results parse"))
}

#[tokio::test(flavor = "multi_thread")]
async fn container_that_crashes_at_start_is_reported_with_its_logs_and_removed() {
    if skip() {
        return;
    }
    build_images_once(&[]);
    let broken = express_with_command(&[
        "node",
        "-e",
        "console.error('boom: no config'); process.exit(3)",
    ]);
    let (output, results) = run_in(broken.path(), &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("express exited with code 3 before it became ready"),
        "{stderr}"
    );
    assert!(stderr.contains("boom: no config"), "{stderr}");
    assert_eq!(results.targets[0].status, TargetStatus::Failed);
    assert!(
        containers_of_run(&results.run_id).await.is_empty(),
        "containers left behind"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn container_killed_for_memory_is_reported_as_such() {
    if skip() {
        return;
    }
    build_images_once(&[]);
    // Off-heap buffers, filled so the pages are real: the cgroup, not V8, hits the limit.
    let hog = express_with_command(&[
        "node",
        "-e",
        "const a = []; setInterval(() => a.push(Buffer.alloc(8 << 20, 1)), 5)",
    ]);
    let (output, results) = run_in(hog.path(), &["--memory", "64m", "--ready-timeout", "30s"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("killed for memory (limit 64 MiB): raise --memory"),
        "{stderr}"
    );
    assert!(
        containers_of_run(&results.run_id).await.is_empty(),
        "containers left behind"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_passes_every_target_in_containers_and_writes_junit() {
    if skip() {
        return;
    }
    build_images_once(&[]);
    let out = tempfile::tempdir().unwrap();
    let output = faceoff()
        .args(["verify", "-q"])
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
    for target in [
        "express",
        "fastify",
        "fastapi",
        "django",
        "django-wsgi",
        "fastapi-hybrid",
        "nestjs",
        "nestjs-fastify",
        "flask",
    ] {
        assert!(stdout.contains(target), "{stdout}");
    }
    assert!(!stdout.contains("FAIL"), "{stdout}");
    let run_dir = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let junit = std::fs::read_to_string(run_dir.join("verify.junit.xml")).unwrap();
    // Every target but the multi-core variants, which run only when named.
    let targets = Fixtures::load(root())
        .unwrap()
        .targets
        .iter()
        .filter(|t| t.variant_of.is_none())
        .count();
    assert_eq!(junit.matches("<testsuite ").count(), targets, "{junit}");
    assert!(junit.contains("orders.concurrency"), "{junit}");
    // The numeric and file I/O workloads, on every HTTP target (NumPy in the Python images).
    for case in [
        "numeric.matmul_256",
        "numeric.too_large",
        "files.read_1024k",
        "files.no_such_size",
    ] {
        assert!(junit.contains(case), "{case} not checked: {junit}");
    }
    let report: faceoff::verify::VerifyReport =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("verify.json")).unwrap())
            .unwrap();
    assert!(report.passed());
    assert!(
        containers_of_run(&report.run_id).await.is_empty(),
        "containers left behind"
    );
}
