//! The sharkbench workload end to end on a real Docker engine: Sharkbench's data server as a
//! service, one Node and one Python target fetching from it, the data server stopped for the
//! 502 cases, and no container left afterwards.
//!
//! Needs a Docker engine (`.ci/setup-host` starts one). Without one this test fails, unless
//! FACEOFF_SKIP_DOCKER_TESTS=1 says to skip it.

mod common;
use common::{containers_with, faceoff, run_dir_in, skip};

#[tokio::test(flavor = "multi_thread")]
async fn sharkbench_is_verified_on_node_and_python_with_its_data_server_up_and_down() {
    if skip() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let verify = faceoff()
        .args([
            "verify",
            "--workload",
            "sharkbench",
            "--targets",
            "fastify,fastapi",
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("faceoff runs");
    let stdout = String::from_utf8_lossy(&verify.stdout);
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success(),
        "verify failed:\n{stdout}\n{stderr}"
    );

    let dir = run_dir_in(out.path()).expect("verify wrote its files");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("verify.json")).unwrap()).unwrap();
    for target in report["targets"].as_array().unwrap() {
        let name = target["target"].as_str().unwrap();
        let cases = target["cases"].as_array().unwrap();
        for id in ["sharkbench.element", "sharkbench.data_server_down"] {
            let case = cases
                .iter()
                .find(|c| c["id"] == id)
                .unwrap_or_else(|| panic!("{name} ran {id}"));
            assert_eq!(case["passed"], true, "{name} {id}: {case}");
        }
        let down = cases
            .iter()
            .find(|c| c["id"] == "sharkbench.data_server_down")
            .unwrap();
        assert_eq!(down["status"], 502, "{name}");
    }

    let run_id = dir.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        containers_with(&format!("faceoff.run={run_id}"))
            .await
            .is_empty(),
        "a container of the verify run is left"
    );
}
