//! The JSON report: the results file itself, and the JSON Schema of its format generated
//! from the Rust types (checked in as `fixtures/results.schema.json`).

use super::export::{ExportError, Exporter};
use crate::analysis::Analysis;
use crate::results::RunResults;

/// Where the schema of results.json is checked in, relative to the repository root.
pub const SCHEMA_FILE: &str = "fixtures/results.schema.json";

/// Writes the results as `faceoff run` does (pretty, one trailing newline), so the JSON
/// report of a results file is that file.
pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn file_name(&self) -> &'static str {
        "results.json"
    }

    fn export(&self, analysis: &Analysis<'_>) -> Result<Vec<u8>, ExportError> {
        let mut bytes = serde_json::to_vec_pretty(analysis.results)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// The JSON Schema (draft 2020-12) of results.json, as checked in: pretty, one trailing
/// newline.
pub fn results_schema() -> String {
    let mut schema = schemars::schema_for!(RunResults);
    schema.insert(
        "$comment".into(),
        format!(
            "faceoff results.json, schema_version {}; generated from the Rust types by schemars",
            crate::results::SCHEMA_VERSION
        )
        .into(),
    );
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema is plain JSON values");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_support::{analysis_of, fixture_results, repo_root};

    #[test]
    fn json_report_is_the_results_file_and_reads_back_identical() {
        let results = fixture_results();
        let bytes = analysis_of(&results, |a| JsonExporter.export(a).unwrap());
        let back: RunResults = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, results);
        assert_eq!(back.schema_version, crate::results::SCHEMA_VERSION);
    }

    /// The checked-in schema is what the types generate; set FACEOFF_UPDATE_SCHEMA=1 to
    /// rewrite it after changing the results types.
    #[test]
    fn checked_in_schema_matches_the_results_types() {
        let path = repo_root().join(SCHEMA_FILE);
        let generated = results_schema();
        if std::env::var_os("FACEOFF_UPDATE_SCHEMA").is_some() {
            // Atomically: the validation test may be reading the file at the same time.
            let mut tmp = tempfile::NamedTempFile::new_in(path.parent().unwrap()).unwrap();
            std::io::Write::write_all(&mut tmp, generated.as_bytes()).unwrap();
            tmp.persist(&path).unwrap();
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "{} differs from the schema the results types generate: run `FACEOFF_UPDATE_SCHEMA=1 cargo test --lib checked_in_schema` and commit it",
            path.display()
        );
    }

    #[test]
    fn a_real_results_file_validates_against_the_checked_in_schema() {
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(repo_root().join(SCHEMA_FILE)).unwrap())
                .unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let results: serde_json::Value =
            serde_json::from_str(&crate::analysis::test_support::fixture_text()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&results)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }

    #[test]
    fn the_schema_rejects_a_results_file_with_a_wrong_type() {
        let schema: serde_json::Value = serde_json::from_str(&results_schema()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let mut results: serde_json::Value =
            serde_json::from_str(&crate::analysis::test_support::fixture_text()).unwrap();
        results["status"] = serde_json::json!("finished-ish");
        results["targets"][0]["trials"][0]["requests"] = serde_json::json!("many");
        assert_eq!(validator.iter_errors(&results).count(), 2);
    }
}
