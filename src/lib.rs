//! faceoff: builds real Node.js and Python web servers from the articles' sample code, runs
//! each in its own container under identical limits, drives one load suite against all of
//! them and writes a reproducible comparison.
//!
//! The modules form layers, each importing only from its own layer or below (checked by
//! `tests/layers.rs`):
//!
//! | layer | modules |
//! |---|---|
//! | data | `config`, `contract`, `stats` |
//! | mechanisms | `load`, `engine` (every Docker engine call bounded in time), `runtime` (services included), `images`, `sample`, `database`, `manifest`, `schedule`, `sweep`, `ui`, `chat` |
//! | record | `results`: every type of results.json and verify.json, with read and write |
//! | procedures | `run` (one trial loop for HTTP and chat), `verify`, `instrument` |
//! | judgement and presentation | `claims`, `analysis`, `compare`, `merge`, `audit`, `matrix`, `reproduce` (the plan, state and report of `claims --reproduce`), `report` (files), `console` (terminal) |
//! | edge | `commands` (one handler per subcommand), `cli`, and the binary's `main` |

pub mod analysis;
pub mod audit;
pub mod chat;
pub mod claims;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod config;
pub mod console;
pub mod contract;
pub mod database;
pub mod engine;
pub mod images;
pub mod instrument;
pub mod load;
pub mod manifest;
pub mod matrix;
pub mod merge;
pub mod report;
pub mod reproduce;
pub mod results;
pub mod run;
pub mod runtime;
pub mod sample;
pub mod schedule;
pub mod stats;
pub mod sweep;
pub mod ui;
pub mod verify;
