//! End to end with the local-process runtime: the real apps as host processes (node and
//! python3 from PATH, dependencies from the same lockfiles), and deliberately broken apps
//! from tests/fixtures to show that start-up failures are caught and explained.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use faceoff::results::{self, RunStatus, TargetStatus};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A cache kept under target/ so installs are reused between test runs.
fn cache_home() -> PathBuf {
    root().join("target").join("faceoff-test-cache")
}

fn faceoff(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faceoff"))
        .current_dir(root())
        .env("XDG_CACHE_HOME", cache_home())
        .args(args)
        .output()
        .expect("faceoff runs")
}

fn only_results(out: &Path) -> results::RunResults {
    let run_dir = std::fs::read_dir(out)
        .expect("out dir")
        .flatten()
        .next()
        .expect("a run directory")
        .path();
    results::read(&run_dir.join("results.json")).expect("results.json parses")
}

/// No process of this run is left: its pid files are gone and no process carries its label.
fn assert_no_process_left(run_id: &str) {
    let pid_dir = cache_home().join("faceoff/local/pids");
    let left: Vec<_> = std::fs::read_dir(&pid_dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(run_id))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "pid files left: {left:?}");
    let label = format!("FACEOFF_RUN={run_id}");
    for proc_entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(environ) = std::fs::read(proc_entry.path().join("environ")) {
            assert!(
                !environ
                    .split(|&b| b == 0)
                    .any(|var| var == label.as_bytes()),
                "process {:?} of run {run_id} still runs",
                proc_entry.file_name()
            );
        }
    }
}

/// A repository root whose targets are the broken apps in tests/fixtures.
fn broken_root() -> tempfile::TempDir {
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
    std::fs::copy(
        root().join("tests/fixtures/broken-targets.toml"),
        fixtures.join("targets.toml"),
    )
    .unwrap();
    for app in ["crasher", "never-ready", "sloppy"] {
        let from = root().join("tests/fixtures/broken-apps").join(app);
        let to = dir.path().join("node-apps").join(app);
        std::fs::create_dir_all(&to).unwrap();
        for file in std::fs::read_dir(&from).unwrap().flatten() {
            std::fs::copy(file.path(), to.join(file.file_name())).unwrap();
        }
    }
    dir
}

