//! Text in the shape wrk prints, for `faceoff load`, and the table of `faceoff calibrate`.
//!
//! Only reads a [`LoadReport`] or a [`Calibration`]; never measures. The number formats follow
//! wrk's (`764.00us`, `1.29ms`, `41.53k`, `32.56MB`, a unit switching at 85% of the next one),
//! so the two outputs can be read side by side.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::instrument::Calibration;
use crate::load::{LATE_SEND, LoadReport};

/// Percentiles of the latency distribution, as printed.
const PERCENTILES: [(&str, f64); 6] = [
    ("50", 0.50),
    ("75", 0.75),
    ("90", 0.90),
    ("99", 0.99),
    ("99.9", 0.999),
    ("99.99", 0.9999),
];

/// A run's results as wrk prints them (`wrk --latency`), plus, for an open-loop run, the
/// requested and achieved rate, the schedule lag and the uncorrected latency.
///
/// `connections` and `threads` are the run's settings; `Req/Sec` is per thread, as in wrk,
/// from the per-second series. The `read` figure counts response bytes with headers, like
/// wrk's.
#[must_use]
pub fn wrk_text(report: &LoadReport, url: &str, connections: usize, threads: usize) -> String {
    let threads = threads.max(1);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Running {} test @ {url}",
        format_time_s(report.elapsed.as_secs_f64())
    );
    let _ = writeln!(out, "  {threads} threads and {connections} connections");
    let _ = writeln!(
        out,
        "  Thread Stats{:>6}{:>11}{:>8}{:>12}",
        "Avg", "Stdev", "Max", "+/- Stdev"
    );

    let latency = &report.latency_us;
    let (mean, stdev) = (latency.mean(), latency.stdev());
    let _ = writeln!(
        out,
        "    {:<10}{}{}{}{:>8.2}%",
        "Latency",
        units_cell(&format_time_us(mean), 8),
        units_cell(&format_time_us(stdev), 10),
        units_cell(&format_time_us(latency.max() as f64), 9),
        histogram_within_stdev(latency, mean, stdev),
    );

    let samples: Vec<f64> = if report.per_second.is_empty() {
        vec![report.requests_per_sec()]
    } else {
        report.per_second.iter().map(|&n| n as f64).collect()
    };
    let samples: Vec<f64> = samples.iter().map(|n| n / threads as f64).collect();
    let (s_mean, s_stdev, s_max, s_within) = sample_stats(&samples);
    let _ = writeln!(
        out,
        "    {:<10}{}{}{}{:>8.2}%",
        "Req/Sec",
        units_cell(&format_metric(s_mean), 8),
        units_cell(&format_metric(s_stdev), 10),
        units_cell(&format_metric(s_max), 9),
        s_within,
    );

    let _ = writeln!(out, "  Latency Distribution");
    for (label, quantile) in PERCENTILES {
        let _ = writeln!(
            out,
            "{label:>7}%{}",
            units_cell(
                &format_time_us(latency.value_at_quantile(quantile) as f64),
                10
            )
        );
    }

    if let Some(open) = &report.open_loop {
        let _ = writeln!(
            out,
            "  Open loop (latency from the intended send time for requests that queued)"
        );
        let _ = writeln!(
            out,
            "    Rate        requested {:.2}/s, sent {:.2}/s",
            open.requested_rate, open.achieved_rate
        );
        let _ = writeln!(
            out,
            "    Lag         mean {}, max {}; {} of {} sends more than {} ms late, {} never sent",
            format_time_us(open.lag_mean_us).trim(),
            format_time_us(open.lag_max_us as f64).trim(),
            open.late_sends,
            open.sent,
            LATE_SEND.as_millis(),
            open.unsent,
        );
        if let Some(service) = &report.service_latency_us {
            let _ = writeln!(
                out,
                "    Uncorrected 50% {}, 99% {}, max {} (from the actual send)",
                format_time_us(service.value_at_quantile(0.5) as f64),
                format_time_us(service.value_at_quantile(0.99) as f64),
                format_time_us(service.max() as f64),
            );
        }
    }

    let _ = writeln!(
        out,
        "  {} requests in {}, {}B read",
        report.requests,
        format_time_us(report.elapsed.as_secs_f64() * 1e6),
        format_binary(report.response_bytes as f64)
    );
    let errors = report.errors;
    if errors.transport() > 0 {
        let _ = writeln!(
            out,
            "  Socket errors: connect {}, read {}, write 0, timeout {}",
            errors.connect, errors.io, errors.timeout
        );
    }
    if errors.non_success > 0 {
        let _ = writeln!(out, "  Non-2xx or 3xx responses: {}", errors.non_success);
    }
    let secs = report.elapsed.as_secs_f64();
    let per_sec = |n: f64| if secs > 0.0 { n / secs } else { 0.0 };
    let _ = writeln!(out, "Requests/sec: {:>9.2}", report.requests_per_sec());
    let _ = writeln!(
        out,
        "Transfer/sec: {:>10}B",
        format_binary(per_sec(report.response_bytes as f64))
    );
    out
}

