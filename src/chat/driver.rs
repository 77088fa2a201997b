//! The chat load generator: a pool of chat connections on one thread of its own (pinned to
//! the generator's CPU, away from the server's), driven by commands from the run. Capacity
//! grows the pool step by step and keeps every connection alive; fan-out opens rooms with
//! one sender each and times every delivery.
//!
//! Connection `i` joins room `room-{i / room_size}` as `user-{i}`, so rooms fill in order.
//! Connections come from 127.0.0.1 and then further loopback addresses (25,000 each), since
//! one source address has only about 28,000 ephemeral ports toward one server port.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::client::{ChatError, Conn, Endpoint};
use super::protocol::Incoming;

/// Connections per loopback source address.
const PER_SOURCE: usize = 25_000;
/// Handshakes in flight at once: below every server's accept backlog (Node's 511), and few
/// enough that a slower server is measured holding connections, not drowning in handshakes.
pub const IN_FLIGHT: usize = 64;
/// How long receivers keep counting after the last fan-out message was sent.
const FANOUT_GRACE: Duration = Duration::from_secs(2);

/// How the pool connects.
#[derive(Debug, Clone)]
pub struct DriverSpec {
    pub endpoint: Endpoint,
    /// The CPU the driver's thread is pinned to; `None` leaves it unpinned.
    pub cpu: Option<usize>,
    pub room_size: usize,
    /// Connect, upgrade, handshake, join and online_users must all fit in it.
    pub handshake_timeout: Duration,
}

/// What growing the pool to a step gave.
#[derive(Debug, Clone)]
pub struct GrowReport {
    /// Connections tried in this step.
    pub attempted: u64,
    /// Of those, joined (online_users received).
    pub joined: u64,
    /// Failures by kind (connect, upgrade, protocol, closed, timeout, io).
    pub failures: BTreeMap<String, u64>,
    /// The first failure's message, for the report.
    pub first_failure: Option<String>,
    /// Connections not tried because the deadline came first.
    pub not_attempted: u64,
    /// Connect to joined, microseconds, of the joined ones.
    pub handshake_us: Histogram<u64>,
    pub elapsed: Duration,
}

/// The pool now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// Connections open and joined.
    pub alive: u64,
    /// Joined connections the server closed (or that broke) since the start.
    pub dropped: u64,
    /// Events received on held connections (online_users, user_joined …).
    pub events: u64,
}

/// A fan-out measurement.
#[derive(Debug, Clone)]
pub struct FanoutSpec {
    pub connections: usize,
    /// Messages per second each room's sender sends.
    pub rate: f64,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What a fan-out measurement gave.
#[derive(Debug, Clone)]
pub struct FanoutReport {
    pub rooms: u64,
    pub joined: u64,
    pub join_failures: BTreeMap<String, u64>,
    /// Messages sent in the measured window.
    pub sent: u64,
    /// Deliveries the measured messages should make: each to every joined member of its
    /// room, the sender included.
    pub expected: u64,
    /// Deliveries of measured messages that arrived.
    pub delivered: u64,
    /// Send to delivery, microseconds, over every delivery.
    pub latency_us: Histogram<u64>,
    /// Deliveries in each second of the measured window.
    pub per_second: Vec<u64>,
    /// Members whose connection closed during the measurement.
    pub dropped: u64,
    pub duration: Duration,
}

enum Command {
    Grow {
        to: usize,
        deadline: Instant,
        reply: oneshot::Sender<GrowReport>,
    },
    Held {
        reply: oneshot::Sender<Held>,
    },
    Fanout {
        spec: FanoutSpec,
        reply: oneshot::Sender<FanoutReport>,
    },
}

/// Why the driver could not start.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("cannot start the chat driver's thread: {0}")]
    Start(std::io::Error),
    #[error("the chat driver's thread stopped")]
    Gone,
}

/// The pool's thread; dropping it closes every connection.
pub struct Driver {
    commands: Option<mpsc::UnboundedSender<Command>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Driver {
    /// Starts the driver's thread with an empty pool.
    pub fn start(spec: DriverSpec) -> Result<Driver, DriverError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(DriverError::Start)?;
        let thread = std::thread::Builder::new()
            .name("faceoff-chat".into())
            .spawn(move || {
                if let Some(cpu) = spec.cpu {
                    core_affinity::set_for_current(core_affinity::CoreId { id: cpu });
                }
                let local = tokio::task::LocalSet::new();
                local.block_on(&runtime, serve(spec, rx));
            })
            .map_err(DriverError::Start)?;
        Ok(Driver {
            commands: Some(tx),
            thread: Some(thread),
        })
    }

    fn send(&self, command: Command) -> Result<(), DriverError> {
        self.commands
            .as_ref()
            .ok_or(DriverError::Gone)?
            .send(command)
            .map_err(|_| DriverError::Gone)
    }

