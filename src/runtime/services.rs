//! Topologies: the auxiliary services a workload needs beside its target (a PostgreSQL for
//! `db`), described in `fixtures/services.toml`.
//!
//! Services run as containers on the Docker engine, host networking, each on a 127.0.0.1
//! port faceoff picks, under their own limits and labelled with the run id like targets. They
//! are started in the order the workload lists them, each waited on until ready, and their
//! URLs go to the target through its environment. [`RunningServices::stop`] tears them down;
//! after a Ctrl-C, the run's label finds them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{ConfigError, Fixtures, Target, Workload, parse_str};
use crate::images::{self, BaseChoice, BuildOptions, ImageError, Progress};
use crate::runtime::docker::{self, DockerInstance, LABEL_RUN};
use crate::runtime::{self, Instance, Limits, RuntimeError};

/// Label carrying the service name on every service container.
pub const LABEL_SERVICE: &str = "faceoff.service";

const POSTGRES_DOCKERFILE: &str = include_str!("../images/postgres.Dockerfile");
const REDIS_DOCKERFILE: &str = include_str!("../images/redis.Dockerfile");

/// What a service is, which decides how it is built and checked for readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    /// faceoff's PostgreSQL image, seeded at build time.
    Postgres,
    /// An app built like a target from its own directory, ready on `GET /status`.
    App,
    /// faceoff's Redis image (Debian's `redis-server` on the offline base), no persistence;
    /// ready when it answers `PING`.
    Redis,
}

/// Which of the run's limits a service gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitsClass {
    /// `--db-cpuset` and `--db-memory`.
    Database,
    /// The target's own `--cpuset` and `--memory`: a service that is part of the system
    /// under test.
    Server,
}

/// One auxiliary service, as `fixtures/services.toml` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
    pub kind: ServiceKind,
    pub description: String,
    /// The variable the target reads the URL from.
    pub env: String,
    /// The URL, with `{port}`.
    pub url: String,
    /// Postgres: SQL loaded at build time, relative to the repository root.
    pub seed: Option<PathBuf>,
    /// Postgres: the official image used with `--base official`.
    pub official: Option<String>,
    /// Extra variables every target gets beside the URL.
    #[serde(default)]
    pub app_env: BTreeMap<String, String>,
    pub limits: LimitsClass,
    /// App: its directory, relative to the repository root.
    pub app_dir: Option<PathBuf>,
    /// App: its language (base image, lockfile).
    pub language: Option<crate::config::Language>,
    /// App: the start command, `{host}` and `{port}` filled in.
    #[serde(default)]
    pub command: Vec<String>,
}

impl Service {
    /// The URL for a service listening on `port`.
    pub fn url_for(&self, port: u16) -> String {
        self.url_at(&runtime::engines::services_host().to_string(), port)
    }

    /// The URL for a service listening on `host`:`port`: the catalog's URLs name
    /// 127.0.0.1, the address of a services host on the generator's.
    pub fn url_at(&self, host: &str, port: u16) -> String {
        self.url
            .replace("127.0.0.1", host)
            .replace("{port}", &port.to_string())
    }

