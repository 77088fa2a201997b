use std::path::{Path, PathBuf};

use super::state::{Progress, State, StateError, attempts_in};
use super::*;
use crate::claims::Verdict;
use crate::results::RunStatus;
use crate::stats::Bootstrap;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> Fixtures {
    Fixtures::load(root()).unwrap()
}

fn registry() -> Claims {
    Claims::load(root()).unwrap()
}

/// This project's hosts: two CPUs, a hard limit of 20,000 open files.
const SMALL_HOST: Host = Host {
    cpus: 2,
    open_files: Some(20_000),
};

fn plan_with(host: Host, options: &Options) -> Plan {
    plan(&registry(), &fixtures(), host, options).unwrap()
}

fn run_for<'p>(plan: &'p Plan, workload: &str, profile: &str) -> &'p PlannedRun {
    plan.runs
        .iter()
        .find(|r| r.workload == workload && r.profile == profile)
        .unwrap_or_else(|| panic!("no {workload} {profile} run in {:#?}", plan.runs))
}

fn skipped<'p>(plan: &'p Plan, claim: &str) -> &'p Skipped {
    plan.skipped_entry(claim)
        .unwrap_or_else(|| panic!("{claim} is not left out"))
}

#[test]
fn every_claim_is_either_in_exactly_one_run_or_left_out_with_a_reason() {
    let registry = registry();
    let plan = plan_with(SMALL_HOST, &Options::default());
    for claim in &registry.claims {
        let runs = plan
            .runs
            .iter()
            .filter(|r| r.claims.contains(&claim.id))
            .count();
        let left_out = plan.skipped_entry(&claim.id);
        assert!(
            (runs == 1 && left_out.is_none()) || (runs == 0 && left_out.is_some()),
            "{}: in {runs} runs, left out: {left_out:?}",
            claim.id
        );
        if let Some(left_out) = left_out {
            assert!(!left_out.why.is_empty(), "{}", claim.id);
        }
    }
}

#[test]
fn claims_needing_the_same_workload_and_profile_share_one_run() {
    let plan = plan_with(SMALL_HOST, &Options::default());
    let mut seen = std::collections::BTreeSet::new();
    for run in &plan.runs {
        assert!(
            seen.insert((&run.workload, &run.profile, &run.cpuset)),
            "two runs of {} {}",
            run.workload,
            run.profile
        );
    }
    let status = run_for(&plan, "status", "closed-50");
    for claim in [
        "002-express-55200-vs-fastapi-38100-qps",
        "002-django-asgi-850000-json-per-sec",
        "003-fastify-52000-vs-fastapi-18000-json",
        "003-fastify-65mb-vs-fastapi-85mb",
    ] {
        assert!(status.claims.iter().any(|c| c == claim), "{claim}");
    }
    let keys: Vec<&str> = plan.runs.iter().map(|r| r.key.as_str()).collect();
    assert!(keys[0].starts_with("01-"), "{keys:?}");
    assert!(
        keys.iter().all(|k| !k.contains('/') && !k.contains(' ')),
        "keys name directories: {keys:?}"
    );
}

#[test]
fn a_language_claim_brings_every_node_and_python_target_that_serves_the_workload() {
    let plan = plan_with(SMALL_HOST, &Options::default());
    // orders has one claim, 000-python-competitive-for-crud: express vs django, language-level.
    let orders = run_for(&plan, "orders", "closed-50");
    assert_eq!(orders.claims, ["000-python-competitive-for-crud"]);
    assert_eq!(
        orders.targets,
        [
            "express",
            "fastify",
            "fastapi",
            "django",
            "django-wsgi",
            "nestjs",
            "nestjs-fastify",
            "flask"
        ],
        "every HTTP target of both languages; not fastapi-hybrid (hybrid only), not the chat servers"
    );
}

#[test]
fn quick_judges_a_language_claim_on_the_pair_it_names() {
    let quick = plan_with(
        SMALL_HOST,
        &Options {
            quick: true,
            ..Options::default()
        },
    );
    // 000-python-competitive-for-crud names express and django.
    let orders = run_for(&quick, "orders", "closed-50");
    assert_eq!(orders.targets, ["express", "django"]);
    assert_eq!(orders.duet_pairs, [["express", "django"]]);
}

