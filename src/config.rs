//! Loading and validating `fixtures/`: the targets, the base images and the workloads.
//!
//! Everything here is plain data parsed at the edge; the rest of faceoff trusts these types.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why the fixtures could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The TOML parser's message names the line, column and field.
    #[error("malformed {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("unknown target `{name}`; known targets: {known}")]
    UnknownTarget { name: String, known: String },
    #[error(
        "unknown {language} version `{version}`; versions with a base image (fixtures/bases.toml): {known}"
    )]
    UnknownVersion {
        language: Language,
        version: String,
        known: String,
    },
    #[error("unknown workload `{name}`; known workloads: {known}")]
    UnknownWorkload { name: String, known: String },
    #[error("unknown profile `{name}`; known profiles: {known}")]
    UnknownProfile { name: String, known: String },
    #[error("target `{target}` does not serve workload `{workload}`; targets that do: {serving}")]
    WorkloadNotServed {
        target: String,
        workload: String,
        serving: String,
    },
    #[error("target `{target}` does not serve workload `{workload}`: {reason}")]
    WorkloadRefused {
        target: String,
        workload: String,
        reason: String,
    },
    #[error(
        "no faceoff checkout found from {start} upwards (looked for fixtures/targets.toml): run faceoff inside the repository or pass --root DIR"
    )]
    NoRoot { start: PathBuf },
    #[error(
        "{dir} is incomplete: {missing} missing; restore it (`git checkout -- fixtures`) or pass --root DIR of a complete checkout"
    )]
    Incomplete { dir: PathBuf, missing: String },
}

/// The fixture files every command reads; a `fixtures/` holding some but not all of them is
/// refused rather than silently passed over for another checkout's.
pub const REQUIRED_FIXTURES: &[&str] = &[
    "targets.toml",
    "workloads.toml",
    "bases.toml",
    "profiles.toml",
];

/// Fixture files read only by the commands that need them. With the required ones they
/// tell a faceoff `fixtures/` from another project's directory of the same name.
const OTHER_FIXTURES: &[&str] = &["contract.toml", "claims.toml", "services.toml"];

/// Where the checkout whose fixtures a command uses came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RootOrigin {
    /// `--root DIR` or `FACEOFF_ROOT`.
    Given,
    /// The first checkout from the current directory upwards.
    CurrentDirectory,
    /// None was found from the current directory upwards: the checkout this binary was
    /// built from.
    BuiltFrom,
}

/// The checkout a command takes its fixtures and apps from, and how it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FixturesRoot {
    pub path: PathBuf,
    pub origin: RootOrigin,
}

impl fmt::Display for FixturesRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = match self.origin {
            RootOrigin::Given => "given by --root",
            RootOrigin::CurrentDirectory => "found from the current directory",
            RootOrigin::BuiltFrom => {
                "the checkout faceoff was built from: none found from the current directory upwards"
            }
        };
        write!(f, "{} ({how})", self.path.join("fixtures").display())
    }
}

/// The required fixture files missing from `root/fixtures`, and whether any faceoff fixture
/// file is there at all.
fn fixture_files(root: &Path) -> (Vec<&'static str>, bool) {
    let dir = root.join("fixtures");
    let missing: Vec<&str> = REQUIRED_FIXTURES
        .iter()
        .copied()
        .filter(|name| !dir.join(name).is_file())
        .collect();
    let any = REQUIRED_FIXTURES
        .iter()
        .chain(OTHER_FIXTURES)
        .any(|name| dir.join(name).is_file());
    (missing, any)
}

fn complete(root: &Path) -> Result<(), ConfigError> {
    let (missing, _) = fixture_files(root);
    if missing.is_empty() {
        return Ok(());
    }
    Err(ConfigError::Incomplete {
        dir: root.join("fixtures"),
        missing: missing.join(", "),
    })
}

/// The language an app is written in: decides its base image and dependency installer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Node,
    Python,
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Language::Node => "node",
            Language::Python => "python",
        })
    }
}

/// One server under test, as described in `fixtures/targets.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub name: String,
    pub language: Language,
    pub framework: String,
    pub app_dir: PathBuf,
    pub server: String,
    pub command: Vec<String>,
    /// Auxiliary services (fixtures/services.toml) this target runs with, after the
    /// workload's: the hybrid pair's Node realtime service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// The workloads this target serves; empty means every HTTP workload (the shared
    /// contract's apps). A chat server lists `["chat"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<String>,
    /// Where and how a chat target speaks the chat protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<ChatEndpoint>,
    /// A fixed worker count for a command with `{workers}`; after
    /// [`Target::resolve_workers`], the count the run uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u32>,
    /// Workloads this target does not serve, each with the one-line reason faceoff gives
    /// when asked for it (a multi-process variant and the in-memory orders inventory).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub refuses: std::collections::BTreeMap<String, String>,
    /// The target whose app this one runs under another server setup (a multi-core
    /// variant). Variants run only when named: "all targets" means the others, so default
    /// runs, CI matrices and claim plans keep their size and nothing is silently swapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_of: Option<String>,
    /// Set on a version variant (`express@node20`, made by [`Fixtures::version_variants`]),
    /// never read from targets.toml: which target it is a variant of and on which runtime
    /// version.
    #[serde(skip)]
    pub variant: Option<RuntimeVariant>,
}

