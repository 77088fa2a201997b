//! The workloads and profiles pinned to the articles' methods (seed 004's Sharkbench figures):
//! their fixtures load, say what they stand for, and fit together.

use std::path::Path;
use std::time::Duration;

use faceoff::config::Fixtures;
use faceoff::contract::{Before, Contract};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn sharkbench_fetches_from_its_data_server_on_every_http_target() {
    let fixtures = Fixtures::load(root()).unwrap();
    let workload = fixtures.workload("sharkbench").unwrap();
    assert_eq!(workload.path, "/api/v1/periodic-table/element?symbol=He");
    assert_eq!(workload.services, ["sharkbench-data"]);
    let targets: Vec<String> = fixtures
        .select_targets_for(&[], workload)
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    for target in ["express", "fastify", "fastapi", "django", "django-wsgi"] {
        assert!(
            targets.iter().any(|t| t == target),
            "{target} serves sharkbench"
        );
    }

    let text = std::fs::read_to_string(root().join("fixtures/services.toml")).unwrap();
    let services: toml::Value = toml::from_str(&text).unwrap();
    let data = services["service"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str() == Some("sharkbench-data"))
        .expect("services.toml has sharkbench-data");
    assert_eq!(data["env"].as_str(), Some("SHARKBENCH_DATA_URL"));
    assert_eq!(data["url"].as_str(), Some("http://127.0.0.1:{port}"));
    // Outside the target's CPUs, as Sharkbench's data source is outside the framework's limit.
    assert_eq!(data["limits"].as_str(), Some("database"));
    let app = root().join(data["app_dir"].as_str().unwrap());
    for file in [
        "Dockerfile",
        "server.js",
        "data/element.json",
        "data/shells.json",
    ] {
        assert!(app.join(file).is_file(), "{} lacks {file}", app.display());
    }
}

#[test]
fn sharkbench_contract_checks_the_fields_and_the_data_server_down() {
    let contract = Contract::load(root()).unwrap();
    let cases = contract.cases_for(&["sharkbench".to_string()]);
    assert!(cases.iter().any(|c| c.expect.status == 200));
    let down: Vec<_> = cases
        .iter()
        .filter(|c| c.before == Some(Before::StopServices))
        .collect();
    assert!(!down.is_empty(), "a case with the data server down");
    assert!(
        down.iter()
            .all(|c| c.expect.status == 502 && c.expect.error)
    );
}

#[test]
fn leibniz_large_is_one_long_request_with_a_timeout_that_allows_it() {
    let fixtures = Fixtures::load(root()).unwrap();
    let workload = fixtures.workload("leibniz-large").unwrap();
    assert_eq!(workload.contract_workload(), "compute");
    let n: u64 = workload
        .path
        .split_once("n=")
        .and_then(|(_, n)| n.parse().ok())
        .expect("a plain n");
    // Within the contract's cap, which the compute cases check.
    let contract = Contract::load(root()).unwrap();
    let above_cap = contract
        .cases
        .iter()
        .find(|c| c.id == "compute.too_many_terms")
        .unwrap();
    let cap: u64 = above_cap
        .request
        .path
        .split_once("n=")
        .unwrap()
        .1
        .parse()
        .unwrap();
    assert!(n >= 10_000_000 && n < cap, "n = {n}");
    // Python takes about 200 ns per term on a two-core host: the timeout must allow it.
    let timeout = workload.request_timeout_or(Duration::from_secs(5));
    assert!(timeout >= Duration::from_nanos(n * 200) * 2, "{timeout:?}");
    assert_eq!(
        workload.request_timeout_or(Duration::from_secs(600)),
        Duration::from_secs(600),
        "--request-timeout can raise it"
    );
    let status = fixtures.workload("status").unwrap();
    assert_eq!(
        status.request_timeout_or(Duration::from_secs(5)),
        Duration::from_secs(5)
    );
}

#[test]
fn profiles_pinned_to_sharkbench_say_which_claims_they_serve() {
    let fixtures = Fixtures::load(root()).unwrap();
    let sharkbench = fixtures.profile("closed-32").unwrap();
    assert_eq!(sharkbench.connections, 32);
    assert!(sharkbench.description.contains("9,340"));
    let one = fixtures.profile("closed-1").unwrap();
    assert_eq!(one.connections, 1);
    assert!(one.description.contains("127.69"));
    // Long enough for at least two Python leibniz-large requests in a window.
    assert!(one.duration >= Duration::from_secs(20));
}
