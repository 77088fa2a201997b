//! The binary's behaviour on bad input: one clear line naming the cause and the fix, and a
//! non-zero exit code. None of these needs a Docker engine.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn faceoff() -> Command {
    let mut cmd = Command::cargo_bin("faceoff").expect("binary built");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// A copy of the repository's fixtures (and app Dockerfiles) to break on purpose.
fn copy_of_fixtures() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(dir.path().join("fixtures")).unwrap();
    for name in [
        "targets.toml",
        "bases.toml",
        "workloads.toml",
        "profiles.toml",
    ] {
        std::fs::copy(
            root.join("fixtures").join(name),
            dir.path().join("fixtures").join(name),
        )
        .unwrap();
    }
    for app in [
        "node-apps/express",
        "node-apps/fastify",
        "python-apps/fastapi",
        "python-apps/django",
    ] {
        std::fs::create_dir_all(dir.path().join(app)).unwrap();
        std::fs::copy(
            root.join(app).join("Dockerfile"),
            dir.path().join(app).join("Dockerfile"),
        )
        .unwrap();
    }
    dir
}

#[test]
fn list_shows_the_http_targets_with_framework_versions() {
    faceoff()
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains("express 5."))
        .stdout(predicate::str::contains("fastify 5."))
        .stdout(predicate::str::contains("fastapi 0."))
        .stdout(predicate::str::contains("django 5.2"))
        .stdout(predicate::str::contains("django-wsgi"))
        .stdout(predicate::str::contains("gunicorn"))
        .stdout(predicate::str::contains("nestjs-fastify"))
        .stdout(predicate::str::contains("@nestjs/core 12."))
        .stdout(predicate::str::contains("flask 3."));
}

#[test]
fn unknown_target_is_refused_and_the_known_ones_listed() {
    faceoff()
        .args(["run", "--targets", "nginx", "--runtime", "local"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unknown target `nginx`"))
        .stderr(predicate::str::contains(
            "express, fastify, fastapi, django, django-wsgi",
        ));
}

#[test]
fn unknown_workload_is_refused_and_the_known_ones_listed() {
    faceoff()
        .args(["run", "--workload", "mining", "--runtime", "local"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unknown workload `mining`"))
        .stderr(predicate::str::contains("status"));
}

#[test]
fn malformed_fixture_names_file_line_and_field() {
    let dir = copy_of_fixtures();
    let path = dir.path().join("fixtures/targets.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("language = \"node\"", "language = \"cobol\"", 1),
    )
    .unwrap();
    let assert = faceoff()
        .arg("--root")
        .arg(dir.path())
        .arg("list")
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.contains("targets.toml"), "{stderr}");
    assert!(stderr.contains("line "), "{stderr}");
    assert!(stderr.contains("cobol"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
}

#[test]
fn missing_engine_names_both_fixes() {
    faceoff()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["run", "--targets", "express"])
        .assert()
        // An engine that cannot be reached is "could not even start", as CI tells it apart.
        .code(2)
        .stderr(predicate::str::contains(
            "no Docker engine answers at unix:///nonexistent/docker.sock",
        ))
        .stderr(predicate::str::contains("dockerd"))
        .stderr(predicate::str::contains("--runtime local"));
}

#[test]
fn port_in_use_is_refused_before_anything_starts() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    faceoff()
        .args(["up", "express", "--runtime", "local", "--port", &port])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "port {port} on 127.0.0.1 is in use"
        )));
}

#[test]
fn bad_cpuset_is_refused() {
    faceoff()
        .args(["run", "--runtime", "local", "--cpuset", "7-3"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("invalid cpuset `7-3`"));
}

#[test]
fn bad_duration_is_a_usage_error() {
    faceoff()
        .args(["run", "--duration", "ten"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("ten"));
}
