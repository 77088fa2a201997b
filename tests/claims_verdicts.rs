//! Verdicts on claims from plain per-trial figures and from results files.

use std::path::Path;

use faceoff::claims::{Claim, Claims, Verdict, judge};
use faceoff::config::LoadMode;
use faceoff::results::RunResults;
use faceoff::stats::Bootstrap;
use serde_json::json;

fn registry() -> Claims {
    Claims::load(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("fixtures/claims.toml loads")
}

fn claim(id: &str) -> Claim {
    registry()
        .get(id)
        .unwrap_or_else(|| panic!("no claim {id}"))
        .clone()
}

/// Five trials spread by about +-2% around `center`.
fn trials(center: f64) -> Vec<f64> {
    [1.0, 1.02, 0.98, 1.01, 0.99]
        .iter()
        .map(|f| f * center)
        .collect()
}

fn verdict(id: &str, a: &[f64], b: &[f64]) -> Verdict {
    judge(&claim(id), a, b, &Bootstrap::default())
}

const JSON_2_9X: &str = "003-fastify-52000-vs-fastapi-18000-json";

#[test]
fn fastify_three_times_fastapi_reproduces_a_2_9x_claim() {
    let v = verdict(JSON_2_9X, &trials(30_000.0), &trials(10_000.0));
    assert_eq!(v.label(), "reproduced", "{v:?}");
    let ours = v.ours().unwrap();
    assert!((ours.judged - 3.0).abs() < 1e-9);
    assert!(
        ours.judged_ci.low > 2.8 && ours.judged_ci.high < 3.2,
        "{ours:?}"
    );
}

#[test]
fn fastify_one_and_a_half_times_fastapi_is_direction_only_for_a_2_9x_claim() {
    let v = verdict(JSON_2_9X, &trials(15_000.0), &trials(10_000.0));
    assert_eq!(v.label(), "direction-only", "{v:?}");
}

#[test]
fn an_interval_straddling_the_bands_edge_is_inconclusive_and_names_the_edge() {
    // 2.89x: the band ends at 1 + 1.89 * 1.35 = 3.55; rounds from 3.3x to 4.5x straddle it.
    let v = verdict(
        JSON_2_9X,
        &[33_000.0, 38_000.0, 44_000.0, 36_000.0, 40_000.0],
        &trials(10_000.0),
    );
    assert_eq!(v.label(), "inconclusive", "{v:?}");
    let ours = v.ours().unwrap();
    assert!(ours.judged_ci.contains(3.55), "{ours:?}");
    assert!(
        ours.reason.contains("edge 3.55") && ours.reason.contains("would settle it"),
        "{}",
        ours.reason
    );
}

#[test]
fn fastapi_beating_fastify_contradicts_the_claim() {
    let v = verdict(JSON_2_9X, &trials(8_000.0), &trials(10_000.0));
    assert_eq!(v.label(), "contradicted", "{v:?}");
}

#[test]
fn overlapping_intervals_are_inconclusive() {
    let v = verdict(
        JSON_2_9X,
        &[10_400.0, 9_700.0, 10_100.0, 9_500.0, 10_600.0],
        &[10_000.0, 10_500.0, 9_600.0, 9_900.0, 10_300.0],
    );
    assert_eq!(v.label(), "inconclusive", "{v:?}");
    assert!(v.ours().unwrap().judged_ci.contains(1.0));
}

#[test]
fn lower_latency_reproduces_a_latency_claim() {
    // p99 12 ms vs 45 ms: the claim is about the lower figure winning by 3.75x.
    let v = verdict(
        "003-fastify-p99-12ms-vs-fastapi-45ms",
        &trials(11.0),
        &trials(44.0),
    );
    assert_eq!(v.label(), "reproduced", "{v:?}");
    let ours = v.ours().unwrap();
    assert!((ours.judged - 4.0).abs() < 1e-9, "{ours:?}");
    assert!(
        (ours.ratio.unwrap().ratio - 0.25).abs() < 1e-9,
        "a / b is kept as measured"
    );
}

#[test]
fn higher_latency_for_the_claimed_winner_contradicts_a_latency_claim() {
    let v = verdict(
        "003-fastify-p99-12ms-vs-fastapi-45ms",
        &trials(44.0),
        &trials(11.0),
    );
    assert_eq!(v.label(), "contradicted", "{v:?}");
}

#[test]
fn a_range_claim_reproduces_anywhere_in_its_widened_band() {
    let id = "002-node-40-60pct-higher-throughput";
    // 40-60% higher, the effect widened by 35%: [1.296, 1.81].
    for (ratio, label) in [
        (1.5, "reproduced"),
        (1.32, "reproduced"),
        (1.15, "direction-only"),
        (2.2, "direction-only"),
    ] {
        let v = verdict(id, &trials(1000.0 * ratio), &trials(1000.0));
        assert_eq!(v.label(), label, "ratio {ratio}: {v:?}");
    }
}

#[test]
fn a_direction_claim_reproduces_on_any_clear_win() {
    let id = "002-python-more-memory-per-worker";
    assert_eq!(
        verdict(id, &trials(60.0), &trials(90.0)).label(),
        "reproduced"
    );
    assert_eq!(
        verdict(id, &trials(90.0), &trials(60.0)).label(),
        "contradicted"
    );
    // Rounds whose noise goes opposite ways: the interval holds 1.
    let b: Vec<f64> = trials(60.5).into_iter().rev().collect();
    assert_eq!(verdict(id, &trials(60.0), &b).label(), "inconclusive");
}

#[test]
fn parity_holds_when_the_targets_are_alike_and_breaks_on_a_clear_gap() {
    let id = "001-asyncio-comparable-to-node-for-io";
    assert_eq!(
        verdict(id, &trials(1000.0), &trials(950.0)).label(),
        "reproduced"
    );
    assert_eq!(
        verdict(id, &trials(3000.0), &trials(1000.0)).label(),
        "contradicted"
    );
}

#[test]
fn an_absolute_figure_far_above_ours_is_contradicted_and_marked_as_other_hardware() {
    let v = verdict("002-django-asgi-850000-json-per-sec", &trials(5_000.0), &[]);
    assert_eq!(v.label(), "contradicted", "{v:?}");
    assert!(v.theirs().other_host);
    assert_eq!(v.theirs().value.map(|q| q.low()), Some(850_000.0));
    let near = verdict(
        "002-django-asgi-850000-json-per-sec",
        &trials(600_000.0),
        &[],
    );
    assert_eq!(
        near.label(),
        "reproduced",
        "within a factor of two: {near:?}"
    );
}

#[test]
fn an_at_least_claim_reproduces_above_its_bound() {
    let id = "002-node-handles-thousands-of-users";
    assert_eq!(verdict(id, &trials(20_000.0), &[]).label(), "reproduced");
    assert_eq!(verdict(id, &trials(100.0), &[]).label(), "contradicted");
}

#[test]
fn every_verdict_carries_our_numbers_and_theirs() {
    let v = verdict(JSON_2_9X, &trials(30_000.0), &trials(10_000.0));
    let ours = v.ours().unwrap();
    assert_eq!(ours.a.median, 30_000.0);
    assert_eq!(ours.b.unwrap().median, 10_000.0);
    assert!(ours.band.unwrap().contains(2.89));
    let theirs = v.theirs();
    assert_eq!(
        (theirs.a_value, theirs.b_value),
        (Some(52_000.0), Some(18_000.0))
    );
    assert_eq!(theirs.winner.as_deref(), Some("fastify"));
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["verdict"], "reproduced");
    assert_eq!(serde_json::from_value::<Verdict>(json).unwrap(), v);
}

#[test]
fn the_same_figures_give_the_same_verdict() {
    let a = [30_100.0, 29_000.0, 31_500.0];
    let b = [10_200.0, 9_900.0, 10_800.0];
    assert_eq!(verdict(JSON_2_9X, &a, &b), verdict(JSON_2_9X, &a, &b));
}