/// A target run on one runtime version of its language: `express@node20` is `express` on
/// the Node 20 base. Recorded in each variant's results, so a report can set the variants
/// of one version side by side (`analysis::versions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RuntimeVariant {
    /// The target of targets.toml this is a variant of.
    pub of: String,
    /// `node` or `python`.
    pub runtime: String,
    /// The version as the flag gave it: `20`, `3.11`.
    pub version: String,
}

impl RuntimeVariant {
    /// The name's suffix: `node20`, `py3.11`.
    pub fn suffix(&self) -> String {
        variant_suffix(&self.runtime, &self.version)
    }
}

fn variant_suffix(runtime: &str, version: &str) -> String {
    match runtime {
        "python" => format!("py{version}"),
        other => format!("{other}{version}"),
    }
}

/// `targets` with their worker counts filled in (see [`Target::resolve_workers`]).
pub fn with_workers(
    mut targets: Vec<Target>,
    server_cpus: usize,
    asked: Option<u32>,
) -> Vec<Target> {
    for target in &mut targets {
        target.resolve_workers(server_cpus, asked);
    }
    targets
}

/// The placeholder a multi-process target's command holds for its worker count.
pub const WORKERS_PLACEHOLDER: &str = "{workers}";

impl Target {
    /// Whether this target serves `workload`: the ones it lists, else every HTTP workload.
    pub fn serves(&self, workload: &Workload) -> bool {
        if self.refusal(workload).is_some() {
            return false;
        }
        if self.workloads.is_empty() {
            workload.kind == WorkloadKind::Http
        } else {
            self.workloads.contains(&workload.name)
        }
    }

    /// Why this target does not serve `workload` (or the contract workload it is checked
    /// by), when it refuses it.
    pub fn refusal(&self, workload: &Workload) -> Option<&str> {
        self.refuses
            .get(&workload.name)
            .or_else(|| self.refuses.get(workload.contract_workload()))
            .map(String::as_str)
    }

    /// Whether the command runs a worker count faceoff chooses (`{workers}`).
    pub fn has_workers(&self) -> bool {
        self.command
            .iter()
            .any(|arg| arg.contains(WORKERS_PLACEHOLDER))
    }

    /// Fills `{workers}` in the command and the server description: `asked` (`--workers`),
    /// else the target's own `workers`, else one per CPU of the server's cpuset
    /// (`server_cpus`), and records the count in `workers`. A target without `{workers}` is
    /// left as it is (its `workers` stays unset: one process, or a count it fixes itself).
    pub fn resolve_workers(&mut self, server_cpus: usize, asked: Option<u32>) {
        if !self.has_workers() {
            return;
        }
        let n = asked
            .or(self.workers)
            .unwrap_or(u32::try_from(server_cpus.max(1)).unwrap_or(u32::MAX));
        let fill = |text: &str| text.replace(WORKERS_PLACEHOLDER, &n.to_string());
        self.command = self.command.iter().map(|arg| fill(arg)).collect();
        self.server = fill(&self.server);
        self.workers = Some(n);
    }

    /// The start command with `{host}` and `{port}` filled in.
    pub fn command_for(&self, host: &str, port: u16) -> Vec<String> {
        self.command
            .iter()
            .map(|arg| {
                arg.replace("{host}", host)
                    .replace("{port}", &port.to_string())
            })
            .collect()
    }

    /// The name as Docker accepts it in an image or container name: a variant's `@` becomes
    /// `-` (`express@node20` → `express-node20`).
    pub fn slug(&self) -> String {
        self.name.replace('@', "-")
    }

    /// The lockfile that pins this app's dependencies.
    pub fn lockfile_name(&self) -> &'static str {
        match self.language {
            Language::Node => "package-lock.json",
            Language::Python => "requirements.lock",
        }
    }
}

/// What drives a workload: HTTP requests, or WebSocket chat connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// Every connection repeats one HTTP request.
    #[default]
    Http,
    /// Seed 001's chat over WebSockets (`src/chat`); method and path are unused.
    Chat,
}

/// One kind of request every connection repeats during a load run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub name: String,
    /// HTTP (the default) or chat.
    #[serde(default)]
    pub kind: WorkloadKind,
    /// Required for HTTP workloads.
    #[serde(default)]
    pub method: String,
    /// Required for HTTP workloads.
    #[serde(default)]
    pub path: String,
    pub description: String,
    /// Sent as JSON with every request.
    pub body: Option<serde_json::Value>,
    /// Sent once before the load.
    pub setup: Option<SetupRequest>,
    /// The contract workload whose cases gate this one [default: the name].
    pub verify: Option<String>,
    /// Auxiliary services (fixtures/services.toml) started before the target, in order.
    #[serde(default)]
    pub services: Vec<String>,
    /// The least per-request timeout a run uses, for requests slow on purpose
    /// (`--request-timeout` can raise it, not lower it).
    #[serde(default, with = "optional_duration_text")]
    pub request_timeout: Option<Duration>,
}

impl Workload {
    /// The contract workload verified before this one is timed.
    pub fn contract_workload(&self) -> &str {
        self.verify.as_deref().unwrap_or(&self.name)
    }

    /// The per-request timeout of a run: `asked`, or the workload's own if that is longer.
    pub fn request_timeout_or(&self, asked: Duration) -> Duration {
        self.request_timeout.map_or(asked, |own| own.max(asked))
    }