#[test]
fn named_claims_bring_only_their_own_targets_and_groups_take_the_union() {
    let plan = plan_with(SMALL_HOST, &Options::default());
    assert_eq!(
        run_for(&plan, "status", "ab-100").targets,
        ["express", "fastapi"]
    );
    assert_eq!(
        run_for(&plan, "sharkbench", "closed-32").targets,
        ["fastify", "fastapi"]
    );
    assert_eq!(
        run_for(&plan, "chat", "capacity").targets,
        ["socketio", "python-socketio"]
    );
    assert_eq!(
        run_for(&plan, "sleep-1s", "three-slow").targets,
        ["express", "django-wsgi"]
    );
    // ab-1000 on status: two express-vs-fastapi claims, one run of the pair.
    let thousand = run_for(&plan, "status", "ab-1000");
    assert_eq!(thousand.targets, ["express", "fastapi"]);
    assert_eq!(thousand.claims.len(), 2);
}

#[test]
fn a_multi_core_claim_is_left_out_on_two_cpus_and_planned_on_more_cpus_where_there_are() {
    let claim = "003-python-better-cpu-heavy-multiprocessing";
    let small = plan_with(SMALL_HOST, &Options::default());
    let left_out = skipped(&small, claim);
    assert_eq!(left_out.kind, SkipKind::HostCannot);
    assert!(
        left_out.why.contains("≥ 2 CPUs") && left_out.why.contains("this host has 2"),
        "{}",
        left_out.why
    );

    let big = plan_with(
        Host {
            cpus: 4,
            open_files: Some(20_000),
        },
        &Options::default(),
    );
    let run = big.run_of(claim).expect("planned on four CPUs");
    assert_eq!(run.cpuset.as_deref(), Some("1-2"));
    assert!(run.key.ends_with("offload-closed-50-cpus-2"), "{}", run.key);
    assert!(
        run.run_args(Path::new("out"))
            .windows(2)
            .any(|w| w == ["--cpuset", "1-2"])
    );
}

#[test]
fn capacity_claims_beyond_the_open_file_limit_are_left_out_and_the_others_stay() {
    let big_claim = "002-node-process-80000-250000-connections";
    let small = plan_with(SMALL_HOST, &Options::default());
    let left_out = skipped(&small, big_claim);
    assert_eq!(left_out.kind, SkipKind::HostCannot);
    assert!(
        left_out.why.contains("80000") && left_out.why.contains("20000"),
        "{}",
        left_out.why
    );
    let chat = run_for(&small, "chat", "capacity");
    for claim in [
        "000-node-thousands-of-persistent-connections",
        "001-websocket-node-more-connections",
        "001-websocket-node-less-memory",
    ] {
        assert!(chat.claims.iter().any(|c| c == claim), "{claim}");
    }

    let roomy = plan_with(
        Host {
            cpus: 2,
            open_files: Some(1 << 20),
        },
        &Options::default(),
    );
    assert!(roomy.run_of(big_claim).is_some());
    let unknown = plan_with(
        Host {
            cpus: 2,
            open_files: None,
        },
        &Options::default(),
    );
    assert!(
        unknown.run_of(big_claim).is_some(),
        "an unknown limit is tried"
    );
}

#[test]
fn claims_on_planned_workloads_are_left_out_as_what_faceoff_cannot_run_yet() {
    // Every workload the registry once planned runs now; plan one back to see the rule.
    let mut registry = registry();
    registry.planned.push(crate::claims::PlannedWorkload {
        name: "numeric".into(),
        needs: "NumPy".into(),
    });
    let plan = plan(&registry, &fixtures(), SMALL_HOST, &Options::default()).unwrap();
    for claim in [
        "000-python-wins-native-compute",
        "002-python-wins-cpu-bound-numerical",
    ] {
        let left_out = skipped(&plan, claim);
        assert_eq!(left_out.kind, SkipKind::FaceoffCannot);
        assert!(
            left_out.why.contains("`numeric` workload"),
            "{}",
            left_out.why
        );
    }
}

