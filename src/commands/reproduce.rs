//! `faceoff claims --reproduce` (and `--resume DIR`, `--plan-only`): plans the runs that
//! judge every claim this host can judge, performs them one after another exactly as
//! `faceoff run` would, keeps `reproduce.json` up to date so a killed or interrupted
//! reproduction resumes where it stopped, and writes `claims.md` and `claims.json`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, ValueEnum};

use crate::claims::Claims;
use crate::cli::{BuildArgs, ClaimsArgs, Cli, Command, RunArgs};
use crate::config::Fixtures;
use crate::load::LoadError;
use crate::reproduce::report;
use crate::reproduce::state::{self, Progress, STATE_FILE, State};
use crate::reproduce::{self, Host, Options, show_duration};
use crate::results::{self, RunStatus};
use crate::run::Ui;
use crate::runtime::docker::EngineInfo;
use crate::runtime::{Runtime, RuntimeKind};
use crate::stats::Bootstrap;

use super::{EXIT_INTERRUPTED, Selected, error_line, shutdown_signal, with_runtime};

/// How long a run that was told to stop may take to clean up before it is abandoned (its
/// containers are then removed by run id).
const GRACE: Duration = Duration::from_secs(20);

/// The reproduction directory when `--out` is not given.
pub fn default_dir(quick: bool) -> PathBuf {
    PathBuf::from(if quick {
        "results/reproduce-quick"
    } else {
        "results/reproduce"
    })
}

pub async fn reproduce_command(
    fixtures: &Fixtures,
    kind: RuntimeKind,
    args: &ClaimsArgs,
    ui: Ui,
) -> Result<ExitCode> {
    let registry = Claims::load(&fixtures.root)?;
    let (dir, mut state, resumed) = open(fixtures, &registry, args)?;
    let lines = plan_lines(&state, &dir, resumed, args.plan_only);
    if args.plan_only {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&state)?);
        } else {
            lines.iter().for_each(|line| println!("{line}"));
        }
        return Ok(ExitCode::SUCCESS);
    }
    lines.iter().for_each(|line| ui.step(line));
    if state.plan.runs.is_empty() {
        bail!(
            "nothing to run: every claim asked for is left out ({}); `faceoff claims --reproduce --plan-only` says why",
            state.plan.skipped.len()
        );
    }
    let _lock = DirLock::take(&dir)?;
    state.write(&dir, &crate::run::now_rfc3339())?;
    let to_do = state.to_do(&dir);
    let mut interrupted = false;
    if !to_do.is_empty() {
        let selected = Selected::new(kind, fixtures, &args.build).await?;
        let engine = selected.engine().await;
        interrupted = with_runtime!(&selected, runtime => perform(runtime, engine, fixtures, &dir, &mut state, &to_do, &args.build, ui).await)?;
    }
    finish(&registry, &state, &dir, args, interrupted)
}

/// The reproduction to work on: the one `--resume` names, the one in `--out` when it holds
/// the same plan, or a new one. Refuses a directory holding another plan.
fn open(
    fixtures: &Fixtures,
    registry: &Claims,
    args: &ClaimsArgs,
) -> Result<(PathBuf, State, bool)> {
    if let Some(dir) = &args.resume {
        let state = State::read(dir)?.ok_or_else(|| {
            anyhow!(
                "{}: no reproduction to resume (no {STATE_FILE}); start one with `faceoff claims --reproduce --out {}`",
                dir.display(),
                dir.display()
            )
        })?;
        return Ok((dir.clone(), state, true));
    }
    let options = Options {
        quick: args.quick,
        targets: args.targets.clone(),
        only: args.only.clone(),
        workloads: args.workload.clone(),
        trials: args.trials,
        duration_s: args.duration.map(|d| d.as_secs_f64()),
        warmup_s: args.warmup.map(|d| d.as_secs_f64()),
    };
    let plan = reproduce::plan(registry, fixtures, host_facts(registry), &options)?;
    let dir = args.out.clone().unwrap_or_else(|| default_dir(args.quick));
    match State::read(&dir)? {
        Some(mut existing) => {
            let differences = existing.plan.differences(&plan);
            if !differences.is_empty() {
                bail!(
                    "{} holds a reproduction planned differently ({}): resume that one with `faceoff claims --resume {}`, or choose another --out",
                    dir.display(),
                    differences.join("; "),
                    dir.display()
                );
            }
            // The same runs; this faceoff's estimates of them.
            existing.plan = plan;
            Ok((dir, existing, true))
        }
        None => Ok((dir, State::new(plan, &crate::run::now_rfc3339()), false)),
    }
}

