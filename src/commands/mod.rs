//! The edge: one handler per subcommand, each turning parsed arguments into calls of the
//! library and its outcome into output and an exit code. [`dispatch`] picks the handler.

pub mod audit;
pub mod calibrate;
mod chat_run;
pub mod claims;
pub mod clean;
pub mod compare;
pub mod doctor;
pub mod images;
pub mod list;
pub mod load;
pub mod matrix;
pub mod merge;
pub mod report;
pub mod reproduce;
pub mod run;
mod scaling;
pub mod up;
pub mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::cli::ImagesCommand;
use crate::cli::{BuildArgs, Cli, Command};
use crate::config::Fixtures;
use crate::images::BuildOptions;
use crate::run::Ui;
use crate::runtime::RuntimeKind;
use crate::runtime::docker::{self, DockerRuntime};
use crate::runtime::local::{LocalRuntime, cache_dir};

use crate::images::HOST_CA_BUNDLE;

/// Exit code for a run stopped by Ctrl-C (128 + SIGINT), as shells report it.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Exit code when SIGTERM ended the command at once (128 + SIGTERM).
pub const EXIT_TERMINATED: u8 = 143;

/// Exit code of `compare` and `audit` when they could not do their job at all, so CI can
/// tell "figures got worse" (1) from "could not tell" (2).
pub const EXIT_ERROR: u8 = 2;

/// Exit code of `compare` and `audit` when nothing failed but some figure could not be told
/// from noise: apart from errors (2), so CI can choose to retry or warn rather than fail.
pub const EXIT_INCONCLUSIVE: u8 = 3;

/// A gate's answer as the exit code CI acts on.
pub fn gate_exit(gate: crate::compare::Gate) -> ExitCode {
    match gate {
        crate::compare::Gate::Passed => ExitCode::SUCCESS,
        crate::compare::Gate::Failed => ExitCode::FAILURE,
        crate::compare::Gate::Inconclusive => ExitCode::from(EXIT_INCONCLUSIVE),
    }
}

/// The runtime the user picked, built once: a command generic over [`crate::runtime::Runtime`]
/// runs on it through [`with_runtime!`].
pub enum Selected {
    Docker(DockerRuntime),
    Local(LocalRuntime),
}

impl Selected {
    pub async fn new(kind: RuntimeKind, fixtures: &Fixtures, build: &BuildArgs) -> Result<Self> {
        Ok(match kind {
            RuntimeKind::Docker => Selected::Docker(docker_runtime(fixtures, build).await?),
            RuntimeKind::Local => Selected::Local(LocalRuntime::new(fixtures.clone(), cache_dir())),
        })
    }

    /// What the engine says about itself, for the manifest (none for local processes).
    pub async fn engine(&self) -> Option<docker::EngineInfo> {
        match self {
            Selected::Docker(runtime) => docker::engine_info(runtime.docker()).await.ok(),
            Selected::Local(_) => None,
        }
    }
}

/// Runs `$body` with `$runtime` bound to the selected runtime, whichever it is.
macro_rules! with_runtime {
    ($selected:expr, $runtime:ident => $body:expr) => {
        match $selected {
            Selected::Docker($runtime) => $body,
            Selected::Local($runtime) => $body,
        }
    };
}
pub(crate) use with_runtime;