    /// An app service seen as a target, so it is built exactly like one.
    fn as_target(&self) -> Option<crate::config::Target> {
        Some(crate::config::Target {
            name: self.name.clone(),
            language: self.language?,
            framework: "node:http".into(),
            app_dir: self.app_dir.clone()?,
            server: self.description.clone(),
            command: self.command.clone(),
            services: Vec::new(),
            workloads: Vec::new(),
            chat: None,
            workers: None,
            refuses: Default::default(),
            variant_of: None,
            variant: None,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServicesFile {
    service: Vec<Service>,
}

/// Every service of `fixtures/services.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    pub services: Vec<Service>,
}

impl Catalog {
    /// Loads and validates `fixtures/services.toml` under `root`; without that file there
    /// are no services (a checkout whose workloads need none).
    pub fn load(root: &Path) -> Result<Catalog, ConfigError> {
        let path = root.join("fixtures").join("services.toml");
        if !path.exists() {
            return Ok(Catalog {
                services: Vec::new(),
            });
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let file: ServicesFile = parse_str(&text, &path)?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.clone(),
            message,
        };
        let mut names = std::collections::BTreeSet::new();
        for service in &file.service {
            if !names.insert(service.name.as_str()) {
                return Err(invalid(format!("service `{}` defined twice", service.name)));
            }
            if !service.url.contains("{port}") {
                return Err(invalid(format!(
                    "service `{}`: url must contain {{port}}",
                    service.name
                )));
            }
            if service.kind == ServiceKind::App {
                let complete = service.app_dir.is_some()
                    && service.language.is_some()
                    && !service.command.is_empty();
                if !complete {
                    return Err(invalid(format!(
                        "service `{}`: an app needs app_dir, language and command",
                        service.name
                    )));
                }
                let dir = root.join(service.app_dir.as_deref().unwrap_or(Path::new("")));
                if !dir.join("Dockerfile").is_file() {
                    return Err(invalid(format!(
                        "service `{}`: {} has no Dockerfile",
                        service.name,
                        dir.display()
                    )));
                }
            }
            if service.kind == ServiceKind::Postgres {
                let seed = service.seed.as_ref().ok_or_else(|| {
                    invalid(format!(
                        "service `{}`: a postgres needs `seed`",
                        service.name
                    ))
                })?;
                if !root.join(seed).is_file() {
                    return Err(invalid(format!(
                        "service `{}`: seed {} does not exist",
                        service.name,
                        seed.display()
                    )));
                }
            }
        }
        Ok(Catalog {
            services: file.service,
        })
    }

    /// `services` followed by the ones `targets` run with, each once.
    pub fn with_target_services(
        &self,
        mut services: Vec<Service>,
        targets: &[Target],
    ) -> Result<Vec<Service>, TopologyError> {
        for target in targets {
            for service in self.resolve(&target.name, &target.services)? {
                if !services.contains(&service) {
                    services.push(service);
                }
            }
        }
        Ok(services)
    }

    /// The targets a runtime can run, and a note for each one left out. Targets with
    /// services of their own (the hybrid pair) need containers: the local runtime leaves
    /// them out when none were `named`, and refuses them when they were.
    pub fn targets_for_runtime(
        &self,
        kind: runtime::RuntimeKind,
        targets: Vec<Target>,
        named: bool,
    ) -> Result<(Vec<Target>, Vec<String>), TopologyError> {
        if kind == runtime::RuntimeKind::Docker {
            return Ok((targets, Vec::new()));
        }
        let (mut kept, mut notes) = (Vec::new(), Vec::new());
        for target in targets {
            if target.services.is_empty() {
                kept.push(target);
                continue;
            }
            let services = names(&self.resolve(&target.name, &target.services)?);
            if named {
                return Err(TopologyError::NeedsDocker {
                    workload: target.name.clone(),
                    services,
                });
            }
            notes.push(format!(
                "skipping {}: it runs with {services}, which runs as a container (use --runtime docker)",
                target.name
            ));
        }
        Ok((kept, notes))
    }

    /// The contract workloads `verify` checks (`asked`, or all of `known`) and the services
    /// they need. On the local runtime, which starts no containers, workloads needing a
    /// service are left out with a note when none was asked for, and refused when one was.
    pub fn verify_workloads(
        &self,
        kind: runtime::RuntimeKind,
        fixtures: &Fixtures,
        known: &[&str],
        asked: &[String],
    ) -> Result<VerifyPlan, TopologyError> {
        let wanted: Vec<String> = if asked.is_empty() {
            known.iter().map(|w| w.to_string()).collect()
        } else {
            asked.to_vec()
        };
        let mut plan = VerifyPlan::default();
        let mut kept = Vec::new();
        for name in &wanted {
            let mut needed: Vec<Service> = Vec::new();
            for workload in fixtures
                .workloads
                .iter()
                .filter(|w| w.contract_workload() == name)
            {
                for service in self.for_workload(workload)? {
                    if !needed.contains(&service) {
                        needed.push(service);
                    }
                }
            }
            if !needed.is_empty() && kind != runtime::RuntimeKind::Docker {
                if !asked.is_empty() {
                    return Err(TopologyError::NeedsDocker {
                        workload: name.clone(),
                        services: names(&needed),
                    });
                }
                plan.notes.push(format!(
                    "skipping the {name} cases: they need {}, which runs as a container (use --runtime docker)",
                    names(&needed)
                ));
                continue;
            }
            for service in needed {
                if !plan.services.contains(&service) {
                    plan.services.push(service);
                }
            }
            kept.push(name.clone());
        }
        // An empty list keeps meaning "everything" (the orders concurrency check included).
        plan.workloads = if asked.is_empty() && kept.len() == wanted.len() {
            Vec::new()
        } else {
            kept
        };
        Ok(plan)
    }

    /// The services `workload` needs, in its order; unknown names are an error.
    pub fn for_workload(&self, workload: &Workload) -> Result<Vec<Service>, TopologyError> {
        self.resolve(&workload.name, &workload.services)
    }

    /// The services named by `owner` (a workload or target), in order.
    pub fn resolve(&self, owner: &str, names: &[String]) -> Result<Vec<Service>, TopologyError> {
        names
            .iter()
            .map(|name| {
                self.services
                    .iter()
                    .find(|s| &s.name == name)
                    .cloned()
                    .ok_or_else(|| TopologyError::UnknownService {
                        workload: owner.to_string(),
                        name: name.clone(),
                        known: self
                            .services
                            .iter()
                            .map(|s| s.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            })
            .collect()
    }
}

/// What `verify` checks: the contract workloads (empty: all), the services they need, and
/// a note for each workload left out.
#[derive(Debug, Clone, Default)]
pub struct VerifyPlan {
    pub workloads: Vec<String>,
    pub services: Vec<Service>,
    pub notes: Vec<String>,
}

fn names(services: &[Service]) -> String {
    services
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a service could not be built, started or kept running.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error(
        "`{workload}` needs {services}, which faceoff runs as containers: use --runtime docker (the local runtime starts host processes only)"
    )]
    NeedsDocker { workload: String, services: String },
    #[error(
        "`{workload}` names service `{name}`, which fixtures/services.toml lacks (it has: {known})"
    )]
    UnknownService {
        workload: String,
        name: String,
        known: String,
    },
    #[error(
        "{service} did not become ready within {timeout_s} s ({last}): raise --ready-timeout or check the image; last log lines: {logs}"
    )]
    NotReady {
        service: String,
        timeout_s: u64,
        last: String,
        logs: String,
    },
    #[error("{service} exited with code {code} before it became ready; last log lines: {logs}")]
    Crashed {
        service: String,
        code: i64,
        logs: String,
    },
    #[error(
        "{service} stopped during the run (exit code {code}{oom}); the target's errors after that are counted; last log lines: {logs}"
    )]
    Died {
        service: String,
        code: i64,
        oom: &'static str,
        logs: String,
    },
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Engine(crate::engine::EngineError),
}

