//! The Markdown report: GitHub-flavoured tables, fit for a job summary
//! (`faceoff report … --format markdown >> "$GITHUB_STEP_SUMMARY"`).

use std::fmt::Write as _;

use super::export::{ExportError, Exporter};
use super::text;
use crate::analysis::Analysis;

pub struct MarkdownExporter;

impl Exporter for MarkdownExporter {
    fn file_name(&self) -> &'static str {
        "report.md"
    }

    fn export(&self, analysis: &Analysis<'_>) -> Result<Vec<u8>, ExportError> {
        Ok(markdown(analysis).into_bytes())
    }
}

/// Text from a results file with HTML escaped: a server's error page, or a crafted file,
/// stays text in a rendered report (GitHub renders inline HTML in Markdown).
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A table cell: HTML and pipes escaped, line breaks flattened, so no value breaks the table.
fn cell(text: &str) -> String {
    html(text)
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

fn table(out: &mut String, header: &[&str], right: &[bool], rows: &[Vec<String>]) {
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    out.push_str(&line(header.iter().map(|h| cell(h)).collect()));
    out.push_str(&line(
        (0..header.len())
            .map(|i| {
                if right.get(i).copied().unwrap_or(false) {
                    "---:".to_string()
                } else {
                    "---".to_string()
                }
            })
            .collect(),
    ));
    for row in rows {
        out.push_str(&line(row.iter().map(|c| cell(c)).collect()));
    }
    out.push('\n');
}

/// The whole report.
pub fn markdown(analysis: &Analysis<'_>) -> String {
    let results = analysis.results;
    let mut out = String::new();
    let _ = writeln!(out, "# faceoff: {}\n", html(&text::title(analysis)));
    let _ = writeln!(
        out,
        "Run `{}`: **{}**, {} → {}. {}.\n",
        results.run_id,
        text::run_status(results.status),
        results.started_at,
        results.finished_at.as_deref().unwrap_or("not finished"),
        text::provenance(analysis)
    );
    let _ = writeln!(out, "> {}\n", html(&super::text::conditions_line(results)));
    if let Some(versions) = crate::results::versions::warning(results) {
        // At the top: every figure below depends on it.
        let _ = writeln!(out, "> **Warning:** this run {}\n", html(&versions));
    }
    if let Some(versions) = &analysis.versions {
        let _ = writeln!(out, "> **Versions:** {}\n", html(&versions.line));
    }

    summary(&mut out, analysis);
    startup(&mut out, analysis);
    mixed(&mut out, analysis);
    comparisons(&mut out, analysis);
    duets(&mut out, analysis);
    warnings(&mut out, analysis);
    verify(&mut out, analysis);
    claims(&mut out, analysis);
    environment(&mut out, analysis);
    out
}

fn startup(out: &mut String, analysis: &Analysis<'_>) {
    let rows: Vec<Vec<String>> = analysis
        .targets
        .iter()
        .filter_map(|t| {
            let s = t.startup.as_ref()?;
            Some(vec![
                t.result.target.clone(),
                s.from.label().to_string(),
                s.starts.to_string(),
                text::estimate(&s.cold_start_ms, 0),
                text::maybe_estimate(s.idle_memory_mib.as_ref(), 1),
                text::maybe_mib(s.image_size_mib),
            ])
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    out.push_str("## Cold start\n\n");
    table(
        out,
        &[
            "target",
            "from",
            "starts",
            "cold start ms",
            "idle MiB",
            "image MiB",
        ],
        &[false, false, true, true, true, true],
        &rows,
    );
    let _ = writeln!(out, "{}\n", text::STARTUP_NOTE);
}

fn mixed(out: &mut String, analysis: &Analysis<'_>) {
    let rows = text::mixed_rows(analysis);
    if rows.is_empty() {
        return;
    }
    out.push_str("## Mixed load\n\n");
    table(
        out,
        &text::MIXED_HEADER,
        &[false, false, true, true, true, true, true],
        &rows,
    );
    let _ = writeln!(out, "{}\n", text::MIXED_NOTE);
}

fn summary(out: &mut String, analysis: &Analysis<'_>) {
    out.push_str("## Summary\n\n");
    if analysis.targets.is_empty() {
        out.push_str("No target was measured.\n\n");
        return;
    }
    let rows: Vec<Vec<String>> = analysis
        .targets
        .iter()
        .map(|t| {
            if !t.measured() {
                return vec![
                    t.result.target.clone(),
                    text::framework(t),
                    t.result.runtime_version.clone().unwrap_or_default(),
                    text::verify_status(t.result.verify).into(),
                    "0".into(),
                    text::unmeasured(t),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ];
            }
            vec![
                t.result.target.clone(),
                text::framework(t),
                t.result.runtime_version.clone().unwrap_or_default(),
                text::verify_status(t.result.verify).into(),
                t.result.trials.len().to_string(),
                text::maybe_estimate(t.requests_per_sec.as_ref(), 0),
                text::maybe_estimate(t.latency("p50"), 2),
                text::maybe_estimate(t.latency("p99"), 2),
                text::number(t.errors as f64, 0),
                text::maybe_estimate(t.peak_memory_mib.as_ref(), 1),
                text::maybe_median(t.mean_cpu_percent.as_ref(), 0),
            ]
        })
        .collect();
    table(
        out,
        &[
            "target",
            "framework",
            "runtime",
            "verify",
            "trials",
            "req/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "peak MiB",
            "CPU %",
        ],
        &[
            false, false, false, false, true, true, true, true, true, true, true,
        ],
        &rows,
    );
    let _ = writeln!(
        out,
        "Medians over trials, with 95% intervals in brackets. {}\n",
        text::bootstrap(analysis)
    );
    let _ = writeln!(
        out,
        "<details><summary>Latency percentiles (ms)</summary>\n"
    );
    let mut header = vec!["target"];
    header.extend(crate::analysis::PERCENTILES.iter().map(|p| p.label));
    let rows: Vec<Vec<String>> = analysis
        .targets
        .iter()
        .filter(|t| t.measured())
        .map(|t| {
            let mut row = vec![t.result.target.clone()];
            row.extend(
                crate::analysis::PERCENTILES
                    .iter()
                    .map(|p| text::maybe_estimate(t.latency(p.label), 2)),
            );
            row
        })
        .collect();
    let right: Vec<bool> = header.iter().enumerate().map(|(i, _)| i > 0).collect();
    table(out, &header, &right, &rows);
    out.push_str("</details>\n\n");
}

fn comparisons(out: &mut String, analysis: &Analysis<'_>) {
    if analysis.comparisons.is_empty() {
        return;
    }
    out.push_str("## Comparisons\n\n");
    for c in &analysis.comparisons {
        let _ = writeln!(out, "- {}", text::comparison(c));
    }
    out.push('\n');
}

fn duets(out: &mut String, analysis: &Analysis<'_>) {
    if analysis.duets.is_empty() {
        return;
    }
    out.push_str("## Duet rounds\n\n");
    out.push_str("Each pair also ran at the same time on the same cpuset, each under its own generator: their ratio round by round cancels the host's noise. Ratios come from here; absolute figures from the dedicated-core trials above.\n\n");
    for duet in &analysis.duets {
        let _ = writeln!(out, "- {}", text::duet_line(duet));
        let rounds = text::duet_rounds(duet);
        if !rounds.is_empty() {
            let _ = writeln!(out, "  - rounds: {rounds}");
        }
    }
    out.push('\n');
}

fn warnings(out: &mut String, analysis: &Analysis<'_>) {
    if analysis.warnings.is_empty() {
        return;
    }
    out.push_str("## Warnings\n\n");
    for w in &analysis.warnings {
        let _ = writeln!(out, "- {}", html(w));
    }
    out.push('\n');
}

fn verify(out: &mut String, analysis: &Analysis<'_>) {
    out.push_str("## Verify\n\n");
    let results = analysis.results;
    if !results.parameters.verified {
        out.push_str("Targets were timed without the contract check (`--skip-verify`): their figures may not compare.\n\n");
        return;
    }
    let ids = analysis.verify_case_ids();
    if ids.is_empty() {
        for t in &results.targets {
            let _ = writeln!(
                out,
                "- {}: {}",
                html(&t.target),
                text::verify_status(t.verify)
            );
        }
        out.push('\n');
    } else {
        let mut header = vec!["case"];
        header.extend(results.targets.iter().map(|t| t.target.as_str()));
        let rows: Vec<Vec<String>> = ids
            .iter()
            .map(|id| {
                let mut row = vec![format!("`{id}`")];
                row.extend(results.targets.iter().map(|t| {
                    match t.verify_cases.iter().find(|c| c.id == *id) {
                        Some(c) if c.passed => "pass".to_string(),
                        Some(_) => "**FAIL**".to_string(),
                        None => "–".to_string(),
                    }
                }));
                row
            })
            .collect();
        table(out, &header, &[], &rows);
    }
    for t in &results.targets {
        for line in &t.verify_failures {
            let _ = writeln!(out, "- FAIL {} {}", html(&t.target), html(line));
        }
    }
    if results
        .targets
        .iter()
        .any(|t| !t.verify_failures.is_empty())
    {
        out.push('\n');
    }
}

fn claims(out: &mut String, analysis: &Analysis<'_>) {
    let _ = writeln!(
        out,
        "## Claims\n\n{} claims: {}. The articles' absolute figures were measured on other hardware; a verdict rests on ratio and direction.\n",
        analysis.verdicts.len(),
        text::verdict_counts(analysis)
    );
    let rows: Vec<Vec<String>> = analysis
        .verdicts
        .iter()
        .map(|(claim, verdict)| {
            vec![
                format!("`{}`", claim.id),
                claim.source.clone(),
                super::text::theirs_text(verdict.theirs()),
                super::text::ours_or_why(verdict),
                format!("**{}**", verdict.label()),
            ]
        })
        .collect();
    table(
        out,
        &[
            "claim",
            "source",
            "theirs (other hardware)",
            "ours",
            "verdict",
        ],
        &[],
        &rows,
    );
}

fn environment(out: &mut String, analysis: &Analysis<'_>) {
    let results = analysis.results;
    out.push_str("## Environment\n\n");
    let _ = writeln!(out, "- host: {}", html(&text::host(analysis)));
    let _ = writeln!(out, "- engine: {}", html(&text::engine(analysis)));
    let _ = writeln!(out, "- {}", html(&text::provenance(analysis)));
    if let Some(command) = text::command_line(analysis) {
        let _ = writeln!(out, "- command: `{command}`");
    }
    if let Some(order) = text::trial_order(analysis) {
        let _ = writeln!(out, "- trial order: {order}");
    }
    if let Some(merged) = text::merged_from(analysis) {
        let _ = writeln!(out, "- {merged}");
    }
    for t in &results.targets {
        let image = t.image.as_ref().map_or_else(
            || "no image".to_string(),
            |i| format!("image {} ({})", i.tag, text::short(&i.image_id)),
        );
        let line = format!(
            "{}: {}, {}, {image}",
            t.target,
            t.server,
            t.runtime_version
                .as_deref()
                .unwrap_or("runtime version unknown")
        );
        let _ = writeln!(out, "- {}", html(&line));
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_support::{analysis_of, cold_start_results, fixture_results};

    #[test]
    fn a_cold_start_run_gets_a_cold_start_table_and_no_load_figures() {
        let md = analysis_of(&cold_start_results(300.0), markdown);
        assert!(md.contains("## Cold start"), "{md}");
        assert!(md.contains("container start"), "{md}");
        assert!(md.contains("no load: starts only"), "{md}");
        assert!(
            !report().contains("## Cold start"),
            "an old file has no starts"
        );
    }

    #[test]
    fn a_mixed_run_gets_a_table_of_each_windows_p99_and_its_ratio_to_alone() {
        let md = analysis_of(
            &crate::analysis::test_support::mixed_results(2.0, 20.0, 3.0),
            markdown,
        );
        assert!(md.contains("## Mixed load"), "{md}");
        assert!(md.contains("beside compute-10m ×2"), "{md}");
        assert!(md.contains("10.00"), "the blocked ratio: {md}");
        assert!(md.contains("1.50"), "the offloaded ratio: {md}");
        assert!(
            !report().contains("## Mixed load"),
            "an old file has no windows"
        );
    }

    fn report() -> String {
        let results = fixture_results();
        analysis_of(&results, markdown)
    }

    #[test]
    fn markdown_has_one_verdict_row_per_claim() {
        let results = fixture_results();
        analysis_of(&results, |analysis| {
            let md = markdown(analysis);
            for (claim, verdict) in &analysis.verdicts {
                let row = md
                    .lines()
                    .find(|l| l.starts_with(&format!("| `{}` |", claim.id)))
                    .unwrap_or_else(|| panic!("no row for {}:\n{md}", claim.id));
                assert!(
                    row.ends_with(&format!("| **{}** |", verdict.label())),
                    "{row}"
                );
            }
        });
    }

    #[test]
    fn markdown_summary_has_a_row_per_target_with_intervals() {
        let md = report();
        for target in ["express", "fastapi"] {
            let row = md
                .lines()
                .find(|l| l.starts_with(&format!("| {target} |")))
                .unwrap_or_else(|| panic!("no summary row for {target}:\n{md}"));
            assert!(row.contains(" [") && row.contains("passed"), "{row}");
        }
        assert!(
            md.contains("## Comparisons\n\n- req/s (higher is better): "),
            "{md}"
        );
    }

    #[test]
    fn markdown_lists_every_verify_case() {
        let results = fixture_results();
        let md = report();
        for case in &results.targets[0].verify_cases {
            assert!(
                md.contains(&format!("| `{}` | pass | pass |", case.id)),
                "{md}"
            );
        }
    }

    #[test]
    fn markdown_warns_when_the_file_was_merged_from_mixed_conditions() {
        use crate::results::{Difference, MergeRecord, SourceDifference};
        let mut results = fixture_results();
        results.merge = Some(MergeRecord {
            sources: Vec::new(),
            allow_mixed: true,
            differences: vec![SourceDifference {
                file: "b.json".into(),
                difference: Difference {
                    field: "manifest.host.cpu_model".into(),
                    first: "\"A\"".into(),
                    other: "\"B\"".into(),
                },
            }],
            notes: Vec::new(),
        });
        let md = analysis_of(&results, markdown);
        let warnings = &md[md.find("## Warnings").expect("a warnings section")..];
        assert!(
            warnings.contains("--allow-mixed") && warnings.contains("manifest.host.cpu_model"),
            "{warnings}"
        );
    }

    #[test]
    fn markdown_environment_says_how_the_run_was_made() {
        let results = fixture_results();
        let md = report();
        let seed = results
            .parameters
            .seed
            .expect("the fixture records its seed");
        assert!(
            md.contains(&format!("- trial order: seed {seed}: ")),
            "{md}"
        );
        assert!(md.contains("- command: `"), "{md}");
        assert!(md.contains(&results.manifest.host.kernel), "{md}");
    }

    #[test]
    fn markdown_escapes_html_from_the_results() {
        let mut results = crate::analysis::test_support::fixture_results();
        results.targets[0].verify_failures = vec!["got <script>alert(1)</script> & more".into()];
        results.targets[0].server = "<img src=x onerror=alert(1)>".into();
        results.manifest.host.cpu_model = "<b>cpu</b>".into();
        let claims =
            crate::claims::Claims::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let analysis = Analysis::new(&results, &claims, crate::stats::Bootstrap::default());
        let md = markdown(&analysis);
        for raw in ["<script>", "<img", "<b>"] {
            assert!(!md.contains(raw), "{raw} left unescaped");
        }
        assert!(
            md.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"),
            "{md}"
        );
    }

    #[test]
    fn a_local_run_on_other_runtime_versions_says_so_at_the_top_and_in_its_claims() {
        let mut results = crate::analysis::test_support::fixture_results();
        results.parameters.runtime = crate::runtime::RuntimeKind::Local;
        results.parameters.pinned_versions = [("node", "24.21.0"), ("python", "3.13")]
            .into_iter()
            .map(|(l, v)| (l.to_string(), v.to_string()))
            .collect();
        for target in &mut results.targets {
            target.runtime_version = Some(match target.language.as_str() {
                "node" => "v20.20.2".into(),
                _ => "Python 3.11.7".into(),
            });
        }
        let claims =
            crate::claims::Claims::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let analysis = Analysis::new(&results, &claims, crate::stats::Bootstrap::default());
        let md = markdown(&analysis);
        let top = &md[..md.find("\n## ").expect("a section")];
        assert!(
            top.contains("**Warning:** this run ran on the host's runtimes"),
            "{top}"
        );
        assert!(analysis.warnings.iter().any(|w| w.contains("Node 24.21.0")));
        let judged: Vec<_> = analysis
            .verdicts
            .iter()
            .filter_map(|(_, verdict)| verdict.ours())
            .collect();
        assert!(!judged.is_empty());
        for ours in judged {
            assert!(
                ours.notes.iter().any(|n| n.contains("pinned ones")),
                "{:?}",
                ours.notes
            );
        }
        // The same run on the pinned versions: no warning.
        for target in &mut results.targets {
            target.runtime_version = Some(match target.language.as_str() {
                "node" => "v24.21.0".into(),
                _ => "Python 3.13.5".into(),
            });
        }
        let analysis = Analysis::new(&results, &claims, crate::stats::Bootstrap::default());
        assert!(!markdown(&analysis).contains("**Warning:**"));
    }

    #[test]
    fn markdown_cells_escape_pipes_and_newlines() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
