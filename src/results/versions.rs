//! Whether a run ran on the runtime versions the containers pin.
//!
//! The verdict can flip with the version: the same Express 5 app served about 5x more on
//! Node 24 than on Node 20 on one host. A local-runtime run uses the host's `node` and
//! `python3`, so it is marked whenever those are not the pinned ones.

use std::collections::BTreeMap;

use super::RunResults;
use crate::runtime::RuntimeKind;

/// The versions a run's targets ran on, per language, against the pinned ones: `None` when
/// every version seen matches (or nothing is pinned), else the sentence to warn with.
///
/// `pinned` maps a language (`node`, `python`) to its pinned version (`24.21.0`, `3.13`);
/// `seen` holds (language, version as the runtime printed it: `v20.20.2`, `Python 3.11.7`).
pub fn mismatch(pinned: &BTreeMap<String, String>, seen: &[(String, String)]) -> Option<String> {
    let mut ran: Vec<String> = Vec::new();
    let mut differ = false;
    for (language, version) in seen {
        let Some(want) = pinned.get(language) else {
            continue;
        };
        let shown = format!("{} {}", display(language), bare(version));
        if !ran.contains(&shown) {
            ran.push(shown);
        }
        differ |= !matches(want, bare(version));
    }
    if !differ {
        return None;
    }
    let wanted: Vec<String> = pinned
        .iter()
        .map(|(language, version)| format!("{} {version}", display(language)))
        .collect();
    Some(format!(
        "ran on the host's runtimes ({}), not the containers' pinned ones ({}): figures and verdicts can change with the version (Express 5 served about 5x more on Node 24 than on Node 20); run without --runtime local, or install the pinned versions",
        ran.join(", "),
        wanted.join(", ")
    ))
}

/// The run's [`mismatch`], for a run on the local runtime (containers always run the pinned
/// versions); `None` for older files, which recorded no pinned versions.
pub fn warning(results: &RunResults) -> Option<String> {
    if results.parameters.runtime != RuntimeKind::Local {
        return None;
    }
    let seen: Vec<(String, String)> = results
        .targets
        .iter()
        .filter_map(|t| Some((t.language.to_lowercase(), t.runtime_version.clone()?)))
        .collect();
    mismatch(&results.parameters.pinned_versions, &seen)
}

/// `v20.20.2` → `20.20.2`, `Python 3.11.7` → `3.11.7`.
fn bare(version: &str) -> &str {
    let version = version.trim();
    let version = version.strip_prefix("Python ").unwrap_or(version);
    version.strip_prefix('v').unwrap_or(version)
}

/// A pinned `3.13` is matched by any 3.13.x; a pinned `24.21.0` only by itself.
fn matches(pinned: &str, version: &str) -> bool {
    version == pinned || version.starts_with(&format!("{pinned}."))
}

fn display(language: &str) -> &str {
    match language {
        "node" => "Node",
        "python" => "Python",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pinned() -> BTreeMap<String, String> {
        [("node", "24.21.0"), ("python", "3.13")]
            .into_iter()
            .map(|(l, v)| (l.to_string(), v.to_string()))
            .collect()
    }

    fn seen(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(l, v)| (l.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_pinned_versions_give_no_warning() {
        let same = seen(&[("node", "v24.21.0"), ("python", "Python 3.13.5")]);
        assert_eq!(mismatch(&pinned(), &same), None);
    }

    #[test]
    fn other_versions_are_named_beside_the_pinned_ones() {
        let host = seen(&[
            ("node", "v20.20.2"),
            ("node", "v20.20.2"),
            ("python", "Python 3.11.7"),
        ]);
        let warning = mismatch(&pinned(), &host).unwrap();
        assert!(
            warning.contains("(Node 20.20.2, Python 3.11.7)")
                && warning.contains("(Node 24.21.0, Python 3.13)"),
            "{warning}"
        );
        // One language off is enough.
        let one = seen(&[("node", "v24.21.0"), ("python", "Python 3.12.1")]);
        assert!(mismatch(&pinned(), &one).is_some());
        // 3.130 is not 3.13.
        assert!(mismatch(&pinned(), &seen(&[("python", "Python 3.130.0")])).is_some());
    }

    #[test]
    fn nothing_pinned_nothing_to_compare() {
        let host = seen(&[("node", "v20.20.2")]);
        assert_eq!(mismatch(&BTreeMap::new(), &host), None);
    }
}