#[test]
fn fewer_than_three_rounds_are_inconclusive_and_say_so() {
    let v = verdict(JSON_2_9X, &[30_000.0], &[10_000.0]);
    assert_eq!(v.label(), "inconclusive");
    let ours = v.ours().unwrap();
    assert!(ours.single_trial);
    assert!(
        ours.reason.contains("one round: needs ≥ 3"),
        "{}",
        ours.reason
    );
    let two = verdict(JSON_2_9X, &[30_000.0, 30_100.0], &[10_000.0, 10_050.0]);
    assert_eq!(two.label(), "inconclusive");
    assert!(two.ours().unwrap().reason.contains("2 rounds"));
}

#[test]
fn a_far_trial_is_flagged_and_kept() {
    let a = [30_000.0, 30_200.0, 29_800.0, 30_100.0, 12_000.0];
    let v = verdict(JSON_2_9X, &a, &trials(10_000.0));
    let ours = v.ours().unwrap();
    assert_eq!(ours.outliers.len(), 1, "{ours:?}");
    assert_eq!(
        (ours.outliers[0].target.as_str(), ours.outliers[0].index),
        ("fastify", 4)
    );
    assert_eq!(ours.a.n, 5, "the flagged trial still counts");
}

#[test]
fn no_figures_is_not_run() {
    let v = verdict(JSON_2_9X, &[], &trials(1.0));
    assert!(v.why().unwrap().contains("fastify"), "{v:?}");
}

// ------------------------------------------------------------------ from results files

/// A run of `workload` at `connections` with requests_per_sec per trial for each target.
fn run(workload: &str, connections: usize, targets: &[(&str, &[f64])]) -> RunResults {
    let profile = format!("closed-{connections}");
    let targets: Vec<_> = targets
        .iter()
        .map(|(name, rps)| {
            let trials: Vec<_> = rps
                .iter()
                .enumerate()
                .map(|(i, rps)| {
                    json!({
                        "trial": i + 1, "requests": (rps * 10.0) as u64, "duration_s": 10.0,
                        "requests_per_sec": rps,
                        "latency": {"p50_ms": 1.0, "p75_ms": 1.0, "p90_ms": 1.0, "p99_ms": 2.0,
                            "p999_ms": 3.0, "max_ms": 4.0, "mean_ms": 1.0, "stdev_ms": 0.1},
                        "status_counts": {"200": 1}, "errors": {"connect": 0, "timeout": 0,
                            "io": 0, "non_success": 0},
                        "bytes_received": 0, "per_second": [], "warmup_requests": 0,
                        "warmup_errors": 0, "connections_opened": connections,
                        "resources": {"peak_memory_bytes": 1, "mean_memory_bytes": 1,
                            "peak_cpu_percent": 0.0, "mean_cpu_percent": 0.0, "samples": []},
                        "generator_cpu_percent": 10.0
                    })
                })
                .collect();
            json!({
                "target": name, "language": "node", "framework": name,
                "framework_version": null, "server": "s", "runtime_version": null,
                "lockfile_sha256": null, "image": null, "status": "ok", "verify": "passed",
                "verify_failures": [], "error": null, "trials": trials
            })
        })
        .collect();
    serde_json::from_value(json!({
        "schema_version": 1, "run_id": format!("run-{workload}-{connections}"),
        "status": "complete", "started_at": "t", "finished_at": "t",
        "parameters": {"workload": workload, "profile": profile, "max_requests": null, "method": "GET", "path": "/", "body": null,
            "verified": true, "runtime": "docker", "targets": [], "trials": 5,
            "connections": connections, "duration_s": 10.0, "warmup_s": 2.0,
            "request_timeout_s": 5.0, "ready_timeout_s": 30.0, "sample_interval_ms": 250,
            "limits": {"cpuset": "1", "memory_bytes": 1073741824},
            "memory_limit_enforced": true, "generator_cpus": [0], "generator_threads": 1},
        "manifest": {"faceoff_version": "0.1.0", "git_commit": null, "git_dirty": null,
            "host": {"cpu_model": "x", "cpus": 2, "memory_bytes": 1, "kernel": "k", "os": "o"},
            "engine": null, "fixtures_sha256": {}, "base_images": {}},
        "targets": targets
    }))
    .expect("valid results")
}

fn why(claims: &Claims, id: &str, runs: &[RunResults]) -> String {
    claims
        .figures(claims.get(id).unwrap(), runs)
        .expect_err("must not run")
}

#[test]
fn figures_come_from_the_run_of_the_claims_workload() {
    let claims = registry();
    let runs = [
        run(
            "sleep",
            50,
            &[("fastify", &[1.0, 1.0, 1.0]), ("fastapi", &[5.0, 5.0, 5.0])],
        ),
        run(
            "status",
            50,
            &[
                ("fastify", &trials(30_000.0)),
                ("fastapi", &trials(10_000.0)),
            ],
        ),
    ];
    let figures = claims
        .figures(claims.get(JSON_2_9X).unwrap(), &runs)
        .unwrap();
    assert_eq!(figures.run_id, "run-status-50");
    assert_eq!(figures.a, trials(30_000.0));
    let verdicts = claims.verdicts(&runs, &Bootstrap::default());
    let (_, json) = verdicts.iter().find(|(c, _)| c.id == JSON_2_9X).unwrap();
    assert_eq!(json.label(), "reproduced", "{json:?}");
}

#[test]
fn db_claim_without_a_db_run_names_the_run_that_judges_it() {
    let claims = registry();
    let runs = [run(
        "status",
        50,
        &[("fastify", &[1.0]), ("fastapi", &[1.0])],
    )];
    let why = why(&claims, "003-fastify-14200-vs-fastapi-8500-db", &runs);
    assert!(why.contains("--workload db"), "{why}");
    assert!(!why.contains("cannot run yet"), "{why}");
}

#[test]
fn db_claim_is_judged_from_a_db_run() {
    let claims = registry();
    let runs = [run(
        "db",
        50,
        &[
            ("fastify", &[2700.0, 2750.0, 2720.0]),
            ("fastapi", &[1560.0, 1580.0, 1550.0]),
        ],
    )];
    let verdicts = claims.verdicts(&runs, &Bootstrap::default());
    let (_, db) = verdicts
        .iter()
        .find(|(c, _)| c.id == "003-fastify-14200-vs-fastapi-8500-db")
        .unwrap();
    assert_eq!(db.label(), "reproduced", "{db:?}");
}

#[test]
fn claim_whose_workload_was_not_run_says_how_to_run_it() {
    let claims = registry();
    let runs = [run(
        "status",
        50,
        &[("fastify", &[1.0]), ("fastapi", &[1.0])],
    )];
    let why = why(
        &claims,
        "003-python-better-cpu-heavy-multiprocessing",
        &runs,
    );
    assert!(why.contains("no run of the `offload` workload"), "{why}");
    assert!(
        why.contains("faceoff run --workload offload --targets fastify,fastapi --profile closed-50 --cpuset 1-2"),
        "{why}"
    );
}

#[test]
fn missing_target_is_not_run_with_the_reason() {
    let claims = registry();
    let runs = [run("status", 50, &[("fastify", &trials(3.0))])];
    let why = why(&claims, JSON_2_9X, &runs);
    assert!(why.contains("fastapi was not measured"), "{why}");
}

#[test]
fn failed_target_is_not_run_with_its_error() {
    let claims = registry();
    let mut results = run("status", 50, &[("fastify", &trials(3.0)), ("fastapi", &[])]);
    results.targets[1].status = faceoff::results::TargetStatus::Failed;
    results.targets[1].error = Some("container exited with code 1".into());
    let why = why(&claims, JSON_2_9X, &[results]);
    assert!(
        why.contains("fastapi failed") && why.contains("exited with code 1"),
        "{why}"
    );
}

