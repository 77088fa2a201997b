//! The scaling run's report: `scaling.html` (the curve per target, measured points solid,
//! projections dashed and labelled, with the table of figures) and the lines the terminal
//! prints. Formats what [`crate::analysis::scaling`] computed; measures nothing.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::analysis::scaling::Curve;
use crate::results::scaling::ScalingRecord;

use super::svg::{LineChart, Point, Series, XAxis, colour};

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "–".into(), |v| format!("{v:.0}%"))
}

fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "–".into(), |v| format!("{v:.2}"))
}

/// What the host held and what a bigger one would add, one line.
pub fn host_line(record: &ScalingRecord) -> String {
    let measured: Vec<String> = record.steps_measured.iter().map(u32::to_string).collect();
    let mut line = format!(
        "this host has {} CPU(s): the generator on {} ({} CPU(s), never shared), the server measured at {} CPU(s)",
        record.host_cpus,
        crate::run::scaling::cpuset_text(&record.generator_cpus),
        record.generator_cpus.len(),
        measured.join(", ")
    );
    if !record.steps_beyond_host.is_empty() {
        let beyond: Vec<String> = record
            .steps_beyond_host
            .iter()
            .map(|b| {
                format!(
                    "{} server CPUs on a host of {}+",
                    b.server_cpus, b.host_cpus_needed
                )
            })
            .collect();
        line.push_str(&format!(
            "; a bigger host would add: {}. Until then, any figure for those is a projection, not a measurement",
            beyond.join(", ")
        ));
    }
    line
}

/// The terminal's lines: one per target and step, the model or why there is none, the
/// projections labelled as such, and warnings for generator-bound steps.
pub fn lines(record: &ScalingRecord, curves: &[Curve]) -> Vec<String> {
    let mut out = vec![host_line(record)];
    for curve in curves {
        for p in &curve.points {
            out.push(format!(
                "{}: {} CPU(s){}: {:.0} req/s, speedup {}, efficiency {}, server CPU {}, generator CPU {}{}",
                curve.target,
                p.cpus,
                p.workers.map(|w| format!(" ({w} workers)")).unwrap_or_default(),
                p.requests_per_sec,
                ratio(p.speedup),
                percent(p.efficiency.map(|e| e * 100.0)),
                percent(p.server_cpu_percent),
                percent(p.generator_cpu_percent),
                if p.generator_bound { " [generator-bound: left out of the fit]" } else { "" },
            ));
        }
        for step in record.steps.iter().filter(|s| s.target == curve.target) {
            if let Some(error) = &step.error {
                out.push(format!(
                    "{}: {} CPU(s): no figure: {error}",
                    curve.target, step.server_cpus
                ));
            }
        }
        match (&curve.model, &curve.no_model) {
            (Some(model), _) => out.push(format!("{}: fit: {}", curve.target, model.describe())),
            (None, Some(why)) => out.push(format!("{}: no model: {why}", curve.target)),
            (None, None) => {}
        }
        for p in &curve.projections {
            out.push(format!(
                "{}: PROJECTION (not measured, not a verdict) at {} CPUs: {:.0} req/s, speedup {:.2}",
                curve.target, p.cpus, p.requests_per_sec, p.speedup
            ));
        }
    }
    out
}

/// Warnings for steps the generator may have paced: one per step.
pub fn warnings(record: &ScalingRecord) -> Vec<String> {
    record
        .steps
        .iter()
        .filter(|s| s.generator_bound)
        .map(|s| {
            format!(
                "{} at {} CPU(s): the load generator ran at {} of its {} CPU(s) while the server used {} of one CPU: the generator, not the server, set the pace; this step is left out of the fit (give the generator more CPUs with --generator-cpus, on a bigger host)",
                s.target,
                s.server_cpus,
                percent(s.generator_cpu_percent),
                record.generator_cpus.len(),
                percent(s.server_cpu_percent),
            )
        })
        .collect()
}

