//! The report of a reproduction: every claim's verdict on the runs that finished, the claims
//! that cannot be judged here and why, as `claims.md` and `claims.json` in the reproduction
//! directory. A partial reproduction (interrupted, or with runs still to do) says so.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::state::{Progress, RunState, State};
use super::{Host, Options, SkipKind, show_duration};
use crate::claims::{Claim, Claims, Verdict};
use crate::report::text::{ours_or_why, theirs_text};
use crate::results::RunResults;
use crate::stats::Bootstrap;

/// The Markdown report's name in the reproduction directory.
pub const MARKDOWN_FILE: &str = "claims.md";
/// The JSON report's name in the reproduction directory.
pub const JSON_FILE: &str = "claims.json";

/// Verdict labels in the order the report shows them.
const ORDER: [&str; 5] = [
    "reproduced",
    "direction-only",
    "contradicted",
    "inconclusive",
    "not-run",
];

/// How a capacity projection's text begins (see [`crate::claims::CapacityProjection`]).
const PROJECTION: &str = "projection, not a verdict";

/// Every claim's verdict on `runs` (the finished runs of `state`, in plan order). A claim
/// with no figures says why in the reproduction's terms: the reason the plan left it out,
/// or that its run has not completed yet.
pub fn judge<'c>(
    claims: &'c Claims,
    state: &State,
    dir: &Path,
    runs: &[RunResults],
    bootstrap: &Bootstrap,
) -> Vec<(&'c Claim, Verdict)> {
    claims
        .verdicts(runs, bootstrap)
        .into_iter()
        .map(|(claim, verdict)| {
            let Verdict::NotRun { why, theirs } = verdict else {
                return (claim, verdict);
            };
            let why = if let Some(skipped) = state.plan.skipped_entry(&claim.id) {
                // A capacity projection from the runs that did happen still informs it.
                match why.find(PROJECTION) {
                    Some(at) => format!("{}; {}", skipped.why, &why[at..]),
                    None => skipped.why.clone(),
                }
            } else if let Some(run) = state.plan.run_of(&claim.id)
                && let Some(state) = state.runs.iter().find(|r| r.key == run.key)
                && state.status != Progress::Complete
                // A failed run's own results say best why its claims have no figures.
                && (state.status != Progress::Failed || state.results.is_none())
            {
                let what = match state.status {
                    Progress::Pending => "has not run yet",
                    Progress::Running => "was killed mid-way",
                    Progress::Interrupted => "was interrupted",
                    _ => "failed",
                };
                format!(
                    "its run {} {what}{}: `faceoff claims --resume {}` redoes it",
                    run.key,
                    state
                        .error
                        .as_deref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default(),
                    dir.display()
                )
            } else {
                why
            };
            (claim, Verdict::NotRun { why, theirs })
        })
        .collect()
}

