//! The local-process runtime: the same app, run straight on the host with the host's node or
//! python3, its dependencies installed into a cache directory from the same lockfiles, pinned
//! to the server CPUs with CPU affinity.
//!
//! Memory limits are not enforced here (no cgroup of our own); results say so. Each process
//! carries `FACEOFF_RUN=<run-id>` in its environment and a pid file, so `faceoff clean` stops
//! only processes faceoff started.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::process_cpu_ns;
use super::{
    Exited, Instance, LaunchSpec, Launched, Prepared, ResourceReading, Runtime, RuntimeError,
    RuntimeKind, StartClock, parse_cpuset, tail_lines,
};
use crate::config::{Fixtures, Language, Target};
use crate::images::{self, Progress};

/// Runs targets as host processes.
pub struct LocalRuntime {
    fixtures: Fixtures,
    cache: PathBuf,
}

pub use crate::images::cache_dir;

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> RuntimeError {
    let context = context.into();
    move |cause| RuntimeError::Io { context, cause }
}

impl LocalRuntime {
    pub fn new(fixtures: Fixtures, cache: PathBuf) -> Self {
        LocalRuntime { fixtures, cache }
    }

    fn pid_dir(&self) -> PathBuf {
        self.cache.join("local").join("pids")
    }

    fn venv_bin(dir: &Path) -> PathBuf {
        dir.join("venv").join("bin")
    }
}

