//! `faceoff calibrate`: benchmarks the load generator against wrk.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::CalibrateArgs;

use super::{EXIT_INTERRUPTED, shutdown_signal};

pub async fn calibrate_command(args: &CalibrateArgs) -> Result<ExitCode> {
    let options = crate::instrument::CalibrateOptions {
        connections: args.connections,
        duration: args.duration,
        rounds: args.rounds,
        memory_connections: args.memory_connections,
        ..Default::default()
    };
    eprintln!(
        "calibrating: {} rounds of faceoff and wrk, {} s each, against nginx (about {} s)",
        options.rounds,
        options.duration.as_secs(),
        estimated_seconds(&options)
    );
    let calibration = tokio::select! {
        calibration = crate::instrument::calibrate(&options) => calibration?,
        _ = shutdown_signal() => return Ok(ExitCode::from(EXIT_INTERRUPTED)),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&calibration)?);
    } else {
        print!("{}", crate::console::wrk::calibration_text(&calibration));
    }
    Ok(ExitCode::SUCCESS)
}

/// How long a calibration takes: both tools each round, the memory check, and start-up.
fn estimated_seconds(options: &crate::instrument::CalibrateOptions) -> u64 {
    options.rounds as u64 * 2 * options.duration.as_secs() + options.duration.as_secs() + 10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_estimate_counts_both_tools_every_round() {
        let options = crate::instrument::CalibrateOptions {
            rounds: 3,
            duration: std::time::Duration::from_secs(5),
            ..Default::default()
        };
        assert_eq!(estimated_seconds(&options), 3 * 2 * 5 + 5 + 10);
    }
}
