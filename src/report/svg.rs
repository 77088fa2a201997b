//! Inline SVG charts for the HTML report: horizontal bars with interval whiskers, and line
//! charts on linear or logarithmic axes. Plain markup, no script, no external asset, so
//! the page renders anywhere, offline, and prints.
//!
//! Every element is closed explicitly (`<line …></line>`): inside HTML, an SVG start tag
//! without its end tag would swallow the elements after it.

use maud::{Markup, html};

/// Distinct colours for up to eight targets (Tableau 10), cycled beyond.
pub const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#9c755f",
];

/// The colour of the `index`th target.
pub fn colour(index: usize) -> &'static str {
    PALETTE[index % PALETTE.len()]
}

const WIDTH: f64 = 860.0;
const FONT: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const AXIS: &str = "#6b7280";
const GRID: &str = "#e5e7eb";
const INK: &str = "#1f2937";

/// Coordinates with one decimal: enough for a screen, short in the file.
fn px(v: f64) -> String {
    format!("{v:.1}")
}

/// Maps data values onto pixels, linearly or logarithmically.
#[derive(Debug, Clone, Copy)]
struct Scale {
    min: f64,
    max: f64,
    log: bool,
    from: f64,
    to: f64,
}

impl Scale {
    fn at(&self, value: f64) -> f64 {
        let (v, lo, hi) = if self.log {
            (
                value.max(self.min).log10(),
                self.min.log10(),
                self.max.log10(),
            )
        } else {
            (value, self.min, self.max)
        };
        if hi <= lo {
            return self.from;
        }
        self.from + (v - lo) / (hi - lo) * (self.to - self.from)
    }
}

/// A "nice" step (1, 2 or 5 times a power of ten) giving about `count` ticks over `span`.
fn nice_step(span: f64, count: f64) -> f64 {
    let raw = span / count;
    let power = 10f64.powf(raw.log10().floor());
    let fraction = raw / power;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// Linear ticks from 0 (or below) to at least `max`: the axis end is the last tick.
fn linear_ticks(min: f64, max: f64) -> Vec<f64> {
    let max = if max > min { max } else { min + 1.0 };
    let step = nice_step(max - min, 5.0);
    let first = (min / step).floor() as i64;
    // The last tick covers max, give or take 2% of a step (a 4.003 s series ends at 4).
    let last = ((max - step * 0.02) / step).ceil() as i64;
    // Multiples of the step, rounded so 3 x 0.2 reads 0.6.
    (first..=last.max(first + 1))
        .map(|i| (i as f64 * step * 1e9).round() / 1e9)
        .take(50)
        .collect()
}

/// Logarithmic ticks at 1, 2 and 5 times powers of ten, covering `[min, max]`.
fn log_ticks(min: f64, max: f64) -> Vec<f64> {
    let min = min.max(1e-6);
    let low = min.log10().floor() as i32;
    let high = max.max(min * 10.0).log10().ceil() as i32;
    let mut ticks = Vec::new();
    for exp in low..=high {
        for m in [1.0, 2.0, 5.0] {
            ticks.push(m * 10f64.powi(exp));
        }
    }
    let first = ticks.iter().rposition(|t| *t <= min).unwrap_or(0);
    let last = ticks
        .iter()
        .position(|t| *t >= max)
        .unwrap_or(ticks.len() - 1);
    ticks[first..=last].to_vec()
}

/// A tick label: `12k`, `1.5`, `0.02`.
fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a >= 1_000_000.0 {
        trim(format!("{:.1}", v / 1_000_000.0)) + "M"
    } else if a >= 10_000.0 {
        trim(format!("{:.1}", v / 1000.0)) + "k"
    } else if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        trim(format!("{v:.1}"))
    } else {
        trim(format!("{v:.3}"))
    }
}