#[test]
fn a_run_at_other_concurrency_does_not_count_for_a_100_connection_claim() {
    let claims = registry();
    let id = "001-fastapi-10-15pct-slower-at-100";
    let at_50 = run(
        "status",
        50,
        &[("express", &trials(1.15)), ("fastapi", &trials(1.0))],
    );
    let why = why(&claims, id, std::slice::from_ref(&at_50));
    assert!(
        why.contains("needs 100 connections, the run used 50"),
        "{why}"
    );
    assert!(why.contains("--profile ab-100"), "{why}");
    let mut at_100 = run(
        "status",
        100,
        &[("express", &trials(1.15)), ("fastapi", &trials(1.0))],
    );
    at_100.parameters.keep_alive = false;
    let figures = claims
        .figures(claims.get(id).unwrap(), &[at_100, at_50])
        .unwrap();
    assert_eq!(figures.run_id, "run-status-100");
}

#[test]
fn an_apache_bench_claim_counts_only_runs_with_a_connection_per_request() {
    let claims = registry();
    let id = "001-fastapi-10-15pct-slower-at-100";
    let kept_alive = run(
        "status",
        100,
        &[("express", &trials(1.15)), ("fastapi", &trials(1.0))],
    );
    let why = why(&claims, id, std::slice::from_ref(&kept_alive));
    assert!(
        why.contains("a new connection per request") && why.contains("--profile ab-100"),
        "{why}"
    );
    let mut per_request = kept_alive.clone();
    per_request.parameters.keep_alive = false;
    per_request.run_id = "per-request".into();
    let figures = claims
        .figures(claims.get(id).unwrap(), &[per_request, kept_alive])
        .unwrap();
    assert_eq!(figures.run_id, "per-request");
    // And a keep-alive claim does not take a run without keep-alive.
    let mut no_keep_alive = run(
        "status",
        50,
        &[("fastify", &trials(3.0)), ("fastapi", &trials(1.0))],
    );
    no_keep_alive.parameters.keep_alive = false;
    let why_kept = self::why(&claims, JSON_2_9X, &[no_keep_alive]);
    assert!(
        why_kept.contains("needs keep-alive connections"),
        "{why_kept}"
    );
}

#[test]
fn open_loop_runs_do_not_count_for_closed_loop_figures() {
    let mut claims = registry();
    claims
        .profile_modes
        .insert("open-5000".into(), LoadMode::Open);
    let mut open = run(
        "status",
        50,
        &[("fastify", &trials(5.0)), ("fastapi", &trials(5.0))],
    );
    open.parameters.profile = "open-5000".into();
    let why = why(&claims, JSON_2_9X, std::slice::from_ref(&open));
    assert!(why.contains("open-loop"), "{why}");
    let closed = run(
        "status",
        50,
        &[("fastify", &trials(3.0)), ("fastapi", &trials(1.0))],
    );
    let figures = claims
        .figures(claims.get(JSON_2_9X).unwrap(), &[closed, open])
        .unwrap();
    assert_eq!(figures.run_id, "run-status-50");
}

#[test]
fn the_not_run_hint_names_the_claims_profile() {
    let claims = registry();
    let why = why(&claims, "001-node-30-40pct-more-throughput-at-1000", &[]);
    assert!(
        why.contains("faceoff run --workload status --targets express,fastapi --profile ab-1000"),
        "{why}"
    );
}

/// A chat capacity run: per target, connections held, whether the host (not the server)
/// ended the ramp, and memory per connection in bytes.
fn capacity_run(targets: &[(&str, u64, bool, f64)]) -> RunResults {
    let mut results = run("chat", 250_000, &[]);
    results.parameters.profile = "capacity".into();
    results.targets = targets
        .iter()
        .map(|(name, held, host_bound, per_connection)| {
            serde_json::from_value(json!({
                "target": name, "language": "node", "framework": name,
                "framework_version": null, "server": "s", "runtime_version": null,
                "lockfile_sha256": null, "image": null, "status": "ok", "verify": "passed",
                "verify_failures": [], "error": null, "trials": [],
                "chat_trials": [{
                    "trial": 1,
                    "capacity": {
                        "baseline_memory_bytes": 20_000_000, "steps": [],
                        "connections_held": held, "peak_held": held,
                        "memory_per_connection_bytes": per_connection,
                        "stopped_at": if *host_bound { None } else { Some(held * 2) },
                        "stop_reason": if *host_bound {
                            "every step passed up to 19900, where the host stops the ramp: the server may open only 20000 files"
                        } else {
                            "the server was killed for memory"
                        },
                        "host_bound": host_bound, "server_open_files_limit": 20000
                    },
                    "resources": {"peak_memory_bytes": 1, "mean_memory_bytes": 1,
                        "peak_cpu_percent": 0.0, "mean_cpu_percent": 0.0, "samples": []},
                    "generator_cpu_percent": 10.0
                }]
            }))
            .expect("valid target result")
        })
        .collect();
    results
}

#[test]
fn a_host_bound_ramp_still_settles_a_thousands_of_connections_claim() {
    let claims = registry();
    let runs = [capacity_run(&[("socketio", 19_900, true, 18_000.0)])];
    let (claim, verdict) = claims
        .verdicts(&runs, &Bootstrap::default())
        .into_iter()
        .find(|(c, _)| c.id == "000-node-thousands-of-persistent-connections")
        .unwrap();
    assert_eq!(claim.a, "socketio");
    assert_eq!(verdict.label(), "reproduced", "{verdict:?}");
}

#[test]
fn a_host_bound_ramp_below_80000_leaves_the_80k_claim_not_run_naming_the_host_limit() {
    let claims = registry();
    let runs = [capacity_run(&[("socketio", 19_900, true, 18_000.0)])];
    let why = why(&claims, "002-node-process-80000-250000-connections", &runs);
    assert!(
        why.contains("lower bound") && why.contains("80000"),
        "{why}"
    );
    assert!(why.contains("20000 files"), "{why}");
}

#[test]
fn connections_compare_only_when_the_target_holding_fewer_was_stopped_by_its_server() {
    let claims = registry();
    let id = "001-websocket-node-more-connections";
    let both_bound = [capacity_run(&[
        ("socketio", 19_900, true, 18_000.0),
        ("python-socketio", 19_900, true, 48_000.0),
    ])];
    assert!(why(&claims, id, &both_bound).contains("lower bound"));
    let python_ran_out = [capacity_run(&[
        ("socketio", 19_900, true, 18_000.0),
        ("python-socketio", 12_000, false, 48_000.0),
    ])];
    let figures = claims
        .figures(claims.get(id).unwrap(), &python_ran_out)
        .unwrap();
    assert_eq!((figures.a, figures.b), (vec![19_900.0], vec![12_000.0]));
}

#[test]
fn memory_per_connection_comes_from_the_capacity_ramp_in_kib() {
    let claims = registry();
    let runs = [capacity_run(&[
        ("socketio", 19_900, true, 18_432.0),
        ("python-socketio", 19_900, true, 49_152.0),
    ])];
    let claim = claims.get("001-websocket-node-less-memory").unwrap();
    let figures = claims.figures(claim, &runs).unwrap();
    assert_eq!((figures.a, figures.b), (vec![18.0], vec![48.0]));
    // A closed-loop HTTP run of the same targets gives no such figure.
    let http = [run(
        "chat",
        50,
        &[("socketio", &[1.0]), ("python-socketio", &[1.0])],
    )];
    assert!(claims.figures(claim, &http).is_err());
}

// ------------------------------------------------------------------ the verdict rule

use faceoff::claims::{Decision, Kind, decide};
use faceoff::stats::{Evidence, Interval};

fn ci(low: f64, high: f64) -> Interval {
    Interval { low, high }
}

