//! Open-loop pacing: the shared schedule (slot `k` due at `start + k / rate`), the
//! microsecond pacer that wakes connections when their slots are due, and the figures of how
//! well the schedule was kept.

use std::cell::{Cell, RefCell};
use std::cmp::{Ordering as CmpOrdering, Reverse};
use std::collections::BinaryHeap;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

/// How well an open-loop run kept its schedule, over the measured window.
///
/// A send is *late* when it went out more than [`LATE_SEND`](super::LATE_SEND) after its intended time; late
/// sends, a large `lag_max_us`, `unsent > 0` or `achieved_rate` well below `requested_rate`
/// mean the generator or its connections could not keep the rate, and the latencies describe
/// a lighter load than the one requested.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct OpenLoopStats {
    /// The rate asked for, requests per second over all connections.
    pub requested_rate: f64,
    /// Requests actually written in the measured window, per second of it.
    pub achieved_rate: f64,
    /// Slots of the schedule whose intended send time fell in the measured window.
    pub scheduled: u64,
    /// Requests written in the measured window.
    pub sent: u64,
    /// Slots due in the measured window that were never sent: every connection was busy until
    /// the end.
    pub unsent: u64,
    /// Sends (in the window) that were already due when their connection became free, so
    /// their latency counts from the intended time.
    pub queued: u64,
    /// Mean delay between intended and actual send, microseconds.
    pub lag_mean_us: f64,
    /// Longest delay between intended and actual send, microseconds.
    pub lag_max_us: u64,
    /// Sends more than [`LATE_SEND`](super::LATE_SEND) behind their intended time.
    pub late_sends: u64,
}

/// Share of the requested rate an open-loop run must send for its rate to count as kept.
pub const RATE_KEPT: f64 = 0.95;

impl OpenLoopStats {
    /// Whether the run sent what was asked: at least [`RATE_KEPT`] of the requested rate,
    /// with no more than 1% of the scheduled slots left unsent. When it did not, the server
    /// or the generator (its CPU, or too few connections for the rate × latency) could not
    /// keep up, and the figures describe a lighter load than the one requested.
    #[must_use]
    pub fn kept_rate(&self) -> bool {
        self.achieved_rate >= self.requested_rate * RATE_KEPT
            && self.unsent as f64 <= self.scheduled as f64 * 0.01
    }
}

/// The open-loop schedule: slot `k` is due `k × interval` after the start. Connections take
/// slots in order, each when it is free.
pub(super) struct Schedule {
    pub(super) rate: f64,
    pub(super) interval_ns: f64,
    pub(super) next: AtomicU64,
}

impl Schedule {
    pub(super) fn new(rate: f64) -> Self {
        Schedule {
            rate,
            interval_ns: 1e9 / rate,
            next: AtomicU64::new(0),
        }
    }

    pub(super) fn claim(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    pub(super) fn offset(&self, slot: u64) -> Duration {
        Duration::from_nanos((slot as f64 * self.interval_ns) as u64)
    }

    /// Slots due strictly before `offset` from the start.
    pub(super) fn due_before(&self, offset: Duration) -> u64 {
        (offset.as_nanos() as f64 / self.interval_ns).ceil() as u64
    }
}

/// Wakes open-loop connections when their slots are due, with microsecond precision.
///
/// tokio's timer has millisecond granularity: a connection waiting for a slot would wake up
/// to a millisecond late, on a millisecond tick, together with every other connection due in
/// that millisecond — a lag as large as a fast server's whole latency, and bursts the schedule
/// does not ask for. The pacer keeps the waiting connections in a heap ordered by due time and
/// arms one `timerfd` (registered with the worker's event loop) for the earliest.
pub(super) struct Pacer {
    pub(super) timer: AsyncFd<OwnedFd>,
    pub(super) waiting: RefCell<BinaryHeap<Reverse<Waiting>>>,
    /// When the timerfd is set to fire, if it is armed.
    pub(super) armed: Cell<Option<Instant>>,
    /// Tie-breaker keeping equal due times in arrival order.
    pub(super) next_seq: Cell<u64>,
}

/// A connection waiting for its slot.
pub(super) struct Waiting {
    pub(super) due: Instant,
    pub(super) seq: u64,
    pub(super) waker: Waker,
}

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}

