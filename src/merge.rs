//! Joining results files written by separate jobs (one target each, as a CI matrix runs
//! them) into one file, refusing to mix hosts or parameters unless told to, and saying so in
//! the merged file when told to.
//!
//! Pure: results in, results out. Reading and writing files is the caller's job.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::results::{
    Difference, MergeRecord, MergedSource, RunResults, RunStatus, SourceDifference,
};

/// Parameters that differ between jobs by design: each job runs its own targets, in its
/// own order.
const PARAMETERS_PER_JOB: &[&str] = &["targets", "seed", "schedule"];

/// Manifest entries that may differ between identical hosts: where the engine was reached,
/// where the checkout lies (its fixtures' content is compared by hash),
/// the memory the kernel reports (varies by a few MiB between identical VMs), the command
/// line, and base images (each job builds its own; their ids are kept per target).
const MANIFEST_PER_JOB: &[&str] = &[
    "base_images",
    "command_line",
    "engine.endpoint",
    "engine.memory_bytes",
    // Where each role's engine was reached and its memory, as for the targets' engine.
    "engines.targets.engine.endpoint",
    "engines.targets.engine.memory_bytes",
    "engines.services.engine.endpoint",
    "engines.services.engine.memory_bytes",
    "fixtures_root",
    "host.memory_bytes",
];

/// The differences in host, engine, faceoff version, fixtures and parameters between two
/// results files that matter when their figures are put side by side.
pub fn differences(first: &RunResults, other: &RunResults) -> Vec<Difference> {
    let mut found = Vec::new();
    if first.schema_version != other.schema_version {
        found.push(Difference {
            field: "schema_version".into(),
            first: first.schema_version.to_string(),
            other: other.schema_version.to_string(),
        });
    }
    diff_values(
        "parameters",
        &to_json(&first.parameters),
        &to_json(&other.parameters),
        PARAMETERS_PER_JOB,
        &mut found,
    );
    diff_values(
        "manifest",
        &to_json(&first.manifest),
        &to_json(&other.manifest),
        MANIFEST_PER_JOB,
        &mut found,
    );
    found
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Walks two JSON trees side by side; objects are descended into (so a difference names the
/// exact field, e.g. one fixture file), anything else is compared whole. `skip` holds paths
/// relative to `prefix`.
fn diff_values(prefix: &str, a: &Value, b: &Value, skip: &[&str], found: &mut Vec<Difference>) {
    let relative = |path: &str| {
        path.strip_prefix(prefix)
            .and_then(|p| p.strip_prefix('.'))
            .unwrap_or("")
            .to_string()
    };
    fn walk(
        path: String,
        a: &Value,
        b: &Value,
        skipped: &dyn Fn(&str) -> bool,
        found: &mut Vec<Difference>,
    ) {
        if skipped(&path) {
            return;
        }
        match (a, b) {
            (Value::Object(a), Value::Object(b)) => {
                let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
                keys.sort();
                keys.dedup();
                for key in keys {
                    let null = Value::Null;
                    walk(
                        format!("{path}.{key}"),
                        a.get(key).unwrap_or(&null),
                        b.get(key).unwrap_or(&null),
                        skipped,
                        found,
                    );
                }
            }
            _ if a != b => found.push(Difference {
                field: path,
                first: a.to_string(),
                other: b.to_string(),
            }),
            _ => {}
        }
    }
    let skipped = |path: &str| skip.contains(&relative(path).as_str());
    walk(prefix.to_string(), a, b, &skipped, found);
}

/// One input of a merge.
#[derive(Debug, Clone)]
pub struct Source {
    /// How the user named it (the file path), for messages.
    pub label: String,
    pub results: RunResults,
}

/// Why files could not be merged.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    #[error("nothing to merge: give the results files of two or more jobs")]
    TooFew,
    #[error(
        "{file} is still running (status `running`): wait for its job to finish, or leave it out"
    )]
    StillRunning { file: String },
    #[error("target `{target}` is in both {first} and {other}: give each target's results once")]
    DuplicateTarget {
        target: String,
        first: String,
        other: String,
    },
    #[error(
        "{other} differs from {first} in {difference}{more}: merge files from one host and one set of parameters, or pass --allow-mixed (recorded in the merged file)"
    )]
    Mixed {
        first: String,
        other: String,
        difference: Box<Difference>,
        more: String,
    },
}