/// What this host has: its CPUs, and the files this process may open for the largest
/// capacity claim (raised as far as the host allows, as a capacity run would).
fn host_facts(registry: &Claims) -> Host {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let wanted = registry
        .claims
        .iter()
        .filter_map(reproduce::capacity_needed)
        .max();
    let open_files = wanted.and_then(|wanted| {
        match crate::load::ensure_fd_limit(usize::try_from(wanted).unwrap_or(usize::MAX)) {
            Ok(limit) => Some(limit),
            Err(LoadError::FdLimit { limit, .. }) => Some(limit),
            Err(_) => None,
        }
    });
    Host { cpus, open_files }
}

/// The plan as printed before anything runs: one line per run with its status on a
/// resumed reproduction, the claims left out and why, and the time it takes.
fn plan_lines(state: &State, dir: &Path, resumed: bool, commands: bool) -> Vec<String> {
    let plan = &state.plan;
    let to_do = state.to_do(dir);
    let covered: usize = plan.runs.iter().map(|r| r.claims.len()).sum();
    let mut lines = vec![format!(
        "{} {} in {}: {} run{} covering {} claim{}, about {} in all (images already built; building them first adds a few minutes)",
        if resumed {
            "Resuming the"
        } else {
            "Plan of the"
        },
        if plan.options.quick {
            "quick reproduction"
        } else {
            "reproduction"
        },
        dir.display(),
        plan.runs.len(),
        if plan.runs.len() == 1 { "" } else { "s" },
        covered,
        if covered == 1 { "" } else { "s" },
        show_duration(plan.estimate_s()),
    )];
    for (index, (planned, run)) in plan.runs.iter().zip(&state.runs).enumerate() {
        let status = if to_do.contains(&index) {
            match run.status {
                Progress::Pending => String::new(),
                Progress::Running => " [killed mid-way: redo]".into(),
                other => format!(" [{}: redo]", other.label()),
            }
        } else {
            " [complete: kept]".into()
        };
        lines.push(format!(
            "  [{}/{}] {}{status}",
            index + 1,
            plan.runs.len(),
            planned.summary()
        ));
        if commands {
            lines.push(format!("        {}", planned.command_line()));
        }
    }
    let cannot: Vec<_> = plan
        .skipped
        .iter()
        .filter(|s| s.kind != reproduce::SkipKind::Excluded)
        .collect();
    if !cannot.is_empty() {
        lines.push(format!("Not judged here ({} claims):", cannot.len()));
        for skipped in cannot {
            lines.push(format!(
                "  {} ({}): {}",
                skipped.claim,
                skipped.kind.heading(),
                skipped.why
            ));
        }
    }
    let excluded = plan
        .skipped
        .iter()
        .filter(|s| s.kind == reproduce::SkipKind::Excluded)
        .count();
    if excluded > 0 {
        lines.push(format!(
            "Left out by the options ({}): {excluded} claims",
            plan.options.describe()
        ));
    }
    lines.push(report::host_line(plan.host));
    if resumed {
        lines.push(format!(
            "To do: {} of {} runs, about {}",
            to_do.len(),
            plan.runs.len(),
            show_duration(state.remaining_estimate_s(dir))
        ));
    }
    lines
}

