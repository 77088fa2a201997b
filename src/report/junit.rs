//! JUnit XML, so CI systems show results natively. For `faceoff verify`: one testsuite per
//! target, one testcase per contract case. For a run's report: the contract cases checked
//! before timing, whether each target was measured, and one testcase per claim.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::export::{ExportError, Exporter};
use crate::analysis::Analysis;
use crate::claims::Verdict;
use crate::results::{TargetStatus, VerifyStatus};
use crate::verify::VerifyReport;

/// The verification report as JUnit XML.
pub fn verify_junit(report: &VerifyReport) -> Result<String, quick_junit::SerializeError> {
    let mut junit = Report::new(format!("faceoff verify {}", report.run_id));
    for target in &report.targets {
        let mut suite = TestSuite::new(target.target.clone());
        if let Some(error) = &target.error {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(error.clone());
            suite.add_test_case(TestCase::new("start", status));
        }
        for case in &target.cases {
            let status = if case.passed {
                TestCaseStatus::success()
            } else {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(case.failures.join("; "));
                status.set_description(case.description.clone());
                status
            };
            let mut test_case = TestCase::new(case.id.clone(), status);
            test_case
                .set_classname(format!("{}.{}", target.target, case.workload))
                .set_time(std::time::Duration::from_secs_f64(case.elapsed_ms / 1000.0));
            suite.add_test_case(test_case);
        }
        junit.add_test_suite(suite);
    }
    junit.to_string()
}

/// A run's report as JUnit XML:
/// - suite `verify <target>`: one testcase per contract case checked before timing (one
///   `contract` testcase when the file holds no cases: skipped, not run, or an older file);
/// - suite `measure`: one testcase per target, failed with the error when it was not measured;
/// - suite `claims`: one testcase per claim: reproduced passes; direction-only and
///   contradicted fail (the claim did not hold as stated); inconclusive and not-run are
///   skipped with the reason.
pub struct JunitExporter;

impl Exporter for JunitExporter {
    fn file_name(&self) -> &'static str {
        "report.junit.xml"
    }

    fn export(&self, analysis: &Analysis<'_>) -> Result<Vec<u8>, ExportError> {
        Ok(results_junit(analysis)?.into_bytes())
    }
}

fn status_with(status: TestCaseStatus, message: impl Into<String>) -> TestCaseStatus {
    let mut status = status;
    status.set_message(message.into());
    status
}

