//! The rate sweep end to end through the library: open-loop steps at increasing rates against
//! an in-process server that can answer only a few hundred requests per second.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Method, Response};
use hyper_util::rt::TokioIo;

use faceoff::load::{LiveCounters, LoadSpec};
use faceoff::sweep::{Limit, LoadPlan, SweepPlan, drive};

/// A hyper server on 127.0.0.1 that answers one request at a time, each after `work`:
/// at most `1 / work` requests per second, whatever the connections.
fn start_slow_server(work: Duration) -> (SocketAddr, tokio::runtime::Runtime) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let one_at_a_time = Arc::new(tokio::sync::Mutex::new(()));
    runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        while let Ok((stream, _)) = listener.accept().await {
            let lock = Arc::clone(&one_at_a_time);
            tokio::spawn(async move {
                let service = service_fn(move |_request| {
                    let lock = Arc::clone(&lock);
                    async move {
                        let _turn = lock.lock().await;
                        tokio::time::sleep(work).await;
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, runtime)
}

#[test]
fn a_sweep_stops_at_the_first_rate_the_server_cannot_sustain() {
    // About 250 requests per second at most.
    let (addr, _server) = start_slow_server(Duration::from_millis(4));
    let spec = LoadSpec {
        url: format!("http://{addr}/").parse().unwrap(),
        method: Method::GET,
        body: None,
        connections: 20,
        threads: 1,
        cpus: Vec::new(),
        warmup: Duration::ZERO,
        duration: Duration::from_secs(1),
        max_requests: None,
        request_timeout: Duration::from_secs(2),
        keep_alive: true,
    };
    let plan = LoadPlan::Sweep(SweepPlan {
        rates: vec![25.0, 50.0, 2000.0, 4000.0],
        // Loose: a busy test host may stall a request now and then; the server's queue at
        // 2000 req/s grows by far more than this within the second.
        p99_limit_ms: 400.0,
        error_limit: 0.01,
    });

    let driven = drive(&spec, &plan, Arc::new(LiveCounters::default())).unwrap();

    let sweep = driven.sweep.expect("a sweep result");
    let rates: Vec<f64> = sweep.steps.iter().map(|s| s.rate).collect();
    assert_eq!(
        rates,
        [25.0, 50.0, 2000.0],
        "stops after the first broken step"
    );
    assert!(sweep.steps[0].sustained(), "{:?}", sweep.steps[0]);
    assert!(sweep.steps[1].sustained(), "{:?}", sweep.steps[1]);
    let broken = &sweep.steps[2];
    assert!(broken.broke.contains(&Limit::Rate), "{broken:?}");
    assert!(broken.broke.contains(&Limit::P99), "{broken:?}");
    assert_eq!(sweep.max_sustainable_rate, Some(50.0));
    // The headline figures are those of the step at the max sustainable rate.
    let open = driven.report.open_loop.expect("open-loop figures");
    assert_eq!(open.requested_rate, 50.0);
}

/// `faceoff run --profile rate-sweep` end to end on the local-process runtime (fastify on the
/// host's node, dependencies from its lockfile, installs cached under target/ as in
/// tests/local_e2e.rs): each step is in results.json and the summary names the max
/// sustainable rate. Asserts the shape, not the rate: that depends on the host.
#[test]
fn run_with_the_rate_sweep_profile_records_every_step_and_the_max_sustainable_rate() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_faceoff"))
        .current_dir(root)
        .env(
            "XDG_CACHE_HOME",
            root.join("target").join("faceoff-test-cache"),
        )
        .args(["--runtime", "local", "run", "--profile", "rate-sweep"])
        .args(["--targets", "fastify", "--duration", "1s", "--warmup", "0s"])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let run_dir = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let results = faceoff::results::read(&run_dir.join("results.json")).unwrap();
    assert_eq!(results.parameters.profile, "rate-sweep");
    let trial = &results.targets[0].trials[0];
    let sweep = trial.sweep.as_ref().expect("a sweep in the trial");
    assert_eq!(sweep.p99_limit_ms, 50.0);
    assert!(!sweep.steps.is_empty());
    let profile_rates = [500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0, 32000.0];
    for (step, rate) in sweep.steps.iter().zip(profile_rates) {
        assert_eq!(step.rate, rate);
        assert_eq!(step.open_loop.requested_rate, rate);
        assert!(step.latency.p9999_ms >= step.latency.p99_ms, "{step:?}");
    }
    // Every step but the last held; the last held too only if the sweep ran out of rates.
    let (last, held) = sweep.steps.split_last().unwrap();
    assert!(held.iter().all(|step| step.sustained()), "{sweep:?}");
    assert!(
        !last.sustained() || sweep.steps.len() == profile_rates.len(),
        "{sweep:?}"
    );
    let expected = sweep
        .steps
        .iter()
        .take_while(|step| step.sustained())
        .last()
        .map(|step| step.rate);
    assert_eq!(sweep.max_sustainable_rate, expected);
    assert!(trial.open_loop.is_some());
    assert!(!trial.resources.samples.is_empty());
    assert!(
        stdout.contains("fastify: max sustainable rate")
            || stdout.contains("fastify: no sustainable rate"),
        "{stdout}"
    );
}
