//! `faceoff report` on a real results file (a short run of express and fastapi): every format,
//! the same verdicts as `faceoff claims`, and one clear line on bad input. No engine needed.

use assert_cmd::Command;
use predicates::prelude::*;

const FIXTURE: &str = "tests/fixtures/results-express-fastapi.json";

fn faceoff() -> Command {
    let mut cmd = Command::cargo_bin("faceoff").expect("binary built");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

fn stdout_of(args: &[&str]) -> String {
    let output = faceoff().args(args).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn report_json_is_the_results_file() {
    let json = stdout_of(&["report", FIXTURE, "--format", "json"]);
    let ours: faceoff::results::RunResults = serde_json::from_str(&json).unwrap();
    let original = faceoff::results::read(std::path::Path::new(FIXTURE)).unwrap();
    assert_eq!(ours, original);
    // Byte for byte what `faceoff run` writes for the same results.
    let dir = tempfile::tempdir().unwrap();
    let written = dir.path().join("results.json");
    faceoff::results::write(&written, &original).unwrap();
    assert_eq!(json, std::fs::read_to_string(&written).unwrap());
}

#[test]
fn report_defaults_to_markdown_on_stdout() {
    let md = stdout_of(&["report", FIXTURE]);
    assert!(md.starts_with("# faceoff: express vs fastapi"), "{md}");
    for section in ["## Summary", "## Verify", "## Claims", "## Environment"] {
        assert!(md.contains(section), "no {section}");
    }
}

#[test]
fn report_writes_to_the_file_given_with_o() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("faceoff.junit.xml");
    faceoff()
        .args(["report", FIXTURE, "--format", "junit", "-o"])
        .arg(&out)
        .assert()
        .success()
        .stdout("");
    let xml = std::fs::read_to_string(&out).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains(r#"<testsuite name="claims""#));
}

#[test]
fn report_reads_a_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(FIXTURE, dir.path().join("results.json")).unwrap();
    let md = stdout_of(&["report", dir.path().to_str().unwrap()]);
    assert!(md.contains("## Claims"));
}

/// The verdict of every claim, as `faceoff claims --run` gives it.
fn claims_verdicts() -> Vec<(String, String)> {
    let json = stdout_of(&["claims", "--run", FIXTURE, "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    doc["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["claim"]["id"].as_str().unwrap().to_string(),
                c["verdict"]["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn report_and_claims_give_the_same_verdicts() {
    let verdicts = claims_verdicts();
    assert!(
        verdicts.iter().any(|(_, v)| v != "not-run"),
        "the fixture judges some claims"
    );
    let md = stdout_of(&["report", FIXTURE, "--format", "markdown"]);
    let html = stdout_of(&["report", FIXTURE, "--format", "html"]);
    for (id, verdict) in &verdicts {
        let row = md
            .lines()
            .find(|l| l.starts_with(&format!("| `{id}` |")))
            .unwrap_or_else(|| panic!("no row for {id}"));
        assert!(
            row.ends_with(&format!("| **{verdict}** |")),
            "{id}: claims says {verdict}, report: {row}"
        );
        let at = html.find(&format!("<code>{id}</code>")).unwrap();
        let badge = &html[at..];
        let badge = &badge[badge.find("class=\"badge v-").unwrap()..];
        assert!(
            badge.starts_with(&format!("class=\"badge v-{verdict}\"")),
            "{id} in HTML"
        );
    }
}

#[test]
fn report_of_a_missing_file_names_it() {
    faceoff()
        .args(["report", "results/no-such-run/results.json"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("cannot read results/no-such-run/results.json")
                .and(predicate::str::is_match("^error: [^\n]*\n$").unwrap()),
        );
}

#[test]
fn report_of_a_file_that_is_not_results_says_so() {
    faceoff()
        .args(["report", "Cargo.toml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "Cargo.toml is not a faceoff results file",
        ));
}

#[test]
fn report_rejects_an_unknown_format() {
    faceoff()
        .args(["report", FIXTURE, "--format", "pdf"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid value 'pdf'"));
}

#[test]
fn report_refuses_a_results_file_from_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let mut results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    results["schema_version"] = serde_json::json!(99);
    let path = dir.path().join("results.json");
    std::fs::write(&path, results.to_string()).unwrap();
    faceoff()
        .arg("report")
        .arg(&path)
        .assert()
        // An unusable results file is "could not tell" (2) in every command.
        .code(2)
        .stderr(predicate::str::contains(
            "schema version 99, newer than this faceoff's 1",
        ));
}