impl Runtime for LocalRuntime {
    type Instance = LocalInstance;

    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Local
    }

    async fn prepare(
        &self,
        target: &Target,
        progress: Progress<'_>,
    ) -> Result<Prepared, RuntimeError> {
        let app_dir = self.fixtures.app_dir(target);
        let hash = images::app_hash(&app_dir, &format!("local:{}", target.language))?;
        let dir = self
            .cache
            .join("local")
            .join(format!("{}-{}", target.name, &hash[..12]));
        let lockfile_sha256 = images::file_sha256(&app_dir.join(target.lockfile_name()))?;
        // Another faceoff (a parallel test, another CI job) may be installing the same app:
        // hold an exclusive lock for the check and the install.
        let _lock = InstallLock::acquire(&dir.with_extension("lock"))?;
        let marker = dir.join(".faceoff-installed");
        if !marker.is_file() {
            progress(&format!(
                "installing {} into {}",
                target.name,
                dir.display()
            ));
            install(target, &app_dir, &dir)
                .await
                .map_err(|message| RuntimeError::Prepare {
                    target: target.name.clone(),
                    message,
                })?;
            fs::write(&marker, &hash).map_err(io_err(format!("writing {}", marker.display())))?;
        } else {
            progress(&format!(
                "{} is installed in {}",
                target.name,
                dir.display()
            ));
        }
        Ok(Prepared {
            target: target.clone(),
            image: None,
            local_dir: Some(dir),
            lockfile_sha256,
        })
    }

    async fn start(
        &self,
        prepared: &Prepared,
        spec: &LaunchSpec<'_>,
    ) -> Result<LocalInstance, RuntimeError> {
        let target = &prepared.target;
        let dir = prepared
            .local_dir
            .clone()
            .ok_or_else(|| RuntimeError::Prepare {
                target: target.name.clone(),
                message: "the app was not installed".into(),
            })?;
        let cpus = parse_cpuset(&spec.limits.cpuset)?;
        let host = super::engines::target_host().to_string();
        let argv = target.command_for(&host, spec.port);
        let logs_dir = self.cache.join("local").join("logs");
        fs::create_dir_all(&logs_dir)
            .map_err(io_err(format!("creating {}", logs_dir.display())))?;
        fs::create_dir_all(self.pid_dir()).map_err(io_err("creating the pid directory"))?;
        let log_path = logs_dir.join(format!("{}-{}.log", spec.run_id, target.name));
        let log = fs::File::create(&log_path)
            .map_err(io_err(format!("creating {}", log_path.display())))?;
        let log_err = log
            .try_clone()
            .map_err(io_err("duplicating the log file"))?;

        let mut path = std::env::var_os("PATH").unwrap_or_default();
        if target.language == Language::Python {
            let mut with_venv = Self::venv_bin(&dir).into_os_string();
            with_venv.push(":");
            with_venv.push(&path);
            path = with_venv;
        }
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .current_dir(dir.join("app"))
            .env("PATH", path)
            .env("HOST", &host)
            .env("PORT", spec.port.to_string())
            .env("FACEOFF_RUN", spec.run_id)
            .env("NODE_ENV", "production")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .envs(spec.env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        // SAFETY: only async-signal-safe calls (setpgid, sched_setaffinity) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // Own process group, so stop() reaches the server's workers too.
                if libc::setpgid(0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                for &cpu in &cpus {
                    libc::CPU_SET(cpu, &mut set);
                }
                if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let at = Instant::now();
        let child = command.spawn().map_err(|source| RuntimeError::Io {
            context: format!("starting `{}` for {}", argv.join(" "), target.name),
            cause: source,
        })?;
        let pid_file = self
            .pid_dir()
            .join(format!("{}-{}.pid", spec.run_id, target.name));
        fs::write(&pid_file, child.id().to_string())
            .map_err(io_err(format!("writing {}", pid_file.display())))?;
        Ok(LocalInstance {
            child: Mutex::new(Some(child)),
            port: spec.port,
            log_path,
            pid_file,
            language: target.language,
            dir,
            launched: Launched {
                clock: StartClock::ProcessExec,
                at,
                start_call: None,
            },
        })
    }

    async fn clean(&self, run_id: Option<&str>) -> Result<usize, RuntimeError> {
        let Ok(entries) = fs::read_dir(self.pid_dir()) else {
            return Ok(0);
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(run) = run_id
                && !name.starts_with(&format!("{run}-"))
            {
                continue;
            }
            let Some(pid) = fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            else {
                let _ = fs::remove_file(&path);
                continue;
            };
            // Only a process whose environment carries faceoff's run label is ours to stop.
            let environ = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let ours = environ.split(|&b| b == 0).any(|var| {
                var.starts_with(b"FACEOFF_RUN=")
                    && run_id.is_none_or(|id| var == format!("FACEOFF_RUN={id}").as_bytes())
            });
            if ours {
                kill_group(pid, libc::SIGKILL);
                removed += 1;
            }
            let _ = fs::remove_file(&path);
        }
        Ok(removed)
    }
}

/// An exclusive advisory lock on a file, released when dropped.
struct InstallLock {
    file: fs::File,
}

impl InstallLock {
    fn acquire(path: &Path) -> Result<InstallLock, RuntimeError> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_err(format!("creating {}", parent.display())))?;
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(io_err(format!("opening {}", path.display())))?;
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        // SAFETY: flock on a descriptor we own; blocks until the other holder is done.
        let locked = tokio::task::block_in_place(|| unsafe { libc::flock(fd, libc::LOCK_EX) });
        if locked != 0 {
            return Err(RuntimeError::Io {
                context: format!("locking {}", path.display()),
                cause: std::io::Error::last_os_error(),
            });
        }
        Ok(InstallLock { file })
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: unlocking a descriptor we own.
        unsafe {
            libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

/// Copies the app into `dir/app` and installs its locked dependencies.
async fn install(target: &Target, app_dir: &Path, dir: &Path) -> Result<(), String> {
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| format!("clearing {}: {e}", dir.display()))?;
    }
    let app = dir.join("app");
    copy_app(app_dir, &app).map_err(|e| format!("copying {}: {e}", app_dir.display()))?;
    match target.language {
        Language::Node => {
            run(Command::new("npm")
                .envs(images::npm_env())
                .args(["ci", "--omit=dev", "--no-audit", "--no-fund"])
                .current_dir(&app))
            .await
        }
        Language::Python => {
            let venv = dir.join("venv");
            run(Command::new("python3").arg("-m").arg("venv").arg(&venv)).await?;
            run(Command::new(venv.join("bin").join("pip"))
                .args([
                    "install",
                    "--disable-pip-version-check",
                    "--require-hashes",
                    "--only-binary=:all:",
                    "-r",
                ])
                .arg(app.join("requirements.lock")))
            .await
        }
    }
}

fn copy_app(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if ["node_modules", "__pycache__", ".venv", "venv"]
            .iter()
            .any(|s| name == *s)
        {
            continue;
        }
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            copy_app(&entry.path(), &to.join(&name))?;
        } else if file_type.is_file() {
            fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}

async fn run(command: &mut Command) -> Result<(), String> {
    let shown = format!("{:?}", command);
    let output = tokio::task::block_in_place(|| command.stdin(Stdio::null()).output())
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&output.stderr).to_string()
        + &String::from_utf8_lossy(&output.stdout);
    Err(format!(
        "{shown} failed ({}): {}",
        output.status,
        tail_lines(&text, 5)
    ))
}

fn kill_group(pid: i32, signal: i32) {
    // SAFETY: plain syscall; a stale pid group only yields ESRCH.
    unsafe {
        libc::killpg(pid, signal);
    }
}