#[test]
fn a_ratio_claim_is_reproduced_only_when_the_whole_interval_is_inside_its_band() {
    let c = claim(JSON_2_9X);
    let band = c.band().unwrap();
    // 2.89x: the effect 1.89 within a factor 1.35 either way.
    assert!((band.low - 2.4).abs() < 0.01 && (band.high.unwrap() - 3.5515).abs() < 0.01);
    let rule = |low, high| decide(Kind::Ratio, Some(band), ci(low, high)).0;
    assert_eq!(rule(2.6, 3.2), Decision::Reproduced);
    assert_eq!(rule(1.3, 1.9), Decision::DirectionOnly);
    assert_eq!(rule(3.8, 4.4), Decision::DirectionOnly);
    assert_eq!(rule(0.5, 0.9), Decision::Contradicted);
    assert_eq!(rule(0.9, 1.3), Decision::Inconclusive, "holds 1");
    assert_eq!(
        rule(2.0, 2.9),
        Decision::Inconclusive,
        "above 1, partly in the band"
    );
    assert_eq!(
        rule(3.0, 4.0),
        Decision::Inconclusive,
        "above 1, partly in the band"
    );
}

#[test]
fn the_tolerance_scales_with_the_claimed_effect_not_the_ratio() {
    // "10-15% slower" ([1.10, 1.18]): a band that never reaches down to a loss.
    let band = claim("001-fastapi-10-15pct-slower-at-100").band().unwrap();
    assert!((band.low - (1.0 + 0.10 / 1.35)).abs() < 1e-9, "{band:?}");
    assert!(
        (band.high.unwrap() - (1.0 + 0.18 * 1.35)).abs() < 1e-9,
        "{band:?}"
    );
    assert!(band.low > 1.0);
}

#[test]
fn direction_parity_and_absolute_claims_decide_on_the_whole_interval() {
    use Decision::*;
    let direction = |low, high| decide(Kind::Direction, None, ci(low, high)).0;
    assert_eq!(direction(1.01, 1.2), Reproduced);
    assert_eq!(direction(0.7, 0.99), Contradicted);
    assert_eq!(direction(0.9, 1.1), Inconclusive);
    let parity_band = claim("001-asyncio-comparable-to-node-for-io").band();
    let parity = |low, high| decide(Kind::Parity, parity_band, ci(low, high)).0;
    assert_eq!(parity(0.9, 1.1), Reproduced);
    assert_eq!(parity(1.5, 2.0), Contradicted);
    assert_eq!(parity(1.1, 1.4), Inconclusive, "straddles 1.25");
    let value_band = claim("002-django-asgi-850000-json-per-sec").band();
    let value = |low, high| decide(Kind::Absolute, value_band, ci(low, high)).0;
    assert_eq!(value(500_000.0, 600_000.0), Reproduced);
    assert_eq!(value(4_000.0, 6_000.0), Contradicted);
    assert_eq!(
        value(300_000.0, 500_000.0),
        Inconclusive,
        "straddles 425,000"
    );
}

#[test]
fn an_at_least_bound_is_the_bound_itself() {
    let c = claim("002-node-handles-thousands-of-users");
    let band = c.band().unwrap();
    assert_eq!(
        (band.low, band.high),
        (1000.0, None),
        "no tolerance halves it"
    );
    let rule = |low, high| decide(Kind::Absolute, Some(band), ci(low, high)).0;
    assert_eq!(rule(1000.0, 1200.0), Decision::Reproduced);
    assert_eq!(rule(500.0, 900.0), Decision::Contradicted);
    assert_eq!(rule(900.0, 1100.0), Decision::Inconclusive);
}