/// Joins `sources` into one results file named `run_id`.
pub fn merge(
    sources: &[Source],
    run_id: &str,
    allow_mixed: bool,
) -> Result<RunResults, MergeError> {
    let [head, rest @ ..] = sources else {
        return Err(MergeError::TooFew);
    };
    if rest.is_empty() {
        return Err(MergeError::TooFew);
    }
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for source in sources {
        if source.results.status == RunStatus::Running {
            return Err(MergeError::StillRunning {
                file: source.label.clone(),
            });
        }
        for target in &source.results.targets {
            if let Some(first) = owner.insert(&target.target, &source.label) {
                return Err(MergeError::DuplicateTarget {
                    target: target.target.clone(),
                    first: first.to_string(),
                    other: source.label.clone(),
                });
            }
        }
    }

    let mut recorded = Vec::new();
    for source in rest {
        let found = differences(&head.results, &source.results);
        if !allow_mixed && let Some(difference) = found.first() {
            return Err(MergeError::Mixed {
                first: head.label.clone(),
                other: source.label.clone(),
                difference: Box::new(difference.clone()),
                more: match found.len() {
                    1 => String::new(),
                    n => format!(" and {} more field(s)", n - 1),
                },
            });
        }
        recorded.extend(found.into_iter().map(|difference| SourceDifference {
            file: source.label.clone(),
            difference,
        }));
    }

    let mut merged = head.results.clone();
    merged.run_id = run_id.to_string();
    merged.status = merged_status(sources);
    merged.started_at = sources
        .iter()
        .map(|s| s.results.started_at.clone())
        .min()
        .unwrap_or_default();
    merged.finished_at = sources
        .iter()
        .filter_map(|s| s.results.finished_at.clone())
        .max();
    merged.targets = sources
        .iter()
        .flat_map(|s| s.results.targets.iter().cloned())
        .collect();
    merged.parameters.targets = sources
        .iter()
        .flat_map(|s| s.results.parameters.targets.iter().cloned())
        .collect();
    // Each job's duets stay paired within the job; no pair spans two jobs.
    merged.duets = sources
        .iter()
        .flat_map(|s| s.results.duets.iter().cloned())
        .collect();
    // The jobs ran side by side, not in one interleaved order: there is no one schedule.
    merged.parameters.schedule = Vec::new();
    let seeds: Vec<Option<u64>> = sources.iter().map(|s| s.results.parameters.seed).collect();
    if seeds.iter().any(|s| *s != seeds[0]) {
        merged.parameters.seed = None;
    }

    let mut notes = Vec::new();
    for source in rest {
        for (image, id) in &source.results.manifest.base_images {
            match merged.manifest.base_images.get(image) {
                Some(known) if known != id && !id.is_empty() && !known.is_empty() => {
                    notes.push(format!(
                        "base image {image} has id {known} in {} and {id} in {}: each job built its own",
                        head.label, source.label
                    ));
                }
                Some(known) if !known.is_empty() => {}
                _ => {
                    merged
                        .manifest
                        .base_images
                        .insert(image.clone(), id.clone());
                }
            }
        }
    }
    merged.merge = Some(MergeRecord {
        sources: sources
            .iter()
            .map(|s| MergedSource {
                file: s.label.clone(),
                run_id: s.results.run_id.clone(),
                targets: s.results.targets.iter().map(|t| t.target.clone()).collect(),
                seed: s.results.parameters.seed,
                started_at: s.results.started_at.clone(),
                finished_at: s.results.finished_at.clone(),
            })
            .collect(),
        allow_mixed,
        differences: recorded,
        notes,
    });
    Ok(merged)
}

