//! `faceoff clean`: removes what runs left behind.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::CleanArgs;
use crate::config::Fixtures;
use crate::images::{self, BuildOptions};
use crate::runtime::docker::{self, DockerRuntime};
use crate::runtime::local::{LocalRuntime, cache_dir};
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
            let removed = runtime.clean(run).await?;
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
}
