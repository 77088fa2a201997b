//! One connection's loop: (wait for the next open-loop slot,) send, read the whole response,
//! count it, repeat until the end; reconnecting with backoff after failures.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep, sleep_until, timeout_at};

use super::engine::{Budget, Shared, Timeline, Worker};
use super::http1::{BodyKind, ChunkedDecoder, Response, parse_head};
use super::record::{Failure, Timing};

/// First pause before reconnecting after repeated failures; doubles up to [`BACKOFF_MAX`].
pub(super) const BACKOFF_START: Duration = Duration::from_millis(10);

/// Longest pause between reconnection attempts.
pub(super) const BACKOFF_MAX: Duration = Duration::from_millis(250);

/// How often a connection whose request budget is used up checks whether the run is over.
pub(super) const BUDGET_POLL: Duration = Duration::from_millis(1);

/// Initial size of each connection's read buffer; it grows only for larger response heads.
pub(super) const READ_BUFFER: usize = 2048;

/// Pause before the next connection attempt after `failures` failures in a row: none after
/// the first (a reset keep-alive connection is simply reopened), then growing.
pub(super) fn backoff(failures: u32) -> Duration {
    match failures {
        0 | 1 => Duration::ZERO,
        n => BACKOFF_START
            .saturating_mul(1 << (n - 2).min(16))
            .min(BACKOFF_MAX),
    }
}

pub(super) enum OpenError {
    /// Counted as a connect error.
    Failed,
    /// The run's deadline came first.
    Deadline,
}

pub(super) async fn open(
    shared: &Shared,
    timeline: &Timeline,
    ready: Option<std::net::TcpStream>,
) -> Result<Conn, OpenError> {
    let stream = match ready {
        Some(stream) => TcpStream::from_std(stream).map_err(|_| OpenError::Failed)?,
        None => {
            let timeout = Instant::now() + shared.request_timeout;
            match timeout_at(timeout.min(timeline.end), TcpStream::connect(shared.addr)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(_)) => return Err(OpenError::Failed),
                Err(_) if timeout <= timeline.end => return Err(OpenError::Failed),
                Err(_) => return Err(OpenError::Deadline),
            }
        }
    };
    stream.set_nodelay(true).map_err(|_| OpenError::Failed)?;
    Ok(Conn {
        stream,
        buf: Vec::with_capacity(READ_BUFFER),
        pos: 0,
        answered: false,
    })
}