    /// The body every request carries, serialized.
    pub fn body_bytes(&self) -> Option<Vec<u8>> {
        self.body.as_ref().map(|body| body.to_string().into_bytes())
    }
}

/// A request sent once before a load run (e.g. to restock the inventory).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    pub method: String,
    pub path: String,
    pub body: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DebianBase {
    pub image: String,
    pub suite: String,
    pub variant: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeBase {
    pub image: String,
    pub official: String,
    pub node_package: String,
    pub node_version: String,
    pub npm_version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PythonBase {
    pub image: String,
    pub official: String,
    /// The CPython minor version the packages bring (`3.13`): what a run records as pinned.
    pub version: String,
    pub packages: Vec<String>,
}

/// A base image for another runtime version than the pinned one (`[[variant]]` in
/// `fixtures/bases.toml`), for `faceoff run --node 20 --python 3.11`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BaseVariant {
    pub language: Language,
    /// The version the flags name: a Node major (`20`), a CPython minor (`3.11`).
    pub version: String,
    pub image: String,
    pub official: String,
    /// Node: the exact version of the `node_package` npm package.
    #[serde(default)]
    pub node_version: Option<String>,
    /// Python: the Debian suite whose `python3` is this version (`bookworm` for 3.11).
    #[serde(default)]
    pub suite: Option<String>,
}

/// The base images, from `fixtures/bases.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Bases {
    pub debian: DebianBase,
    pub node: NodeBase,
    pub python: PythonBase,
    /// Other runtime versions; the pinned ones above stay the default.
    #[serde(default)]
    pub variant: Vec<BaseVariant>,
}

impl Bases {
    /// The runtime versions the containers pin, by language name: what a run records, so a
    /// run on other versions can say so (`results::versions`).
    pub fn pinned_versions(&self) -> std::collections::BTreeMap<String, String> {
        [
            (Language::Node, self.node.node_version.clone()),
            (Language::Python, self.python.version.clone()),
        ]
        .into_iter()
        .map(|(language, version)| (language.to_string(), version))
        .collect()
    }

    /// The pinned version of `language` as the version flags name it: `24`, `3.13`.
    pub fn pinned_short(&self, language: Language) -> String {
        match language {
            Language::Node => self
                .node
                .node_version
                .split('.')
                .next()
                .unwrap_or_default()
                .to_string(),
            Language::Python => self.python.version.clone(),
        }
    }

    /// Every version `--node` / `--python` accepts for `language`, the pinned one included,
    /// oldest first.
    pub fn versions(&self, language: Language) -> Vec<String> {
        let mut versions: Vec<String> = self
            .variant
            .iter()
            .filter(|v| v.language == language)
            .map(|v| v.version.clone())
            .chain(std::iter::once(self.pinned_short(language)))
            .collect();
        versions.sort_by_key(|v| version_key(v));
        versions.dedup();
        versions
    }

    /// The `[[variant]]` of `language` at `version`; `None` for the pinned version.
    pub fn variant(&self, language: Language, version: &str) -> Option<&BaseVariant> {
        if version == self.pinned_short(language) {
            return None;
        }
        self.variant
            .iter()
            .find(|v| v.language == language && v.version == version)
    }

    /// The variant base a target builds on, if it is a version variant off the pinned one.
    pub fn variant_of(&self, target: &Target) -> Option<&BaseVariant> {
        let variant = target.variant.as_ref()?;
        self.variant(target.language, &variant.version)
    }

    /// The offline base image `target` builds on: its version's, else its language's.
    pub fn image_for_target(&self, target: &Target) -> &str {
        match self.variant_of(target) {
            Some(variant) => &variant.image,
            None => self.image_for(target.language),
        }
    }

    /// The official image `target` defaults to where a registry answers.
    pub fn official_for_target(&self, target: &Target) -> &str {
        match self.variant_of(target) {
            Some(variant) => &variant.official,
            None => self.official_for(target.language),
        }
    }

    /// The offline base image an app of this language builds on.
    pub fn image_for(&self, language: Language) -> &str {
        match language {
            Language::Node => &self.node.image,
            Language::Python => &self.python.image,
        }
    }

    /// The official image the Dockerfiles default to where a registry answers.
    pub fn official_for(&self, language: Language) -> &str {
        match language {
            Language::Node => &self.node.official,
            Language::Python => &self.python.official,
        }
    }
}

/// How a profile drives load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadMode {
    /// Fixed connections, each sending its next request when the last answered.
    Closed,
    /// Constant arrival rate; latency from the intended send time.
    Open,
    /// Open loop at increasing rates until p99 or errors break a limit.
    Sweep,
    /// Chat: open WebSocket connections in `steps`, all joined to rooms, until they fail.
    Capacity,
    /// Chat: one sender per room, latency from send to every receiver.
    Fanout,
    /// The closed loop at server cpusets of `steps` CPUs (1, 2, 4 …) as far as the host
    /// allows, the generator on CPUs of its own: a scalability curve.
    Scaling,
    /// No load: each trial starts the target, times it to its first 200 on `/status`, reads
    /// its idle memory and stops it (cold starts, repeated once per trial).
    #[serde(rename = "cold-start")]
    ColdStart,
    /// Closed loop on the run's workload while a few more connections repeat another
    /// request, each kind measured apart, in one window per entry of the profile's `sides`
    /// after one without (seed 002's event-loop blocking).
    Mixed,
}

