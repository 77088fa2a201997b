//! Building images: the offline base images (Debian by debootstrap, Node from the npm
//! registry, Python from Debian) and the app images on top of them.
//!
//! No image is ever pulled: a base that the engine lacks is made from the package registries
//! the host already reaches, using the mirror and registries of the host's own configuration.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptionsBuilder, CreateImageOptionsBuilder};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{Fixtures, Language, Target};
use crate::engine::{self, EngineError};

const NODE_BASE_DOCKERFILE: &str = include_str!("images/node-base.Dockerfile");
const PYTHON_BASE_DOCKERFILE: &str = include_str!("images/python-base.Dockerfile");

/// The host's CA bundle, used by default for installs inside `docker build`.
pub const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The name under which the CA bundle enters an app's build context (never its final stage).
const CA_IN_CONTEXT: &str = "faceoff-ca.crt";
/// Files that never belong in a build context or an app hash.
const SKIPPED_DIRS: &[&str] = &["node_modules", "__pycache__", ".venv", "venv", ".git"];

/// Why an image could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(
        "no Debian mirror found in the host's apt configuration (/etc/apt/sources.list, /etc/apt/sources.list.d/*.sources): add one, or pass --mirror URL"
    )]
    NoMirror,
    #[error("`{program}` not found on PATH: {fix}")]
    MissingTool { program: String, fix: String },
    #[error("`{command}` failed ({status}); last output: {tail}")]
    Command {
        command: String,
        status: String,
        tail: String,
    },
    #[error("building {image} failed at `{step}`: {message}; last output: {tail}")]
    Build {
        image: String,
        step: String,
        message: String,
        tail: String,
    },
    #[error("CA bundle {path} cannot be read: {cause}; pass --ca-bundle PATH or --ca-bundle none")]
    CaBundle {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{context}: {cause}")]
    Io {
        context: String,
        cause: std::io::Error,
    },
    #[error(transparent)]
    Engine(EngineError),
}

// The engine's message is part of this error's own line (targets record errors as one
// line), so it is not also exposed as a source: each cause prints once.
impl From<bollard::errors::Error> for ImageError {
    fn from(err: bollard::errors::Error) -> Self {
        ImageError::Engine(err.into())
    }
}

impl From<EngineError> for ImageError {
    fn from(err: EngineError) -> Self {
        ImageError::Engine(err)
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ImageError {
    let context = context.into();
    move |cause| ImageError::Io { context, cause }
}

/// faceoff's cache directory: `$XDG_CACHE_HOME/faceoff` or `~/.cache/faceoff`.
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("faceoff")
}

/// The environment of every npm faceoff runs on the host: its cache, and the debug log
/// npm writes on every command, go to faceoff's cache directory, not the user's `~/.npm`.
pub fn npm_env() -> [(&'static str, PathBuf); 1] {
    npm_env_in(&cache_dir())
}

fn npm_env_in(cache: &Path) -> [(&'static str, PathBuf); 1] {
    [("npm_config_cache", cache.join("npm"))]
}

/// Which base an app image is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BaseChoice {
    /// faceoff's own base images, built offline from the package registries.
    Offline,
    /// The official `node:` / `python:` images, for hosts where a registry answers.
    Official,
}

/// How to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// CA bundle handed to npm and pip during the build; `None` for no extra CA.
    pub ca_bundle: Option<PathBuf>,
    pub base: BaseChoice,
    /// Rebuild even when an image with the same app hash exists.
    pub force: bool,
    /// Debian mirror for debootstrap; `None` reads the host's apt configuration.
    pub mirror: Option<String>,
}

/// An app image ready to run, and what it was made from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct AppImage {
    pub target: String,
    pub tag: String,
    pub image_id: String,
    pub base_image: String,
    pub base_image_id: String,
    /// Hash of the app's files and base: the tag's suffix.
    pub app_hash: String,
    pub lockfile_sha256: String,
    /// False when an existing image was reused.
    pub built: bool,
    /// The image's size on the engine, base layers included (what `docker images` shows);
    /// absent in files from before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
}

/// Receives one line per step of a long build, for a progress display.
pub type Progress<'a> = &'a (dyn Fn(&str) + Sync);

