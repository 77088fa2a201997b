//! Where a scaling run puts the server and the load generator at each step: the generator
//! keeps the same CPUs throughout and never shares them with the server, whose cpuset grows
//! 1, 2, 4 … CPUs as far as the rest of the host allows. Pure: the host's CPU count is an
//! argument, so a test can plan a 64-CPU host on a 2-CPU one.

use crate::results::scaling::StepBeyondHost;

/// CPUs the generator gets when `--generator-cpus` does not say: a quarter of the host, at
/// least one. faceoff's generator answers several times the requests per CPU a Node or
/// Python server does on the status workload, so a quarter keeps up with the rest on most
/// hosts; each step checks it did (the generator-bound check) rather than trusting this.
pub fn generator_share(host_cpus: usize) -> usize {
    host_cpus.div_ceil(4).max(1)
}

/// The CPUs of every step a host holds, and those it does not.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub generator: Vec<usize>,
    /// (server CPUs, the server's cpuset) per step, smallest first.
    pub steps: Vec<(u32, Vec<usize>)>,
    pub beyond: Vec<StepBeyondHost>,
}

/// Why a host cannot run a scaling profile at all.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LayoutError {
    #[error(
        "this host has {host_cpus} CPU(s) and the generator takes {generator}: no CPU is left for the server; a scaling run needs at least 2 CPUs (or fewer --generator-cpus)"
    )]
    NoServerCpu { host_cpus: usize, generator: usize },
    #[error(
        "the scaling profile `{profile}` has no `steps` (server CPU counts, e.g. [1, 2, 4, 8])"
    )]
    NoSteps { profile: String },
}

/// Plans the steps of `asked` (server CPU counts) on a host of `host_cpus` CPUs, with the
/// generator on `generator` if given, else on the first [`generator_share`] CPUs.
pub fn layout(
    profile: &str,
    host_cpus: usize,
    asked: &[u32],
    generator: Option<Vec<usize>>,
) -> Result<Layout, LayoutError> {
    if asked.is_empty() {
        return Err(LayoutError::NoSteps {
            profile: profile.to_string(),
        });
    }
    let given = generator.is_some();
    let generator = generator.unwrap_or_else(|| (0..generator_share(host_cpus)).collect());
    let pool: Vec<usize> = (0..host_cpus).filter(|c| !generator.contains(c)).collect();
    if pool.is_empty() {
        return Err(LayoutError::NoServerCpu {
            host_cpus,
            generator: generator.len(),
        });
    }
    let mut asked = asked.to_vec();
    asked.sort_unstable();
    asked.dedup();
    let mut layout = Layout {
        generator: generator.clone(),
        steps: Vec::new(),
        beyond: Vec::new(),
    };
    for cpus in asked.into_iter().filter(|&c| c > 0) {
        if cpus as usize <= pool.len() {
            layout.steps.push((cpus, pool[..cpus as usize].to_vec()));
        } else {
            let host_cpus_needed = if given {
                cpus as usize + generator.len()
            } else {
                host_needed(cpus as usize)
            };
            layout.beyond.push(StepBeyondHost {
                server_cpus: cpus,
                host_cpus_needed,
            });
        }
    }
    Ok(layout)
}

/// The fewest CPUs a host needs to give the server `server_cpus` beside the generator's
/// default share.
pub fn host_needed(server_cpus: usize) -> usize {
    (server_cpus + 1..)
        .find(|&host| host - generator_share(host) >= server_cpus)
        .unwrap_or(server_cpus + 1)
}

/// A cpuset in the engine's syntax: `1`, `1,2,3`.
pub fn cpuset_text(cpus: &[usize]) -> String {
    cpus.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_two_cpu_host_measures_one_server_cpu_and_names_the_hosts_the_other_steps_need() {
        let layout = layout("scaling", 2, &[1, 2, 4, 8], None).unwrap();
        assert_eq!(layout.generator, vec![0]);
        assert_eq!(layout.steps, vec![(1, vec![1])]);
        let needed: Vec<(u32, usize)> = layout
            .beyond
            .iter()
            .map(|b| (b.server_cpus, b.host_cpus_needed))
            .collect();
        assert_eq!(needed, vec![(2, 3), (4, 6), (8, 11)]);
    }

    #[test]
    fn the_generator_never_shares_a_cpu_with_any_step() {
        for host in 2..=64 {
            let layout = layout("scaling", host, &[1, 2, 4, 8, 16, 32, 64], None).unwrap();
            assert!(!layout.steps.is_empty(), "{host}");
            for (cpus, set) in &layout.steps {
                assert_eq!(set.len(), *cpus as usize);
                assert!(
                    set.iter()
                        .all(|c| !layout.generator.contains(c) && *c < host)
                );
            }
            // Every step beyond the host would fit the host it names.
            for beyond in &layout.beyond {
                let bigger = super::layout(
                    "scaling",
                    beyond.host_cpus_needed,
                    &[beyond.server_cpus],
                    None,
                )
                .unwrap();
                assert_eq!(bigger.steps.len(), 1, "{host}: {beyond:?}");
            }
        }
    }

    #[test]
    fn a_sixteen_cpu_host_gives_the_generator_four_and_measures_up_to_eight() {
        let layout = layout("scaling", 16, &[1, 2, 4, 8, 16], None).unwrap();
        assert_eq!(layout.generator, vec![0, 1, 2, 3]);
        let measured: Vec<u32> = layout.steps.iter().map(|s| s.0).collect();
        assert_eq!(measured, vec![1, 2, 4, 8]);
        assert_eq!(layout.steps[1].1, vec![4, 5]);
        assert_eq!(layout.beyond[0].server_cpus, 16);
    }

    #[test]
    fn a_one_cpu_host_is_refused_with_the_reason() {
        let err = layout("scaling", 1, &[1, 2], None).unwrap_err();
        assert!(err.to_string().contains("at least 2 CPUs"), "{err}");
    }

    #[test]
    fn given_generator_cpus_are_kept_and_the_server_gets_the_rest() {
        let layout = layout("scaling", 4, &[1, 2, 4], Some(vec![3])).unwrap();
        assert_eq!(layout.steps, vec![(1, vec![0]), (2, vec![0, 1])]);
        assert_eq!(layout.beyond[0].host_cpus_needed, 5);
        assert_eq!(cpuset_text(&layout.steps[1].1), "0,1");
    }
}
