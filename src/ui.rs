//! Where progress goes: step lines on stderr and a live bar during load (hidden when
//! stderr is not a terminal or with --quiet).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::load::LiveCounters;

/// Where progress goes.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub quiet: bool,
}

impl Ui {
    pub fn step(&self, message: &str) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }

    /// A measured fact the user should know about; shown even with --quiet.
    pub fn warn(&self, message: &str) {
        eprintln!("warning: {message}");
    }
}

pub fn progress_bar(ui: Ui, total: Duration) -> ProgressBar {
    if ui.quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total.as_millis() as u64);
    let style = ProgressStyle::with_template("  {bar:30} {elapsed:>3}/{duration} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

pub async fn update_bar(bar: ProgressBar, live: Arc<LiveCounters>) {
    let started = std::time::Instant::now();
    let mut last = (started, 0u64);
    let mut interval = tokio::time::interval(Duration::from_millis(250));
    loop {
        interval.tick().await;
        let now = std::time::Instant::now();
        let requests = live.requests.load(Ordering::Relaxed);
        let errors = live.errors.load(Ordering::Relaxed);
        let window = now.duration_since(last.0).as_secs_f64();
        let rate = if window > 0.0 {
            (requests.saturating_sub(last.1)) as f64 / window
        } else {
            0.0
        };
        last = (now, requests);
        bar.set_position(now.duration_since(started).as_millis() as u64);
        bar.set_message(format!(
            "{rate:>8.0} req/s  {requests} requests  {errors} errors"
        ));
    }
}