/// Makes sure the base image for each language in `languages` exists, building what is
/// missing. Returns the base image tags with their ids.
pub async fn ensure_bases(
    docker: &Docker,
    fixtures: &Fixtures,
    languages: &[Language],
    options: &BuildOptions,
    progress: Progress<'_>,
) -> Result<BTreeMap<String, String>, ImageError> {
    let mut ids = BTreeMap::new();
    for &language in languages {
        let plan = BasePlan::pinned(fixtures, language);
        if let Some((image, id)) = ensure_base(docker, fixtures, &plan, options, progress).await? {
            ids.insert(image, id);
        }
    }
    Ok(ids)
}

/// What one offline base is made of: the pinned one of a language, or a version variant's.
#[derive(Debug, Clone, PartialEq)]
struct BasePlan {
    language: Language,
    image: String,
    /// The Debian base it is built on, and that base's suite.
    debian_image: String,
    suite: String,
    /// Node: the exact version of the Node package.
    node_version: String,
}

impl BasePlan {
    fn pinned(fixtures: &Fixtures, language: Language) -> Self {
        let bases = &fixtures.bases;
        BasePlan {
            language,
            image: bases.image_for(language).to_string(),
            debian_image: bases.debian.image.clone(),
            suite: bases.debian.suite.clone(),
            node_version: bases.node.node_version.clone(),
        }
    }

    /// The base of `target`: its version variant's, else its language's pinned one. A Python
    /// variant brings its own Debian suite (bookworm for 3.11); Node variants share the
    /// pinned Debian base, since the Node binary carries its own runtime.
    fn for_target(fixtures: &Fixtures, target: &Target) -> Self {
        let mut plan = Self::pinned(fixtures, target.language);
        if let Some(variant) = fixtures.bases.variant_of(target) {
            plan.image = variant.image.clone();
            if let Some(version) = &variant.node_version {
                plan.node_version = version.clone();
            }
            if let Some(suite) = &variant.suite {
                plan.debian_image = debian_image_for(&fixtures.bases.debian.image, suite);
                plan.suite = suite.clone();
            }
        }
        plan
    }
}

/// The Debian base's name for another suite: `faceoff/base-debian:trixie` →
/// `faceoff/base-debian:bookworm`.
fn debian_image_for(pinned: &str, suite: &str) -> String {
    format!("{}:{suite}", split_tag(pinned).0)
}

/// Makes sure one base exists, building it (and its Debian base) when missing; returns its
/// tag and id, or `None` with official bases.
async fn ensure_base(
    docker: &Docker,
    fixtures: &Fixtures,
    plan: &BasePlan,
    options: &BuildOptions,
    progress: Progress<'_>,
) -> Result<Option<(String, String)>, ImageError> {
    if options.base == BaseChoice::Official {
        return Ok(None);
    }
    let id = match image_id(docker, &plan.image).await? {
        Some(id) => id,
        None => {
            let debian = crate::config::DebianBase {
                image: plan.debian_image.clone(),
                suite: plan.suite.clone(),
                variant: fixtures.bases.debian.variant.clone(),
            };
            ensure_debian_base(docker, &debian, options, progress).await?;
            match plan.language {
                Language::Node => build_node_base(docker, fixtures, plan, progress).await?,
                Language::Python => build_python_base(docker, fixtures, plan, progress).await?,
            }
        }
    };
    Ok(Some((plan.image.clone(), id)))
}