// The engine's message is part of this error's own line (targets record errors as one
// line), so it is not also exposed as a source: each cause prints once.
impl From<bollard::errors::Error> for TopologyError {
    fn from(err: bollard::errors::Error) -> Self {
        TopologyError::Engine(err.into())
    }
}

/// What `results.json` records about a service of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServiceRecord {
    pub name: String,
    pub kind: ServiceKind,
    pub image: String,
    pub image_id: String,
    pub base_image: String,
    pub limits: Limits,
    pub memory_limit_enforced: bool,
    /// The variables the target got besides the URL.
    #[serde(default)]
    pub app_env: BTreeMap<String, String>,
}

/// A service with its image built.
#[derive(Debug, Clone)]
pub struct PreparedService {
    pub service: Service,
    pub image: String,
    pub image_id: String,
    pub base_image: String,
}

/// Builds and starts services on a Docker engine.
#[derive(Debug, Clone)]
pub struct Launcher {
    docker: Docker,
    fixtures: Fixtures,
    build: BuildOptions,
    /// The limits of `limits = "database"` services.
    pub database_limits: Limits,
    /// The limits of `limits = "server"` services: the targets' own.
    pub server_limits: Limits,
    /// Whether the services' engine runs on this host (cgroup files readable here).
    local: bool,
}

