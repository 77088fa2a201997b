//! Talking to the Docker engine with a time limit on every call.
//!
//! An engine can accept connections and never answer (a frozen `dockerd`, a socket proxy
//! gone silent, a host under memory pressure). bollard's own limit covers only the wait for
//! response headers, two minutes by default, and nothing of a streamed body. So every call
//! faceoff makes goes through [`call`] (or [`drain`] for long streams such as builds), which
//! bounds the whole call and names it when the limit passes: a user learns in one line which
//! request the engine left unanswered, and a run can still write what it measured.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bollard::Docker;
use futures_util::{Stream, StreamExt};

/// How long one engine call may take unless `--engine-timeout` says otherwise. Every call
/// faceoff makes answers in well under a second on a healthy engine, except stopping a
/// container (up to its 5 s grace) and removing one with a large writable layer.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

static CALL_TIMEOUT_MS: AtomicU64 = AtomicU64::new(DEFAULT_CALL_TIMEOUT.as_millis() as u64);

/// The last call the engine left unanswered, until a later call succeeds.
static STALLED: Mutex<Option<String>> = Mutex::new(None);

/// Sets the limit of every engine call of this process (`--engine-timeout`).
pub fn set_call_timeout(limit: Duration) {
    CALL_TIMEOUT_MS.store(limit.as_millis().max(1) as u64, Ordering::Relaxed);
}

/// The limit of one engine call.
pub fn call_timeout() -> Duration {
    Duration::from_millis(CALL_TIMEOUT_MS.load(Ordering::Relaxed))
}

/// The endpoint named by `--target-engine`, once set.
static ENDPOINT: Mutex<Option<String>> = Mutex::new(None);

/// Names the targets' engine for this process's error lines (`--target-engine`).
pub fn set_endpoint(endpoint: Option<String>) {
    if let Ok(mut slot) = ENDPOINT.lock() {
        *slot = endpoint;
    }
}

/// The targets' engine endpoint: `--target-engine`, `DOCKER_HOST`, or the local socket.
pub fn endpoint() -> String {
    ENDPOINT
        .lock()
        .ok()
        .and_then(|e| e.clone())
        .unwrap_or_else(|| {
            std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
        })
}

/// Why an engine call failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine did not answer in time.
    #[error(
        "the Docker engine at {endpoint} did not answer {call} within {}: check it with `docker info` (restart dockerd if that hangs too), or raise --engine-timeout",
        seconds(*after)
    )]
    Timeout {
        endpoint: String,
        call: String,
        after: Duration,
    },
    /// The engine answered with an error, or the connection failed.
    #[error("Docker engine: {0}")]
    Api(bollard::errors::Error),
}

fn seconds(after: Duration) -> String {
    let s = after.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

impl EngineError {
    /// The HTTP status of an error answer (404: no such container or image).
    pub fn status_code(&self) -> Option<u16> {
        match self {
            EngineError::Api(bollard::errors::Error::DockerResponseServerError {
                status_code,
                ..
            }) => Some(*status_code),
            _ => None,
        }
    }

    fn timeout(call: &str, after: Duration) -> EngineError {
        EngineError::Timeout {
            endpoint: endpoint(),
            call: call.to_string(),
            after,
        }
    }

    fn from_call(call: &str, err: bollard::errors::Error, limit: Duration) -> EngineError {
        match err {
            // bollard's own limit on the response headers.
            bollard::errors::Error::RequestTimeoutError => EngineError::timeout(call, limit),
            other => EngineError::Api(other),
        }
    }
}

impl From<bollard::errors::Error> for EngineError {
    fn from(err: bollard::errors::Error) -> Self {
        EngineError::from_call("a request", err, call_timeout())
    }
}

/// The line of the last call the engine left unanswered, while no call has succeeded since:
/// a run ends there rather than wait out the limit once per remaining target.
pub fn stalled() -> Option<String> {
    STALLED.lock().ok().and_then(|s| s.clone())
}

/// Forgets an earlier unanswered call: a new session (one run of several in `claims
/// --reproduce`) gives the engine a fresh chance.
pub fn forget_stalled() {
    if let Ok(mut stalled) = STALLED.lock() {
        *stalled = None;
    }
}

/// Keeps [`stalled`] up to date with the outcome of a call.
fn note<T>(outcome: &Result<T, EngineError>) {
    let Ok(mut stalled) = STALLED.lock() else {
        return;
    };
    match outcome {
        Err(err @ EngineError::Timeout { .. }) => *stalled = Some(err.to_string()),
        // An error answer is still an answer.
        _ => *stalled = None,
    }
}

/// Runs one engine call (`call` names it for the error, e.g. "`inspect container 1a2b`")
/// within the call limit.
pub async fn call<T>(
    call: &str,
    request: impl Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<T, EngineError> {
    let outcome = within(call_timeout(), call, request).await;
    note(&outcome);
    outcome
}

async fn within<T>(
    limit: Duration,
    call: &str,
    request: impl Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<T, EngineError> {
    match tokio::time::timeout(limit, request).await {
        Ok(answer) => answer.map_err(|err| EngineError::from_call(call, err, limit)),
        Err(_) => Err(EngineError::timeout(call, limit)),
    }
}

/// Reads a long stream (a build's output, an image import) to its end, handing each item to
/// `each`. A build step may print nothing for minutes while the engine is busy, so silence
/// alone is not a failure: after a call limit without output the engine is pinged, and only
/// an engine that does not answer the ping ends the stream with a timeout naming `call`.
pub async fn drain<T, E>(
    docker: &Docker,
    call: &str,
    stream: impl Stream<Item = Result<T, bollard::errors::Error>>,
    mut each: impl FnMut(T) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<EngineError>,
{
    let mut stream = std::pin::pin!(stream);
    loop {
        match tokio::time::timeout(call_timeout(), stream.next()).await {
            Ok(None) => return Ok(()),
            Ok(Some(Ok(item))) => each(item)?,
            Ok(Some(Err(err))) => {
                return Err(EngineError::from_call(call, err, call_timeout()).into());
            }
            Err(_) => {
                let ping = format!("a ping while {call} printed nothing");
                if let Err(err @ EngineError::Timeout { .. }) =
                    self::call(&ping, docker.ping()).await
                {
                    return Err(err.into());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_the_engine_never_answers_ends_at_the_limit_and_names_the_call() {
        let limit = Duration::from_millis(100);
        let started = std::time::Instant::now();
        let never = std::future::pending::<Result<(), bollard::errors::Error>>();
        let err = within(limit, "`inspect container 1a2b`", never)
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1));
        let line = err.to_string();
        assert!(line.contains("`inspect container 1a2b`"), "{line}");
        assert!(line.contains("within 0.1 s"), "{line}");
        assert!(line.contains("--engine-timeout"), "{line}");
        assert_eq!(line.lines().count(), 1);
    }

    #[tokio::test]
    async fn bollards_own_header_timeout_is_named_like_ours() {
        let limit = Duration::from_secs(5);
        let answer = async { Err::<(), _>(bollard::errors::Error::RequestTimeoutError) };
        let err = within(limit, "`start container 1a2b`", answer)
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::Timeout { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("`start container 1a2b` within 5 s")
        );
    }
}
