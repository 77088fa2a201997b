//! The claims registry in fixtures/claims.toml: it loads, it covers every figure the seeds
//! quote, and nothing in it can be silently dropped.

use std::path::Path;

use faceoff::claims::{Claim, Claims, DEFAULT_PROFILE, Kind, Metric, Pairs};
use faceoff::stats::Bootstrap;

fn registry() -> Claims {
    Claims::load(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("fixtures/claims.toml loads")
}

fn close(x: f64, y: f64) -> bool {
    (x - y).abs() <= 1e-9 * y.abs().max(1.0)
}

/// The claim quoting `a` vs `b` for `a_target` vs `b_target` on `metric`.
fn find<'c>(
    claims: &'c Claims,
    a_target: &str,
    b_target: &str,
    metric: Metric,
    a: f64,
    b: f64,
) -> &'c Claim {
    claims
        .claims
        .iter()
        .find(|c| {
            c.a == a_target
                && c.b.as_deref() == Some(b_target)
                && c.metric == metric
                && c.a_value.is_some_and(|v| close(v, a))
                && c.b_value.is_some_and(|v| close(v, b))
        })
        .unwrap_or_else(|| panic!("no claim for {a_target} {a} vs {b_target} {b} on {metric}"))
}

fn with_ratio(claims: &Claims, metric: Metric, low: f64, high: f64) -> &Claim {
    claims
        .claims
        .iter()
        .find(|c| {
            c.metric == metric
                && c.ratio
                    .is_some_and(|r| close(r.low(), low) && close(r.high(), high))
        })
        .unwrap_or_else(|| panic!("no claim of {low}..{high} on {metric}"))
}

#[test]
fn every_seed_figure_in_design_md_is_in_the_registry() {
    let claims = registry();
    use Metric::*;
    // 003: Fastify vs FastAPI table.
    find(
        &claims,
        "fastify",
        "fastapi",
        RequestsPerSec,
        52_000.0,
        18_000.0,
    );
    let db = find(
        &claims,
        "fastify",
        "fastapi",
        RequestsPerSec,
        14_200.0,
        8_500.0,
    );
    assert_eq!(db.workload, "db");
    find(&claims, "fastify", "fastapi", LatencyP99Ms, 12.0, 45.0);
    find(&claims, "fastify", "fastapi", PeakMemoryMib, 65.0, 85.0);
    // 002: Express vs FastAPI, Node vs Python "40-60% higher", Django ASGI, connections.
    find(
        &claims,
        "express",
        "fastapi",
        RequestsPerSec,
        55_200.0,
        38_100.0,
    );
    find(&claims, "express", "fastapi", LatencyMeanMs, 4.5, 7.8);
    let node_python = find(
        &claims,
        "express",
        "fastapi",
        RequestsPerSec,
        12_450.0,
        8_200.0,
    );
    let ratio = node_python.ratio.expect("40-60% as a range");
    assert_eq!((ratio.low(), ratio.high()), (1.4, 1.6));
    let django = claims
        .claims
        .iter()
        .find(|c| c.kind == Kind::Absolute && c.a == "django")
        .expect("Django ASGI ~850,000 JSON responses/s");
    assert_eq!(django.value.map(|v| v.low()), Some(850_000.0));
    let connections = claims
        .claims
        .iter()
        .find(|c| c.kind == Kind::Absolute && c.value.is_some_and(|v| v.low() == 80_000.0))
        .expect("80,000-250,000 concurrent connections");
    assert_eq!(connections.value.map(|v| v.high()), Some(250_000.0));
    assert_eq!(
        (connections.workload.as_str(), connections.a.as_str()),
        ("chat", "socketio")
    );
    // 004: Sharkbench.
    let rps = find(
        &claims,
        "fastify",
        "fastapi",
        RequestsPerSec,
        9_340.0,
        1_185.0,
    );
    assert_eq!(rps.ratio.map(|r| r.low()), Some(7.9));
    find(&claims, "fastify", "fastapi", LatencyP50Ms, 3.4, 21.0);
    let leibniz = find(&claims, "fastify", "fastapi", DurationS, 3.27, 127.69);
    assert_eq!(
        (leibniz.workload.as_str(), leibniz.ratio.map(|r| r.low())),
        ("leibniz-large", Some(39.0))
    );
    // 001: Apache Bench at 100 and 1000+, WebSocket, three 1 s requests.
    let light = with_ratio(&claims, RequestsPerSec, 1.10, 1.18);
    assert_eq!(light.connections, Some(100));
    let heavy = with_ratio(&claims, RequestsPerSec, 1.3, 1.4);
    assert_eq!(heavy.min_connections, Some(1000));
    for metric in [MemoryPerConnectionKib, ConnectionsHeld] {
        let websocket = claims
            .claims
            .iter()
            .find(|c| c.workload == "chat" && c.metric == metric && c.b.is_some())
            .unwrap_or_else(|| panic!("WebSocket claim on {metric}"));
        assert_eq!(websocket.winner.as_deref(), Some("socketio"));
        assert_eq!(websocket.profile.as_deref(), Some("capacity"));
    }
    let sleeps = find(&claims, "express", "django-wsgi", DurationS, 1.0, 3.0);
    assert_eq!(sleeps.connections, Some(3));
}

