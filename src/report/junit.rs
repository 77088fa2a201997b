//! JUnit XML, so CI systems show verification results natively: one testsuite per target,
//! one testcase per contract case.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

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

#[cfg(test)]
mod tests {
    use super::*;
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
