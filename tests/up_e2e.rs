//! Issue #13, item 12: `faceoff up TARGET --workload db` starts the target with the seeded
//! PostgreSQL the workload needs, as `run` does, so `/db/*` answers a user's curl; Ctrl-C
//! removes both containers.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{faceoff, skip};

/// The status code of a GET on 127.0.0.1.
fn get_status(port: u16, path: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

fn containers_of(pid: u32) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(common::containers_with(&format!("faceoff.pid={pid}")))
}

#[test]
fn up_with_the_db_workload_serves_db_reads_and_ctrl_c_removes_both_containers() {
    if skip() {
        return;
    }
    common::build_images_once(&["fastapi"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = faceoff()
        .args([
            "up",
            "fastapi",
            "--workload",
            "db",
            "--port",
            &port.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, seen) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut printed = Vec::new();
    while !printed.iter().any(|l: &String| l.contains("listening on")) {
        assert!(Instant::now() < deadline, "not up: {printed:?}");
        if let Ok(line) = seen.recv_timeout(Duration::from_millis(200)) {
            printed.push(line);
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            panic!("up ended ({status}): {printed:?} {stderr}");
        }
    }
    // The service line follows the listening line.
    if let Ok(line) = seen.recv_timeout(Duration::from_secs(2)) {
        printed.push(line);
    }
    assert!(
        printed.iter().any(|l| l.contains("with postgres at")),
        "{printed:?}"
    );
    assert_eq!(get_status(port, "/db/single"), 200, "{printed:?}");
    assert_eq!(get_status(port, "/db/multiple?count=3"), 200);
    assert_eq!(
        containers_of(child.id()).len(),
        2,
        "the target and its database"
    );

    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "up did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    assert!(containers_of(child.id()).is_empty(), "containers left");
}