/// The result of `faceoff calibrate` as a short text: the ratio lines first, then the rounds,
/// the open-loop check, the memory figure and the notes.
#[must_use]
pub fn calibration_text(calibration: &Calibration) -> String {
    let c = calibration;
    let m = &c.median;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "faceoff vs {} against {}: {} connections, {} s per run, {} rounds",
        c.wrk_version,
        c.nginx_version,
        c.connections,
        c.duration_s,
        c.rounds.len()
    );
    let rounds: Vec<String> = c.rounds.iter().map(|r| format!("{:.2}", r.ratio)).collect();
    let _ = writeln!(
        out,
        "  closed-loop req/s ratio faceoff/wrk  {:.2}  (median; rounds {})",
        m.ratio,
        rounds.join(", ")
    );
    if m.cpu_ratio > 0.0 {
        let _ = writeln!(
            out,
            "  CPU per request ratio faceoff/wrk    {:.2}  (median; {:.1} vs {:.1} us, user + system)",
            m.cpu_ratio, m.faceoff_cpu_us_per_request, m.wrk_cpu_us_per_request
        );
    }
    if let Some(open) = &c.open_loop {
        let _ = writeln!(
            out,
            "  open-loop latency ratio faceoff/wrk  p50 {:.2}, p99 {:.2} vs paced wrk; p50 {:.2}, p99 {:.2} vs 1-connection wrk  (at {:.0} req/s)",
            open.p50_ratio,
            open.p99_ratio,
            open.p50_ratio_single,
            open.p99_ratio_single,
            open.faceoff_requested_rate
        );
        let _ = writeln!(
            out,
            "  open-loop latency ratio, uncorrected  p50 {:.2}, p99 {:.2} vs paced wrk  (both timed from the write)",
            open.p50_ratio_uncorrected, open.p99_ratio_uncorrected
        );
    }
    if let Some(memory) = &c.memory {
        let _ = writeln!(
            out,
            "  memory with {} connections          +{:.1} MiB  ({:.1} -> {:.1} MiB RSS)",
            memory.connections, memory.rss_added_mib, memory.rss_before_mib, memory.rss_peak_mib
        );
    }

    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  {:<7} {:>13} {:>13} {:>6} {:>17} {:>17}",
        "round", "faceoff req/s", "wrk req/s", "ratio", "faceoff p50/p99", "wrk p50/p99"
    );
    let pair = |p50: f64, p99: f64| format!("{p50:.2}/{p99:.2} ms");
    for r in &c.rounds {
        let _ = writeln!(
            out,
            "  {:<7} {:>13.0} {:>13.0} {:>6.2} {:>17} {:>17}",
            r.round,
            r.faceoff.requests_per_sec,
            r.wrk.requests_per_sec,
            r.ratio,
            pair(r.faceoff.p50_ms, r.faceoff.p99_ms),
            pair(r.wrk.p50_ms, r.wrk.p99_ms),
        );
    }
    let _ = writeln!(
        out,
        "  {:<7} {:>13.0} {:>13.0} {:>6.2} {:>17} {:>17}",
        "median",
        m.faceoff_requests_per_sec,
        m.wrk_requests_per_sec,
        m.ratio,
        pair(m.faceoff_p50_ms, m.faceoff_p99_ms),
        pair(m.wrk_p50_ms, m.wrk_p99_ms),
    );
    let errors: u64 = c
        .rounds
        .iter()
        .map(|r| r.faceoff.errors + r.wrk.errors)
        .sum();
    if errors > 0 {
        let _ = writeln!(out, "  errors over all rounds: {errors}");
    }

    if let Some(open) = &c.open_loop {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  open loop, aiming at {:.0} req/s (wrk paced with a {} ms delay per connection):",
            open.target_rate, open.wrk_delay_ms
        );
        let _ = writeln!(
            out,
            "    wrk      {:>9.0} req/s   p50/p99 {}  (paced, {} connections)",
            open.wrk_requests_per_sec,
            pair(open.wrk_p50_ms, open.wrk_p99_ms),
            c.connections
        );
        let _ = writeln!(
            out,
            "    wrk      {:>9.0} req/s   p50/p99 {}  (closed loop, 1 connection)",
            open.wrk_single_requests_per_sec,
            pair(open.wrk_single_p50_ms, open.wrk_single_p99_ms)
        );
        let _ = writeln!(
            out,
            "    faceoff  {:>9.0} req/s   p50/p99 {}  (open loop; uncorrected {})",
            open.faceoff_achieved_rate,
            pair(open.faceoff_p50_ms, open.faceoff_p99_ms),
            pair(
                open.faceoff_uncorrected_p50_ms,
                open.faceoff_uncorrected_p99_ms
            )
        );
        let _ = writeln!(
            out,
            "    faceoff schedule lag mean {:.3} ms, max {:.2} ms; {} sends > {} ms late, {} never sent",
            open.lag_mean_ms,
            open.lag_max_ms,
            open.late_sends,
            LATE_SEND.as_millis(),
            open.unsent
        );
    }

    if let Some(memory) = &c.memory {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  memory: {} connections asked, {} opened, {} errors ({} while opening), open-file limit {}, {:.0} req/s over them",
            memory.connections,
            memory.connections_opened,
            memory.errors.total(),
            memory.warmup_errors,
            memory.open_file_limit,
            memory.requests_per_sec
        );
    }

    if !c.notes.is_empty() {
        let _ = writeln!(out);
        for note in &c.notes {
            let _ = writeln!(out, "  note: {note}");
        }
    }
    out
}

