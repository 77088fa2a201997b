//! The command line, on clap's derive API. Only parsing lives here; `main` dispatches.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::images::BaseChoice;
use crate::runtime::RuntimeKind;

/// faceoff settles "Node.js vs Python" arguments with measurements: it builds real Express,
/// Fastify, FastAPI and Django servers, runs each in its own container under identical
/// limits, drives the same load against all of them and writes a reproducible comparison.
#[derive(Debug, Parser)]
#[command(name = "faceoff", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The faceoff checkout holding fixtures/ and the apps [default: found from the current
    /// directory upwards]
    #[arg(long, global = true, env = "FACEOFF_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Where targets run: containers on a Docker engine, or processes on this host
    #[arg(long, global = true, value_enum, default_value_t = RuntimeKind::Docker)]
    pub runtime: RuntimeKind,

    /// Print only results and errors, no progress
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// How long one call to the Docker engine may take before faceoff gives up on it and
    /// names it (a build may run longer, as long as the engine answers a ping)
    #[arg(long, global = true, default_value = "30s", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub engine_timeout: Duration,

    #[command(flatten)]
    pub engines: EngineArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check that this host can run faceoff: engine, API version, cgroups, CPUs, base images,
    /// node and python on PATH. Each line says OK or the fix.
    #[command(after_help = "Example:\n  faceoff doctor\n  faceoff doctor --runtime local")]
    Doctor,

    /// List the targets with language, framework version and server setup.
    #[command(after_help = "Example:\n  faceoff list")]
    List,

    /// Build images: the offline base images when missing, then the apps.
    #[command(subcommand)]
    Images(ImagesCommand),

    /// Run one target in the foreground on a printed port until Ctrl-C, for poking with curl;
    /// with --workload, the services that workload needs run beside it.
    #[command(
        after_help = "Example:\n  faceoff up fastify --port 8080\n  curl http://127.0.0.1:8080/status\n  faceoff up fastapi --workload db --port 8080\n  curl http://127.0.0.1:8080/db/single"
    )]
    Up(UpArgs),

    /// Start each target and check it against the shared contract (fixtures/contract.toml):
    /// status, headers and body of every case, bad input included, and the orders
    /// concurrency check. Writes verify.json and JUnit XML; exits 1 on any failure.
    #[command(
        after_help = "Example:\n  faceoff verify\n  faceoff verify --targets express,fastapi --workload orders,compute\n  faceoff --runtime local verify --targets fastify"
    )]
    Verify(Box<VerifyArgs>),

    /// Build what is missing, start each target in turn, drive load, write results.json and
    /// print a table.
    #[command(
        after_help = "Example:\n  faceoff run --targets express,fastify,fastapi,django,django-wsgi --workload status\n  faceoff run --targets fastify,fastapi --duration 30s --connections 100 --trials 3\n  faceoff run --workload compute --targets express,fastapi\n  faceoff run --profile three-slow --workload sleep-blocking-1s --targets express,fastapi\n  faceoff run --profile scaling --targets fastify-cluster,fastapi-workers --workload status\n  faceoff run --targets express,fastapi --node 20,24 --python 3.11,3.13 --trials 3"
    )]
    Run(Box<RunArgs>),

    /// Drive load against any URL on 127.0.0.1 with faceoff's generator and print wrk-like
    /// output (or JSON): closed loop by default, open loop (constant rate, latency from the
    /// intended send time) with --rate.
    #[command(
        after_help = "Example:\n  faceoff load http://127.0.0.1:8080/status --connections 50 --duration 10s\n  faceoff load http://127.0.0.1:8080/status --rate 5000 --connections 64 --json"
    )]
    Load(LoadArgs),

    /// Benchmark the instrument: faceoff's generator and wrk, interleaved, against nginx
    /// pinned to the other CPU; prints the req/s ratio, latencies, an open-loop check and the
    /// generator's memory at 10,000 connections.
    #[command(
        after_help = "Example:\n  faceoff calibrate\n  faceoff calibrate --rounds 5 --duration 10s"
    )]
    Calibrate(CalibrateArgs),

    /// Give every figure the articles quote (fixtures/claims.toml) a verdict from results
    /// files: reproduced, direction-only, contradicted, inconclusive or not-run, with our
    /// numbers beside theirs. With --reproduce, plan and perform the runs that judge every
    /// claim this host can judge, resumably, and write claims.md.
    #[command(
        after_help = "Example:\n  faceoff claims --reproduce --quick --plan-only\n  faceoff claims --reproduce --quick\n  faceoff claims --resume results/reproduce-quick\n  faceoff claims\n  faceoff claims --run results/20261125T120241Z-5f5f0b/results.json results/20261125T121516Z-d6cfc1"
    )]
    Claims(ClaimsArgs),

    /// Write a report of one results file: the results JSON itself, Markdown tables (fit for
    /// a GitHub job summary), one self-contained HTML page with charts, or JUnit XML (one
    /// test per claim and per contract case). Claims are judged as `faceoff claims --run`
    /// judges them.
    #[command(
        after_help = "Example:\n  faceoff report results/20261125T120241Z-5f5f0b --format html -o report.html\n  faceoff report results/20261125T120241Z-5f5f0b/results.json --format markdown >> \"$GITHUB_STEP_SUMMARY\"\n  faceoff report results/20261125T120241Z-5f5f0b --format junit -o faceoff.junit.xml"
    )]
    Report(ReportArgs),

    /// Print the targets as a GitHub Actions matrix (one line of JSON), one job per target:
    /// each job runs `faceoff run --targets <target>`, then `faceoff merge` joins the files.
    #[command(
        after_help = "Example:\n  faceoff matrix --targets express,fastify,fastapi,django --workload status\n  echo \"matrix=$(faceoff matrix)\" >> \"$GITHUB_OUTPUT\""
    )]
    Matrix(MatrixArgs),

    /// Join results files from separate jobs (one target each) into one. Refuses files from
    /// different hosts or with different parameters, naming the difference, unless
    /// --allow-mixed (which the merged file records).
    #[command(
        after_help = "Example:\n  faceoff merge results-*/*/results.json -o merged.json\n  faceoff merge a/results.json b/results.json -o merged.json --allow-mixed"
    )]
    Merge(MergeArgs),

    /// Compare a baseline results file with a current one, figure by figure (req/s, p99,
    /// memory per target) with 95% intervals. Exits 1 when a figure got worse beyond both its
    /// interval and --max-regression, 2 on error.
    #[command(
        after_help = "Example:\n  faceoff compare baseline.json merged.json --max-regression 5%\n  faceoff compare results/20261125T120241Z-5f5f0b results/20261126T090000Z-1a2b3c --json"
    )]
    Compare(CompareArgs),

    /// Re-run a published results file: rebuild the same targets from the same lockfiles
    /// (warning where image ids, lockfile hashes or versions differ), run the same
    /// parameters and seed, and check figure by figure that the original lies inside the new
    /// interval and that every claim verdict still holds. Exits 0 passed, 1 not, 2 error.
    #[command(
        after_help = "Example:\n  faceoff audit results/20261125T120241Z-5f5f0b/results.json\n  faceoff audit published.json --tolerance 15% --out audits"
    )]
    Audit(Box<AuditArgs>),

    /// Remove the containers (and with --images, the images) faceoff created: what killed runs
    /// left behind. Runs whose faceoff process still runs are spared unless --force or --run.
    #[command(
        after_help = "Example:\n  faceoff clean\n  faceoff clean --run 20261125T120000Z-3fa2c1\n  faceoff clean --force"
    )]
    Clean(CleanArgs),
}

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Build the base images (offline, when missing) and the images of the named targets
    /// (all when none is named). An app whose files did not change is not rebuilt.
    #[command(
        after_help = "Example:\n  faceoff images build\n  faceoff images build fastify fastapi --force"
    )]
    Build(ImagesBuildArgs),
}