#[test]
fn claims_that_cannot_both_be_true_are_never_both_reproduced() {
    let json = claim(JSON_2_9X);
    let two_to_three = claim("003-node-2-3x-faster-io-apis");
    let sharkbench = claim("004-sharkbench-fastify-vs-fastapi-rps");
    let bands = [&json, &two_to_three, &sharkbench].map(|c| c.band().unwrap());
    // Compatible: 2.89x lies in 2-3x. Incompatible: 7.9x with either.
    assert!(bands[2].low > bands[0].high.unwrap() && bands[2].low > bands[1].high.unwrap());
    let mut seed = faceoff::stats::SplitMix64(3);
    let mut uniform = || (seed.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let mut both_compatible = 0;
    for i in 0..20_000 {
        // Centres from 0.5x to 12x, half-widths up to 10x (a very wide interval included).
        let center = 0.5 + 11.5 * uniform();
        let half = if i % 100 == 0 {
            50.0
        } else {
            10.0 * uniform() * uniform()
        };
        let interval = ci((center - half).max(0.01), center + half);
        let reproduced: Vec<bool> = bands
            .iter()
            .map(|band| decide(Kind::Ratio, Some(*band), interval).0 == Decision::Reproduced)
            .collect();
        assert!(
            !(reproduced[2] && (reproduced[0] || reproduced[1])),
            "{interval:?} reproduces 7.9x and a 2-3x claim"
        );
        if reproduced[0] && reproduced[1] {
            both_compatible += 1;
        }
    }
    assert!(both_compatible > 0, "2.89x and 2-3x can both be reproduced");
    // The same numbers through the whole judge: fastify 2.9x fastapi.
    let a = trials(29_000.0);
    let b = trials(10_000.0);
    let labels: Vec<&str> = [&json, &two_to_three, &sharkbench]
        .iter()
        .map(|c| judge(c, &a, &b, &Bootstrap::default()).label())
        .collect();
    assert_eq!(labels, ["reproduced", "reproduced", "direction-only"]);
}

#[test]
fn a_wider_interval_never_makes_a_verdict_more_decided() {
    let claims = registry();
    let mut seed = faceoff::stats::SplitMix64(9);
    let mut uniform = || (seed.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let decided = |d: Decision| d != Decision::Inconclusive;
    for claim in &claims.claims {
        let Some(_) = claim.band().or(Some(faceoff::claims::Band {
            low: 1.0,
            high: None,
        })) else {
            continue;
        };
        let scale = claim.band().map_or(1.0, |b| b.low.max(1.0));
        for _ in 0..2_000 {
            let center = scale * (0.2 + 3.0 * uniform());
            let half = center * 0.5 * uniform();
            let wider = half + center * uniform();
            let narrow = decide(claim.kind, claim.band(), ci(center - half, center + half)).0;
            let wide = decide(
                claim.kind,
                claim.band(),
                ci((center - wider).max(1e-6), center + wider),
            )
            .0;
            if narrow != Decision::Reproduced {
                assert_ne!(
                    wide,
                    Decision::Reproduced,
                    "{}: {narrow:?} -> {wide:?}",
                    claim.id
                );
            }
            if !decided(narrow) {
                assert!(!decided(wide), "{}: inconclusive became {wide:?}", claim.id);
            }
            if decided(wide) {
                assert_eq!(narrow, wide, "{}", claim.id);
            }
        }
    }
}

/// `run` with a schedule (interleaved rounds), server CPU samples and generator CPU.
fn sampled_run(
    workload: &str,
    connections: usize,
    targets: &[(&str, &[f64])],
    generator_cpu: f64,
    server_cpu: f64,
) -> RunResults {
    let mut results = run(workload, connections, targets);
    let names: Vec<String> = targets.iter().map(|(n, _)| n.to_string()).collect();
    let rounds = targets.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    results.parameters.schedule = vec![names; rounds];
    for target in &mut results.targets {
        for trial in &mut target.trials {
            trial.generator_cpu_percent = generator_cpu;
            trial.resources.mean_cpu_percent = server_cpu;
            trial.resources.samples = vec![faceoff::sample::Sample {
                t_ms: 250,
                cpu_percent: server_cpu,
                memory_bytes: 1,
            }];
        }
    }
    results
}

#[test]
fn a_run_where_the_generator_set_the_pace_is_inconclusive_with_the_reason() {
    let claims = registry();
    let runs = [sampled_run(
        "status",
        50,
        &[
            ("fastify", &trials(29_000.0)),
            ("fastapi", &trials(10_000.0)),
        ],
        97.0,
        30.0,
    )];
    let v = claims.verdict(claims.get(JSON_2_9X).unwrap(), &runs, &Bootstrap::default());
    assert_eq!(v.label(), "inconclusive", "{v:?}");
    let reason = &v.ours().unwrap().reason;
    assert!(
        reason.contains("not the bottleneck") && reason.contains("--generator-cpus"),
        "{reason}"
    );
    // The same figures with a busy server: judged.
    let busy = [sampled_run(
        "status",
        50,
        &[
            ("fastify", &trials(29_000.0)),
            ("fastapi", &trials(10_000.0)),
        ],
        97.0,
        99.0,
    )];
    let v = claims.verdict(claims.get(JSON_2_9X).unwrap(), &busy, &Bootstrap::default());
    assert_eq!(v.label(), "reproduced", "{v:?}");
}

#[test]
fn evidence_is_paired_by_round_in_one_run_and_unpaired_otherwise() {
    let claims = registry();
    let c = claims.get(JSON_2_9X).unwrap();
    let targets: &[(&str, &[f64])] = &[
        (
            "fastify",
            &[29_000.0, 15_000.0, 29_300.0, 28_700.0, 29_100.0],
        ),
        ("fastapi", &[10_000.0, 5_200.0, 10_100.0, 9_900.0, 10_050.0]),
    ];
    // Interleaved with a schedule: round 2 was slow for both, the ratio held.
    let paired = sampled_run("status", 50, targets, 10.0, 99.0);
    let v = claims.verdict(c, std::slice::from_ref(&paired), &Bootstrap::default());
    let ours = v.ours().unwrap();
    assert_eq!((ours.evidence, ours.n), (Evidence::Paired, 5));
    assert_eq!(ours.rounds.len(), 5);
    assert_eq!(v.label(), "reproduced", "{v:?}");
    assert!(ours.evidence_text().starts_with("paired, 5 rounds"));
    // An older file without a schedule, or a merged one: unpaired, and the slow round
    // widens the interval.
    let mut old = paired.clone();
    old.parameters.schedule.clear();
    let v = claims.verdict(c, &[old], &Bootstrap::default());
    assert_eq!(v.ours().unwrap().evidence, Evidence::Unpaired);
    let mut merged = paired.clone();
    merged.merge = Some(
        serde_json::from_value(
            json!({"sources": [], "allow_mixed": false, "differences": [], "notes": []}),
        )
        .unwrap(),
    );
    let v = claims.verdict(c, &[merged], &Bootstrap::default());
    assert_eq!(v.ours().unwrap().evidence, Evidence::Unpaired);
}

#[test]
fn duet_rounds_are_preferred_for_throughput_ratios() {
    let claims = registry();
    let c = claims.get(JSON_2_9X).unwrap();
    let mut results = sampled_run(
        "status",
        50,
        &[
            ("fastify", &trials(20_000.0)),
            ("fastapi", &trials(10_000.0)),
        ],
        10.0,
        99.0,
    );
    let template = results.targets[0].trials[0].clone();
    let trial = |rps: f64| {
        let mut t = template.clone();
        t.requests_per_sec = rps;
        t
    };
    results.duets = vec![faceoff::results::DuetResult {
        targets: ["fastapi".into(), "fastify".into()],
        rounds: (1..=4)
            .map(|round| faceoff::results::DuetRound {
                round,
                trials: [
                    trial(5_000.0 + round as f64),
                    trial(14_500.0 + 3.0 * round as f64),
                ],
                // As files written before both start orders ran in every round.
                started_first: None,
            })
            .collect(),
        error: None,
    }];
    let v = claims.verdict(c, &[results], &Bootstrap::default());
    let ours = v.ours().unwrap();
    assert_eq!((ours.evidence, ours.n), (Evidence::Duet, 4));
    assert!((ours.judged - 2.9).abs() < 0.01, "{ours:?}");
    assert_eq!(v.label(), "reproduced", "{v:?}");
    // Latency is not read from duets: the servers shared their cores.
    let p99 = claims.get("003-fastify-p99-12ms-vs-fastapi-45ms").unwrap();
    let runs = [sampled_run(
        "status",
        50,
        &[
            ("fastify", &trials(20_000.0)),
            ("fastapi", &trials(10_000.0)),
        ],
        10.0,
        99.0,
    )];
    let v = claims.verdict(p99, &runs, &Bootstrap::default());
    assert_eq!(v.ours().unwrap().evidence, Evidence::Paired);
}

#[test]
fn a_start_order_effect_in_duet_rounds_is_taken_out_of_the_ratio_not_counted_as_noise() {
    let claims = registry();
    let c = claims.get(JSON_2_9X).unwrap();
    let mut results = sampled_run(
        "status",
        50,
        &[
            ("fastify", &trials(20_000.0)),
            ("fastapi", &trials(10_000.0)),
        ],
        10.0,
        99.0,
    );
    let template = results.targets[0].trials[0].clone();
    let trial = |rps: f64| {
        let mut t = template.clone();
        t.requests_per_sec = rps;
        t
    };
    // Four trial rounds, each in both start orders: fastify gets 3.1x fastapi when it
    // starts first and 2.7x when fastapi does, within ±0.2%.
    let rounds = (1..=4u32)
        .flat_map(|round| {
            let jitter = 1.0 + 0.001 * f64::from(round % 3);
            [("fastify", 3.1), ("fastapi", 2.7)].map(|(first, ratio)| faceoff::results::DuetRound {
                round,
                trials: [trial(5_000.0 * ratio * jitter), trial(5_000.0)],
                started_first: Some(first.to_string()),
            })
        })
        .collect();
    results.duets = vec![faceoff::results::DuetResult {
        targets: ["fastify".into(), "fastapi".into()],
        rounds,
        error: None,
    }];
    let v = claims.verdict(c, &[results], &Bootstrap::default());
    let ours = v.ours().unwrap();
    assert_eq!((ours.evidence, ours.n), (Evidence::Duet, 8));
    // The geometric mean of the two orders, sqrt(3.1 × 2.7) = 2.893.
    assert!((ours.judged - 2.893).abs() < 0.01, "{ours:?}");
    let half = (ours.judged_ci.high - ours.judged_ci.low) / 2.0 / ours.judged;
    assert!(half < 0.01, "the order effect counted as noise: ±{half:.3}");
}

/// Five duet rounds of fastify and fastapi at `fastify` and `fastapi` req/s, both servers
/// at `cpu` percent.
fn five_duet_rounds(results: &mut RunResults, cpu: f64, fastify: f64, fastapi: f64) {
    let template = results.targets[0].trials[0].clone();
    let trial = |rps: f64| {
        let mut t = template.clone();
        t.requests_per_sec = rps;
        t.resources.mean_cpu_percent = cpu;
        t
    };
    results.duets = vec![faceoff::results::DuetResult {
        targets: ["fastify".into(), "fastapi".into()],
        rounds: (1..=5)
            .map(|round| faceoff::results::DuetRound {
                round,
                trials: [trial(fastify), trial(fastapi)],
                started_first: Some(if round % 2 == 1 { "fastify" } else { "fastapi" }.into()),
            })
            .collect(),
        error: None,
    }];
}

#[test]
fn duet_rounds_whose_servers_did_not_fill_the_shared_cpuset_are_inconclusive() {
    let claims = registry();
    let c = claims.get(JSON_2_9X).unwrap();
    let mut results = sampled_run(
        "status",
        50,
        &[
            ("fastify", &trials(20_000.0)),
            ("fastapi", &trials(10_000.0)),
        ],
        10.0,
        99.0,
    );
    // Each server at 25% of one CPU where a fair half is 50%: the host was busy.
    five_duet_rounds(&mut results, 25.0, 14_500.0, 5_000.0);
    let v = claims.verdict(c, &[results], &Bootstrap::default());
    assert_eq!(v.label(), "inconclusive", "{v:?}");
    let why = &v.ours().unwrap().reason;
    assert!(why.contains("did not stay CPU-bound"), "{why}");
}

#[test]
fn duet_servers_that_sleep_through_their_requests_alone_too_are_judged() {
    // A server at 1% CPU on its own (its requests sleep; `sleep-1s`) cannot fill half the
    // cpuset in a duet either, and leaves the other no more than it would have had.
    let claims = registry();
    let c = claims.get(JSON_2_9X).unwrap();
    let mut results = sampled_run(
        "status",
        50,
        &[
            ("fastify", &trials(20_000.0)),
            ("fastapi", &trials(10_000.0)),
        ],
        10.0,
        1.0,
    );
    five_duet_rounds(&mut results, 1.0, 14_500.0, 5_000.0);
    let v = claims.verdict(c, std::slice::from_ref(&results), &Bootstrap::default());
    assert_eq!(v.label(), "reproduced", "{v:?}");
    assert_eq!(v.ours().unwrap().evidence, Evidence::Duet);
    // The same duets after servers that filled their CPU alone: the host was busy.
    for target in &mut results.targets {
        for trial in &mut target.trials {
            trial.resources.mean_cpu_percent = 99.0;
        }
    }
    let v = claims.verdict(c, &[results], &Bootstrap::default());
    assert_eq!(v.label(), "inconclusive", "{v:?}");
}

#[test]
fn a_claim_the_article_gave_no_concurrency_says_it_was_judged_at_the_default() {
    let claims = registry();
    let runs = [sampled_run(
        "status",
        50,
        &[
            ("fastify", &trials(29_000.0)),
            ("fastapi", &trials(10_000.0)),
        ],
        10.0,
        99.0,
    )];
    let v = claims.verdict(claims.get(JSON_2_9X).unwrap(), &runs, &Bootstrap::default());
    let notes = &v.ours().unwrap().notes;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("judged at the default profile closed-50")),
        "{notes:?}"
    );
    // A run at 100 connections does not count for it.
    let at_100 = [run(
        "status",
        100,
        &[("fastify", &trials(3.0)), ("fastapi", &trials(1.0))],
    )];
    assert!(why(&claims, JSON_2_9X, &at_100).contains("needs 50 connections"));
}