/// The id of a local image, or `None` when the engine does not have it.
pub async fn image_id(docker: &Docker, image: &str) -> Result<Option<String>, ImageError> {
    match engine::call(
        &format!("`inspect image {image}`"),
        docker.inspect_image(image),
    )
    .await
    {
        Ok(inspect) => Ok(inspect.id),
        Err(err) if err.status_code() == Some(404) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// The size of `image` on the engine, base layers included; `None` when the engine does not
/// say. A figure recorded beside the run, never a reason to fail it.
pub async fn image_size(docker: &Docker, image: &str) -> Option<u64> {
    let inspect = engine::call(
        &format!("`inspect image {image}`"),
        docker.inspect_image(image),
    )
    .await
    .ok()?;
    inspect.size.and_then(|size| u64::try_from(size).ok())
}

pub(crate) async fn ensure_debian(
    docker: &Docker,
    fixtures: &Fixtures,
    options: &BuildOptions,
    progress: Progress<'_>,
) -> Result<(), ImageError> {
    ensure_debian_base(docker, &fixtures.bases.debian, options, progress).await
}

async fn ensure_debian_base(
    docker: &Docker,
    debian: &crate::config::DebianBase,
    options: &BuildOptions,
    progress: Progress<'_>,
) -> Result<(), ImageError> {
    if image_id(docker, &debian.image).await?.is_some() {
        return Ok(());
    }
    let mirror = match &options.mirror {
        Some(mirror) => mirror.clone(),
        None => host_apt_mirror().ok_or(ImageError::NoMirror)?,
    };
    require_tool("debootstrap", "apt-get install debootstrap (needs root)")?;
    let rootfs = tempfile::tempdir().map_err(io_err("creating a temporary directory"))?;
    progress(&format!(
        "debootstrap --variant={} {} from {mirror} (about 30 s)",
        debian.variant, debian.suite
    ));
    let target_dir = rootfs.path().join("root");
    run_command(
        "debootstrap",
        &[
            &format!("--variant={}", debian.variant),
            &debian.suite,
            &target_dir.to_string_lossy(),
            &mirror,
        ],
        None,
    )
    .await?;
    progress(&format!(
        "importing the root filesystem as {}",
        debian.image
    ));
    let tarball = run_command(
        "tar",
        &["-C", &target_dir.to_string_lossy(), "-c", "."],
        None,
    )
    .await?;
    let (repo, tag) = split_tag(&debian.image);
    let options = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(repo)
        .tag(tag)
        .build();
    let stream = docker.create_image(
        Some(options),
        Some(bollard::body_full(tarball.into())),
        None,
    );
    let call = format!("`import {}`", debian.image);
    engine::drain(docker, &call, stream, |_| Ok::<(), ImageError>(())).await
}

async fn build_node_base(
    docker: &Docker,
    fixtures: &Fixtures,
    plan: &BasePlan,
    progress: Progress<'_>,
) -> Result<String, ImageError> {
    let node = &fixtures.bases.node;
    require_tool("npm", "install Node.js and npm, or use --base official")?;
    let context = tempfile::tempdir().map_err(io_err("creating a temporary directory"))?;
    let node_spec = format!("{}@{}", node.node_package, plan.node_version);
    let npm_spec = format!("npm@{}", node.npm_version);
    progress(&format!(
        "npm pack {node_spec} {npm_spec} (the official Node binary and npm)"
    ));
    let dest = context.path().to_string_lossy().to_string();
    run_command(
        "npm",
        &[
            "pack",
            "--silent",
            "--pack-destination",
            &dest,
            &node_spec,
            &npm_spec,
        ],
        None,
    )
    .await?;
    let node_tgz = format!("{}-{}.tgz", node.node_package, plan.node_version);
    let npm_tgz = format!("npm-{}.tgz", node.npm_version);
    write_file(&context.path().join("Dockerfile"), NODE_BASE_DOCKERFILE)?;
    let args = HashMap::from([
        ("DEBIAN_IMAGE", plan.debian_image.as_str()),
        ("NODE_TGZ", node_tgz.as_str()),
        ("NPM_TGZ", npm_tgz.as_str()),
    ]);
    let tar = tar_dir(context.path(), None)?;
    progress(&format!("building {}", plan.image));
    build(docker, &plan.image, tar, &args, &HashMap::new(), progress).await
}

async fn build_python_base(
    docker: &Docker,
    fixtures: &Fixtures,
    plan: &BasePlan,
    progress: Progress<'_>,
) -> Result<String, ImageError> {
    let python = &fixtures.bases.python;
    let context = tempfile::tempdir().map_err(io_err("creating a temporary directory"))?;
    write_file(&context.path().join("Dockerfile"), PYTHON_BASE_DOCKERFILE)?;
    let packages = python.packages.join(" ");
    let args = HashMap::from([
        ("DEBIAN_IMAGE", plan.debian_image.as_str()),
        ("PACKAGES", packages.as_str()),
    ]);
    let tar = tar_dir(context.path(), None)?;
    progress(&format!(
        "building {} (apt-get install {} on {})",
        plan.image,
        python.packages.join(" "),
        plan.suite
    ));
    build(docker, &plan.image, tar, &args, &HashMap::new(), progress).await
}

/// Builds (or reuses) the base of the app's language, then the app's image: what a target
/// and an app service both need before they can start.
pub async fn build_app_and_base(
    docker: &Docker,
    fixtures: &Fixtures,
    target: &Target,
    build: &BuildOptions,
    progress: Progress<'_>,
) -> Result<AppImage, ImageError> {
    let plan = BasePlan::for_target(fixtures, target);
    ensure_base(docker, fixtures, &plan, build, progress).await?;
    build_app(docker, fixtures, target, build, progress).await
}

/// Builds (or reuses) the image of one target's app.
pub async fn build_app(
    docker: &Docker,
    fixtures: &Fixtures,
    target: &Target,
    options: &BuildOptions,
    progress: Progress<'_>,
) -> Result<AppImage, ImageError> {
    let app_dir = fixtures.app_dir(target);
    let base_image = match options.base {
        BaseChoice::Offline => fixtures.bases.image_for_target(target),
        BaseChoice::Official => fixtures.bases.official_for_target(target),
    }
    .to_string();
    let base_image_id = image_id(docker, &base_image).await?.unwrap_or_default();
    let app_hash = app_hash(&app_dir, &base_image)?;
    let tag = format!("faceoff/{}:{}", target.slug(), &app_hash[..12]);
    let lockfile_sha256 = file_sha256(&app_dir.join(target.lockfile_name()))?;
    let existing = image_id(docker, &tag).await?;
    let (image_id, built) = match existing {
        Some(id) if !options.force => {
            progress(&format!("{tag} is up to date"));
            (id, false)
        }
        _ => {
            let ca = read_ca_bundle(options.ca_bundle.as_deref())?;
            let tar = tar_dir(&app_dir, Some((CA_IN_CONTEXT, &ca)))?;
            let mut args = HashMap::from([("BASE_IMAGE".to_string(), base_image.clone())]);
            args.extend(registry_build_args(target.language).await);
            let labels = HashMap::from([
                ("faceoff.target", target.name.as_str()),
                ("faceoff.app-hash", app_hash.as_str()),
            ]);
            progress(&format!("building {tag} on {base_image}"));
            let id = build(docker, &tag, tar, &args, &labels, progress).await?;
            (id, true)
        }
    };
    let size_bytes = image_size(docker, &tag).await;
    Ok(AppImage {
        target: target.name.clone(),
        tag,
        image_id,
        base_image,
        base_image_id,
        app_hash,
        lockfile_sha256,
        built,
        size_bytes,
    })
}

/// Removes every app image faceoff built (labelled `faceoff.target`); base images stay.
pub async fn remove_app_images(docker: &Docker) -> Result<usize, ImageError> {
    use bollard::query_parameters::{ListImagesOptionsBuilder, RemoveImageOptionsBuilder};
    let filters = HashMap::from([("label".to_string(), vec!["faceoff.target".to_string()])]);
    let list = ListImagesOptionsBuilder::default()
        .filters(&filters)
        .build();
    let mut removed = 0;
    for image in engine::call("`list images`", docker.list_images(Some(list))).await? {
        let options = RemoveImageOptionsBuilder::default().force(true).build();
        let call = format!("`remove image {}`", short_id(&image.id));
        engine::call(&call, docker.remove_image(&image.id, Some(options), None)).await?;
        removed += 1;
    }
    Ok(removed)
}

/// Build arguments naming the package registry of the host's own npm / pip configuration, so
/// an install inside the build uses the same mirror as the host.
async fn registry_build_args(language: Language) -> Vec<(String, String)> {
    let (program, args, arg_name): (&str, &[&str], &str) = match language {
        Language::Node => (
            "npm",
            &["config", "get", "registry"],
            "FACEOFF_NPM_REGISTRY",
        ),
        Language::Python => (
            "pip",
            &["config", "get", "global.index-url"],
            "FACEOFF_PIP_INDEX_URL",
        ),
    };
    let from_env = match language {
        Language::Node => std::env::var("npm_config_registry").ok(),
        Language::Python => std::env::var("PIP_INDEX_URL").ok(),
    };
    let value = match from_env {
        Some(value) => Some(value),
        None => tokio::process::Command::new(program)
            .args(args)
            .envs(npm_env().into_iter().filter(|_| program == "npm"))
            .stderr(Stdio::null())
            .output()
            .await
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string()),
    };
    value
        .filter(|v| v.starts_with("http"))
        .map(|v| vec![(arg_name.to_string(), v)])
        .unwrap_or_default()
}

fn read_ca_bundle(path: Option<&Path>) -> Result<Vec<u8>, ImageError> {
    match path {
        None => Ok(Vec::new()),
        Some(path) => std::fs::read(path).map_err(|source| ImageError::CaBundle {
            path: path.to_path_buf(),
            cause: source,
        }),
    }
}

/// The engine's options for one build. `RUN` steps use the host's network, as the
/// containers do: a build on the default bridge fails on a host whose `docker0` went away
/// (or whose bridge has no route out) while every container, on host networking, still works.
fn build_options(
    tag: &str,
    args: &HashMap<impl Into<String> + Clone + Eq + std::hash::Hash, impl Into<String> + Clone>,
    labels: &HashMap<&str, &str>,
) -> bollard::query_parameters::BuildImageOptions {
    BuildImageOptionsBuilder::default()
        .t(tag)
        .rm(true)
        .forcerm(true)
        .networkmode("host")
        .buildargs(args)
        .labels(labels)
        .build()
}

/// Runs a legacy-builder build of the tarred context and returns the image id.
pub(crate) async fn build(
    docker: &Docker,
    tag: &str,
    context_tar: Vec<u8>,
    args: &HashMap<impl Into<String> + Clone + Eq + std::hash::Hash, impl Into<String> + Clone>,
    labels: &HashMap<&str, &str>,
    progress: Progress<'_>,
) -> Result<String, ImageError> {
    let options = build_options(tag, args, labels);
    let stream = docker.build_image(options, None, Some(bollard::body_full(context_tar.into())));
    let mut step = String::from("start");
    let mut tail: Vec<String> = Vec::new();
    let call = format!("`build {tag}`");
    let built = engine::drain(docker, &call, stream, |info| {
        if let Some(text) = info.stream {
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if line.starts_with("Step ") {
                    step = line.to_string();
                    progress(line);
                }
                tail.push(line.to_string());
                if tail.len() > 8 {
                    tail.remove(0);
                }
            }
        }
        Ok::<(), EngineError>(())
    })
    .await;
    match built {
        Ok(()) => {}
        Err(EngineError::Api(err)) => {
            let message = match err {
                bollard::errors::Error::DockerStreamError { error } => error,
                other => other.to_string(),
            };
            return Err(ImageError::Build {
                image: tag.to_string(),
                step,
                message: one_line(&message),
                tail: tail.join(" | "),
            });
        }
        Err(timeout) => return Err(timeout.into()),
    }
    image_id(docker, tag)
        .await?
        .ok_or_else(|| ImageError::Build {
            image: tag.to_string(),
            step,
            message: "the engine reported no image after the build".into(),
            tail: tail.join(" | "),
        })
}

