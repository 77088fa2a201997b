//! The Docker runtime: one container per target, host networking, identical cpuset and
//! memory limit, labelled so that `faceoff clean` finds whatever a killed run left behind.

use std::collections::HashMap;
use std::time::Instant;

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig, ResourcesUlimits};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StatsOptionsBuilder, StopContainerOptionsBuilder,
};
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::engines::{self, Role, Transport};
use super::owner::{Liveness, Owner, ThisHost};
use super::{
    Exited, Instance, LaunchSpec, Launched, Prepared, ResourceReading, Runtime, RuntimeError,
    RuntimeKind, StartClock, tail_lines,
};
use crate::config::{Fixtures, Language, Target};
use crate::engine::{self, EngineError};
use crate::images::{self, BuildOptions, Progress};

/// Label carrying the run id on every container faceoff creates.
pub const LABEL_RUN: &str = "faceoff.run";
/// Label carrying the target name.
pub const LABEL_TARGET: &str = "faceoff.target";

/// Open files every target container may have (Linux's default fs.nr_open).
pub const CONTAINER_NOFILE: i64 = 1_048_576;

/// What the engine says about itself, for `doctor` and the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct EngineInfo {
    pub endpoint: String,
    pub version: String,
    pub api_version: String,
    pub os: String,
    pub kernel: String,
    pub cgroup_version: String,
    pub cgroup_driver: String,
    pub cpus: i64,
    pub memory_bytes: i64,
}

/// Connects to the targets' engine (`--target-engine`, else DOCKER_HOST, else the local
/// socket); see [`connect_role`].
pub async fn connect() -> Result<Docker, RuntimeError> {
    connect_role(Role::Targets).await
}

/// Connects to `role`'s engine and negotiates the API version, so engines from 20.10 (API
/// 1.41) onwards work. An engine that accepts the connection but does not answer is a
/// timeout naming the request, not "no engine"; one that cannot be reached, or refuses
/// faceoff's certificates, is one line naming the role, the engine and the fix.
pub async fn connect_role(role: Role) -> Result<Docker, RuntimeError> {
    let spec = engines::spec(role)?;
    let no_engine = |err: EngineError| match err {
        EngineError::Api(err) => RuntimeError::NoEngine {
            role,
            endpoint: spec.endpoint.clone(),
            message: short_engine_error(&err),
            fix: spec.fix(),
        },
        timeout => RuntimeError::Engine(timeout),
    };
    // bollard's own limit on response headers, under ours on the whole call.
    let header_limit = engine::call_timeout().as_secs() + 1;
    let docker = match &spec.transport {
        Transport::Unix(path) => Docker::connect_with_socket(
            &path.display().to_string(),
            header_limit,
            bollard::API_DEFAULT_VERSION,
        ),
        Transport::Tcp {
            address,
            certs: Some(dir),
        } => Docker::connect_with_ssl(
            address,
            &dir.join("key.pem"),
            &dir.join("cert.pem"),
            &dir.join("ca.pem"),
            header_limit,
            bollard::API_DEFAULT_VERSION,
        ),
        Transport::Tcp {
            address,
            certs: None,
        } => Docker::connect_with_http(address, header_limit, bollard::API_DEFAULT_VERSION),
    }
    .map_err(|e| no_engine(EngineError::Api(e)))?;
    let docker = engine::call(
        "`GET /version` (API negotiation)",
        docker.negotiate_version(),
    )
    .await
    .map_err(no_engine)?;
    engine::call("`ping`", docker.ping())
        .await
        .map_err(no_engine)?;
    if engines::configured() {
        let info = engine::call("`info`", docker.info())
            .await
            .map_err(no_engine)?;
        engines::check_address(&spec, info.name.as_deref().unwrap_or(""))?;
    }
    Ok(docker)
}

fn endpoint() -> String {
    engine::endpoint()
}

/// Whether `role`'s containers run on this host (their cgroup files readable here).
pub fn role_is_local(role: Role) -> bool {
    engines::spec(role).is_ok_and(|spec| spec.local())
}

