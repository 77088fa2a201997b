//! `faceoff list`: the targets with language, framework version and server setup.

use std::process::ExitCode;

use anyhow::Result;
use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;

use crate::config::Fixtures;
use crate::manifest::framework_version;

pub fn list(fixtures: &Fixtures) -> Result<ExitCode> {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "target",
        "language",
        "framework",
        "server setup",
        "app",
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
        ]);
    }
    println!("{table}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_support::*;

    #[test]
    fn every_target_is_listed() {
        assert_eq!(list(&fixtures()).unwrap(), ExitCode::SUCCESS);
    }
}