/// A named load profile from `fixtures/profiles.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub mode: LoadMode,
    pub connections: u32,
    #[serde(with = "duration_text")]
    pub duration: Duration,
    #[serde(with = "duration_text")]
    pub warmup: Duration,
    pub max_requests: Option<u64>,
    pub rate: Option<f64>,
    #[serde(default)]
    pub rates: Vec<f64>,
    pub p99_limit_ms: Option<f64>,
    pub error_limit: Option<f64>,
    /// capacity: connection counts to reach, in order (bounded by `connections`); scaling:
    /// the server CPU counts to measure.
    #[serde(default)]
    pub steps: Vec<u32>,
    /// capacity, fanout: connections per chat room.
    pub room_size: Option<u32>,
    /// capacity: how long each step is held before the server's memory is read.
    #[serde(default, with = "optional_duration_text")]
    pub hold: Option<Duration>,
    /// Trials per target when `--trials` is not given (long ramps and sweeps set 1).
    #[serde(default)]
    pub trials: Option<u32>,
    /// HTTP load: keep connections open between requests (the default); `false` opens a
    /// new connection for every request, as Apache Bench does without `-k`.
    #[serde(default = "keep_alive_default")]
    pub keep_alive: bool,
    /// mixed: the workloads the few side connections repeat, one window each, in order
    /// (the first on the server's own thread, the second offloaded).
    #[serde(default)]
    pub sides: Vec<String>,
    /// mixed: how many side connections, besides `connections`.
    #[serde(default)]
    pub side_connections: Option<u32>,
}

fn keep_alive_default() -> bool {
    true
}

/// Trials per target when neither `--trials` nor the profile says.
pub const DEFAULT_TRIALS: u32 = 5;

impl Profile {
    /// The trials to run: `--trials` if given, else the profile's, else [`DEFAULT_TRIALS`].
    pub fn trials_or(&self, asked: Option<u32>) -> u32 {
        asked.or(self.trials).unwrap_or(DEFAULT_TRIALS)
    }
}

