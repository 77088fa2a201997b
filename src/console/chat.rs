//! The chat run's tables: capacity (connections held, memory per connection, where each
//! target stopped) and fan-out (deliveries per second and latency). Only reads results.

use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;

use crate::chat::capacity::CapacityResult;
use crate::results::FanoutResult;
use crate::results::{RunResults, TargetResult, TargetStatus};
use crate::stats::median;

const MIB: f64 = 1024.0 * 1024.0;

fn framework(target: &TargetResult) -> String {
    match &target.framework_version {
        Some(version) => format!("{} {version}", target.framework),
        None => target.framework.clone(),
    }
}

fn failed_row(target: &TargetResult) -> Option<Vec<String>> {
    if target.status == TargetStatus::Failed && target.chat_trials.is_empty() {
        let error: String = target
            .error
            .clone()
            .unwrap_or_default()
            .chars()
            .take(70)
            .collect();
        return Some(vec![
            target.target.clone(),
            framework(target),
            format!("FAILED: {error}"),
        ]);
    }
    None
}

fn med(values: impl Iterator<Item = f64>) -> Option<f64> {
    median(&values.collect::<Vec<_>>())
}

/// One row per target, medians over its trials: connections held at the last step that
/// passed, memory per connection there, the idle baseline, the step that broke and why.
pub fn capacity_table(results: &RunResults) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "target",
        "framework",
        "held",
        "KiB/conn",
        "idle MiB",
        "peak MiB",
        "handshake p50/p99 ms",
        "stopped at",
        "why",
    ]);
    for target in &results.targets {
        if let Some(row) = failed_row(target) {
            table.add_row(row);
            continue;
        }
        let ramps: Vec<&CapacityResult> = target
            .chat_trials
            .iter()
            .filter_map(|t| t.capacity.as_ref())
            .collect();
        let Some(last) = ramps.last() else {
            continue;
        };
        let passing = last
            .steps
            .iter()
            .rev()
            .find(|s| s.broke.is_none())
            .map(|s| format!("{:.1} / {:.1}", s.handshake.p50_ms, s.handshake.p99_ms))
            .unwrap_or_else(|| "-".into());
        let held = med(ramps.iter().map(|r| r.connections_held as f64)).unwrap_or(0.0);
        let per_conn = med(ramps.iter().filter_map(|r| r.memory_per_connection_bytes));
        let idle = med(ramps.iter().map(|r| r.baseline_memory_bytes as f64)).unwrap_or(0.0);
        let peak = med(target
            .chat_trials
            .iter()
            .map(|t| t.resources.peak_memory_bytes as f64))
        .unwrap_or(0.0);
        let why: String = last.stop_reason.chars().take(110).collect();
        table.add_row(vec![
            target.target.clone(),
            framework(target),
            format!("{held:.0}{}", if last.host_bound { "+" } else { "" }),
            per_conn.map_or("-".into(), |b| format!("{:.1}", b / 1024.0)),
            format!("{:.1}", idle / MIB),
            format!("{:.1}", peak / MIB),
            passing,
            last.stopped_at.map_or("-".into(), |s| s.to_string()),
            why,
        ]);
    }
    table
}

/// One row per target, medians over its trials.
pub fn fanout_table(results: &RunResults) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "target",
        "framework",
        "joined",
        "rooms",
        "sent/s",
        "deliveries/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "lost",
        "peak MiB",
    ]);
    for target in &results.targets {
        if let Some(row) = failed_row(target) {
            table.add_row(row);
            continue;
        }
        let runs: Vec<&FanoutResult> = target
            .chat_trials
            .iter()
            .filter_map(|t| t.fanout.as_ref())
            .collect();
        if runs.is_empty() {
            continue;
        }
        let m = |f: fn(&FanoutResult) -> f64| med(runs.iter().map(|r| f(r))).unwrap_or(0.0);
        let peak = med(target
            .chat_trials
            .iter()
            .map(|t| t.resources.peak_memory_bytes as f64))
        .unwrap_or(0.0);
        table.add_row(vec![
            target.target.clone(),
            framework(target),
            format!("{:.0}", m(|r| r.joined as f64)),
            format!("{:.0}", m(|r| r.rooms as f64)),
            format!("{:.0}", m(|r| r.sent_per_sec)),
            format!("{:.0}", m(|r| r.delivered_per_sec)),
            format!("{:.2}", m(|r| r.latency.p50_ms)),
            format!("{:.2}", m(|r| r.latency.p99_ms)),
            format!("{:.2}", m(|r| r.latency.max_ms)),
            format!(
                "{:.0} of {:.0}",
                m(|r| r.lost as f64),
                m(|r| r.expected as f64)
            ),
            format!("{:.1}", peak / MIB),
        ]);
    }
    table
}

/// The conditions of a chat run, one line.
pub fn chat_conditions_line(results: &RunResults) -> String {
    let p = &results.parameters;
    let chat = match &p.chat {
        Some(chat) if chat.mode == "capacity" => format!(
            "capacity: steps up to {}, rooms of {}, hold {:.0} s, budget {:.0} s, handshake p99 limit {:.0} ms, failure limit {:.1}%, generator may open {} connections",
            chat.steps.last().copied().unwrap_or(0),
            chat.room_size,
            chat.hold_s.unwrap_or(0.0),
            chat.budget_s.unwrap_or(0.0),
            chat.p99_limit_ms.unwrap_or(0.0),
            chat.error_limit.unwrap_or(0.0) * 100.0,
            chat.generator_connection_limit.unwrap_or(0),
        ),
        Some(chat) => format!(
            "fanout: {} connections in rooms of {}, {} message(s)/s per sender, {:.0} s after {:.0} s warm-up",
            chat.connections.unwrap_or(0),
            chat.room_size,
            chat.rate_per_sender.unwrap_or(0.0),
            chat.duration_s.unwrap_or(0.0),
            chat.warmup_s.unwrap_or(0.0),
        ),
        None => "chat".into(),
    };
    format!(
        "workload chat, {chat}; {} trial(s); server cpuset {} / {} MiB{}; generator on CPU {:?}; runtime {:?}",
        p.trials,
        p.limits.cpuset,
        p.limits.memory_bytes / (1024 * 1024),
        if p.memory_limit_enforced {
            ""
        } else {
            " (not enforced)"
        },
        p.generator_cpus.first(),
        p.runtime,
    )
}
