//! Version sensitivity of a version-matrix run (`faceoff run --node 20,24 --python 3.11,3.13`).
//!
//! Such a run holds each target once per version (`express@node20`, `express@node24`). A
//! *slice* is the run seen at one version of each runtime: its variants renamed back to their
//! targets, so comparisons and claims read exactly as in a plain run. The report's top line
//! says whether the direction of every comparison, and every claim's verdict, held across
//! the slices, with the figures.

use std::collections::BTreeMap;

use crate::claims::Claims;
use crate::results::RunResults;
pub use crate::results::versions::{VersionSlice, judged_slice, slices};
use crate::stats::Bootstrap;

/// What the version matrix changed, for the reports' top line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sensitivity {
    /// True when a comparison's direction or a claim's verdict differs between slices.
    pub changed: bool,
    /// One line, with the figures.
    pub line: String,
    /// The slice the claims of the report were judged on: the pinned versions when the run
    /// has them, else the newest.
    pub judged_on: String,
}

fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 0 {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whether the run's comparisons and claims held across its versions; `None` for a run with
/// fewer than two slices.
pub fn sensitivity(
    results: &RunResults,
    claims: &Claims,
    bootstrap: &Bootstrap,
) -> Option<Sensitivity> {
    let slices = slices(results);
    if slices.len() < 2 {
        return None;
    }
    let judged_on = judged_slice(results, &slices)?.label.clone();
    // Median req/s of each target in each slice.
    let medians: Vec<BTreeMap<String, f64>> = slices
        .iter()
        .map(|s| {
            s.results
                .targets
                .iter()
                .filter_map(|t| {
                    let rps: Vec<f64> = t.trials.iter().map(|x| x.requests_per_sec).collect();
                    Some((t.target.clone(), median(&rps)?))
                })
                .collect()
        })
        .collect();
    let mut names: Vec<String> = Vec::new();
    for t in &slices[0].results.targets {
        if medians.iter().all(|m| m.contains_key(&t.target)) && !names.contains(&t.target) {
            names.push(t.target.clone());
        }
    }
    let mut flips = Vec::new();
    let mut held = Vec::new();
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            let ratios: Vec<f64> = medians.iter().map(|m| m[a] / m[b]).collect();
            let a_wins = ratios.iter().filter(|r| **r > 1.0).count();
            if a_wins != 0 && a_wins != ratios.len() {
                let figures: Vec<String> = slices
                    .iter()
                    .zip(&medians)
                    .map(|(s, m)| {
                        let (w, l) = if m[a] >= m[b] { (a, b) } else { (b, a) };
                        format!(
                            "{}: {w} {} > {l} {}",
                            s.label,
                            thousands(m[w]),
                            thousands(m[l])
                        )
                    })
                    .collect();
                flips.push(format!("{a} vs {b} req/s flips ({})", figures.join("; ")));
            } else {
                let (w, l, ratios) = if a_wins == ratios.len() {
                    (a, b, ratios)
                } else {
                    (b, a, ratios.iter().map(|r| 1.0 / r).collect())
                };
                let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
                let high = ratios.iter().copied().fold(0.0, f64::max);
                held.push(format!("{w} > {l} ({low:.2}x–{high:.2}x req/s)"));
            }
        }
    }
    // Claims: a verdict that differs between slices where the claim was judged at all
    // (a claim naming versions is not-run on the others, which is no change).
    let verdicts: Vec<Vec<(String, &'static str)>> = slices
        .iter()
        .map(|s| {
            claims
                .verdicts(std::slice::from_ref(&s.results), bootstrap)
                .into_iter()
                .map(|(c, v)| (c.id.clone(), v.label()))
                .collect()
        })
        .collect();
    let mut changed_claims = Vec::new();
    if let Some(first) = verdicts.first() {
        for (index, (id, _)) in first.iter().enumerate() {
            let judged: Vec<(&str, &str)> = slices
                .iter()
                .zip(&verdicts)
                .map(|(s, v)| (s.label.as_str(), v[index].1))
                .filter(|(_, label)| *label != "not-run")
                .collect();
            if judged.iter().any(|(_, label)| *label != judged[0].1) {
                let each: Vec<String> = judged
                    .iter()
                    .map(|(slice, label)| format!("{label} on {slice}"))
                    .collect();
                changed_claims.push(format!("claim {id}: {}", each.join(", ")));
            }
        }
    }
    let labels: Vec<&str> = slices.iter().map(|s| s.label.as_str()).collect();
    let changed = !flips.is_empty() || !changed_claims.is_empty();
    let line = if changed {
        let mut parts = flips;
        parts.extend(changed_claims);
        format!(
            "Versions changed the result: {}. Claims are judged on {judged_on}.",
            parts.join("; ")
        )
    } else {
        let directions = if held.is_empty() {
            "no comparison measured on every version".to_string()
        } else {
            held.join(", ")
        };
        format!(
            "Versions did not change the result: the direction held across {} ({}): {directions}; no claim's verdict changed. Claims are judged on {judged_on}.",
            labels.join(", "),
            labels.len()
        )
    };
    Some(Sensitivity {
        changed,
        line,
        judged_on,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RuntimeVariant;

    /// A run of express on Node 20 and 24 and fastapi on Python 3.11 and 3.13, from the
    /// committed express/fastapi run, with each variant's trials near the req/s given.
    fn matrix(figures: &[(&str, &str, &str, f64)]) -> RunResults {
        let base = crate::analysis::test_support::fixture_results();
        let mut results = base.clone();
        results.targets.clear();
        results.parameters.targets.clear();
        results.parameters.schedule.clear();
        results.duets.clear();
        for (of, runtime, version, rps) in figures {
            let variant = RuntimeVariant {
                of: of.to_string(),
                runtime: runtime.to_string(),
                version: version.to_string(),
            };
            let mut target = base
                .targets
                .iter()
                .find(|t| t.target == *of)
                .expect("target in the fixture")
                .clone();
            target.target = format!("{of}@{}", variant.suffix());
            for (i, trial) in target.trials.iter_mut().enumerate() {
                trial.requests_per_sec = rps * [1.0, 1.01, 0.99][i % 3];
            }
            target.variant = Some(variant);
            results.parameters.targets.push(target.target.clone());
            results.targets.push(target);
        }
        results.parameters.pinned_versions = [("node", "24.21.0"), ("python", "3.13")]
            .into_iter()
            .map(|(l, v)| (l.to_string(), v.to_string()))
            .collect();
        results
    }

    fn claims() -> Claims {
        Claims::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).expect("claims load")
    }

    #[test]
    fn slices_rename_each_versions_variants_back_to_their_targets() {
        let run = matrix(&[
            ("express", "node", "20", 5_000.0),
            ("express", "node", "24", 24_000.0),
            ("fastapi", "python", "3.11", 6_500.0),
            ("fastapi", "python", "3.13", 8_000.0),
        ]);
        let slices = slices(&run);
        let labels: Vec<&str> = slices.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "node20+py3.11",
                "node20+py3.13",
                "node24+py3.11",
                "node24+py3.13"
            ]
        );
        let names: Vec<&str> = slices[0]
            .results
            .targets
            .iter()
            .map(|t| t.target.as_str())
            .collect();
        assert_eq!(names, ["express", "fastapi"]);
        assert_eq!(
            judged_slice(&run, &slices).map(|s| s.label.as_str()),
            Some("node24+py3.13")
        );
    }

    #[test]
    fn a_direction_that_flips_with_the_version_is_named_with_its_figures() {
        let run = matrix(&[
            ("express", "node", "20", 5_357.0),
            ("express", "node", "24", 24_200.0),
            ("fastapi", "python", "3.11", 6_496.0),
            ("fastapi", "python", "3.13", 8_000.0),
        ]);
        let found = sensitivity(&run, &claims(), &Bootstrap::default()).unwrap();
        assert!(found.changed);
        assert!(
            found.line.contains("express vs fastapi req/s flips")
                && found
                    .line
                    .contains("node20+py3.11: fastapi 6,496 > express 5,357")
                && found
                    .line
                    .contains("node24+py3.13: express 24,200 > fastapi 8,000"),
            "{}",
            found.line
        );
        assert!(!found.line.contains('\n'));
    }

    #[test]
    fn a_direction_that_held_is_said_with_its_ratio_range() {
        let run = matrix(&[
            ("express", "node", "20", 20_000.0),
            ("express", "node", "24", 24_000.0),
            ("fastapi", "python", "3.11", 6_000.0),
            ("fastapi", "python", "3.13", 8_000.0),
        ]);
        let found = sensitivity(&run, &claims(), &Bootstrap::default()).unwrap();
        assert!(!found.changed, "{}", found.line);
        assert!(
            found.line.contains("the direction held across")
                && found.line.contains("express > fastapi (2.50x–4.00x req/s)"),
            "{}",
            found.line
        );
    }

    #[test]
    fn a_version_matrix_is_judged_on_its_pinned_versions_like_a_plain_run() {
        let run = matrix(&[
            ("express", "node", "20", 5_000.0),
            ("express", "node", "24", 24_000.0),
            ("fastapi", "python", "3.11", 6_500.0),
            ("fastapi", "python", "3.13", 8_000.0),
        ]);
        let claims = claims();
        let bootstrap = Bootstrap::default();
        let pinned = slices(&run).pop().expect("a slice").results;
        let labels = |run: &RunResults| -> Vec<&'static str> {
            claims
                .verdicts(std::slice::from_ref(run), &bootstrap)
                .into_iter()
                .map(|(_, v)| v.label())
                .collect()
        };
        let on_matrix = labels(&run);
        assert_eq!(on_matrix, labels(&pinned));
        assert!(on_matrix.iter().any(|l| *l != "not-run"), "{on_matrix:?}");
    }

    #[test]
    fn a_run_without_variants_has_no_version_line() {
        let run = crate::analysis::test_support::fixture_results();
        assert!(slices(&run).is_empty());
        assert_eq!(sensitivity(&run, &claims(), &Bootstrap::default()), None);
    }
}