/// wrk's `format_units`: divide by `scale` while the amount reaches 85% of it and a larger
/// unit remains; as in wrk, the last entry of `units` only ends the list and is never used
/// (times in microseconds stop at ms, larger ones are passed in seconds).
fn format_units(n: f64, scale: f64, base: &str, units: &[&str], precision: usize) -> String {
    let mut amount = n;
    let mut unit = base;
    let mut next = 0;
    while next + 1 < units.len() && amount >= scale * 0.85 {
        amount /= scale;
        unit = units[next];
        next += 1;
    }
    format!("{amount:.precision$}{unit}")
}

/// Microseconds as wrk prints a time: `764.00us`, `1.29ms`, `2.00s`, `1.50m`.
fn format_time_us(us: f64) -> String {
    if us >= 1_000_000.0 {
        format_units(us / 1_000_000.0, 60.0, "s", &["m", "h"], 2)
    } else {
        format_units(us, 1000.0, "us", &["ms", "s"], 2)
    }
}

/// Seconds as wrk prints the test length: `10s`, `2m`.
fn format_time_s(secs: f64) -> String {
    format_units(secs, 60.0, "s", &["m", "h"], 0)
}

/// A count with a metric prefix: `41.53k`.
fn format_metric(n: f64) -> String {
    format_units(n, 1000.0, "", &["k", "M", "G", "T", "P"], 2)
}

/// Bytes with a binary prefix (powers of 1024), the `B` left to the caller: `32.56M`.
fn format_binary(n: f64) -> String {
    format_units(n, 1024.0, "", &["K", "M", "G", "T", "P"], 2)
}

/// wrk's `print_units`: right-aligned in `width`, two columns of padding after a bare number,
/// one after a one-letter unit, none after a two-letter unit.
fn units_cell(text: &str, width: usize) -> String {
    let bytes = text.as_bytes();
    let alpha = |i: Option<usize>| {
        i.and_then(|i| bytes.get(i))
            .is_some_and(u8::is_ascii_alphabetic)
    };
    let mut pad = 2;
    if alpha(bytes.len().checked_sub(1)) {
        pad -= 1;
    }
    if alpha(bytes.len().checked_sub(2)) {
        pad -= 1;
    }
    let width = width - pad;
    let text: String = text.chars().take(width).collect();
    format!("{text:>width$}{}", " ".repeat(pad))
}

/// Percentage of recorded values within one standard deviation of the mean.
fn histogram_within_stdev(histogram: &Histogram<u64>, mean: f64, stdev: f64) -> f64 {
    if histogram.is_empty() {
        return 0.0;
    }
    let (low, high) = (mean - stdev, mean + stdev);
    let within: u64 = histogram
        .iter_recorded()
        .filter(|v| {
            let value = v.value_iterated_to() as f64;
            value >= low && value <= high
        })
        .map(|v| v.count_at_value())
        .sum();
    within as f64 * 100.0 / histogram.len() as f64
}