/// Performs the runs `to_do` in order, recording each in the state file as it starts and
/// ends. Returns whether Ctrl-C (or SIGTERM) stopped the reproduction.
#[allow(clippy::too_many_arguments)]
async fn perform<R: Runtime>(
    runtime: &R,
    engine: Option<EngineInfo>,
    fixtures: &Fixtures,
    dir: &Path,
    state: &mut State,
    to_do: &[usize],
    build: &BuildArgs,
    ui: Ui,
) -> Result<bool> {
    for (n, &index) in to_do.iter().enumerate() {
        let planned = state.plan.runs[index].clone();
        let out = dir.join(state::RUNS_DIR).join(&planned.key);
        let earlier = state::attempts_in(&out);
        remove_leftovers(runtime, &earlier, ui).await;
        let left: f64 = to_do[n..]
            .iter()
            .map(|&i| state.plan.runs[i].estimate_s)
            .sum();
        {
            let run = &mut state.runs[index];
            run.attempts = earlier.iter().map(|p| relative(dir, p)).collect();
            run.status = Progress::Running;
            run.results = None;
            run.error = None;
            run.started_at = Some(crate::run::now_rfc3339());
            run.finished_at = None;
        }
        state.write(dir, &crate::run::now_rfc3339())?;
        ui.step(&format!(
            "[reproduce {}/{}] {} ({} left)",
            n + 1,
            to_do.len(),
            planned.summary(),
            show_duration(left)
        ));
        let mut argv = planned.run_args(&out);
        argv.extend(build_flags(build, n == 0));
        let run_args = parse_run_args(&argv)?;
        let (outcome, interrupted) = run_one(
            runtime,
            fixtures,
            &run_args,
            engine.clone(),
            ui,
            &out,
            &earlier,
        )
        .await;
        let attempt = state::attempts_in(&out)
            .into_iter()
            .rev()
            .find(|p| !earlier.contains(p));
        let recorded = attempt.as_ref().and_then(|p| results::read(p).ok());
        let run = &mut state.runs[index];
        run.results = attempt.as_ref().map(|p| relative(dir, p));
        run.finished_at = Some(crate::run::now_rfc3339());
        run.status = match (&recorded, &outcome) {
            (Some(r), _) if r.status == RunStatus::Running => {
                if interrupted {
                    Progress::Interrupted
                } else {
                    Progress::Failed
                }
            }
            (Some(r), _) => Progress::of(r.status),
            (None, _) if interrupted => Progress::Interrupted,
            (None, _) => Progress::Failed,
        };
        match &outcome {
            Some(Err(err)) => {
                let line = error_line(err);
                eprintln!("error: run {}: {line}", planned.key);
                run.error = Some(line);
            }
            Some(Ok(_)) if recorded.is_none() => {
                run.error = Some("the run wrote no results file".into());
            }
            _ => {}
        }
        state.write(dir, &crate::run::now_rfc3339())?;
        if interrupted {
            if let Some(recorded) = &recorded {
                sweep_interrupted(runtime, &recorded.run_id).await;
            }
            return Ok(true);
        }
    }
    Ok(false)
}

/// How long after an interrupted run its containers are looked for once more.
const SWEEP_DELAY: Duration = Duration::from_millis(1500);

/// Removes what an interrupted run still has, a moment after it cleaned up: a container
/// whose creation was under way when the run stopped is created after the run's own clean
/// listed its containers, and would be left behind `Created`.
async fn sweep_interrupted<R: Runtime>(runtime: &R, run_id: &str) {
    tokio::time::sleep(SWEEP_DELAY).await;
    if let Ok(removed @ 1..) = runtime.clean(Some(run_id)).await {
        eprintln!(
            "removed {removed} more {} of the interrupted run {run_id}",
            runtime.kind().unit()
        );
    }
}

