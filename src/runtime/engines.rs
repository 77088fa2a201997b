//! Which Docker engine each role uses, and at which address each role's host is reached
//! (issue 16: the app, the database and the load generator on separate hosts, as TechEmpower
//! runs them).
//!
//! Two roles run containers: the targets, and the services beside them (PostgreSQL, the
//! realtime service). Each names its engine as the Docker CLI does: a local socket
//! (`unix:///var/run/docker.sock`), `tcp://HOST:PORT` with TLS client certificates (a
//! directory holding `ca.pem`, `cert.pem` and `key.pem`, as `DOCKER_CERT_PATH` does), or
//! `ssh://`, which this build refuses with the way around it (bollard's ssh transport is an
//! optional feature that would bring the `openssh` crate and the `ssh` program; a forwarded
//! socket does the same). The load generator always runs where faceoff runs.
//!
//! Addresses are never guessed: targets listen on 127.0.0.1 unless the user names another
//! address with `--target-address`, and services are reached at 127.0.0.1 unless the user
//! names `--services-address`. An engine on another host with no address named is refused
//! before anything starts, since its 127.0.0.1 is not ours.
//!
//! The settings are set once per process by the command line ([`configure`]), like the
//! engine call limit, so every mechanism that talks to an engine or a target finds them.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

/// The socket an engine on this host listens on when nothing else is named.
pub const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";

/// The client certificate files a TLS engine needs, as the Docker CLI names them.
pub const CERT_FILES: [&str; 3] = ["ca.pem", "cert.pem", "key.pem"];

/// A role that runs containers on an engine.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Targets,
    Services,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Targets => "targets",
            Role::Services => "services",
        }
    }

    /// The flag naming this role's engine.
    pub fn engine_flag(self) -> &'static str {
        match self {
            Role::Targets => "--target-engine",
            Role::Services => "--services-engine",
        }
    }

    /// The flag naming this role's client certificates.
    pub fn certs_flag(self) -> &'static str {
        match self {
            Role::Targets => "--target-engine-certs",
            Role::Services => "--services-engine-certs",
        }
    }

    /// The flag naming the address this role's host is reached at.
    pub fn address_flag(self) -> &'static str {
        match self {
            Role::Targets => "--target-address",
            Role::Services => "--services-address",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// How faceoff reaches an engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    /// A Unix socket on this host (possibly forwarded from another: see [`EngineSpec::local`]).
    Unix(PathBuf),
    /// TCP; with TLS when `certs` names the client certificates' directory. Plain TCP is
    /// accepted on a loopback address only (a socket proxy on this host).
    Tcp {
        address: String,
        certs: Option<PathBuf>,
    },
}

/// One role's engine, parsed and checked, not yet connected.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSpec {
    pub role: Role,
    /// As the user (or `DOCKER_HOST`) gave it.
    pub endpoint: String,
    pub transport: Transport,
}

impl EngineSpec {
    /// Whether the engine's containers run on this host, so that their cgroup files can be
    /// read here: a Unix socket, or TCP to a loopback address. A socket forwarded from
    /// another host passes this test; its cgroup files are then not found and sampling falls
    /// back to the engine's stats API on its own.
    pub fn local(&self) -> bool {
        match &self.transport {
            Transport::Unix(_) => true,
            Transport::Tcp { address, .. } => host_of(address).is_some_and(|h| h.is_loopback()),
        }
    }

    /// The fix for an engine that did not answer, in the user's terms.
    pub fn fix(&self) -> String {
        let flag = self.role.engine_flag();
        match &self.transport {
            Transport::Unix(_) => format!(
                "start it (as root: `dockerd >/var/log/dockerd.log 2>&1 &`), pass {flag} naming a running engine, or run on the host with --runtime local"
            ),
            Transport::Tcp {
                certs: Some(dir), ..
            } => format!(
                "check that the engine runs with --tlsverify, that it trusts the client certificate in {} and that {} is its CA ({})",
                dir.display(),
                dir.join("ca.pem").display(),
                self.role.certs_flag()
            ),
            Transport::Tcp { certs: None, .. } => format!(
                "check that the engine listens there, or pass {flag} naming a running engine"
            ),
        }
    }
}