/// An image or container id as `docker` shows it: 12 hex digits.
pub fn short_id(id: &str) -> &str {
    let id = id.trim_start_matches("sha256:");
    &id[..id.len().min(12)]
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn split_tag(image: &str) -> (&str, &str) {
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (image, "latest"),
    }
}

/// The files of an app directory that go into its image, sorted, relative to `dir`.
fn app_files(dir: &Path) -> Result<Vec<PathBuf>, ImageError> {
    fn walk(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<(), ImageError> {
        let entries =
            std::fs::read_dir(dir).map_err(io_err(format!("reading {}", dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(io_err(format!("reading {}", dir.display())))?;
            let name = entry.file_name();
            let file_type = entry
                .file_type()
                .map_err(io_err(format!("reading {}", entry.path().display())))?;
            let rel_path = rel.join(&name);
            if file_type.is_dir() {
                if !SKIPPED_DIRS.iter().any(|s| name == *s) {
                    walk(&entry.path(), &rel_path, out)?;
                }
            } else if file_type.is_file() && !name.to_string_lossy().ends_with(".pyc") {
                out.push(rel_path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, Path::new(""), &mut files)?;
    files.sort();
    Ok(files)
}

/// A hash of an app's files and the base it builds on: an unchanged app is not rebuilt.
pub fn app_hash(dir: &Path, base_image: &str) -> Result<String, ImageError> {
    let mut hasher = Sha256::new();
    hasher.update(base_image.as_bytes());
    hasher.update([0]);
    for rel in app_files(dir)? {
        let bytes =
            std::fs::read(dir.join(&rel)).map_err(io_err(format!("reading {}", rel.display())))?;
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(hex(&hasher.finalize()))
}

/// The SHA-256 of a file, hex.
pub fn file_sha256(path: &Path) -> Result<String, ImageError> {
    let bytes = std::fs::read(path).map_err(io_err(format!("reading {}", path.display())))?;
    Ok(hex(&Sha256::digest(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Tars an app directory (plus one extra in-memory file) as a build context.
fn tar_dir(dir: &Path, extra: Option<(&str, &[u8])>) -> Result<Vec<u8>, ImageError> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let context = format!("packing the build context {}", dir.display());
    for rel in app_files(dir)? {
        builder
            .append_path_with_name(dir.join(&rel), &rel)
            .map_err(io_err(context.clone()))?;
    }
    if let Some((name, bytes)) = extra {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, name, bytes)
            .map_err(io_err(context.clone()))?;
    }
    builder.into_inner().map_err(io_err(context))
}

/// Tars in-memory files (name, contents) as a build context.
pub(crate) fn tar_files(files: &[(&str, &[u8])]) -> Result<Vec<u8>, ImageError> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, name, *bytes)
            .map_err(io_err("packing a build context"))?;
    }
    builder
        .into_inner()
        .map_err(io_err("packing a build context"))
}

fn write_file(path: &Path, text: &str) -> Result<(), ImageError> {
    std::fs::write(path, text).map_err(io_err(format!("writing {}", path.display())))
}

fn require_tool(program: &str, fix: &str) -> Result<(), ImageError> {
    if find_on_path(program).is_some() {
        Ok(())
    } else {
        Err(ImageError::MissingTool {
            program: program.into(),
            fix: fix.into(),
        })
    }
}

/// The full path of `program` on PATH.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Runs a host command, returning its stdout; on failure the error carries the command and
/// the last lines it printed.
async fn run_command(
    program: &str,
    args: &[&str],
    cwd: Option<&Path>,
) -> Result<Vec<u8>, ImageError> {
    let mut command = tokio::process::Command::new(program);
    if program == "npm" {
        command.envs(npm_env());
    }
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let shown = format!("{program} {}", args.join(" "));
    let output = command
        .output()
        .await
        .map_err(io_err(format!("starting `{shown}`")))?;
    if output.status.success() {
        return Ok(output.stdout);
    }
    let text = String::from_utf8_lossy(&output.stderr).to_string()
        + &String::from_utf8_lossy(&output.stdout[output.stdout.len().saturating_sub(4000)..]);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    Err(ImageError::Command {
        command: shown,
        status: output.status.to_string(),
        tail: lines[lines.len().saturating_sub(5)..].join(" | "),
    })
}

/// The first non-security Debian mirror in the host's apt configuration.
pub fn host_apt_mirror() -> Option<String> {
    let mut texts = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            if let Ok(text) = std::fs::read_to_string(&path) {
                texts.push((path, text));
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string("/etc/apt/sources.list") {
        texts.push(("/etc/apt/sources.list".into(), text));
    }
    texts
        .iter()
        .find_map(|(path, text)| mirror_from_apt_source(path, text))
}

/// Reads a mirror URI from one apt source file, deb822 (`.sources`) or one-line format.
pub fn mirror_from_apt_source(path: &Path, text: &str) -> Option<String> {
    let usable = |uri: &str| uri.starts_with("http") && !uri.contains("security");
    let is_deb822 = path.extension().is_some_and(|ext| ext == "sources");
    if is_deb822 {
        text.lines()
            .filter_map(|line| line.trim().strip_prefix("URIs:"))
            .flat_map(str::split_whitespace)
            .find(|uri| usable(uri))
            .map(|uri| uri.trim_end_matches('/').to_string())
    } else {
        text.lines()
            .map(str::trim)
            .filter(|line| line.starts_with("deb "))
            .filter_map(|line| {
                line.split_whitespace()
                    .skip(1)
                    .find(|word| !word.starts_with('['))
            })
            .find(|uri| usable(uri))
            .map(|uri| uri.trim_end_matches('/').to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_is_read_from_deb822_sources_skipping_security() {
        let text = "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: x-security\n\nTypes: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n";
        assert_eq!(
            mirror_from_apt_source(Path::new("debian.sources"), text).as_deref(),
            Some("http://mirror.example/debian")
        );
    }

    #[test]
    fn mirror_is_read_from_one_line_sources_with_options() {
        let text = "# comment\ndeb [arch=amd64] http://mirror.example/debian bookworm main\n";
        assert_eq!(
            mirror_from_apt_source(Path::new("sources.list"), text).as_deref(),
            Some("http://mirror.example/debian")
        );
    }

    #[test]
    fn app_hash_changes_with_content_and_base_but_ignores_node_modules() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("server.js"), "a").unwrap();
        let first = app_hash(dir.path(), "base:1").unwrap();
        std::fs::create_dir(dir.path().join("node_modules")).unwrap();
        std::fs::write(dir.path().join("node_modules/x.js"), "b").unwrap();
        assert_eq!(first, app_hash(dir.path(), "base:1").unwrap());
        assert_ne!(first, app_hash(dir.path(), "base:2").unwrap());
        std::fs::write(dir.path().join("server.js"), "c").unwrap();
        assert_ne!(first, app_hash(dir.path(), "base:1").unwrap());
    }

    #[test]
    fn build_context_holds_app_files_and_the_ca_but_not_node_modules() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM x").unwrap();
        std::fs::create_dir(dir.path().join("node_modules")).unwrap();
        std::fs::write(dir.path().join("node_modules/x.js"), "b").unwrap();
        let tar = tar_dir(dir.path(), Some((CA_IN_CONTEXT, b"ca"))).unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, ["Dockerfile", CA_IN_CONTEXT]);
    }

    /// npm writes a debug log on every command (`~/.npm/_logs`) and caches in `~/.npm`:
    /// the npm faceoff runs keeps both in faceoff's own cache directory.
    #[tokio::test]
    async fn npm_run_by_faceoff_leaves_the_users_npm_directory_alone() {
        if find_on_path("npm").is_none() {
            return;
        }
        let home = tempfile::tempdir().unwrap();
        // The command an image build runs to find the host's registry.
        let cache = home.path().join("cache/faceoff");
        let output = tokio::process::Command::new("npm")
            .args(["config", "get", "registry"])
            .env("HOME", home.path())
            .envs(npm_env_in(&cache))
            .output()
            .await
            .unwrap();
        assert!(output.status.success());
        assert!(!home.path().join(".npm").exists(), "npm wrote into ~/.npm");
        assert!(cache.join("npm/_logs").is_dir());
    }

    #[test]
    fn builds_run_on_the_host_network_like_the_containers() {
        let args = HashMap::from([("BASE_IMAGE", "faceoff/base-node:1")]);
        let options = build_options("faceoff/express:abc", &args, &HashMap::new());
        assert_eq!(options.networkmode.as_deref(), Some("host"));
    }

    #[test]
    fn a_python_variant_builds_on_its_own_debian_suite_and_a_node_variant_on_the_pinned_one() {
        let fixtures =
            Fixtures::load(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("fixtures load");
        let variants = fixtures
            .version_variants(
                fixtures
                    .select_targets(&["express".into(), "fastapi".into()])
                    .unwrap(),
                &["20".into()],
                &["3.11".into(), "3.13".into()],
            )
            .unwrap();
        let node20 = BasePlan::for_target(&fixtures, &variants[0]);
        assert_eq!(node20.node_version, "20.20.2");
        assert_eq!(node20.debian_image, fixtures.bases.debian.image);
        let py311 = BasePlan::for_target(&fixtures, &variants[1]);
        assert_eq!(py311.debian_image, "faceoff/base-debian:bookworm");
        assert_eq!(py311.image, "faceoff/base-python:3.11-bookworm");
        let py313 = BasePlan::for_target(&fixtures, &variants[2]);
        assert_eq!(py313, BasePlan::pinned(&fixtures, Language::Python));
    }

    #[test]
    fn split_tag_handles_registry_ports() {
        assert_eq!(
            split_tag("faceoff/base-node:24.21.0"),
            ("faceoff/base-node", "24.21.0")
        );
        assert_eq!(split_tag("host:5000/img"), ("host:5000/img", "latest"));
    }
}
