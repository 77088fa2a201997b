//! Recording: per-worker histograms and counters, updated by the connections of one worker
//! without locks, and merged into one [`LoadReport`](super::LoadReport) after the run.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use super::engine::{Shared, Timeline};
use super::http1::Response;
use super::{ErrorCounts, LATE_SEND, LiveCounters, LoadReport, LoadSpec, OpenLoopStats};

/// Significant digits of every latency histogram.
pub(super) const SIGFIG: u8 = 3;

/// Kinds of failures a connection task counts.
#[derive(Clone, Copy)]
pub(super) enum Failure {
    Connect,
    Timeout,
    Io,
    /// An I/O failure where the server reset or closed the connection mid-request.
    Reset,
}

/// What one worker measured, for all its connections.
pub(super) struct WorkerStats {
    pub(super) latency_us: Histogram<u64>,
    pub(super) requests: u64,
    pub(super) statuses: Vec<(u16, u64)>,
    pub(super) errors: ErrorCounts,
    pub(super) bytes: u64,
    pub(super) response_bytes: u64,
    pub(super) per_second: Vec<u64>,
    pub(super) warmup_requests: u64,
    pub(super) warmup_errors: u64,
    pub(super) connections_opened: u64,
    pub(super) last_measured: Option<Instant>,
    pub(super) open: Option<OpenCounts>,
    /// What was already added to the live counters: requests, errors, warm-up requests.
    pub(super) flushed: (u64, u64, u64),
}

/// Open-loop counts of one worker, over sends in the measured window.
pub(super) struct OpenCounts {
    pub(super) service_us: Histogram<u64>,
    /// Requests written in the window.
    pub(super) sent: u64,
    /// Of the slots due in the window, those that were sent (at any time).
    pub(super) sent_of_window_slots: u64,
    pub(super) queued: u64,
    pub(super) lag_sum_us: u64,
    pub(super) lag_max_us: u64,
    pub(super) late: u64,
}

pub(super) fn histogram() -> Histogram<u64> {
    Histogram::new(SIGFIG).expect("3 significant digits are valid")
}

pub(super) fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

impl WorkerStats {
    pub(super) fn new(seconds: usize, open_loop: bool) -> Self {
        WorkerStats {
            latency_us: histogram(),
            requests: 0,
            statuses: Vec::new(),
            errors: ErrorCounts::default(),
            bytes: 0,
            response_bytes: 0,
            per_second: vec![0; seconds],
            warmup_requests: 0,
            warmup_errors: 0,
            connections_opened: 0,
            last_measured: None,
            open: open_loop.then(|| OpenCounts {
                service_us: histogram(),
                sent: 0,
                sent_of_window_slots: 0,
                queued: 0,
                lag_sum_us: 0,
                lag_max_us: 0,
                late: 0,
            }),
            flushed: (0, 0, 0),
        }
    }

    pub(super) fn flush_live(&mut self, live: &LiveCounters) {
        let now = (self.requests, self.errors.total(), self.warmup_requests);
        live.requests
            .fetch_add(now.0 - self.flushed.0, Ordering::Relaxed);
        live.errors
            .fetch_add(now.1 - self.flushed.1, Ordering::Relaxed);
        live.warmup_requests
            .fetch_add(now.2 - self.flushed.2, Ordering::Relaxed);
        self.flushed = now;
    }

    pub(super) fn failure(&mut self, timeline: &Timeline, kind: Failure) {
        if Instant::now() < timeline.warmup_end {
            self.warmup_errors += 1;
            return;
        }
        match kind {
            Failure::Connect => self.errors.connect += 1,
            Failure::Timeout => self.errors.timeout += 1,
            Failure::Io => self.errors.io += 1,
            Failure::Reset => {
                self.errors.io += 1;
                self.errors.reset += 1;
            }
        }
    }

    /// Records an open-loop send that went out at `sent` for a slot due at `due`.
    pub(super) fn open_send(
        &mut self,
        timeline: &Timeline,
        due: Instant,
        sent: Instant,
        queued: bool,
    ) {
        let Some(open) = &mut self.open else {
            return;
        };
        if due >= timeline.warmup_end {
            open.sent_of_window_slots += 1;
        }
        if sent < timeline.warmup_end {
            return;
        }
        let lag = sent.saturating_duration_since(due);
        let lag_us = micros(lag);
        open.sent += 1;
        open.lag_sum_us = open.lag_sum_us.saturating_add(lag_us);
        open.lag_max_us = open.lag_max_us.max(lag_us);
        if lag > LATE_SEND {
            open.late += 1;
        }
        if queued {
            open.queued += 1;
        }
    }