/// The host part of `tcp://HOST:PORT`, when it is an IP address.
fn host_of(address: &str) -> Option<IpAddr> {
    let rest = address.strip_prefix("tcp://").unwrap_or(address);
    let rest = rest.split('/').next().unwrap_or(rest);
    if let Ok(socket) = rest.parse::<std::net::SocketAddr>() {
        return Some(socket.ip());
    }
    let host = rest.rsplit_once(':').map(|(h, _)| h).unwrap_or(rest);
    if host == "localhost" {
        return Some(IpAddr::from([127, 0, 0, 1]));
    }
    host.trim_matches(['[', ']']).parse().ok()
}

/// Why a role's engine cannot even be tried.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineSetupError {
    #[error(
        "the {role} engine `{endpoint}` is not an engine address: use unix:///path/docker.sock, tcp://HOST:PORT (with TLS certificates) or ssh://USER@HOST ({flag})"
    )]
    Unrecognised {
        role: Role,
        endpoint: String,
        flag: &'static str,
    },
    #[error(
        "the {role} engine `{endpoint}`: ssh:// needs bollard's ssh transport, which this faceoff is built without: forward the engine's socket (`ssh -NL /tmp/{role}-docker.sock:/var/run/docker.sock USER@HOST`) and pass {flag} unix:///tmp/{role}-docker.sock"
    )]
    Ssh {
        role: Role,
        endpoint: String,
        flag: &'static str,
    },
    #[error(
        "the {role} engine `{endpoint}` is on another host and needs TLS: pass {flag} DIR holding ca.pem, cert.pem and key.pem (as DOCKER_CERT_PATH does)"
    )]
    NeedsTls {
        role: Role,
        endpoint: String,
        flag: &'static str,
    },
    #[error(
        "the {role} engine `{endpoint}`: {} is missing: {flag} DIR must hold ca.pem, cert.pem and key.pem",
        path.display()
    )]
    MissingCert {
        role: Role,
        endpoint: String,
        path: PathBuf,
        flag: &'static str,
    },
    #[error(
        "the {role} engine `{endpoint}` runs on another host ({hostname}): name the address its {role} are reached at with {flag} ADDRESS (faceoff never guesses one)"
    )]
    NeedsAddress {
        role: Role,
        endpoint: String,
        hostname: String,
        flag: &'static str,
    },
}

/// Parses a role's engine. `given` is the flag's value; without it the targets use
/// `DOCKER_HOST` (or the local socket) and the services use the targets' engine (`None`).
/// `env` reads the environment (a parameter so tests need not change the process's).
pub fn parse(
    role: Role,
    given: Option<&str>,
    certs: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<EngineSpec>, EngineSetupError> {
    let endpoint = match (given, role) {
        (Some(given), _) => given.to_string(),
        (None, Role::Services) => return Ok(None),
        (None, Role::Targets) => env("DOCKER_HOST")
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| DEFAULT_SOCKET.to_string()),
    };
    let transport = if let Some(path) = endpoint.strip_prefix("unix://") {
        Transport::Unix(PathBuf::from(path))
    } else if endpoint.starts_with('/') {
        Transport::Unix(PathBuf::from(&endpoint))
    } else if endpoint.starts_with("tcp://") {
        // As the Docker CLI: the role's own directory, else DOCKER_CERT_PATH, else
        // ~/.docker when DOCKER_TLS_VERIFY asks for TLS.
        let certs = certs.map(Path::to_path_buf).or_else(|| {
            env("DOCKER_CERT_PATH")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .or_else(|| {
                    env("DOCKER_TLS_VERIFY")
                        .filter(|v| !v.is_empty())
                        .and_then(|_| env("HOME"))
                        .map(|home| Path::new(&home).join(".docker"))
                })
        });
        match &certs {
            Some(dir) => {
                for file in CERT_FILES {
                    let path = dir.join(file);
                    if !path.is_file() {
                        return Err(EngineSetupError::MissingCert {
                            role,
                            endpoint,
                            path,
                            flag: role.certs_flag(),
                        });
                    }
                }
            }
            // Unauthenticated TCP only to a proxy on this host.
            None if !host_of(&endpoint).is_some_and(|h| h.is_loopback()) => {
                return Err(EngineSetupError::NeedsTls {
                    role,
                    endpoint,
                    flag: role.certs_flag(),
                });
            }
            None => {}
        }
        Transport::Tcp {
            address: endpoint.clone(),
            certs,
        }
    } else if endpoint.starts_with("ssh://") {
        return Err(EngineSetupError::Ssh {
            role,
            endpoint,
            flag: role.engine_flag(),
        });
    } else {
        return Err(EngineSetupError::Unrecognised {
            role,
            endpoint,
            flag: role.engine_flag(),
        });
    };
    Ok(Some(EngineSpec {
        role,
        endpoint,
        transport,
    }))
}

