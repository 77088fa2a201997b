//! The one trial loop HTTP and chat runs share: prepare every target, then for each trial
//! measure each target in the seeded order (see [`crate::schedule`]), recording each
//! outcome and rewriting the results file after every step. What differs between the two
//! (how one trial is measured, the services it needs) is a [`Trials`] implementation.

use std::path::Path;

use crate::config::{Fixtures, Target};
use crate::results::{
    self, ChatTrial, RunResults, RunStatus, TargetStatus, TargetVerification, TrialResult,
    VerifyStatus,
};
use crate::runtime::{Prepared, Runtime};
use crate::ui::Ui;

use super::{empty_result, now_rfc3339, prepare_all};

/// What a run's trials have in common, whatever they measure.
#[derive(Debug, Clone)]
pub struct Schedule<'a> {
    pub targets: &'a [Target],
    pub trials: u32,
    /// Seed of the trial order.
    pub seed: u64,
    pub results_path: &'a Path,
    /// Whether targets are checked against the contract before they are measured.
    pub verify: bool,
}

/// One trial's figures, of whichever kind the run measures.
#[derive(Debug, Clone)]
pub enum Measured {
    Http(Box<TrialResult>),
    Chat(Box<ChatTrial>),
}

/// What one trial of one target produced.
#[derive(Debug)]
pub struct Outcome {
    /// The figures and the runtime version, or why the target failed (one line).
    pub measured: Result<(Measured, Option<String>), String>,
    /// The contract check, on the trial that ran it.
    pub verification: Option<TargetVerification>,
    /// A service that stopped during the trial: the run ends there.
    pub service_died: Option<String>,
}

/// How a run measures its trials.
#[allow(async_fn_in_trait)]
pub trait Trials {
    /// What every trial shares, prepared once before the first (the services' images).
    type Shared;

    fn schedule(&self) -> Schedule<'_>;

    /// Prepares what the trials share; an error fails every target with that line.
    async fn prepare_shared(
        &self,
        results: &mut RunResults,
        ui: Ui,
    ) -> Result<Self::Shared, String>;

    /// Starts `prepared`, measures trial `trial` and stops it again.
    async fn trial<R: Runtime>(
        &self,
        runtime: &R,
        prepared: &Prepared,
        shared: &Self::Shared,
        trial: u32,
        ui: Ui,
    ) -> Outcome;

    /// Called after every target has had trial `trial`, for measurements that span targets
    /// (duet rounds). Writes into `results` as it goes.
    async fn after_round<R: Runtime>(
        &self,
        _runtime: &R,
        _prepared: &[Prepared],
        _shared: &Self::Shared,
        _trial: u32,
        _results: &mut RunResults,
        _ui: Ui,
    ) -> Result<(), results::WriteError> {
        Ok(())
    }
}