impl Launcher {
    pub fn new(
        docker: Docker,
        fixtures: Fixtures,
        build: BuildOptions,
        database_limits: Limits,
        server_limits: Limits,
    ) -> Self {
        Launcher {
            docker,
            fixtures,
            build,
            database_limits,
            server_limits,
            local: docker::role_is_local(runtime::engines::Role::Services),
        }
    }

    fn limits_of(&self, service: &Service) -> &Limits {
        match service.limits {
            LimitsClass::Database => &self.database_limits,
            LimitsClass::Server => &self.server_limits,
        }
    }

    /// Builds (or reuses) every service's image.
    pub async fn prepare(
        &self,
        services: &[Service],
        progress: Progress<'_>,
    ) -> Result<Vec<PreparedService>, TopologyError> {
        let mut prepared = Vec::new();
        for service in services {
            prepared.push(match service.kind {
                ServiceKind::Postgres => self.prepare_postgres(service, progress).await?,
                ServiceKind::App => self.prepare_app(service, progress).await?,
                ServiceKind::Redis => self.prepare_redis(service, progress).await?,
            });
        }
        Ok(prepared)
    }

    async fn prepare_app(
        &self,
        service: &Service,
        progress: Progress<'_>,
    ) -> Result<PreparedService, TopologyError> {
        let target = service.as_target().ok_or_else(|| {
            TopologyError::Runtime(RuntimeError::Prepare {
                target: service.name.clone(),
                message: "an app service needs app_dir, language and command".into(),
            })
        })?;
        let image = images::build_app_and_base(
            &self.docker,
            &self.fixtures,
            &target,
            &self.build,
            progress,
        )
        .await?;
        Ok(PreparedService {
            service: service.clone(),
            image: image.tag,
            image_id: image.image_id,
            base_image: image.base_image,
        })
    }

    async fn prepare_postgres(
        &self,
        service: &Service,
        progress: Progress<'_>,
    ) -> Result<PreparedService, TopologyError> {
        let base_image = match self.build.base {
            BaseChoice::Offline => {
                images::ensure_debian(&self.docker, &self.fixtures, &self.build, progress).await?;
                self.fixtures.bases.debian.image.clone()
            }
            BaseChoice::Official => service
                .official
                .clone()
                .unwrap_or_else(|| "postgres:17-bookworm".into()),
        };
        let seed_path = self
            .fixtures
            .root
            .join(service.seed.as_deref().unwrap_or(Path::new("")));
        let seed = std::fs::read(&seed_path).map_err(|source| {
            TopologyError::Runtime(RuntimeError::Io {
                context: format!("reading {}", seed_path.display()),
                cause: source,
            })
        })?;
        let mut hasher = Sha256::new();
        for part in [
            base_image.as_bytes(),
            POSTGRES_DOCKERFILE.as_bytes(),
            seed.as_slice(),
        ] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        let hash: String = hasher
            .finalize()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        let tag = format!("faceoff/{}:{hash}", service.name);
        let image_id = match images::image_id(&self.docker, &tag).await? {
            Some(id) if !self.build.force => {
                progress(&format!("{tag} is up to date"));
                id
            }
            _ => {
                let context = images::tar_files(&[
                    ("Dockerfile", POSTGRES_DOCKERFILE.as_bytes()),
                    ("world.sql", &seed),
                ])?;
                let args = HashMap::from([("BASE_IMAGE".to_string(), base_image.clone())]);
                let labels = HashMap::from([(LABEL_SERVICE, service.name.as_str())]);
                progress(&format!("building {tag} on {base_image}"));
                images::build(&self.docker, &tag, context, &args, &labels, progress).await?
            }
        };
        Ok(PreparedService {
            service: service.clone(),
            image: tag,
            image_id,
            base_image,
        })
    }

