//! The order in which targets take their trials: interleaved (every target once per trial),
//! shuffled once from a recorded seed, then rotated each trial so every target takes every
//! position equally often. The same seed always gives the same schedule, so an audit can
//! replay it.

use crate::stats::SplitMix64;

/// A seed for a new run, from the clock: different each run, recorded in the results so the
/// run can be replayed with `--seed`.
pub fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // One SplitMix64 step spreads nearby clock readings over the range; 53 bits, so the
    // seed survives JSON readers that hold numbers as doubles (JavaScript).
    SplitMix64(nanos ^ u64::from(std::process::id())).next_u64() & ((1 << 53) - 1)
}

/// The indices of `count` targets in the order they run in trial `trial` (1-based).
pub fn trial_order(count: usize, seed: u64, trial: u32) -> Vec<usize> {
    let mut base: Vec<usize> = (0..count).collect();
    // Fisher-Yates from the seed: which target goes first is not the command line's order.
    let mut rng = SplitMix64(seed);
    for i in (1..count).rev() {
        base.swap(i, rng.below(i + 1));
    }
    if count > 0 {
        base.rotate_left((trial.saturating_sub(1) as usize) % count);
    }
    base
}

/// The whole schedule: for each trial, the target names in running order.
pub fn schedule(targets: &[String], seed: u64, trials: u32) -> Vec<Vec<String>> {
    (1..=trials)
        .map(|trial| {
            trial_order(targets.len(), seed, trial)
                .into_iter()
                .map(|i| targets[i].clone())
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_trial_runs_every_target_once() {
        for count in 0..6 {
            for trial in 1..=7 {
                let mut order = trial_order(count, 42, trial);
                order.sort();
                assert_eq!(order, (0..count).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn each_target_takes_each_position_equally_over_a_full_rotation() {
        let count = 4;
        let mut seen = vec![vec![0; count]; count];
        for trial in 1..=count as u32 {
            for (position, target) in trial_order(count, 7, trial).into_iter().enumerate() {
                seen[target][position] += 1;
            }
        }
        assert!(seen.iter().flatten().all(|&n| n == 1), "{seen:?}");
    }

    #[test]
    fn fresh_seeds_fit_in_a_double() {
        assert!(fresh_seed() < 1 << 53);
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let names: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        assert_eq!(schedule(&names, 99, 5), schedule(&names, 99, 5));
        let differs = (0..20u64).any(|seed| schedule(&names, seed, 1) != schedule(&names, 99, 1));
        assert!(differs, "the seed never changes the order");
    }
}