#[derive(Debug, Args)]
pub struct ImagesBuildArgs {
    /// Targets to build [default: all]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub build: BuildArgs,
}

/// How images are built; shared by `images build`, `up` and `run`.
#[derive(Debug, Args, Clone)]
pub struct BuildArgs {
    /// CA bundle given to npm and pip inside the build, for TLS-intercepting proxies; never
    /// left in the final image. `none` for no extra CA [default: the host's bundle when
    /// present]
    #[arg(long, value_name = "PATH|none")]
    pub ca_bundle: Option<String>,
    /// Base images: faceoff's offline ones, or the official node/python images where a
    /// registry answers
    #[arg(long, value_enum, default_value_t = BaseChoice::Offline)]
    pub base: BaseChoice,
    /// Debian mirror for debootstrap [default: from the host's apt configuration]
    #[arg(long, value_name = "URL")]
    pub mirror: Option<String>,
    /// Rebuild app images even when up to date
    #[arg(long)]
    pub force: bool,
}

/// Server limits, identical for every target.
#[derive(Debug, Args, Clone)]
pub struct LimitArgs {
    /// CPUs the server container may use (cpuset syntax)
    #[arg(long, default_value = "1", value_name = "CPUS")]
    pub cpuset: String,
    /// Memory limit of the server container (e.g. 512m, 1g)
    #[arg(long, default_value = "1g", value_parser = parse_bytes, value_name = "SIZE")]
    pub memory: u64,
    /// How long a target may take to answer 200 on GET /status
    #[arg(long, default_value = "60s", value_parser = parse_positive_duration, value_name = "DURATION")]
    pub ready_timeout: Duration,
    /// Worker processes (or pool workers) of a multi-core variant, a target whose command
    /// has `{workers}` (express-cluster, fastapi-workers, …); results record the count
    /// [default: one per CPU of --cpuset]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024), value_name = "N")]
    pub workers: Option<u32>,
}