/// Optional durations written as text in fixtures.
mod optional_duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => super::duration_text::serialize(value, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|t| super::parse_duration(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Durations written as text (`10s`, `500ms`) in fixtures.
mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{}ms", value.as_millis()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// Parses `10s`, `500ms`, `2m`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .ok_or_else(|| format!("`{text}` needs a unit: ms, s, m or h (e.g. 10s)"))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 10s, 500ms)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}`: use ms, s, m or h"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{text}` is out of range"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfilesFile {
    profile: Vec<Profile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsFile {
    target: Vec<Target>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadsFile {
    workload: Vec<Workload>,
}

/// Everything in `fixtures/`, validated.
#[derive(Debug, Clone)]
pub struct Fixtures {
    /// The repository root: app directories are relative to it.
    pub root: PathBuf,
    /// How that root was found.
    pub origin: RootOrigin,
    pub targets: Vec<Target>,
    pub workloads: Vec<Workload>,
    pub profiles: Vec<Profile>,
    pub bases: Bases,
}

impl Fixtures {
    /// Loads and validates the fixtures under `root`.
    pub fn load(root: &Path) -> Result<Self, ConfigError> {
        let fixtures = root.join("fixtures");
        let targets_path = fixtures.join("targets.toml");
        let targets: TargetsFile = parse_file(&targets_path)?;
        let workloads: WorkloadsFile = parse_file(&fixtures.join("workloads.toml"))?;
        let bases: Bases = parse_file(&fixtures.join("bases.toml"))?;
        let profiles: ProfilesFile = parse_file(&fixtures.join("profiles.toml"))?;
        validate_targets(&targets.target, root, &targets_path)?;
        validate_workloads(&workloads.workload, &fixtures.join("workloads.toml"))?;
        validate_profiles(
            &profiles.profile,
            &workloads.workload,
            &fixtures.join("profiles.toml"),
        )?;
        validate_refusals(&targets.target, &workloads.workload, &targets_path)?;
        validate_variants(&targets.target, &targets_path)?;
        Ok(Fixtures {
            root: root.to_path_buf(),
            origin: RootOrigin::Given,
            targets: targets.target,
            workloads: workloads.workload,
            profiles: profiles.profile,
            bases,
        })
    }

    /// Loads the fixtures of a root [`Fixtures::find_root`] found.
    pub fn load_found(root: &FixturesRoot) -> Result<Self, ConfigError> {
        let mut fixtures = Self::load(&root.path)?;
        fixtures.origin = root.origin;
        Ok(fixtures)
    }

    /// Where these fixtures come from, as `doctor` and the results record it.
    pub fn fixtures_root(&self) -> FixturesRoot {
        FixturesRoot {
            path: self.root.clone(),
            origin: self.origin,
        }
    }

    /// Finds the repository root: `explicit` if given, else the first directory from `start`
    /// upwards holding faceoff's fixtures, else the checkout this binary was built from (and
    /// says so). A `fixtures/` with some of the required files but not all is refused, naming
    /// what is missing, rather than passed over for another checkout's.
    pub fn find_root(explicit: Option<&Path>, start: &Path) -> Result<FixturesRoot, ConfigError> {
        Self::find_root_from(explicit, start, Path::new(env!("CARGO_MANIFEST_DIR")))
    }

    fn find_root_from(
        explicit: Option<&Path>,
        start: &Path,
        built_from: &Path,
    ) -> Result<FixturesRoot, ConfigError> {
        let root = |path: &Path, origin| FixturesRoot {
            path: path.to_path_buf(),
            origin,
        };
        if let Some(dir) = explicit {
            complete(dir)?;
            return Ok(root(dir, RootOrigin::Given));
        }
        for dir in start.ancestors() {
            match fixture_files(dir) {
                (missing, _) if missing.is_empty() => {
                    return Ok(root(dir, RootOrigin::CurrentDirectory));
                }
                (_, true) => complete(dir)?,
                // No faceoff fixture at all: not a checkout, look further up.
                (_, false) => {}
            }
        }
        if fixture_files(built_from).0.is_empty() {
            return Ok(root(built_from, RootOrigin::BuiltFrom));
        }
        Err(ConfigError::NoRoot {
            start: start.to_path_buf(),
        })
    }

    /// The targets named in `names`, in that order; when `names` is empty, every target
    /// but the variants (which run only when named).
    pub fn select_targets(&self, names: &[String]) -> Result<Vec<Target>, ConfigError> {
        if names.is_empty() {
            return Ok(self
                .targets
                .iter()
                .filter(|t| t.variant_of.is_none())
                .cloned()
                .collect());
        }
        let mut seen = BTreeSet::new();
        let mut selected = Vec::new();
        for name in names {
            let target = self.target(name)?;
            if seen.insert(name.clone()) {
                selected.push(target.clone());
            }
        }
        Ok(selected)
    }

    /// The targets named in `names` that serve `workload`; when `names` is empty, every
    /// target that serves it. A named target that does not serve it is an error naming the
    /// ones that do.
    pub fn select_targets_for(
        &self,
        names: &[String],
        workload: &Workload,
    ) -> Result<Vec<Target>, ConfigError> {
        let serving: Vec<&str> = self
            .targets
            .iter()
            .filter(|t| t.serves(workload))
            .map(|t| t.name.as_str())
            .collect();
        let selected = self.select_targets(names)?;
        if names.is_empty() {
            return Ok(selected
                .into_iter()
                .filter(|t| t.serves(workload))
                .collect());
        }
        if let Some(refused) = selected.iter().find(|t| !t.serves(workload)) {
            if let Some(reason) = refused.refusal(workload) {
                return Err(ConfigError::WorkloadRefused {
                    target: refused.name.clone(),
                    workload: workload.name.clone(),
                    reason: reason.to_string(),
                });
            }
            return Err(ConfigError::WorkloadNotServed {
                target: refused.name.clone(),
                workload: workload.name.clone(),
                serving: serving.join(", "),
            });
        }
        Ok(selected)
    }

    /// The targets for checking `workloads` (all when empty): the named ones, or every
    /// target serving at least one of them. Workloads not in workloads.toml count as HTTP.
    pub fn select_targets_serving(
        &self,
        names: &[String],
        workloads: &[String],
    ) -> Result<Vec<Target>, ConfigError> {
        if workloads.is_empty() {
            return self.select_targets(names);
        }
        let serves_any = |target: &Target| {
            workloads.iter().any(|name| match self.workload(name) {
                Ok(workload) => target.serves(workload),
                Err(_) => target.workloads.is_empty(),
            })
        };
        let selected = self.select_targets(names)?;
        if names.is_empty() {
            return Ok(selected.into_iter().filter(|t| serves_any(t)).collect());
        }
        if let Some(refused) = selected.iter().find(|t| !serves_any(t)) {
            let reason = workloads
                .iter()
                .filter_map(|name| self.workload(name).ok())
                .find_map(|workload| refused.refusal(workload));
            if let Some(reason) = reason {
                return Err(ConfigError::WorkloadRefused {
                    target: refused.name.clone(),
                    workload: workloads.join(","),
                    reason: reason.to_string(),
                });
            }
            return Err(ConfigError::WorkloadNotServed {
                target: refused.name.clone(),
                workload: workloads.join(","),
                serving: self
                    .targets
                    .iter()
                    .filter(|t| serves_any(t))
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(selected)
    }

    /// The target called `name`.
    pub fn target(&self, name: &str) -> Result<&Target, ConfigError> {
        self.targets
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| ConfigError::UnknownTarget {
                name: name.to_string(),
                known: self.target_names().join(", "),
            })
    }

    /// The workload called `name`.
    pub fn workload(&self, name: &str) -> Result<&Workload, ConfigError> {
        self.workloads
            .iter()
            .find(|w| w.name == name)
            .ok_or_else(|| ConfigError::UnknownWorkload {
                name: name.to_string(),
                known: self
                    .workloads
                    .iter()
                    .map(|w| w.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The profile called `name`.
    pub fn profile(&self, name: &str) -> Result<&Profile, ConfigError> {
        self.profiles
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| ConfigError::UnknownProfile {
                name: name.to_string(),
                known: self
                    .profiles
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// `targets` as a version matrix: each Node target once per version of `node`, each
    /// Python target once per version of `python`, named `express@node20`,
    /// `fastapi@py3.11`; a language with no version given keeps its targets as they are.
    /// Every version must be one of [`Bases::versions`].
    pub fn version_variants(
        &self,
        targets: Vec<Target>,
        node: &[String],
        python: &[String],
    ) -> Result<Vec<Target>, ConfigError> {
        for (language, asked) in [(Language::Node, node), (Language::Python, python)] {
            let known = self.bases.versions(language);
            if let Some(unknown) = asked.iter().find(|v| !known.contains(v)) {
                return Err(ConfigError::UnknownVersion {
                    language,
                    version: unknown.clone(),
                    known: known.join(", "),
                });
            }
        }
        let mut out = Vec::new();
        for target in targets {
            let asked = match target.language {
                Language::Node => node,
                Language::Python => python,
            };
            if asked.is_empty() {
                out.push(target);
                continue;
            }
            let mut versions: Vec<&String> = asked.iter().collect();
            versions.sort_by_key(|v| version_key(v));
            versions.dedup();
            for version in versions {
                let variant = RuntimeVariant {
                    of: target.name.clone(),
                    runtime: target.language.to_string(),
                    version: version.clone(),
                };
                let mut copy = target.clone();
                copy.name = format!("{}@{}", target.name, variant.suffix());
                copy.variant = Some(variant);
                out.push(copy);
            }
        }
        Ok(out)
    }

    pub fn target_names(&self) -> Vec<&str> {
        self.targets.iter().map(|t| t.name.as_str()).collect()
    }

    /// The absolute directory of a target's app.
    pub fn app_dir(&self, target: &Target) -> PathBuf {
        self.root.join(&target.app_dir)
    }
}

/// A version as numbers, for ordering: `3.11` before `3.13`, `20` before `100`.
pub fn version_key(version: &str) -> Vec<u64> {
    version
        .split('.')
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

fn parse_file<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_str(&text, path)
}

/// Parses TOML text; the error names the file, the line and column, and the field.
pub(crate) fn parse_str<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|err| ConfigError::Parse {
        path: path.to_path_buf(),
        message: one_line_toml_error(&err, text),
    })
}

/// toml's own Display spans several lines with a source excerpt; faceoff's errors are one line.
fn one_line_toml_error(err: &toml::de::Error, text: &str) -> String {
    let message = err.message().trim().replace('\n', " ");
    match err.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// Every variant names a target of the file that is not itself a variant.
fn validate_variants(targets: &[Target], path: &Path) -> Result<(), ConfigError> {
    for target in targets {
        let Some(base) = &target.variant_of else {
            continue;
        };
        if !targets
            .iter()
            .any(|t| &t.name == base && t.variant_of.is_none())
        {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "target `{}` is a variant of `{base}`, which is not a target of its own",
                    target.name
                ),
            });
        }
    }
    Ok(())
}

/// Every workload a target refuses is one faceoff knows: a misspelt name would refuse
/// nothing.
fn validate_refusals(
    targets: &[Target],
    workloads: &[Workload],
    path: &Path,
) -> Result<(), ConfigError> {
    for target in targets {
        if let Some(unknown) = target
            .refuses
            .keys()
            .find(|name| !workloads.iter().any(|w| &w.name == *name))
        {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "target `{}` refuses unknown workload `{unknown}`",
                    target.name
                ),
            });
        }
    }
    Ok(())
}

fn validate_workloads(workloads: &[Workload], path: &Path) -> Result<(), ConfigError> {
    for workload in workloads {
        if workload.kind == WorkloadKind::Http
            && (workload.method.is_empty() || !workload.path.starts_with('/'))
        {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "workload `{}`: an HTTP workload needs a method and a path starting with /",
                    workload.name
                ),
            });
        }
    }
    Ok(())
}

/// A mixed profile names HTTP workloads as its sides and at least one side connection;
/// no other profile has sides.
fn validate_profiles(
    profiles: &[Profile],
    workloads: &[Workload],
    path: &Path,
) -> Result<(), ConfigError> {
    let invalid = |profile: &Profile, what: String| {
        Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            message: format!("profile `{}`: {what}", profile.name),
        })
    };
    for profile in profiles {
        let mixed = profile.mode == LoadMode::Mixed;
        if !mixed && (!profile.sides.is_empty() || profile.side_connections.is_some()) {
            return invalid(profile, "only a mixed profile has sides".into());
        }
        if !mixed {
            continue;
        }
        if profile.sides.is_empty() || profile.side_connections.unwrap_or(0) == 0 {
            return invalid(
                profile,
                "a mixed profile needs `sides` (workloads) and `side_connections` >= 1".into(),
            );
        }
        for side in &profile.sides {
            if !workloads
                .iter()
                .any(|w| &w.name == side && w.kind == WorkloadKind::Http)
            {
                return invalid(profile, format!("side `{side}` is not an HTTP workload"));
            }
        }
    }
    Ok(())
}

fn validate_targets(targets: &[Target], root: &Path, path: &Path) -> Result<(), ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    if targets.is_empty() {
        return Err(invalid("no [[target]] defined".into()));
    }
    let mut names = BTreeSet::new();
    for target in targets {
        let valid_name = !target.name.is_empty()
            && target
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_name {
            return Err(invalid(format!(
                "target name `{}` must be lowercase letters, digits and '-'",
                target.name
            )));
        }
        if !names.insert(target.name.as_str()) {
            return Err(invalid(format!("target `{}` defined twice", target.name)));
        }
        if target.command.is_empty() {
            return Err(invalid(format!(
                "target `{}`: command is empty",
                target.name
            )));
        }
        if target.workloads.iter().any(|w| w == "chat") && target.chat.is_none() {
            return Err(invalid(format!(
                "target `{}` serves chat but has no `chat = {{ protocol = \"socketio\" | \"json\", path = \"/…\" }}`",
                target.name
            )));
        }
        if target.workers == Some(0) {
            return Err(invalid(format!(
                "target `{}`: workers must be at least 1",
                target.name
            )));
        }
        if target.workers.is_some() && !target.has_workers() {
            return Err(invalid(format!(
                "target `{}` sets workers but its command has no `{WORKERS_PLACEHOLDER}` to put them in",
                target.name
            )));
        }
        if let Some((workload, _)) = target
            .refuses
            .iter()
            .find(|(_, reason)| reason.trim().is_empty())
        {
            return Err(invalid(format!(
                "target `{}` refuses `{workload}` without a reason: give the one line faceoff prints",
                target.name
            )));
        }
        let app_dir = root.join(&target.app_dir);
        if !app_dir.join("Dockerfile").is_file() {
            return Err(invalid(format!(
                "target `{}`: {} has no Dockerfile",
                target.name,
                app_dir.display()
            )));
        }
    }
    Ok(())
}

