//! On a real Docker engine: which runs `faceoff clean` would remove, and what `doctor` says
//! about runs whose faceoff is gone. Containers are created (never started) with the labels
//! faceoff puts on its own; the test removes only those, by id, since other runs may share
//! the engine.
//!
//! Needs a Docker engine (`.ci/setup-host` starts one), and any image on it. Without an
//! engine these tests fail, unless FACEOFF_SKIP_DOCKER_TESTS=1 says to skip them.

mod common;
use common::{faceoff, skip};

use std::collections::HashMap;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, ListImagesOptionsBuilder};
use faceoff::runtime::docker::{self, LABEL_RUN};
use faceoff::runtime::owner::{Liveness, Owner};

/// Removes the test's containers however the test ends.
struct Created(Vec<String>);

impl Drop for Created {
    fn drop(&mut self) {
        for id in &self.0 {
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f", id])
                .output();
        }
    }
}

async fn create(docker: &bollard::Docker, image: &str, run_id: &str, owner: &Owner) -> String {
    let mut labels: HashMap<String, String> = owner.labels().into_iter().collect();
    labels.insert(LABEL_RUN.into(), run_id.into());
    let body = ContainerCreateBody {
        image: Some(image.into()),
        cmd: Some(vec!["true".into()]),
        labels: Some(labels),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default()
        .name(&format!("faceoff-{run_id}"))
        .build();
    docker
        .create_container(Some(options), body)
        .await
        .expect("create a container")
        .id
}

#[tokio::test]
async fn clean_spares_a_live_run_and_doctor_points_at_a_dead_one() {
    if skip() {
        return;
    }
    let docker = docker::connect().await.expect("engine");
    let images = docker
        .list_images(Some(ListImagesOptionsBuilder::default().build()))
        .await
        .expect("list images");
    let image = images
        .iter()
        .flat_map(|i| &i.repo_tags)
        .find(|tag| tag.as_str() != "<none>:<none>")
        .expect("an image on the engine (any: the container is never started)")
        .clone();

    let suffix = std::process::id();
    let (alive_run, dead_run) = (
        format!("clean-test-alive-{suffix}"),
        format!("clean-test-dead-{suffix}"),
    );
    let mut exited = std::process::Command::new("true").spawn().unwrap();
    let dead_owner = Owner {
        pid: exited.id(),
        start_ticks: faceoff::runtime::owner::start_ticks(exited.id()).unwrap_or(1),
        ..Owner::current().clone()
    };
    exited.wait().unwrap();
    let created = Created(vec![
        create(&docker, &image, &alive_run, Owner::current()).await,
        create(&docker, &image, &dead_run, &dead_owner).await,
    ]);

    let ours: Vec<_> = docker::runs_on_engine(&docker)
        .await
        .expect("list runs")
        .into_iter()
        .filter(|run| run.run_id == alive_run || run.run_id == dead_run)
        .collect();
    assert_eq!(ours.len(), 2, "{ours:?}");
    let (remove, spare) = docker::runs_to_remove(ours, false);
    assert_eq!(spare.len(), 1);
    assert_eq!(spare[0].run_id, alive_run);
    assert_eq!(spare[0].liveness, Liveness::Alive);
    assert_eq!(remove.len(), 1);
    assert_eq!(remove[0].run_id, dead_run);
    assert_eq!(remove[0].ids, created.0[1..]);

    let output = faceoff().arg("doctor").output().expect("doctor runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let dead_line = stdout
        .lines()
        .find(|line| line.contains(&dead_run))
        .unwrap_or_else(|| panic!("doctor names the dead run:\n{stdout}"));
    assert!(
        dead_line.contains("faceoff clean") && dead_line.contains("is gone"),
        "{dead_line}"
    );
    assert!(!stdout.contains(&alive_run), "{stdout}");
}
