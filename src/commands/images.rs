//! `faceoff images build`: builds the offline base images and the app images.

use std::process::ExitCode;

use anyhow::Result;
use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;

use crate::run::Ui;
use crate::runtime::Runtime;
use crate::runtime::docker::DockerRuntime;

use super::{EXIT_INTERRUPTED, shutdown_signal};

pub async fn images_build(
    runtime: &DockerRuntime,
    targets: &[crate::config::Target],
    ui: Ui,
) -> Result<ExitCode> {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(["target", "image", "id", "base", "built"]);
    let work = async {
        for target in targets {
            ui.step(&format!("[build] {}", target.name));
            let progress = |line: &str| ui.step(&format!("  {line}"));
            let prepared = runtime.prepare(target, &progress).await?;
            if let Some(image) = prepared.image {
                table.add_row(image_row(image));
            }
        }
        anyhow::Ok(())
    };
    tokio::select! {
        result = work => result?,
        _ = shutdown_signal() => {
            eprintln!("interrupted: build stopped");
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
    }
    println!("{table}");
    Ok(ExitCode::SUCCESS)
}

/// One row of the table: target, tag, short id, base, and whether it was built now.
fn image_row(image: crate::images::AppImage) -> [String; 5] {
    [
        image.target,
        image.tag,
        image
            .image_id
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect(),
        image.base_image,
        if image.built { "built" } else { "up to date" }.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_row_shows_the_short_id_and_whether_it_was_built() {
        let image = crate::images::AppImage {
            target: "express".into(),
            tag: "faceoff/express:abc".into(),
            image_id: "sha256:0123456789abcdef".into(),
            base_image: "faceoff/node:24".into(),
            base_image_id: String::new(),
            app_hash: String::new(),
            lockfile_sha256: String::new(),
            built: false,
            size_bytes: None,
        };
        assert_eq!(
            image_row(image),
            [
                "express",
                "faceoff/express:abc",
                "0123456789ab",
                "faceoff/node:24",
                "up to date"
            ]
        );
    }
}