#[test]
fn a_claim_about_several_cores_is_not_run_on_a_one_cpu_cpuset() {
    let claims = registry();
    let id = "003-python-better-cpu-heavy-multiprocessing";
    let one = [run(
        "offload",
        50,
        &[("fastify", &trials(1.0)), ("fastapi", &trials(2.0))],
    )];
    let why = why(&claims, id, &one);
    assert!(
        why.contains("needs a host with ≥ 3 CPUs: 2 for the server, 1 for the generator"),
        "{why}"
    );
    let mut two = one[0].clone();
    two.parameters.limits.cpuset = "1-2".into();
    let figures = claims.figures(claims.get(id).unwrap(), &[two]);
    assert!(figures.is_ok(), "{figures:?}");
}

#[test]
fn a_language_claim_is_judged_on_every_pair_and_reproduced_only_if_every_pair_is() {
    let claims = registry();
    let id = "002-python-more-memory-per-worker";
    let c = claims.get(id).unwrap();
    let memory_run = |django_mib: f64| {
        let mut results = sampled_run(
            "status",
            50,
            &[
                ("express", &trials(1.0)),
                ("fastify", &trials(1.0)),
                ("fastapi", &trials(1.0)),
                ("django", &trials(1.0)),
            ],
            10.0,
            99.0,
        );
        for target in &mut results.targets {
            let mib = match target.target.as_str() {
                "express" => 60.0,
                "fastify" => 55.0,
                "fastapi" => 90.0,
                _ => django_mib,
            };
            target.language = if mib < 70.0 { "node" } else { "python" }.into();
            for (i, trial) in target.trials.iter_mut().enumerate() {
                trial.resources.peak_memory_bytes =
                    ((mib + [0.0, 0.4, -0.4, 0.2, -0.2][i]) * 1_048_576.0) as u64;
            }
        }
        results
    };
    let v = claims.verdict(c, &[memory_run(120.0)], &Bootstrap::default());
    assert_eq!(v.label(), "reproduced", "{v:?}");
    let ours = v.ours().unwrap();
    assert_eq!(
        ours.pairs.len(),
        4,
        "express and fastify × fastapi and django"
    );
    assert_eq!(
        (ours.pairs[0].a.as_str(), ours.pairs[0].b.as_str()),
        ("express", "fastapi")
    );
    assert!(ours.reason.contains("ratios from"), "{}", ours.reason);
    // Django lighter than both Node targets: the pairs disagree.
    let v = claims.verdict(c, &[memory_run(50.0)], &Bootstrap::default());
    assert_eq!(v.label(), "inconclusive", "{v:?}");
}

// ------------------------------------------------------------------ cold starts

/// A `cold-start` run of `status`: each target's trials are starts alone, with these
/// cold-start times (ms), each at `idle_mib` of idle memory, interleaved round by round.
fn cold_start_run(targets: &[(&str, &[f64], f64)]) -> RunResults {
    let rps: Vec<(&str, &[f64])> = targets.iter().map(|(n, ms, _)| (*n, *ms)).collect();
    let mut results = run("status", 0, &rps);
    results.parameters.profile = "cold-start".into();
    let names: Vec<String> = targets.iter().map(|(n, _, _)| n.to_string()).collect();
    results.parameters.schedule = vec![names; targets[0].1.len()];
    for (target, (_, ms, idle_mib)) in results.targets.iter_mut().zip(targets) {
        for (trial, ms) in target.trials.iter_mut().zip(ms.iter()) {
            trial.requests = 0;
            trial.requests_per_sec = 0.0;
            trial.duration_s = 0.0;
            trial.connections_opened = 0;
            trial.startup = Some(startup(*ms, *idle_mib));
        }
    }
    results
}

fn startup(ready_ms: f64, idle_mib: f64) -> faceoff::results::Startup {
    faceoff::results::Startup {
        from: faceoff::runtime::StartClock::ContainerStart,
        ready_ms,
        start_call_ms: Some(40.0),
        idle_memory_bytes: Some((idle_mib * 1048576.0) as u64),
    }
}

const NODE_COLD_STARTS: [&str; 2] = ["002-node-cold-starts-low", "004-node-lower-cold-starts"];

#[test]
fn node_starting_sooner_than_python_reproduces_the_cold_start_claims_paired_by_round() {
    let claims = registry();
    let runs = [cold_start_run(&[
        ("express", &trials(300.0), 40.0),
        ("fastapi", &trials(900.0), 60.0),
    ])];
    for id in NODE_COLD_STARTS {
        let claim = claims.get(id).unwrap();
        let figures = claims.figures(claim, &runs).unwrap();
        assert_eq!(figures.evidence, faceoff::stats::Evidence::Paired, "{id}");
        assert_eq!(figures.a, trials(300.0), "{id}");
        let v = claims.verdict(claim, &runs, &Bootstrap::default());
        assert_eq!(v.label(), "reproduced", "{id}: {v:?}");
    }
    let memory = claims
        .get("002-node-memory-efficient-small-functions")
        .unwrap();
    let v = claims.verdict(memory, &runs, &Bootstrap::default());
    assert_eq!(v.label(), "reproduced", "{v:?}");
}

#[test]
fn python_starting_sooner_contradicts_the_cold_start_claims() {
    let claims = registry();
    let runs = [cold_start_run(&[
        ("express", &trials(900.0), 60.0),
        ("fastapi", &trials(300.0), 40.0),
    ])];
    for id in NODE_COLD_STARTS {
        let v = claims.verdict(claims.get(id).unwrap(), &runs, &Bootstrap::default());
        assert_eq!(v.label(), "contradicted", "{id}: {v:?}");
    }
}

