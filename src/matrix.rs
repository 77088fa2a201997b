//! `faceoff matrix`: the targets as a GitHub Actions matrix, so a workflow can fan them out
//! over jobs (`strategy.matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}`), one
//! `faceoff run --targets X` per job, then `faceoff merge` joins the files.

use serde::{Deserialize, Serialize};

use crate::config::Target;

/// A GitHub Actions matrix: `{"include": [{"target": …}, …]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    pub include: Vec<MatrixEntry>,
}

/// One job of the matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixEntry {
    pub target: String,
    pub language: String,
    pub framework: String,
    /// The workload every job runs, when one was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// The load profile every job runs, when one was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// One job per target, in the order given.
pub fn matrix(targets: &[Target], workload: Option<&str>, profile: Option<&str>) -> Matrix {
    Matrix {
        include: targets
            .iter()
            .map(|target| MatrixEntry {
                target: target.name.clone(),
                language: target.language.to_string(),
                framework: target.framework.clone(),
                workload: workload.map(str::to_string),
                profile: profile.map(str::to_string),
            })
            .collect(),
    }
}

impl Matrix {
    /// One line of JSON, as `$GITHUB_OUTPUT` wants it.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"include":[]}"#.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_target_is_one_job_with_the_named_workload() {
        let fixtures =
            crate::config::Fixtures::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        let targets = fixtures
            .select_targets(&["fastify".into(), "fastapi".into()])
            .unwrap();
        let line = matrix(&targets, Some("status"), None).to_json_line();
        assert!(!line.contains('\n'));
        assert_eq!(
            line,
            r#"{"include":[{"target":"fastify","language":"node","framework":"fastify","workload":"status"},{"target":"fastapi","language":"python","framework":"fastapi","workload":"status"}]}"#
        );
        let parsed: Matrix = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed.include.len(), 2);
    }
}
