//! The chat workload: seed 001's Socket.IO chat (join, send_message → new_message to the
//! room, online_users, user_left), driven over WebSockets.
//!
//! `protocol` frames events (Engine.IO v4 / Socket.IO v5, or Channels-style JSON), `client`
//! is one connection, `driver` the load generator's pool on its own thread, `capacity` the
//! step-by-step ramp. The chat contract's cases are in [`crate::verify::chat`], the chat
//! trial in [`crate::run::chat`].

pub mod capacity;
pub mod client;
pub mod driver;
pub mod protocol;
