//! Resource sampling: reads a running target's CPU and memory at a fixed interval while a
//! load runs, and turns the readings into a series and a summary.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::runtime::{Instance, ResourceReading};

/// Generator CPU use (percent of its CPUs) above which a trial is flagged.
pub const GENERATOR_BUSY_WARNING: f64 = 90.0;

/// One point of the resource series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Sample {
    /// Milliseconds since sampling started.
    pub t_ms: u64,
    /// CPU use since the previous sample, in percent of one core.
    pub cpu_percent: f64,
    pub memory_bytes: u64,
}

/// Peak and mean resource use over a trial, with the series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
pub struct ResourceSummary {
    pub peak_memory_bytes: u64,
    pub mean_memory_bytes: u64,
    pub peak_cpu_percent: f64,
    pub mean_cpu_percent: f64,
    pub samples: Vec<Sample>,
}

/// Runs `work` while reading `instance`'s resources every `interval`; returns the work's
/// output and the readings (one taken before and one after the work, at least).
pub async fn sample_while<I: Instance, F: Future>(
    instance: &I,
    interval: Duration,
    work: F,
) -> (F::Output, Vec<ResourceReading>) {
    let mut readings = Vec::new();
    if let Ok(reading) = instance.read_resources().await {
        readings.push(reading);
    }
    tokio::pin!(work);
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    let output = loop {
        tokio::select! {
            output = &mut work => break output,
            _ = ticker.tick() => {
                if let Ok(reading) = instance.read_resources().await {
                    readings.push(reading);
                }
            }
        }
    };
    if let Ok(reading) = instance.read_resources().await {
        readings.push(reading);
    }
    (output, readings)
}

/// Turns cumulative readings into a series: CPU percent between consecutive readings.
pub fn series(readings: &[ResourceReading]) -> Vec<Sample> {
    let Some(first) = readings.first() else {
        return Vec::new();
    };
    readings
        .windows(2)
        .filter_map(|pair| {
            let (before, after) = (pair[0], pair[1]);
            let wall = after.at.checked_duration_since(before.at)?;
            if wall.is_zero() {
                return None;
            }
            let cpu = after.cpu_total_ns.saturating_sub(before.cpu_total_ns) as f64;
            Some(Sample {
                t_ms: after.at.duration_since(first.at).as_millis() as u64,
                cpu_percent: 100.0 * cpu / wall.as_nanos() as f64,
                memory_bytes: after.memory_bytes,
            })
        })
        .collect()
}

/// Peak and mean of a series.
pub fn summarize(samples: Vec<Sample>) -> ResourceSummary {
    if samples.is_empty() {
        return ResourceSummary::default();
    }
    let n = samples.len() as f64;
    ResourceSummary {
        peak_memory_bytes: samples.iter().map(|s| s.memory_bytes).max().unwrap_or(0),
        mean_memory_bytes: (samples.iter().map(|s| s.memory_bytes as f64).sum::<f64>() / n) as u64,
        peak_cpu_percent: samples.iter().map(|s| s.cpu_percent).fold(0.0, f64::max),
        mean_cpu_percent: samples.iter().map(|s| s.cpu_percent).sum::<f64>() / n,
        samples,
    }
}

/// How busy the load generator (this process) kept its CPUs, in percent of their capacity.
pub fn generator_busy_percent(cpu_ns: u64, wall: Duration, cpus: usize) -> f64 {
    let capacity = wall.as_nanos() as f64 * cpus.max(1) as f64;
    if capacity == 0.0 {
        0.0
    } else {
        100.0 * cpu_ns as f64 / capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn reading(start: Instant, ms: u64, cpu_ms: u64, mem: u64) -> ResourceReading {
        ResourceReading {
            at: start + Duration::from_millis(ms),
            cpu_total_ns: cpu_ms * 1_000_000,
            memory_bytes: mem,
        }
    }

    #[test]
    fn cpu_percent_is_cpu_time_over_wall_time() {
        let t = Instant::now();
        let s = series(&[
            reading(t, 0, 0, 10),
            reading(t, 500, 250, 20),
            reading(t, 1000, 750, 30),
        ]);
        assert_eq!(s.len(), 2);
        assert!((s[0].cpu_percent - 50.0).abs() < 1e-9);
        assert!((s[1].cpu_percent - 100.0).abs() < 1e-9);
        assert_eq!(s[1].t_ms, 1000);
        assert_eq!(s[1].memory_bytes, 30);
    }

    #[test]
    fn summary_has_peak_and_mean() {
        let t = Instant::now();
        let summary = summarize(series(&[
            reading(t, 0, 0, 0),
            reading(t, 100, 50, 100),
            reading(t, 200, 60, 300),
        ]));
        assert_eq!(summary.peak_memory_bytes, 300);
        assert_eq!(summary.mean_memory_bytes, 200);
        assert!((summary.peak_cpu_percent - 50.0).abs() < 1e-9);
        assert!((summary.mean_cpu_percent - 30.0).abs() < 1e-9);
    }

    #[test]
    fn generator_busy_is_cpu_time_over_capacity() {
        let busy = generator_busy_percent(1_500_000_000, Duration::from_secs(1), 2);
        assert!((busy - 75.0).abs() < 1e-9);
        assert_eq!(generator_busy_percent(5, Duration::ZERO, 1), 0.0);
    }

    #[test]
    fn no_readings_give_an_empty_summary() {
        assert_eq!(summarize(series(&[])), ResourceSummary::default());
    }
}
