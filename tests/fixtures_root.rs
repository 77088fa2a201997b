//! Issue #13, item 8: which checkout's fixtures a command uses. A `fixtures/` missing some
//! of its files is refused in one line naming them, never passed over for the checkout the
//! binary was built from; when no checkout is found, the built-from one is named.

use std::path::Path;

use assert_cmd::Command;

const BUILT_FROM: &str = env!("CARGO_MANIFEST_DIR");

fn faceoff_in(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("faceoff").expect("binary built");
    cmd.current_dir(dir).env_remove("FACEOFF_ROOT");
    cmd
}

#[test]
fn a_checkout_without_targets_toml_is_refused_in_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("fixtures")).unwrap();
    for name in [
        "workloads.toml",
        "bases.toml",
        "profiles.toml",
        "claims.toml",
    ] {
        std::fs::copy(
            Path::new(BUILT_FROM).join("fixtures").join(name),
            dir.path().join("fixtures").join(name),
        )
        .unwrap();
    }
    let output = faceoff_in(dir.path()).arg("list").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        output.stdout.is_empty(),
        "nothing listed from another checkout"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(&dir.path().join("fixtures").display().to_string())
            && stderr.contains("targets.toml missing")
            && stderr.contains("--root"),
        "{stderr}"
    );
}

#[test]
fn outside_any_checkout_doctor_and_every_command_name_the_built_from_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let output = faceoff_in(dir.path())
        .args(["--runtime", "local", "doctor"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let fixtures = Path::new(BUILT_FROM).join("fixtures").display().to_string();
    let line = stdout
        .lines()
        .find(|l| l.contains("fixtures:"))
        .unwrap_or_else(|| panic!("no fixtures line: {stdout}"));
    assert!(
        line.contains(&fixtures) && line.contains("built from"),
        "{line}"
    );
    assert!(
        stderr.contains(&format!("warning: using the fixtures in {fixtures}")),
        "{stderr}"
    );
}

#[test]
fn inside_the_checkout_doctor_names_it_without_a_warning() {
    let output = faceoff_in(Path::new(BUILT_FROM).join("src").as_path())
        .args(["--runtime", "local", "doctor"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains(&format!(
            "fixtures: {BUILT_FROM}/fixtures (found from the current directory)"
        )),
        "{stdout}"
    );
    assert!(!stderr.contains("using the fixtures"), "{stderr}");
}