fn short_engine_error(err: &bollard::errors::Error) -> String {
    let text = err.to_string();
    let first = text.lines().next().unwrap_or("").to_string();
    if first.is_empty() {
        "no answer".into()
    } else {
        first
    }
}

/// Reads the engine's version and host facts.
pub async fn engine_info(docker: &Docker) -> Result<EngineInfo, RuntimeError> {
    let version = engine::call("`version`", docker.version()).await?;
    let info = engine::call("`info`", docker.info()).await?;
    Ok(EngineInfo {
        endpoint: endpoint(),
        version: version.version.unwrap_or_default(),
        api_version: docker.client_version().to_string(),
        os: info.operating_system.unwrap_or_default(),
        kernel: info.kernel_version.unwrap_or_default(),
        cgroup_version: info
            .cgroup_version
            .map(|v| v.to_string())
            .unwrap_or_default(),
        cgroup_driver: info
            .cgroup_driver
            .map(|v| v.to_string())
            .unwrap_or_default(),
        cpus: info.ncpu.unwrap_or_default(),
        memory_bytes: info.mem_total.unwrap_or_default(),
    })
}

/// Each role's host, for the manifest, when engines or addresses were named (empty
/// otherwise: the manifest's `engine` and `host` say it all). A role whose engine does not
/// answer is left out; the run itself reports that engine.
pub async fn role_hosts(
    sample_interval: std::time::Duration,
) -> std::collections::BTreeMap<String, engines::RoleHost> {
    let mut hosts = std::collections::BTreeMap::new();
    if !engines::configured() {
        return hosts;
    }
    for role in [Role::Targets, Role::Services] {
        let Ok(spec) = engines::spec(role) else {
            continue;
        };
        let Ok(docker) = connect_role(role).await else {
            continue;
        };
        let Ok(mut info) = engine_info(&docker).await else {
            continue;
        };
        info.endpoint = spec.endpoint.clone();
        let hostname = engine::call("`info`", docker.info())
            .await
            .ok()
            .and_then(|i| i.name)
            .unwrap_or_default();
        let address = match role {
            Role::Targets => engines::target_host(),
            Role::Services => engines::services_host(),
        };
        hosts.insert(
            role.label().to_string(),
            engines::RoleHost {
                role,
                engine: info,
                hostname,
                address: address.to_string(),
                sampling: sampling_method(spec.local(), sample_interval),
            },
        );
    }
    hosts
}

/// How a role's containers are sampled, with the interval and its accuracy, for the
/// manifest. The figures agree within [`SAMPLING_TOLERANCE`] on a local engine (the test
/// `stats_api_and_cgroup_files_agree_on_a_local_engine` holds them to it).
pub fn sampling_method(local: bool, interval: std::time::Duration) -> String {
    let ms = interval.as_millis();
    if local {
        format!(
            "cgroup files every {ms} ms (exact counters, read in microseconds on faceoff's clock)"
        )
    } else {
        format!(
            "engine stats API every {ms} ms at most (one round trip per reading, timed by the engine's own read time; CPU and memory within {:.0}% of the cgroup files)",
            SAMPLING_TOLERANCE * 100.0
        )
    }
}

/// How far the stats API's CPU time and memory may be from the cgroup files' for the same
/// container, as a share: the engine reads the same counters, but at its own moment.
pub const SAMPLING_TOLERANCE: f64 = 0.05;

/// Runs targets as containers on a Docker engine.
pub struct DockerRuntime {
    docker: Docker,
    fixtures: Fixtures,
    build: BuildOptions,
    /// The engine refused to raise containers' open-file limit; start them without.
    nofile_refused: AtomicBool,
    /// Whether the engine runs on this host (cgroup files readable here).
    local: bool,
}

impl DockerRuntime {
    pub fn new(docker: Docker, fixtures: Fixtures, build: BuildOptions) -> Self {
        DockerRuntime {
            docker,
            fixtures,
            build,
            nofile_refused: AtomicBool::new(false),
            local: role_is_local(Role::Targets),
        }
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }
}