/// Verdict counts in report order: `3 reproduced, 1 contradicted, 20 not-run`.
pub fn counts(verdicts: &[(&Claim, Verdict)]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, verdict) in verdicts {
        *counts.entry(verdict.label()).or_default() += 1;
    }
    ORDER
        .iter()
        .filter_map(|label| counts.get(label).map(|n| format!("{n} {label}")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The one-line verdict summary printed at the end.
pub fn summary_line(verdicts: &[(&Claim, Verdict)], state: &State, dir: &Path) -> String {
    let cannot = state
        .plan
        .skipped
        .iter()
        .filter(|s| s.kind != SkipKind::Excluded)
        .count();
    let done = state.runs.len() - state.to_do(dir).len();
    let kind = if state.plan.options.quick {
        "quick reproduction"
    } else {
        "reproduction"
    };
    let progress = if done == state.runs.len() {
        format!("all {} runs complete", state.runs.len())
    } else {
        format!("PARTIAL: {done} of {} runs complete", state.runs.len())
    };
    format!(
        "{} claims: {} ({cannot} cannot be judged on this host or by faceoff yet); {kind}, {progress}",
        verdicts.len(),
        counts(verdicts),
    )
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn row(out: &mut String, cells: &[String]) {
    let _ = writeln!(
        out,
        "| {} |",
        cells
            .iter()
            .map(|c| cell(c))
            .collect::<Vec<_>>()
            .join(" | ")
    );
}

fn header(out: &mut String, names: &[&str]) {
    let _ = writeln!(out, "| {} |", names.join(" | "));
    let _ = writeln!(out, "|{}", names.iter().map(|_| "---|").collect::<String>());
}

/// `claims.md`: the verdicts grouped by outcome, with the numbers; the claims that cannot
/// be judged here, grouped by why; the runs and the host.
pub fn markdown(
    verdicts: &[(&Claim, Verdict)],
    state: &State,
    dir: &Path,
    bootstrap: &Bootstrap,
) -> String {
    let plan = &state.plan;
    let mut out = String::new();
    let done = state.runs.len() - state.to_do(dir).len();
    let complete = done == state.runs.len();
    let _ = writeln!(
        out,
        "# Claims, reproduced on this host\n\n{} in `{}`: {}.\n",
        if plan.options.quick {
            "Quick reproduction"
        } else {
            "Reproduction"
        },
        dir.display(),
        if complete {
            format!("all {} planned runs complete", state.runs.len())
        } else {
            format!(
                "**partial**: {done} of {} planned runs complete (resume with `faceoff claims --resume {}`)",
                state.runs.len(),
                dir.display()
            )
        }
    );
    if plan.options.quick {
        out.push_str(
            "**Quick**: fewer trials and shorter windows than the articles' profiles, and each language-level claim (Node.js against Python) judged on the pair of targets it names rather than on every Node × Python pair. Intervals are wider, so more verdicts are inconclusive; a quick verdict that is decided is decided. Run without `--quick` for the full figures and every pair.\n\n",
        );
    }
    let _ = writeln!(
        out,
        "{} claims: {}. The articles' absolute figures were measured on other hardware; a verdict rests on ratio and direction (bootstrap seed {}).\n",
        verdicts.len(),
        counts(verdicts),
        bootstrap.seed
    );

    let skipped_ids: Vec<&str> = plan.skipped.iter().map(|s| s.claim.as_str()).collect();
    for label in ORDER {
        let group: Vec<&(&Claim, Verdict)> = verdicts
            .iter()
            .filter(|(claim, v)| v.label() == label && !skipped_ids.contains(&claim.id.as_str()))
            .collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(out, "## {} ({})\n", heading(label), group.len());
        if label == "not-run" {
            header(
                &mut out,
                &["claim", "source", "theirs (other hardware)", "why"],
            );
            for (claim, verdict) in group {
                row(
                    &mut out,
                    &[
                        format!("`{}`", claim.id),
                        claim.source.clone(),
                        theirs_text(verdict.theirs()),
                        verdict.why().unwrap_or_default().to_string(),
                    ],
                );
            }
        } else {
            header(
                &mut out,
                &[
                    "claim",
                    "source",
                    "theirs (other hardware)",
                    "ours",
                    "evidence",
                    "run",
                ],
            );
            for (claim, verdict) in group {
                let evidence = verdict
                    .ours()
                    .map(|o| {
                        if o.reason.is_empty() {
                            o.evidence_text()
                        } else {
                            format!("{}; {}", o.evidence_text(), o.reason)
                        }
                    })
                    .unwrap_or_default();
                row(
                    &mut out,
                    &[
                        format!("`{}`", claim.id),
                        claim.source.clone(),
                        theirs_text(verdict.theirs()),
                        ours_or_why(verdict),
                        evidence,
                        plan.run_of(&claim.id)
                            .map(|r| format!("`{}`", r.key))
                            .unwrap_or_default(),
                    ],
                );
            }
        }
        out.push('\n');
    }

    if !plan.skipped.is_empty() {
        let _ = writeln!(out, "## Not judged here ({})\n", plan.skipped.len());
        for kind in [
            SkipKind::HostCannot,
            SkipKind::FaceoffCannot,
            SkipKind::Excluded,
        ] {
            let group: Vec<_> = plan.skipped.iter().filter(|s| s.kind == kind).collect();
            if group.is_empty() {
                continue;
            }
            let _ = writeln!(out, "### {} ({})\n", kind.title(), group.len());
            header(&mut out, &["claim", "why"]);
            for skipped in group {
                row(
                    &mut out,
                    &[format!("`{}`", skipped.claim), skipped.why.clone()],
                );
            }
            out.push('\n');
        }
    }

    let _ = writeln!(out, "## Runs\n");
    header(
        &mut out,
        &["run", "status", "targets", "trials", "results", "command"],
    );
    for (planned, run) in plan.runs.iter().zip(&state.runs) {
        let status = match &run.error {
            Some(error) => format!("{}: {error}", run.status.label()),
            None => run.status.label().to_string(),
        };
        row(
            &mut out,
            &[
                format!("`{}`", planned.key),
                status,
                planned.targets.join(", "),
                format!("{} × {}", planned.trials, show_duration(planned.duration_s)),
                run.results
                    .as_ref()
                    .map(|p| format!("`{}`", p.display()))
                    .unwrap_or_default(),
                format!("`{}`", planned.command_line()),
            ],
        );
    }
    let _ = writeln!(
        out,
        "\n## Host and options\n\n- {}\n- options: `{}`\n- planned: about {} of runs, images already built\n- state: `{}`",
        host_line(plan.host),
        plan.options.describe(),
        show_duration(plan.estimate_s()),
        super::state::STATE_FILE
    );
    out
}

fn heading(label: &str) -> &'static str {
    match label {
        "reproduced" => "Reproduced",
        "direction-only" => "Direction only",
        "contradicted" => "Contradicted",
        "inconclusive" => "Inconclusive",
        _ => "Not run",
    }
}

/// The host facts the plan rests on, in one line.
pub fn host_line(host: Host) -> String {
    let files = host
        .open_files
        .map(|n| format!("{n} open files"))
        .unwrap_or_else(|| "open-file limit unknown".into());
    format!(
        "host: {} CPUs (1 for the load generator, the rest for servers), {files}",
        host.cpus
    )
}

/// `claims.json`: the reproduction's progress, and every claim beside its verdict.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    pub reproduction: Summary<'a>,
    pub bootstrap: Bootstrap,
    /// The run ids the verdicts were judged on.
    pub runs: Vec<&'a str>,
    pub claims: Vec<Entry<'a>>,
}

/// Where the reproduction stands.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    pub dir: PathBuf,
    pub quick: bool,
    /// Every planned run complete.
    pub complete: bool,
    pub options: &'a Options,
    pub host: Host,
    pub estimate_s: f64,
    pub runs: Vec<RunEntry<'a>>,
}