    /// Opens connections until the pool has tried `to` in all, stopping at `deadline`.
    pub async fn grow(&self, to: usize, deadline: Instant) -> Result<GrowReport, DriverError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Grow {
            to,
            deadline,
            reply,
        })?;
        answer.await.map_err(|_| DriverError::Gone)
    }

    /// How many connections are held now.
    pub async fn held(&self) -> Result<Held, DriverError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Held { reply })?;
        answer.await.map_err(|_| DriverError::Gone)
    }

    /// Opens `spec.connections` in rooms, then one sender per room for the warm-up and the
    /// measured window; closes them all afterwards.
    pub async fn fanout(&self, spec: FanoutSpec) -> Result<FanoutReport, DriverError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Fanout { spec, reply })?;
        answer.await.map_err(|_| DriverError::Gone)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop; its tasks and sockets go with it.
        self.commands.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The pool, shared by the tasks of the driver's thread.
struct Pool {
    spec: DriverSpec,
    next_index: Cell<usize>,
    alive: Cell<u64>,
    dropped: Cell<u64>,
    events: Cell<u64>,
}

async fn serve(spec: DriverSpec, mut commands: mpsc::UnboundedReceiver<Command>) {
    let pool = Rc::new(Pool {
        spec,
        next_index: Cell::new(0),
        alive: Cell::new(0),
        dropped: Cell::new(0),
        events: Cell::new(0),
    });
    while let Some(command) = commands.recv().await {
        // The owner waits for each answer, so the only thing that can arrive during a
        // command is the channel closing (the run was interrupted): stop at once then,
        // dropping every connection, instead of finishing the step.
        match command {
            Command::Grow {
                to,
                deadline,
                reply,
            } => tokio::select! {
                report = grow(&pool, to, deadline) => { let _ = reply.send(report); }
                _ = commands.recv() => return,
            },
            Command::Held { reply } => {
                let _ = reply.send(Held {
                    alive: pool.alive.get(),
                    dropped: pool.dropped.get(),
                    events: pool.events.get(),
                });
            }
            Command::Fanout { spec, reply } => tokio::select! {
                report = fanout(&pool, spec) => { let _ = reply.send(report); }
                _ = commands.recv() => return,
            },
        }
    }
}

/// The loopback source address of connection `index`.
fn source_for(index: usize) -> IpAddr {
    let host = 1 + index / PER_SOURCE;
    let host = u8::try_from(host).unwrap_or(u8::MAX);
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, host))
}

/// Connection `index`'s room.
pub fn room_of(index: usize, room_size: usize) -> String {
    format!("room-{}", index / room_size.max(1))
}

/// A connection the pool holds: a chat member, or an idle HTTP keep-alive connection.
enum Member {
    Chat(Box<Conn>),
    Idle(tokio::net::TcpStream),
}

/// Opens connection `index` as the endpoint's protocol wants it: a chat connection joined to
/// its room, or an idle HTTP keep-alive connection past its one answer; with the time it
/// took from the first connect attempt.
async fn open_member(spec: &DriverSpec, index: usize) -> Result<(Member, Duration), ChatError> {
    if spec.endpoint.protocol == super::protocol::Protocol::Http {
        let started = Instant::now();
        let stream = super::client::open_idle_http(
            &spec.endpoint,
            Some(source_for(index)),
            spec.handshake_timeout,
        )
        .await?;
        return Ok((Member::Idle(stream), started.elapsed()));
    }
    let (conn, took) = open_joined(spec, index).await?;
    Ok((Member::Chat(Box::new(conn)), took))
}

