//! Issue #13, item 14: image builds run on the host network, like the containers, so a
//! build does not depend on Docker's default bridge (`docker0`). The proof: a `RUN` step
//! reaches a listener this test holds on the host's 127.0.0.1, which on the bridge would be
//! the build container's own loopback.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use bollard::query_parameters::{ListImagesOptionsBuilder, RemoveImageOptionsBuilder};

use common::{root, skip};

const TARGET: &str = "build-network-check";

/// A checkout holding one target whose build connects to `port` on 127.0.0.1.
fn checkout(dir: &Path, port: u16) {
    let fixtures = dir.join("fixtures");
    std::fs::create_dir_all(&fixtures).unwrap();
    for name in ["bases.toml", "workloads.toml", "profiles.toml"] {
        std::fs::copy(root().join("fixtures").join(name), fixtures.join(name)).unwrap();
    }
    std::fs::write(
        fixtures.join("targets.toml"),
        format!(
            "[[target]]\nname = \"{TARGET}\"\nlanguage = \"node\"\nframework = \"node\"\napp_dir = \"node-apps/{TARGET}\"\nserver = \"none\"\ncommand = [\"node\", \"server.js\"]\n"
        ),
    )
    .unwrap();
    let app = dir.join("node-apps").join(TARGET);
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("package-lock.json"), "{}").unwrap();
    std::fs::write(
        app.join("Dockerfile"),
        format!(
            "ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\nRUN bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port} && echo built-on-the-host-network >&3'\n"
        ),
    )
    .unwrap();
}

async fn remove_test_images() {
    let docker = faceoff::runtime::docker::connect().await.expect("engine");
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("faceoff.target={TARGET}")],
    )]);
    let list = ListImagesOptionsBuilder::default()
        .filters(&filters)
        .build();
    for image in docker.list_images(Some(list)).await.unwrap_or_default() {
        let options = RemoveImageOptionsBuilder::default().force(true).build();
        let _ = docker.remove_image(&image.id, Some(options), None).await;
    }
}

#[test]
fn a_build_step_reaches_the_hosts_loopback() {
    if skip() {
        return;
    }
    // The node base the target builds on.
    common::build_images_once(&["express"]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (heard, said) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut text = String::new();
            let _ = stream.read_to_string(&mut text);
            let _ = heard.send(text);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    checkout(dir.path(), port);
    let output = common::faceoff()
        .arg("--root")
        .arg(dir.path())
        .args(["images", "build", "-q", TARGET])
        .output()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(remove_test_images());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        said.recv_timeout(Duration::from_secs(5)).unwrap().trim(),
        "built-on-the-host-network"
    );
}