/// The engines and addresses of this process.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Engines {
    /// `None`: `DOCKER_HOST` or the local socket, read when first asked.
    pub targets: Option<EngineSpec>,
    /// `None`: the targets' engine.
    pub services: Option<EngineSpec>,
    /// `--target-address`: where the targets listen and the generator sends load.
    pub target_address: Option<IpAddr>,
    /// `--services-address`: where the targets (and faceoff's checks) reach the services.
    pub services_address: Option<IpAddr>,
}

static ENGINES: RwLock<Option<Engines>> = RwLock::new(None);

/// Sets the engines and addresses of this process (from the command line).
pub fn configure(engines: Engines) {
    crate::engine::set_endpoint(engines.targets.as_ref().map(|spec| spec.endpoint.clone()));
    if let Ok(mut slot) = ENGINES.write() {
        *slot = Some(engines);
    }
}

fn current() -> Engines {
    ENGINES
        .read()
        .ok()
        .and_then(|e| e.clone())
        .unwrap_or_default()
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The engine of `role`: the services fall back to the targets' engine, which falls back
/// to `DOCKER_HOST` or the local socket.
pub fn spec(role: Role) -> Result<EngineSpec, EngineSetupError> {
    let engines = current();
    let targets = match engines.targets {
        Some(spec) => spec,
        None => parse(Role::Targets, None, None, &process_env)?
            .expect("the targets always have an engine"),
    };
    Ok(match role {
        Role::Targets => targets,
        Role::Services => engines.services.unwrap_or(EngineSpec {
            role: Role::Services,
            ..targets
        }),
    })
}

/// Whether the user named an engine for the services apart from the targets'.
pub fn services_apart() -> bool {
    current().services.is_some()
}

/// Whether any engine or address flag was given: the run then records its layout.
pub fn configured() -> bool {
    current() != Engines::default()
}

/// The address the targets listen on and the generator sends load to: `--target-address`,
/// or 127.0.0.1.
pub fn target_host() -> IpAddr {
    current()
        .target_address
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// The address the targets reach the services at: `--services-address`, or 127.0.0.1.
pub fn services_host() -> IpAddr {
    current()
        .services_address
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// Whether the user named the address of `role`'s host.
pub fn address_named(role: Role) -> bool {
    let engines = current();
    match role {
        Role::Targets => engines.target_address.is_some(),
        Role::Services => engines.services_address.is_some(),
    }
}

/// This host's name, to tell whether an engine runs here.
pub fn this_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Refuses an engine that runs on another host (its own hostname differs from ours) when
/// no address was named for its role: its 127.0.0.1 is not ours, and faceoff never guesses.
pub fn check_address(spec: &EngineSpec, engine_hostname: &str) -> Result<(), EngineSetupError> {
    let elsewhere = !engine_hostname.is_empty() && engine_hostname != this_hostname();
    if elsewhere && !address_named(spec.role) {
        return Err(EngineSetupError::NeedsAddress {
            role: spec.role,
            endpoint: spec.endpoint.clone(),
            hostname: engine_hostname.to_string(),
            flag: spec.role.address_flag(),
        });
    }
    Ok(())
}

/// Where one role ran, for the manifest: its engine's facts and the address it was
/// reached at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoleHost {
    pub role: Role,
    /// The engine's own facts: endpoint, version, kernel, CPUs, memory, cgroup.
    pub engine: super::docker::EngineInfo,
    /// The engine's host name.
    pub hostname: String,
    /// The address the role was reached at.
    pub address: String,
    /// How CPU and memory were sampled there: `cgroup files` (read on this host, exact
    /// counters) or `engine stats API` (one call per sample over the engine's connection).
    pub sampling: String,
}

/// Which roles shared a host: part of a run's parameters, so that `merge` and `compare`
/// keep runs laid out differently apart. Absent when no engine or address flag was given
/// (everything on the one engine faceoff runs beside).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Layout {
    /// `generator host` (the engine runs where faceoff runs) or `own host`.
    pub targets: String,
    /// `targets' engine`, `generator host` or `own host`.
    pub services: String,
    pub target_address: String,
    pub services_address: String,
}

/// Where `spec`'s engine runs, in the layout's words.
pub fn placement(spec: &EngineSpec) -> &'static str {
    if spec.local() {
        "generator host"
    } else {
        "own host"
    }
}

