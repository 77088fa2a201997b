//! The HTML report in a real browser: headless Chromium (Debian's `chromium`) loads the page
//! `faceoff report --format html` writes from a real results file; the page must render,
//! hold its three SVG charts, and leave nothing on the console.
//!
//! Needs `chromium` (`.ci/setup-host` installs it). Skipped only when it is missing AND
//! FACEOFF_SKIP_BROWSER_TESTS=1 is set; missing without that variable is a failure, so CI
//! cannot pass without looking.

use std::path::{Path, PathBuf};
use std::process::Command;

const FIXTURE: &str = "tests/fixtures/results-express-fastapi.json";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|path| path.is_file())
            })
        })
}

/// What headless Chromium made of a page: the DOM after load and the console lines it
/// logged.
struct Rendered {
    dom: String,
    console: Vec<String>,
}

fn render(browser: &Path, page: &Path, profile: &Path) -> Rendered {
    let url = format!("file://{}", page.display());
    let base = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
    ];
    let output = Command::new(browser)
        .args(base)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(output.status.success(), "chromium failed: {output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    Rendered {
        dom: String::from_utf8_lossy(&output.stdout).into_owned(),
        // Chromium logs every console message (errors, failed loads, logs) as a CONSOLE line.
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(str::to_string)
            .collect(),
    }
}

#[test]
fn html_report_renders_in_chromium_with_its_charts_and_no_console_errors() {
    let Some(browser) = chromium() else {
        if std::env::var_os("FACEOFF_SKIP_BROWSER_TESTS").is_some_and(|v| v == "1") {
            eprintln!(
                "skipped: chromium is not installed and FACEOFF_SKIP_BROWSER_TESTS=1 (apt-get install chromium, or run .ci/setup-host)"
            );
            return;
        }
        panic!(
            "chromium is not installed: apt-get install chromium (or run .ci/setup-host); set FACEOFF_SKIP_BROWSER_TESTS=1 to skip this test"
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    assert_cmd::Command::cargo_bin("faceoff")
        .expect("binary built")
        .arg("--root")
        .arg(root())
        .args(["report", FIXTURE, "--format", "html", "-o"])
        .arg(&page)
        .current_dir(root())
        .assert()
        .success();

    // The console check must be able to fail: a page with a script error is caught.
    let broken = dir.path().join("broken.html");
    std::fs::write(
        &broken,
        "<!doctype html><title>x</title><script>console.error('deliberate'); missing();</script>",
    )
    .unwrap();
    let control = render(&browser, &broken, &dir.path().join("profile-control"));
    assert!(
        control.console.iter().any(|l| l.contains("deliberate")),
        "chromium did not report a console error of a broken page, so the check below means nothing: {:?}",
        control.console
    );

    let rendered = render(&browser, &page, &dir.path().join("profile"));
    assert!(
        rendered.console.is_empty(),
        "console messages: {:#?}",
        rendered.console
    );
    for id in ["chart-throughput", "chart-latency", "chart-memory"] {
        assert!(
            rendered.dom.contains(&format!("<svg id=\"{id}\"")),
            "chart {id} missing from the rendered page"
        );
    }
    assert_eq!(rendered.dom.matches("<svg ").count(), 3);
    assert!(rendered.dom.contains("<polyline "), "no line drawn");
    assert!(
        rendered.dom.contains("id=\"claims\""),
        "no claims table in the rendered page"
    );

    // It also paints: a screenshot of the page is a real image, not a blank.
    let shot = dir.path().join("report.png");
    let status = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1280,2000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile-shot").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(status.status.success(), "screenshot failed: {status:?}");
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    // A blank 1280x2000 page compresses to a few KiB; text and charts take far more.
    assert!(png.len() > 60_000, "screenshot only {} bytes", png.len());
}
