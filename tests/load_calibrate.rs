//! The benchmark of the instrument, end to end: faceoff's generator against Debian's wrk on
//! Debian's nginx, as `faceoff calibrate` runs it.
//!
//! Ignored by default: it needs `nginx-light` and `wrk` installed, both CPUs of a 2-core host
//! to itself, and about a minute; its figures only mean something from a release build:
//!
//! ```text
//! cargo test --release --test load_calibrate -- --ignored --nocapture
//! ```
//!
//! `FACEOFF_CALIBRATE_SECONDS`, `FACEOFF_CALIBRATE_ROUNDS`, `FACEOFF_CALIBRATE_CONNECTIONS`
//! and `FACEOFF_CALIBRATE_MEMORY_CONNECTIONS` override the defaults. It prints the figures
//! and asserts nothing about speed.

use std::time::Duration;

use faceoff::console::wrk::calibration_text;
use faceoff::instrument::{CalibrateOptions, calibrate};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs nginx and wrk and a quiet 2-core host; run with --ignored --nocapture"]
async fn calibrate_compares_faceoff_with_wrk_on_nginx() {
    let defaults = CalibrateOptions::default();
    let opts = CalibrateOptions {
        duration: Duration::from_secs(env_or("FACEOFF_CALIBRATE_SECONDS", 5)),
        rounds: env_or("FACEOFF_CALIBRATE_ROUNDS", defaults.rounds),
        connections: env_or("FACEOFF_CALIBRATE_CONNECTIONS", defaults.connections),
        memory_connections: env_or(
            "FACEOFF_CALIBRATE_MEMORY_CONNECTIONS",
            defaults.memory_connections,
        ),
        ..defaults
    };

    let calibration = calibrate(&opts).await.unwrap();

    println!("{}", calibration_text(&calibration));
    println!("{}", serde_json::to_string_pretty(&calibration).unwrap());
    assert_eq!(calibration.rounds.len(), opts.rounds as usize);
    assert!(calibration.rounds.iter().all(|r| r.ratio > 0.0));
    assert!(calibration.open_loop.is_some());
}
