//! `faceoff up`: one target in the foreground until Ctrl-C, for poking with curl, with the
//! services its workload and the target itself need (started and stopped as `run` does).

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::cli::UpArgs;
use crate::config::Fixtures;
use crate::run::{self, Ui};
use crate::runtime::services::{self as topology, RunningServices};
use crate::runtime::{self as rt, Instance, LaunchSpec, Limits, Runtime};

use super::{EXIT_INTERRUPTED, shutdown_signal};

pub async fn up<R: Runtime>(
    runtime: &R,
    fixtures: &Fixtures,
    args: &UpArgs,
    ui: Ui,
) -> Result<ExitCode> {
    let mut target = fixtures.target(&args.target)?.clone();
    let workload = match &args.workload {
        Some(name) => {
            let workload = fixtures.workload(name)?.clone();
            // A target that does not serve the workload is refused with those that do.
            fixtures.select_targets_for(std::slice::from_ref(&target.name), &workload)?;
            Some(workload)
        }
        None => None,
    };
    let port = match args.port {
        Some(port) => {
            rt::ensure_port_free(port)?;
            port
        }
        None => rt::pick_free_port()?,
    };
    let limits = Limits {
        cpuset: args.limits.cpuset.clone(),
        memory_bytes: args.limits.memory,
    };
    let server_cpus = rt::parse_cpuset(&limits.cpuset)?;
    target.resolve_workers(server_cpus.len(), args.limits.workers);
    let catalog = topology::Catalog::load(&fixtures.root)?;
    let workload_services = match &workload {
        Some(workload) => catalog.for_workload(workload)?,
        None => Vec::new(),
    };
    let services =
        catalog.with_target_services(workload_services, std::slice::from_ref(&target))?;
    let label = workload
        .as_ref()
        .map_or(target.name.as_str(), |w| w.name.as_str());
    let launcher = super::services_launcher(
        &services,
        runtime.kind(),
        label,
        fixtures,
        (&args.build, &args.services),
        &limits,
    )
    .await?;
    let run_id = format!("up-{}", run::new_run_id());
    let progress = |line: &str| ui.step(&format!("  {line}"));
    let prepared = tokio::select! {
        prepared = runtime.prepare(&target, &progress) => prepared?,
        _ = shutdown_signal() => return Ok(ExitCode::from(EXIT_INTERRUPTED)),
    };
    let running = match &launcher {
        Some(launcher) => {
            let started = async {
                let prepared = launcher.prepare(&services, &progress).await?;
                launcher
                    .start(&prepared, &run_id, args.limits.ready_timeout)
                    .await
            };
            tokio::select! {
                started = started => Some(started?),
                // Services half started carry the run's label.
                _ = shutdown_signal() => {
                    let _ = runtime.clean(Some(&run_id)).await;
                    return Ok(ExitCode::from(EXIT_INTERRUPTED));
                }
            }
        }
        None => None,
    };
    let env = running
        .as_ref()
        .map(RunningServices::env)
        .unwrap_or_default();
    let spec = LaunchSpec {
        run_id: &run_id,
        port,
        limits: &limits,
        env: &env,
    };
    let instance = match runtime.start(&prepared, &spec).await {
        Ok(instance) => instance,
        Err(err) => {
            stop_services(running).await;
            return Err(err.into());
        }
    };
    let ready = tokio::select! {
        ready = rt::wait_ready(&instance, &target.name, &limits, args.limits.ready_timeout) => ready,
        _ = shutdown_signal() => {
            instance.stop().await?;
            stop_services(running).await;
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
    };
    if let Err(err) = ready {
        instance.stop().await?;
        stop_services(running).await;
        return Err(err.into());
    }
    println!(
        "{} listening on http://{}:{port} ({} {}, cpuset {}{}); Ctrl-C to stop",
        target.name,
        rt::engines::target_host(),
        runtime.kind().label(),
        instance.id(),
        limits.cpuset,
        target
            .workers
            .map(|n| format!(", {n} worker(s)"))
            .unwrap_or_default()
    );
    for service in running.iter().flat_map(RunningServices::services) {
        println!(
            "  with {} at {} ({} in the target's environment)",
            service.service.name, service.url, service.service.env
        );
    }
    // Wait for Ctrl-C, or for the target to stop on its own.
    let exited = loop {
        tokio::select! {
            _ = shutdown_signal() => break None,
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {
                if let Some(exited) = instance.exited().await? {
                    break Some(exited);
                }
            }
        }
    };
    let logs = instance.logs_tail(rt::LOG_TAIL_LINES).await;
    instance.stop().await?;
    stop_services(running).await;
    match exited {
        None => {
            eprintln!("stopped {}", target.name);
            Ok(ExitCode::SUCCESS)
        }
        Some(exited) if exited.oom_killed => Err(rt::RuntimeError::OomKilled {
            target: target.name.clone(),
            limit_mib: limits.memory_bytes / (1024 * 1024),
            logs,
        }
        .into()),
        Some(exited) => bail!(
            "{} exited with code {}; last log lines: {logs}",
            target.name,
            exited.code
        ),
    }
}

/// Stops the services `up` started; a service that cannot be stopped is named with the fix.
async fn stop_services(running: Option<RunningServices>) {
    if let Some(running) = running
        && let Err(err) = running.stop().await
    {
        eprintln!("warning: {err}; remove what is left with `faceoff clean`");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use crate::commands::test_support::*;

    #[tokio::test]
    async fn services_on_the_local_runtime_are_refused_with_the_fix() {
        let fixtures = fixtures();
        let Command::Up(args) = command(&["up", "fastapi", "--workload", "db"]) else {
            unreachable!()
        };
        let runtime =
            crate::runtime::local::LocalRuntime::new(fixtures.clone(), std::env::temp_dir());
        let err = up(&runtime, &fixtures, &args, Ui { quiet: true })
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--runtime docker") && err.contains("postgres"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_workload_the_target_does_not_serve_is_refused_with_those_that_do() {
        let fixtures = fixtures();
        let Command::Up(args) = command(&["up", "fastapi-hybrid", "--workload", "db"]) else {
            unreachable!()
        };
        let runtime =
            crate::runtime::local::LocalRuntime::new(fixtures.clone(), std::env::temp_dir());
        let err = up(&runtime, &fixtures, &args, Ui { quiet: true })
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not serve workload `db`"), "{err}");
    }
}