/// The loop of one connection: (wait for the next slot,) send, read the whole response,
/// repeat until the end.
///
/// Two timers live as long as the task, pinned on its stack, so the hot path registers no new
/// timer per request: `deadline` bounds each exchange and is re-armed lazily (it is set to the
/// current request's limit only when it fires early, see [`with_deadline`]); `pause` serves
/// the backoff, budget and schedule waits.
pub(super) async fn drive_connection(worker: Rc<Worker>, mut first: Option<std::net::TcpStream>) {
    let shared = &*worker.shared;
    let timeline = worker.timeline;
    let mut conn: Option<Conn> = None;
    let mut failures: u32 = 0;
    let mut deadline = pin!(sleep_until(timeline.end));
    // Whether `deadline` has been polled (so holds this task's waker) since it was last reset.
    let mut deadline_registered = false;
    let mut pause = pin!(sleep_until(timeline.end));
    // The time a response completed, reused as the next iteration's "now": one clock read
    // fewer per request.
    let mut answered_at: Option<Instant> = None;

    loop {
        let mut now = answered_at.take().unwrap_or_else(Instant::now);
        if now >= timeline.end {
            break;
        }
        // Without keep-alive, when this request's connection started to open: its latency
        // runs from there (closed loop).
        let mut connecting_from: Option<Instant> = None;
        if conn.as_mut().is_some_and(|c| c.answered && c.peer_closed()) {
            // A keep-alive connection the server closed while idle is simply reopened.
            conn = None;
        }
        if conn.is_none() {
            let wait = backoff(failures);
            if !wait.is_zero() {
                let wake = now + wait;
                if wake >= timeline.end {
                    break;
                }
                pause.as_mut().reset(wake);
                pause.as_mut().await;
            }
            let connect_start = Instant::now();
            let opened = open(shared, &timeline, first.take()).await;
            now = Instant::now();
            connecting_from = Some(connect_start);
            match opened {
                Ok(opened) => {
                    worker.stats.borrow_mut().connections_opened += 1;
                    conn = Some(opened);
                }
                Err(OpenError::Failed) => {
                    worker
                        .stats
                        .borrow_mut()
                        .failure(&timeline, Failure::Connect);
                    failures += 1;
                    continue;
                }
                Err(OpenError::Deadline) => break,
            }
        }

        let in_window = now >= timeline.warmup_end;
        let mut holds_slot = false;
        if let (true, Some(budget)) = (in_window, &shared.budget) {
            if !budget.take() {
                if budget.exhausted() {
                    break;
                }
                // Other connections hold the remaining slots; one may give its slot back.
                pause
                    .as_mut()
                    .reset((Instant::now() + BUDGET_POLL).min(timeline.end));
                pause.as_mut().await;
                continue;
            }
            holds_slot = true;
        }

        // Open loop: take the next slot of the schedule and wait until it is due.
        let mut slot_due = None;
        if let Some(schedule) = &shared.schedule {
            let free_at = now;
            let due = timeline.start + schedule.offset(schedule.claim());
            if due >= timeline.end {
                if holds_slot {
                    if let Some(budget) = &shared.budget {
                        budget.give_back();
                    }
                }
                break;
            }
            let queued = due <= free_at;
            if !queued {
                match &worker.pacer {
                    Some(pacer) => pacer.wait_until(due).await,
                    None => {
                        pause.as_mut().reset(due);
                        pause.as_mut().await;
                    }
                }
            }
            slot_due = Some((due, queued));
            // The server may have closed the connection during the wait (idle timeouts of a few
            // seconds are common, also before the first request): open a new one rather than
            // send into it. Each slot reopens at most once, so this cannot spin.
            if !queued && conn.as_mut().is_some_and(Conn::peer_closed) {
                match open(shared, &timeline, None).await {
                    Ok(opened) => {
                        worker.stats.borrow_mut().connections_opened += 1;
                        conn = Some(opened);
                    }
                    Err(error) => {
                        conn = None;
                        if holds_slot {
                            if let Some(budget) = &shared.budget {
                                budget.give_back();
                            }
                        }
                        if matches!(error, OpenError::Deadline) {
                            break;
                        }
                        worker
                            .stats
                            .borrow_mut()
                            .failure(&timeline, Failure::Connect);
                        failures += 1;
                        continue;
                    }
                }
            }
        }
        let Some(conn_ref) = conn.as_mut() else {
            break;
        };

        let sent = Instant::now();
        let timeout = sent + shared.request_timeout;
        let limit = timeout.min(timeline.end);
        if deadline.deadline() > limit {
            deadline.as_mut().reset(limit);
            deadline_registered = false;
        }
        let outcome = {
            let exchange = pin!(conn_ref.exchange(&shared.request, shared.head_request));
            with_deadline(exchange, deadline.as_mut(), &mut deadline_registered, limit).await
        };
        let done = Instant::now();

        let mut stats = worker.stats.borrow_mut();
        let latency_from = match slot_due {
            Some((due, queued)) => {
                stats.open_send(&timeline, due, sent, queued);
                if queued { due } else { sent }
            }
            None if !shared.keep_alive => connecting_from.unwrap_or(sent),
            None => sent,
        };
        let failure = match outcome {
            Some(Ok(response)) => {
                failures = 0;
                conn_ref.answered = true;
                let measured = if done < timeline.warmup_end {
                    false
                } else if holds_slot {
                    true
                } else {
                    // Sent during warm-up, completed in the window: it needs a slot too.
                    shared.budget.as_ref().is_none_or(Budget::take)
                };
                if measured {
                    let timing = Timing {
                        sent,
                        latency_from,
                        done,
                    };
                    stats.measured_response(&timeline, timing, &response);
                    if let Some(budget) = &shared.budget {
                        budget.complete();
                    }
                } else {
                    stats.warmup_requests += 1;
                }
                if !response.keep_alive || !shared.keep_alive {
                    conn = None;
                }
                answered_at = Some(done);
                continue;
            }
            Some(Err(error)) if is_reset(&error) => Failure::Reset,
            Some(Err(_io)) => Failure::Io,
            None if timeout <= timeline.end => Failure::Timeout,
            // Still in flight when the window closed: counted nowhere.
            None => break,
        };
        if holds_slot {
            if let Some(budget) = &shared.budget {
                budget.give_back();
            }
        }
        stats.failure(&timeline, failure);
        failures += 1;
        conn = None;
    }
}

