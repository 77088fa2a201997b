//! The README's example GitHub Actions workflow and matrix, checked without any network:
//! the workflow parses, its matrix comes from `faceoff matrix` exactly as the README shows
//! it, and every `matrix.*` it uses is a key of that matrix.

use std::path::Path;
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// The first fenced block of `language` after the heading `heading`.
fn block_after(text: &str, heading: &str, language: &str) -> String {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("README has no `{heading}`"));
    let fence = format!("```{language}\n");
    let open = start
        + text[start..]
            .find(&fence)
            .unwrap_or_else(|| panic!("no {language} block after `{heading}`"))
        + fence.len();
    let close = open + text[open..].find("```").unwrap();
    text[open..close].to_string()
}

fn workflow() -> (String, Yaml) {
    let text = block_after(&readme(), "## In CI: one job per target", "yaml");
    let docs = YamlLoader::load_from_str(&text).expect("the README workflow is YAML");
    (text, docs.into_iter().next().expect("one document"))
}

/// The `faceoff matrix …` command of the workflow's plan job, as arguments.
fn matrix_args(workflow: &str) -> Vec<String> {
    let line = workflow
        .lines()
        .find(|l| l.contains("$(faceoff matrix"))
        .expect("the plan job runs faceoff matrix");
    let inner = line.split("$(faceoff ").nth(1).unwrap();
    let inner = &inner[..inner.find(')').unwrap()];
    inner.split_whitespace().map(str::to_string).collect()
}

fn faceoff_matrix(args: &[String]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_faceoff"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("faceoff runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one line for $GITHUB_OUTPUT");
    serde_json::from_str(&stdout).expect("faceoff matrix prints JSON")
}

#[test]
fn the_readme_workflow_parses_and_fans_out_over_the_matrix() {
    let (_, workflow) = workflow();
    let jobs = &workflow["jobs"];
    for job in ["plan", "run", "merge"] {
        assert!(!jobs[job].is_badvalue(), "job `{job}` missing");
    }
    assert_eq!(
        jobs["run"]["strategy"]["matrix"].as_str(),
        Some("${{ fromJSON(needs.plan.outputs.matrix) }}")
    );
    assert_eq!(jobs["run"]["needs"].as_str(), Some("plan"));
    assert_eq!(jobs["merge"]["needs"].as_str(), Some("run"));
    let runs = |job: &str| -> Vec<String> {
        jobs[job]["steps"]
            .as_vec()
            .unwrap()
            .iter()
            .filter_map(|step| step["run"].as_str().map(str::to_string))
            .collect()
    };
    assert!(
        runs("run")
            .iter()
            .any(|r| r.contains("faceoff run --targets ${{ matrix.target }}"))
    );
    let merge = runs("merge").join("\n");
    assert!(merge.contains("faceoff merge "), "{merge}");
    assert!(merge.contains("faceoff compare "), "{merge}");
    assert!(
        merge.contains("faceoff report merged.json --format markdown >> \"$GITHUB_STEP_SUMMARY\""),
        "{merge}"
    );
}

#[test]
fn the_readme_matrix_example_is_what_faceoff_matrix_prints() {
    let (text, _) = workflow();
    let printed = faceoff_matrix(&matrix_args(&text));
    let example: serde_json::Value =
        serde_json::from_str(&block_after(&readme(), "### `faceoff matrix`", "json"))
            .expect("the README's matrix example is JSON");
    assert_eq!(printed, example);
}

#[test]
fn every_matrix_key_the_workflow_uses_is_in_the_matrix() {
    let (text, _) = workflow();
    let printed = faceoff_matrix(&matrix_args(&text));
    let entries = printed["include"].as_array().expect("include is a list");
    assert!(!entries.is_empty());
    let used: Vec<&str> = text
        .split("${{ matrix.")
        .skip(1)
        .map(|rest| {
            rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
                .unwrap()
        })
        .collect();
    assert!(used.contains(&"target"), "{used:?}");
    for key in used {
        for entry in entries {
            assert!(entry.get(key).is_some(), "matrix.{key} is not in {entry}");
        }
    }
}
