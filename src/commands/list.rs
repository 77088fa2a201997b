//! `faceoff list`: the targets with language, framework version, server setup and the
//! runtime versions each can run on (`faceoff run --node 20,24` makes `express@node20`).

use std::process::ExitCode;

use anyhow::Result;
use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;

use crate::config::{Fixtures, Language};
use crate::manifest::framework_version;

pub fn list(fixtures: &Fixtures) -> Result<ExitCode> {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "target",
        "language",
        "framework",
        "server setup",
        "app",
        "versions (* pinned)",
    ]);
    for target in &fixtures.targets {
        let version =
            framework_version(target, &fixtures.app_dir(target)).unwrap_or_else(|| "?".into());
        table.add_row([
            target.name.clone(),
            target.language.to_string(),
            format!("{} {version}", target.framework),
            // A variant's worker count is the run's (one per CPU of --cpuset, or --workers).
            target
                .server
                .replace(crate::config::WORKERS_PLACEHOLDER, "N"),
            target.app_dir.display().to_string(),
            versions_cell(fixtures, target.language),
        ]);
    }
    println!("{table}");
    println!("{}", variants_note(fixtures));
    Ok(ExitCode::SUCCESS)
}

/// `node 20, 22, 24*`: the versions with a base image, the pinned one starred.
fn versions_cell(fixtures: &Fixtures, language: Language) -> String {
    let pinned = fixtures.bases.pinned_short(language);
    let versions: Vec<String> = fixtures
        .bases
        .versions(language)
        .into_iter()
        .map(|v| if v == pinned { format!("{v}*") } else { v })
        .collect();
    format!("{language} {}", versions.join(", "))
}

/// How to run the variants, and what they are called.
fn variants_note(fixtures: &Fixtures) -> String {
    let name = |language: Language, prefix: &str| {
        let example = fixtures
            .targets
            .iter()
            .find(|t| t.language == language)
            .map_or("target", |t| t.name.as_str());
        let versions = fixtures.bases.versions(language);
        versions
            .iter()
            .map(|v| format!("{example}@{prefix}{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "Version variants: `faceoff run --node V,… --python V,…` runs each target once per version, named {} and {}; without the flags every target runs on the pinned version under its plain name.",
        name(Language::Node, "node"),
        name(Language::Python, "py")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_support::*;

    #[test]
    fn every_target_is_listed() {
        assert_eq!(list(&fixtures()).unwrap(), ExitCode::SUCCESS);
    }

    #[test]
    fn the_list_names_every_version_variant_and_stars_the_pinned_one() {
        let fixtures = fixtures();
        assert_eq!(versions_cell(&fixtures, Language::Node), "node 20, 22, 24*");
        assert_eq!(
            versions_cell(&fixtures, Language::Python),
            "python 3.11, 3.13*"
        );
        let note = variants_note(&fixtures);
        assert!(
            note.contains("express@node20, express@node22, express@node24")
                && note.contains("fastapi@py3.11, fastapi@py3.13"),
            "{note}"
        );
    }
}