#[test]
fn cold_starts_recorded_before_a_load_count_as_well() {
    let claims = registry();
    let mut loaded = sampled_run(
        "status",
        50,
        &[("express", &trials(9_000.0)), ("fastapi", &trials(3_000.0))],
        10.0,
        100.0,
    );
    for (target, ms) in loaded.targets.iter_mut().zip([300.0, 900.0]) {
        for trial in &mut target.trials {
            trial.startup = Some(startup(ms, 50.0));
        }
    }
    let v = claims.verdict(
        claims.get("002-node-cold-starts-low").unwrap(),
        &[loaded],
        &Bootstrap::default(),
    );
    assert_eq!(v.label(), "reproduced", "{v:?}");
}

#[test]
fn a_cold_start_run_gives_no_load_figures_and_old_files_no_cold_starts() {
    let claims = registry();
    let cold = cold_start_run(&[
        ("express", &trials(300.0), 40.0),
        ("fastapi", &trials(900.0), 60.0),
    ]);
    let why_load = why(&claims, "002-python-more-memory-per-worker", &[cold]);
    assert!(why_load.contains("no closed-loop profile"), "{why_load}");
    // A file from before starts were recorded: its trials have no cold-start figure.
    let old = run(
        "status",
        50,
        &[("express", &trials(9_000.0)), ("fastapi", &trials(3_000.0))],
    );
    let why_old = why(&claims, "002-node-cold-starts-low", &[old]);
    assert!(
        why_old.contains("cold_start_ms") && why_old.contains("--profile cold-start"),
        "{why_old}"
    );
}

#[test]
fn a_load_claim_on_the_cold_start_profile_is_refused() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = faceoff::config::Fixtures::load(root).unwrap();
    let text = r#"
[[claim]]
id = "x-load-at-cold-start"
source = "x.txt"
quote = "q"
kind = "direction"
a = "express"
b = "fastapi"
winner = "express"
workload = "status"
profile = "cold-start"
metric = "requests_per_sec"
"#;
    let err = Claims::parse(text, &root.join("claims.toml"), &fixtures)
        .unwrap_err()
        .to_string();
    assert!(err.contains("sends no load"), "{err}");
}

// ------------------------------------------------------- fan-out and capacity (item 6)

/// A chat fan-out run, interleaved (a schedule per round): per target, each trial's
/// delivery p99 (ms) and deliveries lost of 10,000 owed.
fn fanout_run(targets: &[(&str, &[(f64, u64)])]) -> RunResults {
    let mut results = run("chat", 1_000, &[]);
    results.parameters.profile = "fanout".into();
    let rounds = targets.first().map_or(0, |(_, t)| t.len());
    results.parameters.schedule = (0..rounds)
        .map(|_| targets.iter().map(|(n, _)| n.to_string()).collect())
        .collect();
    results.targets = targets
        .iter()
        .map(|(name, trials)| {
            let chat_trials: Vec<_> = trials
                .iter()
                .enumerate()
                .map(|(i, (p99, lost))| {
                    json!({
                        "trial": i + 1,
                        "fanout": {
                            "rooms": 20, "joined": 1000, "join_failures": {}, "sent": 200,
                            "sent_per_sec": 20.0, "expected": 10_000, "delivered": 10_000 - lost,
                            "lost": lost, "delivered_per_sec": 1000.0,
                            "latency": {"p50_ms": p99 / 4.0, "p75_ms": p99 / 3.0,
                                "p90_ms": p99 / 2.0, "p99_ms": p99, "p999_ms": p99 * 2.0,
                                "max_ms": p99 * 3.0, "mean_ms": p99 / 4.0, "stdev_ms": 1.0},
                            "per_second": [], "dropped": 0
                        },
                        "resources": {"peak_memory_bytes": 1, "mean_memory_bytes": 1,
                            "peak_cpu_percent": 0.0, "mean_cpu_percent": 0.0, "samples": []},
                        "generator_cpu_percent": 10.0
                    })
                })
                .collect();
            chat_target(name, chat_trials)
        })
        .collect();
    results
}

/// A chat target's result holding `chat_trials` (JSON trial records) and nothing else.
fn chat_target(name: &str, chat_trials: Vec<serde_json::Value>) -> faceoff::results::TargetResult {
    serde_json::from_value(json!({
        "target": name, "language": "node", "framework": name,
        "framework_version": null, "server": "s", "runtime_version": null,
        "lockfile_sha256": null, "image": null, "status": "ok", "verify": "passed",
        "verify_failures": [], "error": null, "trials": [], "chat_trials": chat_trials
    }))
    .expect("valid target result")
}

const P99_VS_CHANNELS: &str = "003-socketio-lower-delivery-p99-than-channels";
const LOST_VS_CHANNELS: &str = "003-socketio-loses-fewer-deliveries-than-channels";

#[test]
fn a_fanout_run_judges_delivery_p99_paired_by_round() {
    let claims = registry();
    let runs = [fanout_run(&[
        ("socketio", &[(5.0, 0), (9.0, 0), (5.2, 0)]),
        ("channels", &[(20.0, 0), (37.0, 0), (21.0, 0)]),
    ])];
    let v = claims.verdict(
        claims.get(P99_VS_CHANNELS).unwrap(),
        &runs,
        &Bootstrap::default(),
    );
    assert_eq!(v.label(), "reproduced", "{v:?}");
    let ours = v.ours().unwrap();
    assert_eq!((ours.evidence, ours.n), (Evidence::Paired, 3));
    assert!(ours.judged > 3.9 && ours.judged < 4.2, "{ours:?}");
    // A capacity ramp or a closed-loop run of the same targets gives no delivery latency.
    let ramps = [capacity_run(&[
        ("socketio", 19_900, true, 18_000.0),
        ("channels", 19_900, true, 18_000.0),
    ])];
    assert!(why(&claims, P99_VS_CHANNELS, &ramps).contains("no fan-out run"));
}

#[test]
fn noise_never_helps_a_fanout_claim() {
    let claims = registry();
    let claim = claims.get(P99_VS_CHANNELS).unwrap();
    // The same median advantage, but the rounds disagree on the winner: the interval
    // straddles 1, so the claim is inconclusive, never reproduced.
    let noisy = [fanout_run(&[
        ("socketio", &[(5.0, 0), (40.0, 0), (5.0, 0)]),
        ("channels", &[(20.0, 0), (8.0, 0), (21.0, 0)]),
    ])];
    let v = claims.verdict(claim, &noisy, &Bootstrap::default());
    assert_eq!(v.label(), "inconclusive", "{v:?}");
    // Unpaired (no schedule) the same figures cannot do better either.
    let mut unpaired = noisy[0].clone();
    unpaired.parameters.schedule.clear();
    let v = claims.verdict(claim, &[unpaired], &Bootstrap::default());
    assert_ne!(v.label(), "reproduced", "{v:?}");
}

#[test]
fn deliveries_lost_compare_as_shares_delivered_and_a_tie_is_inconclusive() {
    let claims = registry();
    let claim = claims.get(LOST_VS_CHANNELS).unwrap();
    let channels_drops = [fanout_run(&[
        ("socketio", &[(5.0, 0), (5.0, 0), (5.0, 0)]),
        ("channels", &[(20.0, 3_000), (20.0, 2_900), (20.0, 3_100)]),
    ])];
    let v = claims.verdict(claim, &channels_drops, &Bootstrap::default());
    assert_eq!(v.label(), "reproduced", "{v:?}");
    assert_eq!(v.ours().unwrap().a.median, 100.0);
    let tie = [fanout_run(&[
        ("socketio", &[(5.0, 0), (5.0, 0), (5.0, 0)]),
        ("channels", &[(20.0, 0), (20.0, 0), (20.0, 0)]),
    ])];
    let v = claims.verdict(claim, &tie, &Bootstrap::default());
    assert_eq!(v.label(), "inconclusive", "{v:?}");
    let socketio_drops = [fanout_run(&[
        ("socketio", &[(5.0, 500), (5.0, 600), (5.0, 550)]),
        ("channels", &[(20.0, 0), (20.0, 0), (20.0, 0)]),
    ])];
    let v = claims.verdict(claim, &socketio_drops, &Bootstrap::default());
    assert_eq!(v.label(), "contradicted", "{v:?}");
}