/// The layout of this process's roles.
pub fn layout() -> Option<Layout> {
    if !configured() {
        return None;
    }
    let targets = spec(Role::Targets).ok()?;
    let services = if services_apart() {
        placement(&spec(Role::Services).ok()?).to_string()
    } else {
        "targets' engine".to_string()
    };
    Some(Layout {
        targets: placement(&targets).to_string(),
        services,
        target_address: target_host().to_string(),
        services_address: services_host().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn certs_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for file in CERT_FILES {
            std::fs::write(dir.path().join(file), "x").unwrap();
        }
        dir
    }

    #[test]
    fn without_flags_the_targets_use_docker_host_and_the_services_follow() {
        let env = |name: &str| (name == "DOCKER_HOST").then(|| "unix:///tmp/d.sock".to_string());
        let targets = parse(Role::Targets, None, None, &env).unwrap().unwrap();
        assert_eq!(targets.transport, Transport::Unix("/tmp/d.sock".into()));
        assert!(targets.local());
        assert_eq!(parse(Role::Services, None, None, &env).unwrap(), None);
        let default = parse(Role::Targets, None, None, &no_env).unwrap().unwrap();
        assert_eq!(default.endpoint, DEFAULT_SOCKET);
    }

    #[test]
    fn a_remote_tcp_engine_without_certificates_is_refused_naming_the_role_flag() {
        let err = parse(Role::Services, Some("tcp://10.0.0.5:2376"), None, &no_env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("the services engine `tcp://10.0.0.5:2376`"),
            "{err}"
        );
        assert!(err.contains("--services-engine-certs DIR"), "{err}");
        assert_eq!(err.lines().count(), 1);
    }

    #[test]
    fn a_missing_certificate_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), "x").unwrap();
        let err = parse(
            Role::Targets,
            Some("tcp://10.0.0.5:2376"),
            Some(dir.path()),
            &no_env,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("cert.pem is missing"), "{err}");
        assert!(err.contains("--target-engine-certs"), "{err}");
    }

    #[test]
    fn certificates_come_from_the_role_flag_before_docker_cert_path() {
        let own = certs_dir();
        let shared = certs_dir();
        let shared_path = shared.path().display().to_string();
        let env = move |name: &str| (name == "DOCKER_CERT_PATH").then(|| shared_path.clone());
        let spec = parse(
            Role::Targets,
            Some("tcp://10.0.0.5:2376"),
            Some(own.path()),
            &env,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            spec.transport,
            Transport::Tcp {
                address: "tcp://10.0.0.5:2376".into(),
                certs: Some(own.path().to_path_buf())
            }
        );
        assert!(!spec.local());
        let from_env = parse(Role::Services, Some("tcp://10.0.0.5:2376"), None, &env)
            .unwrap()
            .unwrap();
        assert!(
            matches!(from_env.transport, Transport::Tcp { certs: Some(d), .. } if d == shared.path())
        );
    }

    #[test]
    fn plain_tcp_is_accepted_on_loopback_only() {
        let spec = parse(Role::Targets, Some("tcp://127.0.0.1:2375"), None, &no_env)
            .unwrap()
            .unwrap();
        assert!(spec.local());
    }

    #[test]
    fn ssh_engines_are_refused_with_the_forwarding_fix() {
        let err = parse(Role::Targets, Some("ssh://me@db1"), None, &no_env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("ssh -NL /tmp/targets-docker.sock"), "{err}");
        assert!(
            err.contains("--target-engine unix:///tmp/targets-docker.sock"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_scheme_is_refused() {
        let err = parse(Role::Targets, Some("http://x"), None, &no_env).unwrap_err();
        assert!(matches!(err, EngineSetupError::Unrecognised { .. }));
    }
}