/// A server process started by faceoff on this host.
pub struct LocalInstance {
    child: Mutex<Option<Child>>,
    port: u16,
    log_path: PathBuf,
    pid_file: PathBuf,
    language: Language,
    dir: PathBuf,
    /// When the process was spawned.
    launched: Launched,
}

impl LocalInstance {
    fn pid(&self) -> Option<i32> {
        self.child.lock().ok()?.as_ref().map(|c| c.id() as i32)
    }
}

/// The process ids of `pid` and all its descendants.
fn process_tree(pid: i32) -> Vec<i32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let current = all[i];
        if let Ok(tasks) = fs::read_dir(format!("/proc/{current}/task")) {
            for task in tasks.flatten() {
                let children = fs::read_to_string(task.path().join("children")).unwrap_or_default();
                all.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<i32>().ok()),
                );
            }
        }
        i += 1;
    }
    all
}

fn rss_bytes(pid: i32) -> u64 {
    let pages = fs::read_to_string(format!("/proc/{pid}/statm"))
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(0) as u64;
    pages * page
}

impl Instance for LocalInstance {
    fn id(&self) -> String {
        self.pid()
            .map_or_else(|| "exited".into(), |p| p.to_string())
    }

    fn port(&self) -> u16 {
        self.port
    }

    fn launched(&self) -> Option<Launched> {
        Some(self.launched)
    }

    async fn owns_process(&self, pid: u32) -> Option<bool> {
        // The app was started as the leader of its own process group: its workers share it.
        let own = self.pid()?;
        Some(super::proc::process_group(pid) == Some(own as u32))
    }

    async fn exited(&self) -> Result<Option<Exited>, RuntimeError> {
        let mut guard = self.child.lock().map_err(|_| RuntimeError::Prepare {
            target: self.dir.display().to_string(),
            message: "process state poisoned".into(),
        })?;
        let Some(child) = guard.as_mut() else {
            return Ok(Some(Exited {
                code: -1,
                oom_killed: false,
            }));
        };
        match child
            .try_wait()
            .map_err(io_err("checking the server process"))?
        {
            Some(status) => Ok(Some(Exited {
                code: status.code().map_or(-1, i64::from),
                oom_killed: false,
            })),
            None => Ok(None),
        }
    }

    async fn logs_tail(&self, lines: usize) -> String {
        tail_lines(
            &fs::read_to_string(&self.log_path).unwrap_or_default(),
            lines,
        )
    }

    async fn read_resources(&self) -> Result<ResourceReading, RuntimeError> {
        let pid = self.pid().unwrap_or(0);
        let tree = process_tree(pid);
        Ok(ResourceReading {
            at: Instant::now(),
            cpu_total_ns: tree.iter().map(|&p| process_cpu_ns(p)).sum(),
            memory_bytes: tree.iter().map(|&p| rss_bytes(p)).sum(),
        })
    }

    async fn runtime_version(&self) -> Option<String> {
        version_of(&match self.language {
            Language::Node => "node".to_string(),
            Language::Python => LocalRuntime::venv_bin(&self.dir)
                .join("python3")
                .to_string_lossy()
                .to_string(),
        })
    }

    async fn open_files_limit(&self) -> Option<u64> {
        let limits = fs::read_to_string(format!("/proc/{}/limits", self.pid()?)).ok()?;
        super::max_open_files(&limits)
    }

    async fn stop(self) -> Result<(), RuntimeError> {
        let child = self.child.lock().ok().and_then(|mut c| c.take());
        if let Some(mut child) = child {
            let pid = child.id() as i32;
            kill_group(pid, libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            kill_group(pid, libc::SIGKILL);
            let _ = child.wait();
        }
        let _ = fs::remove_file(&self.pid_file);
        Ok(())
    }
}

impl Drop for LocalInstance {
    /// A run dropped mid-way (Ctrl-C) still leaves no process behind.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.get_mut().ok().and_then(|c| c.take()) {
            kill_group(child.id() as i32, libc::SIGKILL);
            let _ = child.wait();
            let _ = fs::remove_file(&self.pid_file);
        }
    }
}

/// What `program --version` prints (`v20.20.2`, `Python 3.11.7`), if it runs.
fn version_of(program: &str) -> Option<String> {
    let output = Command::new(program).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    let version = text.trim().to_string();
    (!version.is_empty()).then_some(version)
}

/// The host's `node` and `python3` versions, by language name: what a local-runtime run
/// will run on (each Python app's venv is made from the host's `python3`).
pub fn host_versions() -> Vec<(String, String)> {
    [(Language::Node, "node"), (Language::Python, "python3")]
        .into_iter()
        .filter_map(|(language, program)| Some((language.to_string(), version_of(program)?)))
        .collect()
}
