//! The chat workload's record: its settings and each trial's capacity ramp or fan-out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::chat::capacity::CapacityResult;
use crate::chat::driver::FanoutReport;
use crate::sample::ResourceSummary;
use crate::stats::{LatencySummary, latency_summary};

/// The chat settings recorded in results.json (`parameters.chat`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatParameters {
    /// `capacity` or `fanout`.
    pub mode: String,
    pub room_size: usize,
    pub handshake_timeout_s: f64,
    /// Connection handshakes the driver keeps in flight at once.
    #[serde(default)]
    pub handshakes_in_flight: usize,
    /// capacity: the steps, hold, time budget, limits, and the most connections this
    /// process could open (its open-file limit less a margin).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<u64>,
    pub hold_s: Option<f64>,
    pub budget_s: Option<f64>,
    pub p99_limit_ms: Option<f64>,
    pub error_limit: Option<f64>,
    pub generator_connection_limit: Option<u64>,
    /// fanout: connections, messages per second per sender, warm-up and window.
    pub connections: Option<usize>,
    pub rate_per_sender: Option<f64>,
    pub warmup_s: Option<f64>,
    pub duration_s: Option<f64>,
}

/// A fan-out measurement as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FanoutResult {
    pub rooms: u64,
    pub joined: u64,
    pub join_failures: BTreeMap<String, u64>,
    /// Messages sent in the measured window (one sender per room).
    pub sent: u64,
    /// The senders' achieved rate, all rooms together: below rooms × rate, the driver or
    /// the server's back-pressure held them back.
    #[serde(default)]
    pub sent_per_sec: f64,
    /// Deliveries those messages owed: each to every joined member of its room.
    pub expected: u64,
    pub delivered: u64,
    /// Owed deliveries that did not arrive within 2 s of the window's end.
    pub lost: u64,
    pub delivered_per_sec: f64,
    /// Send to delivery, over every delivery.
    pub latency: LatencySummary,
    pub per_second: Vec<u64>,
    /// Members whose connection closed during the measurement.
    pub dropped: u64,
}

impl FanoutResult {
    pub fn from_report(report: &FanoutReport) -> Self {
        FanoutResult {
            rooms: report.rooms,
            joined: report.joined,
            join_failures: report.join_failures.clone(),
            sent: report.sent,
            sent_per_sec: report.sent as f64 / report.duration.as_secs_f64().max(1e-9),
            expected: report.expected,
            delivered: report.delivered,
            lost: report.expected.saturating_sub(report.delivered),
            delivered_per_sec: report.delivered as f64 / report.duration.as_secs_f64().max(1e-9),
            latency: latency_summary(&report.latency_us),
            per_second: report.per_second.clone(),
            dropped: report.dropped,
        }
    }
}

/// One chat trial of one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatTrial {
    pub trial: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacityResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fanout: Option<FanoutResult>,
    /// The server's CPU and memory over the whole trial.
    pub resources: ResourceSummary,
    /// How busy the generator's CPUs were, in percent.
    pub generator_cpu_percent: f64,
    /// How the server started for this trial (see [`super::Startup`]); absent in files from
    /// before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<super::Startup>,
}