/// Opens connection `index` and joins its room; returns it with the time from the first
/// connect attempt to its online_users.
async fn open_joined(spec: &DriverSpec, index: usize) -> Result<(Conn, Duration), ChatError> {
    let started = Instant::now();
    let mut conn = Conn::open(
        &spec.endpoint,
        Some(source_for(index)),
        spec.handshake_timeout,
    )
    .await?;
    let join = json!({"room": room_of(index, spec.room_size), "username": format!("user-{index}")});
    conn.emit("join", &join).await?;
    let remaining = spec.handshake_timeout.saturating_sub(started.elapsed());
    let events = conn.events_until("online_users", remaining).await?;
    if let Some((_, error)) = events.iter().find(|(name, _)| name == "error") {
        return Err(ChatError::Protocol(format!("join refused: {error}")));
    }
    Ok((conn, started.elapsed()))
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 1 hour at 3 significant figures: the bounds are constants, so this cannot fail.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

async fn grow(pool: &Rc<Pool>, to: usize, deadline: Instant) -> GrowReport {
    let started = Instant::now();
    let from = pool.next_index.get();
    let report = Rc::new(RefCell::new(GrowReport {
        attempted: 0,
        joined: 0,
        failures: BTreeMap::new(),
        first_failure: None,
        not_attempted: 0,
        handshake_us: histogram(),
        elapsed: Duration::ZERO,
    }));
    let permits = std::sync::Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tasks = Vec::new();
    for index in from..to {
        if Instant::now() >= deadline {
            report.borrow_mut().not_attempted = (to - index) as u64;
            break;
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        report.borrow_mut().attempted += 1;
        let (pool, report) = (pool.clone(), report.clone());
        tasks.push(tokio::task::spawn_local(async move {
            let outcome = open_member(&pool.spec, index).await;
            drop(permit);
            let mut report = report.borrow_mut();
            match outcome {
                Ok((member, took)) => {
                    report.joined += 1;
                    let _ = report.handshake_us.record(micros(took));
                    pool.alive.set(pool.alive.get() + 1);
                    match member {
                        Member::Chat(conn) => tokio::task::spawn_local(hold(*conn, pool.clone())),
                        Member::Idle(stream) => {
                            tokio::task::spawn_local(hold_idle(stream, pool.clone()))
                        }
                    };
                }
                Err(err) => {
                    *report.failures.entry(err.kind().to_string()).or_insert(0) += 1;
                    report.first_failure.get_or_insert_with(|| err.to_string());
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    pool.next_index.set(to.max(from));
    let mut report = report.borrow().clone();
    report.elapsed = started.elapsed();
    report
}

/// Keeps a joined connection alive: answers pings, counts events, notices a close.
async fn hold(mut conn: Conn, pool: Rc<Pool>) {
    loop {
        match conn.recv_frame().await {
            Ok(Some(Incoming::Event { .. })) => pool.events.set(pool.events.get() + 1),
            Ok(Some(Incoming::Closed)) | Ok(None) | Err(_) => break,
            Ok(Some(_)) => {}
        }
    }
    pool.alive.set(pool.alive.get() - 1);
    pool.dropped.set(pool.dropped.get() + 1);
}

/// How often a held keep-alive connection sends its request again: under the 5 s after which
/// Node's `http` server (`keepAliveTimeout`) and uvicorn (`timeout_keep_alive`) close an idle
/// keep-alive connection by default, so the ramp measures connections a client keeps using,
/// not the servers' idle timeouts.
pub const IDLE_REQUEST_EVERY: Duration = Duration::from_secs(4);

/// Keeps an HTTP keep-alive connection open until the server closes it, sending its one
/// lightweight request every [`IDLE_REQUEST_EVERY`] and reading the answers.
async fn hold_idle(mut stream: tokio::net::TcpStream, pool: Rc<Pool>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = super::client::idle_request(&pool.spec.endpoint);
    let mut sink = [0u8; 1024];
    let mut every = tokio::time::interval_at(
        tokio::time::Instant::now() + IDLE_REQUEST_EVERY,
        IDLE_REQUEST_EVERY,
    );
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            read = stream.read(&mut sink) => match read {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            },
            _ = every.tick() => {
                if stream.write_all(request.as_bytes()).await.is_err() {
                    break;
                }
            }
        }
    }
    pool.alive.set(pool.alive.get() - 1);
    pool.dropped.set(pool.dropped.get() + 1);
}

/// Fan-out state shared by the members of one measurement.
struct FanoutState {
    origin: Instant,
    measure_from: Duration,
    measure_until: Duration,
    sent: u64,
    delivered: u64,
    dropped: u64,
    latency_us: Histogram<u64>,
    per_second: Vec<u64>,
}

async fn fanout(pool: &Rc<Pool>, spec: FanoutSpec) -> FanoutReport {
    let room_size = pool.spec.room_size.max(1);
    // Join everyone first, in order, so every room is complete before anyone sends.
    let deadline = Instant::now() + pool.spec.handshake_timeout * 4 + Duration::from_secs(30);
    let joined: Rc<RefCell<BTreeMap<usize, Conn>>> = Rc::default();
    let failures: Rc<RefCell<BTreeMap<String, u64>>> = Rc::default();
    let permits = std::sync::Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tasks = Vec::new();
    for index in 0..spec.connections {
        if Instant::now() >= deadline {
            break;
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let (pool, joined, failures) = (pool.clone(), joined.clone(), failures.clone());
        tasks.push(tokio::task::spawn_local(async move {
            let outcome = open_joined(&pool.spec, index).await;
            drop(permit);
            match outcome {
                Ok((conn, _)) => {
                    joined.borrow_mut().insert(index, conn);
                }
                Err(err) => {
                    *failures
                        .borrow_mut()
                        .entry(err.kind().to_string())
                        .or_insert(0) += 1;
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let members = std::mem::take(&mut *joined.borrow_mut());
    let mut room_members: BTreeMap<usize, u64> = BTreeMap::new();
    for index in members.keys() {
        *room_members.entry(index / room_size).or_insert(0) += 1;
    }
    let seconds = spec.duration.as_secs_f64().ceil() as usize;
    let state = Rc::new(RefCell::new(FanoutState {
        origin: Instant::now(),
        measure_from: spec.warmup,
        measure_until: spec.warmup + spec.duration,
        sent: 0,
        delivered: 0,
        dropped: 0,
        latency_us: histogram(),
        per_second: vec![0; seconds.max(1)],
    }));
    let sent_per_room: Rc<RefCell<BTreeMap<usize, u64>>> = Rc::default();
    let mut senders_seen = std::collections::BTreeSet::new();
    let mut tasks = Vec::new();
    for (index, conn) in members {
        let room = index / room_size;
        // The first joined member of each room sends.
        let sends = senders_seen.insert(room);
        let (state, sent_per_room) = (state.clone(), sent_per_room.clone());
        let rate = spec.rate;
        tasks.push(tokio::task::spawn_local(async move {
            member(conn, room, sends.then_some(rate), state, sent_per_room).await;
        }));
    }
    let end = spec.warmup + spec.duration + FANOUT_GRACE;
    let origin = state.borrow().origin;
    tokio::time::sleep_until((origin + end).into()).await;
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    let state = state.borrow();
    let expected = sent_per_room
        .borrow()
        .iter()
        .map(|(room, sent)| sent * room_members.get(room).copied().unwrap_or(0))
        .sum();
    FanoutReport {
        rooms: room_members.len() as u64,
        joined: room_members.values().sum(),
        join_failures: failures.borrow().clone(),
        sent: state.sent,
        expected,
        delivered: state.delivered,
        latency_us: state.latency_us.clone(),
        per_second: state.per_second.clone(),
        dropped: state.dropped,
        duration: spec.duration,
    }
}

/// One member of a fan-out room: receives every new_message (timing those sent in the
/// measured window) and, for the room's sender, sends `rate` messages per second until the
/// window ends. A message's text is its send time in microseconds since the origin.
async fn member(
    mut conn: Conn,
    room: usize,
    rate: Option<f64>,
    state: Rc<RefCell<FanoutState>>,
    sent_per_room: Rc<RefCell<BTreeMap<usize, u64>>>,
) {
    let (origin, from, until) = {
        let s = state.borrow();
        (s.origin, s.measure_from, s.measure_until)
    };
    let period = rate
        .filter(|r| r.is_finite() && *r > 0.0)
        .map(|r| Duration::from_secs_f64(1.0 / r));
    let mut ticker = period.map(|p| {
        let mut t = tokio::time::interval_at((origin + p).into(), p);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    loop {
        let sending = ticker.is_some() && origin.elapsed() < until;
        tokio::select! {
            _ = async {
                match ticker.as_mut() {
                    Some(ticker) => {
                        ticker.tick().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }, if sending => {
                let at = origin.elapsed();
                let message = json!({"message": micros(at).to_string()});
                if conn.emit("send_message", &message).await.is_err() {
                    break;
                }
                if at >= from && at < until {
                    state.borrow_mut().sent += 1;
                    *sent_per_room.borrow_mut().entry(room).or_insert(0) += 1;
                }
            }
            frame = conn.recv_frame() => match frame {
                Ok(Some(Incoming::Event { name, data })) if name == "new_message" => {
                    record_delivery(&state, &data);
                }
                Ok(Some(Incoming::Closed)) | Ok(None) | Err(_) => {
                    state.borrow_mut().dropped += 1;
                    break;
                }
                Ok(Some(_)) => {}
            },
        }
    }
}

fn record_delivery(state: &Rc<RefCell<FanoutState>>, data: &Value) {
    let Some(sent_us) = data
        .get("message")
        .and_then(Value::as_str)
        .and_then(|m| m.parse::<u64>().ok())
    else {
        return;
    };
    let mut s = state.borrow_mut();
    let now = s.origin.elapsed();
    let sent = Duration::from_micros(sent_us);
    if sent < s.measure_from || sent >= s.measure_until {
        return;
    }
    s.delivered += 1;
    let _ = s.latency_us.record(micros(now.saturating_sub(sent)));
    let second = now.saturating_sub(s.measure_from).as_secs() as usize;
    if let Some(slot) = s.per_second.get_mut(second) {
        *slot += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_fill_rooms_in_order_and_spread_over_loopback_sources() {
        assert_eq!(room_of(0, 20), "room-0");
        assert_eq!(room_of(19, 20), "room-0");
        assert_eq!(room_of(20, 20), "room-1");
        assert_eq!(source_for(0), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(
            source_for(PER_SOURCE),
            "127.0.0.2".parse::<IpAddr>().unwrap()
        );
        assert!(source_for(10 * PER_SOURCE).is_loopback());
    }
}