/// How a chat target frames events on its WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Engine.IO v4 packets carrying Socket.IO v5 packets, default namespace only:
    /// `0{…}` open, `2`/`3` ping/pong, `40` connect, `42["event",data]` an event.
    Socketio,
    /// `{"event": NAME, "data": VALUE}`, one per text frame; no handshake, no pings.
    Json,
    /// No WebSocket: a plain HTTP/1.1 keep-alive connection that sends one request, reads
    /// its 200 and then stays open, idle but for the same request every 4 s. The idle
    /// capacity ramp of HTTP targets (profile `idle-capacity`) uses it; no chat target
    /// speaks it.
    Http,
}

/// Where a chat target listens and how it frames events (`chat = {…}` in targets.toml).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatEndpoint {
    pub protocol: Protocol,
    /// The WebSocket path and query, e.g. `/socket.io/?EIO=4&transport=websocket`.
    pub path: String,
}

#[cfg(test)]
mod root_tests {
    use super::*;

    fn checkout(dir: &Path, files: &[&str]) {
        std::fs::create_dir_all(dir.join("fixtures")).unwrap();
        for name in files {
            std::fs::write(dir.join("fixtures").join(name), "").unwrap();
        }
    }

    #[test]
    fn a_fixtures_directory_missing_targets_toml_is_refused_naming_it() {
        let here = tempfile::tempdir().unwrap();
        checkout(
            here.path(),
            &[
                "workloads.toml",
                "bases.toml",
                "profiles.toml",
                "claims.toml",
            ],
        );
        let built = tempfile::tempdir().unwrap();
        checkout(built.path(), REQUIRED_FIXTURES);
        let start = here.path().join("sub");
        let err = Fixtures::find_root_from(None, &start, built.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&here.path().join("fixtures").display().to_string())
                && err.contains("targets.toml missing")
                && err.contains("--root"),
            "{err}"
        );
        let err = Fixtures::find_root_from(Some(here.path()), &start, built.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("targets.toml missing"), "{err}");
    }

    #[test]
    fn the_built_from_checkout_is_used_only_when_none_is_found_and_says_so() {
        let built = tempfile::tempdir().unwrap();
        checkout(built.path(), REQUIRED_FIXTURES);
        // Another project's fixtures/ (no faceoff file in it) is passed over.
        let elsewhere = tempfile::tempdir().unwrap();
        checkout(elsewhere.path(), &["users.json"]);
        let root = Fixtures::find_root_from(None, elsewhere.path(), built.path()).unwrap();
        assert_eq!(root.origin, RootOrigin::BuiltFrom);
        assert_eq!(root.path, built.path());
        assert!(root.to_string().contains("built from"), "{root}");

        let here = tempfile::tempdir().unwrap();
        checkout(here.path(), REQUIRED_FIXTURES);
        let root = Fixtures::find_root_from(None, &here.path().join("a/b"), built.path()).unwrap();
        assert_eq!(root.origin, RootOrigin::CurrentDirectory);
        assert_eq!(root.path, here.path());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str) -> Target {
        Target {
            name: name.into(),
            language: Language::Node,
            framework: "express".into(),
            app_dir: "node-apps/express".into(),
            server: "node".into(),
            command: vec![
                "node".into(),
                "--port={port}".into(),
                "{host}:{port}".into(),
            ],
            services: Vec::new(),
            workloads: Vec::new(),
            chat: None,
            workers: None,
            refuses: Default::default(),
            variant_of: None,
            variant: None,
        }
    }

    #[test]
    fn command_fills_in_host_and_port() {
        assert_eq!(
            target("x").command_for("127.0.0.1", 8080),
            ["node", "--port=8080", "127.0.0.1:8080"]
        );
    }

    #[test]
    fn malformed_toml_error_names_file_line_and_field() {
        let text = "[[target]]\nname = \"x\"\nlanguage = \"cobol\"\n";
        let err = parse_str::<TargetsFile>(text, Path::new("fixtures/targets.toml"))
            .expect_err("must fail");
        let message = err.to_string();
        assert!(message.contains("fixtures/targets.toml"), "{message}");
        assert!(message.contains("line 3"), "{message}");
        assert!(message.contains("cobol"), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }

    #[test]
    fn unknown_field_is_rejected() {
        let text = "[[workload]]\nname = \"a\"\nmethod = \"GET\"\npath = \"/\"\ndescription = \"d\"\nspeed = 3\n";
        let err = parse_str::<WorkloadsFile>(text, Path::new("w.toml")).expect_err("must fail");
        assert!(err.to_string().contains("speed"), "{err}");
    }

    #[test]
    fn duplicate_target_names_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("node-apps/express");
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(app.join("Dockerfile"), "FROM x").unwrap();
        let err = validate_targets(&[target("a"), target("a")], dir.path(), Path::new("t"))
            .expect_err("must fail");
        assert!(err.to_string().contains("defined twice"), "{err}");
    }

    #[test]
    fn repository_fixtures_load_and_name_the_targets() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let fixtures = Fixtures::load(root).expect("fixtures load");
        let status = fixtures.workload("status").expect("status workload");
        let names = |targets: Vec<Target>| targets.into_iter().map(|t| t.name).collect::<Vec<_>>();
        assert_eq!(
            names(fixtures.select_targets_for(&[], status).unwrap()),
            [
                "express",
                "fastify",
                "fastapi",
                "django",
                "django-wsgi",
                "nestjs",
                "nestjs-fastify",
                "flask"
            ]
        );
        let three = fixtures.profile("three-slow").expect("three-slow profile");
        assert_eq!((three.connections, three.max_requests), (3, Some(3)));
        assert_eq!(three.duration, Duration::from_secs(10));
    }

    #[test]
    fn chat_workload_picks_the_chat_targets_and_refuses_an_http_one() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let fixtures = Fixtures::load(root).unwrap();
        let chat = fixtures.workload("chat").expect("chat workload");
        let picked = fixtures.select_targets_for(&[], chat).unwrap();
        let names: Vec<&str> = picked.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "socketio",
                "python-socketio",
                "channels",
                "fastapi-ws",
                "channels-redis"
            ]
        );
        assert!(picked.iter().all(|t| t.chat.is_some()));
        let err = fixtures
            .select_targets_for(&["express".to_string()], chat)
            .expect_err("express serves no chat");
        let message = err.to_string();
        assert!(
            message.contains("express") && message.contains("socketio"),
            "{message}"
        );
        let status = fixtures.workload("status").unwrap();
        let err = fixtures
            .select_targets_for(&["channels".to_string()], status)
            .expect_err("channels serves only chat");
        assert!(err.to_string().contains("fastify"), "{err}");
        let capacity = fixtures.profile("capacity").expect("capacity profile");
        assert_eq!(capacity.mode, LoadMode::Capacity);
        assert!(!capacity.steps.is_empty() && capacity.hold.is_some());
        assert_eq!(fixtures.profile("fanout").unwrap().mode, LoadMode::Fanout);
    }

    #[test]
    fn unknown_target_lists_the_known_ones() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let fixtures = Fixtures::load(root).unwrap();
        let err = fixtures
            .select_targets(&["nginx".to_string()])
            .expect_err("must fail");
        let message = err.to_string();
        assert!(message.contains("nginx"), "{message}");
        assert!(message.contains("fastify"), "{message}");
    }

    #[test]
    fn version_flags_make_one_named_variant_per_version_on_its_own_base() {
        let fixtures = Fixtures::load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let chosen = fixtures
            .select_targets(&["express".into(), "fastapi".into()])
            .unwrap();
        let variants = fixtures
            .version_variants(
                chosen,
                &["24".into(), "20".into(), "20".into()],
                &["3.11".into(), "3.13".into()],
            )
            .unwrap();
        let names: Vec<&str> = variants.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "express@node20",
                "express@node24",
                "fastapi@py3.11",
                "fastapi@py3.13"
            ]
        );
        let bases = &fixtures.bases;
        // The pinned versions keep the default bases; the others get their own.
        assert_eq!(bases.image_for_target(&variants[1]), bases.node.image);
        assert_eq!(bases.image_for_target(&variants[3]), bases.python.image);
        assert_eq!(
            bases.image_for_target(&variants[0]),
            "faceoff/base-node:20.20.2"
        );
        assert_eq!(
            bases.image_for_target(&variants[2]),
            "faceoff/base-python:3.11-bookworm"
        );
        assert_eq!(variants[0].slug(), "express-node20");
        assert_eq!(variants[2].variant.as_ref().unwrap().of, "fastapi");
        // No flag: the targets stay as they are.
        let plain = fixtures
            .version_variants(
                fixtures.select_targets(&["express".into()]).unwrap(),
                &[],
                &[],
            )
            .unwrap();
        assert_eq!(plain[0].name, "express");
        assert!(plain[0].variant.is_none());
    }

    #[test]
    fn an_unknown_version_names_the_versions_that_have_a_base() {
        let fixtures = Fixtures::load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let err = fixtures
            .version_variants(fixtures.targets.clone(), &["18".into()], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown node version `18`"), "{err}");
        assert!(err.contains("20, 22, 24"), "{err}");
    }
}