    async fn prepare_redis(
        &self,
        service: &Service,
        progress: Progress<'_>,
    ) -> Result<PreparedService, TopologyError> {
        let base_image = match self.build.base {
            BaseChoice::Offline => {
                images::ensure_debian(&self.docker, &self.fixtures, &self.build, progress).await?;
                self.fixtures.bases.debian.image.clone()
            }
            BaseChoice::Official => service
                .official
                .clone()
                .unwrap_or_else(|| "redis:8-bookworm".into()),
        };
        let mut hasher = Sha256::new();
        for part in [base_image.as_bytes(), REDIS_DOCKERFILE.as_bytes()] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        let hash: String = hasher
            .finalize()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        let tag = format!("faceoff/{}:{hash}", service.name);
        let image_id = match images::image_id(&self.docker, &tag).await? {
            Some(id) if !self.build.force => {
                progress(&format!("{tag} is up to date"));
                id
            }
            _ => {
                let context = images::tar_files(&[("Dockerfile", REDIS_DOCKERFILE.as_bytes())])?;
                let args = HashMap::from([("BASE_IMAGE".to_string(), base_image.clone())]);
                let labels = HashMap::from([(LABEL_SERVICE, service.name.as_str())]);
                progress(&format!("building {tag} on {base_image}"));
                images::build(&self.docker, &tag, context, &args, &labels, progress).await?
            }
        };
        Ok(PreparedService {
            service: service.clone(),
            image: tag,
            image_id,
            base_image,
        })
    }

    /// What the results record about these services.
    pub fn records(&self, prepared: &[PreparedService]) -> Vec<ServiceRecord> {
        prepared
            .iter()
            .map(|p| ServiceRecord {
                name: p.service.name.clone(),
                kind: p.service.kind,
                image: p.image.clone(),
                image_id: p.image_id.clone(),
                base_image: p.base_image.clone(),
                limits: self.limits_of(&p.service).clone(),
                memory_limit_enforced: true,
                app_env: p.service.app_env.clone(),
            })
            .collect()
    }

    /// Starts the services in order, each ready before the next; on any failure the ones
    /// already started are stopped again.
    pub async fn start(
        &self,
        prepared: &[PreparedService],
        run_id: &str,
        ready_timeout: Duration,
    ) -> Result<RunningServices, TopologyError> {
        let mut running = RunningServices {
            running: Vec::new(),
        };
        for service in prepared {
            match self.start_one(service, run_id, ready_timeout).await {
                Ok(started) => running.running.push(started),
                Err(err) => {
                    // The start error is the one worth reporting; stopping is best effort.
                    let _ = running.stop().await;
                    return Err(err);
                }
            }
        }
        Ok(running)
    }