impl Runtime for DockerRuntime {
    type Instance = DockerInstance;

    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Docker
    }

    async fn prepare(
        &self,
        target: &Target,
        progress: Progress<'_>,
    ) -> Result<Prepared, RuntimeError> {
        let image =
            images::build_app_and_base(&self.docker, &self.fixtures, target, &self.build, progress)
                .await?;
        Ok(Prepared {
            target: target.clone(),
            lockfile_sha256: image.lockfile_sha256.clone(),
            image: Some(image),
            local_dir: None,
        })
    }

    async fn start(
        &self,
        prepared: &Prepared,
        spec: &LaunchSpec<'_>,
    ) -> Result<DockerInstance, RuntimeError> {
        let target = &prepared.target;
        let image = prepared
            .image
            .as_ref()
            .ok_or_else(|| RuntimeError::Prepare {
                target: target.name.clone(),
                message: "no image was built".into(),
            })?;
        let name = format!("faceoff-{}-{}", spec.run_id, target.slug());
        let labels = HashMap::from([
            (LABEL_RUN.to_string(), spec.run_id.to_string()),
            (LABEL_TARGET.to_string(), target.name.clone()),
        ]);
        let host = engines::target_host().to_string();
        let mut env = vec![
            format!("HOST={host}"),
            format!("PORT={}", spec.port),
            format!("FACEOFF_RUN={}", spec.run_id),
        ];
        env.extend(
            spec.env
                .iter()
                .map(|(name, value)| format!("{name}={value}")),
        );
        let body = ContainerCreateBody {
            image: Some(image.tag.clone()),
            cmd: Some(target.command_for(&host, spec.port)),
            env: Some(env),
            labels: Some(labels),
            host_config: Some(HostConfig {
                // The same open-file limit for every target, high enough that connection
                // capacity is decided by the server and its memory, not by the engine's default.
                ulimits: Some(vec![ResourcesUlimits {
                    name: Some("nofile".into()),
                    soft: Some(CONTAINER_NOFILE),
                    hard: Some(CONTAINER_NOFILE),
                }]),
                ..host_config(spec.limits)
            }),
            ..Default::default()
        };
        let mut body = body;
        if let Some(host) = body.host_config.as_mut() {
            harden(host, RootFs::ReadOnly);
        }
        if self.nofile_refused.load(Ordering::Relaxed)
            && let Some(host) = body.host_config.as_mut()
        {
            host.ulimits = None;
        }
        let language = Some(target.language);
        let local = self.local;
        match launch(
            &self.docker,
            &name,
            body.clone(),
            spec.port,
            language,
            local,
        )
        .await
        {
            // An engine started with a lower open-file limit cannot give its containers more
            // (runc: "error setting rlimit"): then every target gets the engine's own limit,
            // still the same for all, and capacity results report it.
            Err(RuntimeError::Engine(err))
                if err.to_string().contains("rlimit")
                    && body
                        .host_config
                        .as_ref()
                        .is_some_and(|h| h.ulimits.is_some()) =>
            {
                self.nofile_refused.store(true, Ordering::Relaxed);
                if let Some(host) = body.host_config.as_mut() {
                    host.ulimits = None;
                }
                launch(&self.docker, &name, body, spec.port, language, local).await
            }
            other => other,
        }
    }

    async fn clean(&self, run_id: Option<&str>) -> Result<usize, RuntimeError> {
        self.clean_run(run_id).await
    }

    async fn other_runs(&self, own_run_id: &str) -> Vec<super::peers::PeerRun> {
        let Ok(runs) = runs_on_engine(&self.docker).await else {
            return Vec::new();
        };
        runs.into_iter()
            .filter(|run| run.run_id != own_run_id)
            .filter_map(|run| {
                let seen_on = match run.liveness {
                    Liveness::Alive => "the engine".to_string(),
                    Liveness::Unknown(why) => format!("the engine ({why})"),
                    // Left behind by a run that is gone: `run` already says so.
                    Liveness::Dead(_) => return None,
                };
                Some(super::peers::PeerRun {
                    run_id: run.run_id,
                    pid: None,
                    seen_on,
                    cpus: Vec::new(),
                })
            })
            .collect()
    }
}

