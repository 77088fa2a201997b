//! The capacity ramp: grow the pool of joined chat connections step by step, hold each
//! step, read the server's memory, and stop at the first step that breaks a limit. The
//! figures are the connections held at the last step that passed and the memory each costs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::driver::{Driver, DriverError, GrowReport};
use crate::runtime::Instance;
use crate::stats::{LatencySummary, latency_summary};

/// What ends a ramp.
#[derive(Debug, Clone)]
pub struct CapacitySpec {
    /// Connection counts to reach, ascending.
    pub steps: Vec<u64>,
    /// Each step is held this long before memory is read.
    pub hold: Duration,
    /// The whole ramp's time budget.
    pub budget: Duration,
    /// Handshake p99 above this breaks a step.
    pub p99_limit_ms: f64,
    /// More than this fraction of a step's new connections failing breaks it.
    pub error_limit: f64,
    /// The most connections this process may open (its open-file limit less a margin):
    /// steps above it are not tried, and the result says the host, not the server, ended it.
    pub generator_connection_limit: u64,
}

/// One step of the ramp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CapacityStep {
    /// The step: connections open in all once it is reached.
    pub connections: u64,
    /// New connections tried in this step, and how many joined.
    pub attempted: u64,
    pub joined: u64,
    /// Failures by kind (connect, upgrade, protocol, closed, timeout, io).
    pub failures: BTreeMap<String, u64>,
    pub first_failure: Option<String>,
    /// Not tried: the time budget ran out first.
    pub not_attempted: u64,
    /// Connections open and joined after the hold.
    pub held: u64,
    /// Connect → WebSocket → protocol handshake → join → online_users, for this step's
    /// new connections.
    pub handshake: LatencySummary,
    /// Seconds to open this step's connections.
    pub ramp_s: f64,
    /// The server's memory after the hold.
    pub memory_bytes: u64,
    /// (memory − baseline) / held.
    pub memory_per_connection_bytes: Option<f64>,
    /// Why this step ended the ramp, when it did.
    pub broke: Option<String>,
}

/// A whole ramp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CapacityResult {
    /// The server's memory, idle, before the first connection.
    pub baseline_memory_bytes: u64,
    pub steps: Vec<CapacityStep>,
    /// Connections held at the last step that passed (0 when none did).
    pub connections_held: u64,
    /// The most connections held at any step, passing or not.
    pub peak_held: u64,
    /// Memory per connection at the last step that passed.
    pub memory_per_connection_bytes: Option<f64>,
    /// The step that broke a limit; `None` when the ramp ended otherwise.
    pub stopped_at: Option<u64>,
    /// Why the ramp ended, one line.
    pub stop_reason: String,
    /// True when the host (the generator's or the server container's open-file limit, the
    /// time budget, the profile's largest step), not the server, ended the ramp: the
    /// capacity is at least `connections_held`.
    pub host_bound: bool,
    /// The server process's open-file limit, when it could be read.
    #[serde(default)]
    pub server_open_files_limit: Option<u64>,
}

/// Files a server needs besides its connections (listening socket, stdio, libraries…).
pub const SERVER_FD_MARGIN: u64 = 100;

/// The steps to try: the profile's, with any beyond `limit` replaced by `limit` itself, so
/// a ramp bounded by the host still measures right up to that bound.
pub fn clip_steps(steps: &[u64], limit: u64) -> Vec<u64> {
    let mut clipped: Vec<u64> = steps.iter().copied().filter(|&s| s <= limit).collect();
    if steps.iter().any(|&s| s > limit) && clipped.last() != Some(&limit) && limit > 0 {
        clipped.push(limit);
    }
    clipped
}

/// Why a ramp could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum CapacityError {
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
}

