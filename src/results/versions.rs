//! Whether a run ran on the runtime versions the containers pin.
//!
//! The verdict can flip with the version: the same Express 5 app served about 5x more on
//! Node 24 than on Node 20 on one host. A local-runtime run uses the host's `node` and
//! `python3`, so it is marked whenever those are not the pinned ones.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::{RunResults, TargetResult};
use crate::config::version_key;
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

// ---- Version matrices (`faceoff run --node 20,24 --python 3.11,3.13`) ----------------------
//
// Such a run holds each target once per version (`express@node20`, `express@node24`). A
// *slice* is the run seen at one version of each runtime, its variants renamed back to their
// targets, so comparisons and claims (which name `express`) read exactly as in a plain run.

/// The run at one version per runtime.
#[derive(Debug, Clone)]
pub struct VersionSlice {
    /// The versions, as the variant names give them: `node20+py3.11`.
    pub label: String,
    /// The runtime → version this slice holds, e.g. `node` → `20`.
    pub versions: BTreeMap<String, String>,
    /// The run restricted to those versions, variants renamed to their targets.
    pub results: RunResults,
}

/// Every slice of `results`, oldest versions first; empty for a run without variants.
pub fn slices(results: &RunResults) -> Vec<VersionSlice> {
    let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for variant in results.targets.iter().filter_map(|t| t.variant.as_ref()) {
        let list = versions.entry(variant.runtime.clone()).or_default();
        if !list.contains(&variant.version) {
            list.push(variant.version.clone());
        }
    }
    if versions.is_empty() {
        return Vec::new();
    }
    for list in versions.values_mut() {
        list.sort_by_key(|v| version_key(v));
    }
    let mut combos: Vec<BTreeMap<String, String>> = vec![BTreeMap::new()];
    for (runtime, list) in &versions {
        combos = combos
            .into_iter()
            .flat_map(|combo| {
                list.iter().map(move |version| {
                    let mut next = combo.clone();
                    next.insert(runtime.clone(), version.clone());
                    next
                })
            })
            .collect();
    }
    combos
        .into_iter()
        .map(|combo| VersionSlice {
            label: label(&combo),
            results: slice(results, &combo),
            versions: combo,
        })
        .collect()
}

fn label(combo: &BTreeMap<String, String>) -> String {
    combo
        .iter()
        .map(|(runtime, version)| match runtime.as_str() {
            "python" => format!("py{version}"),
            other => format!("{other}{version}"),
        })
        .collect::<Vec<_>>()
        .join("+")
}

/// `results` with only the variants of `combo` (and the plain targets), renamed.
fn slice(results: &RunResults, combo: &BTreeMap<String, String>) -> RunResults {
    let kept = |t: &TargetResult| match &t.variant {
        None => true,
        Some(v) => combo.get(&v.runtime) == Some(&v.version),
    };
    let renames: BTreeMap<String, String> = results
        .targets
        .iter()
        .filter(|t| kept(t))
        .map(|t| {
            let name = t.variant.as_ref().map_or(&t.target, |v| &v.of);
            (t.target.clone(), name.clone())
        })
        .collect();
    let rename = |name: &String| renames.get(name).cloned();
    let mut out = results.clone();
    out.targets = results
        .targets
        .iter()
        .filter(|t| kept(t))
        .map(|t| {
            let mut t = t.clone();
            t.target = rename(&t.target).unwrap_or(t.target);
            // A slice reads as a plain run (no version is left to choose among).
            t.variant = None;
            t
        })
        .collect();
    out.parameters.targets = results
        .parameters
        .targets
        .iter()
        .filter_map(rename)
        .collect();
    out.parameters.schedule = results
        .parameters
        .schedule
        .iter()
        .map(|round| round.iter().filter_map(rename).collect())
        .collect();
    out.duets = results
        .duets
        .iter()
        .filter_map(|duet| {
            let [a, b] = &duet.targets;
            let mut duet = duet.clone();
            duet.targets = [rename(a)?, rename(b)?];
            Some(duet)
        })
        .collect();
    out
}

/// The slice claims are judged on: the one at the run's pinned versions, else the newest.
pub fn judged_slice<'s>(
    results: &RunResults,
    slices: &'s [VersionSlice],
) -> Option<&'s VersionSlice> {
    let pinned = &results.parameters.pinned_versions;
    slices
        .iter()
        .find(|s| {
            s.versions.iter().all(|(runtime, version)| {
                pinned
                    .get(runtime)
                    .is_some_and(|p| p == version || p.starts_with(&format!("{version}.")))
            })
        })
        .or(slices.last())
}

/// The run claims are judged on: `run` itself, or for a version matrix its
/// [`judged_slice`].
pub fn judged_view(run: &RunResults) -> Cow<'_, RunResults> {
    let slices = slices(run);
    match judged_slice(run, &slices) {
        Some(slice) => Cow::Owned(slice.results.clone()),
        None => Cow::Borrowed(run),
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
