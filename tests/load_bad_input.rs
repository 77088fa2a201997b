//! `faceoff load` on bad input, through the binary: each case ends with a clear one-line
//! message (or a warning) and an exit code CI can act on. And its `--no-keep-alive`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::time::Duration;

use assert_cmd::Command;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

fn faceoff() -> Command {
    let mut command = Command::cargo_bin("faceoff").unwrap();
    command.env("FACEOFF_ROOT", env!("CARGO_MANIFEST_DIR"));
    command
}

/// A hyper server on 127.0.0.1 that answers `ok` after `delay`.
fn start_server(delay: Duration) -> (SocketAddr, tokio::runtime::Runtime) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(move |_request| async move {
                    tokio::time::sleep(delay).await;
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, runtime)
}

fn one_line_error(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr).into_owned();
    assert_eq!(text.trim_end().lines().count(), 1, "not one line: {text}");
    assert!(text.starts_with("error: "), "{text}");
    text
}

#[test]
fn load_refuses_a_url_that_is_not_on_this_machine() {
    let output = faceoff()
        .args(["load", "http://10.1.2.3:8080/status", "-d", "1s"])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1));
    let error = one_line_error(&output.stderr);
    assert!(
        error.contains("refusing to send load to http://10.1.2.3:8080/status"),
        "{error}"
    );
    assert!(error.contains("127.0.0.1"), "{error}");
}

#[test]
fn load_says_nothing_listens_when_the_target_is_down() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    let output = faceoff()
        .args(["load", &format!("http://127.0.0.1:{port}/"), "-d", "1s"])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1));
    let error = one_line_error(&output.stderr);
    assert!(
        error.contains(&format!("nothing listens on 127.0.0.1:{port}")),
        "{error}"
    );
}

#[test]
fn load_warns_and_reports_a_rate_it_could_not_send() {
    // Two connections to a server taking 50 ms per answer carry at most 40 req/s.
    let (addr, _server) = start_server(Duration::from_millis(50));

    let output = faceoff()
        .args(["load", &format!("http://{addr}/"), "-c", "2", "-d", "1s"])
        .args(["--rate", "1000", "--json"])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("warning: asked for 1000 req/s but sent"),
        "{stderr}"
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let open = &json["open_loop"];
    assert_eq!(open["requested_rate"], 1000.0);
    assert!(open["achieved_rate"].as_f64().unwrap() < 100.0, "{open}");
    assert!(open["unsent"].as_u64().unwrap() > 500, "{open}");
}

#[test]
fn load_without_keep_alive_opens_a_connection_for_every_request() {
    let (addr, _server) = start_server(Duration::ZERO);

    let output = faceoff()
        .args(["load", &format!("http://{addr}/"), "-c", "2", "-d", "1s"])
        .args(["--max-requests", "100", "--no-keep-alive", "--json"])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["requests"], 100, "{json}");
    let opened = json["connections_opened"].as_u64().unwrap();
    assert!(
        (100..=102).contains(&opened),
        "{opened} connections: {json}"
    );
}

/// `faceoff` with its open-file limit set to `soft` / `hard` before it starts.
fn faceoff_with_file_limit(soft: u64, hard: u64) -> std::process::Command {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("faceoff"));
    command.env("FACEOFF_ROOT", env!("CARGO_MANIFEST_DIR"));
    // SAFETY: setrlimit is async-signal-safe and touches only the child being started.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    command
}

#[test]
fn load_raises_a_soft_open_file_limit_below_the_connections() {
    let (addr, _server) = start_server(Duration::ZERO);

    let output = faceoff_with_file_limit(256, 4096)
        .args(["load", &format!("http://{addr}/"), "-c", "1000", "-d", "1s"])
        .args(["--warmup", "1s", "--json"])
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["connections"], 1000);
    assert!(
        json["connections_opened"].as_u64().unwrap() >= 1000,
        "{json}"
    );
    assert_eq!(json["errors"]["connect"], 0, "{json}");
}

#[test]
fn load_says_how_to_raise_an_open_file_limit_too_low_for_the_connections() {
    let mut command = faceoff_with_file_limit(256, 256);
    command.args(["load", "http://127.0.0.1:9/", "-c", "5000", "-d", "1s"]);

    let output = command.output().unwrap();

    assert_eq!(output.status.code(), Some(1));
    let error = one_line_error(&output.stderr);
    assert!(
        error.contains("5000 connections need 5064 open files"),
        "{error}"
    );
    assert!(error.contains("ulimit -n 5064"), "{error}");
}
