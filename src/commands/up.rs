//! `faceoff up`: one target in the foreground until Ctrl-C, for poking with curl.

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::cli::UpArgs;
use crate::config::Fixtures;
use crate::run::{self, Ui};
use crate::runtime::{self as rt, Instance, LaunchSpec, Limits, Runtime};

use super::{EXIT_INTERRUPTED, shutdown_signal};

pub async fn up<R: Runtime>(
    runtime: &R,
    fixtures: &Fixtures,
    args: &UpArgs,
    ui: Ui,
) -> Result<ExitCode> {
    let target = fixtures.target(&args.target)?.clone();
    if !target.services.is_empty() {
        bail!(
            "{} runs with {}, which `up` does not start: use `faceoff run` or `faceoff verify`, or `faceoff up` a target without services",
            target.name,
            target.services.join(", ")
        );
    }
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
    rt::parse_cpuset(&limits.cpuset)?;
    let run_id = format!("up-{}", run::new_run_id());
    let progress = |line: &str| ui.step(&format!("  {line}"));
    let prepared = tokio::select! {
        prepared = runtime.prepare(&target, &progress) => prepared?,
        _ = shutdown_signal() => return Ok(ExitCode::from(EXIT_INTERRUPTED)),
    };
    let spec = LaunchSpec {
        run_id: &run_id,
        port,
        limits: &limits,
        env: &[],
    };
    let instance = runtime.start(&prepared, &spec).await?;
    let ready = tokio::select! {
        ready = rt::wait_ready(&instance, &target.name, &limits, args.limits.ready_timeout) => ready,
        _ = shutdown_signal() => {
            instance.stop().await?;
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
    };
    if let Err(err) = ready {
        instance.stop().await?;
        return Err(err.into());
    }
    println!(
        "{} listening on http://{}:{port} ({} {}, cpuset {}); Ctrl-C to stop",
        target.name,
        rt::HOST,
        runtime.kind().label(),
        instance.id(),
        limits.cpuset
    );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use crate::commands::test_support::*;

    #[tokio::test]
    async fn a_target_that_needs_services_is_refused_with_what_to_use_instead() {
        let fixtures = fixtures();
        let Command::Up(args) = command(&["up", "fastapi-hybrid"]) else {
            unreachable!()
        };
        let runtime =
            crate::runtime::local::LocalRuntime::new(fixtures.clone(), std::env::temp_dir());
        let err = up(&runtime, &fixtures, &args, Ui { quiet: true })
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("faceoff run") && err.contains("realtime"),
            "{err}"
        );
    }
}