#[test]
fn targets_option_leaves_out_claims_that_need_other_targets_and_narrows_language_claims() {
    let options = Options {
        targets: vec!["express".into(), "fastapi".into()],
        ..Options::default()
    };
    let plan = plan_with(SMALL_HOST, &options);
    let fastify = skipped(&plan, "003-fastify-52000-vs-fastapi-18000-json");
    assert_eq!(fastify.kind, SkipKind::Excluded);
    assert!(fastify.why.contains("fastify"), "{}", fastify.why);
    assert_eq!(
        skipped(&plan, "001-three-sleeps-sync-python-3s-node-1s").kind,
        SkipKind::Excluded
    );
    // express vs django, language-level: express and fastapi are a Node and a Python target.
    assert_eq!(
        run_for(&plan, "orders", "closed-50").targets,
        ["express", "fastapi"]
    );
    assert!(
        plan.runs
            .iter()
            .all(|r| r.targets.iter().all(|t| t == "express" || t == "fastapi"))
    );
    // Only Node targets: no language claim has a Python side.
    let node_only = plan_with(
        SMALL_HOST,
        &Options {
            targets: vec!["express".into(), "fastify".into()],
            ..Options::default()
        },
    );
    let crud = skipped(&node_only, "000-python-competitive-for-crud");
    assert!(crud.why.contains("python target"), "{}", crud.why);
}

#[test]
fn only_and_workload_options_plan_just_those_claims() {
    let options = Options {
        only: vec![
            "002-express-55200-vs-fastapi-38100-qps".into(),
            "001-fastapi-10-15pct-slower-at-100".into(),
        ],
        ..Options::default()
    };
    let plan = plan_with(SMALL_HOST, &options);
    assert_eq!(plan.runs.len(), 2);
    assert_eq!(plan.runs[0].key, "01-status-closed-50");
    assert_eq!(plan.runs[1].key, "02-status-ab-100");
    assert!(
        plan.runs
            .iter()
            .all(|r| r.targets == ["express", "fastapi"])
    );
    assert!(
        plan.skipped
            .iter()
            .all(|s| s.kind != SkipKind::Excluded || s.why.contains("--only"))
    );

    let sharkbench = plan_with(
        SMALL_HOST,
        &Options {
            workloads: vec!["sharkbench".into()],
            ..Options::default()
        },
    );
    assert_eq!(sharkbench.runs.len(), 1);
    assert_eq!(sharkbench.runs[0].claims.len(), 2);

    let unknown = super::plan(
        &registry(),
        &fixtures(),
        SMALL_HOST,
        &Options {
            only: vec!["no-such-claim".into()],
            ..Options::default()
        },
    )
    .unwrap_err();
    assert!(unknown.to_string().contains("no-such-claim"), "{unknown}");
    let bad_target = super::plan(
        &registry(),
        &fixtures(),
        SMALL_HOST,
        &Options {
            targets: vec!["nginx".into()],
            ..Options::default()
        },
    )
    .unwrap_err();
    assert!(bad_target.to_string().contains("nginx"), "{bad_target}");
}

#[test]
fn quick_takes_three_trials_and_short_windows_but_keeps_slow_requests_windows_and_single_ramps() {
    let full = plan_with(SMALL_HOST, &Options::default());
    let quick = plan_with(
        SMALL_HOST,
        &Options {
            quick: true,
            ..Options::default()
        },
    );
    let status = run_for(&quick, "status", "closed-50");
    assert_eq!(status.trials, MIN_ROUNDS as u32);
    assert_eq!(status.duration_s, 5.0);
    assert_eq!(status.warmup_s, 1.0);
    let full_status = run_for(&full, "status", "closed-50");
    assert_eq!(full_status.trials, 5);
    assert_eq!(full_status.duration_s, 10.0);
    // A Python request of leibniz-large takes seconds: its window is shortened less.
    assert_eq!(
        run_for(&quick, "leibniz-large", "closed-1").duration_s,
        QUICK_SLOW_WINDOW.as_secs_f64()
    );
    assert_eq!(run_for(&full, "leibniz-large", "closed-1").duration_s, 30.0);
    let ramp = run_for(&quick, "chat", "capacity");
    assert_eq!(
        ramp.trials, 3,
        "the profile's one ramp would leave the socketio vs python-socketio claims inconclusive"
    );
    assert_eq!(ramp.duration_s, 60.0);
    assert_eq!(run_for(&full, "chat", "capacity").trials, 3);
    let one_ramp = plan_with(
        SMALL_HOST,
        &Options {
            only: vec!["000-node-thousands-of-persistent-connections".into()],
            ..Options::default()
        },
    );
    assert_eq!(
        one_ramp.runs[0].trials, 1,
        "holding 1,000 connections once settles it"
    );
    assert_eq!(one_ramp.runs[0].targets, ["socketio"]);
    assert!(quick.estimate_s() < full.estimate_s());

    let pinned = plan_with(
        SMALL_HOST,
        &Options {
            quick: true,
            trials: Some(4),
            duration_s: Some(1.0),
            warmup_s: Some(0.0),
            ..Options::default()
        },
    );
    let status = run_for(&pinned, "status", "closed-50");
    assert_eq!(
        (status.trials, status.duration_s, status.warmup_s),
        (4, 1.0, 0.0)
    );
    assert_eq!(
        run_for(&pinned, "chat", "capacity").duration_s,
        60.0,
        "--duration sets windows, not a ramp's budget"
    );
}

