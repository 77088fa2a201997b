//! `faceoff load`: faceoff's load generator against any loopback URL.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::LoadArgs;
use crate::runtime::{self as rt};

use super::*;

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
    };
    let live = std::sync::Arc::new(LiveCounters::default());
    let rate = args.rate;
    let run = tokio::task::spawn_blocking(move || match rate {
        Some(rate) => load::run_open_loop(&spec, rate, live),
        None => load::run_closed_loop(&spec, live),
    });
    let report = tokio::select! {
        report = run => report.context("the load generator thread failed")??,
        _ = shutdown_signal() => return Ok(ExitCode::from(EXIT_INTERRUPTED)),
    };
    if let Some(open) = report.open_loop.as_ref().filter(|open| !open.kept_rate()) {
        eprintln!("warning: {}", crate::sweep::rate_shortfall(open));
    }
    if args.json {
        let summary = serde_json::json!({
            "url": args.url,
            "connections": args.connections,
            "rate": args.rate,
            "requests": report.requests,
            "duration_s": report.elapsed.as_secs_f64(),
            "requests_per_sec": report.requests_per_sec(),
            "latency": crate::stats::latency_summary(&report.latency_us),
            "status_counts": report.status_counts,
            "errors": report.errors,
            "bytes_received": report.bytes_received,
            "response_bytes": report.response_bytes,
            "per_second": report.per_second,
            "connections_opened": report.connections_opened,
            "warmup_requests": report.warmup_requests,
            "warmup_errors": report.warmup_errors,
            "open_loop": report.open_loop,
            "service_latency": report.service_latency_us.as_ref().map(crate::stats::latency_summary),
        });
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
    Ok(ExitCode::SUCCESS)
}