/// Mean, standard deviation, maximum and % within one deviation of a set of samples.
fn sample_stats(samples: &[f64]) -> (f64, f64, f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0, 0.0, 0.0);
    }
    let n = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / n;
    let stdev = if samples.len() > 1 {
        (samples.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    let max = samples.iter().copied().fold(f64::MIN, f64::max);
    let within = samples
        .iter()
        .filter(|&&s| s >= mean - stdev && s <= mean + stdev)
        .count() as f64
        * 100.0
        / n;
    (mean, stdev, max, within)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::instrument::{
        CalibrationRound, MemoryCheck, OpenLoopCheck, RoundMedians, RunFigures,
    };
    use crate::load::{ErrorCounts, OpenLoopStats};

    fn report() -> LoadReport {
        let mut latency_us = Histogram::<u64>::new(3).unwrap();
        for us in [700, 750, 800, 900, 1_200, 13_000] {
            latency_us.record_n(us, 1000).unwrap();
        }
        LoadReport {
            requests: 6000,
            elapsed: Duration::from_secs(5),
            latency_us,
            service_latency_us: None,
            status_counts: BTreeMap::from([(200, 5990), (500, 10)]),
            errors: ErrorCounts {
                connect: 1,
                timeout: 2,
                io: 3,
                reset: 1,
                non_success: 10,
            },
            bytes_received: 6000 * 11,
            response_bytes: 34_140_000,
            per_second: vec![41_000, 42_000, 40_000, 43_000, 41_500],
            warmup_requests: 0,
            warmup_errors: 0,
            connections_opened: 50,
            open_loop: None,
        }
    }

    #[test]
    fn prints_a_closed_loop_run_like_wrk() {
        let text = wrk_text(&report(), "http://127.0.0.1:8080/", 50, 1);
        let lines: Vec<&str> = text.lines().collect();

        assert_eq!(lines[0], "Running 5s test @ http://127.0.0.1:8080/");
        assert_eq!(lines[1], "  1 threads and 50 connections");
        assert_eq!(
            lines[2],
            "  Thread Stats   Avg      Stdev     Max   +/- Stdev"
        );
        assert!(
            lines[3].starts_with("    Latency     2.89ms    "),
            "{}",
            lines[3]
        );
        assert!(lines[3].contains("13.01ms"), "{}", lines[3]);
        assert!(
            lines[4].starts_with("    Req/Sec    41.50k"),
            "{}",
            lines[4]
        );
        assert_eq!(lines[5], "  Latency Distribution");
        assert_eq!(lines[6], "     50%  800.00us");
        assert_eq!(lines[8], "     90%   13.01ms");
        assert_eq!(lines[10], "   99.9%   13.01ms");
        assert_eq!(lines[11], "  99.99%   13.01ms");
        assert_eq!(lines[12], "  6000 requests in 5.00s, 32.56MB read");
        assert_eq!(
            lines[13],
            "  Socket errors: connect 1, read 3, write 0, timeout 2"
        );
        assert_eq!(lines[14], "  Non-2xx or 3xx responses: 10");
        assert_eq!(lines[15], "Requests/sec:   1200.00");
        assert_eq!(lines[16], "Transfer/sec:      6.51MB");
        assert!(!text.contains("Open loop"));
    }

    #[test]
    fn adds_rate_lag_and_uncorrected_latency_for_an_open_loop_run() {
        let mut report = report();
        report.errors = ErrorCounts::default();
        let mut service = Histogram::<u64>::new(3).unwrap();
        service.record_n(150, 100).unwrap();
        report.service_latency_us = Some(service);
        report.open_loop = Some(OpenLoopStats {
            requested_rate: 1000.0,
            achieved_rate: 998.5,
            scheduled: 5000,
            sent: 4992,
            unsent: 8,
            queued: 120,
            lag_mean_us: 42.0,
            lag_max_us: 2_500,
            late_sends: 12,
        });

        let text = wrk_text(&report, "http://127.0.0.1:8080/", 10, 2);

        assert!(text.contains("  2 threads and 10 connections\n"));
        assert!(
            text.contains("    Rate        requested 1000.00/s, sent 998.50/s\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "    Lag         mean 42.00us, max 2.50ms; 12 of 4992 sends more than 1 ms late, 8 never sent\n"
            ),
            "{text}"
        );
        assert!(text.contains("    Uncorrected 50% 150.00us"), "{text}");
        assert!(!text.contains("Socket errors"));
        assert!(!text.contains("Non-2xx"));
    }

    #[test]
    fn formats_numbers_with_wrks_units() {
        assert_eq!(format_time_us(764.0), "764.00us");
        assert_eq!(format_time_us(850.0), "0.85ms");
        assert_eq!(format_time_us(1_290.0), "1.29ms");
        assert_eq!(format_time_us(2_000_000.0), "2.00s");
        assert_eq!(format_time_us(90_000_000.0), "1.50m");
        assert_eq!(format_time_s(10.0), "10s");
        assert_eq!(format_time_s(120.0), "2m");
        assert_eq!(format_metric(41_530.0), "41.53k");
        assert_eq!(format_metric(12.0), "12.00");
        assert_eq!(format_binary(34_140_000.0), "32.56M");
        assert_eq!(units_cell("1.29ms", 8), "  1.29ms");
        assert_eq!(units_cell("41.53k", 8), " 41.53k ");
        assert_eq!(units_cell("12.00", 8), " 12.00  ");
    }

    #[test]
    fn prints_the_calibration_ratios_first() {
        let figures = |rps, p50, p99| RunFigures {
            requests_per_sec: rps,
            p50_ms: p50,
            p99_ms: p99,
            errors: 0,
            cpu_us_per_request: 10.0,
        };
        let calibration = Calibration {
            connections: 50,
            duration_s: 5,
            generator_cpu: 0,
            server_cpu: 1,
            nginx_version: "nginx/1.22.1".into(),
            wrk_version: "wrk 4.1.0 [epoll]".into(),
            rounds: vec![CalibrationRound {
                round: 1,
                faceoff: figures(61_000.0, 0.8, 2.0),
                wrk: figures(60_000.0, 0.7, 2.5),
                ratio: 61.0 / 60.0,
            }],
            median: RoundMedians {
                ratio: 61.0 / 60.0,
                faceoff_requests_per_sec: 61_000.0,
                wrk_requests_per_sec: 60_000.0,
                faceoff_p50_ms: 0.8,
                wrk_p50_ms: 0.7,
                faceoff_p99_ms: 2.0,
                wrk_p99_ms: 2.5,
                cpu_ratio: 0.9,
                faceoff_cpu_us_per_request: 9.0,
                wrk_cpu_us_per_request: 10.0,
            },
            open_loop: None,
            memory: Some(MemoryCheck {
                connections: 10_000,
                connections_opened: 10_000,
                errors: ErrorCounts::default(),
                warmup_errors: 0,
                open_file_limit: 20_000,
                rss_before_mib: 10.0,
                rss_peak_mib: 50.5,
                rss_added_mib: 40.5,
                requests_per_sec: 50_000.0,
            }),
            notes: vec!["a note".into()],
        };

        let text = calibration_text(&calibration);
        let lines: Vec<&str> = text.lines().collect();

        assert!(lines[1].contains("req/s ratio faceoff/wrk  1.02  (median; rounds 1.02)"));
        assert!(
            lines[2].contains("CPU per request ratio faceoff/wrk    0.90  (median; 9.0 vs 10.0 us"),
            "{text}"
        );
        assert!(lines[3].contains("memory with 10000 connections"), "{text}");
        assert!(lines[3].contains("+40.5 MiB"), "{text}");
        assert!(
            text.contains("  median          61000         60000   1.02"),
            "{text}"
        );
        assert!(text.contains("  note: a note"));
        assert!(!text.contains("open loop"));

        let with_open_loop = Calibration {
            open_loop: Some(OpenLoopCheck {
                target_rate: 30_000.0,
                wrk_delay_ms: 2,
                wrk_requests_per_sec: 18_000.0,
                wrk_p50_ms: 0.4,
                wrk_p99_ms: 1.1,
                wrk_single_requests_per_sec: 21_000.0,
                wrk_single_p50_ms: 0.04,
                wrk_single_p99_ms: 0.11,
                faceoff_requested_rate: 18_000.0,
                faceoff_achieved_rate: 17_999.0,
                faceoff_p50_ms: 0.06,
                faceoff_p99_ms: 0.17,
                faceoff_uncorrected_p50_ms: 0.06,
                faceoff_uncorrected_p99_ms: 0.16,
                p50_ratio: 0.15,
                p99_ratio: 0.15,
                p50_ratio_single: 1.5,
                p99_ratio_single: 1.55,
                p50_ratio_uncorrected: 0.15,
                p99_ratio_uncorrected: 0.145,
                lag_mean_ms: 0.026,
                lag_max_ms: 2.9,
                late_sends: 75,
                unsent: 0,
            }),
            ..calibration
        };
        let text = calibration_text(&with_open_loop);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[3].contains("p50 0.15, p99 0.15 vs paced wrk; p50 1.50, p99 1.55 vs 1-connection wrk  (at 18000 req/s)"),
            "{text}"
        );
        assert!(text.contains("(closed loop, 1 connection)"), "{text}");
        assert!(
            text.contains("open-loop latency ratio, uncorrected  p50 0.15"),
            "{text}"
        );
        assert!(
            text.contains("75 sends > 1 ms late, 0 never sent"),
            "{text}"
        );
    }
}