#[test]
fn duets_are_measured_unless_no_claim_of_the_run_is_judged_on_throughput() {
    let plan = plan_with(SMALL_HOST, &Options::default());
    let throughput = run_for(&plan, "status", "closed-50");
    assert!(throughput.duet);
    assert!(
        !throughput
            .run_args(Path::new("o"))
            .contains(&"--no-duet".to_string())
    );
    // 000-python-slower-per-request is judged on p50 latency at one connection.
    let latency = run_for(&plan, "status", "closed-1");
    assert!(!latency.duet);
    assert!(
        latency
            .run_args(Path::new("o"))
            .contains(&"--no-duet".to_string())
    );
    assert!(
        latency.summary().contains("no duets"),
        "{}",
        latency.summary()
    );
    assert!(
        !run_for(&plan, "chat", "capacity").duet,
        "not a closed loop"
    );
}

#[test]
fn the_estimate_counts_every_start_window_contract_check_and_duet_round() {
    let fixtures = fixtures();
    let targets: Vec<&Target> = fixtures
        .targets
        .iter()
        .filter(|t| t.name == "express" || t.name == "fastapi")
        .collect();
    let status = fixtures.workload("status").unwrap();
    // Solo: 2 targets × 3 trials × (start + warm-up 1 + window 5), and 2 contract checks,
    // each in a start of its own.
    let solo = 2.0 * 3.0 * (START_S + 1.0 + 5.0) + 2.0 * (START_S + VERIFY_S);
    // Duets: 1 pair × 3 rounds × 2 start orders × (two starts + each warmed alone +
    // together + window).
    let duets = 3.0 * 2.0 * (2.0 * START_S + 2.0 * 1.0 + 1.0 + 5.0);
    let pair = [["express".to_string(), "fastapi".to_string()]];
    let closed =
        |pairs: &[[String; 2]]| estimate(LoadMode::Closed, status, &targets, 3, 5.0, 1.0, pairs);
    assert_eq!(closed(&[]), solo);
    assert_eq!(closed(&pair), solo + duets);
    // Each trial of the db workload also starts a PostgreSQL.
    let db = fixtures.workload("db").unwrap();
    let with_db = estimate(LoadMode::Closed, db, &targets, 3, 5.0, 1.0, &[]);
    // (3 trials and the check's start.)
    assert_eq!(with_db, solo + 2.0 * 4.0 * SERVICE_START_S);
    // A ramp counts its whole budget per target and trial.
    let chat = fixtures.workload("chat").unwrap();
    let ramp = estimate(LoadMode::Capacity, chat, &targets, 1, 60.0, 0.0, &[]);
    assert_eq!(ramp, 2.0 * (START_S + 60.0) + 2.0 * VERIFY_S);
    let plan = plan_with(SMALL_HOST, &Options::default());
    assert_eq!(
        plan.estimate_s(),
        plan.runs.iter().map(|r| r.estimate_s).sum::<f64>()
    );
}

#[test]
fn durations_read_as_flags_and_for_people() {
    assert_eq!(duration_arg(5.0), "5s");
    assert_eq!(duration_arg(1.5), "1500ms");
    assert_eq!(duration_arg(0.0), "0s");
    assert_eq!(show_duration(45.0), "45 s");
    assert_eq!(show_duration(600.0), "10 min");
    assert_eq!(show_duration(3900.0), "1 h 05 min");
}

