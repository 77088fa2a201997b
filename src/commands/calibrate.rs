//! `faceoff calibrate`: benchmarks the load generator against wrk.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::CalibrateArgs;

use super::*;

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
        options.rounds as u64 * 2 * options.duration.as_secs() + options.duration.as_secs() + 10
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
