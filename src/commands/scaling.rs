//! `faceoff run --profile scaling`: the same targets at server cpusets of 1, 2, 4 … CPUs,
//! as far as the host allows with the generator on CPUs of its own. Each step is an
//! ordinary run (verified, interleaved trials, its own results.json under `cpus-N/`); this
//! command lays the steps out, checks each for a generator that set the pace, and writes
//! `scaling.json` and `scaling.html` with the curve, the fitted model and the projections.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::RunArgs;
use crate::config::{Fixtures, Profile, Workload};
use crate::results::scaling::{self as record, ScalingRecord, ScalingStep};
use crate::results::{RunResults, RunStatus, TargetResult};
use crate::run::scaling::{cpuset_text, layout};
use crate::run::{self, Ui};
use crate::runtime::docker;
use crate::runtime::{self as rt, Runtime};
use crate::stats;

use super::EXIT_INTERRUPTED;
use super::run::{Placement, measure};

pub async fn run<R: Runtime>(
    runtime: &R,
    fixtures: &Fixtures,
    args: &RunArgs,
    profile: &Profile,
    workload: &Workload,
    engine: Option<docker::EngineInfo>,
    ui: Ui,
) -> Result<ExitCode> {
    // The targets and their workload first: a refusal names its reason before any step.
    fixtures.select_targets_for(&args.targets, workload)?;
    let generator = args
        .generator_cpus
        .as_deref()
        .map(rt::parse_cpuset)
        .transpose()?;
    let layout = layout(
        &profile.name,
        rt::host_cpu_count(),
        &profile.steps,
        generator,
    )?;
    let run_id = run::new_run_id();
    let dir = args.out.join(&run_id);
    let targets: Vec<String> = fixtures
        .select_targets_for(&args.targets, workload)?
        .into_iter()
        .map(|t| t.name)
        .collect();
    let mut scaling = ScalingRecord {
        schema_version: crate::results::SCHEMA_VERSION,
        run_id: run_id.clone(),
        status: RunStatus::Running,
        started_at: run::now_rfc3339(),
        finished_at: None,
        workload: workload.name.clone(),
        targets,
        host_cpus: rt::host_cpu_count(),
        generator_cpus: layout.generator.clone(),
        steps_asked: profile.steps.clone(),
        steps_measured: layout.steps.iter().map(|s| s.0).collect(),
        steps_beyond_host: layout.beyond.clone(),
        steps: Vec::new(),
    };
    let path = dir.join("scaling.json");
    record::write(&path, &scaling)?;
    ui.step(&format!(
        "scaling run {run_id}: {}",
        crate::report::scaling::host_line(&scaling)
    ));
    for (cpus, set) in &layout.steps {
        let placement = Placement {
            cpuset: cpuset_text(set),
            generator_cpus: Some(cpuset_text(&layout.generator)),
            out: dir.join(format!("cpus-{cpus}")),
        };
        ui.step(&format!(
            "[scaling] {cpus} server CPU(s): cpuset {}, generator on {}",
            placement.cpuset,
            cpuset_text(&layout.generator)
        ));
        let (_, results) = measure(
            runtime,
            fixtures,
            args,
            profile,
            workload.clone(),
            &placement,
            engine.clone(),
            ui,
        )
        .await?;
        let Some(results) = results else {
            scaling.status = RunStatus::Interrupted;
            scaling.finished_at = Some(run::now_rfc3339());
            record::write(&path, &scaling)?;
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        };
        let results_path = std::path::Path::new(&format!("cpus-{cpus}"))
            .join(&results.run_id)
            .join("results.json");
        for target in &results.targets {
            scaling.steps.push(step_of(
                target,
                &results,
                *cpus,
                &placement.cpuset,
                &results_path,
            ));
        }
        record::write(&path, &scaling)?;
    }
    let complete = scaling.steps.iter().all(|s| s.requests_per_sec.is_some());
    scaling.status = if complete {
        RunStatus::Complete
    } else {
        RunStatus::Failed
    };
    scaling.finished_at = Some(run::now_rfc3339());
    record::write(&path, &scaling)?;
    let curves = crate::analysis::scaling::curves(&scaling);
    let html_path = dir.join("scaling.html");
    if let Err(err) = std::fs::write(
        &html_path,
        crate::report::scaling::page(&scaling, &curves).into_string(),
    ) {
        ui.warn(&format!("{} not written: {err}", html_path.display()));
    }
    for line in crate::report::scaling::lines(&scaling, &curves) {
        println!("{line}");
    }
    for warning in crate::report::scaling::warnings(&scaling) {
        ui.warn(&warning);
    }
    println!("scaling: {}", path.display());
    println!("report: {}", html_path.display());
    Ok(if complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One target's figures at one step, from that step's results.
fn step_of(
    target: &TargetResult,
    results: &RunResults,
    cpus: u32,
    cpuset: &str,
    results_path: &std::path::Path,
) -> ScalingStep {
    let trials = &target.trials;
    let of = |f: fn(&crate::results::TrialResult) -> f64| {
        let values: Vec<f64> = trials.iter().map(f).collect();
        stats::median(&values)
    };
    ScalingStep {
        target: target.target.clone(),
        server_cpus: cpus,
        cpuset: cpuset.to_string(),
        workers: target.workers,
        results: results_path.to_path_buf(),
        trials: trials.len() as u32,
        requests_per_sec: of(|t| t.requests_per_sec),
        server_cpu_percent: of(|t| t.resources.mean_cpu_percent),
        generator_cpu_percent: of(|t| t.generator_cpu_percent),
        generator_bound: generator_bound(target, cpus),
        error: target.error.clone().or_else(|| {
            trials
                .is_empty()
                .then(|| format!("no trial measured (run {})", results.run_id))
        }),
    }
}

/// The generator set the pace in most trials: saturated while the server had more than
/// half its cpuset to spare (the rule claims use, `claims::GENERATOR_SATURATED_PERCENT`).
fn generator_bound(target: &TargetResult, cpus: u32) -> bool {
    let capacity = 100.0 * f64::from(cpus);
    let starved = target
        .trials
        .iter()
        .filter(|t| {
            !t.resources.samples.is_empty()
                && t.generator_cpu_percent >= crate::claims::GENERATOR_SATURATED_PERCENT
                && t.resources.mean_cpu_percent < crate::claims::SERVER_SPARE_FRACTION * capacity
        })
        .count();
    !target.trials.is_empty() && starved * 2 > target.trials.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_whose_generator_was_saturated_while_the_server_idled_is_generator_bound() {
        let mut results = crate::analysis::test_support::fixture_results();
        let target = &mut results.targets[0];
        assert!(!target.trials.is_empty());
        for trial in &mut target.trials {
            trial.generator_cpu_percent = 97.0;
            trial.resources.mean_cpu_percent = 60.0;
            if trial.resources.samples.is_empty() {
                trial.resources.samples.push(crate::sample::Sample {
                    t_ms: 0,
                    cpu_percent: 60.0,
                    memory_bytes: 1,
                });
            }
        }
        assert!(
            generator_bound(target, 2),
            "60% of 2 CPUs is spare capacity"
        );
        for trial in &mut target.trials {
            trial.resources.mean_cpu_percent = 190.0;
        }
        assert!(!generator_bound(target, 2), "a busy server set the pace");
    }
}