/// One run, as `faceoff run` with `args` would do it. Ctrl-C is the run's to handle (it
/// removes its containers and keeps its results); one that does not stop within [`GRACE`],
/// or a second Ctrl-C, abandons it and removes its containers here. Returns the run's
/// outcome (`None` when abandoned) and whether the reproduction was interrupted.
async fn run_one<R: Runtime>(
    runtime: &R,
    fixtures: &Fixtures,
    args: &RunArgs,
    engine: Option<EngineInfo>,
    ui: Ui,
    out: &Path,
    earlier: &[PathBuf],
) -> (Option<Result<ExitCode>>, bool) {
    let work = super::run::run_command(runtime, fixtures, args, engine, ui);
    tokio::pin!(work);
    tokio::select! {
        biased;
        outcome = &mut work => (Some(outcome), false),
        _ = shutdown_signal() => {
            let outcome = tokio::select! {
                biased;
                outcome = &mut work => Some(outcome),
                _ = tokio::time::sleep(GRACE) => None,
                _ = shutdown_signal() => None,
            };
            if outcome.is_none() {
                abandon(runtime, out, earlier).await;
            }
            (outcome, true)
        }
    }
}

/// Removes the containers of an attempt that was dropped before it could clean up, and
/// marks its results file interrupted.
async fn abandon<R: Runtime>(runtime: &R, out: &Path, earlier: &[PathBuf]) {
    let Some(path) = state::attempts_in(out)
        .into_iter()
        .rev()
        .find(|p| !earlier.contains(p))
    else {
        return;
    };
    let Ok(mut results) = results::read(&path) else {
        return;
    };
    let removed = runtime.clean(Some(&results.run_id)).await.unwrap_or(0);
    if results.status == RunStatus::Running {
        results.status = RunStatus::Interrupted;
        results.finished_at = Some(crate::run::now_rfc3339());
        let _ = results::write(&path, &results);
    }
    eprintln!(
        "interrupted: removed {removed} {} of run {}",
        runtime.kind().unit(),
        results.run_id
    );
}

/// Removes what earlier attempts killed mid-way (results still `running`) left running:
/// their containers, by run id, as `faceoff clean --run ID` would.
async fn remove_leftovers<R: Runtime>(runtime: &R, earlier: &[PathBuf], ui: Ui) {
    for path in earlier {
        let Ok(results) = results::read(path) else {
            continue;
        };
        if results.status != RunStatus::Running {
            continue;
        }
        match runtime.clean(Some(&results.run_id)).await {
            Ok(0) => {}
            Ok(removed) => ui.step(&format!(
                "removed {removed} {} left by the killed run {}",
                runtime.kind().unit(),
                results.run_id
            )),
            Err(err) => ui.warn(&format!(
                "could not remove what the killed run {} left: {err} (try `faceoff clean --run {}`)",
                results.run_id, results.run_id
            )),
        }
    }
}

/// The image-building flags of the reproduction, for one run; `--force` rebuilds for the
/// first run only (the images are then fresh).
fn build_flags(build: &BuildArgs, first: bool) -> Vec<String> {
    let mut flags = Vec::new();
    if let Some(bundle) = &build.ca_bundle {
        flags.extend(["--ca-bundle".to_string(), bundle.clone()]);
    }
    if let Some(base) = build.base.to_possible_value() {
        flags.extend(["--base".to_string(), base.get_name().to_string()]);
    }
    if let Some(mirror) = &build.mirror {
        flags.extend(["--mirror".to_string(), mirror.clone()]);
    }
    if build.force && first {
        flags.push("--force".into());
    }
    flags
}

/// `faceoff run`'s arguments parsed as the command line parses them, defaults included.
fn parse_run_args(argv: &[String]) -> Result<RunArgs> {
    let cli =
        Cli::try_parse_from(std::iter::once("faceoff".to_string()).chain(argv.iter().cloned()))
            .map_err(|err| {
                anyhow!(
                    "the planned run `faceoff {}` does not parse: {err}",
                    argv.join(" ")
                )
            })?;
    match cli.command {
        Command::Run(args) => Ok(*args),
        _ => bail!("the planned run `faceoff {}` is not a run", argv.join(" ")),
    }
}

fn relative(dir: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(dir).unwrap_or(path).to_path_buf()
}