/// Runs every trial of `trials`, recording into `results` and rewriting the results file
/// after each target and trial. Target failures are recorded, not returned: the run goes on
/// with the other targets. Returns an error only when results cannot be written.
pub async fn execute<R: Runtime, T: Trials>(
    runtime: &R,
    fixtures: &Fixtures,
    trials: &T,
    results: &mut RunResults,
    ui: Ui,
) -> Result<(), results::WriteError> {
    let schedule = trials.schedule();
    let path = schedule.results_path;
    crate::engine::forget_stalled();
    let shared = match trials.prepare_shared(results, ui).await {
        Ok(shared) => shared,
        Err(err) => {
            // Without what the trials share no target can be measured: each says why.
            for target in schedule.targets {
                let entry = results.target_mut(&empty_result(target, fixtures));
                entry.status = TargetStatus::Failed;
                entry.error = Some(err.clone());
            }
            results.status = RunStatus::Failed;
            results.finished_at = Some(now_rfc3339());
            return results::write(path, results);
        }
    };
    let prepared = prepare_all(runtime, fixtures, schedule.targets, results, path, ui).await?;
    notice_other_runs(runtime, results, ui).await;

    let mut ended_early: Option<String> = None;
    'trials: for trial in 1..=schedule.trials {
        // Shuffled from the seed, rotated each trial (ABC, BCA, CAB…): no target always
        // goes first, and the order is recorded and replayable.
        for index in crate::schedule::trial_order(schedule.targets.len(), schedule.seed, trial) {
            let wanted = &schedule.targets[index].name;
            let Some(ready) = prepared.iter().find(|p| &p.target.name == wanted) else {
                continue;
            };
            let name = &ready.target.name;
            if results.has_failed(name) {
                continue;
            }
            ui.step(&format!("[trial {trial}/{}] {name}", schedule.trials));
            let outcome = trials.trial(runtime, ready, &shared, trial, ui).await;
            let entry = results.target_mut(&empty_result(&ready.target, fixtures));
            record(
                entry,
                outcome.verification,
                outcome.measured,
                schedule.verify,
                ui,
            );
            // A service that stopped mid-trial (the database killed) fails this target, its
            // trial kept with the errors it counted, and ends the run.
            if let Some(died) = outcome.service_died {
                ui.step(&format!("  {name} failed: {died}"));
                entry.status = TargetStatus::Failed;
                entry.error = Some(match entry.error.take() {
                    Some(own) => format!("{died}; the target's own error: {own}"),
                    None => died,
                });
                ended_early = Some(format!(
                    "not measured: the run ended when a service of {name}'s trial {trial} stopped"
                ));
                results::write(path, results)?;
                break 'trials;
            }
            // An engine that left a call unanswered would make every later target wait out
            // the limit too: the run ends here, with what it measured.
            if let Some(stalled) = crate::engine::stalled() {
                if entry.status != TargetStatus::Failed {
                    ui.step(&format!("  {name} failed: {stalled}"));
                    entry.status = TargetStatus::Failed;
                    entry.error = Some(stalled);
                }
                ended_early = Some(
                    "not measured: the run ended when the Docker engine stopped answering".into(),
                );
                results::write(path, results)?;
                break 'trials;
            }
            notice_other_runs(runtime, results, ui).await;
            results::write(path, results)?;
        }
        let alive: Vec<Prepared> = prepared
            .iter()
            .filter(|p| !results.has_failed(&p.target.name))
            .cloned()
            .collect();
        trials
            .after_round(runtime, &alive, &shared, trial, results, ui)
            .await?;
    }
    if let Some(reason) = ended_early {
        for target in schedule.targets {
            let entry = results.target_mut(&empty_result(target, fixtures));
            if entry.status == TargetStatus::Ok
                && entry.trials.len().max(entry.chat_trials.len()) < schedule.trials as usize
            {
                entry.status = TargetStatus::Failed;
                entry.error = Some(reason.clone());
            }
        }
    }
    results.status = if results
        .targets
        .iter()
        .any(|t| t.status == TargetStatus::Failed)
    {
        RunStatus::Failed
    } else {
        RunStatus::Complete
    };
    results.finished_at = Some(now_rfc3339());
    results::write(path, results)
}

/// Looks for other faceoff runs measuring now, on this host's CPUs or on the engine, and
/// records and warns about each one not seen before: they share the CPUs with this run's
/// servers and generator, so every figure of both runs is lower than either alone.
async fn notice_other_runs<R: Runtime>(runtime: &R, results: &mut RunResults, ui: Ui) {
    let mut cpus =
        crate::runtime::parse_cpuset(&results.parameters.limits.cpuset).unwrap_or_default();
    cpus.extend(&results.parameters.generator_cpus);
    let mut seen = crate::runtime::peers::on_this_host(&results.run_id, &cpus);
    seen.extend(runtime.other_runs(&results.run_id).await);
    for peer in seen {
        if results
            .concurrent_runs
            .iter()
            .any(|known| known.run_id == peer.run_id)
        {
            continue;
        }
        ui.warn(&format!(
            "another faceoff is measuring at the same time: {}; both runs share these CPUs, so their figures are lower than either alone (recorded in results.json): run again once it has finished",
            peer.describe()
        ));
        results.concurrent_runs.push(peer);
    }
}

/// Records one trial's outcome in its target's entry.
fn record(
    entry: &mut results::TargetResult,
    verification: Option<TargetVerification>,
    measured: Result<(Measured, Option<String>), String>,
    verify: bool,
    ui: Ui,
) {
    if let Some(checked) = verification {
        entry.verify = if checked.passed {
            VerifyStatus::Passed
        } else {
            VerifyStatus::Failed
        };
        entry.verify_failures = checked.failure_lines();
        entry.verify_cases = checked.cases;
    } else if !verify {
        entry.verify = VerifyStatus::Skipped;
    }
    match measured {
        Ok((measured, version)) => {
            if entry.runtime_version.is_none() {
                entry.runtime_version = version;
            }
            match measured {
                Measured::Http(trial) => entry.trials.push(*trial),
                Measured::Chat(trial) => entry.chat_trials.push(*trial),
            }
        }
        Err(err) => {
            ui.step(&format!("  {} failed: {err}", entry.target));
            entry.status = TargetStatus::Failed;
            entry.error = Some(err);
        }
    }
}
