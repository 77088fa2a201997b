//! Helpers shared by the end-to-end tests that drive the real binary and Docker engine.
// Each test file uses only some of these.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use bollard::query_parameters::ListContainersOptionsBuilder;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// FACEOFF_SKIP_DOCKER_TESTS=1 skips the tests that need a Docker engine; without it they
/// fail when no engine answers.
pub fn skip() -> bool {
    std::env::var("FACEOFF_SKIP_DOCKER_TESTS").is_ok_and(|v| v == "1")
}

/// The faceoff binary, run from the repository root (where fixtures/ is).
pub fn faceoff() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faceoff"));
    cmd.current_dir(root());
    cmd
}

/// Builds the images of `targets` (every target when empty) once per test binary: the
/// tests of a file run on parallel threads and share them. An unchanged app is not rebuilt.
pub fn build_images_once(targets: &[&str]) {
    static BUILT: Mutex<bool> = Mutex::new(false);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if *built {
        return;
    }
    let started = Instant::now();
    let output = faceoff()
        .args(["images", "build", "-q"])
        .args(targets)
        .output()
        .expect("faceoff runs");
    assert!(
        output.status.success(),
        "images build failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("images built in {:.0?}", started.elapsed());
    *built = true;
}

/// Containers carrying `label` (`key=value`), running or not.
pub async fn containers_with(label: &str) -> Vec<String> {
    let docker = faceoff::runtime::docker::connect().await.expect("engine");
    let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    docker
        .list_containers(Some(options))
        .await
        .expect("list containers")
        .into_iter()
        .filter_map(|c| c.id)
        .collect()
}

/// Containers faceoff created for the run `run_id`, running or not.
pub async fn containers_of_run(run_id: &str) -> Vec<String> {
    containers_with(&format!("faceoff.run={run_id}")).await
}

/// The one run directory faceoff wrote under `out`.
pub fn run_dir_in(out: &Path) -> Option<PathBuf> {
    Some(std::fs::read_dir(out).ok()?.flatten().next()?.path())
}