/// One planned run and where it stands.
#[derive(Debug, Serialize)]
pub struct RunEntry<'a> {
    pub command: String,
    pub claims: &'a [String],
    #[serde(flatten)]
    pub state: &'a RunState,
}

/// One claim, its verdict, the run that judged it, or why none could.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    pub claim: &'a Claim,
    pub verdict: &'a Verdict,
    /// The planned run giving it figures.
    pub run: Option<&'a str>,
    /// Why it has no run, when the plan left it out.
    pub not_judged_here: Option<SkipKind>,
}

/// The JSON report of `verdicts`.
pub fn document<'a>(
    verdicts: &'a [(&'a Claim, Verdict)],
    state: &'a State,
    dir: &Path,
    runs: &'a [RunResults],
    bootstrap: Bootstrap,
) -> Document<'a> {
    let plan = &state.plan;
    Document {
        reproduction: Summary {
            dir: dir.to_path_buf(),
            quick: plan.options.quick,
            complete: state.all_complete(dir),
            options: &plan.options,
            host: plan.host,
            estimate_s: plan.estimate_s(),
            runs: plan
                .runs
                .iter()
                .zip(&state.runs)
                .map(|(planned, run)| RunEntry {
                    command: planned.command_line(),
                    claims: &planned.claims,
                    state: run,
                })
                .collect(),
        },
        bootstrap,
        runs: runs.iter().map(|r| r.run_id.as_str()).collect(),
        claims: verdicts
            .iter()
            .map(|(claim, verdict)| Entry {
                claim,
                verdict,
                run: plan.run_of(&claim.id).map(|r| r.key.as_str()),
                not_judged_here: plan.skipped_entry(&claim.id).map(|s| s.kind),
            })
            .collect(),
    }
}