/// A warning for a file merged with `--allow-mixed` from differing hosts or parameters, so
/// whatever reads it can say so; `None` for any other file.
pub fn mixed_warning(results: &RunResults, label: &str) -> Option<String> {
    let record = results.merge.as_ref()?;
    if !record.allow_mixed || record.differences.is_empty() {
        return None;
    }
    let fields: Vec<&str> = record
        .differences
        .iter()
        .map(|d| d.difference.field.as_str())
        .collect();
    Some(format!(
        "{label} was merged with --allow-mixed from files that differ in {}: its targets were not measured under the same conditions",
        fields.join(", ")
    ))
}

/// The worst status among the sources: interrupted, then failed, else complete.
fn merged_status(sources: &[Source]) -> RunStatus {
    let statuses: Vec<RunStatus> = sources.iter().map(|s| s.results.status).collect();
    if statuses.contains(&RunStatus::Interrupted) {
        RunStatus::Interrupted
    } else if statuses.contains(&RunStatus::Failed) {
        RunStatus::Failed
    } else {
        RunStatus::Complete
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::results::{TargetResult, TargetStatus, VerifyStatus};

    /// A complete one-target results file, as one CI job writes it.
    pub(crate) fn job(target: &str, seed: u64) -> RunResults {
        let mut results: RunResults = serde_json::from_str(
            r#"{
            "schema_version": 1, "run_id": "r", "status": "complete",
            "started_at": "2026-11-30T08:00:00Z", "finished_at": "2026-11-30T08:01:00Z",
            "parameters": {"workload": "status", "profile": "closed-50", "max_requests": null,
                "method": "GET", "path": "/status", "body": null, "verified": true,
                "runtime": "docker", "targets": [], "trials": 2, "connections": 16,
                "duration_s": 3.0, "warmup_s": 1.0, "request_timeout_s": 5.0,
                "ready_timeout_s": 60.0, "sample_interval_ms": 250,
                "limits": {"cpuset": "1", "memory_bytes": 1073741824},
                "memory_limit_enforced": true, "generator_cpus": [0], "generator_threads": 1},
            "manifest": {"faceoff_version": "0.1.0", "git_commit": "abc", "git_dirty": false,
                "host": {"cpu_model": "AMD EPYC 7B13", "cpus": 2, "memory_bytes": 100,
                    "kernel": "6.1.0", "os": "Debian"},
                "engine": null, "fixtures_sha256": {"claims.toml": "h1"},
                "base_images": {"faceoff/base-node:24": "sha256:n1"}},
            "targets": []
        }"#,
        )
        .unwrap();
        results.run_id = format!("run-{target}");
        results.parameters.targets = vec![target.to_string()];
        results.parameters.seed = Some(seed);
        results.parameters.schedule = vec![vec![target.to_string()]; 2];
        results.targets.push(TargetResult {
            target: target.into(),
            language: "node".into(),
            framework: target.into(),
            framework_version: Some("5.0.0".into()),
            server: "node".into(),
            runtime_version: None,
            lockfile_sha256: None,
            image: None,
            status: TargetStatus::Ok,
            verify: VerifyStatus::Passed,
            verify_failures: Vec::new(),
            verify_cases: Vec::new(),
            error: None,
            trials: Vec::new(),
            chat_trials: Vec::new(),
            workers: None,
            variant: None,
        });
        results
    }

    fn sources(files: Vec<RunResults>) -> Vec<Source> {
        files
            .into_iter()
            .enumerate()
            .map(|(i, results)| Source {
                label: format!("job{i}.json"),
                results,
            })
            .collect()
    }

    #[test]
    fn jobs_from_one_host_join_in_order_with_their_provenance() {
        let mut b = job("fastapi", 2);
        b.started_at = "2026-11-30T07:59:00Z".into();
        b.finished_at = Some("2026-11-30T08:05:00Z".into());
        b.manifest.host.memory_bytes = 101;
        let merged = merge(&sources(vec![job("express", 1), b]), "m", false).unwrap();
        let names: Vec<&str> = merged.targets.iter().map(|t| t.target.as_str()).collect();
        assert_eq!(names, ["express", "fastapi"]);
        assert_eq!(merged.parameters.targets, ["express", "fastapi"]);
        assert_eq!(merged.run_id, "m");
        assert_eq!(merged.status, RunStatus::Complete);
        assert_eq!(merged.started_at, "2026-11-30T07:59:00Z");
        assert_eq!(merged.finished_at.as_deref(), Some("2026-11-30T08:05:00Z"));
        assert_eq!(merged.parameters.seed, None, "two seeds: no one seed");
        assert!(merged.parameters.schedule.is_empty());
        let record = merged.merge.unwrap();
        assert!(!record.allow_mixed && record.differences.is_empty());
        assert_eq!(record.sources[1].run_id, "run-fastapi");
        assert_eq!(record.sources[1].seed, Some(2));
    }

    #[test]
    fn a_different_cpu_model_is_refused_naming_the_field_and_the_flag() {
        let mut b = job("fastapi", 1);
        b.manifest.host.cpu_model = "Intel Xeon".into();
        let err = merge(&sources(vec![job("express", 1), b]), "m", false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("manifest.host.cpu_model"), "{err}");
        assert!(
            err.contains("Intel Xeon") && err.contains("AMD EPYC"),
            "{err}"
        );
        assert!(
            err.contains("job1.json") && err.contains("--allow-mixed"),
            "{err}"
        );
        assert!(!err.contains('\n'), "one line: {err}");
    }

    #[test]
    fn a_different_layout_is_a_different_parameter_but_another_endpoint_is_not() {
        use crate::runtime::engines::{Layout, Role, RoleHost};
        let layout = |targets: &str| Layout {
            targets: targets.into(),
            services: "targets' engine".into(),
            target_address: "10.0.0.11".into(),
            services_address: "127.0.0.1".into(),
        };
        let host = |endpoint: &str, cpus: i64| RoleHost {
            role: Role::Targets,
            engine: crate::runtime::docker::EngineInfo {
                endpoint: endpoint.into(),
                version: "20.10.24".into(),
                api_version: "1.41".into(),
                os: "Debian".into(),
                kernel: "6.1".into(),
                cgroup_version: "1".into(),
                cgroup_driver: "cgroupfs".into(),
                cpus,
                memory_bytes: 1,
            },
            hostname: "app1".into(),
            address: "10.0.0.11".into(),
            sampling: "engine stats API".into(),
        };
        let laid_out = |targets: &str, endpoint: &str, cpus: i64| {
            let mut r = job("express", 1);
            r.parameters.layout = Some(layout(targets));
            r.manifest
                .engines
                .insert("targets".into(), host(endpoint, cpus));
            r
        };
        let a = laid_out("own host", "tcp://10.0.0.11:2376", 8);
        let same = laid_out("own host", "tcp://10.0.0.21:2376", 8);
        assert_eq!(differences(&a, &same), vec![], "only the endpoint differs");
        let found = differences(&a, &laid_out("generator host", "tcp://10.0.0.11:2376", 8));
        assert_eq!(found[0].field, "parameters.layout.targets");
        let found = differences(&a, &laid_out("own host", "tcp://10.0.0.11:2376", 16));
        assert_eq!(found[0].field, "manifest.engines.targets.engine.cpus");
        let mut single = job("express", 1);
        single.parameters.layout = None;
        assert_eq!(differences(&a, &single)[0].field, "parameters.layout");
    }

    #[test]
    fn differing_parameters_are_refused() {
        for change in [
            |r: &mut RunResults| r.parameters.duration_s = 10.0,
            |r: &mut RunResults| r.parameters.limits.cpuset = "1-2".into(),
            |r: &mut RunResults| r.parameters.profile = "closed-100".into(),
            |r: &mut RunResults| r.manifest.faceoff_version = "0.2.0".into(),
            |r: &mut RunResults| r.manifest.host.kernel = "6.12".into(),
            |r: &mut RunResults| r.manifest.host.cpus = 4,
        ] {
            let mut b = job("fastapi", 1);
            change(&mut b);
            let err = merge(&sources(vec![job("express", 1), b]), "m", false).unwrap_err();
            assert!(matches!(err, MergeError::Mixed { .. }), "{err}");
        }
    }

    #[test]
    fn a_changed_fixture_is_named_by_file() {
        let mut b = job("fastapi", 1);
        b.manifest
            .fixtures_sha256
            .insert("claims.toml".into(), "h2".into());
        let found = differences(&job("express", 1), &b);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].field, "manifest.fixtures_sha256.claims.toml");
    }

    #[test]
    fn allow_mixed_merges_and_records_every_difference() {
        let mut b = job("fastapi", 1);
        b.manifest.host.cpu_model = "Intel Xeon".into();
        b.parameters.connections = 64;
        let merged = merge(&sources(vec![job("express", 1), b]), "m", true).unwrap();
        let record = merged.merge.unwrap();
        assert!(record.allow_mixed);
        let fields: Vec<&str> = record
            .differences
            .iter()
            .map(|d| d.difference.field.as_str())
            .collect();
        assert_eq!(
            fields,
            ["parameters.connections", "manifest.host.cpu_model"]
        );
        assert!(record.differences.iter().all(|d| d.file == "job1.json"));
        assert_eq!(merged.parameters.connections, 16, "the first file's");
    }

    #[test]
    fn a_mixed_merge_is_flagged_to_readers_and_a_clean_one_is_not() {
        let mut b = job("fastapi", 1);
        b.parameters.connections = 64;
        let clean = merge(
            &sources(vec![job("express", 1), job("fastapi", 1)]),
            "m",
            true,
        )
        .unwrap();
        assert_eq!(mixed_warning(&clean, "m.json"), None);
        let mixed = merge(&sources(vec![job("express", 1), b]), "m", true).unwrap();
        let warning = mixed_warning(&mixed, "m.json").unwrap();
        assert!(warning.contains("parameters.connections"), "{warning}");
        assert_eq!(mixed_warning(&job("express", 1), "x"), None);
    }

    #[test]
    fn the_same_target_twice_is_refused() {
        let err = merge(
            &sources(vec![job("express", 1), job("express", 1)]),
            "m",
            false,
        )
        .unwrap_err();
        assert!(
            matches!(&err, MergeError::DuplicateTarget { target, .. } if target == "express"),
            "{err}"
        );
    }

    #[test]
    fn one_file_or_a_running_one_cannot_be_merged() {
        assert_eq!(
            merge(&sources(vec![job("express", 1)]), "m", false).unwrap_err(),
            MergeError::TooFew
        );
        let mut b = job("fastapi", 1);
        b.status = RunStatus::Running;
        let err = merge(&sources(vec![job("express", 1), b]), "m", false).unwrap_err();
        assert!(matches!(err, MergeError::StillRunning { .. }), "{err}");
    }

    #[test]
    fn a_failed_job_makes_the_merged_run_failed_and_keeps_its_error() {
        let mut b = job("fastapi", 1);
        b.status = RunStatus::Failed;
        b.targets[0].status = TargetStatus::Failed;
        b.targets[0].error = Some("boom".into());
        let merged = merge(&sources(vec![job("express", 1), b]), "m", false).unwrap();
        assert_eq!(merged.status, RunStatus::Failed);
        assert_eq!(merged.targets[1].error.as_deref(), Some("boom"));
    }

    #[test]
    fn base_images_built_per_job_are_noted_not_refused() {
        let mut b = job("fastapi", 1);
        b.manifest
            .base_images
            .insert("faceoff/base-node:24".into(), "sha256:n2".into());
        b.manifest
            .base_images
            .insert("faceoff/base-python:3.13".into(), "sha256:p1".into());
        let merged = merge(&sources(vec![job("express", 1), b]), "m", false).unwrap();
        assert_eq!(merged.manifest.base_images.len(), 2);
        let record = merged.merge.unwrap();
        assert_eq!(record.notes.len(), 1, "{:?}", record.notes);
        assert!(record.notes[0].contains("sha256:n2"));
    }
}