fn trim(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// The `<svg>` frame every chart shares: a title for screen readers, the font.
fn frame(id: &str, title: &str, height: f64, body: Markup) -> Markup {
    html! {
        svg id=(id) class="chart" xmlns="http://www.w3.org/2000/svg" role="img"
            viewBox=(format!("0 0 {WIDTH} {height}")) width="100%"
            font-family=(FONT) font-size="13" aria-label=(title) {
            title { (title) }
            (body)
        }
    }
}

/// A placeholder when a chart has nothing to show, still an `<svg>` so the page layout holds.
fn empty(id: &str, title: &str, why: &str) -> Markup {
    frame(
        id,
        title,
        60.0,
        html! {
            text x=(px(WIDTH / 2.0)) y="35" text-anchor="middle" fill=(AXIS) { (why) }
        },
    )
}

/// One bar of an interval chart.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub colour: &'static str,
    pub median: f64,
    pub low: f64,
    pub high: f64,
    /// The individual figures behind the median (trials), drawn as dots.
    pub points: Vec<f64>,
    /// Written at the end of the whisker, e.g. `12,345 req/s [12,100, 12,600]`.
    pub caption: String,
}

/// Horizontal bars from 0 to each median, with the interval as a whisker and the trials
/// as dots.
pub fn interval_bars(id: &str, title: &str, unit: &str, bars: &[Bar]) -> Markup {
    if bars.is_empty() {
        return empty(id, title, "no target was measured");
    }
    let (left, right, top, row) = (130.0, 40.0, 16.0, 46.0);
    let plot_bottom = top + row * bars.len() as f64;
    let height = plot_bottom + 48.0;
    let max = bars
        .iter()
        .flat_map(|b| b.points.iter().copied().chain([b.high, b.median]))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let ticks = linear_ticks(0.0, max * 1.05);
    let scale = Scale {
        min: 0.0,
        max: ticks.last().copied().unwrap_or(1.0),
        log: false,
        from: left,
        to: WIDTH - right,
    };
    let body = html! {
        @for tick in &ticks {
            @let x = scale.at(*tick);
            line x1=(px(x)) x2=(px(x)) y1=(px(top)) y2=(px(plot_bottom)) stroke=(GRID) {}
            text x=(px(x)) y=(px(plot_bottom + 18.0)) text-anchor="middle" fill=(AXIS) { (tick_label(*tick)) }
        }
        text x=(px((left + WIDTH - right) / 2.0)) y=(px(plot_bottom + 40.0)) text-anchor="middle" fill=(AXIS) { (unit) }
        @for (i, bar) in bars.iter().enumerate() {
            @let y = top + row * i as f64;
            @let mid = y + row / 2.0;
            text x=(px(left - 10.0)) y=(px(mid + 4.0)) text-anchor="end" fill=(INK) font-weight="600" { (bar.label) }
            rect x=(px(left)) y=(px(y + 9.0)) width=(px((scale.at(bar.median) - left).max(0.0))) height=(px(row - 18.0))
                fill=(bar.colour) fill-opacity="0.85" rx="2" {
                title { (bar.label) ": " (bar.caption) }
            }
            line x1=(px(scale.at(bar.low))) x2=(px(scale.at(bar.high))) y1=(px(mid)) y2=(px(mid)) stroke=(INK) stroke-width="2" {}
            line x1=(px(scale.at(bar.low))) x2=(px(scale.at(bar.low))) y1=(px(mid - 7.0)) y2=(px(mid + 7.0)) stroke=(INK) stroke-width="2" {}
            line x1=(px(scale.at(bar.high))) x2=(px(scale.at(bar.high))) y1=(px(mid - 7.0)) y2=(px(mid + 7.0)) stroke=(INK) stroke-width="2" {}
            @for point in &bar.points {
                circle cx=(px(scale.at(*point))) cy=(px(mid)) r="3.5" fill="#fff" stroke=(INK) stroke-width="1.2" {}
            }
        }
        line x1=(px(left)) x2=(px(left)) y1=(px(top)) y2=(px(plot_bottom)) stroke=(AXIS) {}
    };
    html! {
        (frame(id, title, height, body))
        div class="captions" {
            @for bar in bars {
                span { span class="swatch" style=(format!("background:{}", bar.colour)) {} (bar.label) ": " (bar.caption) }
            }
        }
    }
}

