//! `faceoff doctor`: checks that this host can run faceoff.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::config::Fixtures;
use crate::images;
use crate::runtime::docker;
use crate::runtime::engines::{self, Role};
use crate::runtime::{self as rt, RuntimeKind};

pub async fn doctor(fixtures: &Fixtures, kind: RuntimeKind) -> Result<ExitCode> {
    let mut failures = 0;
    let mut line = |ok: bool, what: &str, detail: String| {
        if !ok {
            failures += 1;
        }
        println!("{} {what}: {detail}", if ok { "OK  " } else { "FAIL" });
    };
    line(true, "fixtures", fixtures.fixtures_root().to_string());
    let cpus = rt::host_cpu_count();
    line(
        cpus >= 2,
        "CPUs",
        if cpus >= 2 {
            format!("{cpus} online (server on cpuset 1, generator on the rest)")
        } else {
            format!(
                "{cpus} online: the server and the generator will share a CPU; use a host with 2 or more"
            )
        },
    );
    for (program, fix) in [
        (
            "node",
            "install Node.js 20+ (needed by --runtime local and to build the offline Node base)",
        ),
        (
            "npm",
            "install npm (needed to build the offline Node base and for --runtime local)",
        ),
        (
            "python3",
            "install python3 with venv (needed by --runtime local)",
        ),
    ] {
        match images::find_on_path(program) {
            Some(path) => line(true, program, version_of(&path)),
            None => line(false, program, format!("not on PATH: {fix}")),
        }
    }
    for (ok, what, detail) in crate::instrument::tool_checks() {
        line(ok, what, detail);
    }
    let mut roles = vec![Role::Targets];
    if engines::services_apart() {
        roles.push(Role::Services);
    }
    for role in roles.into_iter().filter(|_| kind == RuntimeKind::Docker) {
        // The targets' engine keeps the plain names; another role's lines say whose they are.
        let of = |what: &str| match role {
            Role::Targets => what.to_string(),
            Role::Services => format!("services {what}"),
        };
        match docker::connect_role(role).await {
            Err(err) => line(false, &of("engine"), err.to_string()),
            Ok(client) => {
                match docker::engine_info(&client).await {
                    Ok(info) => {
                        line(
                            true,
                            &of("engine"),
                            format!(
                                "Docker {} (API {}) at {}",
                                info.version,
                                info.api_version,
                                engines::spec(role)
                                    .map(|spec| spec.endpoint)
                                    .unwrap_or(info.endpoint)
                            ),
                        );
                        line(
                            true,
                            &of("cgroup"),
                            format!("v{} ({} driver)", info.cgroup_version, info.cgroup_driver),
                        );
                        line(
                            info.cpus >= 2,
                            &of("engine CPUs"),
                            format!("{} (memory {} MiB)", info.cpus, info.memory_bytes / 1048576),
                        );
                    }
                    Err(err) => line(false, &of("engine"), err.to_string()),
                }
                for image in [
                    &fixtures.bases.debian.image,
                    &fixtures.bases.node.image,
                    &fixtures.bases.python.image,
                ] {
                    match images::image_id(&client, image).await {
                        Ok(Some(id)) => line(
                            true,
                            &of("base image"),
                            format!("{image} ({})", &id.trim_start_matches("sha256:")[..12]),
                        ),
                        Ok(None) => line(
                            false,
                            &of("base image"),
                            match role {
                                Role::Targets => format!(
                                    "{image} missing: `faceoff images build` makes it offline"
                                ),
                                Role::Services => format!(
                                    "{image} missing: `faceoff --target-engine {} images build` makes it offline there (a run builds it too)",
                                    engines::spec(role).map(|s| s.endpoint).unwrap_or_default()
                                ),
                            },
                        ),
                        Err(err) => line(false, &of("base image"), format!("{image}: {err}")),
                    }
                }
                let leftovers = super::clean::leftover_lines(&client).await;
                if leftovers.is_empty() {
                    line(true, &of("leftovers"), "no containers of dead runs".into());
                }
                for leftover in leftovers {
                    line(false, &of("leftovers"), leftover);
                }
                if role != Role::Targets {
                    continue;
                }
                match images::find_on_path("debootstrap") {
                    Some(_) => line(true, "debootstrap", "present".into()),
                    None => line(
                        false,
                        "debootstrap",
                        "not on PATH: apt-get install debootstrap (builds the offline Debian base)"
                            .into(),
                    ),
                }
                match images::host_apt_mirror() {
                    Some(mirror) => line(true, "apt mirror", mirror),
                    None => line(
                        false,
                        "apt mirror",
                        "none in the host's apt configuration: pass --mirror URL to images build"
                            .into(),
                    ),
                }
            }
        }
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub fn version_of(path: &Path) -> String {
    std::process::Command::new(path)
        .arg("--version")
        .envs(images::npm_env())
        .output()
        .ok()
        .map(|out| {
            String::from_utf8_lossy(&out.stdout).trim().to_string()
                + String::from_utf8_lossy(&out.stderr).trim()
        })
        .filter(|v| !v.is_empty())
        .map(|v| format!("{v} ({})", path.display()))
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_that_prints_no_version_is_named_by_its_path() {
        assert_eq!(
            version_of(Path::new("/nonexistent/node")),
            "/nonexistent/node"
        );
    }
}