    async fn start_one(
        &self,
        prepared: &PreparedService,
        run_id: &str,
        ready_timeout: Duration,
    ) -> Result<RunningService, TopologyError> {
        let service = &prepared.service;
        let port = runtime::pick_free_port()?;
        let labels = HashMap::from([
            (LABEL_RUN.to_string(), run_id.to_string()),
            (LABEL_SERVICE.to_string(), service.name.clone()),
        ]);
        let app = service
            .as_target()
            .filter(|_| service.kind == ServiceKind::App);
        let mut host = HostConfig {
            // PostgreSQL's shared memory; the engine's default 64 MiB is too small for
            // its parallel workers.
            shm_size: Some(256 * 1024 * 1024),
            ..docker::host_config(self.limits_of(service))
        };
        docker::harden(
            &mut host,
            match service.kind {
                ServiceKind::Postgres | ServiceKind::Redis => docker::RootFs::Writable,
                ServiceKind::App => docker::RootFs::ReadOnly,
            },
        );
        // Services listen on the address their host is reached at (127.0.0.1 unless
        // `--services-address` names another).
        let address = runtime::engines::services_host().to_string();
        let body = ContainerCreateBody {
            image: Some(prepared.image.clone()),
            cmd: app
                .as_ref()
                .map(|target| target.command_for(&address, port)),
            env: Some(vec![
                format!("HOST={address}"),
                format!("PORT={port}"),
                format!("FACEOFF_RUN={run_id}"),
            ]),
            labels: Some(labels),
            host_config: Some(host),
            ..Default::default()
        };
        let name = format!("faceoff-{run_id}-{}-{port}", service.name);
        let language = app.map(|target| target.language);
        let instance =
            docker::launch(&self.docker, &name, body, port, language, self.local).await?;
        let started = RunningService {
            service: service.clone(),
            instance,
            port,
            url: service.url_for(port),
        };
        if let Err(err) = wait_ready(&started, ready_timeout).await {
            let _ = started.instance.stop().await;
            return Err(err);
        }
        Ok(started)
    }
}

/// The prepared services one topology runs, in start order: the workload's, then the
/// target's own.
pub fn select(
    prepared: &[PreparedService],
    workload: &[String],
    target: &[String],
) -> Vec<PreparedService> {
    let mut selected: Vec<PreparedService> = Vec::new();
    for name in workload.iter().chain(target) {
        if selected.iter().any(|s| &s.service.name == name) {
            continue;
        }
        if let Some(service) = prepared.iter().find(|s| &s.service.name == name) {
            selected.push(service.clone());
        }
    }
    selected
}

/// The limits of database services: `--db-cpuset` (default: every CPU not in the server's
/// set, or the server's set on a one-CPU host) and `--db-memory`.
pub fn database_limits(
    db_cpuset: Option<&str>,
    memory_bytes: u64,
    server: &Limits,
) -> Result<Limits, RuntimeError> {
    let cpuset = match db_cpuset {
        Some(cpuset) => {
            runtime::parse_cpuset(cpuset)?;
            cpuset.to_string()
        }
        None => {
            let server_cpus = runtime::parse_cpuset(&server.cpuset)?;
            let others: Vec<String> = runtime::cpus_besides(&server_cpus)
                .iter()
                .map(|c| c.to_string())
                .collect();
            if others.is_empty() {
                server.cpuset.clone()
            } else {
                others.join(",")
            }
        }
    };
    Ok(Limits {
        cpuset,
        memory_bytes,
    })
}

