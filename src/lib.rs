//! faceoff: builds real Node.js and Python web servers from the articles' sample code, runs
//! each in its own container under identical limits, drives one load suite against all of
//! them and writes a reproducible comparison.
//!
//! The run is visible in the module list: `config → images → runtime → verify → load →
//! sample → stats → results → analysis → report`.

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
pub mod images;
pub mod instrument;
pub mod load;
pub mod manifest;
pub mod matrix;
pub mod merge;
pub mod report;
pub mod results;
pub mod run;
pub mod runtime;
pub mod sample;
pub mod schedule;
pub mod stats;
pub mod sweep;
pub mod ui;
pub mod verify;