#[test]
fn a_planned_run_is_the_faceoff_run_command_a_user_would_type() {
    let plan = plan_with(
        SMALL_HOST,
        &Options {
            quick: true,
            ..Options::default()
        },
    );
    let run = run_for(&plan, "status", "ab-100");
    assert_eq!(
        run.command_line(),
        "faceoff run --workload status --profile ab-100 --targets express,fastapi --trials 3 --duration 5s --warmup 1s"
    );
    let args = run.run_args(Path::new("repro/runs/x"));
    assert_eq!(&args[args.len() - 2..], ["--out", "repro/runs/x"]);
}

#[test]
fn plans_of_the_same_options_are_the_same_and_others_say_how_they_differ() {
    let a = plan_with(SMALL_HOST, &Options::default());
    let mut b = plan_with(SMALL_HOST, &Options::default());
    assert!(a.differences(&b).is_empty());
    b.runs[0].estimate_s *= 2.0;
    assert!(
        a.differences(&b).is_empty(),
        "another estimate of the same runs is the same plan"
    );
    let quick = plan_with(
        SMALL_HOST,
        &Options {
            quick: true,
            ..Options::default()
        },
    );
    let differences = a.differences(&quick);
    assert!(
        differences.iter().any(|d| d.contains("--quick")),
        "{differences:?}"
    );
}

// ---------------------------------------------------------------- the state file

/// A plan of two runs (status at closed-50 and ab-100, express and fastapi).
fn two_run_plan() -> Plan {
    plan_with(
        SMALL_HOST,
        &Options {
            quick: true,
            only: vec![
                "002-express-55200-vs-fastapi-38100-qps".into(),
                "001-fastapi-10-15pct-slower-at-100".into(),
            ],
            ..Options::default()
        },
    )
}

/// Writes a results file with `status` as run `key`'s attempt `run_id` under `dir`, and
/// returns its path relative to `dir`.
fn write_attempt(dir: &Path, key: &str, run_id: &str, status: RunStatus) -> PathBuf {
    let mut results = crate::analysis::test_support::fixture_results();
    results.run_id = run_id.to_string();
    results.status = status;
    let relative = PathBuf::from(state::RUNS_DIR)
        .join(key)
        .join(run_id)
        .join("results.json");
    crate::results::write(&dir.join(&relative), &results).unwrap();
    relative
}

#[test]
fn the_state_file_round_trips_and_is_replaced_whole() {
    let dir = tempfile::tempdir().unwrap();
    assert!(State::read(dir.path()).unwrap().is_none());
    let mut state = State::new(two_run_plan(), "2026-12-01T10:00:00Z");
    state.runs[0].status = Progress::Complete;
    state.runs[0].results = Some("runs/01-status-closed-50/r1/results.json".into());
    state.write(dir.path(), "2026-12-01T10:05:00Z").unwrap();
    let read = State::read(dir.path()).unwrap().unwrap();
    assert_eq!(read, state);
    assert_eq!(read.updated_at, "2026-12-01T10:05:00Z");
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(files, [state::STATE_FILE], "no temporary file left");
}

#[test]
fn resume_skips_complete_runs_and_redoes_one_killed_mid_way() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = State::new(two_run_plan(), "t0");
    let first = write_attempt(
        dir.path(),
        "01-status-closed-50",
        "20261201T100000Z-aaaaaa",
        RunStatus::Complete,
    );
    state.runs[0].status = Progress::Complete;
    state.runs[0].results = Some(first);
    // SIGKILL mid-way: the state still says running, so does the results file.
    write_attempt(
        dir.path(),
        "02-status-ab-100",
        "20261201T100500Z-bbbbbb",
        RunStatus::Running,
    );
    state.runs[1].status = Progress::Running;
    assert_eq!(state.to_do(dir.path()), [1]);
    assert!(!state.all_complete(dir.path()));
    assert_eq!(
        attempts_in(&dir.path().join("runs/02-status-ab-100")),
        [dir.path()
            .join("runs/02-status-ab-100/20261201T100500Z-bbbbbb/results.json")]
    );
    assert_eq!(
        state.remaining_estimate_s(dir.path()),
        state.plan.runs[1].estimate_s
    );

    // Interrupted and failed runs are redone too; a complete one whose file is gone as well.
    for status in [Progress::Interrupted, Progress::Failed, Progress::Pending] {
        state.runs[1].status = status;
        assert_eq!(state.to_do(dir.path()), [1], "{status:?}");
    }
    state.runs[0].results = Some("runs/01-status-closed-50/gone/results.json".into());
    assert_eq!(state.to_do(dir.path()), [0, 1]);
}