/// Limits of the auxiliary services (the db workload's PostgreSQL).
#[derive(Debug, Args, Clone)]
pub struct ServiceLimitArgs {
    /// CPUs the database container may use [default: every CPU not in --cpuset]
    #[arg(long, value_name = "CPUS")]
    pub db_cpuset: Option<String>,
    /// Memory limit of the database container
    #[arg(long, default_value = "1g", value_parser = parse_bytes, value_name = "SIZE")]
    pub db_memory: u64,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// The target to run
    pub target: String,
    /// Also start the services this workload needs, as `run` does (`db`: a seeded
    /// PostgreSQL; `sharkbench`: its data server). The target's own services (the hybrid
    /// pair's realtime service) are always started
    #[arg(long, value_name = "WORKLOAD")]
    pub workload: Option<String>,
    /// Port on 127.0.0.1 [default: a free one]
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub services: ServiceLimitArgs,
    #[command(flatten)]
    pub build: BuildArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Targets to compare, comma-separated [default: all]
    #[arg(long, value_delimiter = ',', value_name = "A,B,…")]
    pub targets: Vec<String>,
    /// The workload every target serves (see fixtures/workloads.toml)
    #[arg(long, default_value = "status")]
    pub workload: String,
    /// Load profile (see fixtures/profiles.toml); the flags below override its values
    #[arg(long, default_value = "closed-50")]
    pub profile: String,
    /// Measured time per trial, after warm-up [default: the profile's]
    #[arg(long, value_parser = parse_positive_duration)]
    pub duration: Option<Duration>,
    /// Warm-up per trial, excluded from results [default: the profile's]
    #[arg(long, value_parser = parse_duration)]
    pub warmup: Option<Duration>,
    /// Keep-alive connections [default: the profile's]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub connections: Option<u32>,
    /// Stop each trial after this many measured requests [default: the profile's, or none]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_requests: Option<u64>,
    /// Trials per target, interleaved across targets [default: the profile's, or 5]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub trials: Option<u32>,
    /// Seed of the trial order (recorded in the results; pass a recorded one to replay the
    /// same order) [default: a fresh one]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Per-request timeout; a slower answer counts as a timeout error. A workload whose
    /// requests are slow on purpose (leibniz-large) sets a longer one, which this can only raise
    #[arg(long, default_value = "5s", value_parser = parse_positive_duration)]
    pub request_timeout: Duration,
    /// CPUs for the load generator [default: every CPU not in --cpuset]
    #[arg(long, value_name = "CPUS")]
    pub generator_cpus: Option<String>,
    /// Resource sampling interval
    #[arg(long, default_value = "250ms", value_parser = parse_positive_duration)]
    pub sample_interval: Duration,
    /// Directory for results; each run writes OUT/<run-id>/results.json
    #[arg(long, default_value = "results", value_name = "DIR")]
    pub out: PathBuf,
    /// Print the results as JSON on stdout instead of a table
    #[arg(long)]
    pub json: bool,
    /// Time targets without checking them against the contract first (marked `skipped` in
    /// the results: their figures may not compare)
    #[arg(long)]
    pub skip_verify: bool,
    /// Skip the duet rounds. By default a closed-loop run of two or more targets also
    /// measures every pair at the same time on the same cpuset after each round of trials,
    /// which gives the ratios the claims are judged on (see README: duet rounds)
    #[arg(long)]
    pub no_duet: bool,
    /// Measure only these pairs in duet rounds, e.g. `fastify/fastapi,express/fastapi`
    /// [default: every pair of the targets]. Each pair adds a round after every round of
    /// trials, so a run of many targets can keep to the pairs its claims compare
    #[arg(long, value_delimiter = ',', value_name = "A/B,…", value_parser = parse_duet_pair, conflicts_with = "no_duet")]
    pub duet_pairs: Vec<[String; 2]>,
    /// Duet rounds of each pair after every round of trials, half in each start order: an
    /// even number, 2 or more. A JIT runtime's speed varies from process to process (Fastify
    /// by about ±10% here), and every duet round starts both anew, so more rounds narrow
    /// the interval of a ratio that involves one [default: 2]
    #[arg(long, value_name = "N", value_parser = parse_duet_rounds, conflicts_with = "no_duet")]
    pub duet_rounds: Option<u32>,
    /// Run each Node target once per Node version listed, e.g. `--node 20,24`: `express`
    /// becomes `express@node20` and `express@node24`, each on its own base image and named
    /// so in the results (versions with a base in fixtures/bases.toml: `faceoff list`)
    /// [default: the pinned version only, with the target's plain name]
    #[arg(long, value_delimiter = ',', value_name = "V,…")]
    pub node: Vec<String>,
    /// Run each Python target once per CPython version listed, e.g. `--python 3.11,3.13`
    /// (`fastapi@py3.11`, `fastapi@py3.13`); see --node
    #[arg(long, value_delimiter = ',', value_name = "V,…")]
    pub python: Vec<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub services: ServiceLimitArgs,
    #[command(flatten)]
    pub build: BuildArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Targets to check, comma-separated [default: all]
    #[arg(long, value_delimiter = ',', value_name = "A,B,…")]
    pub targets: Vec<String>,
    /// Workloads whose cases to run, comma-separated [default: all]
    #[arg(long, value_delimiter = ',', value_name = "W,…")]
    pub workload: Vec<String>,
    /// Directory for results; writes OUT/<run-id>/verify.json and verify.junit.xml
    #[arg(long, default_value = "results", value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub services: ServiceLimitArgs,
    #[command(flatten)]
    pub build: BuildArgs,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The URL; its host must be a loopback address
    pub url: String,
    /// Keep-alive connections
    #[arg(long, short, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub connections: u32,
    /// Measured time, after warm-up
    #[arg(long, short, default_value = "10s", value_parser = parse_positive_duration)]
    pub duration: Duration,
    /// Warm-up, excluded from the figures
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Open loop: requests per second, spread over the connections
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Generator threads
    #[arg(long, short, default_value_t = 1, value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u16).range(1..=1024), usize::from))]
    pub threads: usize,
    /// CPUs to pin the generator's threads to
    #[arg(long, value_name = "CPUS")]
    pub cpus: Option<String>,
    /// HTTP method
    #[arg(long, short = 'X', default_value = "GET")]
    pub method: String,
    /// Request body, sent as JSON
    #[arg(long, value_name = "JSON")]
    pub body: Option<String>,
    /// Stop after this many measured requests
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_requests: Option<u64>,
    /// Per-request timeout
    #[arg(long, default_value = "5s", value_parser = parse_positive_duration)]
    pub timeout: Duration,
    /// Open a new connection for every request (`Connection: close`), as Apache Bench does
    /// without -k; the closed loop's latency then includes the connect
    #[arg(long)]
    pub no_keep_alive: bool,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Connections of both generators
    #[arg(long, default_value_t = 50)]
    pub connections: usize,
    /// Length of each run (whole seconds: wrk takes whole seconds)
    #[arg(long, default_value = "5s", value_parser = parse_positive_duration)]
    pub duration: Duration,
    /// Interleaved rounds of faceoff then wrk
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// Connections held open for the memory figure; 0 skips it
    #[arg(long, default_value_t = 10_000)]
    pub memory_connections: usize,
    /// Print the calibration as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ClaimsArgs {
    /// Results files (or run directories) to judge the claims on, oldest first [default:
    /// none: every claim is listed as not run, with the command that would run it]
    #[arg(long, num_args = 1.., value_name = "RESULTS", conflicts_with_all = ["reproduce", "resume", "plan_only"])]
    pub run: Vec<PathBuf>,
    /// Print the verdicts as JSON instead of a table
    #[arg(long)]
    pub json: bool,
    /// Seed of the bootstrap resampling (recorded with the verdicts)
    #[arg(long, default_value_t = crate::stats::Bootstrap::DEFAULT_SEED)]
    pub seed: u64,
    /// Judge every claim this host can judge: plan the fewest `faceoff run`s that cover them,
    /// run them one after another, and write claims.md and claims.json. The same command
    /// again resumes: runs already complete are kept
    #[arg(long)]
    pub reproduce: bool,
    /// Print the plan (one line per run, and the time it takes) and stop
    #[arg(long)]
    pub plan_only: bool,
    /// Fewer trials (3, the fewest a paired verdict rests on) and shorter windows (5 s, 1 s
    /// warm-up, 60 s capacity ramps); the report says the reproduction was quick
    #[arg(long, conflicts_with = "resume")]
    pub quick: bool,
    /// The reproduction directory: reproduce.json (the plan and each run's status), runs/,
    /// claims.md, claims.json. One that holds the same plan is resumed [default:
    /// results/reproduce, or results/reproduce-quick with --quick]
    #[arg(long, value_name = "DIR", conflicts_with = "resume")]
    pub out: Option<PathBuf>,
    /// Resume the reproduction in DIR with its own plan: redo every run that did not
    /// complete (killed, interrupted, failed), keep the others
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Only these targets may run; claims that need others are left out [default: all]
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "A,B,…",
        conflicts_with = "resume"
    )]
    pub targets: Vec<String>,
    /// Only these claims (ids of fixtures/claims.toml) [default: all]
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "ID,…",
        conflicts_with = "resume"
    )]
    pub only: Vec<String>,
    /// Only the claims of these workloads [default: all]
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "W,…",
        conflicts_with = "resume"
    )]
    pub workload: Vec<String>,
    /// Trials of every run [default: the profile's; 3 with --quick]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100), conflicts_with = "resume")]
    pub trials: Option<u32>,
    /// Measured window of every closed-loop trial [default: the profile's; 5 s with --quick]
    #[arg(long, value_parser = parse_positive_duration, conflicts_with = "resume")]
    pub duration: Option<Duration>,
    /// Warm-up of every trial [default: the profile's; 1 s with --quick]
    #[arg(long, value_parser = parse_duration, conflicts_with = "resume")]
    pub warmup: Option<Duration>,
    #[command(flatten)]
    pub build: BuildArgs,
}