    pub(super) fn measured_response(
        &mut self,
        timeline: &Timeline,
        timing: Timing,
        response: &Response,
    ) {
        // An auto-resizing histogram only refuses values beyond u64 range.
        let _ = self
            .latency_us
            .record(micros(timing.done - timing.latency_from));
        if let Some(open) = &mut self.open {
            let _ = open.service_us.record(micros(timing.done - timing.sent));
        }
        self.requests += 1;
        self.bytes += response.body_bytes;
        self.response_bytes += response.wire_bytes;
        let second =
            usize::try_from((timing.done - timeline.warmup_end).as_secs()).unwrap_or(usize::MAX);
        let last = self.per_second.len() - 1;
        self.per_second[second.min(last)] += 1;
        match self
            .statuses
            .iter_mut()
            .find(|(code, _)| *code == response.status)
        {
            Some((_, count)) => *count += 1,
            None => self.statuses.push((response.status, 1)),
        }
        self.last_measured = Some(timing.done);
        if response.status >= 400 {
            self.errors.non_success += 1;
        }
    }
}

/// When a request was written, when its latency starts and when it was answered.
#[derive(Clone, Copy)]
pub(super) struct Timing {
    pub(super) sent: Instant,
    pub(super) latency_from: Instant,
    pub(super) done: Instant,
}

pub(super) fn merge(
    spec: &LoadSpec,
    shared: &Shared,
    timeline: Timeline,
    finished: Vec<WorkerStats>,
) -> LoadReport {
    let mut latency_us = histogram();
    let mut service_latency_us = shared.schedule.as_ref().map(|_| histogram());
    let mut status_counts = BTreeMap::new();
    let mut errors = ErrorCounts::default();
    let mut per_second = vec![0u64; shared.seconds];
    let mut requests = 0;
    let mut bytes_received = 0;
    let mut response_bytes = 0;
    let mut warmup_requests = 0;
    let mut warmup_errors = 0;
    let mut connections_opened = 0;
    let mut last_measured: Option<Instant> = None;
    let (mut sent, mut sent_of_window_slots, mut queued) = (0u64, 0u64, 0u64);
    let (mut lag_sum_us, mut lag_max_us, mut late) = (0u64, 0u64, 0u64);

    for stats in finished {
        // Auto-resizing histograms accept every value of another one.
        let _ = latency_us.add(&stats.latency_us);
        for (status, count) in stats.statuses {
            *status_counts.entry(status).or_insert(0) += count;
        }
        errors.add(&stats.errors);
        for (total, count) in per_second.iter_mut().zip(&stats.per_second) {
            *total += count;
        }
        requests += stats.requests;
        bytes_received += stats.bytes;
        response_bytes += stats.response_bytes;
        warmup_requests += stats.warmup_requests;
        warmup_errors += stats.warmup_errors;
        connections_opened += stats.connections_opened;
        last_measured = last_measured.max(stats.last_measured);
        if let (Some(open), Some(service)) = (stats.open, &mut service_latency_us) {
            let _ = service.add(&open.service_us);
            sent += open.sent;
            sent_of_window_slots += open.sent_of_window_slots;
            queued += open.queued;
            lag_sum_us = lag_sum_us.saturating_add(open.lag_sum_us);
            lag_max_us = lag_max_us.max(open.lag_max_us);
            late += open.late;
        }
    }

    let reached_max = spec.max_requests.is_some_and(|max| requests >= max);
    let mut elapsed = match last_measured {
        Some(last) if reached_max => (last - timeline.warmup_end).min(spec.duration),
        _ => spec.duration,
    };
    // A stopped run's window ends where it stopped (zero when stopped in the warm-up).
    if let Some(stopped) = shared.stopped_at.get() {
        elapsed = elapsed.min(stopped.saturating_duration_since(timeline.warmup_end));
    }
    per_second.truncate(usize::try_from(elapsed.as_secs()).unwrap_or(usize::MAX));

    let open_loop = shared.schedule.as_ref().map(|schedule| {
        let scheduled =
            schedule.due_before(spec.warmup + elapsed) - schedule.due_before(spec.warmup);
        let secs = elapsed.as_secs_f64();
        OpenLoopStats {
            requested_rate: schedule.rate,
            achieved_rate: if secs > 0.0 { sent as f64 / secs } else { 0.0 },
            scheduled,
            sent,
            unsent: scheduled.saturating_sub(sent_of_window_slots),
            queued,
            lag_mean_us: if sent > 0 {
                lag_sum_us as f64 / sent as f64
            } else {
                0.0
            },
            lag_max_us,
            late_sends: late,
        }
    });

    LoadReport {
        requests,
        elapsed,
        latency_us,
        service_latency_us,
        status_counts,
        errors,
        bytes_received,
        response_bytes,
        per_second,
        warmup_requests,
        warmup_errors,
        connections_opened,
        open_loop,
    }
}