impl Eq for Waiting {}

impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

impl Pacer {
    /// Must be called inside the worker's runtime.
    pub(super) fn new() -> io::Result<Pacer> {
        // SAFETY: timerfd_create takes no pointers; a negative result is an error.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: an OwnedFd always returns the descriptor it owns, which stays open until the
        // AsyncFd (its only owner) is dropped.
        let timer = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
            .map_err(|error| error.into_parts().1)?;
        Ok(Pacer {
            timer,
            waiting: RefCell::new(BinaryHeap::new()),
            armed: Cell::new(None),
            next_seq: Cell::new(0),
        })
    }

    /// Sets the timerfd to fire at `due` (at least 1 ns from now: zero would disarm it).
    pub(super) fn arm(&self, due: Instant) {
        let wait = due
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: libc::time_t::try_from(wait.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: libc::c_long::from(wait.subsec_nanos() as i32),
            },
        };
        // SAFETY: the fd is our open timerfd; `spec` lives for the call; the old value is not
        // asked for (null).
        let armed = unsafe {
            libc::timerfd_settime(
                self.timer.get_ref().as_raw_fd(),
                0,
                &raw const spec,
                std::ptr::null_mut(),
            )
        } == 0;
        self.armed.set(armed.then_some(due));
    }

    /// Completes at `due`.
    pub(super) fn wait_until(&self, due: Instant) -> PaceWait<'_> {
        PaceWait {
            pacer: self,
            due,
            registered: false,
        }
    }

    /// Wakes every connection whose slot is due and arms the timer for the next one.
    pub(super) fn wake_due(&self) {
        let now = Instant::now();
        let mut waiting = self.waiting.borrow_mut();
        while waiting.peek().is_some_and(|Reverse(w)| w.due <= now) {
            if let Some(Reverse(w)) = waiting.pop() {
                w.waker.wake();
            }
        }
        match waiting.peek() {
            Some(Reverse(next)) => self.arm(next.due),
            None => self.armed.set(None),
        }
    }

    /// Waits for the timerfd to fire, wakes who is due, forever.
    pub(super) async fn run(&self) {
        loop {
            let Ok(mut ready) = self.timer.readable().await else {
                return;
            };
            let mut expirations = [0u8; 8];
            // SAFETY: reads at most 8 bytes into a buffer of 8 from our timerfd.
            let _ = unsafe {
                libc::read(
                    self.timer.get_ref().as_raw_fd(),
                    expirations.as_mut_ptr().cast(),
                    expirations.len(),
                )
            };
            ready.clear_ready();
            self.armed.set(None);
            self.wake_due();
        }
    }
}

/// Future of [`Pacer::wait_until`].
pub(super) struct PaceWait<'a> {
    pub(super) pacer: &'a Pacer,
    pub(super) due: Instant,
    pub(super) registered: bool,
}

impl Future for PaceWait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.due {
            return Poll::Ready(());
        }
        if !self.registered {
            let pacer = self.pacer;
            let seq = pacer.next_seq.get();
            pacer.next_seq.set(seq + 1);
            pacer.waiting.borrow_mut().push(Reverse(Waiting {
                due: self.due,
                seq,
                waker: cx.waker().clone(),
            }));
            if pacer.armed.get().is_none_or(|armed| self.due < armed) {
                pacer.arm(self.due);
            }
            self.registered = true;
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spaces_slots_evenly_from_the_start() {
        let schedule = Schedule::new(1000.0);
        assert_eq!(schedule.offset(0), Duration::ZERO);
        assert_eq!(schedule.offset(5), Duration::from_millis(5));
        assert_eq!(schedule.due_before(Duration::ZERO), 0);
        assert_eq!(schedule.due_before(Duration::from_secs(1)), 1000);
        assert_eq!(schedule.due_before(Duration::from_micros(1_000_500)), 1001);
        assert_eq!(schedule.claim(), 0);
        assert_eq!(schedule.claim(), 1);
    }
}