/// Polls `io` until it finishes or `limit` passes (`None`).
///
/// `timer` must be set no later than `limit`. It is not re-armed for every request: a timer
/// set for an earlier request (whose limit came first) is left alone, and only when it fires
/// before `limit` is it moved to `limit`. On a fast server that costs one timer registration
/// per request timeout per connection instead of one per request. Nor is it polled on every
/// wake-up: once it holds the task's waker (`registered`, which the caller clears when it
/// resets the timer) it is only looked at again when it has fired.
pub(super) async fn with_deadline<F: Future>(
    mut io: Pin<&mut F>,
    mut timer: Pin<&mut Sleep>,
    registered: &mut bool,
    limit: Instant,
) -> Option<F::Output> {
    poll_fn(|cx| {
        if let Poll::Ready(output) = io.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        if *registered && !timer.is_elapsed() {
            return Poll::Pending;
        }
        loop {
            if timer.as_mut().poll(cx).is_pending() {
                *registered = true;
                return Poll::Pending;
            }
            if timer.deadline() >= limit {
                return Poll::Ready(None);
            }
            timer.as_mut().reset(limit);
        }
    })
    .await
}

/// One open HTTP/1.1 connection and its read buffer. Dropping it closes the socket.
pub(super) struct Conn {
    pub(super) stream: TcpStream,
    /// Bytes read and not yet consumed are `buf[pos..]`.
    pub(super) buf: Vec<u8>,
    pub(super) pos: usize,
    /// Whether a response has been read on it; a connection closed after answering is a
    /// normal keep-alive close, one closed before is an error.
    pub(super) answered: bool,
}

impl Conn {
    /// Whether the server closed this idle connection (or sent something unasked). Costs no
    /// system call when the socket has not become readable since the last response.
    pub(super) fn peer_closed(&mut self) -> bool {
        if self.pos < self.buf.len() {
            return true;
        }
        self.buf.clear();
        self.pos = 0;
        !matches!(
            self.stream.try_read_buf(&mut self.buf),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock
        )
    }

    /// Reads more bytes into the buffer; `Ok(0)` is the end of the stream.
    pub(super) async fn fill(&mut self) -> io::Result<usize> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.buf.capacity() - self.buf.len() < READ_BUFFER / 4 && self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if self.buf.capacity() == self.buf.len() {
            self.buf.reserve(self.buf.capacity().max(READ_BUFFER));
        }
        self.stream.read_buf(&mut self.buf).await
    }

    /// Writes the request and reads the whole response.
    pub(super) async fn exchange(
        &mut self,
        request: &[u8],
        head_request: bool,
    ) -> io::Result<Response> {
        self.stream.write_all(request).await?;
        let mut wire_bytes = 0u64;
        let head = loop {
            match parse_head(&self.buf[self.pos..], head_request)? {
                Some(head) => {
                    self.pos += head.len;
                    wire_bytes += head.len as u64;
                    if head.interim {
                        continue;
                    }
                    break head;
                }
                None => {
                    if self.fill().await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
            }
        };
        let mut body_bytes = 0u64;
        match head.body {
            BodyKind::Empty => {}
            BodyKind::Length(mut left) => loop {
                let take = left.min((self.buf.len() - self.pos) as u64);
                self.pos += take as usize;
                left -= take;
                body_bytes += take;
                if left == 0 {
                    break;
                }
                if self.fill().await? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            },
            BodyKind::Chunked => {
                let mut decoder = ChunkedDecoder::default();
                loop {
                    let step = decoder.feed(&self.buf[self.pos..])?;
                    self.pos += step.consumed;
                    wire_bytes += step.consumed as u64;
                    body_bytes += step.body_bytes;
                    if step.done {
                        break;
                    }
                    if self.fill().await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
            }
            BodyKind::UntilClose => loop {
                body_bytes += (self.buf.len() - self.pos) as u64;
                self.pos = self.buf.len();
                if self.fill().await? == 0 {
                    break;
                }
            },
        }
        if !matches!(head.body, BodyKind::Chunked) {
            wire_bytes += body_bytes;
        }
        Ok(Response {
            status: head.status,
            body_bytes,
            wire_bytes,
            keep_alive: head.keep_alive,
        })
    }
}

/// Whether an I/O error means the server reset or closed the connection mid-request.
fn is_reset(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_after_repeated_failures_and_stays_small() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::ZERO);
        assert_eq!(backoff(2), BACKOFF_START);
        assert_eq!(backoff(3), BACKOFF_START * 2);
        assert_eq!(backoff(40), BACKOFF_MAX);
    }
}
