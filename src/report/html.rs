//! The HTML report: one self-contained page (inline CSS and SVG, no script, no external
//! asset, no network) with charts of req/s and their intervals, latency percentiles, memory
//! over time, and the claims with their verdicts.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::export::{ExportError, Exporter};
use super::svg::{self, Bar, LineChart, Point, Series, XAxis};
use super::text;
use crate::analysis::{Analysis, PERCENTILES, TargetFigures};
use crate::stats::Estimate;

pub struct HtmlExporter;

impl Exporter for HtmlExporter {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn export(&self, analysis: &Analysis<'_>) -> Result<Vec<u8>, ExportError> {
        Ok(page(analysis).into_string().into_bytes())
    }
}

/// The ids of the charts on the page, in order.
pub const CHART_IDS: [&str; 3] = ["chart-throughput", "chart-latency", "chart-memory"];

const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f3f4f6; color: #1f2937;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 0 0 12px; }
.meta { color: #4b5563; margin: 0 0 4px; }
.conditions { color: #4b5563; font-size: 13px; margin: 0 0 20px; }
section { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 18px 20px;
  margin: 0 0 18px; }
.note { color: #6b7280; font-size: 13px; margin: 8px 0 0; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
th { background: #f9fafb; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafafa; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px;
  font-weight: 600; white-space: nowrap; }
.v-reproduced { background: #dcfce7; color: #166534; }
.v-direction-only { background: #fef3c7; color: #92400e; }
.v-contradicted { background: #fee2e2; color: #991b1b; }
.v-inconclusive { background: #e0e7ff; color: #3730a3; }
.v-not-run { background: #f3f4f6; color: #4b5563; }
.s-complete { background: #dcfce7; color: #166534; }
.s-failed, .s-interrupted, .s-running { background: #fee2e2; color: #991b1b; }
.pass { color: #166534; }
.fail { color: #991b1b; font-weight: 600; }
.quote { color: #4b5563; font-style: italic; font-size: 12.5px; }
.counts .badge { margin-right: 6px; }
.captions { display: flex; flex-wrap: wrap; gap: 4px 18px; font-size: 13px; color: #374151;
  margin: 6px 0 10px; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 5px;
  vertical-align: -1px; }
.warnings li { margin: 2px 0; }
svg.chart { display: block; max-width: 100%; height: auto; }
.scroll { overflow-x: auto; }
.ci { display: block; color: #6b7280; font-size: 11.5px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; font-size: 13.5px; }
dt { color: #6b7280; }
dd { margin: 0; }
"#;

/// The whole page.
pub fn page(analysis: &Analysis<'_>) -> Markup {
    let results = analysis.results;
    let title = format!("faceoff: {}", text::title(analysis));
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main {
                    h1 { (title) }
                    p class="meta" {
                        "Run " code { (results.run_id) } " "
                        span class=(format!("badge s-{}", status_class(analysis))) { (text::run_status(results.status)) }
                        " · " (results.started_at) " → " (results.finished_at.as_deref().unwrap_or("not finished"))
                        " · " (text::provenance(analysis))
                    }
                    p class="conditions" { (super::text::conditions_line(results)) }
                    @if let Some(versions) = &analysis.versions {
                        p class="versions" { strong { "Versions: " } (versions.line) }
                    }
                    @if !analysis.warnings.is_empty() {
                        section {
                            h2 { "Warnings" }
                            ul class="warnings" { @for w in &analysis.warnings { li { (w) } } }
                        }
                    }
                    (throughput(analysis))
                    (startup(analysis))
                    (mixed(analysis))
                    (latency(analysis))
                    (memory(analysis))
                    (claims(analysis))
                    (verify(analysis))
                    (environment(analysis))
                }
            }
        }
    }
}

fn startup(analysis: &Analysis<'_>) -> Markup {
    let started: Vec<_> = analysis
        .targets
        .iter()
        .filter_map(|t| Some((t, t.startup.as_ref()?)))
        .collect();
    html! {
        @if !started.is_empty() {
            section id="cold-start" {
                h2 { "Cold start" }
                div class="scroll" { table {
                    thead { tr {
                        th { "target" } th { "from" } th class="num" { "starts" }
                        th class="num" { "cold start ms" } th class="num" { "idle MiB" } th class="num" { "image MiB" }
                    } }
                    tbody {
                        @for (t, s) in &started {
                            tr {
                                td { strong { (t.result.target) } }
                                td { (s.from.label()) }
                                td class="num" { (s.starts) }
                                (estimate_cell(Some(&s.cold_start_ms), 0))
                                (estimate_cell(s.idle_memory_mib.as_ref(), 1))
                                td class="num" { (text::maybe_mib(s.image_size_mib)) }
                            }
                        }
                    }
                } }
                p class="note" { (text::STARTUP_NOTE) }
            }
        }
    }
}

fn mixed(analysis: &Analysis<'_>) -> Markup {
    let rows = text::mixed_rows(analysis);
    html! {
        @if !rows.is_empty() {
            section id="mixed" {
                h2 { "Mixed load" }
                div class="scroll" { table {
                    thead { tr {
                        @for (i, h) in text::MIXED_HEADER.iter().enumerate() {
                            @if i < 2 { th { (h) } } @else { th class="num" { (h) } }
                        }
                    } }
                    tbody {
                        @for row in &rows {
                            tr {
                                @for (i, cell) in row.iter().enumerate() {
                                    @if i == 0 { td { strong { (cell) } } }
                                    @else if i == 1 { td { (cell) } }
                                    @else { td class="num" { (cell) } }
                                }
                            }
                        }
                    }
                } }
                p class="note" { (text::MIXED_NOTE) }
            }
        }
    }
}

/// A median over an interval, the interval small beneath: keeps wide tables readable.
fn estimate_cell(e: Option<&Estimate>, decimals: usize) -> Markup {
    html! {
        td class="num" {
            @match e {
                Some(e) => {
                    (text::number(e.median, decimals))
                    @if e.is_single_trial() {
                        span class="ci" { "1 trial" }
                    } @else {
                        span class="ci" { "[" (text::number(e.ci.low, decimals)) ", " (text::number(e.ci.high, decimals)) "]" }
                    }
                }
                None => "–",
            }
        }
    }
}

fn status_class(analysis: &Analysis<'_>) -> &'static str {
    match analysis.results.status {
        crate::results::RunStatus::Running => "running",
        crate::results::RunStatus::Complete => "complete",
        crate::results::RunStatus::Failed => "failed",
        crate::results::RunStatus::Interrupted => "interrupted",
    }
}

fn measured<'b, 'a>(
    analysis: &'b Analysis<'a>,
) -> impl Iterator<Item = (usize, &'b TargetFigures<'a>)> {
    analysis
        .targets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.measured())
}

fn throughput(analysis: &Analysis<'_>) -> Markup {
    let bars: Vec<Bar> = measured(analysis)
        .filter_map(|(i, t)| {
            let e = t.requests_per_sec?;
            Some(Bar {
                label: t.result.target.clone(),
                colour: svg::colour(i),
                median: e.median,
                low: e.ci.low,
                high: e.ci.high,
                points: t.trial_requests_per_sec.clone(),
                caption: format!("{} req/s", text::estimate(&e, 0)),
            })
        })
        .collect();
    html! {
        section {
            h2 { "Requests per second" }
            (svg::interval_bars(CHART_IDS[0], "Requests per second per target: median over trials (bar), 95% interval (whisker), each trial (dot)", "requests per second (median over trials, 95% interval, trials as dots)", &bars))
            div class="scroll" { table {
                thead { tr {
                    th { "target" } th { "framework" } th { "runtime" } th { "verify" } th class="num" { "trials" }
                    th class="num" { "req/s" } th class="num" { "p50 ms" } th class="num" { "p99 ms" }
                    th class="num" { "errors" } th class="num" { "peak MiB" } th class="num" { "CPU %" }
                } }
                tbody {
                    @for t in &analysis.targets {
                        tr {
                            td { strong { (t.result.target) } }
                            td { (text::framework(t)) }
                            td { (t.result.runtime_version.as_deref().unwrap_or("")) }
                            td { (text::verify_status(t.result.verify)) }
                            @if t.measured() {
                                td class="num" { (t.result.trials.len()) }
                                (estimate_cell(t.requests_per_sec.as_ref(), 0))
                                (estimate_cell(t.latency("p50"), 2))
                                (estimate_cell(t.latency("p99"), 2))
                                td class="num" { (text::number(t.errors as f64, 0)) }
                                (estimate_cell(t.peak_memory_mib.as_ref(), 1))
                                td class="num" { (text::maybe_median(t.mean_cpu_percent.as_ref(), 0)) }
                            } @else {
                                td colspan="7" class=(if t.result.error.is_some() { "fail" } else { "" }) { (text::unmeasured(t)) }
                            }
                        }
                    }
                }
            } }
            p class="note" { "Medians over trials; 95% intervals in brackets. " (text::bootstrap(analysis)) }
            @if !analysis.comparisons.is_empty() {
                h2 style="margin-top:16px" { "Comparisons" }
                ul { @for c in &analysis.comparisons { li { (text::comparison(c)) } } }
            }
            @if !analysis.duets.is_empty() {
                h2 style="margin-top:16px" { "Duet rounds" }
                p class="note" { "Each pair also ran at the same time on the same cpuset, each under its own generator; ratios come from these rounds, absolute figures from the dedicated-core trials." }
                ul { @for d in &analysis.duets {
                    li { (text::duet_line(d)) br; small { "rounds: " (text::duet_rounds(d)) } }
                } }
            }
        }
    }
}

/// Where a percentile sits on a "nines" axis: p90 at 1, p99 at 2, p99.9 at 3; max one step
/// past the last finite quantile.
fn nines(quantile: f64) -> f64 {
    if quantile >= 1.0 {
        let last = PERCENTILES
            .iter()
            .filter(|p| p.quantile < 1.0)
            .map(|p| -(1.0 - p.quantile).log10())
            .fold(0.0, f64::max);
        last + 1.0
    } else {
        -(1.0 - quantile).log10()
    }
}

fn latency(analysis: &Analysis<'_>) -> Markup {
    let series: Vec<Series> = measured(analysis)
        .map(|(i, t)| Series {
            name: t.result.target.clone(),
            colour: svg::colour(i),
            points: t
                .latency_ms
                .iter()
                .map(|(p, e)| Point {
                    x: nines(p.quantile),
                    y: e.median,
                    range: (!e.is_single_trial()).then_some((e.ci.low, e.ci.high)),
                })
                .collect(),
            dashed: false,
            dots: true,
        })
        .collect();
    let chart = LineChart {
        id: CHART_IDS[1].into(),
        title: "Latency percentiles per target: median over trials, 95% interval as whiskers"
            .into(),
        x: XAxis::Categories {
            label: "percentile".into(),
            ticks: PERCENTILES
                .iter()
                .map(|p| (nines(p.quantile), p.label.to_string()))
                .collect(),
        },
        y_label: "latency, ms (log scale)".into(),
        y_log: true,
        series,
    };
    html! {
        section {
            h2 { "Latency percentiles" }
            (chart.render())
            div class="scroll" { table {
                thead { tr {
                    th { "target" }
                    @for p in &PERCENTILES { th class="num" { (p.label) " ms" } }
                } }
                tbody {
                    @for (_, t) in measured(analysis) {
                        tr {
                            td { strong { (t.result.target) } }
                            @for p in &PERCENTILES { (estimate_cell(t.latency(p.label), 2)) }
                        }
                    }
                }
            } }
        }
    }
}

fn memory(analysis: &Analysis<'_>) -> Markup {
    let mut series = Vec::new();
    for (i, t) in measured(analysis) {
        for (n, trial) in t.memory.iter().enumerate() {
            series.push(Series {
                name: t.result.target.clone(),
                colour: svg::colour(i),
                points: trial
                    .iter()
                    .map(|p| Point {
                        x: p.t_s,
                        y: p.mib,
                        range: None,
                    })
                    .collect(),
                dashed: n > 0,
                dots: trial.len() <= 12,
            });
        }
    }
    let interval = analysis.results.parameters.sample_interval_ms;
    let chart = LineChart {
        id: CHART_IDS[2].into(),
        title: "Container memory over time, one line per trial".into(),
        x: XAxis::Linear {
            label: "seconds since the trial's sampling started (warm-up included)".into(),
        },
        y_label: "memory, MiB".into(),
        y_log: false,
        series,
    };
    html! {
        section {
            h2 { "Memory over time" }
            (chart.render())
            p class="note" {
                "Sampled every " (interval) " ms from the container's cgroup: usage minus inactive file cache, as "
                code { "docker stats" } " shows it. First trial solid, later trials dashed."
            }
        }
    }
}

fn claims(analysis: &Analysis<'_>) -> Markup {
    html! {
        section id="claims" {
            h2 { "Claims" }
            p class="counts" {
                (analysis.verdicts.len()) " claims: "
                @for (label, n) in analysis.verdict_counts() {
                    span class=(format!("badge v-{label}")) { (n) " " (label) }
                }
            }
            div class="scroll" { table {
                thead { tr {
                    th { "claim" } th { "theirs (other hardware)" } th { "ours" } th { "verdict" }
                } }
                tbody {
                    @for (claim, verdict) in &analysis.verdicts {
                        tr {
                            td {
                                code { (claim.id) } br;
                                span class="quote" { "“" (claim.quote) "” — " (claim.source) }
                            }
                            td { (super::text::theirs_text(verdict.theirs())) }
                            td { (super::text::ours_or_why(verdict)) }
                            td { span class=(format!("badge v-{}", verdict.label())) { (verdict.label()) } }
                        }
                    }
                }
            } }
            p class="note" {
                "The articles' absolute figures were measured on other hardware: a verdict rests on the ratio and direction between targets measured here side by side. "
                "Verdicts as " code { "faceoff claims --run" } " gives them on this results file (bootstrap seed " (analysis.bootstrap.seed) ")."
            }
        }
    }
}

fn verify(analysis: &Analysis<'_>) -> Markup {
    let results = analysis.results;
    let ids = analysis.verify_case_ids();
    html! {
        section {
            h2 { "Contract check" }
            @if !results.parameters.verified {
                p { "Targets were timed without the contract check (" code { "--skip-verify" } "): their figures may not compare." }
            } @else if ids.is_empty() {
                ul { @for t in &results.targets { li { (t.target) ": " (text::verify_status(t.verify)) } } }
            } @else {
                div class="scroll" { table {
                    thead { tr {
                        th { "case" }
                        @for t in &results.targets { th { (t.target) } }
                    } }
                    tbody {
                        @for id in &ids {
                            tr {
                                td { code { (id) } }
                                @for t in &results.targets {
                                    @match t.verify_cases.iter().find(|c| c.id == *id) {
                                        Some(c) if c.passed => td class="pass" { "pass" },
                                        Some(c) => td class="fail" title=(c.failures.join("; ")) { "FAIL" },
                                        None => td { "–" },
                                    }
                                }
                            }
                        }
                    }
                } }
            }
            @for t in &results.targets {
                @for line in &t.verify_failures { p class="fail" { "FAIL " (t.target) " " (line) } }
            }
        }
    }
}

fn environment(analysis: &Analysis<'_>) -> Markup {
    let results = analysis.results;
    let p = &results.parameters;
    html! {
        section {
            h2 { "Environment" }
            dl {
                dt { "host" } dd { (text::host(analysis)) }
                dt { "engine" } dd { (text::engine(analysis)) }
                dt { "faceoff" } dd { (text::provenance(analysis)) }
                @if let Some(command) = text::command_line(analysis) { dt { "command" } dd { code { (command) } } }
                @if let Some(order) = text::trial_order(analysis) { dt { "trial order" } dd { (order) } }
                @if let Some(merged) = text::merged_from(analysis) { dt { "merge" } dd { (merged) } }
                dt { "limits" } dd {
                    "server cpuset " (p.limits.cpuset) ", memory " (p.limits.memory_bytes / (1024 * 1024)) " MiB"
                    @if !p.memory_limit_enforced { " (not enforced)" }
                    "; generator on CPUs " (format!("{:?}", p.generator_cpus)) ", " (p.generator_threads) " thread(s)"
                }
                @for t in &results.targets {
                    dt { (t.target) }
                    dd {
                        (t.server) "; " (t.runtime_version.as_deref().unwrap_or("runtime version unknown"))
                        @if let Some(image) = &t.image { "; image " code { (image.tag) } " (" (text::short(&image.image_id)) ")" }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_support::{analysis_of, cold_start_results, fixture_results};

    #[test]
    fn a_mixed_run_gets_a_mixed_section() {
        let page = analysis_of(
            &crate::analysis::test_support::mixed_results(2.0, 20.0, 3.0),
            |a| page(a).into_string(),
        );
        assert!(page.contains("id=\"mixed\""));
        assert!(page.contains("beside offload-10m"));
        assert!(!report().contains("id=\"mixed\""));
    }

    #[test]
    fn a_cold_start_run_gets_a_cold_start_section() {
        let page = analysis_of(&cold_start_results(300.0), |a| page(a).into_string());
        assert!(page.contains("id=\"cold-start\""));
        assert!(page.contains("150.0"), "image size shown");
        assert!(!report().contains("id=\"cold-start\""));
    }

    fn report() -> String {
        let results = fixture_results();
        analysis_of(&results, |a| page(a).into_string())
    }

    #[test]
    fn html_has_one_svg_per_chart() {
        let html = report();
        assert_eq!(html.matches("<svg ").count(), CHART_IDS.len(), "{html}");
        for id in CHART_IDS {
            assert!(html.contains(&format!("<svg id=\"{id}\"")), "no chart {id}");
        }
        let start = html.find("<svg id=\"chart-throughput\"").unwrap();
        let end = start + html[start..].find("</svg>").unwrap();
        assert_eq!(
            html[start..end].matches("<rect ").count(),
            2,
            "one bar per target"
        );
        let trials: usize = fixture_results()
            .targets
            .iter()
            .map(|t| t.trials.len())
            .sum();
        assert_eq!(
            html.matches("<polyline ").count(),
            2 + trials,
            "a latency curve per target, a memory line per trial"
        );
    }

    #[test]
    fn html_is_self_contained() {
        let html = report();
        for external in ["<script", "<link", "src=", "@import", "url("] {
            assert!(!html.contains(external), "found {external}");
        }
        assert!(!html.contains("href=\"http"));
    }

    #[test]
    fn html_claims_table_has_a_badge_per_claim() {
        let results = fixture_results();
        analysis_of(&results, |analysis| {
            let html = page(analysis).into_string();
            for (claim, verdict) in &analysis.verdicts {
                assert!(html.contains(&format!("<code>{}</code>", claim.id)));
                let _ = verdict;
            }
            let badges = html.matches("<td><span class=\"badge v-").count();
            assert_eq!(badges, analysis.verdicts.len());
        });
    }

    #[test]
    fn html_escapes_what_it_quotes() {
        let mut results = fixture_results();
        results.targets[0].error = Some("<b>boom</b> & \"quotes\"".into());
        results.targets[0].trials.clear();
        let html = analysis_of(&results, |a| page(a).into_string());
        assert!(html.contains("&lt;b&gt;boom&lt;/b&gt; &amp;"), "{html}");
        assert!(!html.contains("<b>boom"));
    }

    #[test]
    fn a_run_that_measured_nothing_yet_still_renders_every_section() {
        let mut results = fixture_results();
        results.targets.clear();
        results.status = crate::results::RunStatus::Running;
        results.finished_at = None;
        let html = analysis_of(&results, |a| page(a).into_string());
        assert_eq!(html.matches("<svg ").count(), CHART_IDS.len());
        assert!(html.contains("no target was measured"), "{html}");
        assert!(html.contains("running (unfinished)"));
        assert!(html.contains("id=\"claims\""));
    }

    #[test]
    fn percentiles_sit_on_a_nines_scale() {
        assert!((nines(0.9) - 1.0).abs() < 1e-9);
        assert!((nines(0.999) - 3.0).abs() < 1e-9);
        assert!((nines(0.9999) - 4.0).abs() < 1e-9);
        assert!((nines(1.0) - 5.0).abs() < 1e-9);
    }
}
