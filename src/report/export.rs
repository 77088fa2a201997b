//! One trait for every report format, as hyperfine's exporters: each format is one module
//! that turns an [`Analysis`] into bytes. Adding a format is adding one module and one
//! [`Format`] variant.

use std::path::{Path, PathBuf};

use crate::analysis::Analysis;

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The results file itself (schema version 1, see fixtures/results.schema.json).
    Json,
    /// Tables fit for a GitHub job summary.
    Markdown,
    /// One self-contained page with inline SVG charts.
    Html,
    /// JUnit XML: one test per claim and per contract case.
    Junit,
}

impl Format {
    /// The exporter of this format.
    pub fn exporter(self) -> Box<dyn Exporter> {
        match self {
            Format::Json => Box::new(super::json::JsonExporter),
            Format::Markdown => Box::new(super::markdown::MarkdownExporter),
            Format::Html => Box::new(super::html::HtmlExporter),
            Format::Junit => Box::new(super::junit::JunitExporter),
        }
    }
}

/// Turns the figures of one run into one format. Exporters only format: every figure comes
/// computed in the [`Analysis`].
pub trait Exporter {
    /// The file `faceoff run` writes this format to, next to results.json.
    fn file_name(&self) -> &'static str;

    /// The report, ready to write.
    fn export(&self, analysis: &Analysis<'_>) -> Result<Vec<u8>, ExportError>;
}

/// Why a report could not be produced or written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot serialise the results")]
    Json(#[from] serde_json::Error),
    #[error("cannot serialise JUnit XML")]
    Junit(#[from] quick_junit::SerializeError),
    #[error("cannot write {path} (free disk space, or pass another -o/--out)")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The formats `faceoff run` writes next to results.json (which is itself the JSON report).
pub const RUN_REPORTS: [Format; 2] = [Format::Markdown, Format::Html];

/// Writes `formats` of `analysis` into `dir` under each exporter's file name; returns the
/// paths written.
pub fn write_reports(
    dir: &Path,
    analysis: &Analysis<'_>,
    formats: &[Format],
) -> Result<Vec<PathBuf>, ExportError> {
    let mut written = Vec::new();
    for format in formats {
        let exporter = format.exporter();
        let path = dir.join(exporter.file_name());
        let bytes = exporter.export(analysis)?;
        std::fs::write(&path, bytes).map_err(|source| ExportError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