#[test]
fn a_state_file_of_another_format_version_is_refused_with_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(state::STATE_FILE),
        r#"{"schema_version": 7}"#,
    )
    .unwrap();
    let err = State::read(dir.path()).unwrap_err();
    assert!(matches!(err, StateError::Version { found: 7, .. }), "{err}");
    std::fs::write(dir.path().join(state::STATE_FILE), "not json").unwrap();
    assert!(matches!(
        State::read(dir.path()).unwrap_err(),
        StateError::Parse { .. }
    ));
}

// ---------------------------------------------------------------- the report

#[test]
fn the_report_judges_the_finished_runs_and_a_partial_one_says_what_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry();
    let mut state = State::new(two_run_plan(), "t0");
    // The fixture is a complete express + fastapi status run at 50 connections, 3 trials.
    let first = write_attempt(
        dir.path(),
        "01-status-closed-50",
        "20261201T100000Z-aaaaaa",
        RunStatus::Complete,
    );
    state.runs[0].status = Progress::Complete;
    state.runs[0].results = Some(first.clone());
    state.runs[1].status = Progress::Interrupted;
    let runs = vec![crate::results::read(&dir.path().join(&first)).unwrap()];
    let bootstrap = Bootstrap::default();
    let verdicts = report::judge(&registry, &state, dir.path(), &runs, &bootstrap);
    assert_eq!(verdicts.len(), registry.claims.len());
    let verdict_of = |id: &str| &verdicts.iter().find(|(c, _)| c.id == id).unwrap().1;
    assert_ne!(
        verdict_of("002-express-55200-vs-fastapi-38100-qps").label(),
        "not-run"
    );
    let waiting = verdict_of("001-fastapi-10-15pct-slower-at-100");
    assert!(
        waiting.why().is_some_and(|w| w.contains("02-status-ab-100")
            && w.contains("interrupted")
            && w.contains("--resume")
            && w.contains("redoes it")),
        "{waiting:?}"
    );
    let excluded = verdict_of("003-fastify-52000-vs-fastapi-18000-json");
    assert!(
        excluded.why().is_some_and(|w| w.contains("--only")),
        "{excluded:?}"
    );

    let md = report::markdown(&verdicts, &state, dir.path(), &bootstrap);
    assert!(
        md.contains("**partial**: 1 of 2 planned runs complete"),
        "{md}"
    );
    assert!(md.contains("**Quick**"), "{md}");
    assert!(md.contains("## Not judged here"), "{md}");
    assert!(md.contains("`02-status-ab-100` | interrupted"), "{md}");
    for (claim, _) in &verdicts {
        assert!(
            md.contains(&format!("`{}`", claim.id)),
            "{} missing",
            claim.id
        );
    }
    let line = report::summary_line(&verdicts, &state, dir.path());
    assert!(
        line.contains("PARTIAL: 1 of 2 runs complete") && line.contains("quick"),
        "{line}"
    );

    let document = report::document(&verdicts, &state, dir.path(), &runs, bootstrap);
    let json = serde_json::to_value(&document).unwrap();
    assert_eq!(json["reproduction"]["complete"], false);
    assert_eq!(json["reproduction"]["quick"], true);
    assert_eq!(json["reproduction"]["runs"][1]["status"], "interrupted");
    assert_eq!(json["runs"][0], "20261201T100000Z-aaaaaa");
    let claims = json["claims"].as_array().unwrap();
    assert_eq!(claims.len(), registry.claims.len());
    let numeric = claims
        .iter()
        .find(|c| c["claim"]["id"] == "000-python-wins-native-compute")
        .unwrap();
    assert_eq!(numeric["not_judged_here"], "excluded");
}