#[test]
fn verify_passes_every_target_as_host_processes() {
    let out = tempfile::tempdir().unwrap();
    let output = faceoff(&[
        "--runtime",
        "local",
        "verify",
        "-q",
        // The first five: NestJS and Flask pass in containers (docker_e2e), and on the host
        // they would add a minute of installs to every CI run.
        "--targets",
        "express,fastify,fastapi,django,django-wsgi",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
    for target in ["express", "fastify", "fastapi", "django", "django-wsgi"] {
        assert!(stdout.contains(target), "{stdout}");
    }
}

#[test]
fn local_runtime_times_orders_on_fastify_and_fastapi_as_host_processes() {
    let out = tempfile::tempdir().unwrap();
    let output = faceoff(&[
        "--runtime",
        "local",
        "run",
        "--workload",
        "orders",
        "--targets",
        "fastify,fastapi",
        "--trials",
        "1",
        "--duration",
        "2s",
        "--warmup",
        "1s",
        "--connections",
        "8",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let results = only_results(out.path());
    assert_eq!(results.status, RunStatus::Complete);
    assert!(!results.parameters.memory_limit_enforced);
    assert!(results.parameters.body.is_some());
    for target in &results.targets {
        assert_eq!(target.status, TargetStatus::Ok, "{target:?}");
        assert_eq!(target.verify, faceoff::results::VerifyStatus::Passed);
        let trial = &target.trials[0];
        assert!(trial.requests > 0);
        // The setup request restocked the inventory: every order succeeded.
        assert_eq!(
            trial.status_counts.get(&201),
            Some(&trial.requests),
            "{:?}",
            trial.status_counts
        );
        assert_eq!(trial.errors.total(), 0, "{:?}", trial.errors);
        assert!(
            trial.resources.peak_memory_bytes > 1_000_000,
            "RSS not sampled"
        );
        assert!(target.image.is_none());
    }
    let version = |name: &str| {
        results
            .targets
            .iter()
            .find(|t| t.target == name)
            .and_then(|t| t.runtime_version.clone())
            .unwrap_or_default()
    };
    assert!(
        version("fastify").starts_with('v'),
        "{}",
        version("fastify")
    );
    assert!(
        version("fastapi").starts_with("Python 3."),
        "{}",
        version("fastapi")
    );
    // The host's versions against the containers' pinned ones (Node 24, Python 3.13 in
    // fixtures/bases.toml): a run on others says so before it starts, in results.json (the
    // pinned versions beside the ones that ran) and at the top of its report.
    assert_eq!(
        results
            .parameters
            .pinned_versions
            .get("node")
            .map(String::as_str),
        Some("24.21.0")
    );
    let warning = faceoff::results::versions::warning(&results);
    let report =
        std::fs::read_to_string(out.path().join(&results.run_id).join("report.md")).unwrap();
    let on_pinned =
        version("fastify") == "v24.21.0" && version("fastapi").starts_with("Python 3.13.");
    if on_pinned {
        assert!(warning.is_none(), "{warning:?}");
    } else {
        let warning = warning.expect("a run on other versions is marked");
        assert!(
            stderr.contains("warning: this run ran on the host's runtimes"),
            "{stderr}"
        );
        assert!(
            report.contains(&format!("**Warning:** this run {warning}")),
            "{report}"
        );
    }
    assert_no_process_left(&results.run_id);
}

#[test]
fn app_that_crashes_at_start_is_reported_with_its_last_log_lines() {
    let broken = broken_root();
    let out = tempfile::tempdir().unwrap();
    let output = faceoff(&[
        "--root",
        broken.path().to_str().unwrap(),
        "--runtime",
        "local",
        "run",
        "--targets",
        "crasher",
        "--duration",
        "1s",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("crasher exited with code 3 before it became ready"),
        "{stderr}"
    );
    assert!(
        stderr.contains("boom: cannot read config /etc/crasher.toml"),
        "{stderr}"
    );
    let results = only_results(out.path());
    assert_eq!(results.status, RunStatus::Failed);
    let target = &results.targets[0];
    assert_eq!(target.status, TargetStatus::Failed);
    assert!(
        target.error.as_deref().unwrap_or("").contains("boom"),
        "{target:?}"
    );
    assert_no_process_left(&results.run_id);
}

#[test]
fn app_that_never_becomes_ready_times_out_with_the_last_answer() {
    let broken = broken_root();
    let out = tempfile::tempdir().unwrap();
    let output = faceoff(&[
        "--root",
        broken.path().to_str().unwrap(),
        "--runtime",
        "local",
        "run",
        "--targets",
        "never-ready",
        "--ready-timeout",
        "2s",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("never-ready did not answer 200 on GET /status within 2 s"),
        "{stderr}"
    );
    assert!(stderr.contains("HTTP 503"), "{stderr}");
    assert!(stderr.contains("--ready-timeout"), "{stderr}");
    let results = only_results(out.path());
    assert_no_process_left(&results.run_id);
}

#[test]
fn verify_catches_a_target_that_breaks_the_contract() {
    let broken = broken_root();
    let out = tempfile::tempdir().unwrap();
    let output = faceoff(&[
        "--root",
        broken.path().to_str().unwrap(),
        "--runtime",
        "local",
        "verify",
        "--targets",
        "sloppy",
        "--workload",
        "status",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL sloppy status.ok: content-type: expected `application/json; charset=utf-8`, got `application/json`"), "{stdout}");
    assert!(
        stdout.contains("FAIL sloppy status.post_is_405: status: expected 405, got 404"),
        "{stdout}"
    );
    let run_dir = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let junit = std::fs::read_to_string(run_dir.join("verify.junit.xml")).unwrap();
    assert!(junit.contains(r#"<testsuite name="sloppy""#), "{junit}");
    assert!(junit.contains("expected 405, got 404"), "{junit}");
    let report: faceoff::verify::VerifyReport =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("verify.json")).unwrap())
            .unwrap();
    assert!(!report.passed());
}

#[test]
fn run_refuses_to_time_a_target_that_fails_verify_unless_told_to_skip() {
    let broken = broken_root();
    let out = tempfile::tempdir().unwrap();
    let args = |extra: &'static [&'static str]| {
        let mut args = vec![
            "--root".to_string(),
            broken.path().to_string_lossy().to_string(),
            "--runtime".into(),
            "local".into(),
            "run".into(),
            "--targets".into(),
            "sloppy".into(),
            "--trials".into(),
            "1".into(),
            "--duration".into(),
            "1s".into(),
            "--warmup".into(),
            "0s".into(),
            "--out".into(),
            out.path().to_string_lossy().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let refused = Command::new(env!("CARGO_BIN_EXE_faceoff"))
        .env("XDG_CACHE_HOME", cache_home())
        .args(args(&[]))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("so it was not timed"), "{stderr}");
    assert!(stderr.contains("--skip-verify"), "{stderr}");

    let skipped = Command::new(env!("CARGO_BIN_EXE_faceoff"))
        .env("XDG_CACHE_HOME", cache_home())
        .args(args(&["--skip-verify"]))
        .output()
        .unwrap();
    assert!(
        skipped.status.success(),
        "{}",
        String::from_utf8_lossy(&skipped.stderr)
    );
    let mut runs: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    runs.sort();
    let results = results::read(&runs[1].join("results.json")).unwrap();
    assert_eq!(
        results.targets[0].verify,
        faceoff::results::VerifyStatus::Skipped
    );
    assert!(!results.parameters.verified);
    assert!(results.targets[0].trials[0].requests > 0);
}
