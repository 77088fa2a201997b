//! `faceoff load`: faceoff's load generator against any loopback URL.

use std::process::ExitCode;

use anyhow::{Context, Result};

use std::collections::BTreeMap;

use crate::cli::LoadArgs;
use crate::load::{ErrorCounts, LoadReport, OpenLoopStats};
use crate::runtime::{self as rt};
use crate::stats::{LatencySummary, latency_summary};

use super::{EXIT_INTERRUPTED, EXIT_TERMINATED};

pub async fn load_command(args: &LoadArgs) -> Result<ExitCode> {
    use crate::load::{self, LiveCounters, LoadSpec};
    let url: hyper::Uri = args
        .url
        .parse()
        .with_context(|| format!("`{}` is not a URL", args.url))?;
    let method = args
        .method
        .parse()
        .with_context(|| format!("`{}` is not an HTTP method", args.method))?;
    if let Some(body) = &args.body {
        serde_json::from_str::<serde_json::Value>(body).context("--body is not JSON")?;
    }
    let cpus = match &args.cpus {
        Some(cpus) => rt::parse_cpuset(cpus)?,
        None => Vec::new(),
    };
    load::ensure_fd_limit(args.connections as usize)?;
    let spec = LoadSpec {
        url,
        method,
        body: args.body.clone().map(bytes::Bytes::from),
        connections: args.connections as usize,
        threads: args.threads.max(1),
        cpus,
        warmup: args.warmup,
        duration: args.duration,
        max_requests: args.max_requests,
        request_timeout: args.timeout,
        keep_alive: !args.no_keep_alive,
    };
    let live = std::sync::Arc::new(LiveCounters::default());
    let rate = args.rate;
    // A plain thread, not `spawn_blocking`: the process can then exit at once on a second
    // signal without waiting for the generator (tokio waits for its blocking threads).
    let (done, report) = tokio::sync::oneshot::channel();
    {
        let live = live.clone();
        std::thread::Builder::new()
            .name("faceoff-load".into())
            .spawn(move || {
                let _ = done.send(match rate {
                    Some(rate) => load::run_open_loop(&spec, rate, live),
                    None => load::run_closed_loop(&spec, live),
                });
            })
            .context("cannot start the load generator thread")?;
    }
    let mut report = std::pin::pin!(report);
    let mut interrupted = false;
    let report = tokio::select! {
        report = &mut report => report,
        signal = next_signal() => {
            if signal == Signal::Terminate {
                return Ok(ExitCode::from(EXIT_TERMINATED));
            }
            // First Ctrl-C: the generator stops within a second and what it measured is
            // printed; a second Ctrl-C, or SIGTERM, quits at once.
            interrupted = true;
            live.stop();
            eprintln!("interrupted: stopping the load (Ctrl-C again to quit at once)");
            tokio::select! {
                report = &mut report => report,
                signal = next_signal() => return Ok(ExitCode::from(match signal {
                    Signal::Interrupt => EXIT_INTERRUPTED,
                    Signal::Terminate => EXIT_TERMINATED,
                })),
            }
        }
    }
    .context("the load generator thread failed")??;
    if let Some(open) = report.open_loop.as_ref().filter(|open| !open.kept_rate()) {
        eprintln!("warning: {}", crate::sweep::rate_shortfall(open));
    }
    if args.json {
        let summary = LoadSummary::new(&report, &args.url, args.connections, args.rate);
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!(
            "{}",
            crate::console::wrk::wrk_text(
                &report,
                &args.url,
                args.connections as usize,
                args.threads.max(1)
            )
        );
    }
    if interrupted {
        eprintln!(
            "interrupted: the figures above cover {:.1}s of measured load",
            report.elapsed.as_secs_f64()
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    if let Some(line) = nothing_succeeded(&report) {
        eprintln!("error: {line}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Why a run in which no request got a successful (below 400) answer failed, one line; `None`
/// when some did.
fn nothing_succeeded(report: &LoadReport) -> Option<String> {
    let succeeded: u64 = report.status_counts.range(..400).map(|(_, n)| n).sum();
    if succeeded > 0 {
        return None;
    }
    let errors = &report.errors;
    Some(format!(
        "no request succeeded: {} answered with a status of 400 or more, {} connect error(s), {} timeout(s), {} I/O error(s)",
        errors.non_success, errors.connect, errors.timeout, errors.io
    ))
}

/// Which signal arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Interrupt,
    Terminate,
}

/// The next Ctrl-C or SIGTERM.
async fn next_signal() -> Signal {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => Signal::Interrupt,
        _ = async {
            match term.as_mut() {
                Some(term) => { term.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => Signal::Terminate,
    }
}

/// `faceoff load --json`: the run's settings and every figure the generator measured.
#[derive(Debug, serde::Serialize)]
pub struct LoadSummary<'a> {
    pub url: &'a str,
    pub connections: u32,
    /// The open-loop rate asked for; absent for a closed loop.
    pub rate: Option<f64>,
    pub requests: u64,
    pub duration_s: f64,
    pub requests_per_sec: f64,
    pub latency: LatencySummary,
    pub status_counts: &'a BTreeMap<u16, u64>,
    pub errors: ErrorCounts,
    pub bytes_received: u64,
    pub response_bytes: u64,
    pub per_second: &'a [u64],
    pub connections_opened: u64,
    pub warmup_requests: u64,
    pub warmup_errors: u64,
    pub open_loop: Option<&'a OpenLoopStats>,
    /// Open loop: latency from the actual write, without the coordinated-omission correction.
    pub service_latency: Option<LatencySummary>,
}

impl<'a> LoadSummary<'a> {
    pub fn new(report: &'a LoadReport, url: &'a str, connections: u32, rate: Option<f64>) -> Self {
        LoadSummary {
            url,
            connections,
            rate,
            requests: report.requests,
            duration_s: report.elapsed.as_secs_f64(),
            requests_per_sec: report.requests_per_sec(),
            latency: latency_summary(&report.latency_us),
            status_counts: &report.status_counts,
            errors: report.errors,
            bytes_received: report.bytes_received,
            response_bytes: report.response_bytes,
            per_second: &report.per_second,
            connections_opened: report.connections_opened,
            warmup_requests: report.warmup_requests,
            warmup_errors: report.warmup_errors,
            open_loop: report.open_loop.as_ref(),
            service_latency: report.service_latency_us.as_ref().map(latency_summary),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report_with(status_counts: BTreeMap<u16, u64>, errors: ErrorCounts) -> LoadReport {
        LoadReport {
            requests: status_counts.values().sum(),
            elapsed: std::time::Duration::from_secs(1),
            latency_us: hdrhistogram::Histogram::new(3).unwrap(),
            service_latency_us: None,
            status_counts,
            errors,
            bytes_received: 0,
            response_bytes: 0,
            per_second: vec![],
            warmup_requests: 0,
            warmup_errors: 0,
            connections_opened: 1,
            open_loop: None,
        }
    }

    #[test]
    fn a_load_in_which_no_request_succeeded_fails_with_the_counts() {
        let refused = ErrorCounts {
            connect: 3,
            ..Default::default()
        };
        let line = nothing_succeeded(&report_with(BTreeMap::new(), refused)).unwrap();
        assert!(
            line.contains("no request succeeded") && line.contains("3 connect"),
            "{line}"
        );
        let all_500 = ErrorCounts {
            non_success: 10,
            ..Default::default()
        };
        assert!(nothing_succeeded(&report_with(BTreeMap::from([(500, 10)]), all_500)).is_some());
        let one_ok = report_with(BTreeMap::from([(500, 10), (200, 1)]), all_500);
        assert_eq!(nothing_succeeded(&one_ok), None);
    }

    #[test]
    fn the_json_summary_carries_the_settings_and_the_figures() {
        let report = LoadReport {
            requests: 100,
            elapsed: std::time::Duration::from_secs(2),
            latency_us: hdrhistogram::Histogram::new(3).unwrap(),
            service_latency_us: None,
            status_counts: BTreeMap::from([(200, 100)]),
            errors: ErrorCounts::default(),
            bytes_received: 0,
            response_bytes: 0,
            per_second: vec![50, 50],
            warmup_requests: 0,
            warmup_errors: 0,
            connections_opened: 8,
            open_loop: None,
        };
        let summary = LoadSummary::new(&report, "http://127.0.0.1:1/status", 8, None);
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["url"], "http://127.0.0.1:1/status");
        assert_eq!(json["connections"], 8);
        assert_eq!(json["requests"], 100);
        assert_eq!(json["requests_per_sec"], 50.0);
        assert!(json["rate"].is_null() && json["open_loop"].is_null());
    }
}