pub async fn dispatch(cli: Cli) -> Result<ExitCode> {
    crate::engine::set_call_timeout(cli.engine_timeout);
    configure_engines(&cli.engines)?;
    // Commands on results files alone work anywhere, without a checkout.
    match &cli.command {
        Command::Merge(args) => return merge::merge_command(args),
        Command::Compare(args) => return compare::compare_command(args),
        _ => {}
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let root = Fixtures::find_root(cli.root.as_deref(), &cwd)?;
    let fixtures = Fixtures::load_found(&root)?;
    let ui = Ui { quiet: cli.quiet };
    if root.origin == crate::config::RootOrigin::BuiltFrom {
        // Not this checkout's: say whose, before anything is built or measured from it.
        ui.warn(&format!(
            "using the fixtures in {root}; pass --root DIR to choose"
        ));
    }
    match cli.command {
        Command::Doctor => doctor::doctor(&fixtures, cli.runtime).await,
        Command::List => list::list(&fixtures),
        Command::Images(ImagesCommand::Build(args)) => {
            let docker = docker::connect().await?;
            let options = build_options(&args.build)?;
            let runtime = DockerRuntime::new(docker, fixtures.clone(), options);
            let targets = fixtures.select_targets(&args.targets)?;
            images::images_build(&runtime, &targets, ui).await
        }
        Command::Up(args) => {
            let selected = Selected::new(cli.runtime, &fixtures, &args.build).await?;
            with_runtime!(selected, runtime => up::up(&runtime, &fixtures, &args, ui).await)
        }
        Command::Run(args) => {
            let selected = Selected::new(cli.runtime, &fixtures, &args.build).await?;
            if let Selected::Docker(runtime) = &selected {
                // Containers of dead runs take CPU and memory from the one about to be timed.
                for line in clean::leftover_lines(runtime.docker()).await {
                    ui.warn(&line);
                }
            }
            let engine = selected.engine().await;
            with_runtime!(selected, runtime => run::run_command(&runtime, &fixtures, &args, engine, ui).await)
        }
        Command::Verify(args) => {
            let selected = Selected::new(cli.runtime, &fixtures, &args.build).await?;
            with_runtime!(selected, runtime => verify::verify_command(&runtime, &fixtures, &args, ui).await)
        }
        Command::Claims(args) if args.reproducing() => {
            reproduce::reproduce_command(&fixtures, cli.runtime, &args, ui).await
        }
        Command::Claims(args) => claims::claims(&fixtures, &args),
        Command::Report(args) => report::report_command(&fixtures, &args),
        Command::Load(args) => load::load_command(&args).await,
        Command::Calibrate(args) => calibrate::calibrate_command(&args).await,
        Command::Clean(args) => clean::clean(&fixtures, cli.runtime, &args).await,
        Command::Matrix(args) => matrix::matrix_command(&fixtures, &args),
        Command::Audit(args) => audit::audit_command(&fixtures, &args, ui).await,
        Command::Merge(_) | Command::Compare(_) => unreachable!("dispatched above"),
    }
}

/// Parses the engine flags and sets them for this process. A flag naming an engine that
/// cannot even be tried (an unknown scheme, ssh://, missing certificates) is refused here,
/// before anything is built or started.
pub fn configure_engines(args: &crate::cli::EngineArgs) -> Result<()> {
    use crate::runtime::engines::{self, Engines, Role};
    let env = |name: &str| std::env::var(name).ok();
    let targets = match &args.target_engine {
        Some(given) => engines::parse(
            Role::Targets,
            Some(given),
            args.target_engine_certs.as_deref(),
            &env,
        )?,
        None => None,
    };
    let services = engines::parse(
        Role::Services,
        args.services_engine.as_deref(),
        args.services_engine_certs.as_deref(),
        &env,
    )?;
    engines::configure(Engines {
        targets,
        services,
        target_address: args.target_address,
        services_address: args.services_address,
    });
    Ok(())
}

/// Whether `err` says an engine could not be reached or used: `main` exits 2 for it, as
/// for any "could not even start" error CI should tell from a failed measurement.
pub fn is_engine_unavailable(err: &anyhow::Error) -> bool {
    use crate::runtime::RuntimeError;
    use crate::runtime::services::TopologyError;
    let unavailable = |err: &RuntimeError| {
        matches!(
            err,
            RuntimeError::NoEngine { .. } | RuntimeError::EngineSetup(_)
        )
    };
    err.downcast_ref::<crate::runtime::engines::EngineSetupError>()
        .is_some()
        || err.downcast_ref::<RuntimeError>().is_some_and(unavailable)
        || matches!(
            err.downcast_ref::<TopologyError>(),
            Some(TopologyError::Runtime(inner)) if unavailable(inner)
        )
}

/// A results file given as itself or as its run directory.
pub fn results_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("results.json")
    } else {
        path.to_path_buf()
    }
}

