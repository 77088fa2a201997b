//! Issue 16: the target and the database on separate Docker engines. A second `dockerd`
//! starts on this host with its own socket, data root and exec root, and a TLS port on
//! 127.0.0.1 whose certificates the test makes with the openssl CLI; it stands in for a
//! remote target host (loopback addresses stand in for the remote ones: traffic stays on
//! 127.0.0.1). Only the images the target needs are copied to it.
//!
//! One test, to keep CI's cost down: on the second engine, the stats API and the cgroup
//! files agree on a busy container; a wrongly authenticated engine and a missing services
//! engine are refused in one line with exit code 2 and leave nothing behind; then
//! `faceoff run --workload db` verifies and times express on the second engine against
//! PostgreSQL on the first, records both hosts, and leaves no container on either. The
//! second engine is stopped by its pidfile.
//!
//! Needs a Docker engine, `dockerd` and `openssl` (`.ci/setup-host` installs them). Without
//! an engine it fails, unless FACEOFF_SKIP_DOCKER_TESTS=1 says to skip it.

mod common;
use common::{build_images_once, containers_with, faceoff, root, run_dir_in, skip};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::ListContainersOptionsBuilder;
use faceoff::config::Fixtures;
use faceoff::results::{self, RunStatus, TargetStatus};
use faceoff::runtime::Limits;
use faceoff::runtime::docker::{self, SAMPLING_TOLERANCE};

/// Runs a command that must succeed (openssl, docker save/load).
fn must(command: &mut Command) {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A certificate authority and certificates it signs, made with the openssl CLI.
struct Certificates {
    dir: PathBuf,
}

impl Certificates {
    fn authority(dir: &Path, name: &str) -> Certificates {
        std::fs::create_dir_all(dir).unwrap();
        must(
            Command::new("openssl")
                .current_dir(dir)
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "1",
                    "-keyout",
                    "ca-key.pem",
                    "-out",
                    "ca.pem",
                    "-subj",
                ])
                .arg(format!("/CN={name}")),
        );
        Certificates {
            dir: dir.to_path_buf(),
        }
    }

    /// Signs a key pair `prefix`-key.pem / `prefix`.pem with `extensions`.
    fn sign(&self, prefix: &str, subject: &str, extensions: &str) {
        let ext = self.dir.join(format!("{prefix}.ext"));
        std::fs::write(&ext, extensions).unwrap();
        must(
            Command::new("openssl")
                .current_dir(&self.dir)
                .args(["req", "-newkey", "rsa:2048", "-nodes", "-keyout"])
                .arg(format!("{prefix}-key.pem"))
                .arg("-out")
                .arg(format!("{prefix}.csr"))
                .arg("-subj")
                .arg(subject),
        );
        must(
            Command::new("openssl")
                .current_dir(&self.dir)
                .args([
                    "x509",
                    "-req",
                    "-days",
                    "1",
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca-key.pem",
                    "-CAcreateserial",
                    "-in",
                ])
                .arg(format!("{prefix}.csr"))
                .arg("-out")
                .arg(format!("{prefix}.pem"))
                .arg("-extfile")
                .arg(&ext),
        );
    }

    /// A client directory as DOCKER_CERT_PATH holds it: ca.pem, cert.pem, key.pem.
    fn client_dir(&self, trusted_ca: &Path, into: &Path) -> PathBuf {
        self.sign(
            "client",
            "/CN=faceoff-client",
            "extendedKeyUsage=clientAuth\n",
        );
        std::fs::create_dir_all(into).unwrap();
        std::fs::copy(trusted_ca, into.join("ca.pem")).unwrap();
        std::fs::copy(self.dir.join("client.pem"), into.join("cert.pem")).unwrap();
        std::fs::copy(self.dir.join("client-key.pem"), into.join("key.pem")).unwrap();
        into.to_path_buf()
    }
}

/// A second engine on this host, stopped by its pidfile when dropped.
struct SecondEngine {
    dir: PathBuf,
    child: Child,
    tls_port: u16,
}

