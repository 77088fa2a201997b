//! End to end on a real Docker engine: the `cold-start` profile starts one target twice
//! without load, and each start's time to its first 200, its idle memory and the image's
//! size land in results.json and the reports.
//!
//! Needs a Docker engine; FACEOFF_SKIP_DOCKER_TESTS=1 skips it.

mod common;
use common::{build_images_once, containers_of_run, faceoff, run_dir_in, skip};

use faceoff::results::{self, RunStatus, TargetStatus};
use faceoff::runtime::StartClock;

#[tokio::test(flavor = "multi_thread")]
async fn cold_start_profile_records_each_start_and_the_footprint_in_results() {
    if skip() {
        return;
    }
    build_images_once(&["express"]);
    let out = tempfile::tempdir().unwrap();
    let output = faceoff()
        .args([
            "run",
            "--targets",
            "express",
            "--workload",
            "status",
            "--profile",
            "cold-start",
            "--trials",
            "2",
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("faceoff runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "run failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("cold start ms"), "{stdout}");

    let dir = run_dir_in(out.path()).expect("run directory written");
    let results = results::read(&dir.join("results.json")).expect("results.json parses");
    assert_eq!(results.status, RunStatus::Complete);
    let target = &results.targets[0];
    assert_eq!(target.status, TargetStatus::Ok, "{target:?}");
    let size = target.image.as_ref().and_then(|i| i.size_bytes);
    assert!(size.is_some_and(|s| s > 10 << 20), "image size {size:?}");
    assert_eq!(target.trials.len(), 2);
    for trial in &target.trials {
        assert!(trial.is_start_only(), "no load was sent: {trial:?}");
        let start = trial.startup.expect("start recorded");
        assert_eq!(start.from, StartClock::ContainerStart);
        let call = start.start_call_ms.expect("engine call timed");
        assert!(
            start.ready_ms > call && start.ready_ms < 30_000.0,
            "{start:?}"
        );
        let idle = start.idle_memory_bytes.expect("idle memory read");
        assert!(idle > 1 << 20, "{start:?}");
    }
    let markdown = std::fs::read_to_string(dir.join("report.md")).expect("report.md written");
    assert!(markdown.contains("## Cold start"), "{markdown}");
    assert!(containers_of_run(&results.run_id).await.is_empty());
}