/// A capacity run with its steps: per target, per trial, the (connections, KiB per
/// connection) of each passing step and the step that broke, if any.
/// One ramp: the (connections, KiB per connection) of each passing step, and the step
/// that broke, if any.
type Ramp<'a> = (&'a [(u64, f64)], Option<u64>);

fn stepped_capacity_run(targets: &[(&str, &[Ramp])]) -> RunResults {
    let mut results = capacity_run(&[]);
    let rounds = targets.first().map_or(0, |(_, t)| t.len());
    results.parameters.schedule = (0..rounds)
        .map(|_| targets.iter().map(|(n, _)| n.to_string()).collect())
        .collect();
    let step = |connections: u64, kib: f64, broke: Option<&str>| {
        json!({
            "connections": connections, "attempted": connections, "joined": connections,
            "failures": {}, "first_failure": null, "not_attempted": 0, "held": connections,
            "handshake": {"p50_ms": 1.0, "p75_ms": 1.0, "p90_ms": 1.0, "p99_ms": 2.0,
                "p999_ms": 3.0, "max_ms": 4.0, "mean_ms": 1.0, "stdev_ms": 0.1},
            "ramp_s": 1.0,
            "memory_bytes": 50 * 1024 * 1024 + (kib * 1024.0) as u64 * connections,
            "memory_per_connection_bytes": kib * 1024.0, "broke": broke
        })
    };
    results.targets = targets
        .iter()
        .map(|(name, ramps)| {
            let chat_trials: Vec<_> = ramps
                .iter()
                .enumerate()
                .map(|(i, (passed, broke_at))| {
                    let mut steps: Vec<_> =
                        passed.iter().map(|(c, k)| step(*c, *k, None)).collect();
                    if let Some(at) = broke_at {
                        steps.push(step(*at, 1.0, Some("killed for memory")));
                    }
                    let (held, last) = passed.last().copied().unwrap_or((0, 0.0));
                    json!({
                        "trial": i + 1,
                        "capacity": {
                            "baseline_memory_bytes": 20_000_000, "steps": steps,
                            "connections_held": held, "peak_held": held,
                            "memory_per_connection_bytes": last * 1024.0,
                            "stopped_at": broke_at, "stop_reason": "stopped",
                            "host_bound": broke_at.is_none(), "server_open_files_limit": 20000
                        },
                        "resources": {"peak_memory_bytes": 1, "mean_memory_bytes": 1,
                            "peak_cpu_percent": 0.0, "mean_cpu_percent": 0.0, "samples": []},
                        "generator_cpu_percent": 10.0
                    })
                })
                .collect();
            chat_target(name, chat_trials)
        })
        .collect();
    results
}

#[test]
fn memory_per_connection_compares_at_the_largest_step_both_targets_passed() {
    let claims = registry();
    let claim = claims.get("001-websocket-node-less-memory").unwrap();
    // socketio's fixed cost spreads over 10,000 connections (6 KiB each there) while
    // python-socketio broke at 5,000: at their own last steps socketio would look 3x
    // leaner; at 2,000, the largest step both passed, it is 1.1x.
    let node: &[(u64, f64)] = &[(1_000, 12.0), (2_000, 10.0), (5_000, 8.0), (10_000, 6.0)];
    let python: &[(u64, f64)] = &[(1_000, 12.5), (2_000, 11.0)];
    let runs = [stepped_capacity_run(&[
        ("socketio", &[(node, None), (node, None), (node, None)]),
        (
            "python-socketio",
            &[
                (python, Some(5_000)),
                (python, Some(5_000)),
                (python, Some(5_000)),
            ],
        ),
    ])];
    let figures = claims.figures(claim, &runs).unwrap();
    assert_eq!(figures.a, vec![10.0; 3]);
    assert_eq!(figures.b, vec![11.0; 3]);
    assert!(
        figures
            .notes
            .iter()
            .any(|n| n.contains("at 2000 connections")),
        "{:?}",
        figures.notes
    );
    let v = claims.verdict(claim, &runs, &Bootstrap::default());
    let ours = v.ours().unwrap();
    assert_eq!(ours.evidence, Evidence::Paired);
    assert!((ours.judged - 1.1).abs() < 1e-9, "{ours:?}");
    // A ramp that broke at its first step leaves no common step: not run, with why.
    let broke_at_once = [stepped_capacity_run(&[
        ("socketio", &[(node, None)]),
        ("python-socketio", &[(&[], Some(1_000))]),
    ])];
    assert!(why(&claims, claim.id.as_str(), &broke_at_once).contains("no step"));
}

#[test]
fn a_host_bound_ramp_projects_the_80k_claim_to_the_memory_limit_and_stays_not_run() {
    let claims = registry();
    // 50 MiB idle and 10 KiB per connection, measured up to the host's 19,900: a 1 GiB
    // limit is reached at (1024 − 50) MiB / 10 KiB = 99,738 connections.
    let steps: &[(u64, f64)] = &[(1_000, 10.0), (5_000, 10.0), (10_000, 10.0), (19_900, 10.0)];
    let runs = [stepped_capacity_run(&[("socketio", &[(steps, None)])])];
    let id = "002-node-process-80000-250000-connections";
    let v = claims.verdict(claims.get(id).unwrap(), &runs, &Bootstrap::default());
    assert_eq!(v.label(), "not-run", "{v:?}");
    let why = v.why().unwrap();
    assert!(why.contains("lower bound"), "{why}");
    assert!(
        why.contains("projection, not a verdict") && why.contains("about 99738 connections"),
        "{why}"
    );
    assert!(why.contains("1024 MiB memory limit"), "{why}");
    let projection = faceoff::claims::project_capacity(&runs[0], "socketio").unwrap();
    assert_eq!((projection.steps, projection.measured_to), (4, 19_900));
    // One step is not a line: no projection.
    let one = [stepped_capacity_run(&[(
        "socketio",
        &[(&steps[..1], None)],
    )])];
    assert!(faceoff::claims::project_capacity(&one[0], "socketio").is_none());
}

#[test]
fn idle_keep_alive_connections_judge_the_80k_claim_on_an_http_target_with_a_projection() {
    let claims = registry();
    let id = "002-node-process-80000-250000-idle-connections";
    let claim = claims.get(id).unwrap();
    assert_eq!(
        (claim.workload.as_str(), claim.profile()),
        ("status", "idle-capacity")
    );
    // 40 MiB idle and 2 KiB per idle connection, measured up to the host's 19,900.
    let steps: &[(u64, f64)] = &[(1_000, 2.0), (10_000, 2.0), (19_900, 2.0)];
    let mut idle = stepped_capacity_run(&[("express", &[(steps, None)])]);
    idle.parameters.workload = "status".into();
    idle.parameters.profile = "idle-capacity".into();
    let v = claims.verdict(claim, std::slice::from_ref(&idle), &Bootstrap::default());
    assert_eq!(v.label(), "not-run", "{v:?}");
    let reason = v.why().unwrap();
    assert!(
        reason.contains("lower bound") && reason.contains("projection, not a verdict"),
        "{reason}"
    );
    // A closed-loop run of the same workload holds no idle connections.
    let closed = [run("status", 50, &[("express", &[1.0, 1.0, 1.0])])];
    assert!(why(&claims, id, &closed).contains("no capacity run"));
}