/// One point of a line, with an optional interval drawn as a vertical whisker.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub range: Option<(f64, f64)>,
}

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend entry; series sharing a name share one entry.
    pub name: String,
    pub colour: &'static str,
    pub points: Vec<Point>,
    pub dashed: bool,
    /// Draw a dot at every point (few points), or only the line (dense series).
    pub dots: bool,
}

/// How the x axis is labelled.
#[derive(Debug, Clone)]
pub enum XAxis {
    /// Numeric, ticks chosen from the data, starting at 0.
    Linear { label: String },
    /// Named positions, e.g. percentiles at their place on a "nines" scale.
    Categories {
        label: String,
        ticks: Vec<(f64, String)>,
    },
}

/// A line chart.
#[derive(Debug, Clone)]
pub struct LineChart {
    pub id: String,
    pub title: String,
    pub x: XAxis,
    pub y_label: String,
    /// Logarithmic y axis (latencies spanning orders of magnitude).
    pub y_log: bool,
    pub series: Vec<Series>,
}

impl LineChart {
    pub fn render(&self) -> Markup {
        let values = || {
            self.series.iter().flat_map(|s| {
                s.points.iter().flat_map(|p| {
                    std::iter::once(p.y).chain(p.range.into_iter().flat_map(|(l, h)| [l, h]))
                })
            })
        };
        let has_points = self.series.iter().any(|s| !s.points.is_empty());
        if !has_points {
            return empty(&self.id, &self.title, "no data recorded");
        }
        let (left, right, top, bottom) = (70.0, 30.0, 40.0, 56.0);
        let height = 380.0;
        let plot_bottom = height - bottom;
        let y_max = values().filter(|v| v.is_finite()).fold(f64::MIN, f64::max);
        let y_ticks = if self.y_log {
            let y_min = values()
                .filter(|v| v.is_finite() && *v > 0.0)
                .fold(f64::MAX, f64::min);
            log_ticks(y_min, y_max)
        } else {
            linear_ticks(0.0, y_max * 1.05)
        };
        let y = Scale {
            min: y_ticks.first().copied().unwrap_or(0.0),
            max: y_ticks.last().copied().unwrap_or(1.0),
            log: self.y_log,
            from: plot_bottom,
            to: top,
        };
        let (x_label, x_ticks): (&str, Vec<(f64, String)>) = match &self.x {
            XAxis::Linear { label } => {
                let x_max = self
                    .series
                    .iter()
                    .flat_map(|s| s.points.iter().map(|p| p.x))
                    .fold(0.0, f64::max);
                (
                    label,
                    linear_ticks(0.0, x_max)
                        .into_iter()
                        .map(|t| (t, tick_label(t)))
                        .collect(),
                )
            }
            XAxis::Categories { label, ticks } => (label, ticks.clone()),
        };
        let x_min = x_ticks.first().map_or(0.0, |t| t.0);
        let x_max = x_ticks.last().map_or(1.0, |t| t.0);
        // Categories sit inside the plot, not on its edges.
        let pad = if matches!(self.x, XAxis::Categories { .. }) {
            30.0
        } else {
            0.0
        };
        let x = Scale {
            min: x_min,
            max: x_max,
            log: false,
            from: left + pad,
            to: WIDTH - right - pad,
        };
        let mut legend: Vec<(&str, &str)> = Vec::new();
        for s in &self.series {
            if !legend.iter().any(|(name, _)| *name == s.name) {
                legend.push((&s.name, s.colour));
            }
        }
        let body = html! {
            @for tick in &y_ticks {
                @let py = y.at(*tick);
                line x1=(px(left)) x2=(px(WIDTH - right)) y1=(px(py)) y2=(px(py)) stroke=(GRID) {}
                text x=(px(left - 8.0)) y=(px(py + 4.0)) text-anchor="end" fill=(AXIS) { (tick_label(*tick)) }
            }
            @for (tick, label) in &x_ticks {
                @let px_ = x.at(*tick);
                line x1=(px(px_)) x2=(px(px_)) y1=(px(top)) y2=(px(plot_bottom)) stroke=(GRID) {}
                text x=(px(px_)) y=(px(plot_bottom + 18.0)) text-anchor="middle" fill=(AXIS) { (label) }
            }
            line x1=(px(left)) x2=(px(left)) y1=(px(top)) y2=(px(plot_bottom)) stroke=(AXIS) {}
            line x1=(px(left)) x2=(px(WIDTH - right)) y1=(px(plot_bottom)) y2=(px(plot_bottom)) stroke=(AXIS) {}
            text x=(px((left + WIDTH - right) / 2.0)) y=(px(height - 12.0)) text-anchor="middle" fill=(AXIS) { (x_label) }
            text transform=(format!("translate(16 {}) rotate(-90)", px((top + plot_bottom) / 2.0))) text-anchor="middle" fill=(AXIS) { (self.y_label) }
            @for (n, s) in self.series.iter().enumerate() {
                // On categories, series sit a few pixels apart so their whiskers do not overlap.
                @let shift = if pad > 0.0 { (n as f64 - (self.series.len() as f64 - 1.0) / 2.0) * 6.0 } else { 0.0 };
                @let x = |v: f64| x.at(v) + shift;
                @let points: Vec<String> = s.points.iter().filter(|p| p.y.is_finite()).map(|p| format!("{},{}", px(x(p.x)), px(y.at(p.y)))).collect();
                polyline points=(points.join(" ")) fill="none" stroke=(s.colour) stroke-width="2.2"
                    stroke-dasharray=(if s.dashed { "6 4" } else { "none" }) stroke-linejoin="round" {
                    title { (s.name) }
                }
                @for p in &s.points {
                    @if let Some((low, high)) = p.range {
                        line x1=(px(x(p.x))) x2=(px(x(p.x))) y1=(px(y.at(low))) y2=(px(y.at(high))) stroke=(s.colour) stroke-width="1.5" {}
                    }
                    @if s.dots {
                        circle cx=(px(x(p.x))) cy=(px(y.at(p.y))) r="3.5" fill=(s.colour) {
                            title { (s.name) ": " (tick_label(p.y)) }
                        }
                    }
                }
            }
            @for (i, (name, colour)) in legend.iter().enumerate() {
                @let lx = left + 10.0 + 150.0 * i as f64;
                rect x=(px(lx)) y="12" width="14" height="14" rx="2" fill=(colour) {}
                text x=(px(lx + 20.0)) y="24" fill=(INK) { (name) }
            }
        };
        frame(&self.id, &self.title, height, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_cover_the_range_in_nice_steps() {
        assert_eq!(
            linear_ticks(0.0, 9_300.0),
            vec![0.0, 2000.0, 4000.0, 6000.0, 8000.0, 10_000.0]
        );
        assert_eq!(linear_ticks(0.0, 0.0), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(linear_ticks(0.0, 4.003), vec![0.0, 1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn log_ticks_bracket_the_range() {
        assert_eq!(
            log_ticks(0.3, 45.0),
            vec![0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
        );
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick_label(12_000.0), "12k");
        assert_eq!(tick_label(2.5), "2.5");
        assert_eq!(tick_label(0.02), "0.02");
        assert_eq!(tick_label(1_500_000.0), "1.5M");
    }

    #[test]
    fn every_svg_element_is_closed() {
        let chart = LineChart {
            id: "c".into(),
            title: "t".into(),
            x: XAxis::Linear { label: "s".into() },
            y_label: "MiB".into(),
            y_log: false,
            series: vec![Series {
                name: "a".into(),
                colour: colour(0),
                points: vec![
                    Point {
                        x: 0.0,
                        y: 1.0,
                        range: None,
                    },
                    Point {
                        x: 1.0,
                        y: 2.0,
                        range: Some((1.5, 2.5)),
                    },
                ],
                dashed: false,
                dots: true,
            }],
        }
        .render()
        .into_string();
        for element in ["line", "circle", "rect", "polyline", "text"] {
            assert_eq!(
                chart.matches(&format!("<{element} ")).count(),
                chart.matches(&format!("</{element}>")).count(),
                "{element} in {chart}"
            );
        }
    }
}
