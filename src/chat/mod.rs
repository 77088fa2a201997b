//! The chat workload: seed 001's Socket.IO chat (join, send_message → new_message to the
//! room, online_users, user_left), driven over WebSockets.
//!
//! `protocol` frames events (Engine.IO v4 / Socket.IO v5, or Channels-style JSON), `client`
//! is one connection, `driver` the load generator's pool on its own thread, `capacity` the
//! step-by-step ramp, `verify` the chat contract's cases, and `run` ties them to
//! `faceoff run --workload chat`.

pub mod capacity;
pub mod client;
pub mod driver;
pub mod protocol;
pub mod run;
pub mod verify;