/// Whether a finished step broke a limit, and how, in one line.
pub fn judge(step: &CapacityStep, spec: &CapacitySpec) -> Option<String> {
    let failed: u64 = step.failures.values().sum();
    if step.attempted > 0 && failed as f64 > spec.error_limit * step.attempted as f64 {
        let kinds: Vec<String> = step
            .failures
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        return Some(format!(
            "{failed} of {} new connections failed ({}), over the {}% limit; first: {}",
            step.attempted,
            kinds.join(", "),
            spec.error_limit * 100.0,
            step.first_failure.as_deref().unwrap_or("?")
        ));
    }
    if step.joined > 0 && step.handshake.p99_ms > spec.p99_limit_ms {
        return Some(format!(
            "handshake p99 {:.0} ms over the {:.0} ms limit",
            step.handshake.p99_ms, spec.p99_limit_ms
        ));
    }
    let expected = step.connections.saturating_sub(failed);
    let lost = expected.saturating_sub(step.held);
    if lost as f64 > spec.error_limit * step.connections.max(1) as f64 {
        return Some(format!(
            "{lost} joined connections were closed during the hold ({} of {} held)",
            step.held, step.connections
        ));
    }
    None
}

/// The median of three memory readings a little apart (one reading can catch a GC).
async fn settled_memory<I: Instance>(instance: &I) -> Result<u64, crate::runtime::RuntimeError> {
    let mut readings = Vec::new();
    for _ in 0..3 {
        readings.push(instance.read_resources().await?.memory_bytes);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    readings.sort_unstable();
    Ok(readings[1])
}

fn step_from(
    connections: u64,
    grown: &GrowReport,
    held: u64,
    memory: u64,
    baseline: u64,
) -> CapacityStep {
    CapacityStep {
        connections,
        attempted: grown.attempted,
        joined: grown.joined,
        failures: grown.failures.clone(),
        first_failure: grown.first_failure.clone(),
        not_attempted: grown.not_attempted,
        held,
        handshake: latency_summary(&grown.handshake_us),
        ramp_s: grown.elapsed.as_secs_f64(),
        memory_bytes: memory,
        memory_per_connection_bytes: (held > 0)
            .then(|| memory.saturating_sub(baseline) as f64 / held as f64),
        broke: None,
    }
}

/// Runs the ramp against a ready target. `progress` gets one line per step.
pub async fn ramp<I: Instance>(
    instance: &I,
    driver: &Driver,
    spec: &CapacitySpec,
    progress: &dyn Fn(&str),
) -> Result<CapacityResult, CapacityError> {
    let started = Instant::now();
    let deadline = started + spec.budget;
    let baseline = settled_memory(instance).await?;
    let server_files = instance.open_files_limit().await;
    let server_usable = server_files.map_or(u64::MAX, |f| f.saturating_sub(SERVER_FD_MARGIN));
    let bound = spec.generator_connection_limit.min(server_usable);
    let bound_reason = if server_usable < spec.generator_connection_limit {
        format!(
            "the server may open only {} files (its container's limit, the engine's own when the engine cannot raise it)",
            server_files.unwrap_or(0)
        )
    } else {
        format!(
            "this process may open only {} connections (its open-file limit)",
            spec.generator_connection_limit
        )
    };
    let steps = clip_steps(&spec.steps, bound);
    let mut result = CapacityResult {
        baseline_memory_bytes: baseline,
        steps: Vec::new(),
        connections_held: 0,
        peak_held: 0,
        memory_per_connection_bytes: None,
        stopped_at: None,
        stop_reason: String::new(),
        host_bound: false,
        server_open_files_limit: server_files,
    };
    for &connections in &steps {
        if Instant::now() >= deadline {
            result.stop_reason = format!(
                "the time budget ({} s) ran out before the step of {connections}",
                spec.budget.as_secs()
            );
            result.host_bound = true;
            return Ok(result);
        }
        let grown = driver.grow(connections as usize, deadline).await?;
        tokio::time::sleep(spec.hold).await;
        if let Some(exited) = instance.exited().await? {
            let how = if exited.oom_killed {
                "was killed for memory".to_string()
            } else {
                format!("exited with code {}", exited.code)
            };
            let mut step = step_from(connections, &grown, 0, 0, baseline);
            step.broke = Some(format!("the server {how}"));
            result.stop_reason = format!("the server {how} at the step of {connections}");
            result.stopped_at = Some(connections);
            progress(&format!("  {connections:>7}: the server {how}"));
            result.steps.push(step);
            return Ok(result);
        }
        let held = driver.held().await?.alive;
        let memory = settled_memory(instance).await?;
        let mut step = step_from(connections, &grown, held, memory, baseline);
        step.broke = judge(&step, spec);
        progress(&format!(
            "  {connections:>7}: held {held}, {} failed, handshake p50 {:.1} ms p99 {:.1} ms, memory {:.1} MiB{}{}",
            grown.failures.values().sum::<u64>(),
            step.handshake.p50_ms,
            step.handshake.p99_ms,
            memory as f64 / 1048576.0,
            step.memory_per_connection_bytes
                .map(|b| format!(" ({:.1} KiB per connection)", b / 1024.0))
                .unwrap_or_default(),
            step.broke
                .as_deref()
                .map(|b| format!(": {b}"))
                .unwrap_or_default(),
        ));
        result.peak_held = result.peak_held.max(held);
        let time_ran_out = grown.not_attempted > 0;
        if let Some(broke) = step.broke.clone() {
            result.stop_reason = format!("the step of {connections} broke a limit: {broke}");
            result.stopped_at = Some(connections);
            result.steps.push(step);
            return Ok(result);
        }
        result.connections_held = held;
        result.memory_per_connection_bytes = step.memory_per_connection_bytes;
        result.steps.push(step);
        if time_ran_out {
            result.stop_reason = format!(
                "the time budget ({} s) ran out during the step of {connections}",
                spec.budget.as_secs()
            );
            result.host_bound = true;
            return Ok(result);
        }
    }
    let largest = spec.steps.last().copied().unwrap_or(0);
    result.stop_reason = if largest > bound {
        format!(
            "every step passed up to {bound}, where the host stops the ramp: {bound_reason}; the server may hold more"
        )
    } else {
        format!(
            "every step passed, up to the profile's largest ({largest}): the server may hold more"
        )
    };
    result.host_bound = true;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CapacitySpec {
        CapacitySpec {
            steps: vec![1000],
            hold: Duration::ZERO,
            budget: Duration::from_secs(10),
            p99_limit_ms: 1000.0,
            error_limit: 0.01,
            generator_connection_limit: 100_000,
        }
    }

    fn step(attempted: u64, failed: u64, held: u64, p99_ms: f64) -> CapacityStep {
        CapacityStep {
            connections: 1000,
            attempted,
            joined: attempted - failed,
            failures: if failed > 0 {
                BTreeMap::from([("timeout".to_string(), failed)])
            } else {
                BTreeMap::new()
            },
            first_failure: (failed > 0).then(|| "timed out".to_string()),
            not_attempted: 0,
            held,
            handshake: LatencySummary {
                p99_ms,
                ..Default::default()
            },
            ramp_s: 1.0,
            memory_bytes: 0,
            memory_per_connection_bytes: None,
            broke: None,
        }
    }

    #[test]
    fn steps_beyond_a_host_limit_end_at_the_limit_itself() {
        assert_eq!(clip_steps(&[1000, 2000, 5000], 3000), [1000, 2000, 3000]);
        assert_eq!(clip_steps(&[1000, 2000], 2000), [1000, 2000]);
        assert_eq!(clip_steps(&[1000, 2000], 100_000), [1000, 2000]);
    }

    #[test]
    fn a_clean_step_passes() {
        assert_eq!(judge(&step(1000, 0, 1000, 50.0), &spec()), None);
        // Failures at the limit still pass: it is "more than" the limit that breaks.
        assert_eq!(judge(&step(1000, 10, 990, 50.0), &spec()), None);
    }

    #[test]
    fn failures_over_the_limit_break_the_step_and_are_named_by_kind() {
        let broke = judge(&step(1000, 11, 989, 50.0), &spec()).expect("breaks");
        assert!(
            broke.contains("11 of 1000") && broke.contains("timeout 11"),
            "{broke}"
        );
    }

    #[test]
    fn a_slow_handshake_p99_breaks_the_step() {
        let broke = judge(&step(1000, 0, 1000, 1500.0), &spec()).expect("breaks");
        assert!(broke.contains("p99 1500 ms"), "{broke}");
    }

    #[test]
    fn connections_closed_during_the_hold_break_the_step() {
        let broke = judge(&step(1000, 0, 900, 50.0), &spec()).expect("breaks");
        assert!(
            broke.contains("100 joined connections were closed"),
            "{broke}"
        );
    }
}