impl ClaimsArgs {
    /// Whether the command plans (and runs) a reproduction rather than judging files.
    pub fn reproducing(&self) -> bool {
        self.reproduce || self.plan_only || self.resume.is_some()
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The results file, or the run directory holding results.json
    #[arg(value_name = "RESULTS")]
    pub results: PathBuf,
    /// Output format
    #[arg(long, short, value_enum, default_value_t = crate::report::Format::Markdown)]
    pub format: crate::report::Format,
    /// Write the report to FILE [default: standard output]
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Seed of the bootstrap resampling behind the intervals and verdicts
    #[arg(long, default_value_t = crate::stats::Bootstrap::DEFAULT_SEED)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// Targets, comma-separated [default: all]
    #[arg(long, value_delimiter = ',', value_name = "A,B,…")]
    pub targets: Vec<String>,
    /// A workload to name in every job (see fixtures/workloads.toml)
    #[arg(long)]
    pub workload: Option<String>,
    /// A load profile to name in every job (see fixtures/profiles.toml)
    #[arg(long)]
    pub profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Results files (or run directories) of the jobs, two or more
    #[arg(required = true, value_name = "RESULTS")]
    pub files: Vec<PathBuf>,
    /// Where to write the merged results file
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
    /// Merge even when hosts or parameters differ; the differences are recorded in the
    /// merged file
    #[arg(long)]
    pub allow_mixed: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline results file (or run directory)
    pub baseline: PathBuf,
    /// The current results file (or run directory)
    pub current: PathBuf,
    /// How much worse a figure may get (beyond its interval) before the comparison fails
    #[arg(long, default_value = "5%", value_parser = crate::compare::parse_threshold, value_name = "PERCENT")]
    pub max_regression: f64,
    /// Print the comparison as JSON instead of a table
    #[arg(long)]
    pub json: bool,
    /// Seed of the bootstrap resampling
    #[arg(long, default_value_t = crate::stats::Bootstrap::DEFAULT_SEED)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The results file (or run directory) to audit
    pub results: PathBuf,
    /// An original figure outside the new interval still holds when it is within this much
    /// of the new median
    #[arg(long, default_value = "10%", value_parser = crate::compare::parse_threshold, value_name = "PERCENT")]
    pub tolerance: f64,
    /// Also fail when an absolute figure (req/s, p99, memory of one target) lies outside the
    /// new interval and the tolerance; by default only ratios between targets and claim
    /// verdicts decide, as absolute figures drift with whatever else the host is doing
    #[arg(long)]
    pub strict: bool,
    /// Directory for the re-run; writes OUT/audit-<id>/<run-id>/results.json and audit.json
    #[arg(long, default_value = "results", value_name = "DIR")]
    pub out: PathBuf,
    /// Print the audit as JSON instead of a table
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub build: BuildArgs,
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Only what this run left [default: every run]
    #[arg(long, value_name = "RUN_ID")]
    pub run: Option<String>,
    /// Also remove faceoff's app images (base images are kept: they are slow to rebuild)
    #[arg(long)]
    pub images: bool,
    /// Also remove the containers of runs whose faceoff still runs (or runs on another host):
    /// without it, `clean` spares them
    #[arg(long)]
    pub force: bool,
}

pub use crate::config::parse_duration;

/// A duration of at least a millisecond: a zero timeout, window or sampling interval can only
/// fail later (after targets were started), so it is refused while parsing.
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration < Duration::from_millis(1) {
        return Err(format!("`{}` is too short: give at least 1ms", text.trim()));
    }
    Ok(duration)
}