pub async fn docker_runtime(fixtures: &Fixtures, build: &BuildArgs) -> Result<DockerRuntime> {
    let docker = docker::connect().await?;
    Ok(DockerRuntime::new(
        docker,
        fixtures.clone(),
        build_options(build)?,
    ))
}

pub fn build_options(args: &BuildArgs) -> Result<BuildOptions> {
    let ca_bundle = match args.ca_bundle.as_deref() {
        Some("none") => None,
        Some(path) => {
            let path = PathBuf::from(path);
            if !path.is_file() {
                bail!(
                    "--ca-bundle {}: no such file (pass a PEM bundle, or `none`)",
                    path.display()
                );
            }
            Some(path)
        }
        None => Some(PathBuf::from(HOST_CA_BUNDLE)).filter(|p| p.is_file()),
    };
    Ok(BuildOptions {
        ca_bundle,
        base: args.base,
        force: args.force,
        mirror: args.mirror.clone(),
    })
}

/// The launcher of `services` when there are any, with the limits the user gave the
/// database (`--db-cpuset`, `--db-memory`) and the targets' own for server-class services.
pub async fn services_launcher(
    services: &[crate::runtime::services::Service],
    kind: RuntimeKind,
    label: &str,
    fixtures: &Fixtures,
    args: (&BuildArgs, &crate::cli::ServiceLimitArgs),
    limits: &crate::runtime::Limits,
) -> Result<Option<crate::runtime::services::Launcher>> {
    use crate::runtime::services as topology;
    let (build, service_limits) = args;
    let database = topology::database_limits(
        service_limits.db_cpuset.as_deref(),
        service_limits.db_memory,
        limits,
    )?;
    Ok(topology::launcher_for(
        services,
        kind,
        label,
        fixtures,
        build_options(build)?,
        database,
        limits.clone(),
    )
    .await?)
}

/// A signal that should stop the work and clean up: Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(term) => { term.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

/// An error and its causes on one line, outermost first. Each error type says its own part
/// only, so nothing repeats.
pub fn error_line(err: &anyhow::Error) -> String {
    causes_line(err.as_ref())
}

/// A library error and its sources on one line.
pub fn causes_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::path::Path;

    use clap::Parser;

    use crate::cli::{Cli, Command};
    use crate::config::Fixtures;

    /// The subcommand `args` parse to, as a user would type them.
    pub fn command(args: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("faceoff").chain(args.iter().copied()))
            .expect("the arguments parse")
            .command
    }

    pub fn fixtures() -> Fixtures {
        Fixtures::load(Path::new(env!("CARGO_MANIFEST_DIR")))
            .expect("the repository's fixtures load")
    }

    pub const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/results-express-fastapi.json"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each error type says its own part; the chain adds the cause once. A message that
    /// also quoted its source would show the cause twice here.
    #[test]
    fn every_cause_prints_once() {
        let io = || std::io::Error::other("disk full");
        let errors: Vec<anyhow::Error> = vec![
            crate::results::WriteError {
                path: "r/results.json".into(),
                source: io(),
            }
            .into(),
            crate::config::ConfigError::Read {
                path: "fixtures/x.toml".into(),
                source: io(),
            }
            .into(),
            crate::runtime::RuntimeError::Io {
                context: "starting node".into(),
                cause: io(),
            }
            .into(),
            anyhow::Error::from(crate::runtime::RuntimeError::Io {
                context: "starting node".into(),
                cause: io(),
            })
            .context("up"),
        ];
        for err in &errors {
            let line = error_line(err);
            assert_eq!(line.matches("disk full").count(), 1, "{line}");
        }
    }
}