impl SecondEngine {
    fn start(dir: &Path, certs: &Certificates) -> SecondEngine {
        let tls_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.join("root"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("pid"))
            .arg("-H")
            .arg(format!("unix://{}", dir.join("sock").display()))
            .arg("-H")
            .arg(format!("tcp://127.0.0.1:{tls_port}"))
            .arg("--tlsverify")
            .arg("--tlscacert")
            .arg(certs.dir.join("ca.pem"))
            .arg("--tlscert")
            .arg(certs.dir.join("server.pem"))
            .arg("--tlskey")
            .arg(certs.dir.join("server-key.pem"))
            .args(["--bridge=none", "--iptables=false", "--ip-masq=false"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("dockerd starts (is it installed?)");
        SecondEngine {
            dir: dir.to_path_buf(),
            child,
            tls_port,
        }
    }

    fn socket(&self) -> String {
        format!("unix://{}", self.dir.join("sock").display())
    }

    fn tls(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.tls_port)
    }

    async fn client(&self) -> Docker {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(docker) =
                Docker::connect_with_socket(&self.socket(), 10, bollard::API_DEFAULT_VERSION)
                && docker.ping().await.is_ok()
            {
                return docker;
            }
            assert!(
                Instant::now() < deadline,
                "the second dockerd did not answer: {}",
                std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for SecondEngine {
    fn drop(&mut self) {
        // Stopped by the pid in its pidfile, as ENVIRONMENT.md says; its child if the
        // pidfile was never written.
        let pid = std::fs::read_to_string(self.dir.join("pid"))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
            .unwrap_or(self.child.id() as i32);
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn containers_on(docker: &Docker) -> Vec<String> {
    let filters = HashMap::from([("label".to_string(), vec!["faceoff.run".to_string()])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    docker
        .list_containers(Some(options))
        .await
        .expect("list containers")
        .into_iter()
        .filter_map(|c| c.id)
        .collect()
}

/// The one `error:` line of a refused command, checked for exit code 2.
fn refused(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    errors[0].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn db_run_with_the_target_and_postgres_on_two_engines_leaves_neither_anything() {
    if skip() {
        return;
    }
    let began = Instant::now();
    build_images_once(&["express"]);
    let fixtures = Fixtures::load(root()).unwrap();
    let express = fixtures.select_targets(&["express".to_string()]).unwrap()[0].clone();
    let base = fixtures.bases.node.image.clone();
    let hash = faceoff::images::app_hash(&fixtures.app_dir(&express), &base).unwrap();
    let app_image = format!("faceoff/express:{}", &hash[..12]);

    // Certificates: the engine's CA signs its server certificate (127.0.0.1) and faceoff's
    // client certificate; a rogue CA signs another client certificate.
    let work = tempfile::tempdir().unwrap();
    let ca = Certificates::authority(&work.path().join("ca"), "faceoff-test-ca");
    ca.sign(
        "server",
        "/CN=127.0.0.1",
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    );
    let client = ca.client_dir(&ca.dir.join("ca.pem"), &work.path().join("client"));
    let rogue = Certificates::authority(&work.path().join("rogue"), "rogue-ca");
    let rogue_client = rogue.client_dir(&ca.dir.join("ca.pem"), &work.path().join("rogue-client"));

    let engine_dir = work.path().join("engine");
    std::fs::create_dir_all(&engine_dir).unwrap();
    let second = SecondEngine::start(&engine_dir, &ca);
    let remote = second.client().await;
    let up = began.elapsed();

    // Only the target's image and its base: PostgreSQL stays on the first engine.
    let copy = Instant::now();
    let mut save = Command::new("docker")
        .args(["save", &app_image, &base])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let load = Command::new("docker")
        .args(["-H", &second.socket(), "load", "-q"])
        .stdin(save.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(save.wait().unwrap().success());
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
    let copied = copy.elapsed();

    // Sampling: both paths on the same busy container of a local engine.
    let sampling = Instant::now();
    let body = ContainerCreateBody {
        image: Some(base.clone()),
        cmd: Some(vec![
            "node".into(),
            "-e".into(),
            "const a = Buffer.alloc(32 << 20, 1); for (;;) a[0]++".into(),
        ]),
        labels: Some(HashMap::from([(
            "faceoff.run".to_string(),
            "engines-e2e-sampling".to_string(),
        )])),
        host_config: Some(docker::host_config(&Limits {
            cpuset: "1".into(),
            memory_bytes: 256 << 20,
        })),
        ..Default::default()
    };
    let busy = docker::launch(&remote, "faceoff-engines-e2e-sampling", body, 0, None, true)
        .await
        .expect("the busy container starts");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (cgroup_first, stats_first) = (busy.read_cgroup(), busy.read_stats().await.unwrap());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats_call = Instant::now();
    let stats_last = busy.read_stats().await.unwrap();
    let stats_call = stats_call.elapsed();
    let cgroup_last = busy.read_cgroup();
    let (Some(cgroup_first), Some(cgroup_last)) = (cgroup_first, cgroup_last) else {
        panic!("this engine's cgroup files are not readable here");
    };
    let rate = |a: &faceoff::runtime::ResourceReading, b: &faceoff::runtime::ResourceReading| {
        (b.cpu_total_ns - a.cpu_total_ns) as f64 / b.at.duration_since(a.at).as_nanos() as f64
    };
    let (cgroup_cpu, stats_cpu) = (
        rate(&cgroup_first, &cgroup_last),
        rate(&stats_first, &stats_last),
    );
    let memory = (
        cgroup_last.memory_bytes as f64,
        stats_last.memory_bytes as f64,
    );
    // Removed at once: node as PID 1 ignores SIGTERM, and a stop would wait out its grace.
    let remove = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
        .force(true)
        .build();
    remote
        .remove_container(busy.full_id(), Some(remove))
        .await
        .unwrap();
    eprintln!(
        "sampling: CPU {cgroup_cpu:.3} (cgroup) vs {stats_cpu:.3} (stats API) of a CPU; memory {:.1} vs {:.1} MiB; a stats call took {stats_call:.0?}",
        memory.0 / 1048576.0,
        memory.1 / 1048576.0
    );
    // CPU 1 is shared with whatever else runs on the host: busy is enough.
    assert!(cgroup_cpu > 0.05, "the container was busy: {cgroup_cpu}");
    assert!(
        (cgroup_cpu - stats_cpu).abs() <= SAMPLING_TOLERANCE * cgroup_cpu,
        "CPU: cgroup {cgroup_cpu} vs stats {stats_cpu}"
    );
    assert!(
        (memory.0 - memory.1).abs() <= SAMPLING_TOLERANCE * memory.0,
        "memory: cgroup {} vs stats {}",
        memory.0,
        memory.1
    );
    let sampled = sampling.elapsed();

    let engines = |target_certs: &Path, services: &str| {
        let mut command = faceoff();
        command
            .args(["--target-engine", &second.tls(), "--target-engine-certs"])
            .arg(target_certs)
            .args(["--services-engine", services])
            .args([
                "--target-address",
                "127.0.0.1",
                "--services-address",
                "127.0.0.1",
            ]);
        command
    };
    let run_args = [
        "run",
        "--workload",
        "db",
        "--targets",
        "express",
        "--trials",
        "1",
        "--duration",
        "2s",
        "--warmup",
        "1s",
        "--connections",
        "8",
        "--db-memory",
        "512m",
    ];

    // Refusals: one line naming the role, the engine and the fix, exit code 2, nothing left.
    let out = tempfile::tempdir().unwrap();
    let wrong = refused(
        &engines(&rogue_client, "unix:///var/run/docker.sock")
            .args(run_args)
            .arg("--out")
            .arg(out.path())
            .output()
            .unwrap(),
    );
    assert!(
        wrong.contains("for the targets")
            && wrong.contains(&second.tls())
            && wrong.contains("--target-engine-certs"),
        "{wrong}"
    );
    let missing = refused(
        &engines(&client, "unix:///nonexistent/docker.sock")
            .args(run_args)
            .arg("--out")
            .arg(out.path())
            .output()
            .unwrap(),
    );
    assert!(
        missing.contains("for the services")
            && missing.contains("unix:///nonexistent/docker.sock")
            && missing.contains("--services-engine"),
        "{missing}"
    );
    assert!(
        containers_on(&remote).await.is_empty(),
        "the answering engine was left containers"
    );

    // The run: express on the second engine over TLS, PostgreSQL on the first.
    let timed = Instant::now();
    let out = tempfile::tempdir().unwrap();
    let run = engines(&client, "unix:///var/run/docker.sock")
        .args(run_args)
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "run failed:\n{stdout}\n{stderr}");
    let ran = timed.elapsed();
    let dir = run_dir_in(out.path()).expect("results written");
    let results = results::read(&dir.join("results.json")).expect("results.json parses");
    assert_eq!(results.status, RunStatus::Complete);
    let target = &results.targets[0];
    assert_eq!(target.status, TargetStatus::Ok, "{target:?}");
    let trial = &target.trials[0];
    assert!(trial.requests > 0 && trial.errors.total() == 0, "{trial:?}");
    let network = trial
        .network
        .as_ref()
        .expect("the round trip was measured before timing");
    assert!(
        network.round_trip_us > 0.0 && network.idle_status_p50_us > 0.0,
        "{network:?}"
    );
    let layout = results
        .parameters
        .layout
        .as_ref()
        .expect("the layout is a parameter");
    assert_eq!(layout.target_address, "127.0.0.1");
    let hosts = &results.manifest.engines;
    assert_eq!(hosts["targets"].engine.endpoint, second.tls());
    assert_eq!(
        hosts["services"].engine.endpoint,
        "unix:///var/run/docker.sock"
    );
    assert!(hosts["targets"].engine.cpus > 0 && !hosts["targets"].engine.kernel.is_empty());
    assert!(
        hosts["targets"].sampling.contains("cgroup files"),
        "{:?}",
        hosts["targets"]
    );
    assert!(results.services.iter().any(|s| s.name == "postgres"));
    let run_label = format!("faceoff.run={}", results.run_id);
    assert!(
        containers_on(&remote).await.is_empty(),
        "containers left on the target engine"
    );
    assert!(
        containers_with(&run_label).await.is_empty(),
        "containers left on the services engine"
    );

    drop(remote);
    let stopping = Instant::now();
    drop(second);
    assert!(
        !engine_dir.join("pid").exists(),
        "the second dockerd removes its pidfile when it stops"
    );
    eprintln!(
        "engines e2e: engine up {up:.1?}, images copied {copied:.1?}, sampling {sampled:.1?}, run {ran:.1?}, engine stopped {:.1?}, total {:.1?}",
        stopping.elapsed(),
        began.elapsed()
    );
}
