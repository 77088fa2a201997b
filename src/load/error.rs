//! Why a run cannot start ([`LoadError`]) and the failures a run counts ([`ErrorCounts`]).

use std::io;
use std::net::SocketAddr;

/// Failures counted in the measured window.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub struct ErrorCounts {
    /// Connections that could not be opened (refused, unreachable, connect timed out).
    pub connect: u64,
    /// Requests that got no complete response within [`LoadSpec::request_timeout`](super::LoadSpec::request_timeout).
    pub timeout: u64,
    /// Requests lost to a connection reset, closed or broken mid-request, or answered with
    /// something that is not HTTP/1.x.
    pub io: u64,
    /// Of the `io` failures, those where the server reset or closed the connection before
    /// the response was complete (also counted in `io`); 0 in files written before it was
    /// recorded.
    #[serde(default)]
    pub reset: u64,
    /// Responses with status >= 400 (also counted in [`LoadReport::requests`](super::LoadReport::requests)).
    pub non_success: u64,
}

impl ErrorCounts {
    /// Requests that got no response at all: `connect + timeout + io`.
    #[must_use]
    pub fn transport(&self) -> u64 {
        self.connect + self.timeout + self.io
    }

    /// Every error of every kind, failed responses included.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.transport() + self.non_success
    }

    pub(super) fn add(&mut self, other: &ErrorCounts) {
        self.connect += other.connect;
        self.timeout += other.timeout;
        self.io += other.io;
        self.reset += other.reset;
        self.non_success += other.non_success;
    }
}

/// Why a run could not start.
#[derive(thiserror::Error, Debug)]
pub enum LoadError {
    /// The URL's host is not on this machine; nothing was sent.
    #[error(
        "refusing to send load to {url}: faceoff only loads servers on this machine \
         (127.0.0.1, another loopback address, or localhost)"
    )]
    NotLoopback {
        /// The refused URL.
        url: String,
    },
    /// The URL cannot be used as a target.
    #[error("bad target URL {url}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it and what to use instead.
        reason: String,
    },
    /// A [`LoadSpec`](super::LoadSpec) value is out of range.
    #[error("invalid load settings: {0}")]
    InvalidSpec(String),
    /// A worker thread could not be pinned to a CPU from [`LoadSpec::cpus`](super::LoadSpec::cpus).
    #[error(
        "cannot pin the load generator to CPU {cpu}: it does not exist or is outside this \
         process's CPU set"
    )]
    CpuUnavailable {
        /// The CPU that refused the pinning.
        cpu: usize,
    },
    /// The open-file limit is too low for the connections, even after raising the soft limit
    /// to the hard limit.
    #[error(
        "{connections} connections need {needed} open files, but this process may open only \
         {limit}; raise the limit with `ulimit -n {needed}` (or in /etc/security/limits.conf) \
         and run again, or use fewer connections"
    )]
    FdLimit {
        /// Connections asked for.
        connections: usize,
        /// File descriptors needed: one per connection plus [`FD_MARGIN`](super::FD_MARGIN).
        needed: u64,
        /// The limit in force (the hard limit, or the soft one if it could not be raised).
        limit: u64,
    },
    /// Not a single connection could be opened within [`CONNECT_GRACE`](super::CONNECT_GRACE).
    #[error("nothing listens on {addr}")]
    NoConnection {
        /// Address the generator tried to connect to.
        addr: SocketAddr,
        /// The last connect error.
        source: io::Error,
    },
    /// A worker thread or its tokio runtime could not be started.
    #[error("cannot start the load generator's runtime")]
    Runtime(#[source] io::Error),
}