/// The chart: throughput against server CPUs, one colour per target; projections dashed.
fn chart(curves: &[Curve]) -> Markup {
    let mut series = Vec::new();
    for (i, curve) in curves.iter().enumerate() {
        let measured: Vec<Point> = curve
            .points
            .iter()
            .map(|p| Point {
                x: f64::from(p.cpus),
                y: p.requests_per_sec,
                range: None,
            })
            .collect();
        series.push(Series {
            name: curve.target.clone(),
            colour: colour(i),
            points: measured.clone(),
            dashed: false,
            dots: true,
        });
        if !curve.projections.is_empty() {
            let mut projected: Vec<Point> = measured.last().copied().into_iter().collect();
            projected.extend(curve.projections.iter().map(|p| Point {
                x: f64::from(p.cpus),
                y: p.requests_per_sec,
                range: None,
            }));
            series.push(Series {
                name: format!("{} (projection)", curve.target),
                colour: colour(i),
                points: projected,
                dashed: true,
                dots: true,
            });
        }
    }
    LineChart {
        id: "scaling".into(),
        title: "Throughput by server CPUs (solid: measured; dashed: projection, not measured)"
            .into(),
        x: XAxis::Linear {
            label: "server CPUs (cpuset size)".into(),
        },
        y_label: "requests/s".into(),
        y_log: false,
        series,
    }
    .render()
}

/// The whole `scaling.html` page.
pub fn page(record: &ScalingRecord, curves: &[Curve]) -> Markup {
    let title = format!(
        "faceoff scaling: {} on {}",
        record.targets.join(", "),
        record.workload
    );
    let warnings = warnings(record);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped("body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#1f2937}table{border-collapse:collapse}td,th{border:1px solid #e5e7eb;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}.projection{font-style:italic;color:#6b7280}.warn{color:#b45309}")) }
            }
            body {
                h1 { (title) }
                p { "Run " code { (record.run_id) } " · " (record.started_at) " → " (record.finished_at.as_deref().unwrap_or("not finished")) }
                p { (host_line(record)) }
                @if !warnings.is_empty() {
                    ul { @for w in &warnings { li class="warn" { (w) } } }
                }
                (chart(curves))
                h2 { "Figures" }
                table {
                    tr { th { "target" } th { "server CPUs" } th { "workers" } th { "req/s" } th { "speedup" } th { "efficiency per core" } th { "server CPU" } th { "generator CPU" } }
                    @for curve in curves {
                        @for p in &curve.points {
                            tr {
                                td { (curve.target) @if p.generator_bound { " (generator-bound)" } }
                                td { (p.cpus) }
                                td { (p.workers.map_or_else(|| "1 process".to_string(), |w| w.to_string())) }
                                td { (format!("{:.0}", p.requests_per_sec)) }
                                td { (ratio(p.speedup)) }
                                td { (percent(p.efficiency.map(|e| e * 100.0))) }
                                td { (percent(p.server_cpu_percent)) }
                                td { (percent(p.generator_cpu_percent)) }
                            }
                        }
                        @for p in &curve.projections {
                            tr class="projection" {
                                td { (curve.target) " — projection, not measured" }
                                td { (p.cpus) } td { "–" }
                                td { (format!("{:.0}", p.requests_per_sec)) }
                                td { (format!("{:.2}", p.speedup)) }
                                td { (format!("{:.0}%", 100.0 * p.speedup / f64::from(p.cpus))) }
                                td { "–" } td { "–" }
                            }
                        }
                    }
                }
                h2 { "Models" }
                ul {
                    @for curve in curves {
                        li {
                            (curve.target) ": "
                            @if let Some(model) = &curve.model { (model.describe()) }
                            @else if let Some(why) = &curve.no_model { "no model: " (why) }
                        }
                    }
                }
                p { "How to read it: speedup is throughput on n CPUs over throughput on one; efficiency is speedup per CPU (100% is perfect scaling). A curve that flattens has a serial part (Amdahl's σ); one that falls past a peak has a coherency cost (the USL's κ). Dashed points are the fitted model extrapolated to CPU counts this host could not give the server: a projection, never a verdict. A step where the generator set the pace is marked and left out of the fit." }
            }
        }
    }
}