/// A launcher for `services` when there are any: they run on the Docker engine, so the local
/// runtime is refused with the fix.
pub async fn launcher_for(
    services: &[Service],
    kind: runtime::RuntimeKind,
    workload: &str,
    fixtures: &Fixtures,
    build: BuildOptions,
    database_limits: Limits,
    server_limits: Limits,
) -> Result<Option<Launcher>, TopologyError> {
    if services.is_empty() {
        return Ok(None);
    }
    if kind != runtime::RuntimeKind::Docker {
        return Err(TopologyError::NeedsDocker {
            workload: workload.to_string(),
            services: services
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let docker = runtime::docker::connect_role(runtime::engines::Role::Services).await?;
    Ok(Some(Launcher::new(
        docker,
        fixtures.clone(),
        build,
        database_limits,
        server_limits,
    )))
}

/// A running service: services run on the Docker engine only (see [`launcher_for`]).
pub type ServiceInstance = DockerInstance;

/// One started service.
#[derive(Clone)]
pub struct RunningService {
    pub service: Service,
    pub instance: DockerInstance,
    pub port: u16,
    pub url: String,
}

/// The services of one trial (or one verified target), to hand to the target and tear down.
pub struct RunningServices {
    running: Vec<RunningService>,
}

impl RunningServices {
    /// The target's extra environment: each service's URL and its `app_env`.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        for running in &self.running {
            env.push((running.service.env.clone(), running.url.clone()));
            env.extend(
                running
                    .service
                    .app_env
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
        env
    }

    /// The URL of the first PostgreSQL, for the rows-read check.
    pub fn database_url(&self) -> Option<&str> {
        self.running
            .iter()
            .find(|r| r.service.kind == ServiceKind::Postgres)
            .map(|r| r.url.as_str())
    }

    pub fn services(&self) -> &[RunningService] {
        &self.running
    }

    /// Handles to sample each service's CPU and memory like a target's, by name.
    pub fn instances(&self) -> Vec<(String, DockerInstance)> {
        self.running
            .iter()
            .map(|r| (r.service.name.clone(), r.instance.clone()))
            .collect()
    }

    /// The first service that is no longer running, as the error to report.
    pub async fn first_stopped(&self) -> Option<TopologyError> {
        for running in &self.running {
            if let Ok(Some(exited)) = running.instance.exited().await {
                return Some(TopologyError::Died {
                    service: running.service.name.clone(),
                    code: exited.code,
                    oom: if exited.oom_killed {
                        ", killed for memory: raise --db-memory"
                    } else {
                        ""
                    },
                    logs: running.instance.logs_tail(runtime::LOG_TAIL_LINES).await,
                });
            }
        }
        None
    }

    /// Stops and removes every service, last started first.
    pub async fn stop(self) -> Result<(), TopologyError> {
        let mut first_error = None;
        for running in self.running.into_iter().rev() {
            if let Err(err) = running.instance.stop().await {
                first_error.get_or_insert(err.into());
            }
        }
        match first_error {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

async fn wait_ready(running: &RunningService, timeout: Duration) -> Result<(), TopologyError> {
    let deadline = Instant::now() + timeout;
    let name = &running.service.name;
    let instance = &running.instance;
    loop {
        if let Some(exited) = instance.exited().await? {
            return Err(TopologyError::Crashed {
                service: name.clone(),
                code: exited.code,
                logs: instance.logs_tail(runtime::LOG_TAIL_LINES).await,
            });
        }
        let last = match running.service.kind {
            ServiceKind::Postgres => match crate::database::check_ready(&running.url).await {
                Ok(()) => return Ok(()),
                Err(err) => err.to_string(),
            },
            ServiceKind::App => {
                match runtime::probe_status_at(runtime::engines::services_host(), running.port)
                    .await
                {
                    Ok(200) => return Ok(()),
                    Ok(code) => format!("GET /status answered {code}"),
                    Err(err) => format!("GET /status: {err}"),
                }
            }
            ServiceKind::Redis => match redis_ping(running.port).await {
                Ok(()) => return Ok(()),
                Err(err) => err,
            },
        };
        if Instant::now() >= deadline {
            return Err(TopologyError::NotReady {
                service: name.clone(),
                timeout_s: timeout.as_secs(),
                last,
                logs: instance.logs_tail(runtime::LOG_TAIL_LINES).await,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether a Redis answers `PING` with `+PONG` on 127.0.0.1:`port`; the error says what it
/// did instead.
async fn redis_ping(port: u16) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect((runtime::engines::services_host(), port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        stream
            .write_all(b"PING\r\n")
            .await
            .map_err(|e| format!("PING: {e}"))?;
        let mut answer = [0u8; 64];
        let read = stream
            .read(&mut answer)
            .await
            .map_err(|e| format!("PING: {e}"))?;
        let answer = String::from_utf8_lossy(&answer[..read]);
        if answer.starts_with("+PONG") {
            Ok(())
        } else {
            Err(format!("PING answered {:?}", answer.trim()))
        }
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .unwrap_or_else(|_| Err("PING: no answer within 2 s".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_services_load_and_postgres_hands_its_url_by_environment() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let catalog = Catalog::load(root).expect("services load");
        let postgres = catalog
            .services
            .iter()
            .find(|s| s.name == "postgres")
            .expect("postgres service");
        assert_eq!(postgres.env, "DATABASE_URL");
        assert_eq!(
            postgres.url_for(5555),
            "postgresql://faceoff:faceoff@127.0.0.1:5555/faceoff"
        );
        assert!(postgres.app_env.contains_key("DB_POOL_SIZE"));
    }

    #[test]
    fn the_local_runtime_leaves_the_hybrid_pair_out_unless_it_is_named() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let fixtures = Fixtures::load(root).unwrap();
        let catalog = Catalog::load(root).unwrap();
        let all = fixtures.select_targets(&[]).unwrap();
        let (kept, notes) = catalog
            .targets_for_runtime(runtime::RuntimeKind::Local, all.clone(), false)
            .unwrap();
        // Both targets with services of their own: the hybrid pair and Channels on Redis.
        assert!(kept.iter().all(|t| t.name != "fastapi-hybrid"));
        assert!(kept.iter().all(|t| t.name != "channels-redis"));
        assert_eq!(kept.len(), all.len() - 2);
        assert!(notes.iter().any(|n| n.contains("realtime")), "{notes:?}");
        assert!(notes.iter().any(|n| n.contains("redis")), "{notes:?}");
        let named = fixtures
            .select_targets(&["fastapi-hybrid".to_string()])
            .unwrap();
        let err = catalog
            .targets_for_runtime(runtime::RuntimeKind::Local, named.clone(), true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--runtime docker"), "{err}");
        let (kept, _) = catalog
            .targets_for_runtime(runtime::RuntimeKind::Docker, named, true)
            .unwrap();
        assert_eq!(kept.len(), 1);
    }

    #[test]
    fn verify_on_the_local_runtime_skips_the_db_cases_unless_they_are_asked_for() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let fixtures = Fixtures::load(root).unwrap();
        let catalog = Catalog::load(root).unwrap();
        let known = ["status", "orders", "db"];
        let plan = catalog
            .verify_workloads(runtime::RuntimeKind::Local, &fixtures, &known, &[])
            .unwrap();
        assert_eq!(plan.workloads, ["status", "orders"]);
        assert!(plan.services.is_empty());
        assert!(plan.notes[0].contains("db"), "{:?}", plan.notes);
        let docker = catalog
            .verify_workloads(runtime::RuntimeKind::Docker, &fixtures, &known, &[])
            .unwrap();
        assert!(docker.workloads.is_empty(), "empty means every workload");
        assert_eq!(docker.services[0].name, "postgres");
        let asked = catalog.verify_workloads(
            runtime::RuntimeKind::Local,
            &fixtures,
            &known,
            &["db".to_string()],
        );
        assert!(asked.unwrap_err().to_string().contains("--runtime docker"));
    }

    #[test]
    fn a_workload_naming_an_unknown_service_is_refused() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let catalog = Catalog::load(root).unwrap();
        let workload = Workload {
            name: "w".into(),
            method: "GET".into(),
            path: "/".into(),
            description: "d".into(),
            body: None,
            setup: None,
            verify: None,
            services: vec!["memcached".into()],
            kind: Default::default(),
            request_timeout: None,
        };
        let err = catalog.for_workload(&workload).unwrap_err().to_string();
        assert!(
            err.contains("memcached") && err.contains("postgres"),
            "{err}"
        );
    }
}