#[test]
fn a_claim_the_host_cannot_judge_keeps_the_planners_reason_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry();
    let state = State::new(plan_with(SMALL_HOST, &Options::default()), "t0");
    let verdicts = report::judge(&registry, &state, dir.path(), &[], &Bootstrap::default());
    let (_, verdict) = verdicts
        .iter()
        .find(|(c, _)| c.id == "003-python-better-cpu-heavy-multiprocessing")
        .unwrap();
    assert!(matches!(verdict, Verdict::NotRun { .. }));
    assert!(
        verdict.why().is_some_and(|w| w.contains("this host has 2")),
        "{verdict:?}"
    );
    let md = report::markdown(&verdicts, &state, dir.path(), &Bootstrap::default());
    // The multi-core claim, seed 002's 80,000 connections (on chat and on idle keep-alive
    // connections), and the eight multi-core statements (2+ server CPUs).
    assert!(md.contains("### This host cannot judge (11)"), "{md}");
    // Every workload the registry once planned (numeric the last) runs now.
    assert!(!md.contains("### Not in faceoff yet"), "{md}");
}

#[test]
fn duets_measure_only_the_pairs_the_claims_compare() {
    let plan = plan_with(SMALL_HOST, &Options::default());
    let leibniz = run_for(&plan, "leibniz-large", "closed-1");
    // A language-level claim compares every Node target with every Python one, never two
    // targets of one language.
    let language = |name: &str| {
        fixtures()
            .targets
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.language)
            .unwrap()
    };
    assert!(!leibniz.duet_pairs.is_empty());
    for [a, b] in &leibniz.duet_pairs {
        assert_ne!(language(a), language(b), "{a}/{b}");
    }
    let every_pair = leibniz.targets.len() * (leibniz.targets.len() - 1) / 2;
    assert!(leibniz.duet_pairs.len() < every_pair);
    let args = leibniz.run_args(Path::new("o"));
    let flag = args.iter().position(|a| a == "--duet-pairs").unwrap();
    assert_eq!(
        args[flag + 1].split(',').count(),
        leibniz.duet_pairs.len(),
        "{args:?}"
    );
    // The estimate counts the chosen pairs only.
    let fixtures = fixtures();
    let targets: Vec<&Target> = fixtures
        .targets
        .iter()
        .filter(|t| leibniz.targets.contains(&t.name))
        .collect();
    let workload = fixtures.workload("leibniz-large").unwrap();
    let all: Vec<[String; 2]> = crate::run::duet_pairs(&[], &leibniz.targets).unwrap();
    let with = |pairs: &[[String; 2]]| {
        estimate(
            leibniz.mode,
            workload,
            &targets,
            leibniz.trials,
            leibniz.duration_s,
            leibniz.warmup_s,
            pairs,
        )
    };
    assert_eq!(leibniz.estimate_s, with(&leibniz.duet_pairs));
    assert!(leibniz.estimate_s < with(&all));
}

#[test]
fn a_mixed_run_is_estimated_with_a_window_alone_and_one_beside_each_side() {
    let plan = plan_with(SMALL_HOST, &Options::default());
    let mixed = run_for(&plan, "status", "mixed");
    assert_eq!(mixed.targets, ["express", "fastapi"]);
    // Each target: 5 trials of three windows of 1 s warm-up and 5 s.
    assert!(
        mixed.estimate_s >= 2.0 * 5.0 * 3.0 * 6.0,
        "{}",
        mixed.estimate_s
    );
}

#[test]
fn the_scaling_statements_are_not_run_on_two_cpus_naming_three_and_run_the_variant_against_its_base_on_four()
 {
    let claims = [
        (
            "002-node-cluster-uses-multiple-cores",
            ["fastify-cluster", "fastify"],
        ),
        (
            "002-python-workers-use-multiple-cores",
            ["fastapi-workers", "fastapi"],
        ),
        (
            "004-python-threads-limited-for-cpu",
            ["django-wsgi-workers", "django-wsgi-gthread"],
        ),
    ];
    let small = plan_with(SMALL_HOST, &Options::default());
    for (claim, _) in claims {
        let left_out = skipped(&small, claim);
        assert_eq!(left_out.kind, SkipKind::HostCannot, "{claim}");
        assert!(
            left_out.why.contains("(3 in all)"),
            "{claim}: {}",
            left_out.why
        );
    }
    let big = plan_with(
        Host {
            cpus: 4,
            open_files: Some(20_000),
        },
        &Options::default(),
    );
    for (claim, pair) in claims {
        let run = big.run_of(claim).expect("planned on four CPUs");
        assert_eq!(run.cpuset.as_deref(), Some("1-2"), "{claim}");
        for target in pair {
            assert!(
                run.targets.iter().any(|t| t == target),
                "{claim}: {:?}",
                run.targets
            );
        }
    }
}