/// A duet pair, `A/B`: two different target names (checked against the run's targets later).
pub fn parse_duet_pair(text: &str) -> Result<[String; 2], String> {
    let (a, b) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}` is not a pair: write it as A/B, e.g. fastify/fastapi"))?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() || b.is_empty() || b.contains('/') {
        return Err(format!(
            "`{text}` is not a pair: write it as A/B, e.g. fastify/fastapi"
        ));
    }
    if a == b {
        return Err(format!("`{text}` pairs a target with itself"));
    }
    Ok([a.to_string(), b.to_string()])
}

/// Duet rounds per round of trials: an even number, so both start orders run as often.
pub fn parse_duet_rounds(text: &str) -> Result<u32, String> {
    let rounds: u32 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of duet rounds (e.g. 2 or 4)"))?;
    if rounds < 2 || rounds % 2 == 1 {
        return Err(format!(
            "`{text}` duet rounds cannot run both start orders equally often: give an even number, 2 or more"
        ));
    }
    Ok(rounds)
}

/// A request rate above zero, finite.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a rate in requests per second (e.g. 5000)"))?;
    if !(rate.is_finite() && rate > 0.0) {
        return Err(format!("`{text}` is not a rate above zero"));
    }
    Ok(rate)
}

/// Parses `1g`, `512m`, `1048576`, `64k` (binary units).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim().to_ascii_lowercase();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (e.g. 512m, 1g)"))?;
    let factor: u64 = match unit.trim_end_matches(['b', 'i']) {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return Err(format!("unknown unit `{unit}` in `{text}`: use k, m or g")),
    };
    let bytes = value
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))?;
    if bytes < 6 << 20 {
        return Err(format!("`{text}` is below the engine's 6 MiB minimum"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5m").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("10").unwrap_err().contains("unit"));
        assert!(parse_duration("10 parsecs").is_err());
    }

    #[test]
    fn zero_durations_counts_and_ports_are_refused_while_parsing() {
        let refused = [
            &["faceoff", "run", "--sample-interval", "0ms"][..],
            &["faceoff", "run", "--duration", "0s"],
            &["faceoff", "run", "--request-timeout", "0s"],
            &["faceoff", "run", "--ready-timeout", "0s"],
            &["faceoff", "run", "--max-requests", "0"],
            &["faceoff", "up", "express", "--port", "0"],
            &["faceoff", "load", "http://127.0.0.1:1/", "--duration", "0s"],
            &["faceoff", "load", "http://127.0.0.1:1/", "--timeout", "0ms"],
            &[
                "faceoff",
                "load",
                "http://127.0.0.1:1/",
                "--max-requests",
                "0",
            ],
            &["faceoff", "load", "http://127.0.0.1:1/", "--threads", "0"],
            &["faceoff", "load", "http://127.0.0.1:1/", "--rate", "0"],
            &["faceoff", "load", "http://127.0.0.1:1/", "--rate", "NaN"],
            &["faceoff", "calibrate", "--rounds", "0"],
        ];
        for args in refused {
            let err = Cli::try_parse_from(args).expect_err(&args.join(" "));
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{}: {err}",
                args.join(" ")
            );
        }
        let err = Cli::try_parse_from(["faceoff", "run", "--sample-interval", "0ms"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--sample-interval") && err.contains("at least 1ms"),
            "{err}"
        );
        assert!(Cli::try_parse_from(["faceoff", "run", "--sample-interval", "1ms"]).is_ok());
        assert!(Cli::try_parse_from(["faceoff", "up", "express", "--port", "8080"]).is_ok());
    }

    #[test]
    fn every_run_a_reproduction_plans_parses_as_a_run_command() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let fixtures = crate::config::Fixtures::load(root).unwrap();
        let claims = crate::claims::Claims::load(root).unwrap();
        let host = crate::reproduce::Host {
            cpus: 4,
            open_files: Some(20_000),
        };
        for quick in [true, false] {
            let options = crate::reproduce::Options {
                quick,
                ..Default::default()
            };
            let plan = crate::reproduce::plan(&claims, &fixtures, host, &options).unwrap();
            assert!(!plan.runs.is_empty());
            for run in &plan.runs {
                let mut args = vec!["faceoff".to_string()];
                args.extend(run.run_args(std::path::Path::new("/tmp/out")));
                if let Err(err) = Cli::try_parse_from(&args) {
                    panic!("{}: {err}", args.join(" "));
                }
            }
        }
    }

    #[test]
    fn duet_rounds_are_an_even_number_of_two_or_more() {
        assert_eq!(parse_duet_rounds("4"), Ok(4));
        for bad in ["0", "1", "3", "-2", "two"] {
            assert!(parse_duet_rounds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn duet_pairs_parse_as_two_different_names_and_conflict_with_no_duet() {
        let parsed = Cli::try_parse_from([
            "faceoff",
            "run",
            "--duet-pairs",
            "fastify/fastapi,express/ django",
        ])
        .unwrap();
        let Command::Run(args) = parsed.command else {
            panic!("not a run");
        };
        assert_eq!(
            args.duet_pairs,
            [["fastify", "fastapi"], ["express", "django"]]
        );
        for bad in ["fastify", "fastify/", "a/b/c", "express/express"] {
            assert!(
                Cli::try_parse_from(["faceoff", "run", "--duet-pairs", bad]).is_err(),
                "{bad}"
            );
        }
        assert!(
            Cli::try_parse_from(["faceoff", "run", "--no-duet", "--duet-pairs", "a/b"]).is_err()
        );
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
        assert!(parse_bytes("1x").is_err());
        assert!(parse_bytes("1k").unwrap_err().contains("minimum"));
    }

    #[test]
    fn every_subcommand_help_has_an_example() {
        let mut cli = Cli::command();
        let mut missing = Vec::new();
        fn walk(cmd: &mut clap::Command, path: String, missing: &mut Vec<String>) {
            let names: Vec<String> = cmd
                .get_subcommands()
                .map(|c| c.get_name().to_string())
                .collect();
            for name in names {
                let Some(sub) = cmd.find_subcommand_mut(&name) else {
                    continue;
                };
                let full = format!("{path} {name}");
                if sub.get_subcommands().next().is_some() {
                    walk(sub, full, missing);
                } else if !sub.render_long_help().to_string().contains("Example:") {
                    missing.push(full);
                }
            }
        }
        walk(&mut cli, "faceoff".into(), &mut missing);
        assert!(missing.is_empty(), "no example in the help of: {missing:?}");
    }
}

/// Which Docker engine each role uses and where each role's host is reached (the app, the
/// database and the load generator on separate hosts; see the README's "Three machines").
#[derive(Debug, Clone, Default, Args)]
pub struct EngineArgs {
    /// The engine the targets run on: unix:///path/docker.sock, tcp://HOST:PORT (TLS with
    /// --target-engine-certs) or ssh://USER@HOST (refused: forward the socket instead)
    /// [default: DOCKER_HOST, else the local socket]
    #[arg(long, global = true, value_name = "ENGINE")]
    pub target_engine: Option<String>,

    /// The directory holding ca.pem, cert.pem and key.pem for a tcp:// targets engine, as
    /// DOCKER_CERT_PATH [default: DOCKER_CERT_PATH]
    #[arg(long, global = true, value_name = "DIR")]
    pub target_engine_certs: Option<PathBuf>,

    /// The engine the services (PostgreSQL, the realtime service) run on, in the same forms
    /// [default: the targets' engine]
    #[arg(long, global = true, value_name = "ENGINE")]
    pub services_engine: Option<String>,

    /// The directory holding ca.pem, cert.pem and key.pem for a tcp:// services engine
    /// [default: DOCKER_CERT_PATH]
    #[arg(long, global = true, value_name = "DIR")]
    pub services_engine_certs: Option<PathBuf>,

    /// The IP address the targets listen on and the load generator sends to: required with a
    /// targets engine on another host, never guessed [default: 127.0.0.1]
    #[arg(long, global = true, value_name = "ADDRESS")]
    pub target_address: Option<std::net::IpAddr>,

    /// The IP address the services listen on and the targets reach them at: required with a
    /// services engine on another host, never guessed [default: 127.0.0.1]
    #[arg(long, global = true, value_name = "ADDRESS")]
    pub services_address: Option<std::net::IpAddr>,
}
