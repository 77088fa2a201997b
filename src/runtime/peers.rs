//! Other faceoff runs measuring at the same time as this one. Two runs on one host share its
//! CPUs (each server's cpuset and each generator's), so both measure a server on a fraction
//! of a core: their figures came out 3-6x lower, with no word. A run registers itself here
//! for as long as it lives, and looks for the others: on this host through the registry
//! (below), and on its engine through the owner labels of the containers there (a run from
//! another host on the same engine; see [`super::docker::runs_on_engine`]).
//!
//! The registry is a directory of one file per live run (its id, PID and CPUs) in the
//! temporary directory, each held under an exclusive `flock` by its run. The kernel releases
//! a lock when its process ends, however it ends (SIGKILL included), so a file whose lock
//! can be taken is a dead run's, and is removed.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Another run seen measuring at the same time as this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PeerRun {
    pub run_id: String,
    /// Its faceoff's PID, on its host.
    pub pid: Option<u32>,
    /// Where it was seen: `this host` (the registry) or `the engine` (its containers).
    pub seen_on: String,
    /// The CPUs it uses (servers and generator), when known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<usize>,
}

impl PeerRun {
    /// One phrase: `run 2026…-abc (pid 42, this host, CPUs [0, 1])`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(pid) = self.pid {
            parts.push(format!("pid {pid}"));
        }
        parts.push(self.seen_on.clone());
        if !self.cpus.is_empty() {
            parts.push(format!("CPUs {:?}", self.cpus));
        }
        format!("run {} ({})", self.run_id, parts.join(", "))
    }
}

/// What a registered run writes in its file.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    run_id: String,
    pid: u32,
    cpus: Vec<usize>,
}

/// This run's place in the registry: the file stays locked, and is removed, until dropped.
pub struct Registration {
    file: File,
    path: PathBuf,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        // SAFETY: unlocking a descriptor this value owns.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// The registry directory, shared by every faceoff on this host.
pub fn registry_dir() -> PathBuf {
    std::env::temp_dir().join("faceoff-runs")
}

/// Registers run `run_id`, which uses `cpus`, for as long as the returned value lives.
pub fn register(run_id: &str, cpus: &[usize]) -> std::io::Result<Registration> {
    let dir = registry_dir();
    std::fs::create_dir_all(&dir)?;
    // Written and locked under a temporary name, then renamed: a reader never sees the
    // file unlocked (it would take it for a dead run's).
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
    // SAFETY: flock on a descriptor the temporary file owns.
    if unsafe { libc::flock(tmp.as_file().as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let entry = Entry {
        run_id: run_id.to_string(),
        pid: std::process::id(),
        cpus: cpus.to_vec(),
    };
    tmp.write_all(&serde_json::to_vec(&entry).map_err(std::io::Error::other)?)?;
    tmp.as_file().sync_all()?;
    let path = dir.join(format!("{run_id}.json"));
    let file = tmp.persist(&path).map_err(|e| e.error)?;
    Ok(Registration { file, path })
}

/// The other live runs on this host whose CPUs overlap `cpus`; the files of dead runs are
/// removed on the way.
pub fn on_this_host(own_run_id: &str, cpus: &[usize]) -> Vec<PeerRun> {
    let Ok(entries) = std::fs::read_dir(registry_dir()) else {
        return Vec::new();
    };
    let mut peers = Vec::new();
    for path in entries.flatten().map(|e| e.path()) {
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let Ok(file) = File::open(&path) else {
            continue;
        };
        // SAFETY: flock on a descriptor this function owns.
        let free = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0;
        if free {
            // Its run is gone; nobody else removes the file.
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let Ok(entry) = serde_json::from_reader::<_, Entry>(&file) else {
            continue;
        };
        if entry.run_id == own_run_id || !entry.cpus.iter().any(|c| cpus.contains(c)) {
            continue;
        }
        peers.push(PeerRun {
            run_id: entry.run_id,
            pid: Some(entry.pid),
            seen_on: "this host".into(),
            cpus: entry.cpus,
        });
    }
    peers.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    peers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_run_is_seen_by_another_on_the_same_cpus_until_it_ends() {
        let first = format!("test-peers-a-{}", std::process::id());
        let second = format!("test-peers-b-{}", std::process::id());
        let registration = register(&first, &[0, 1]).unwrap();
        let seen = on_this_host(&second, &[1]);
        let peer = seen
            .iter()
            .find(|p| p.run_id == first)
            .expect("the first run is seen");
        assert_eq!(peer.pid, Some(std::process::id()));
        assert!(peer.describe().contains(&first), "{}", peer.describe());
        assert!(
            !on_this_host(&first, &[0, 1])
                .iter()
                .any(|p| p.run_id == first),
            "a run does not see itself"
        );
        assert!(
            !on_this_host(&second, &[7])
                .iter()
                .any(|p| p.run_id == first),
            "disjoint CPUs do not compete"
        );
        drop(registration);
        assert!(
            !on_this_host(&second, &[1])
                .iter()
                .any(|p| p.run_id == first)
        );
    }

    #[test]
    fn the_file_of_a_run_that_died_is_removed_not_reported() {
        let dir = registry_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let dead = format!("test-peers-dead-{}", std::process::id());
        let path = dir.join(format!("{dead}.json"));
        std::fs::write(&path, r#"{"run_id":"x","pid":1,"cpus":[0,1]}"#).unwrap();
        assert!(
            !on_this_host("someone", &[0, 1])
                .iter()
                .any(|p| p.run_id == "x")
        );
        assert!(!path.exists());
    }
}
