//! The environment manifest: what a stranger needs to know to re-run a result (faceoff
//! version and commit, fixture hashes, host, engine) and where versions come from.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::config::{Language, Target};
use crate::runtime::docker::EngineInfo;

/// The host the run happened on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
pub struct Host {
    pub cpu_model: String,
    pub cpus: usize,
    pub memory_bytes: u64,
    pub kernel: String,
    pub os: String,
    /// The CPUs online, in cpuset syntax (`0-1`).
    #[serde(default)]
    pub cpus_online: String,
    /// The CPUs faceoff itself (and so the load generator) was allowed to run on.
    #[serde(default)]
    pub faceoff_cpus: String,
}

/// Provenance of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
pub struct Manifest {
    pub faceoff_version: String,
    /// The commit of the faceoff checkout the fixtures and apps came from.
    pub git_commit: Option<String>,
    /// True when that checkout had uncommitted changes.
    pub git_dirty: Option<bool>,
    pub host: Host,
    /// The Docker engine, when the Docker runtime ran the targets.
    pub engine: Option<EngineInfo>,
    /// SHA-256 of every file in fixtures/.
    pub fixtures_sha256: BTreeMap<String, String>,
    /// The base images and their ids.
    pub base_images: BTreeMap<String, String>,
    /// The command line that produced the file, program name first.
    #[serde(default)]
    pub command_line: Vec<String>,
    /// The checkout whose fixtures and apps the run used, and how it was found (absent in
    /// files from before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixtures_root: Option<crate::config::FixturesRoot>,
    /// Each role's host when engines or addresses were named (`--target-engine`,
    /// `--services-engine`, `--target-address`, `--services-address`): its engine's version,
    /// kernel and CPUs, the address it was reached at and how it was sampled. The load
    /// generator's host is [`Manifest::host`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub engines: BTreeMap<String, crate::runtime::engines::RoleHost>,
}

impl Manifest {
    /// Collects everything but the engine and the images, which the runtime adds.
    pub fn collect(root: &Path) -> Manifest {
        Manifest {
            faceoff_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: git(root, &["rev-parse", "HEAD"]),
            git_dirty: git(root, &["status", "--porcelain", "--untracked-files=no"])
                .map(|out| !out.is_empty()),
            host: host(),
            engine: None,
            fixtures_sha256: fixture_hashes(&root.join("fixtures")),
            base_images: BTreeMap::new(),
            command_line: std::env::args().collect(),
            fixtures_root: None,
            engines: BTreeMap::new(),
        }
    }

    /// [`Manifest::collect`] for the checkout of `fixtures`, recording which one it is.
    pub fn for_fixtures(fixtures: &crate::config::Fixtures) -> Manifest {
        Manifest {
            fixtures_root: Some(fixtures.fixtures_root()),
            ..Manifest::collect(&fixtures.root)
        }
    }
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let output = git_command(root).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// A git command on the checkout at `root` that only reads it. `git status` refreshes the
/// index and rewrites it under `.git/index.lock` whenever file times changed; a run must
/// leave the user's checkout as it found it (and not collide with the user's own git), so
/// optional locks are off.
fn git_command(root: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .arg("--no-optional-locks")
        .arg("-C")
        .arg(root)
        .env("GIT_OPTIONAL_LOCKS", "0");
    command
}

/// SHA-256 of every file under `dir`, keyed by its path relative to `dir` (`/`-separated),
/// subdirectories included (seed data may live in them).
pub fn fixture_hashes(dir: &Path) -> BTreeMap<String, String> {
    let mut hashes = BTreeMap::new();
    hash_files(dir, "", &mut hashes);
    hashes
}

fn hash_files(dir: &Path, prefix: &str, hashes: &mut BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if path.is_dir() {
            hash_files(&path, &format!("{name}/"), hashes);
        } else if path.is_file()
            && let Ok(hash) = crate::images::file_sha256(&path)
        {
            hashes.insert(name, hash);
        }
    }
}

/// Reads this host's CPU model, CPU count, memory, kernel and OS.
pub fn host() -> Host {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    Host {
        cpu_model: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown".into()),
        cpus: crate::runtime::host_cpu_count(),
        memory_bytes: mem_total_bytes(&meminfo).unwrap_or(0),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        os: pretty_name(&os_release).unwrap_or_else(|| std::env::consts::OS.into()),
        cpus_online: std::fs::read_to_string("/sys/devices/system/cpu/online")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        faceoff_cpus: cpus_allowed(
            &std::fs::read_to_string("/proc/self/status").unwrap_or_default(),
        )
        .unwrap_or_default(),
    }
}