/// See [`JunitExporter`].
pub fn results_junit(analysis: &Analysis<'_>) -> Result<String, quick_junit::SerializeError> {
    let results = analysis.results;
    let mut junit = Report::new(format!("faceoff run {}", results.run_id));
    for target in &results.targets {
        let mut suite = TestSuite::new(format!("verify {}", target.target));
        if target.verify_cases.is_empty() {
            let status = match target.verify {
                VerifyStatus::Passed => TestCaseStatus::success(),
                VerifyStatus::Failed => status_with(
                    TestCaseStatus::non_success(NonSuccessKind::Failure),
                    target.verify_failures.join("; "),
                ),
                VerifyStatus::Skipped => status_with(
                    TestCaseStatus::skipped(),
                    "timed without the contract check (--skip-verify)",
                ),
                VerifyStatus::NotRun => status_with(
                    TestCaseStatus::skipped(),
                    "the target never reached the contract check",
                ),
            };
            let mut case = TestCase::new("contract", status);
            case.set_classname(format!("{}.{}", target.target, results.parameters.workload));
            suite.add_test_case(case);
        }
        for outcome in &target.verify_cases {
            let status = if outcome.passed {
                TestCaseStatus::success()
            } else {
                let mut status = status_with(
                    TestCaseStatus::non_success(NonSuccessKind::Failure),
                    outcome.failures.join("; "),
                );
                status.set_description(outcome.description.clone());
                status
            };
            let mut case = TestCase::new(outcome.id.clone(), status);
            case.set_classname(format!("{}.{}", target.target, outcome.workload))
                .set_time(std::time::Duration::from_secs_f64(
                    (outcome.elapsed_ms / 1000.0).max(0.0),
                ));
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }

    let mut measure = TestSuite::new("measure");
    for target in &analysis.targets {
        let result = target.result;
        let status = if result.status == TargetStatus::Failed {
            status_with(
                TestCaseStatus::non_success(NonSuccessKind::Error),
                result.error.clone().unwrap_or_else(|| "failed".into()),
            )
        } else {
            TestCaseStatus::success()
        };
        let mut case = TestCase::new(result.target.clone(), status);
        case.set_classname(format!("measure.{}", results.parameters.workload));
        if let Some(rps) = target.requests_per_sec {
            let mut out = format!(
                "{} trial(s), median {:.0} req/s [{:.0}, {:.0}]",
                result.trials.len(),
                rps.median,
                rps.ci.low,
                rps.ci.high
            );
            // A mixed profile: the run's workload's p99 in each window, and how many times
            // its p99 alone.
            for window in target.mixed.iter().flat_map(|m| &m.windows) {
                let p99 = window.main_p99_ms.map_or(f64::NAN, |e| e.median);
                match (&window.side, window.p99_ratio) {
                    (None, _) => out.push_str(&format!("; p99 alone {p99:.1} ms")),
                    (Some(side), ratio) => out.push_str(&format!(
                        "; p99 beside {side} {p99:.1} ms ({:.2}x alone)",
                        ratio.map_or(f64::NAN, |e| e.median)
                    )),
                }
            }
            case.set_system_out(out);
        }
        measure.add_test_case(case);
    }
    junit.add_test_suite(measure);

    let mut claims = TestSuite::new("claims");
    for (claim, verdict) in &analysis.verdicts {
        let theirs = super::text::theirs_text(verdict.theirs());
        let detail = match verdict.why() {
            Some(why) => format!("not-run: {why}; theirs: {theirs}"),
            None => format!(
                "{}: ours {}; theirs {theirs}",
                verdict.label(),
                super::text::ours_or_why(verdict)
            ),
        };
        let status = match verdict {
            Verdict::Reproduced { .. } => TestCaseStatus::success(),
            Verdict::DirectionOnly { .. } | Verdict::Contradicted { .. } => status_with(
                TestCaseStatus::non_success(NonSuccessKind::Failure),
                detail.clone(),
            ),
            Verdict::Inconclusive { .. } | Verdict::NotRun { .. } => {
                status_with(TestCaseStatus::skipped(), detail.clone())
            }
        };
        let mut case = TestCase::new(claim.id.clone(), status);
        // The seed's file stem: a dot in a classname reads as a package separator.
        let seed = std::path::Path::new(&claim.source).file_stem().map_or_else(
            || claim.source.clone(),
            |s| s.to_string_lossy().into_owned(),
        );
        case.set_classname(format!("claims.{seed}"))
            .set_system_out(format!("{detail}\nquote: {}", claim.quote));
        claims.add_test_case(case);
    }
    junit.add_test_suite(claims);
    junit.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_support::{analysis_of, fixture_results};

    #[test]
    fn a_mixed_run_names_each_windows_p99_in_the_measure_testcase() {
        let results = crate::analysis::test_support::mixed_results(2.0, 20.0, 3.0);
        let xml = analysis_of(&results, |a| results_junit(a).unwrap());
        assert!(xml.contains("p99 alone 2.0 ms"), "{xml}");
        assert!(
            xml.contains("p99 beside compute-10m 20.0 ms (10.00x alone)"),
            "{xml}"
        );
    }

    #[test]
    fn results_junit_has_one_testcase_per_claim_and_per_verify_case() {
        let results = fixture_results();
        analysis_of(&results, |analysis| {
            let xml = results_junit(analysis).unwrap();
            let cases: usize = results.targets.iter().map(|t| t.verify_cases.len()).sum();
            assert!(cases > 0, "the fixture was verified");
            let claims = analysis.verdicts.len();
            let targets = results.targets.len();
            assert_eq!(
                xml.matches("<testcase ").count(),
                cases + claims + targets,
                "{xml}"
            );
            assert!(
                xml.contains(&format!(r#"<testsuite name="claims" tests="{claims}""#)),
                "{xml}"
            );
            let not_run = analysis
                .verdicts
                .iter()
                .filter(|(_, v)| matches!(v, Verdict::NotRun { .. }))
                .count();
            assert!(not_run > 0);
            assert!(xml.matches("<skipped ").count() >= not_run, "{xml}");
        });
    }

    #[test]
    fn a_results_file_without_cases_gets_one_contract_test_per_target() {
        let mut results = fixture_results();
        for target in &mut results.targets {
            target.verify_cases.clear();
        }
        results.targets[1].verify = VerifyStatus::Skipped;
        analysis_of(&results, |analysis| {
            let xml = results_junit(analysis).unwrap();
            assert_eq!(
                xml.matches(r#"<testcase name="contract""#).count(),
                2,
                "{xml}"
            );
            assert!(xml.contains("--skip-verify"), "{xml}");
        });
    }

    #[test]
    fn a_failed_target_is_a_junit_error_and_a_failed_case_a_failure() {
        let mut results = fixture_results();
        results.targets[1].status = TargetStatus::Failed;
        results.targets[1].error = Some("fastapi exited with code 1".into());
        results.targets[0].verify_cases[0].passed = false;
        results.targets[0].verify_cases[0].failures = vec!["status: expected 200, got 500".into()];
        analysis_of(&results, |analysis| {
            let xml = results_junit(analysis).unwrap();
            assert!(xml.contains("fastapi exited with code 1"), "{xml}");
            assert!(xml.contains("status: expected 200, got 500"), "{xml}");
        });
    }
    use crate::verify::{CaseOutcome, TargetVerification};

    #[test]
    fn one_suite_per_target_and_failures_carry_the_difference() {
        let case = |id: &str, failures: Vec<String>| CaseOutcome {
            id: id.into(),
            workload: "orders".into(),
            description: "d".into(),
            passed: failures.is_empty(),
            failures,
            status: Some(400),
            elapsed_ms: 1.0,
        };
        let report = VerifyReport {
            schema_version: 1,
            run_id: "r".into(),
            started_at: "t".into(),
            finished_at: None,
            status: crate::results::RunStatus::Failed,
            workloads: vec![],
            targets: vec![
                TargetVerification::from_cases("express", vec![case("orders.ok", vec![])]),
                TargetVerification::from_cases(
                    "fastapi",
                    vec![case(
                        "orders.bad",
                        vec!["status: expected 400, got 422".into()],
                    )],
                ),
                TargetVerification::failed_to_start("django", "did not start".into()),
            ],
        };
        let xml = verify_junit(&report).unwrap();
        assert_eq!(xml.matches("<testsuite ").count(), 3, "{xml}");
        assert!(
            xml.contains(r#"<testsuite name="fastapi" tests="1""#),
            "{xml}"
        );
        assert!(xml.contains("status: expected 400, got 422"), "{xml}");
        assert!(xml.contains("did not start"), "{xml}");
    }
}