impl DockerRuntime {
    async fn clean_run(&self, run_id: Option<&str>) -> Result<usize, RuntimeError> {
        let label = match run_id {
            Some(id) => format!("{LABEL_RUN}={id}"),
            None => LABEL_RUN.to_string(),
        };
        let filters = HashMap::from([("label".to_string(), vec![label])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let containers = engine::call(
            "`list containers`",
            self.docker.list_containers(Some(options)),
        )
        .await?;
        let mut removed = 0;
        for container in containers {
            if let Some(id) = container.id {
                remove_container(&self.docker, &id).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// The containers one run left on the engine, and whether the faceoff that started them
/// still runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RunContainers {
    pub run_id: String,
    pub ids: Vec<String>,
    pub liveness: Liveness,
}

/// Every run with containers on the engine, in run id order.
pub async fn runs_on_engine(docker: &Docker) -> Result<Vec<RunContainers>, RuntimeError> {
    let filters = HashMap::from([("label".to_string(), vec![LABEL_RUN.to_string()])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let containers =
        engine::call("`list containers`", docker.list_containers(Some(options))).await?;
    let here = ThisHost::current();
    let mut runs: std::collections::BTreeMap<String, RunContainers> = Default::default();
    for container in containers {
        let (Some(id), Some(labels)) = (container.id, container.labels) else {
            continue;
        };
        let Some(run_id) = labels.get(LABEL_RUN).cloned() else {
            continue;
        };
        let entry = runs.entry(run_id.clone()).or_insert_with(|| RunContainers {
            run_id,
            ids: Vec::new(),
            liveness: match Owner::from_labels(&labels) {
                Some(owner) => owner.liveness(&here),
                // Spared by default: it may be a live run of an older faceoff.
                None => {
                    Liveness::Unknown("started by a faceoff that did not record its process".into())
                }
            },
        });
        entry.ids.push(id);
    }
    Ok(runs.into_values().collect())
}

/// The runs a `faceoff clean` without `--run` removes: those whose faceoff is gone, or every
/// one with `force`. The others are spared.
pub fn runs_to_remove(
    runs: Vec<RunContainers>,
    force: bool,
) -> (Vec<RunContainers>, Vec<RunContainers>) {
    runs.into_iter()
        .partition(|run| force || matches!(run.liveness, Liveness::Dead(_)))
}

/// Removes `ids`; returns how many.
pub async fn remove_containers(docker: &Docker, ids: &[String]) -> Result<usize, RuntimeError> {
    for id in ids {
        remove_container(docker, id).await?;
    }
    Ok(ids.len())
}

/// The host settings every faceoff container gets: host networking (traffic stays on
/// 127.0.0.1), its cpuset, and a memory limit with no swap, so a container over its limit
/// is killed, not slowed.
pub fn host_config(limits: &super::Limits) -> HostConfig {
    let memory = i64::try_from(limits.memory_bytes).unwrap_or(i64::MAX);
    HostConfig {
        network_mode: Some("host".into()),
        cpuset_cpus: Some(limits.cpuset.clone()),
        memory: Some(memory),
        memory_swap: Some(memory),
        ..Default::default()
    }
}

/// Set to `1`, containers start without the hardening of [`harden`]: only to measure what
/// the hardening costs (see the README); a warning says so on every start.
pub const UNHARDENED_ENV: &str = "FACEOFF_UNHARDENED";

/// The most processes and threads one container may have: a fork bomb stops there. Far above
/// what any target or service uses (PostgreSQL: one process per connection, 200 at most).
pub const PIDS_LIMIT: i64 = 1024;

/// What a container may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootFs {
    /// A read-only root filesystem, with a small tmpfs on /tmp (gunicorn's worker heartbeat
    /// files; Python falls back to no bytecode cache): the app servers.
    ReadOnly,
    /// Writable: PostgreSQL writes its data directory, seeded in the image.
    Writable,
}

/// Hardens a container's host settings: no capabilities at all (the servers listen on
/// unprivileged ports and run as an unprivileged user; PostgreSQL runs as `postgres`),
/// no-new-privileges (no setuid program can raise them; the app images have none left
/// either), a process limit, and a read-only root filesystem where the app allows it.
/// Skipped when [`UNHARDENED_ENV`] is `1`.
pub fn harden(host: &mut HostConfig, root: RootFs) {
    if std::env::var(UNHARDENED_ENV).is_ok_and(|v| v == "1") {
        eprintln!(
            "warning: {UNHARDENED_ENV}=1: this container runs without hardening (for measuring its cost only)"
        );
        return;
    }
    host.cap_drop = Some(vec!["ALL".into()]);
    host.security_opt = Some(vec!["no-new-privileges".into()]);
    host.pids_limit = Some(PIDS_LIMIT);
    if root == RootFs::ReadOnly {
        host.readonly_rootfs = Some(true);
        host.tmpfs = Some(HashMap::from([(
            "/tmp".to_string(),
            "rw,nosuid,nodev,size=64m".to_string(),
        )]));
    }
}

/// Creates and starts a container, removing it again when it does not start. `language`
/// decides what [`Instance::runtime_version`] asks (none for a service such as PostgreSQL).
/// The container is labelled with this faceoff process ([`Owner`]), so that `clean` spares it
/// while this process lives.
pub async fn launch(
    docker: &Docker,
    name: &str,
    mut body: ContainerCreateBody,
    port: u16,
    language: Option<Language>,
    local: bool,
) -> Result<DockerInstance, RuntimeError> {
    body.labels
        .get_or_insert_default()
        .extend(Owner::current().labels());
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    let created = engine::call(
        &format!("`create container {name}`"),
        docker.create_container(Some(options), body),
    )
    .await?;
    let mut instance = DockerInstance {
        docker: docker.clone(),
        id: created.id,
        port,
        language,
        launched: None,
        local,
    };
    let call = format!("`start container {name}`");
    let at = Instant::now();
    if let Err(err) = engine::call(&call, docker.start_container(&instance.id, None)).await {
        let _ = instance.remove().await;
        return Err(err.into());
    }
    instance.launched = Some(Launched {
        clock: StartClock::ContainerStart,
        at,
        start_call: Some(at.elapsed()),
    });
    Ok(instance)
}

/// When the engine read a stats sample, as an `Instant` on our clock.
fn engine_read_instant(read: Option<&str>) -> Option<Instant> {
    let read = chrono::DateTime::parse_from_rfc3339(read?).ok()?;
    let age = chrono::Utc::now()
        .signed_duration_since(read)
        .to_std()
        .ok()?;
    Instant::now().checked_sub(age)
}

/// Reading a local container's cgroup directly (v1 or v2, cgroupfs or systemd driver).
mod cgroup {
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    use crate::runtime::ResourceReading;

    fn first_existing(candidates: Vec<PathBuf>) -> Option<PathBuf> {
        candidates.into_iter().find(|p| p.exists())
    }

    fn read_u64(path: &Path) -> Option<u64> {
        std::fs::read_to_string(path).ok()?.trim().parse().ok()
    }

    /// A `key value` line of a cgroup stat file.
    pub fn stat_value(text: &str, key: &str) -> Option<u64> {
        text.lines().find_map(|line| {
            let (name, value) = line.split_once(' ')?;
            (name == key).then(|| value.trim().parse().ok())?
        })
    }

    /// Whether local process `pid` is in container `id`'s cgroup.
    pub fn holds_process(id: &str, pid: u32) -> Option<bool> {
        let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        Some(cgroups.contains(id))
    }

    pub fn read(id: &str) -> Option<ResourceReading> {
        let root = Path::new("/sys/fs/cgroup");
        let scope = format!("docker-{id}.scope");
        let at = Instant::now();
        // cgroup v1
        if let Some(cpu_dir) = first_existing(vec![
            root.join("cpuacct/docker").join(id),
            root.join("cpuacct/system.slice").join(&scope),
        ]) {
            let mem_dir = first_existing(vec![
                root.join("memory/docker").join(id),
                root.join("memory/system.slice").join(&scope),
            ])?;
            let cpu_total_ns = read_u64(&cpu_dir.join("cpuacct.usage"))?;
            let usage = read_u64(&mem_dir.join("memory.usage_in_bytes"))?;
            let stat = std::fs::read_to_string(mem_dir.join("memory.stat")).ok()?;
            let inactive = stat_value(&stat, "total_inactive_file").unwrap_or(0);
            return Some(ResourceReading {
                at,
                cpu_total_ns,
                memory_bytes: usage.saturating_sub(inactive),
            });
        }
        // cgroup v2
        let dir = first_existing(vec![
            root.join("system.slice").join(&scope),
            root.join("docker").join(id),
        ])?;
        let cpu_stat = std::fs::read_to_string(dir.join("cpu.stat")).ok()?;
        let usage = read_u64(&dir.join("memory.current"))?;
        let stat = std::fs::read_to_string(dir.join("memory.stat")).ok()?;
        Some(ResourceReading {
            at,
            cpu_total_ns: stat_value(&cpu_stat, "usage_usec")? * 1000,
            memory_bytes: usage.saturating_sub(stat_value(&stat, "inactive_file").unwrap_or(0)),
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn stat_values_are_found_by_exact_key() {
            let text = "cache 10\ntotal_inactive_file 4096\ninactive_file 7\n";
            assert_eq!(stat_value(text, "total_inactive_file"), Some(4096));
            assert_eq!(stat_value(text, "inactive_file"), Some(7));
            assert_eq!(stat_value(text, "missing"), None);
        }
    }
}

async fn remove_container(docker: &Docker, id: &str) -> Result<(), RuntimeError> {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    let call = format!("`remove container {}`", images::short_id(id));
    match engine::call(&call, docker.remove_container(id, Some(options))).await {
        Ok(()) => Ok(()),
        // Already gone (removed by another cleanup path): nothing to do.
        Err(err) if err.status_code() == Some(404) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// A running container: a target, or a service started beside it.
#[derive(Clone)]
pub struct DockerInstance {
    docker: Docker,
    id: String,
    port: u16,
    language: Option<Language>,
    /// When the engine was asked to start it.
    launched: Option<Launched>,
    /// Whether its engine runs on this host: its cgroup files are then read directly.
    local: bool,
}

impl DockerInstance {
    /// One reading from the engine's stats API, the way `docker stats` reads it: what a
    /// remote engine gives. Each call is a round trip to the engine (and on engine 20.10 it
    /// waits for the engine's own sampling), so it is coarser than [`Self::read_cgroup`].
    pub async fn read_stats(&self) -> Result<ResourceReading, RuntimeError> {
        let options = StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(true)
            .build();
        let mut stream = self.docker.stats(&self.id, Some(options));
        let call = format!("`stats {}`", self.id());
        let next = async { stream.next().await.transpose() };
        let stats = match engine::call(&call, next).await? {
            Some(stats) => stats,
            None => {
                return Err(RuntimeError::Prepare {
                    target: self.id(),
                    message: "the engine returned no stats".into(),
                });
            }
        };
        // The engine's own read time, not ours: the call itself takes a while.
        // `read` is a String or a date type depending on bollard's features: go through JSON.
        let read = serde_json::to_value(stats.read).ok();
        let at = engine_read_instant(read.as_ref().and_then(|v| v.as_str()))
            .unwrap_or_else(Instant::now);
        let cpu_total_ns = stats
            .cpu_stats
            .and_then(|cpu| cpu.cpu_usage)
            .and_then(|usage| usage.total_usage)
            .unwrap_or(0);
        let memory = stats.memory_stats.unwrap_or_default();
        // As `docker stats` does: usage less the inactive file cache (cgroup v1 and v2 names).
        let inactive = memory
            .stats
            .as_ref()
            .and_then(|s| {
                s.get("total_inactive_file")
                    .or_else(|| s.get("inactive_file"))
            })
            .copied()
            .unwrap_or(0);
        let memory_bytes = memory.usage.unwrap_or(0).saturating_sub(inactive);
        Ok(ResourceReading {
            at,
            cpu_total_ns,
            memory_bytes,
        })
    }

    /// One reading from the container's cgroup files, when its engine runs on this host.
    pub fn read_cgroup(&self) -> Option<ResourceReading> {
        cgroup::read(&self.id)
    }

    /// The container's full id.
    pub fn full_id(&self) -> &str {
        &self.id
    }

    async fn remove(&self) -> Result<(), RuntimeError> {
        remove_container(&self.docker, &self.id).await
    }

    /// What `cmd` prints inside the container, or `None` when it cannot be run. Both the
    /// exec's creation and its whole output are bounded like any engine call.
    async fn exec_output(&self, cmd: Vec<&str>, stderr: bool) -> Option<String> {
        let docker = &self.docker;
        let run = async {
            let options = CreateExecOptions {
                cmd: Some(cmd),
                attach_stdout: Some(true),
                attach_stderr: Some(stderr),
                ..Default::default()
            };
            let exec = docker.create_exec(&self.id, options).await?;
            let StartExecResults::Attached { mut output, .. } =
                docker.start_exec(&exec.id, None).await?
            else {
                return Ok(None);
            };
            let mut text = String::new();
            while let Some(Ok(chunk)) = output.next().await {
                text.push_str(&chunk.to_string());
            }
            Ok(Some(text))
        };
        let call = format!("`exec in {}`", self.id());
        engine::call(&call, run).await.ok().flatten()
    }
}

impl Instance for DockerInstance {
    fn id(&self) -> String {
        self.id.chars().take(12).collect()
    }

    fn port(&self) -> u16 {
        self.port
    }

    fn launched(&self) -> Option<Launched> {
        self.launched
    }

    async fn exited(&self) -> Result<Option<Exited>, RuntimeError> {
        let call = format!("`inspect container {}`", self.id());
        let inspect = match engine::call(&call, self.docker.inspect_container(&self.id, None)).await
        {
            Ok(inspect) => inspect,
            // Removed from under us: as good as stopped.
            Err(err) if err.status_code() == Some(404) => {
                return Ok(Some(Exited {
                    code: -1,
                    oom_killed: false,
                }));
            }
            Err(err) => return Err(err.into()),
        };
        let state = inspect.state.unwrap_or_default();
        if state.running.unwrap_or(false) {
            return Ok(None);
        }
        Ok(Some(Exited {
            code: state.exit_code.unwrap_or(-1),
            oom_killed: state.oom_killed.unwrap_or(false),
        }))
    }

    async fn owns_process(&self, pid: u32) -> Option<bool> {
        if !self.local {
            return None;
        }
        cgroup::holds_process(&self.id, pid)
    }

    async fn logs_tail(&self, lines: usize) -> String {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut stream = self.docker.logs(&self.id, Some(options));
        let mut text = String::new();
        let read = async {
            while let Some(Ok(chunk)) = stream.next().await {
                text.push_str(&chunk.to_string());
            }
            Ok(())
        };
        // Logs are context for another error: a silent engine leaves them out.
        let call = format!("`logs {}`", self.id());
        if let Err(err) = engine::call(&call, read).await {
            return format!("(no logs: {err})");
        }
        tail_lines(&text, lines)
    }

    async fn read_resources(&self) -> Result<ResourceReading, RuntimeError> {
        // A local engine's cgroup files answer in microseconds; the stats API takes about a
        // second per call on engine 20.10, too slow for a 250 ms sampling interval.
        if self.local
            && let Some(reading) = cgroup::read(&self.id)
        {
            return Ok(reading);
        }
        self.read_stats().await
    }

    async fn runtime_version(&self) -> Option<String> {
        let program = match self.language? {
            Language::Node => "node",
            Language::Python => "python3",
        };
        let text = self.exec_output(vec![program, "--version"], true).await?;
        let version = text.trim().to_string();
        (!version.is_empty()).then_some(version)
    }

    async fn open_files_limit(&self) -> Option<u64> {
        let text = self
            .exec_output(vec!["cat", "/proc/1/limits"], false)
            .await?;
        super::max_open_files(&text)
    }

    async fn stop(self) -> Result<(), RuntimeError> {
        let options = StopContainerOptionsBuilder::default().t(5).build();
        let call = format!("`stop container {}`", self.id());
        // A container that already exited cannot be stopped; removal below still applies.
        // An engine that does not answer will not answer the removal either.
        if let Err(err @ EngineError::Timeout { .. }) =
            engine::call(&call, self.docker.stop_container(&self.id, Some(options))).await
        {
            return Err(err.into());
        }
        self.remove().await
    }
}