/// `Cpus_allowed_list` of a /proc/PID/status.
fn cpus_allowed(status: &str) -> Option<String> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|v| v.trim().to_string())
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn mem_total_bytes(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn pretty_name(os_release: &str) -> Option<String> {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
}

/// The framework's version as pinned in the app's lockfile.
pub fn framework_version(target: &Target, app_dir: &Path) -> Option<String> {
    let lock = std::fs::read_to_string(app_dir.join(target.lockfile_name())).ok()?;
    match target.language {
        Language::Node => node_locked_version(&lock, &target.framework),
        Language::Python => python_locked_version(&lock, &target.framework),
    }
}

/// The version of `package` in a package-lock.json (lockfile v2/v3).
pub fn node_locked_version(lock: &str, package: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_str(lock).ok()?;
    json.get("packages")?
        .get(format!("node_modules/{package}"))?
        .get("version")?
        .as_str()
        .map(str::to_string)
}

/// The version of `package` in a pip requirements lock (`name==version`).
pub fn python_locked_version(lock: &str, package: &str) -> Option<String> {
    let normalize = |name: &str| name.to_ascii_lowercase().replace(['_', '.'], "-");
    let wanted = normalize(package);
    lock.lines().find_map(|line| {
        let spec = line.trim().split([';', ' ', '\\']).next()?;
        let (name, version) = spec.split_once("==")?;
        let name = name.split('[').next()?;
        (normalize(name) == wanted).then(|| version.trim().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_version_is_read_from_package_lock() {
        let lock = r#"{"lockfileVersion":3,"packages":{"":{},"node_modules/fastify":{"version":"5.6.1"}}}"#;
        assert_eq!(
            node_locked_version(lock, "fastify").as_deref(),
            Some("5.6.1")
        );
        assert_eq!(node_locked_version(lock, "express"), None);
    }

    #[test]
    fn python_version_is_read_from_hashed_lock() {
        let lock = "django==5.2.8 \\\n    --hash=sha256:abc\nuvicorn[standard]==0.38.0 ; python_version >= '3.9' \\\n";
        assert_eq!(
            python_locked_version(lock, "Django").as_deref(),
            Some("5.2.8")
        );
        assert_eq!(
            python_locked_version(lock, "uvicorn").as_deref(),
            Some("0.38.0")
        );
        assert_eq!(python_locked_version(lock, "fastapi"), None);
    }

    #[test]
    fn host_facts_are_parsed() {
        assert_eq!(
            cpu_model("processor: 0\nmodel name\t: AMD EPYC 7B13\n").as_deref(),
            Some("AMD EPYC 7B13")
        );
        assert_eq!(
            mem_total_bytes("MemTotal:       1024 kB\n"),
            Some(1024 * 1024)
        );
        assert_eq!(
            pretty_name("NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n").as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(
            cpus_allowed("Name:\tfaceoff\nCpus_allowed_list:\t0\nMems_allowed:\t1\n").as_deref(),
            Some("0")
        );
    }

    /// A file whose time changed (an editor's save, a checkout) makes `git status` refresh
    /// and rewrite the index; the manifest reads the checkout without writing it.
    #[test]
    fn collecting_provenance_never_writes_the_checkouts_git_index() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let status = Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .output()
                .unwrap()
                .status;
            assert!(status.success(), "git {args:?}");
        };
        git(&["init", "-q"]);
        std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        git(&["add", "a.txt"]);
        git(&["commit", "-q", "-m", "a"]);
        // Same content, new time: the index's stat data is stale.
        let file = std::fs::File::options()
            .write(true)
            .open(dir.path().join("a.txt"))
            .unwrap();
        file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
            .unwrap();
        let index = dir.path().join(".git/index");
        let before = (
            std::fs::read(&index).unwrap(),
            std::fs::metadata(&index).unwrap().modified().unwrap(),
        );
        let manifest = Manifest::collect(dir.path());
        assert_eq!(manifest.git_dirty, Some(false));
        let after = (
            std::fs::read(&index).unwrap(),
            std::fs::metadata(&index).unwrap().modified().unwrap(),
        );
        assert!(before == after, "git status rewrote .git/index");
    }

    #[test]
    fn fixture_hashes_cover_subdirectories() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("claims.toml"), "a").unwrap();
        std::fs::create_dir(dir.path().join("db")).unwrap();
        std::fs::write(dir.path().join("db/world.sql"), "b").unwrap();
        let hashes = fixture_hashes(dir.path());
        let keys: Vec<&str> = hashes.keys().map(String::as_str).collect();
        assert_eq!(keys, ["claims.toml", "db/world.sql"]);
        assert_ne!(hashes["claims.toml"], hashes["db/world.sql"]);
    }

    #[test]
    fn a_manifest_from_before_these_fields_still_reads() {
        let old = r#"{"faceoff_version": "0.1.0", "git_commit": null, "git_dirty": null,
            "host": {"cpu_model": "x", "cpus": 2, "memory_bytes": 1, "kernel": "k", "os": "o"},
            "engine": null, "fixtures_sha256": {}, "base_images": {}}"#;
        let manifest: Manifest = serde_json::from_str(old).unwrap();
        assert!(manifest.command_line.is_empty() && manifest.host.cpus_online.is_empty());
    }
}