#[test]
fn every_seed_article_has_claims() {
    let claims = registry();
    for seed in ["000_", "001_", "002_", "003_", "004_"] {
        let count = claims
            .claims
            .iter()
            .filter(|c| c.source.starts_with(seed) && c.id.starts_with(&seed[..3]))
            .count();
        assert!(count > 0, "no claim from seed {seed}");
    }
}

#[test]
fn every_claim_gets_a_verdict_even_with_no_results() {
    let claims = registry();
    let verdicts = claims.verdicts(&[], &Bootstrap::default());
    assert_eq!(verdicts.len(), claims.claims.len());
    for (claim, verdict) in &verdicts {
        let why = verdict
            .why()
            .unwrap_or_else(|| panic!("{} judged on nothing", claim.id));
        assert!(!why.is_empty());
        assert_eq!(verdict.label(), "not-run");
        assert_eq!(verdict.theirs().a, claim.a);
    }
}

#[test]
fn claims_on_unbuilt_workloads_name_what_is_missing() {
    let claims = registry();
    for (claim, verdict) in claims.verdicts(&[], &Bootstrap::default()) {
        if let Some(planned) = claims.planned(&claim.workload) {
            let why = verdict.why().unwrap();
            assert!(
                why.contains(&format!("`{}` workload", planned.name)),
                "{why}"
            );
            assert!(why.contains("cannot run yet"), "{why}");
        }
    }
}

#[test]
fn every_claim_is_pinned_to_the_articles_method() {
    let claims = registry();
    let claim = |id: &str| claims.get(id).unwrap_or_else(|| panic!("no claim {id}"));
    for id in [
        "004-sharkbench-fastify-vs-fastapi-rps",
        "004-sharkbench-fastify-vs-fastapi-median-latency",
    ] {
        let c = claim(id);
        assert_eq!(
            (c.workload.as_str(), c.profile()),
            ("sharkbench", "closed-32")
        );
    }
    let leibniz = claim("004-sharkbench-leibniz-node-3-27s-vs-python-127-69s");
    assert_eq!(
        (leibniz.workload.as_str(), leibniz.profile()),
        ("leibniz-large", "closed-1")
    );
    // Sleep claims at a concurrency where the server, not the sleep, is the limit.
    for c in claims.claims.iter().filter(|c| c.workload == "sleep") {
        assert_eq!(c.profile(), "closed-1000", "{}", c.id);
    }
    assert_eq!(claim("000-python-slower-per-request").profile(), "closed-1");
    assert_eq!(
        claim("003-python-better-cpu-heavy-multiprocessing").min_server_cpus,
        Some(2)
    );
    // The rest name their profile, or take the documented default.
    assert_eq!(
        claim("003-fastify-52000-vs-fastapi-18000-json").profile(),
        DEFAULT_PROFILE
    );
}

#[test]
fn language_level_claims_are_judged_on_every_node_and_python_pair() {
    let claims = registry();
    for id in [
        "000-node-faster-concurrent-io",
        "000-python-slower-per-request",
        "002-node-40-60pct-higher-throughput",
        "002-python-more-memory-per-worker",
    ] {
        assert_eq!(claims.get(id).unwrap().pairs, Pairs::Language, "{id}");
    }
    // Framework-level claims stay on the frameworks the article names.
    assert_eq!(
        claims
            .get("003-fastify-52000-vs-fastapi-18000-json")
            .unwrap()
            .pairs,
        Pairs::Named
    );
}

#[test]
fn a_claim_with_no_matching_run_is_not_run_with_the_command_that_runs_its_method() {
    let claims = registry();
    let verdicts = claims.verdicts(&[], &Bootstrap::default());
    let (_, rps) = verdicts
        .iter()
        .find(|(c, _)| c.id == "004-sharkbench-fastify-vs-fastapi-rps")
        .unwrap();
    let why = rps.why().unwrap();
    assert!(
        why.contains("--workload sharkbench") && why.contains("--profile closed-32"),
        "{why}"
    );
    let (_, per_request) = verdicts
        .iter()
        .find(|(c, _)| c.id == "000-python-slower-per-request")
        .unwrap();
    let why = per_request.why().unwrap();
    assert!(why.contains("--profile closed-1"), "{why}");
}
