//! `faceoff clean`: removes what runs left behind.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::CleanArgs;
use crate::config::Fixtures;
use crate::images::{self, BuildOptions};
use crate::runtime::docker::{self, DockerRuntime};
use crate::runtime::local::{LocalRuntime, cache_dir};
use crate::runtime::owner::Liveness;
use crate::runtime::{Runtime, RuntimeKind};

pub async fn clean(fixtures: &Fixtures, kind: RuntimeKind, args: &CleanArgs) -> Result<ExitCode> {
    let run = args.run.as_deref();
    match kind {
        RuntimeKind::Docker => {
            let docker = docker::connect().await?;
            let options = BuildOptions {
                ca_bundle: None,
                base: images::BaseChoice::Offline,
                force: false,
                mirror: None,
            };
            let runtime = DockerRuntime::new(docker.clone(), fixtures.clone(), options);
            let removed = match run {
                Some(_) => runtime.clean(run).await?,
                None => {
                    let runs = docker::runs_on_engine(&docker).await?;
                    let (remove, spare) = docker::runs_to_remove(runs, args.force);
                    for spared in &spare {
                        println!("{}", spared_line(spared));
                    }
                    let mut removed = 0;
                    for run in &remove {
                        removed += docker::remove_containers(&docker, &run.ids).await?;
                    }
                    removed
                }
            };
            println!("removed {removed} container(s)");
            if args.images {
                let removed = images::remove_app_images(&docker).await?;
                println!("removed {removed} app image(s)");
            }
        }
        RuntimeKind::Local => {
            let runtime = LocalRuntime::new(fixtures.clone(), cache_dir());
            let removed = runtime.clean(run).await?;
            println!("stopped {removed} process(es)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Why a run's containers were left in place, and how to remove them anyway.
fn spared_line(run: &docker::RunContainers) -> String {
    let why = match &run.liveness {
        Liveness::Alive => "its faceoff is still running".to_string(),
        Liveness::Unknown(why) | Liveness::Dead(why) => {
            format!("{why}, so cannot tell whether its faceoff still runs")
        }
    };
    format!(
        "spared run {}: {} container(s), {why} (`faceoff clean --run {}` or --force to remove them)",
        run.run_id,
        run.ids.len(),
        run.run_id
    )
}

/// What runs whose faceoff is gone left on the engine, as lines that say how to remove it;
/// empty when nothing was left (or the engine cannot be listed).
pub async fn leftover_lines(docker: &bollard::Docker) -> Vec<String> {
    let Ok(runs) = docker::runs_on_engine(docker).await else {
        return Vec::new();
    };
    runs.iter()
        .filter_map(|run| match &run.liveness {
            Liveness::Dead(why) => Some(format!(
                "run {} left {} container(s) ({why}): `faceoff clean` removes them",
                run.run_id,
                run.ids.len()
            )),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use crate::commands::test_support::*;

    #[tokio::test]
    async fn cleaning_a_run_that_left_nothing_removes_nothing() {
        let Command::Clean(args) = command(&["clean", "--run", "no-such-run"]) else {
            unreachable!()
        };
        let code = clean(&fixtures(), RuntimeKind::Local, &args).await.unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
    }

    fn run(id: &str, liveness: Liveness) -> docker::RunContainers {
        docker::RunContainers {
            run_id: id.into(),
            ids: vec![format!("{id}-container")],
            liveness,
        }
    }

    #[test]
    fn clean_spares_runs_whose_faceoff_lives_unless_forced() {
        let runs = vec![
            run("alive", Liveness::Alive),
            run("dead", Liveness::Dead("faceoff process 7 is gone".into())),
            run(
                "elsewhere",
                Liveness::Unknown("started from host ci-7".into()),
            ),
        ];
        let (remove, spare) = docker::runs_to_remove(runs.clone(), false);
        assert_eq!(
            remove.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
            ["dead"]
        );
        assert_eq!(spare.len(), 2);
        let line = spared_line(&spare[0]);
        assert!(
            line.contains("still running") && line.contains("--force"),
            "{line}"
        );
        let (remove, spare) = docker::runs_to_remove(runs, true);
        assert_eq!((remove.len(), spare.len()), (3, 0));
    }
}