/// Judges the claims on the runs that finished, writes claims.md and claims.json, prints
/// the claims table and a one-line summary, and gives the exit code: 130 interrupted, 1
/// when some run did not complete, else 0 (whatever the verdicts).
fn finish(
    registry: &Claims,
    state: &State,
    dir: &Path,
    args: &ClaimsArgs,
    interrupted: bool,
) -> Result<ExitCode> {
    let mut runs = Vec::new();
    for path in state.finished_results() {
        match results::read(&dir.join(path)) {
            Ok(run) => runs.push(run),
            Err(err) => eprintln!("warning: {}", error_line(&err)),
        }
    }
    let bootstrap = Bootstrap {
        seed: args.seed,
        ..Default::default()
    };
    let verdicts = report::judge(registry, state, dir, &runs, &bootstrap);
    let markdown = report::markdown(&verdicts, state, dir, &bootstrap);
    let document = report::document(&verdicts, state, dir, &runs, bootstrap);
    let json = serde_json::to_string_pretty(&document)?;
    let md_path = dir.join(report::MARKDOWN_FILE);
    let json_path = dir.join(report::JSON_FILE);
    std::fs::write(&md_path, &markdown)
        .with_context(|| format!("cannot write {}", md_path.display()))?;
    std::fs::write(&json_path, format!("{json}\n"))
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    if args.json {
        println!("{json}");
    } else {
        println!("{}", crate::console::claims_table(&verdicts));
    }
    println!("{}", report::summary_line(&verdicts, state, dir));
    println!("report: {}", md_path.display());
    if interrupted {
        eprintln!(
            "interrupted: the reproduction's state is kept; resume with `faceoff claims --resume {}`",
            dir.display()
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    if state.all_complete(dir) {
        Ok(ExitCode::SUCCESS)
    } else {
        let failed: Vec<&str> = state
            .runs
            .iter()
            .filter(|r| r.status != Progress::Complete)
            .map(|r| r.key.as_str())
            .collect();
        eprintln!(
            "error: {} run(s) did not complete ({}); `faceoff claims --resume {}` redoes them",
            failed.len(),
            failed.join(", "),
            dir.display()
        );
        Ok(ExitCode::FAILURE)
    }
}

/// An exclusive lock on the reproduction directory, held while runs are performed: a
/// second reproduction into the same directory is refused. The kernel drops it when the
/// process ends, however it ends, so a killed reproduction never leaves it behind.
struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    fn take(dir: &Path) -> Result<Self> {
        use std::os::fd::AsRawFd;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        // SAFETY: flock on a descriptor this function owns; no memory is passed.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if !locked {
            bail!(
                "another faceoff is reproducing into {} (it holds {}); wait for it or stop it",
                dir.display(),
                path.display()
            );
        }
        Ok(DirLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planned_run_parses_as_faceoff_run_with_its_defaults() {
        let argv: Vec<String> = [
            "run",
            "--workload",
            "status",
            "--profile",
            "closed-100",
            "--targets",
            "express,fastapi",
            "--trials",
            "3",
            "--duration",
            "1500ms",
            "--warmup",
            "1s",
            "--out",
            "/tmp/x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let args = parse_run_args(&argv).unwrap();
        assert_eq!(args.workload, "status");
        assert_eq!(args.targets, ["express", "fastapi"]);
        assert_eq!(args.trials, Some(3));
        assert_eq!(args.duration, Some(Duration::from_millis(1500)));
        assert_eq!(args.limits.cpuset, "1", "faceoff run's default cpuset");
        assert!(!args.no_duet, "duet rounds stay on by default");
    }

    #[test]
    fn the_build_flags_pass_through_and_force_rebuilds_once() {
        let build = BuildArgs {
            ca_bundle: Some("none".into()),
            base: crate::images::BaseChoice::Official,
            mirror: None,
            force: true,
        };
        assert_eq!(
            build_flags(&build, true),
            ["--ca-bundle", "none", "--base", "official", "--force"]
        );
        assert!(!build_flags(&build, false).contains(&"--force".to_string()));
    }

    #[test]
    fn a_second_reproduction_into_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::take(dir.path()).unwrap();
        let second = DirLock::take(dir.path()).err().expect("refused");
        assert!(second.to_string().contains("another faceoff"), "{second}");
        drop(first);
        DirLock::take(dir.path()).expect("free again once the first ends");
    }
}
