//! The report files (Markdown, HTML, JSON, JUnit): each exporter only formats what an
//! [`crate::analysis::Analysis`] holds. Terminal tables are in [`crate::console`].

pub mod export;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod scaling;
pub mod svg;
pub mod text;

pub use export::{ExportError, Exporter, Format};
